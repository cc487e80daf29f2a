// The backend's fault plan (plugins/backend/libtorch/faults/fault_plan.{h,cpp}, pure C++): parsing the config
// and FTDR_FAULTS forms, errors naming key and expected form, firing counts, seeded chaos, threads.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <unistd.h>
#include <atomic>

#include <cstdlib>
#include <filesystem>
#include <thread>

#include "faults/fault_plan.hpp"
#include "plugins/plugin_test_support.hpp"

namespace {

using namespace ftdr;
using sdk::Phase;
using testing::ElementsAre;
using testing::HasSubstr;
using torchbe::FaultKind;
using torchbe::FaultPlan;

// One pass of a job: encoding, `steps` diffusion steps, decoding; the faults that fired, as text.
std::vector<std::string> run_job(FaultPlan& plan, int steps = 10) {
  std::vector<std::string> fired;
  auto note = [&](const char* where, std::optional<torchbe::FaultAction> a) {
    if (a)
      fired.push_back(std::string(where) + ":" + std::string(to_string(a->kind)) +
                      (a->ms ? ":" + std::to_string(a->ms) : ""));
  };
  note("encode", plan.check(Phase::encoding, 0));
  for (int k = 1; k <= steps; ++k)
    note(("step" + std::to_string(k)).c_str(), plan.check(Phase::diffusion, k));
  note("decode", plan.check(Phase::decoding, 0));
  return fired;
}

std::string parse_error(std::string_view text) {
  try {
    FaultPlan::parse(text);
  } catch (const sdk::Error& e) {
    EXPECT_EQ(e.kind(), sdk::ErrorKind::invalid_request);
    return e.what();
  }
  ADD_FAILURE() << "expected \"" << text << "\" to be rejected";
  return "";
}

TEST(FaultPlan, EnvironmentFormFiresEachRuleOnceSoARetrySucceeds) {
  auto plan = FaultPlan::parse("oom=diffusion:step=7; nan = diffusion:step=3;device_error=decode;");
  EXPECT_THAT(run_job(plan), ElementsAre("step3:nan", "step7:oom", "decode:device_error"));
  EXPECT_THAT(run_job(plan), ElementsAre());
  EXPECT_FALSE(plan.empty());
}

TEST(FaultPlan, TimesCountsFiringsAndAlwaysNeverStops) {
  auto plan = FaultPlan::parse("oom=diffusion:step=2:times=2;device_error=encode:times=always");
  EXPECT_THAT(run_job(plan, 3), ElementsAre("encode:device_error", "step2:oom"));
  EXPECT_THAT(run_job(plan, 3), ElementsAre("encode:device_error", "step2:oom"));
  EXPECT_THAT(run_job(plan, 3), ElementsAre("encode:device_error"));
  EXPECT_THAT(plan.describe(), ElementsAre("oom = \"diffusion:step=2:times=2\" (0 left)",
                                           "device_error = \"encode:times=always\" (always)"));
}

TEST(FaultPlan, SlowStepCarriesItsDelayAndStepLessDiffusionFiresAtTheFirstStep) {
  auto plan = FaultPlan::parse("slow_step=diffusion:step=2:ms=500;nan=diffusion");
  EXPECT_THAT(run_job(plan, 4), ElementsAre("step1:nan", "step2:slow:500"));
}

TEST(FaultPlan, SeveralSpecsForOneKindAndMessagesSayWhatFired) {
  auto plan = FaultPlan::parse("oom=diffusion:step=4,decode");
  auto a = plan.check(Phase::diffusion, 4);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->message, "injected oom at diffusion step 4 (oom = \"diffusion:step=4\", firing 1 of 1)");
  a = plan.check(Phase::decoding, 0);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->message, "injected oom at decoding (oom = \"decode\", firing 1 of 1)");
  EXPECT_FALSE(plan.check(Phase::decoding, 0));
}

