// hosts/ftdr/serve/continuations.hpp: one thread that runs posted steps in order, for work that
// continues a request after something it waited for (a journal commit, a job's end) happened on a
// thread that must not be held or may hold a lock.
//
//   Continuations steps;
//   steps.post([] { ... });  // runs soon, on the steps' thread
//   // the destructor runs every step still queued (and those they post), then ends the thread
#pragma once
#include <exception>
#include <functional>

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>

#include "ftdr/framework/logging.hpp"

namespace ftdr::host::serve {

class Continuations {
 public:
  Continuations() = default;
  ~Continuations() { pool_.join(); }
  Continuations(const Continuations&) = delete;
  Continuations& operator=(const Continuations&) = delete;

  // A step that throws is logged: an exception must not end the thread the other steps need.
  void post(std::function<void()> step) {
    boost::asio::post(pool_, [step = std::move(step)] {
      try {
        step();
      } catch (const std::exception& e) {
        framework::host_logger()->error("serve: {}", e.what());
      }
    });
  }

 private:
  boost::asio::thread_pool pool_{1};
};

}  // namespace ftdr::host::serve
