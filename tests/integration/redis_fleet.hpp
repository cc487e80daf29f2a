// tests/integration/redis_fleet.hpp: the pieces of a fleet around one Redis for the end-to-end tests
// (serve_redis_fleet_test.cpp: a shared folder; serve_redis_blobs_test.cpp: files in the queue).
//
//   ServeProcess server(dir, fleet_config(dir, o) + "[queue]\nplugin = \"redis\"\n...");
//   WorkerProcess worker(dir / "serve.toml", dir / "worker0.log");   // `ftdr worker --config`
//   worker.kill(); worker.start();
#pragma once
#include <filesystem>
#include <string>

#include "integration/serve_demo.hpp"
#include "integration/worker_process.hpp"

namespace ftdr::test {

// One intra-op thread everywhere: the measured split (threads = 0) is per state folder, and the
// split changes the pixels.
inline std::string fleet_config(const std::filesystem::path& dir, const DemoOptions& o) {
  std::string text = demo_config(dir, o);
  const std::string device = "device = \"cpu\"\n";
  return text.replace(text.find(device), device.size(), device + "threads = 1\n");
}

}  // namespace ftdr::test
