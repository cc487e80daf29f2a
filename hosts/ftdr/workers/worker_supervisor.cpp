// The worker pool's processes: the socket they connect to, their hello, starting, watching and
// restarting them (see worker_pool.hpp).
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "ftdr/framework/logging.hpp"
#include "ftdr/framework/workers/worker_protocol.hpp"
#include "worker_pool_parts.hpp"
#include "worker_process.hpp"

namespace ftdr::host::workers {

namespace fs = std::filesystem;
namespace fw = ftdr::framework;
namespace asio = boost::asio;
using nlohmann::json;
using Protocol = asio::local::stream_protocol;

const char* slot_state_name(int state) {
  static const char* names[] = {"starting", "loading", "idle", "busy", "restarting", "stopped"};
  return names[state];
}

namespace {

std::string seconds_text(std::chrono::milliseconds ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g s", static_cast<double>(ms.count()) / 1000);
  return buf;
}

}  // namespace

void WorkerPool::start() {
  std::error_code ec;
  fs::create_directories(settings_.state_dir, ec);
  fs::remove(socket_path_, ec);  // a server killed before it could remove its socket left it
  fs::remove(settings_.state_dir / "worker-fault-counts", ec);  // fault firings count per server run
  io_ = std::make_shared<asio::io_context>();
  acceptor_ = std::make_unique<Protocol::acceptor>(*io_);
  boost::system::error_code bec;
  acceptor_->open(Protocol(), bec);
  if (!bec) acceptor_->bind(Protocol::endpoint(socket_path_), bec);
  if (!bec) acceptor_->listen(asio::socket_base::max_listen_connections, bec);
  if (bec)
    throw sdk::Error(sdk::ErrorKind::invalid_request,
                     "[workers]: cannot listen on " + socket_path_ + ": " + bec.message());
  fs::permissions(socket_path_, fs::perms::owner_all, ec);  // the server's user alone may connect
  accept_thread_ = std::thread(&WorkerPool::accept_loop, this);
  monitor_thread_ = std::thread(&WorkerPool::monitor_loop, this);
}

void WorkerPool::accept_loop() {
  for (;;) {
    Protocol::socket socket(*io_);
    boost::system::error_code ec;
    acceptor_->accept(socket, ec);
    std::lock_guard<std::mutex> lock(mutex_);
    if (shut_down_) return;
    if (ec) continue;
    auto channel = std::make_shared<fw::FrameChannel>(io_, std::move(socket));
    connections_.push_back(channel);
    readers_.emplace_back(&WorkerPool::read_loop, this, channel);
  }
}

// hello → welcome, or refused. The worker's slot: the one its pid was started in, else a new
// unsupervised one (a worker started by hand).
WorkerPool::Slot* WorkerPool::greet(const std::shared_ptr<fw::FrameChannel>& channel) {
  std::optional<json> hello;
  try {
    hello = channel->receive();
  } catch (const fw::FrameError& e) {
    fw::host_logger()->error("workers: a connection sent a bad first frame: {}; closing it", e.what());
  }
  if (!hello) return nullptr;
  std::optional<std::string> refusal;
  if ((*hello)["type"] != "hello")
    refusal = "the first message must be \"hello\"";
  else
    refusal = fw::protocol_mismatch(*hello, "worker");
  const pid_t pid = hello->value("pid", 0);
  if (refusal) {
    fw::host_logger()->error("workers: refusing the worker with pid {}: {}", pid, *refusal);
    channel->send({{"type", "refused"}, {"message", *refusal}});
    return nullptr;
  }
  std::lock_guard<std::mutex> lock(mutex_);
  Slot* slot = nullptr;
  for (auto& s : slots_)
    if (s->supervised && s->pid == pid && s->state == SlotState::starting) slot = s.get();
  if (!slot) {
    slots_.push_back(std::make_unique<Slot>());
    slot = slots_.back().get();
    slot->index = static_cast<int>(slots_.size()) - 1;
    slot->supervised = false;
    slot->pid = pid;
    fw::host_logger()->info("workers: worker {} (pid {}) joined by itself; it is not restarted", slot->index,
                            pid);
  }
  slot->channel = channel;
  slot->state = SlotState::loading;
  slot->last_frame = Clock::now();
  const auto heartbeat = std::clamp<std::int64_t>(settings_.step_timeout.count() / 4, 10, 1000);
  channel->send(
      {{"type", "welcome"}, {"protocol", fw::protocol_version_json()}, {"heartbeat_ms", heartbeat}});
  return slot;
}

void WorkerPool::read_loop(std::shared_ptr<fw::FrameChannel> channel) {
  Slot* slot = greet(channel);
  if (!slot) return channel->close();
  for (bool done = false; !done;) {
    std::optional<json> message;
    std::string broken;
    try {
      message = channel->receive();
    } catch (const fw::FrameError& e) {
      broken = e.what();
    }
    Events events;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      const bool current = slot->channel == channel;  // else: a process the supervisor already replaced
      done = !message || !current;
      if (current && !message) connection_ended(*slot, broken, events);
      if (current && message) {
        slot->last_frame = Clock::now();
        handle(*slot, *message, events);
      }
    }
    run_events(events);
  }
  channel->close();
}

