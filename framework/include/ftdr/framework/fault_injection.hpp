// ftdr/framework/fault_injection.hpp: deliberate failures for testing recovery ([faults]).
//
// inject_faults() wraps a backend so that the configured phase fails with the configured ErrorKind
// for the first `attempts` times it runs (counted over the process), then behaves normally:
//   initializing -> validate() throws     encoding -> encode() throws
//   diffusion    -> throws from the step observer after step `at_step`, like a real mid-run failure
//   decoding     -> decode() throws
// The message says it was injected and names [faults], so nobody mistakes it for a real fault.
//
//   if (cfg.host().faults.enabled) backend = inject_faults(backend, cfg.host().faults);
#pragma once
#include <memory>

#include "ftdr/framework/config.hpp"
#include "ftdr/sdk/backend.hpp"

namespace ftdr::framework {

std::shared_ptr<sdk::ModelBackend> inject_faults(std::shared_ptr<sdk::ModelBackend> backend,
                                                 const FaultsConfig& faults);

}  // namespace ftdr::framework
