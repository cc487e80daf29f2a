// A1111's <lora:...> tags: cut out of the prompt and read as A1111 reads them
// (modules/extra_networks.py parse_prompt, extra_networks_lora.py activate); exact results.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "ftdr/sdk/error.hpp"
#include "lora/lora_tags.hpp"

namespace ftdr::test {
namespace {

using torchbe::extract_lora_tags;
using torchbe::LoraTags;

struct Expected {
  std::string name;
  double te, unet;
  std::string tag;
};

void expect_tags(const std::string& prompt, const std::string& text, const std::vector<Expected>& loras) {
  const LoraTags t = extract_lora_tags(prompt, "prompt");
  EXPECT_EQ(t.text, text) << prompt;
  ASSERT_EQ(t.loras.size(), loras.size()) << prompt;
  for (std::size_t i = 0; i < loras.size(); ++i) {
    EXPECT_EQ(t.loras[i].name, loras[i].name) << prompt;
    EXPECT_EQ(t.loras[i].te_scale, loras[i].te) << prompt;
    EXPECT_EQ(t.loras[i].unet_scale, loras[i].unet) << prompt;
    EXPECT_EQ(t.loras[i].tag, loras[i].tag) << prompt;
  }
}

std::string error_of(const std::string& prompt) {
  try {
    extract_lora_tags(prompt, "prompt");
  } catch (const sdk::Error& e) {
    EXPECT_EQ(e.kind(), sdk::ErrorKind::invalid_request);
    return e.what();
  }
  return "(accepted)";
}

TEST(LoraTags, AreCutOutAndRead) {
  expect_tags("a cat <lora:ink:0.8>, night", "a cat , night", {{"ink", 0.8, 0.8, "<lora:ink:0.8>"}});
  expect_tags("<lora:ink>", "", {{"ink", 1.0, 1.0, "<lora:ink>"}});
  expect_tags("<lora:ink:0.5:0.25>x", "x", {{"ink", 0.5, 0.25, "<lora:ink:0.5:0.25>"}});
  expect_tags("<lora:ink:te=0.3:unet=0.7>", "", {{"ink", 0.3, 0.7, "<lora:ink:te=0.3:unet=0.7>"}});
  expect_tags("<lora:ink:0.5:unet=2>", "", {{"ink", 0.5, 2.0, "<lora:ink:0.5:unet=2>"}});
  expect_tags("<lora:ink:te=2>", "", {{"ink", 2.0, 2.0, "<lora:ink:te=2>"}});  // unet follows te
  expect_tags("<lyco:ink: -1.5e-1 >", "", {{"ink", -0.15, -0.15, "<lyco:ink: -1.5e-1 >"}});
  expect_tags("<lora:my style:+.5>", "", {{"my style", 0.5, 0.5, "<lora:my style:+.5>"}});
  expect_tags(
      "<lora:a:1><lora:b:-0.5> x <lora:a>", " x ",
      {{"a", 1.0, 1.0, "<lora:a:1>"}, {"b", -0.5, -0.5, "<lora:b:-0.5>"}, {"a", 1.0, 1.0, "<lora:a>"}});
  // With A1111's emphasis syntax around: the tag goes first, the rest is parsed as before.
  expect_tags("(red:1.2) <lora:ink:0.8> [cat]", "(red:1.2)  [cat]", {{"ink", 0.8, 0.8, "<lora:ink:0.8>"}});
  expect_tags("<lora:ink:2.>", "", {{"ink", 2.0, 2.0, "<lora:ink:2.>"}});
}

TEST(LoraTags, WhatIsNotATagStaysText) {
  for (const std::string text : {"a < b: c > d", "<lora:>", "<:x>", "<lora ink:1>", "<lora:ink", "x > y",
                                 "<>", "<<lora", "plain", "", "<lora-x:1>"})
    expect_tags(text, text, {});
  // A '<' inside the arguments belongs to them (re `<(\w+):([^>]+)>`); the first '>' ends the tag.
  expect_tags("<<lora:a:1>>", "<>", {{"a", 1.0, 1.0, "<lora:a:1>"}});
  expect_tags("<lora:a<b:1>", "", {{"a<b", 1.0, 1.0, "<lora:a<b:1>"}});
}

TEST(LoraTags, MistakesAreNamed) {
  EXPECT_EQ(error_of("a <hypernet:x:1>"),
            "prompt: <hypernet:x:1>: only <lora:...> extra networks are supported");
  EXPECT_EQ(error_of("<lora:te=1>"), "prompt: <lora:te=1>: expected <lora:name> or <lora:name:weight>");
  EXPECT_EQ(error_of("<lora::1>"), "prompt: <lora::1>: expected <lora:name> or <lora:name:weight>");
  EXPECT_EQ(error_of("<lora:a:1:2:3>"),
            "prompt: <lora:a:1:2:3>: expected at most <lora:name:te_weight:unet_weight> (A1111's dyn is not "
            "supported)");
  EXPECT_EQ(error_of("<lora:a:dyn=4>"),
            "prompt: <lora:a:dyn=4>: unknown argument \"dyn=\" (expected te= or unet=)");
  for (const std::string w : {"x", "inf", "nan", "1e999", "", "1.2.3", "0x10", "1e", "."})
    EXPECT_EQ(error_of("<lora:a:1:" + w + ">"),
              "prompt: <lora:a:1:" + w + ">: weight \"" + w + "\" is not a finite number")
        << w;
  for (const std::string name : {"../a", "a/b", "a\\b", "..", "x..y"})
    EXPECT_EQ(error_of("<lora:" + name + ":1>"),
              "prompt: <lora:" + name + ":1>: LoRA name \"" + name +
                  "\" must be a file name inside lora_dir (no '/', '\\' or '..')")
        << name;
}

}  // namespace
}  // namespace ftdr::test