TEST(FaultPlan, ActionsBecomeTheRightErrors) {
  auto plan = FaultPlan::parse("oom=encode;device_error=encode;nan=encode");
  auto oom = plan.check(Phase::encoding, 0);
  auto dev = plan.check(Phase::encoding, 0);
  auto nan = plan.check(Phase::encoding, 0);
  ASSERT_TRUE(oom && dev && nan);
  EXPECT_TRUE(torchbe::is_error(oom->kind));
  EXPECT_EQ(torchbe::as_error(*oom).kind(), sdk::ErrorKind::out_of_memory);
  EXPECT_THAT(torchbe::as_error(*oom).what(), HasSubstr("out of memory"));
  EXPECT_EQ(torchbe::as_error(*dev).kind(), sdk::ErrorKind::device_error);
  EXPECT_FALSE(torchbe::is_error(nan->kind));
  EXPECT_THROW(torchbe::as_error(*nan), std::logic_error);
}

TEST(FaultPlan, BadSpecsNameTheKeyTheValueAndTheExpectedForm) {
  EXPECT_EQ(
      parse_error("oom=diffusion:stp=7"),
      "FTDR_FAULTS: 'oom': expected \"<phase>[:step=N][:times=N|always]\" with phase encode, diffusion or "
      "decode (step: diffusion only), got \"diffusion:stp=7\" (unknown option 'stp')");
  EXPECT_THAT(parse_error("oom=difusion:step=7"), HasSubstr("(unknown phase 'difusion')"));
  EXPECT_THAT(parse_error("device_error=decode:step=2"), HasSubstr("(step= is only valid for diffusion)"));
  EXPECT_THAT(parse_error("oom=diffusion:step=0"), HasSubstr("(step must be an integer >= 1, got '0')"));
  EXPECT_THAT(parse_error("oom=diffusion:step=x"), HasSubstr("(step must be an integer >= 1, got 'x')"));
  EXPECT_THAT(parse_error("oom=diffusion:times=0"), HasSubstr("(times must be an integer >= 1, got '0')"));
  EXPECT_THAT(parse_error("oom=diffusion:ms=5"), HasSubstr("(ms= is only valid for slow_step)"));
  EXPECT_THAT(parse_error("oom=diffusion:step"), HasSubstr("(expected name=value, got 'step')"));
  EXPECT_THAT(parse_error("oom="), HasSubstr("(unknown phase '')"));
  auto slow = parse_error("slow_step=diffusion:step=2");
  EXPECT_THAT(slow, HasSubstr("'slow_step': expected \"<phase>[:step=N]:ms=N[:times=N|always]\""));
  EXPECT_THAT(slow, HasSubstr("(ms=N is required)"));
  EXPECT_THAT(
      parse_error("ooom=decode"),
      HasSubstr("'ooom': expected a fault kind: one of oom, device_error, nan, slow_step, crash, hang, "
                "sticky_device_error, chaos"));
  EXPECT_THAT(parse_error("oom decode"), HasSubstr("expected <kind>=<spec> entries separated by ';'"));
  auto chaos = parse_error("chaos=seed=1:p=1.5");
  EXPECT_THAT(chaos, HasSubstr("'chaos': expected \"seed=N:p=P[:kinds=K+K...]"));
  EXPECT_THAT(chaos, HasSubstr("(p must be a probability from 0 to 1, got '1.5')"));
  EXPECT_THAT(parse_error("chaos=seed=1"), HasSubstr("(p=P is required)"));
  EXPECT_THAT(parse_error("chaos=p=0.1:kinds=oom+fire"), HasSubstr("(unknown kind 'fire')"));
  EXPECT_THAT(parse_error("chaos=p=0.1:phases=load"), HasSubstr("(unknown phase 'load')"));
  try {
    FaultPlan::parse("nan=nowhere", "config test");
    FAIL();
  } catch (const sdk::Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("config test: 'nan'"));
  }
}

TEST(FaultPlan, ConfigTableFormRejectsThroughTheView) {
  test::FakeConfig table({{"oom", std::string("diffusion:step=7")},
                          {"slow_step", std::string("diffusion:step=2:ms=500")},
                          {"chaos", std::string("seed=1:p=0")}});
  auto plan = FaultPlan::parse(table);
  EXPECT_THAT(run_job(plan), ElementsAre("step2:slow:500", "step7:oom"));
  auto keys = table.keys();
  EXPECT_EQ(table.read_keys(), std::set<std::string>(keys.begin(), keys.end()));

  test::FakeConfig typo({{"nan", std::string("diffusion")}, {"oom_step", std::int64_t{3}}});
  try {
    FaultPlan::parse(typo);
    FAIL() << "expected an error";
  } catch (const sdk::Error& e) {
    EXPECT_EQ(e.kind(), sdk::ErrorKind::invalid_request);
    EXPECT_THAT(e.what(), HasSubstr("test.toml: key 'oom_step': expected a fault kind: one of oom"));
  }
  test::FakeConfig bad({{"oom", std::string("diffusion:step=-1")}});
  try {
    FaultPlan::parse(bad);
    FAIL() << "expected an error";
  } catch (const sdk::Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("test.toml: key 'oom': expected \"<phase>"));
    EXPECT_THAT(e.what(), HasSubstr("got \"diffusion:step=-1\""));
  }
}

