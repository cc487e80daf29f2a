// ftdr/framework/version.hpp: FTDR's release version (the project's CMake version), e.g. "0.1.0".
// The plugin ABI version is separate: ftdr/sdk/version.hpp.
#pragma once

namespace ftdr::framework {
const char* ftdr_version() noexcept;
}  // namespace ftdr::framework
