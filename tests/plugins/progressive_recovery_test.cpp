// The `progressive` recovery strategy: phase-aware OOM ladders, numerical/device/timeout retries,
// give-up rules and exponential backoff with seeded jitter (plugins/recovery/progressive).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>

#include "backoff.hpp"
#include "ftdr/sdk/recovery.hpp"
#include "oom_ladder.hpp"
#include "plugins/plugin_test_support.hpp"
#include "progressive_recovery.hpp"

namespace {

using namespace ftdr;
using sdk::ErrorKind;
using sdk::Phase;
using testing::ElementsAre;
using testing::HasSubstr;

sdk::Failure fail(ErrorKind kind, Phase phase, const std::string& message = "injected") {
  sdk::Failure f;
  f.kind = kind;
  f.phase = phase;
  f.step = 3;
  f.message = message;
  return f;
}

sdk::Attempt attempt(int number, const sdk::Failure& failure, const std::string& change) {
  sdk::Attempt a;
  a.number = number;
  a.failure = failure;
  a.change = change;
  return a;
}

sdk::GenerationParams params(int batch = 1, int width = 512, int height = 512) {
  sdk::GenerationParams p;
  p.request.seed = 42;
  p.request.batch = batch;
  p.batch = batch;
  p.width = width;
  p.height = height;
  return p;
}

plugins::ProgressiveSettings no_jitter() {
  plugins::ProgressiveSettings s;
  s.jitter = 0;
  return s;
}

// Drives the strategy the way the engine does when the same failure repeats: each retry runs with
// the decided parameters (the first half of a split batch), until the strategy gives up.
struct Run {
  std::vector<std::string> changes;
  std::vector<sdk::RecoveryDecision> decisions;
  std::vector<sdk::Attempt> history;
  sdk::RecoveryDecision last;
};

Run repeat_failure(sdk::RecoveryStrategy& strategy, ErrorKind kind, Phase phase,
                   sdk::GenerationParams current) {
  Run run;
  for (int guard = 0; guard < 50; ++guard) {
    const sdk::Failure f = fail(kind, phase);
    auto d = strategy.decide(f, run.history, current);
    run.last = d;
    if (!d.retry) return run;
    run.changes.push_back(d.change);
    run.decisions.push_back(d);
    run.history.push_back(attempt(static_cast<int>(run.history.size()) + 1, f, d.change));
    run.history.back().delay_ms = d.delay_ms;
    current = d.params;
    if (d.split_batch) current.batch = (current.batch + 1) / 2;
  }
  ADD_FAILURE() << "the strategy never gave up";
  return run;
}

TEST(ProgressiveRecovery, DefaultDiffusionLadderAtBatchFour) {
  plugins::ProgressiveRecovery strategy(no_jitter());
  auto run = repeat_failure(strategy, ErrorKind::out_of_memory, Phase::diffusion, params(4));
  EXPECT_THAT(
      run.changes,
      ElementsAre("attention slicing on (slice size: backend's choice)",
                  "smaller attention slices: backend's choice -> 256 query rows",
                  "batch 4 -> 2 + 2, one after the other", "batch 2 -> 1 + 1, one after the other",
                  "resolution 512x512 -> 384x384 (degraded)", "resolution 384x384 -> 256x256 (degraded)"));
  EXPECT_FALSE(run.last.retry);
  EXPECT_EQ(run.last.reason,
            "out of memory in diffusion and nothing left on diffusion_oom_ladder "
            "[slicing, smaller_slices, split_batch, reduce_resolution]");
  for (const auto& d : run.decisions) EXPECT_EQ(d.resume_phase, Phase::diffusion);
  EXPECT_THAT(std::vector<bool>(
                  {run.decisions[2].split_batch, run.decisions[3].split_batch, run.decisions[4].split_batch}),
              ElementsAre(true, true, false));
  EXPECT_EQ(run.decisions[2].params.batch, 4);  // the engine splits; the params keep the whole batch
  EXPECT_FALSE(run.decisions[3].degraded);
  EXPECT_TRUE(run.decisions[4].degraded);
  EXPECT_EQ(run.decisions[5].params.width, 256);
  EXPECT_EQ(run.decisions[5].params.options.attention, sdk::AttentionMode::sliced);
  EXPECT_EQ(run.decisions[5].params.options.attention_slice_size, 256);
}

TEST(ProgressiveRecovery, ConfiguredLadderOrderIsFollowed) {
  auto cfg = std::make_shared<test::FakeConfig>(std::map<std::string, test::FakeConfig::Value>{
      {"diffusion_oom_ladder", std::vector<std::string>{"slicing", "split_batch", "reduce_resolution"}},
      {"min_size", std::int64_t{384}},
      {"jitter", 0.0}});
  plugins::ProgressiveRecovery strategy(plugins::read_progressive_settings(cfg.get()));
  auto run = repeat_failure(strategy, ErrorKind::out_of_memory, Phase::diffusion, params(4));
  EXPECT_THAT(run.changes,
              ElementsAre("attention slicing on (slice size: backend's choice)",
                          "batch 4 -> 2 + 2, one after the other", "batch 2 -> 1 + 1, one after the other",
                          "resolution 512x512 -> 384x384 (degraded)"));
  EXPECT_EQ(run.last.reason,
            "out of memory in diffusion and nothing left on diffusion_oom_ladder [slicing, split_batch, "
            "reduce_resolution]");

  // A different order: split first, then slicing.
  test::FakeConfig reversed({{"diffusion_oom_ladder", std::vector<std::string>{"split_batch", "slicing"}}});
  plugins::ProgressiveRecovery other(plugins::read_progressive_settings(&reversed));
  run = repeat_failure(other, ErrorKind::out_of_memory, Phase::diffusion, params(2));
  EXPECT_THAT(run.changes, ElementsAre("batch 2 -> 1 + 1, one after the other",
                                       "attention slicing on (slice size: backend's choice)"));
}

TEST(ProgressiveRecovery, SkipsRungsAlreadyInEffect) {
  plugins::ProgressiveRecovery strategy(no_jitter());
  auto p = params(1);
  p.options.attention = sdk::AttentionMode::sliced;  // e.g. the memory policy switched it on
  p.options.attention_slice_size = 128;              // already below small_slice_size
  auto d = strategy.decide(fail(ErrorKind::out_of_memory, Phase::diffusion, ""), {}, p);
  ASSERT_TRUE(d.retry);
  EXPECT_EQ(d.change, "resolution 512x512 -> 384x384 (degraded)");
}

TEST(ProgressiveRecovery, OddBatchAndNonSquareSizes) {
  plugins::ProgressiveRecovery strategy(no_jitter());
  auto p = params(3, 768, 512);
  p.options.attention = sdk::AttentionMode::sliced;
  p.options.attention_slice_size = 256;
  auto d = strategy.decide(fail(ErrorKind::out_of_memory, Phase::diffusion, ""), {}, p);
  EXPECT_EQ(d.change, "batch 3 -> 2 + 1, one after the other");
  p.batch = 1;
  d = strategy.decide(fail(ErrorKind::out_of_memory, Phase::diffusion, ""), {}, p);
  EXPECT_EQ(d.change, "resolution 768x512 -> 576x384 (degraded)");
  EXPECT_EQ(d.params.width, 576);
  EXPECT_EQ(d.params.height, 384);
}

TEST(ProgressiveRecovery, SizeMultipleAndFactorAreConfigurable) {
  EXPECT_EQ(plugins::scaled_size(512, 0.9, 64), 448);
  EXPECT_EQ(plugins::scaled_size(512, 0.9, 8), 456);
  EXPECT_EQ(plugins::scaled_size(520, 0.75, 64), 384);
  test::FakeConfig cfg(
      {{"size_multiple", std::int64_t{8}}, {"resolution_factor", 0.9}, {"min_size", std::int64_t{64}}});
  plugins::ProgressiveRecovery strategy(plugins::read_progressive_settings(&cfg));
  auto p = params(1);
  p.options.attention = sdk::AttentionMode::sliced;
  p.options.attention_slice_size = 1;
  auto d = strategy.decide(fail(ErrorKind::out_of_memory, Phase::diffusion, ""), {}, p);
  EXPECT_EQ(d.change, "resolution 512x512 -> 456x456 (degraded)");
}

TEST(ProgressiveRecovery, DecodingOomTilesAndNeverRerunsDiffusion) {
  plugins::ProgressiveRecovery strategy(no_jitter());
  auto run = repeat_failure(strategy, ErrorKind::out_of_memory, Phase::decoding, params(2));
  ASSERT_EQ(run.decisions.size(), 1u);
  EXPECT_EQ(run.decisions[0].resume_phase, Phase::decoding);
  EXPECT_TRUE(run.decisions[0].params.options.vae_tiling);
  EXPECT_FALSE(run.decisions[0].split_batch);
  EXPECT_EQ(run.changes[0], "VAE tiling on, decoding again from the finished latents");
  EXPECT_EQ(run.last.reason, "out of memory in decoding and nothing left on decoding_oom_ladder [tiling]");
}

TEST(ProgressiveRecovery, EncodingOomRetriesOnceAfterOffloading) {
  plugins::ProgressiveRecovery strategy(no_jitter());
  auto run = repeat_failure(strategy, ErrorKind::out_of_memory, Phase::encoding, params(1));
  ASSERT_EQ(run.decisions.size(), 1u);
  EXPECT_EQ(run.decisions[0].resume_phase, Phase::encoding);
  EXPECT_EQ(run.changes[0], "offload the other components and empty the cache, retry encoding");
  EXPECT_EQ(run.last.reason, "out of memory in encoding and nothing left on encoding_oom_ladder [offload]");
}

TEST(ProgressiveRecovery, OffloadAppliesOnlyToThePhasesFirstOom) {
  test::FakeConfig cfg({{"diffusion_oom_ladder", std::vector<std::string>{"offload", "slicing"}}});
  plugins::ProgressiveRecovery strategy(plugins::read_progressive_settings(&cfg));
  // An earlier OOM in decoding does not use up diffusion's offload.
  std::vector<sdk::Attempt> history{
      attempt(1, fail(ErrorKind::out_of_memory, Phase::decoding), "VAE tiling on")};
  auto d = strategy.decide(fail(ErrorKind::out_of_memory, Phase::diffusion, ""), history, params());
  EXPECT_EQ(d.change, "offload the other components and empty the cache, retry diffusion");
  history.push_back(attempt(2, fail(ErrorKind::out_of_memory, Phase::diffusion), d.change));
  d = strategy.decide(fail(ErrorKind::out_of_memory, Phase::diffusion, ""), history, params());
  EXPECT_EQ(d.change, "attention slicing on (slice size: backend's choice)");
}

TEST(ProgressiveRecovery, RetriesExhausted) {
  auto s = no_jitter();
  s.max_retries = 3;
  plugins::ProgressiveRecovery strategy(s);
  auto run = repeat_failure(strategy, ErrorKind::out_of_memory, Phase::diffusion, params(4));
  EXPECT_EQ(run.changes.size(), 3u);
  EXPECT_FALSE(run.last.retry);
  EXPECT_EQ(run.last.reason, "retries exhausted (3)");
  s.max_retries = 0;
  plugins::ProgressiveRecovery none(s);
  EXPECT_EQ(none.decide(fail(ErrorKind::device_error, Phase::diffusion, ""), {}, params()).reason,
            "retries exhausted (0)");
}

TEST(ProgressiveRecovery, NumericalErrorsMoveToF32ThenRetryAsIs) {
  plugins::ProgressiveRecovery strategy(no_jitter());
  auto p = params();
  p.options.dtype = sdk::DType::f16;
  auto run = repeat_failure(strategy, ErrorKind::numerical_error, Phase::diffusion, p);
  EXPECT_THAT(run.changes, ElementsAre("dtype f16 -> f32, retry diffusion",
                                       "retry diffusion as is (numerical error 2 of 2)"));
  EXPECT_EQ(run.decisions[0].params.options.dtype, sdk::DType::f32);
  EXPECT_EQ(run.decisions[0].resume_phase, Phase::diffusion);
  EXPECT_EQ(run.last.reason, "numerical error in diffusion persists after 2 retries");

  run = repeat_failure(strategy, ErrorKind::numerical_error, Phase::decoding, p);
  EXPECT_THAT(run.changes, ElementsAre("VAE upcast to f32, decoding again",
                                       "retry decoding as is (numerical error 2 of 2)"));
  EXPECT_TRUE(run.decisions[0].params.options.upcast_vae);
  EXPECT_EQ(run.decisions[0].params.options.dtype, sdk::DType::f16);
  EXPECT_EQ(run.decisions[0].resume_phase, Phase::decoding);
}

TEST(ProgressiveRecovery, DeviceErrorsAndTimeoutsRetryTheSamePhase) {
  plugins::ProgressiveRecovery strategy(no_jitter());
  auto run = repeat_failure(strategy, ErrorKind::device_error, Phase::decoding, params());
  EXPECT_THAT(run.changes, ElementsAre("retry decoding after device cleanup (device_error 1 of 2)",
                                       "retry decoding after device cleanup (device_error 2 of 2)"));
  for (const auto& d : run.decisions) EXPECT_EQ(d.resume_phase, Phase::decoding);
  EXPECT_EQ(run.last.reason, "device_error again after 2 retries (device_error retries: 2)");

  run = repeat_failure(strategy, ErrorKind::timeout, Phase::diffusion, params());
  EXPECT_THAT(run.changes, ElementsAre("retry diffusion (timeout 1 of 1)"));
  EXPECT_EQ(run.last.reason, "timeout again after 1 retries (timeout retries: 1)");
}

TEST(ProgressiveRecovery, PermanentKindsGiveUpAtOnce) {
  plugins::ProgressiveRecovery strategy(no_jitter());
  for (ErrorKind kind : {ErrorKind::invalid_request, ErrorKind::model_error, ErrorKind::cancelled,
                         ErrorKind::plugin_error, ErrorKind::internal}) {
    auto d = strategy.decide(fail(kind, Phase::diffusion, "boom"), {}, params(4));
    EXPECT_FALSE(d.retry);
    EXPECT_EQ(d.reason, std::string(to_string(kind)) + " is not retried");
    EXPECT_EQ(d.delay_ms, 0);
    EXPECT_EQ(d.change, "");
  }
}

TEST(ProgressiveRecovery, InitializingOomGivesUp) {
  plugins::ProgressiveRecovery strategy(no_jitter());
  auto d = strategy.decide(fail(ErrorKind::out_of_memory, Phase::initializing, ""), {}, params());
  EXPECT_FALSE(d.retry);
  EXPECT_EQ(d.reason, "out of memory while initializing: nothing to degrade");
}

TEST(ProgressiveRecovery, BackoffDoublesUpToTheCapWithoutJitter) {
  auto s = no_jitter();
  s.backoff_initial_ms = 100;
  s.backoff_max_ms = 1000;
  std::vector<std::int64_t> delays;
  for (int n = 1; n <= 6; ++n) delays.push_back(plugins::backoff_delay_ms(s, 7, n));
  EXPECT_THAT(delays, ElementsAre(100, 200, 400, 800, 1000, 1000));
  EXPECT_EQ(plugins::backoff_delay_ms(s, 7, 200), 1000);  // no overflow for large n

  s.max_retries = 10;
  plugins::ProgressiveRecovery strategy(s);
  auto run = repeat_failure(strategy, ErrorKind::out_of_memory, Phase::diffusion, params(4));
  std::vector<std::int64_t> decided;
  for (const auto& d : run.decisions) decided.push_back(d.delay_ms);
  EXPECT_THAT(decided, ElementsAre(100, 200, 400, 800, 1000, 1000));
}

TEST(ProgressiveRecovery, JitterIsBoundedSeededAndReproducible) {
  plugins::ProgressiveSettings s;
  s.backoff_initial_ms = 1000;
  s.backoff_max_ms = 64000;
  s.jitter = 0.5;
  s.seed = 1;
  std::set<std::int64_t> distinct;
  for (int n = 1; n <= 6; ++n) {
    const double base = 1000.0 * (1 << (n - 1));
    const auto d = plugins::backoff_delay_ms(s, 42, n);
    EXPECT_GT(d, base * 0.5 - 1) << n;
    EXPECT_LE(d, base) << n;
    EXPECT_EQ(d, plugins::backoff_delay_ms(s, 42, n));  // same inputs, same delay
    const double u = plugins::jitter_unit(1, 42, n);
    EXPECT_EQ(d, std::llround(base * (1 - 0.5 * u)));
    distinct.insert(d - static_cast<std::int64_t>(base));
  }
  EXPECT_GT(distinct.size(), 1u);  // the jitter is not constant
  // Another config seed or another request seed gives other delays.
  int differ_seed = 0, differ_request = 0;
  for (int n = 1; n <= 8; ++n) {
    auto other = s;
    other.seed = 2;
    differ_seed += plugins::backoff_delay_ms(other, 42, n) != plugins::backoff_delay_ms(s, 42, n);
    differ_request += plugins::backoff_delay_ms(s, 43, n) != plugins::backoff_delay_ms(s, 42, n);
  }
  EXPECT_GE(differ_seed, 6);
  EXPECT_GE(differ_request, 6);
  // U covers [0, 1) roughly uniformly.
  double sum = 0;
  for (int n = 1; n <= 4000; ++n) {
    const double u = plugins::jitter_unit(9, 0, n);
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    sum += u;
  }
  EXPECT_NEAR(sum / 4000, 0.5, 0.03);
}

void expect_rejected(std::map<std::string, test::FakeConfig::Value> values, const std::string& key,
                     const std::string& expected) {
  test::FakeConfig cfg(std::move(values));
  try {
    plugins::read_progressive_settings(&cfg);
    ADD_FAILURE() << "expected " << key << " to be rejected";
  } catch (const sdk::Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::invalid_request);
    EXPECT_THAT(e.what(), HasSubstr("key '" + key + "'"));
    EXPECT_THAT(e.what(), HasSubstr(expected));
  }
}

