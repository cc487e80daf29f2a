// A request's "loras" list: rendered as A1111 tags at the end of the prompt (the SDK's
// GenerationRequest keeps its layout), and refused, naming the item, when malformed.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "ftdr/framework/jobs/request_json.hpp"
#include "ftdr/sdk/error.hpp"

namespace ftdr::framework {
namespace {

using nlohmann::json;

std::string error_of(const json& j) {
  try {
    request_from_json(j);
  } catch (const sdk::Error& e) {
    EXPECT_EQ(e.kind(), sdk::ErrorKind::invalid_request);
    return e.what();
  }
  return "(accepted)";
}

TEST(RequestLoras, BecomeTagsAtTheEndOfThePromptInOrder) {
  const json j = json::parse(R"({"prompt": "a cat", "loras": [{"name": "ink", "scale": 0.8},
                                 {"name": "my style"}, {"name": "x-1", "scale": -1.25}, {"name": "y", "scale": 2}]})");
  EXPECT_EQ(request_from_json(j).prompt,
            "a cat <lora:ink:0.8> <lora:my style:1> <lora:x-1:-1.25> <lora:y:2>");
  EXPECT_EQ(request_from_json(json::parse(R"({"prompt": "a", "loras": []})")).prompt, "a");
  // Rendered into the prompt, the list is not written back: a stored request replays as it ran.
  const json back = request_json(request_from_json(j));
  EXPECT_FALSE(back.contains("loras"));
  EXPECT_EQ(request_from_json(back).prompt, request_from_json(j).prompt);
}

TEST(RequestLoras, MalformedItemsAreNamed) {
  EXPECT_EQ(
      error_of(json::parse(R"({"loras": "ink"})")),
      "request field 'loras': expected an array of {\"name\": ..., \"scale\": ...} objects (got string)");
  EXPECT_EQ(error_of(json::parse(R"({"loras": ["ink"]})")),
            "request field 'loras[0]': expected an object {\"name\": ..., \"scale\": ...} (got string)");
  EXPECT_EQ(error_of(json::parse(R"({"loras": [{"name": "a"}, {"scale": 1}]})")),
            "request field 'loras[1].name': expected a string (the LoRA's file name)");
  EXPECT_EQ(error_of(json::parse(R"({"loras": [{"name": "a", "weight": 1}]})")),
            "request field 'loras[0]': unknown key 'weight' (expected \"name\" and \"scale\")");
  EXPECT_EQ(error_of(json::parse(R"({"loras": [{"name": "a", "scale": "0.5"}]})")),
            "request field 'loras[0].scale': expected a number (got string)");
  for (const std::string name : {"", "../evil", "a/b", "a\\b", "a:1", "<x>", "te=1"})
    EXPECT_EQ(error_of(json{{"loras", json::array({json{{"name", name}}})}}),
              "request field 'loras[0].name': \"" + name +
                  "\" must be a file name in the LoRA folder, without \".safetensors\" (not empty; no '/', "
                  "'\\', '..', ':', '<', '>', '=')")
        << name;
}

}  // namespace
}  // namespace ftdr::framework
