// Fuzz target: a GenerationRequest from JSON (framework/src/jobs/request_json.cpp). Refused input is
// sdk::Error(invalid_request); an accepted request holds exactly the values given and survives
// request_json() -> request_from_json().
#include <nlohmann/json.hpp>

#include "ftdr/framework/jobs/request_json.hpp"
#include "ftdr/sdk/error.hpp"
#include "fuzz_target.hpp"

namespace {

// Whether a field's value reads back as given: integers digit for digit (-1 is not 2^64 - 1, though
// nlohmann's == says so), an integer given for a float field as that float, anything else equal.
bool reads_back(const nlohmann::json& given, const nlohmann::json& read) {
  if (given.is_number_integer() && read.is_number_integer()) return given.dump() == read.dump();
  if (given.is_number() && read.is_number_float()) return given == read;
  return given.type() == read.type() && given == read;
}

}  // namespace

FTDR_FUZZ_TARGET(request_json) {
  nlohmann::json json = nlohmann::json::parse(data, data + size, nullptr, false);
  if (json.is_discarded()) return;  // not JSON: nlohmann's parser is not what this target tests
  try {
    ftdr::sdk::GenerationRequest request = ftdr::framework::request_from_json(json);
    nlohmann::json again = ftdr::framework::request_json(request);
    // Every field given reads back as given: nothing truncated, wrapped or converted on the way.
    for (auto it = json.begin(); it != json.end(); ++it)
      FTDR_FUZZ_CHECK(reads_back(it.value(), again.at(it.key())),
                      it.key() + ": " + it.value().dump() + " read as " + again.at(it.key()).dump());
    FTDR_FUZZ_CHECK(ftdr::framework::request_json(ftdr::framework::request_from_json(again)) == again,
                    again.dump());
  } catch (const ftdr::sdk::Error& e) {
    FTDR_FUZZ_CHECK(e.kind() == ftdr::sdk::ErrorKind::invalid_request, e.what());
  }
}
