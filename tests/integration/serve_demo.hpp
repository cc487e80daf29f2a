// tests/integration/serve_demo.hpp: `ftdr serve` on the real libtorch plugin and the embedded demo
// model (models/ftdr-shapes), for the tests that need real diffusion (ServeProcess runs it).
//
//   if (!demo_plugin_built()) GTEST_SKIP() << ...;
//   DemoOptions o; o.size = 16; o.steps = 4;
//   ServeProcess server(dir, demo_config(dir, o));
#pragma once
#include <filesystem>
#include <string>

namespace ftdr::test {

inline std::filesystem::path demo_plugin() {
  return std::filesystem::path(FTDR_PLUGIN_BUILD_DIR) / "ftdr_plugin_libtorch.so";
}
inline bool demo_plugin_built() { return std::filesystem::exists(demo_plugin()); }

struct DemoOptions {
  int size = 64;                   // [generate] width and height
  int steps = 20;                  // [generate] steps (DDIM)
  std::string shutdown = "drain";  // [runtime] shutdown
  int queue_capacity = 64;         // [runtime] queue_capacity
};

// A checkpoint after every step, so a job stopped anywhere in diffusion resumes where it was.
inline std::string demo_config(const std::filesystem::path& dir, const DemoOptions& o = {}) {
  return "[runtime]\nstate_dir = \"" + (dir / "state").string() + "\"\noutput_dir = \"" +
         (dir / "out").string() + "\"\nshutdown = \"" + o.shutdown +
         "\"\nqueue_capacity = " + std::to_string(o.queue_capacity) + "\n[plugins]\nsearch_path = [\"" +
         FTDR_PLUGIN_BUILD_DIR + "\"]\n[model]\npath = \"" + FTDR_SOURCE_DIR +
         "/models/ftdr-shapes\"\n[backend]\nplugin = \"libtorch\"\n[backend.libtorch]\n"
         "device = \"cpu\"\n[memory]\npolicy = \"resident\"\n[checkpoint]\nevery_steps = 1\n[server]\n"
         "listen = \"127.0.0.1:0\"\n[generate]\nwidth = " +
         std::to_string(o.size) + "\nheight = " + std::to_string(o.size) +
         "\nsteps = " + std::to_string(o.steps) + "\nsampler = \"ddim\"\n";
}

}  // namespace ftdr::test
