// ftdr/sdk/sdk.hpp: everything a plugin author needs, in one include.
#pragma once
#include "ftdr/sdk/artifact.hpp"
#include "ftdr/sdk/backend.hpp"
#include "ftdr/sdk/config_view.hpp"
#include "ftdr/sdk/error.hpp"
#include "ftdr/sdk/logger.hpp"
#include "ftdr/sdk/memory_policy.hpp"
#include "ftdr/sdk/plugin.hpp"
#include "ftdr/sdk/recovery.hpp"
#include "ftdr/sdk/scheduler.hpp"
#include "ftdr/sdk/tiling.hpp"
#include "ftdr/sdk/types.hpp"
#include "ftdr/sdk/version.hpp"
