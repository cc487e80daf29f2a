#include "ftdr/framework/version.hpp"

namespace ftdr::framework {
const char* ftdr_version() noexcept { return FTDR_VERSION; }
}  // namespace ftdr::framework
