// The transition table and the StateMachine that enforces it.
#include <gtest/gtest.h>

#include "ftdr/framework/jobs/state_machine.hpp"
#include "ftdr/sdk/error.hpp"

using namespace ftdr::framework;
using S = ExecutionState;

namespace {

std::vector<S> all_states() {
  std::vector<S> out;
  for (int i = 0; i < kExecutionStateCount; ++i) out.push_back(static_cast<S>(i));
  return out;
}

}  // namespace

TEST(ExecutionStateTable, ListsExactlyTheDesignedSuccessors) {
  using V = std::vector<S>;
  EXPECT_EQ(legal_successors(S::idle), (V{S::initializing, S::cancelled}));
  EXPECT_EQ(legal_successors(S::initializing), (V{S::encoding_prompt, S::diffusion_running, S::decoding,
                                                  S::failed, S::retry_pending, S::cancelled}));
  EXPECT_EQ(legal_successors(S::encoding_prompt),
            (V{S::diffusion_running, S::failed, S::retry_pending, S::cancelled}));
  EXPECT_EQ(legal_successors(S::diffusion_running),
            (V{S::decoding, S::failed, S::retry_pending, S::cancelled}));
  EXPECT_EQ(legal_successors(S::decoding), (V{S::encoding_prompt, S::diffusion_running, S::completed,
                                              S::failed, S::retry_pending, S::cancelled}));
  EXPECT_EQ(legal_successors(S::retry_pending), (V{S::initializing, S::cancelled}));
  EXPECT_TRUE(legal_successors(S::completed).empty());
  EXPECT_TRUE(legal_successors(S::failed).empty());
  EXPECT_TRUE(legal_successors(S::cancelled).empty());
}

TEST(ExecutionStateTable, NoStateTransitionsToItself) {
  for (S s : all_states()) EXPECT_FALSE(is_legal_transition(s, s)) << to_string(s);
}

TEST(ExecutionStateTable, NamesAndPhases) {
  EXPECT_EQ(to_string(S::diffusion_running), "DIFFUSION_RUNNING");
  EXPECT_EQ(to_string(S::retry_pending), "RETRY_PENDING");
  EXPECT_EQ(phase_of(S::encoding_prompt), ftdr::sdk::Phase::encoding);
  EXPECT_EQ(phase_of(S::decoding), ftdr::sdk::Phase::decoding);
  EXPECT_FALSE(phase_of(S::idle).has_value());
  EXPECT_FALSE(phase_of(S::retry_pending).has_value());
  EXPECT_TRUE(is_terminal(S::completed) && is_terminal(S::failed) && is_terminal(S::cancelled));
  EXPECT_FALSE(is_terminal(S::retry_pending));
}

TEST(StateMachine, RecordsEveryTransitionWithTime) {
  StateMachine sm(3);
  ASSERT_EQ(sm.history().size(), 1u);
  EXPECT_EQ(sm.history()[0].state, S::idle);
  for (S s : {S::initializing, S::encoding_prompt, S::diffusion_running, S::decoding, S::completed}) {
    sm.transition(s);
  }
  std::vector<S> seen;
  for (const auto& st : sm.history()) seen.push_back(st.state);
  EXPECT_EQ(seen, (std::vector<S>{S::idle, S::initializing, S::encoding_prompt, S::diffusion_running,
                                  S::decoding, S::completed}));
  for (std::size_t i = 1; i < sm.history().size(); ++i) {
    EXPECT_GE(sm.history()[i].steady, sm.history()[i - 1].steady);
  }
}

TEST(StateMachine, RejectsEveryIllegalTransitionAndKeepsItsState) {
  int rejected = 0;
  for (S from : all_states()) {
    for (S to : all_states()) {
      if (is_legal_transition(from, to)) continue;
      // Drive a fresh machine to `from` along legal edges, then try the illegal one.
      StateMachine sm(9);
      const std::vector<S> path = [&]() -> std::vector<S> {
        switch (from) {
          case S::idle: return {};
          case S::initializing: return {S::initializing};
          case S::encoding_prompt: return {S::initializing, S::encoding_prompt};
          case S::diffusion_running: return {S::initializing, S::diffusion_running};
          case S::decoding: return {S::initializing, S::decoding};
          case S::completed: return {S::initializing, S::decoding, S::completed};
          case S::failed: return {S::initializing, S::failed};
          case S::retry_pending: return {S::initializing, S::retry_pending};
          case S::cancelled: return {S::cancelled};
        }
        return {};
      }();
      for (S s : path) sm.transition(s);
      ASSERT_EQ(sm.state(), from);
      const auto before = sm.history().size();
      try {
        sm.transition(to);
        ADD_FAILURE() << "accepted " << to_string(from) << " -> " << to_string(to);
      } catch (const ftdr::sdk::Error& e) {
        EXPECT_EQ(e.kind(), ftdr::sdk::ErrorKind::internal);
        EXPECT_NE(
            std::string(e.what()).find(std::string(to_string(from)) + " -> " + std::string(to_string(to))),
            std::string::npos)
            << e.what();
      }
      EXPECT_EQ(sm.state(), from);
      EXPECT_EQ(sm.history().size(), before);
      ++rejected;
    }
  }
  EXPECT_EQ(rejected, kExecutionStateCount * kExecutionStateCount - 24);
}
