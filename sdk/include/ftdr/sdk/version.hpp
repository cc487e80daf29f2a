// ftdr/sdk/version.hpp: the SDK's ABI version, the one number pair a plugin and the host compare.
//
// Rule (as in Triton's backend API):
//   - adding an optional call or a field at the end of a struct bumps the MINOR;
//   - removing or changing the behaviour or layout of anything bumps the MAJOR.
// The host loads a plugin built with the same MAJOR and a MINOR no newer than its own; any other
// plugin is refused with a message naming the file and both versions, and the host carries on.
//
// History: 1.0 first release; 1.1 ModelInfo::dtype (the host starts RuntimeOptions::dtype from it,
// and a backend honours RuntimeOptions::dtype = f32 as "run this phase in f32"); 1.2
// StepObserver::check_stop() (appended, with a default) and the optional StopTarget (backend.hpp).
#pragma once

#define FTDR_SDK_ABI_MAJOR 1
#define FTDR_SDK_ABI_MINOR 2

namespace ftdr::sdk {
inline constexpr unsigned kAbiMajor = FTDR_SDK_ABI_MAJOR;
inline constexpr unsigned kAbiMinor = FTDR_SDK_ABI_MINOR;
}  // namespace ftdr::sdk