// A supervised worker's end is seen by reap() (waitpid); one that sent garbage is killed first. One
// started by hand is gone once its connection is.
void WorkerPool::connection_ended(Slot& slot, const std::string& broken, Events& events) {
  if (!broken.empty())
    fw::host_logger()->error("workers: worker {} (pid {}): {}; closing the connection", slot.index, slot.pid,
                             broken);
  const std::string detail = broken.empty() ? "closed its connection" : "sent a bad frame (" + broken + ")";
  if (!slot.supervised) {
    worker_gone(slot, slot.kill_cause.empty() ? "crash" : slot.kill_cause,
                slot.kill_detail.empty() ? detail : slot.kill_detail, events);
  } else if (!broken.empty() && slot.pid > 0 && slot.kill_cause.empty()) {
    slot.kill_cause = "crash";
    slot.kill_detail = detail;
    ::kill(slot.pid, SIGKILL);
  }
}

void WorkerPool::handle(Slot& slot, const json& message, Events& events) {
  try {
    if (message["type"] != "ready") return on_job_message(slot, message, events);
    if (!model_)
      model_ = WorkerModel{fw::model_info_from_json(message.at("model")),
                           message.value("samplers", std::vector<std::string>{}),
                           message.value("plugins", json::array())};
    slot.state = SlotState::idle;
    slot.was_ready = true;
    changed_.notify_all();
    dispatch();
  } catch (const std::exception& e) {
    fw::host_logger()->error("workers: worker {} (pid {}): {}", slot.index, slot.pid, e.what());
  }
}

void WorkerPool::spawn(Slot& slot) {
  std::vector<std::string> argv{settings_.exe.string(), "worker"};
  argv.insert(argv.end(), settings_.worker_args.begin(), settings_.worker_args.end());
  argv.insert(argv.end(), {"--connect", socket_path_});
  slot.kill_cause.clear();
  slot.kill_detail.clear();
  slot.channel.reset();
  slot.started = slot.last_frame = Clock::now();
  try {
    slot.pid =
        spawn_worker(argv, {{kSupervisedEnv, std::to_string(::getpid())},
                            {"FTDR_FAULT_COUNTS", (settings_.state_dir / "worker-fault-counts").string()}});
    slot.state = SlotState::starting;
  } catch (const std::exception& e) {
    fw::host_logger()->error("workers: worker {}: {}", slot.index, e.what());
    slot.pid = 0;
    slot.state = SlotState::restarting;
    slot.restart_at = Clock::now() + backoff_for(slot.crashes_in_row++);
  }
}

std::chrono::milliseconds WorkerPool::backoff_for(int crashes_in_row) const {
  auto delay = settings_.backoff;
  for (int i = 0; i < crashes_in_row && delay < settings_.backoff_max; ++i) delay *= 2;
  return std::min(delay, settings_.backoff_max);
}

// The supervisor's thread: it starts the workers (PR_SET_PDEATHSIG follows the thread that
// started a process, so every worker is started here), reaps them, enforces step_timeout and
// restarts them when their backoff has passed.
void WorkerPool::monitor_loop() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (int i = 0; i < settings_.count; ++i) {
    slots_.push_back(std::make_unique<Slot>());
    slots_.back()->index = i;
    spawn(*slots_.back());
  }
  while (!shut_down_) {
    Events events;
    reap(events);
    check_timeouts();
    for (auto& slot : slots_)
      if (slot->state == SlotState::restarting && Clock::now() >= slot->restart_at && !stopping_)
        spawn(*slot);
    if (!events.empty()) {
      lock.unlock();
      run_events(events);
      lock.lock();
    }
    changed_.wait_for(lock, std::chrono::milliseconds(20));
  }
}

void WorkerPool::reap(Events& events) {
  for (auto& slot : slots_) {
    if (!slot->supervised || slot->pid <= 0) continue;
    int status = 0;
    if (::waitpid(slot->pid, &status, WNOHANG) != slot->pid) continue;
    const std::string how = describe_exit(status);
    if (slot->channel) slot->channel->close();
    if (stopping_) {
      fw::host_logger()->info("workers: worker {} (pid {}) {}", slot->index, slot->pid, how);
      slot->state = SlotState::stopped;
      slot->pid = 0;
      changed_.notify_all();
      continue;
    }
    const std::string cause = slot->kill_cause.empty() ? "crash" : slot->kill_cause;
    const std::string detail =
        slot->kill_detail.empty()
            ? how
            : slot->kill_detail + " and was " + (how.rfind("killed", 0) == 0 ? how : "stopped: " + how);
    worker_gone(*slot, cause, detail, events);
  }
}

