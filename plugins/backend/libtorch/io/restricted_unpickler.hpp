// io/restricted_unpickler.hpp: a pickle reader that can build only what a checkpoint holds.
//
//   Unpickled u = restricted_unpickle(pkl_bytes, pkl_size, "model.ckpt");
//   const PickleValue* root = u.root;   // owned by u
//
// Like PyTorch's torch.load(weights_only=True), it builds only plain values (None, bools, ints,
// floats, strings, bytes, tuples, lists, dicts) and these globals:
//   collections.OrderedDict                      -> a dict (a BUILD state on it is dropped)
//   torch._utils._rebuild_tensor_v2 / _rebuild_tensor / _rebuild_parameter -> a tensor
//   torch.<Float|Half|BFloat16|Double|Long|Int|Short|Char|Byte|Bool>Storage, only inside a
//   persistent id ("storage", type, key, location, numel) naming the zip entry data/<key>.
// Any other global (os.system, builtins.eval, ...) is refused by name when the GLOBAL opcode is
// read, before anything could call it; so is every opcode that would call or build other objects
// (NEWOBJ, INST, OBJ, EXT*, text PERSID). Nothing is ever executed.
// Bounded: at most kMaxPickleBytes of pickle, kMaxPickleMemo memo entries, kMaxPickleStack values on
// the stack and marks, 64-bit ints only. Values live in one arena (no recursion on destruction,
// no leaks through cycles). Errors: sdk::Error(model_error) naming `path` and the byte offset.
// Needs no libtorch (fuzzed: fuzz/pickle_checkpoint_fuzzer.cpp).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace ftdr::torchbe {

inline constexpr std::size_t kMaxPickleBytes = std::size_t{1} << 30;
inline constexpr std::size_t kMaxPickleMemo = std::size_t{1} << 22;
inline constexpr std::size_t kMaxPickleStack = std::size_t{1} << 22;

struct PickleValue {
  enum class Kind {
    none,
    boolean,
    integer,
    floating,
    text,
    bytes,
    tuple,
    list,
    dict,
    global,
    storage,
    tensor
  };
  Kind kind = Kind::none;
  std::int64_t integer = 0;  // integer, boolean; storage: numel
  double floating = 0;
  std::string text;                       // text, bytes; global: "module name"; storage: the data/<key> key
  std::vector<const PickleValue*> items;  // tuple, list
  std::vector<std::pair<const PickleValue*, const PickleValue*>> entries;  // dict, in order
  // storage: dtype ("F32", ...); tensor: the storage's key, dtype, numel and the view on it
  std::string dtype;
  const PickleValue* storage = nullptr;  // tensor
  std::int64_t offset = 0;               // tensor: in elements
  std::vector<std::int64_t> shape, stride;
};

struct Unpickled {
  std::vector<std::unique_ptr<PickleValue>> arena;
  const PickleValue* root = nullptr;
};

Unpickled restricted_unpickle(const std::uint8_t* bytes, std::size_t size, const std::string& path);

}  // namespace ftdr::torchbe
