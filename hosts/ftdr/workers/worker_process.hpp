// hosts/ftdr/workers/worker_process.hpp: starting an `ftdr worker` process and saying how one ended.
//
//   pid_t pid = spawn_worker({"/proc/self/exe", "worker", "--config", file, "--connect", socket},
//                            {{"FTDR_FAULT_COUNTS", counts_file}});
//   ... waitpid(pid, &status, WNOHANG) ...
//   std::string why = describe_exit(status);   // "killed by signal 6 (SIGABRT)", "exited with code 2"
#pragma once
#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

namespace ftdr::host::workers {

// Set in the environment of the workers `ftdr serve` starts: the worker then dies with its server
// (PR_SET_PDEATHSIG), so no orphan keeps a device busy after the server was killed.
inline constexpr const char* kSupervisedEnv = "FTDR_WORKER_SUPERVISED";

// posix_spawn (safe in a threaded process) with an empty signal mask (the server blocks SIGINT and
// SIGTERM in every thread) and its own process group (a Ctrl-C at the terminal reaches the server,
// which then drains or cancels, not the workers directly). `env` is added to this process's
// environment. Throws std::runtime_error when the process cannot be started.
pid_t spawn_worker(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env);

// A waitpid status in words.
std::string describe_exit(int status);

// In the worker: when started by a server (kSupervisedEnv), die with it.
void die_with_parent_if_supervised();

}  // namespace ftdr::host::workers
