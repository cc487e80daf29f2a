// ftdr/framework/exit_codes.hpp: the process exit codes of every FTDR host (the `ftdr` CLI).
//
// Scripts depend on these numbers: never renumber, only add.
//   0 ok                 the command did what was asked
//   1 internal error     a bug or an unexpected failure inside FTDR
//   2 bad usage/config   a bad flag, a bad config file, a plugin that cannot be loaded
//   3 job failed         the job ran and failed (after recovery gave up)
//   4 cancelled          the job was cancelled or the process interrupted (SIGINT/SIGTERM)
#pragma once

namespace ftdr::framework {

enum ExitCode : int {
  kExitOk = 0,
  kExitInternal = 1,
  kExitUsage = 2,
  kExitJobFailed = 3,
  kExitCancelled = 4,
};

// The table above as text, for `ftdr --help`.
inline const char* exit_code_help() {
  return "Exit codes:\n"
         "  0  ok\n"
         "  1  internal error\n"
         "  2  bad usage, bad config or a plugin that cannot be loaded\n"
         "  3  job failed\n"
         "  4  cancelled or interrupted\n";
}

}  // namespace ftdr::framework
