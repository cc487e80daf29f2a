// hosts/ftdr/serve/openapi.hpp: the OpenAPI 3 document of the native API, embedded in the binary
// (GET /openapi.json). The document itself is openapi.json beside this file.
#pragma once
#include <string>

namespace ftdr::host::serve {

const std::string& openapi_document();

}  // namespace ftdr::host::serve