TEST(ProgressiveRecovery, ConfigErrorsNameTheKeyAndTheExpectedForm) {
  expect_rejected({{"diffusion_oom_ladder", std::vector<std::string>{"slicing", "tiling"}}},
                  "diffusion_oom_ladder",
                  "a list of rungs from: offload, slicing, smaller_slices, split_batch, reduce_resolution "
                  "(got \"tiling\")");
  expect_rejected({{"decoding_oom_ladder", std::vector<std::string>{"tilling"}}}, "decoding_oom_ladder",
                  "from: offload, tiling (got \"tilling\")");
  expect_rejected({{"resolution_factor", 1.0}}, "resolution_factor", "strictly between 0 and 1");
  expect_rejected({{"size_multiple", std::int64_t{12}}}, "size_multiple", "a multiple of 8");
  expect_rejected({{"min_size", std::int64_t{32}}}, "min_size", ">= size_multiple (64)");
  expect_rejected({{"jitter", 1.5}}, "jitter", "between 0 and 1");
  expect_rejected({{"backoff_initial_ms", std::int64_t{500}}, {"backoff_max_ms", std::int64_t{100}}},
                  "backoff_max_ms", ">= backoff_initial_ms (500)");
  expect_rejected({{"max_retries", std::int64_t{-1}}}, "max_retries", ">= 0");
  expect_rejected({{"max_retries", std::string("3")}}, "max_retries", "an integer");
}

