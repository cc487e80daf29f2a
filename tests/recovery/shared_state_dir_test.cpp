// Real `ftdr generate` processes and the state folder: two processes sharing one keep their own
// checkpoints (each makes its own picture), and a state folder that is the user's own folder ("."
// beside the images) loses nothing: FTDR removes only the job folders it created.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>

#include "integration/cli_runner.hpp"
#include "recovery/recovery_rig.hpp"

namespace ftdr::test {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

// One intra-op thread: with threads = 0 each state folder measures its own split, and the split
// changes the pixels, so on a busy machine the processes alone (their own folders) and together
// (one folder) could pick different splits and make different, equally right, images.
std::string config(const std::string& state, const std::string& out, const fs::path& model,
                   const std::string& extra) {
  return "[runtime]\nstate_dir = \"" + state + "\"\noutput_dir = \"" + out +
         "\"\n[plugins]\nsearch_path = [\"" + std::string(FTDR_PLUGIN_BUILD_DIR) + "\"]\n[model]\npath = \"" +
         model.string() +
         "\"\n[backend]\nplugin = \"libtorch\"\n[backend.libtorch]\ndevice = \"cpu\"\nthreads = "
         "1\n[memory]\npolicy = "
         "\"sequential\"\n[checkpoint]\nevery_steps = 2\n[generate]\nwidth = 64\nheight = 64\nsteps = 6\ncfg "
         "= 2\n"
         "seed = 3\n" +
         extra;
}

std::vector<std::string> generate(const fs::path& config_file, const std::string& prompt,
                                  const std::string& prefix) {
  return {"generate", "--config", config_file.string(), "--prompt", prompt, "--prefix", prefix};
}

// Waits (up to a minute) until some checkpoint file exists under `dir`.
bool checkpoint_appears(const fs::path& dir) {
  for (int i = 0; i < 6000; ++i) {
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec))
      if (it->path().extension() == ".ckpt") return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

// Process A fails with an OOM at step 4 after its step-2 checkpoint and waits 3 s to retry; B, with
// another prompt, starts once A's checkpoint exists and writes its own step-2 checkpoint, then sits
// before step 3 while A resumes. Job ids counted from 1 in each process put both checkpoints at
// <state>/1/latents_i0_step2.ckpt, and A finished with B's picture; now each has its own folder.
TEST(SharedStateDir, TwoProcessesEachMakeTheirOwnImage) {
  FTDR_REQUIRE_TINY_SD1(model);
  const fs::path dir = fresh_test_dir();
  const std::string retry_later =
      "[recovery.progressive]\nbackoff_initial_ms = 3000\nbackoff_max_ms = 3000\njitter = 0\n";
  const std::map<std::string, std::string> oom{{"FTDR_FAULTS", "oom=diffusion:step=4"}};
  const std::map<std::string, std::string> slow{{"FTDR_FAULTS", "slow_step=diffusion:step=3:ms=6000"}};
  // Each request alone first, on a state folder of its own: the images to match.
  write_file(dir / "alone-a.toml",
             config((dir / "alone-a").string(), (dir / "out").string(), model, retry_later));
  write_file(dir / "alone-b.toml", config((dir / "alone-b").string(), (dir / "out").string(), model, ""));
  ASSERT_EQ(run_ftdr(generate(dir / "alone-a.toml", "a red square", "a"), oom, dir).exit_code, 0);
  ASSERT_EQ(run_ftdr(generate(dir / "alone-b.toml", "a blue circle", "b"), {}, dir).exit_code, 0);
  fs::rename(dir / "out" / "a-0.png", dir / "alone-a.png");
  fs::rename(dir / "out" / "b-0.png", dir / "alone-b.png");

  write_file(dir / "a.toml", config((dir / "state").string(), (dir / "out").string(), model, retry_later));
  write_file(dir / "b.toml", config((dir / "state").string(), (dir / "out").string(), model, ""));
  CliProcess a(generate(dir / "a.toml", "a red square", "a"), oom, dir);
  ASSERT_TRUE(checkpoint_appears(dir / "state")) << a.err_so_far();
  CliProcess b(generate(dir / "b.toml", "a blue circle", "b"), slow, dir);
  const CliResult ra = a.wait();
  const CliResult rb = b.wait();
  ASSERT_EQ(ra.exit_code, 0) << ra.err;
  ASSERT_EQ(rb.exit_code, 0) << rb.err;
  EXPECT_THAT(ra.err, HasSubstr("injected oom at diffusion step 4"));
  EXPECT_EQ(file_bytes(dir / "out" / "a-0.png"), file_bytes(dir / "alone-a.png")) << "A's picture is not A's";
  EXPECT_EQ(file_bytes(dir / "out" / "b-0.png"), file_bytes(dir / "alone-b.png")) << "B's picture is not B's";
  EXPECT_TRUE(fs::is_empty(dir / "state" / "jobs")) << "each process removed its own job folder";
}

// state_dir = output_dir = "." in a folder that holds a folder named like a job id (and one named
// jobs/1): after the job, every file of the user's is still there.
TEST(SharedStateDir, StateDirThatIsTheUsersFolderLosesNothing) {
  FTDR_REQUIRE_TINY_SD1(model);
  const fs::path dir = fresh_test_dir();
  const fs::path home = dir / "home";
  const std::vector<fs::path> users = {home / "1" / "photo.png", home / "2" / "notes.txt",
                                       home / "jobs" / "1" / "keep.txt", home / "readme.txt"};
  for (const auto& f : users) {
    fs::create_directories(f.parent_path());
    write_file(f, "the user's " + f.filename().string());
  }
  write_file(dir / "ftdr.toml", config(".", ".", model, fast_recovery()));
  // From inside the user's folder, as `cd home && ftdr generate ...` would run it.
  const std::string command = "cd '" + home.string() + "' && exec '" + std::string(FTDR_FTDR_EXE) +
                              "' generate --config '" + (dir / "ftdr.toml").string() +
                              "' --prompt 'a red square' --prefix x";
  const CliResult r =
      CliProcess({"-c", command}, {{"FTDR_FAULTS", "device_error=diffusion:step=4"}}, dir, "/bin/sh").wait();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("injected device_error at diffusion step 4"));
  EXPECT_TRUE(fs::is_regular_file(home / "x-0.png"));
  for (const auto& f : users) EXPECT_EQ(file_bytes(f), "the user's " + f.filename().string()) << f;
  std::vector<std::string> in_jobs;
  for (const auto& e : fs::directory_iterator(home / "jobs")) in_jobs.push_back(e.path().filename().string());
  EXPECT_EQ(in_jobs, std::vector<std::string>{"1"}) << "only the user's folder is left in jobs/";
}

}  // namespace
}  // namespace ftdr::test
