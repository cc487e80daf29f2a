// hosts/ftdr/serve/status_page.hpp: the status page of `ftdr serve` (GET /), one HTML file with its
// CSS and JavaScript inline, embedded in the binary. It holds no data (it polls the JSON API with the
// token the user gives it), so GET / is answered without the token. Source: status_page/index.html.
#pragma once
#include <string>

namespace ftdr::host::serve {

const std::string& status_page_html();

}  // namespace ftdr::host::serve
