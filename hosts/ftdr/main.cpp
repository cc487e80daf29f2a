// ftdr: the command-line host. Dispatches to one subcommand per file (commands.hpp).
#include <iostream>
#include <string>

#include "ftdr/framework/exit_codes.hpp"

int main(int argc, char** argv) {
  using namespace ftdr::framework;
  if (argc >= 2 && std::string(argv[1]) == "--version") {
    std::cout << "ftdr " << FTDR_VERSION << "\n";
    return kExitOk;
  }
  std::cerr << "usage: ftdr <command> [options]\n" << exit_code_help();
  return kExitUsage;
}