TEST(FaultPlan, ChaosIsSeededReproducibleAndRespectsItsOptions) {
  auto draw = [](std::string_view spec) {
    auto plan = FaultPlan::parse(spec);
    std::vector<std::string> all;
    for (int job = 0; job < 20; ++job)
      for (auto& f : run_job(plan)) all.push_back(std::to_string(job) + "/" + f);
    return all;
  };
  const auto a = draw("chaos=seed=1:p=0.05");
  EXPECT_EQ(a, draw("chaos=seed=1:p=0.05"));  // same seed, same faults
  EXPECT_NE(a, draw("chaos=seed=2:p=0.05"));
  EXPECT_FALSE(a.empty());
  EXPECT_LT(a.size(), 40u);  // about 5% of 240 checks
  EXPECT_TRUE(draw("chaos=seed=1:p=0").empty());
  EXPECT_EQ(draw("chaos=seed=1:p=1:times=3").size(), 3u);

  const auto only = draw("chaos=seed=4:p=0.5:kinds=slow:phases=decode:ms=7");
  EXPECT_FALSE(only.empty());
  for (const auto& f : only) EXPECT_THAT(f, testing::EndsWith("decode:slow:7"));
  const auto kinds = draw("chaos=seed=3:p=1:kinds=oom+nan");
  std::set<std::string> seen;
  for (const auto& f : kinds) seen.insert(f.substr(f.rfind(':') + 1));
  EXPECT_EQ(seen, (std::set<std::string>{"oom", "nan"}));
}

TEST(FaultPlan, ChaosRateMatchesP) {
  auto plan = FaultPlan::parse("chaos=seed=11:p=0.2:phases=diffusion");
  int fired = 0;
  for (int k = 1; k <= 20000; ++k) fired += plan.check(Phase::diffusion, k).has_value();
  EXPECT_NEAR(fired / 20000.0, 0.2, 0.015);
  EXPECT_FALSE(plan.check(Phase::encoding, 0));
}

TEST(FaultPlan, FixedRulesComeBeforeChaos) {
  auto plan = FaultPlan::parse("chaos=seed=1:p=1:kinds=nan;oom=diffusion:step=1");
  EXPECT_EQ(plan.check(Phase::diffusion, 1)->kind, FaultKind::oom);
  EXPECT_EQ(plan.check(Phase::diffusion, 1)->kind, FaultKind::nan);
}

