// io/weights.cpp: strict state-dict loading; every problem reported at once.
#include "io/weights.hpp"

#include <map>
#include <set>
#include <sstream>

#include "ftdr/sdk/error.hpp"
#include "io/key_text.hpp"

namespace ftdr::torchbe {
namespace {

std::string shape_string(at::IntArrayRef shape) {
  std::ostringstream s;
  s << '[';
  for (size_t i = 0; i < shape.size(); ++i) s << (i ? ", " : "") << shape[i];
  s << ']';
  return s.str();
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

struct Problems {
  std::vector<std::string> missing, unexpected, mismatched;
  bool empty() const { return missing.empty() && unexpected.empty() && mismatched.empty(); }
};

// "stored (ours)" when the names differ, else the name.
std::string both_names(const std::string& stored, const std::string& ours) {
  return stored == ours ? stored : stored + " (" + ours + ")";
}

// Checks every wanted key against the source; fills `plan` with what to load into what.
Problems check_keys(const std::map<std::string, at::Tensor>& wanted, const WeightSource& source,
                    std::vector<std::pair<at::Tensor, StoredKey>>& plan) {
  Problems p;
  std::set<std::string> used;
  const SafeTensorsFile& file = source.file();
  for (const auto& [key, tensor] : wanted) {
    StoredKey sk = source.stored(key);
    if (sk.key.empty() || !file.contains(source.prefix() + sk.key)) {
      if (source.optional(key)) continue;
      const std::string name = sk.key.empty() ? "(not stored in this layout)" : source.prefix() + sk.key;
      p.missing.push_back(both_names(name, key) + " " + shape_string(tensor.sizes()));
      continue;
    }
    used.insert(source.prefix() + sk.key);
    const std::vector<int64_t> shape = source.shape(sk);
    if (at::IntArrayRef(shape) != tensor.sizes())
      p.mismatched.push_back(both_names(source.prefix() + sk.key, key) + ": file " + shape_string(shape) +
                             ", model " + shape_string(tensor.sizes()));
    else
      plan.emplace_back(tensor, sk);
  }
  for (const auto& key : file.keys())
    if (starts_with(key, source.prefix()) && !used.count(key) && !source.ignored(key))
      p.unexpected.push_back(key);
  return p;
}

}  // namespace

WeightSource::WeightSource(SafeTensorsFile file, std::string prefix)
    : file_(std::move(file)), prefix_(std::move(prefix)) {}

WeightSource::WeightSource(SafeTensorsFile file, std::string prefix, Rename rename, Ignored ignored,
                           std::function<bool(const std::string&)> optional)
    : file_(std::move(file)),
      prefix_(std::move(prefix)),
      rename_(std::move(rename)),
      ignored_(std::move(ignored)),
      optional_(std::move(optional)) {}

WeightSource WeightSource::ignoring(std::vector<std::string> parts) const {
  WeightSource copy = *this;
  copy.ignored_ = [before = ignored_, prefix = prefix_, parts = std::move(parts)](const std::string& key) {
    if (before && before(key)) return true;
    if (!starts_with(key, prefix)) return false;
    for (const auto& part : parts)
      if (key.compare(prefix.size(), part.size(), part) == 0) return true;
    return false;
  };
  return copy;
}

StoredKey WeightSource::stored(const std::string& ours) const {
  return rename_ ? rename_(ours) : StoredKey{ours};
}

std::vector<int64_t> WeightSource::shape(const StoredKey& k) const {
  std::vector<int64_t> shape = file_.info(prefix_ + k.key).shape;
  if (k.split_index >= 0 && !shape.empty()) shape[0] /= k.split_parts;
  if (k.squeeze_1x1 && shape.size() == 4 && shape[2] == 1 && shape[3] == 1) shape.resize(2);
  if (k.transpose && shape.size() == 2) std::swap(shape[0], shape[1]);
  return shape;
}

at::Tensor WeightSource::load(const StoredKey& k, at::ScalarType dtype) const {
  at::Tensor t = k.split_index >= 0 ? file_.load_rows(prefix_ + k.key, k.split_index, k.split_parts)
                                    : file_.load(prefix_ + k.key);
  if (k.squeeze_1x1 && t.dim() == 4) t = t.flatten(1);
  if (k.transpose && t.dim() == 2) t = t.t().contiguous();
  return t.scalar_type() == dtype ? t : t.to(dtype);
}

namespace {

std::map<std::string, at::Tensor> wanted_tensors(torch::nn::Module& module) {
  std::map<std::string, at::Tensor> wanted;
  for (const auto& item : module.named_parameters(/*recurse=*/true)) wanted[item.key()] = item.value();
  for (const auto& item : module.named_buffers(/*recurse=*/true)) wanted[item.key()] = item.value();
  return wanted;
}

}  // namespace

std::string check_module_weights(torch::nn::Module& module, const WeightSource& source) {
  std::vector<std::pair<at::Tensor, StoredKey>> plan;
  const Problems p = check_keys(wanted_tensors(module), source, plan);
  if (p.empty()) return {};
  std::ostringstream msg;
  msg << "weights " << source.file().path().string() << " do not match the model"
      << (source.prefix().empty() ? "" : " (prefix '" + source.prefix() + "')") << ":";
  append_list(msg, "missing keys", p.missing);
  append_list(msg, "unexpected keys", p.unexpected);
  append_list(msg, "shape mismatches", p.mismatched);
  return msg.str();
}

void load_module_weights(torch::nn::Module& module, const WeightSource& source, at::ScalarType dtype) {
  std::vector<std::pair<at::Tensor, StoredKey>> plan;
  if (!check_keys(wanted_tensors(module), source, plan).empty())
    throw sdk::Error(sdk::ErrorKind::model_error, check_module_weights(module, source));

  torch::NoGradGuard no_grad;
  for (auto& [tensor, sk] : plan) {
    // Floating tensors take the run's dtype; integer buffers (position_ids) keep their own.
    at::ScalarType target = at::isFloatingType(tensor.scalar_type()) ? dtype : tensor.scalar_type();
    // The loaded tensor becomes the parameter's storage: a network built empty (nn/empty_weights.hpp)
    // never writes the memory it reserved, so the weights are held once.
    tensor.set_data(source.load(sk, target).to(tensor.device()));
  }
}

void load_module_weights(torch::nn::Module& module, const SafeTensorsFile& file, at::ScalarType dtype,
                         const std::string& prefix) {
  load_module_weights(module, WeightSource(file, prefix), dtype);
}

}  // namespace ftdr::torchbe