TEST(ProgressiveRecovery, ReadsEveryDocumentedKey) {
  // The host reports keys present but never read as unknown: every documented key must be read.
  test::FakeConfig cfg({{"max_retries", std::int64_t{5}},
                        {"backoff_initial_ms", std::int64_t{10}},
                        {"backoff_max_ms", std::int64_t{20}},
                        {"jitter", 0.1},
                        {"seed", std::int64_t{3}},
                        {"encoding_oom_ladder", std::vector<std::string>{}},
                        {"diffusion_oom_ladder", std::vector<std::string>{"reduce_resolution"}},
                        {"decoding_oom_ladder", std::vector<std::string>{"offload", "tiling"}},
                        {"slice_size", std::int64_t{1024}},
                        {"small_slice_size", std::int64_t{128}},
                        {"resolution_factor", 0.5},
                        {"size_multiple", std::int64_t{32}},
                        {"min_size", std::int64_t{128}},
                        {"numerical_retries", std::int64_t{1}},
                        {"device_error_retries", std::int64_t{4}},
                        {"timeout_retries", std::int64_t{0}}});
  auto s = plugins::read_progressive_settings(&cfg);
  auto keys = cfg.keys();
  EXPECT_EQ(cfg.read_keys(), std::set<std::string>(keys.begin(), keys.end()));
  EXPECT_EQ(s.max_retries, 5);
  EXPECT_EQ(s.backoff_max_ms, 20);
  EXPECT_EQ(s.seed, 3u);
  EXPECT_TRUE(s.encoding_oom_ladder.empty());
  EXPECT_THAT(s.decoding_oom_ladder, ElementsAre(plugins::Rung::offload, plugins::Rung::tiling));
  EXPECT_EQ(s.small_slice_size, 128);
  EXPECT_EQ(s.min_size, 128);
  EXPECT_EQ(s.timeout_retries, 0);

  test::FakeConfig empty_ladder({{"decoding_oom_ladder", std::vector<std::string>{}}});
  plugins::ProgressiveRecovery strategy(plugins::read_progressive_settings(&empty_ladder));
  auto d = strategy.decide(fail(ErrorKind::out_of_memory, Phase::decoding, ""), {}, params());
  EXPECT_FALSE(d.retry);
  EXPECT_EQ(d.reason, "out of memory in decoding and nothing left on decoding_oom_ladder []");
}

TEST(ProgressiveRecovery, SharedLibraryDescribesItselfAndDecides) {
  auto cfg = std::make_shared<test::FakeConfig>(std::map<std::string, test::FakeConfig::Value>{
      {"jitter", 0.0}, {"backoff_initial_ms", std::int64_t{50}}});
  auto loaded = test::load_plugin("progressive", cfg);
  EXPECT_EQ(loaded->descriptor->abi_major, sdk::kAbiMajor);
  EXPECT_EQ(loaded->descriptor->kind, sdk::PluginKind::recovery);
  EXPECT_STREQ(loaded->descriptor->name, "progressive");
  auto* strategy = dynamic_cast<sdk::RecoveryStrategy*>(loaded->object.get());
  ASSERT_NE(strategy, nullptr);
  auto d =
      strategy->decide(fail(ErrorKind::out_of_memory, Phase::decoding, "CUDA out of memory"), {}, params());
  EXPECT_TRUE(d.retry);
  EXPECT_TRUE(d.params.options.vae_tiling);
  EXPECT_EQ(d.resume_phase, Phase::decoding);
  EXPECT_EQ(d.delay_ms, 50);
}

}  // namespace
