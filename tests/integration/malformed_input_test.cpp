// The malformed-input corpus for `ftdr generate`'s flags and request values (issue 15): every case
// exits 2 before any work, names the flag in its message, and writes no file. It runs on the
// test_backend fixture config, so a case that slipped through would run a job and write a PNG.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "integration/fixture_config.hpp"

namespace ftdr::test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
namespace fs = std::filesystem;

struct Malformed {
  std::vector<std::string> flags;  // after `generate --config <fixture>`
  std::string message;             // must appear in stderr
  std::string config = "";         // appended to the fixture config
};

const std::vector<Malformed>& corpus() {
  static const std::string utf8_text =
      "expected UTF-8 text without control characters other than tab and line breaks";
  static const std::vector<Malformed> cases{
      // Flags boost::program_options refuses.
      {{"--prompt", "p", "--bogus"}, "unrecognised option '--bogus'"},
      {{"--prompt", "p", "--steps"}, "the required argument for option '--steps' is missing"},
      {{"--prompt", "p", "--steps", "many"}, "the argument ('many') for option '--steps' is invalid"},
      {{"--prompt", "p", "--steps", "1.5"}, "the argument ('1.5') for option '--steps' is invalid"},
      {{"--prompt", "p", "--steps", "99999999999"},
       "the argument ('99999999999') for option '--steps' is invalid"},
      {{"--prompt", "p", "--cfg", "1e400"}, "the argument ('1e400') for option '--cfg' is invalid"},
      {{"--prompt", "p", "--width", "0x40"}, "the argument ('0x40') for option '--width' is invalid"},
      {{"--log-level", "loud", "--prompt", "p"}, "--log-level: expected one of trace"},
      // Words no option takes: `-p a red circle` drew "a".
      {{"-p", "a", "red", "circle"}, "unexpected argument 'red' (a value with spaces needs quotes"},
      {{"--prompt", "p", "extra"}, "unexpected argument 'extra'"},
      {{}, "--prompt is required"},
      // --seed: unsigned, no wrap-around.
      {{"--prompt", "p", "--seed", "-2"},
       "--seed: expected an integer in [0, 18446744073709551615], got '-2'"},
      {{"--prompt", "p", "--seed", "18446744073709551616"},
       "--seed: expected an integer in [0, 18446744073709551615]"},
      {{"--prompt", "p", "--seed", "1e3"},
       "--seed: expected an integer in [0, 18446744073709551615], got '1e3'"},
      {{"--prompt", "p", "--seed", ""}, "--seed: expected an integer in [0, 18446744073709551615], got ''"},
      {{"--prompt", "p", "--seed", "18446744073709551615"}, "--seed: expected at most 2^64 - 1 - batch"},
      // Documented ranges.
      {{"--prompt", "p", "--steps", "0"}, "--steps: expected an integer in [1, 1000], got 0"},
      {{"--prompt", "p", "--steps", "1001"}, "--steps: expected an integer in [1, 1000], got 1001"},
      {{"--prompt", "p", "--cfg", "1e30"}, "--cfg: expected a number in [0, 100], got 1e+30"},
      {{"--prompt", "p", "--cfg", "100.5"}, "--cfg: expected a number in [0, 100], got 100.5"},
      {{"--prompt", "p", "--cfg=-1"}, "--cfg: expected a number in [0, 100], got -1"},
      {{"--prompt", "p", "--cfg", "nan"}, "--cfg: expected a number in [0, 100], got nan"},
      {{"--prompt", "p", "--cfg", "inf"}, "--cfg: expected a number in [0, 100], got inf"},
      // 0 is the model's default size (model_default_size_test.cpp); other sizes are checked.
      {{"--prompt", "p", "--width", "-8"},
       "--width: expected 0 (the model's default size) or a multiple of 8 in [8, 8192], got -8"},
      {{"--prompt", "p", "--width", "8200"},
       "--width: expected 0 (the model's default size) or a multiple of 8 in [8, 8192], got 8200"},
      {{"--prompt", "p", "--height", "7"},
       "--height: expected 0 (the model's default size) or a multiple of 8 in [8, 8192], got 7"},
      {{"--prompt", "p", "--batch", "0"}, "--batch: expected an integer in [1, 64], got 0"},
      {{"--prompt", "p", "--batch", "65"}, "--batch: expected an integer in [1, 64], got 65"},
      {{"--prompt", "p", "--priority", "asap"},
       "--priority: expected urgent, high, normal or low (got 'asap')"},
      // Text: UTF-8, no control characters; a prefix is a file name prefix.
      {{"--prompt", "a\xff"}, "--prompt: " + utf8_text + ", got an invalid UTF-8 byte 0xff at byte 1"},
      {{"--prompt", "\xc3"}, "--prompt: " + utf8_text + ", got an invalid UTF-8 byte 0xc3 at byte 0"},
      {{"--prompt", "bell\a"}, "--prompt: " + utf8_text + ", got control character U+0007 at byte 4"},
      {{"--prompt", "p", "--negative-prompt", "\x1b[2J"},
       "--negative-prompt: " + utf8_text + ", got control character U+001B"},
      {{"--prompt", "p", "--prefix", "a/b"}, "--prefix: expected a file name prefix without '/' or '\\'"},
      {{"--prompt", "p", "--prefix", "../up"}, "--prefix: expected a file name prefix without '/' or '\\'"},
      {{"--prompt", "p", "--prefix", "a\nb"},
       "--prefix: expected a file name prefix: UTF-8 without control characters, got control character "
       "U+000A at byte 1"},
      {{"--prompt", "p", "--prefix", "tab\there"},
       "--prefix: expected a file name prefix: UTF-8 without control characters, got control character "
       "U+0009"},
      {{"--prompt", "p", "--prefix", "\xfe"},
       "--prefix: expected a file name prefix: UTF-8 without control characters, got an invalid UTF-8 byte "
       "0xfe"},
      {{"--prompt", "p", "--prefix", std::string(201, 'x')},
       "--prefix: expected at most 200 bytes, got 201 bytes"},
      // The model's own limits (ModelBackend::validate), checked before the job instead of failing it
      // (exit 3); named by the config key the value came from.
      {{"--prompt", "p"},
       "generate: [generate] clip_skip: expected 0..2 (test_backend's text encoder layers), got 3",
       "clip_skip = 3\n"},
  };
  return cases;
}

bool any_file_under(const fs::path& dir, const std::string& extension) {
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    if (it->path().extension() == extension) return true;
  return false;
}

TEST(MalformedInput, EachCaseExits2NamingTheFlagAndWritesNothing) {
  const fs::path dir = fresh_dir("malformed");
  for (const auto& c : corpus()) {
    const fs::path config = write_fixture_config(dir, c.config);
    std::vector<std::string> args{"generate", "--config", config.string()};
    args.insert(args.end(), c.flags.begin(), c.flags.end());
    const std::string label = ::testing::PrintToString(c.flags);
    auto r = run_ftdr(args, fixture_env(), dir);
    EXPECT_EQ(r.exit_code, 2) << label << "\n" << r.err;
    EXPECT_THAT(r.err, HasSubstr(c.message)) << label;
    EXPECT_THAT(r.err, Not(HasSubstr("step "))) << label;
    EXPECT_EQ(r.out, "") << label;
    EXPECT_TRUE(!fs::exists(dir / "out") || fs::is_empty(dir / "out")) << label;
    EXPECT_FALSE(any_file_under(dir, ".png")) << label;
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace ftdr::test
