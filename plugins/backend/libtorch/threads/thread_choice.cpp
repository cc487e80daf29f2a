// threads/thread_choice.cpp: see thread_choice.hpp.
#include "threads/thread_choice.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <tuple>

namespace ftdr::torchbe {
namespace {

struct Scored {
  ThreadSplit split;
  double fastest = 0;  // its fastest round
  double spread = 0;   // (max - min) / median
};

std::vector<double> usable_sorted(const SplitTiming& t) {
  std::vector<double> s;
  for (double x : t.seconds)
    if (std::isfinite(x) && x > 0) s.push_back(x);
  std::sort(s.begin(), s.end());
  return s;
}

std::optional<Scored> score(const SplitTiming& t) {
  const std::vector<double> s = usable_sorted(t);
  const auto median = median_seconds(t);
  if (!median) return std::nullopt;
  return Scored{t.split, s.front(), (s.back() - s.front()) / *median};
}

// Fewer threads first: intra-op + BLAS (an unchanged BLAS counts as one), then more intra-op ones.
bool fewer_threads(const ThreadSplit& a, const ThreadSplit& b) {
  auto total = [](const ThreadSplit& s) { return s.intra_op + std::max(s.blas, 1); };
  return std::make_tuple(total(a), -a.intra_op, a.blas) < std::make_tuple(total(b), -b.intra_op, b.blas);
}

std::string ms(double seconds) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f ms", seconds * 1e3);
  return text;
}

bool is_candidate(const ThreadSplit& split, int cores, bool blas_settable) {
  const auto all = candidate_splits(cores, blas_settable);
  return std::find(all.begin(), all.end(), split) != all.end();
}

nlohmann::json split_json(const ThreadSplit& s) { return {{"intra_op", s.intra_op}, {"blas", s.blas}}; }

ThreadSplit split_from(const nlohmann::json& j) {
  return {j.at("intra_op").get<int>(), j.at("blas").get<int>()};
}

ThreadCacheEntry entry_from(const nlohmann::json& j) {
  ThreadCacheEntry e;
  const auto& m = j.at("machine");
  e.machine = {m.at("cpu_model").get<std::string>(), m.at("cores").get<int>(),
               m.at("libtorch").get<std::string>(), m.at("blas").get<std::string>()};
  e.workload = j.at("workload").get<std::string>();
  e.split = split_from(j.at("split"));
  for (const auto& t : j.at("timings"))
    e.timings.push_back({split_from(t.at("split")), t.at("seconds").get<std::vector<double>>()});
  return e;
}

// The winner among `scored`: the fastest best round, a split with BLAS > 1 counted (1 + blas_penalty)
// times its time; those within tie_tolerance of the fastest tie, and the fewest threads win.
struct Pick {
  const Scored* winner = nullptr;
  int ties = 0;
  double fastest = 0;  // the fastest counted time
};

Pick pick_split(const std::vector<Scored>& scored, double tie_tolerance, double blas_penalty) {
  auto counted = [&](const Scored& s) { return s.fastest * (s.split.blas > 1 ? 1 + blas_penalty : 1.0); };
  Pick p;
  p.fastest = counted(*std::min_element(scored.begin(), scored.end(), [&](const Scored& a, const Scored& b) {
    return counted(a) < counted(b);
  }));
  for (const auto& s : scored) {
    if (counted(s) > p.fastest * (1 + tie_tolerance)) continue;
    ++p.ties;
    if (p.winner == nullptr || fewer_threads(s.split, p.winner->split)) p.winner = &s;
  }
  return p;
}

}  // namespace

std::optional<double> median_seconds(const SplitTiming& timing) {
  const std::vector<double> s = usable_sorted(timing);
  const std::size_t n = s.size();
  if (n == 0) return std::nullopt;
  return n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
}

std::optional<double> fastest_seconds(const SplitTiming& timing) {
  const std::vector<double> s = usable_sorted(timing);
  if (s.empty()) return std::nullopt;
  return s.front();
}

std::string to_string(const ThreadSplit& split) {
  return std::to_string(split.intra_op) + " intra-op / " +
         (split.blas > 0 ? std::to_string(split.blas) + " BLAS" : std::string("BLAS unchanged"));
}

