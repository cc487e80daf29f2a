// io/weights.cpp: strict state-dict loading; every problem reported at once.
#include "io/weights.hpp"

#include <map>
#include <set>
#include <sstream>

#include "ftdr/sdk/error.hpp"

namespace ftdr::torchbe {
namespace {

std::string shape_string(at::IntArrayRef shape) {
  std::ostringstream s;
  s << '[';
  for (size_t i = 0; i < shape.size(); ++i) s << (i ? ", " : "") << shape[i];
  s << ']';
  return s.str();
}

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

// Keeps at most `limit` lines of a category, then says how many more there were: a wrong model
// folder can mismatch thousands of keys.
void append_list(std::ostringstream& msg, const std::string& title, const std::vector<std::string>& items) {
  constexpr size_t limit = 40;
  if (items.empty()) return;
  msg << "\n  " << title << " (" << items.size() << "):";
  for (size_t i = 0; i < items.size() && i < limit; ++i) msg << "\n    " << items[i];
  if (items.size() > limit) msg << "\n    ... and " << items.size() - limit << " more";
}

}  // namespace

void load_module_weights(torch::nn::Module& module, const SafeTensorsFile& file, at::ScalarType dtype,
                         const std::string& prefix) {
  std::map<std::string, at::Tensor> wanted;
  for (const auto& item : module.named_parameters(/*recurse=*/true))
    wanted[prefix + item.key()] = item.value();
  for (const auto& item : module.named_buffers(/*recurse=*/true)) wanted[prefix + item.key()] = item.value();

  std::vector<std::string> missing, unexpected, mismatched;
  for (const auto& [key, tensor] : wanted) {
    if (!file.contains(key)) {
      missing.push_back(key + " " + shape_string(tensor.sizes()));
      continue;
    }
    const auto& info = file.info(key);
    if (at::IntArrayRef(info.shape) != tensor.sizes())
      mismatched.push_back(key + ": file " + shape_string(info.shape) + ", model " +
                           shape_string(tensor.sizes()));
  }
  for (const auto& key : file.keys())
    if (starts_with(key, prefix) && !wanted.count(key)) unexpected.push_back(key);

  if (!missing.empty() || !unexpected.empty() || !mismatched.empty()) {
    std::ostringstream msg;
    msg << "weights " << file.path().string() << " do not match the model"
        << (prefix.empty() ? "" : " (prefix '" + prefix + "')") << ":";
    append_list(msg, "missing keys", missing);
    append_list(msg, "unexpected keys", unexpected);
    append_list(msg, "shape mismatches", mismatched);
    throw sdk::Error(sdk::ErrorKind::model_error, msg.str());
  }

  torch::NoGradGuard no_grad;
  for (auto& [key, tensor] : wanted) {
    // Floating tensors take the run's dtype; integer buffers (position_ids) keep their own.
    at::ScalarType target = at::isFloatingType(tensor.scalar_type()) ? dtype : tensor.scalar_type();
    at::Tensor value = file.load(key, target);
    if (tensor.scalar_type() != target)
      tensor.set_data(value.to(tensor.device()));
    else
      tensor.copy_(value);
  }
}

}  // namespace ftdr::torchbe