// A worker ended: its job goes back to the queue (or fails), and a supervised one restarts after
// its backoff, unless no worker ever loaded the model (then the server cannot start: wait_ready).
void WorkerPool::worker_gone(Slot& slot, const std::string& cause, const std::string& detail,
                             Events& events) {
  const pid_t pid = slot.pid;
  if (slot.job != 0) requeue_or_fail(*jobs_.at(slot.job), slot, cause, detail, events);
  slot.job = 0;
  slot.pid = 0;
  if (!slot.supervised || (!slot.was_ready && !model_)) {
    slot.state = SlotState::stopped;
    fw::host_logger()->error("workers: worker {} (pid {}) {}", slot.index, pid, detail);
    bool any_left = false;
    for (const auto& s : slots_) any_left = any_left || (s->supervised && s->state != SlotState::stopped);
    if (!model_ && !any_left)
      start_failure_ = "no worker loaded the model: worker " + std::to_string(slot.index) + " (pid " +
                       std::to_string(pid) + ") " + detail + " (its own error is printed above)";
    changed_.notify_all();
    return dispatch();
  }
  const auto delay = backoff_for(slot.crashes_in_row++);
  ++slot.restarts;
  ++restarts_by_cause_[cause];
  slot.state = SlotState::restarting;
  slot.restart_at = Clock::now() + delay;
  fw::host_logger()->warn("workers: worker {} (pid {}) {} [{}]; restarting it in {} ms", slot.index, pid,
                          detail, cause, delay.count());
  dispatch();
}

void WorkerPool::check_timeouts() {
  const auto now = Clock::now();
  const auto limit = settings_.step_timeout;
  for (auto& slot : slots_) {
    if (slot->pid <= 0 || !slot->kill_cause.empty() || slot->state == SlotState::stopped) continue;
    std::string detail;
    if (slot->state == SlotState::busy && now - slot->last_progress > limit)
      detail = "made no progress on its job for " + seconds_text(limit) + " ([workers] step_timeout_s)";
    else if (now - slot->last_frame > limit)
      detail = std::string(slot->channel ? "sent no heartbeat" : "did not connect") + " for " +
               seconds_text(limit) + " ([workers] step_timeout_s)";
    if (detail.empty()) continue;
    slot->kill_cause = "hang";
    slot->kill_detail = detail;
    if (slot->supervised)
      ::kill(slot->pid, SIGKILL);
    else if (slot->channel)
      slot->channel->close();  // its pid is only what it said: never signalled; its reader ends it
  }
}

void WorkerPool::stop_workers() {
  std::unique_lock<std::mutex> lock(mutex_);
  if (stopping_ || !monitor_thread_.joinable()) return;
  stopping_ = true;
  for (auto& slot : slots_)
    if (slot->channel) slot->channel->send({{"type", "stop"}});
  auto running = [this] {
    for (const auto& s : slots_)
      if (s->supervised && s->pid > 0) return true;
    return false;
  };
  if (!changed_.wait_for(lock, std::chrono::seconds(10), [&] { return !running(); }))
    for (auto& slot : slots_)
      if (slot->supervised && slot->pid > 0) ::kill(slot->pid, SIGKILL);
  changed_.wait(lock, [&] { return !running(); });
  shut_down_ = true;
  for (auto& weak : connections_)  // also one that never said hello: its reader waits for it
    if (auto channel = weak.lock()) channel->close();
  ::shutdown(acceptor_->native_handle(), SHUT_RDWR);  // wakes accept()
  lock.unlock();
  changed_.notify_all();
  monitor_thread_.join();
  accept_thread_.join();
  for (auto& reader : readers_) reader.join();
  std::error_code ec;
  fs::remove(socket_path_, ec);
}

json WorkerPool::workers_json() const {
  std::lock_guard<std::mutex> lock(mutex_);
  json out = json::array();
  for (const auto& s : slots_)
    out.push_back({{"slot", s->index},
                   {"pid", s->pid > 0 ? json(s->pid) : json()},
                   {"state", slot_state_name(static_cast<int>(s->state))},
                   {"job", s->job ? json(s->job) : json()},
                   {"restarts", s->restarts},
                   {"supervised", s->supervised}});
  return out;
}

std::string WorkerPool::metrics_text() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::string out =
      "# HELP ftdr_worker_restarts_total worker processes restarted, by cause (crash, hang, sticky)\n"
      "# TYPE ftdr_worker_restarts_total counter\n";
  std::map<std::string, std::uint64_t> by_cause{{"crash", 0}, {"hang", 0}, {"sticky", 0}};
  for (const auto& [cause, n] : restarts_by_cause_) by_cause[cause] = n;
  for (const auto& [cause, n] : by_cause)
    out += "ftdr_worker_restarts_total{cause=\"" + cause + "\"} " + std::to_string(n) + "\n";
  out += "# HELP ftdr_workers worker processes by state\n# TYPE ftdr_workers gauge\n";
  std::map<std::string, int> by_state;
  for (int st = 0; st <= static_cast<int>(SlotState::stopped); ++st) by_state[slot_state_name(st)] = 0;
  for (const auto& s : slots_) ++by_state[slot_state_name(static_cast<int>(s->state))];
  for (const auto& [state, n] : by_state)
    out += "ftdr_workers{state=\"" + state + "\"} " + std::to_string(n) + "\n";
  return out;
}

}  // namespace ftdr::host::workers