std::vector<ThreadSplit> candidate_splits(int cores, bool blas_settable) {
  cores = std::max(cores, 1);
  std::vector<int> intra{1, cores / 2, cores};
  intra.erase(std::remove(intra.begin(), intra.end(), 0), intra.end());
  std::sort(intra.begin(), intra.end());
  intra.erase(std::unique(intra.begin(), intra.end()), intra.end());
  std::vector<ThreadSplit> out;
  for (int i : intra) {
    std::vector<int> blas = blas_settable ? std::vector<int>{1, i, cores} : std::vector<int>{0};
    std::sort(blas.begin(), blas.end());
    blas.erase(std::unique(blas.begin(), blas.end()), blas.end());
    for (int b : blas) out.push_back({i, b});
  }
  return out;
}

std::vector<bool> worth_more_rounds(const std::vector<SplitTiming>& first_round, double factor) {
  std::vector<std::optional<double>> firsts;
  std::optional<double> fastest;
  for (const auto& t : first_round) {
    firsts.push_back(median_seconds(t));
    if (firsts.back() && (!fastest || *firsts.back() < *fastest)) fastest = firsts.back();
  }
  std::vector<bool> out;
  for (const auto& f : firsts) out.push_back(f && *f <= *fastest * factor);
  return out;
}

std::optional<ThreadDecision> choose_split(const std::vector<SplitTiming>& timings, double tie_tolerance,
                                           double max_spread, double blas_penalty) {
  std::vector<Scored> scored;
  for (const auto& t : timings)
    if (auto s = score(t)) scored.push_back(*s);
  if (scored.empty()) return std::nullopt;
  const Pick pick = pick_split(scored, tie_tolerance, blas_penalty);
  const Scored& winner = *pick.winner;
  ThreadDecision d;
  d.split = winner.split;
  d.reliable =
      std::all_of(scored.begin(), scored.end(), [&](const Scored& s) { return s.spread <= max_spread; });
  d.reason = to_string(winner.split) + ": " + ms(winner.fastest) + " per round at best";
  if (pick.ties > 1)
    d.reason += " (" + std::to_string(pick.ties) + " splits within " +
                std::to_string(std::lround(tie_tolerance * 100)) + "% of the fastest, " + ms(pick.fastest) +
                ": the fewest threads win)";
  const Scored& unpenalised = *pick_split(scored, tie_tolerance, 0).winner;
  if (unpenalised.split != winner.split)
    d.reason += "; " + to_string(unpenalised.split) + " (" + ms(unpenalised.fastest) + ") counted " +
                std::to_string(std::lround(blas_penalty * 100)) + "% slower for its multi-threaded BLAS";
  if (!d.reliable) d.reason += "; noisy timings";
  return d;
}

ThreadCache ThreadCache::from_json(const nlohmann::json& doc) {
  ThreadCache cache;
  try {
    if (!doc.is_object() || doc.value("format", 0) != kFormat) return cache;
    for (const auto& j : doc.at("entries")) {
      if (cache.entries_.size() >= kMaxCacheEntries) break;
      cache.entries_.push_back(entry_from(j));
    }
  } catch (const nlohmann::json::exception&) {
    cache.entries_.clear();  // a damaged file: measure again and rewrite it
  }
  return cache;
}

nlohmann::json ThreadCache::to_json() const {
  nlohmann::json entries = nlohmann::json::array();
  for (const auto& e : entries_) {
    nlohmann::json timings = nlohmann::json::array();
    for (const auto& t : e.timings)
      timings.push_back({{"split", split_json(t.split)}, {"seconds", t.seconds}});
    entries.push_back({{"machine",
                        {{"cpu_model", e.machine.cpu_model},
                         {"cores", e.machine.cores},
                         {"libtorch", e.machine.libtorch},
                         {"blas", e.machine.blas}}},
                       {"workload", e.workload},
                       {"split", split_json(e.split)},
                       {"timings", timings}});
  }
  return {{"format", kFormat}, {"entries", entries}};
}

std::optional<ThreadCacheEntry> ThreadCache::find(const MachineKey& machine, const std::string& workload,
                                                  bool blas_settable) const {
  for (const auto& e : entries_) {
    if (!(e.machine == machine) || e.workload != workload) continue;
    if (!is_candidate(e.split, machine.cores, blas_settable)) return std::nullopt;
    return e;
  }
  return std::nullopt;
}

void ThreadCache::put(ThreadCacheEntry entry) {
  entries_.erase(std::remove_if(entries_.begin(), entries_.end(),
                                [&](const ThreadCacheEntry& e) {
                                  return e.machine == entry.machine && e.workload == entry.workload;
                                }),
                 entries_.end());
  entries_.insert(entries_.begin(), std::move(entry));
  if (entries_.size() > kMaxCacheEntries) entries_.resize(kMaxCacheEntries);
}

}  // namespace ftdr::torchbe
