// hosts/ftdr/serve/a1111_request.hpp: the body of AUTOMATIC1111's POST /sdapi/v1/txt2img into FTDR
// requests, and A1111's sampler names (docs/serve.md, "AUTOMATIC1111 API", has the table).
//
//   A1111Txt2Img t = parse_a1111_txt2img(body, defaults, model, samplers);  // throws A1111Error
//   t.request.seed = t.random_seed ? random : t.request.seed;   // then one job per n_iter
//
// Used fields: prompt, negative_prompt, steps, cfg_scale, sampler_name (else the deprecated
// sampler_index), seed (-1: random), width, height, batch_size, n_iter, eta (DDIM only). Every
// other field is accepted, ignored and listed in `ignored`. An absent width/height takes the
// config's [generate] value, or, where that is 0 (unset), the model's default size (1024 for SDXL);
// a given one is in A1111's range 8..16384. Refusals are A1111's (FastAPI's)
// shapes: a wrong type or an out-of-range value is 422 {"detail": [{"loc": ["body", field], "msg",
// "type"}]}; an unknown sampler is 404 {"detail": "Sampler not found: ..."} as A1111 answers.
#pragma once
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ftdr/framework/server/http_message.hpp"
#include "ftdr/sdk/backend.hpp"
#include "ftdr/sdk/types.hpp"

namespace ftdr::host::serve {

class A1111Error : public std::runtime_error {
 public:
  A1111Error(int status, nlohmann::json detail)
      : std::runtime_error(detail.dump()), status_(status), detail_(std::move(detail)) {}
  int status() const { return status_; }
  const nlohmann::json& detail() const { return detail_; }
  framework::HttpResponse response() const {
    return framework::HttpResponse::json(status_, {{"detail", detail_}});
  }

 private:
  int status_;
  nlohmann::json detail_;
};

// 422 naming one body field, as FastAPI's request validation answers.
A1111Error a1111_field_error(const std::string& field, const std::string& message, const std::string& type);

// One of A1111's samplers, as GET /sdapi/v1/samplers lists it, and FTDR's name for it.
struct A1111Sampler {
  std::string name;                  // "Euler a"
  std::string ftdr;                  // "euler_a"
  std::vector<std::string> aliases;  // "k_euler_a", ...
  std::vector<std::pair<std::string, std::string>> options;
};
// The A1111 samplers the backend has (`samplers`: the backend's names), in A1111's order.
std::vector<A1111Sampler> a1111_samplers(const std::vector<std::string>& samplers);
// A1111's name or an alias (any case), or FTDR's own name -> FTDR's name; throws A1111Error(404).
std::string ftdr_sampler(const std::string& name, const std::vector<std::string>& samplers);

struct A1111Txt2Img {
  sdk::GenerationRequest request;    // batch = batch_size; seed = the first image's (when not random)
  bool random_seed = false;          // seed was -1
  int n_iter = 1;                    // jobs, one after another; job n starts at seed + n * batch_size
  std::string sampler_name;          // as A1111 names it ("Euler a")
  std::vector<std::string> ignored;  // fields accepted and not used, sorted
  nlohmann::json parameters;         // the request as A1111 echoes it (fields with their values)
};

A1111Txt2Img parse_a1111_txt2img(const std::string& body, const sdk::GenerationRequest& defaults,
                                 const sdk::ModelInfo& model, const std::vector<std::string>& samplers);

}  // namespace ftdr::host::serve