TEST(FaultPlan, ConcurrentChecksFireExactlyTheCountedTimes) {
  auto plan = FaultPlan::parse("oom=diffusion:step=5:times=100;nan=encode:times=always");
  std::atomic<int> ooms{0}, nans{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) {
        if (plan.check(Phase::diffusion, 5)) ++ooms;
        if (plan.check(Phase::encoding, 0)) ++nans;
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(ooms.load(), 100);
  EXPECT_EQ(nans.load(), 8000);
}

TEST(FaultPlan, EnvironmentVariableMergeAndMoves) {
  ::unsetenv("FTDR_FAULTS");
  EXPECT_TRUE(FaultPlan::from_environment().empty());
  ::setenv("FTDR_FAULTS", "nan=diffusion:step=3;chaos=seed=9:p=0", 1);
  auto env = FaultPlan::from_environment();
  ::unsetenv("FTDR_FAULTS");
  EXPECT_THAT(env.describe(),
              ElementsAre("nan = \"diffusion:step=3\" (1 left)", "chaos = \"seed=9:p=0\" (always)"));

  auto plan = FaultPlan::parse("oom=diffusion:step=7;chaos=seed=1:p=1");
  plan.merge(std::move(env));
  EXPECT_THAT(plan.describe(),
              ElementsAre("oom = \"diffusion:step=7\" (1 left)", "nan = \"diffusion:step=3\" (1 left)",
                          "chaos = \"seed=9:p=0\" (always)"));
  FaultPlan moved = std::move(plan);
  EXPECT_THAT(run_job(moved), ElementsAre("step3:nan", "step7:oom"));
  EXPECT_TRUE(FaultPlan().empty());
  EXPECT_FALSE(FaultPlan().check(Phase::diffusion, 1));
}

TEST(FaultPlan, FaultKindNamesAreStable) {
  EXPECT_EQ(torchbe::to_string(FaultKind::oom), "oom");
  EXPECT_EQ(torchbe::to_string(FaultKind::device_error), "device_error");
  EXPECT_EQ(torchbe::to_string(FaultKind::nan), "nan");
  EXPECT_EQ(torchbe::to_string(FaultKind::slow), "slow");
}

TEST(FaultPlan, StickyDeviceErrorFailsEveryLaterCheck) {
  auto plan = FaultPlan::parse("sticky_device_error=diffusion:step=5");
  EXPECT_THAT(run_job(plan, 6), ElementsAre("step5:sticky_device_error", "step6:sticky_device_error",
                                            "decode:sticky_device_error"));
  EXPECT_THAT(run_job(plan, 1), ElementsAre("encode:sticky_device_error", "step1:sticky_device_error",
                                            "decode:sticky_device_error"));  // until the process ends
  const sdk::Error e = torchbe::as_error(*plan.check(Phase::encoding, 0));
  EXPECT_EQ(e.kind(), sdk::ErrorKind::device_error);
  EXPECT_THAT(e.what(), HasSubstr("an illegal memory access was encountered"));
  EXPECT_THAT(e.what(), HasSubstr("[sticky: the CUDA context is lost"));
  EXPECT_THAT(e.what(), HasSubstr("injected sticky_device_error at diffusion step 5"));
  EXPECT_THAT(torchbe::as_error(*FaultPlan::parse("device_error=decode").check(Phase::decoding, 0)).what(),
              testing::Not(HasSubstr("[sticky:")));
}

TEST(FaultPlan, CrashAndHangAreFatalKindsThatParseLikeTheOthers) {
  auto plan = FaultPlan::parse("crash=diffusion:step=7;hang=decode:times=2");
  EXPECT_THAT(plan.describe(),
              ElementsAre("crash = \"diffusion:step=7\" (1 left)", "hang = \"decode:times=2\" (2 left)"));
  EXPECT_THAT(run_job(plan), ElementsAre("step7:crash", "decode:hang"));
  EXPECT_TRUE(torchbe::is_fatal(FaultKind::crash));
  EXPECT_TRUE(torchbe::is_fatal(FaultKind::hang));
  EXPECT_FALSE(torchbe::is_fatal(FaultKind::sticky));
  EXPECT_THROW(torchbe::carry_out_fatal({FaultKind::oom, 0, ""}), std::logic_error);
  EXPECT_THAT(parse_error("crash=decode:ms=5"), HasSubstr("(ms= is only valid for slow_step)"));
}

// FTDR_FAULT_COUNTS: two plans (two worker processes) share one count, so times=1 fires once in all.
TEST(FaultPlan, SharedCountsFileMakesTimesATotalAcrossPlans) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("ftdr_fault_counts_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const auto file = dir / "counts";
  ::setenv("FTDR_FAULT_COUNTS", file.c_str(), 1);
  auto first = FaultPlan::parse("crash=diffusion:step=3;oom=decode:times=2");
  auto second = FaultPlan::parse("crash=diffusion:step=3;oom=decode:times=2");
  ::unsetenv("FTDR_FAULT_COUNTS");
  EXPECT_THAT(run_job(first), ElementsAre("step3:crash", "decode:oom"));
  EXPECT_THAT(run_job(second), ElementsAre("decode:oom"));  // the crash already fired once
  EXPECT_THAT(run_job(second), ElementsAre());
  EXPECT_THAT(run_job(first), ElementsAre());
  auto alone = FaultPlan::parse("crash=diffusion:step=3");  // no file: counts by itself
  EXPECT_THAT(run_job(alone), ElementsAre("step3:crash"));
  std::filesystem::remove_all(dir);
}

}  // namespace
