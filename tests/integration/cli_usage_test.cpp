// `ftdr` usage: --version, --help, bad commands and flags exit 2 with a message naming the flag.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/abi_text.hpp"
#include "integration/cli_runner.hpp"

namespace ftdr::test {
namespace {

using ::testing::HasSubstr;

TEST(CliUsage, VersionPrintsVersionAndAbi) {
  auto r = run_ftdr({"--version"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_THAT(r.out, ::testing::EndsWith(" (plugin SDK ABI " + abi_text() + ")\n"));
  EXPECT_THAT(
      r.out, ::testing::MatchesRegex("ftdr [0-9]+\\.[0-9]+\\.[0-9]+ \\(plugin SDK ABI [0-9]+\\.[0-9]+\\)\n"));
}

TEST(CliUsage, HelpListsCommandsAndExitCodes) {
  auto r = run_ftdr({"--help"});
  EXPECT_EQ(r.exit_code, 0);
  for (const char* text : {"generate", "plugins", "check-config", "doctor", "Exit codes:", "3  job failed",
                           "4  cancelled or interrupted", "2  bad usage"})
    EXPECT_THAT(r.out, HasSubstr(text));
}

TEST(CliUsage, EachCommandHasHelp) {
  for (const char* cmd : {"generate", "plugins", "check-config", "doctor"}) {
    auto r = run_ftdr({cmd, "--help"});
    EXPECT_EQ(r.exit_code, 0) << cmd;
    EXPECT_THAT(r.out, HasSubstr(std::string("ftdr ") + cmd)) << cmd;
  }
  EXPECT_THAT(run_ftdr({"generate", "--help"}).out, HasSubstr("--negative-prompt"));
}

TEST(CliUsage, NoCommandIsAUsageError) {
  auto r = run_ftdr({});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("usage: ftdr"));
}

TEST(CliUsage, UnknownCommand) {
  auto r = run_ftdr({"frobnicate"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("unknown command 'frobnicate'"));
}

TEST(CliUsage, UnknownFlag) {
  auto r = run_ftdr({"generate", "--prompt", "x", "--bogus"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("--bogus"));
  EXPECT_THAT(r.err, HasSubstr("see `ftdr generate --help`"));
}

TEST(CliUsage, BadLogLevel) {
  auto r = run_ftdr({"--log-level", "loud", "plugins"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err,
              HasSubstr("--log-level: expected one of trace, debug, info, warn, error, off (got 'loud')"));
}

TEST(CliUsage, GenerateNeedsAPrompt) {
  auto r = run_ftdr({"generate"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("--prompt is required"));
}

TEST(CliUsage, GenerateValidatesFlagsNamingTheFlag) {
  struct Case {
    std::vector<std::string> flags;
    std::string message;
  };
  const std::vector<Case> cases{
      {{"--width", "500"},
       "--width: expected 0 (the model's default size) or a multiple of 8 in [8, 8192], got 500"},
      {{"--height", "-1"}, "--height: expected 0 (the model's default size) or a multiple of 8"},
      {{"--steps", "0"}, "--steps: expected an integer in [1, 1000], got 0"},
      {{"--cfg=-2"}, "--cfg: expected a number in [0, 100], got -2"},
      {{"--batch", "100"}, "--batch: expected an integer in [1, 64], got 100"},
      {{"--steps", "many"}, "the argument ('many') for option '--steps' is invalid"},
      {{"--priority", "asap"}, "--priority: expected urgent, high, normal or low (got 'asap')"},
  };
  for (const auto& c : cases) {
    std::vector<std::string> args{"generate", "--prompt", "x"};
    args.insert(args.end(), c.flags.begin(), c.flags.end());
    auto r = run_ftdr(args);
    EXPECT_EQ(r.exit_code, 2) << c.flags[0];
    EXPECT_THAT(r.err, HasSubstr(c.message)) << c.flags[0];
  }
}

TEST(CliUsage, MissingConfigFileIsNamed) {
  auto r = run_ftdr({"--config", "/nonexistent/x.toml", "plugins"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("/nonexistent/x.toml: config file not found"));
}

}  // namespace
}  // namespace ftdr::test
