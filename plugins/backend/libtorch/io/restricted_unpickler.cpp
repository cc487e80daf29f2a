// io/restricted_unpickler.cpp: the pickle machine (Python's Lib/pickletools.py documents every
// opcode) restricted to the opcodes and globals a state dict needs.
#include "io/restricted_unpickler.hpp"

#include <cstdio>
#include <cstring>
#include <map>
#include <unordered_map>

#include "ftdr/sdk/error.hpp"

namespace ftdr::torchbe {
namespace {

using Kind = PickleValue::Kind;

// torch.<name>Storage -> safetensors dtype name.
const std::map<std::string, std::string>& storage_dtypes() {
  static const std::map<std::string, std::string> m = {
      {"torch FloatStorage", "F32"},  {"torch HalfStorage", "F16"}, {"torch BFloat16Storage", "BF16"},
      {"torch DoubleStorage", "F64"}, {"torch LongStorage", "I64"}, {"torch IntStorage", "I32"},
      {"torch ShortStorage", "I16"},  {"torch CharStorage", "I8"},  {"torch ByteStorage", "U8"},
      {"torch BoolStorage", "BOOL"}};
  return m;
}

const char* const kOrderedDict = "collections OrderedDict";
const char* const kRebuildV2 = "torch._utils _rebuild_tensor_v2";
const char* const kRebuild = "torch._utils _rebuild_tensor";
const char* const kRebuildParameter = "torch._utils _rebuild_parameter";

class Machine {
 public:
  Machine(const std::uint8_t* bytes, std::size_t size, const std::string& path)
      : p_(bytes), size_(size), path_(path) {}

  Unpickled run() {
    if (size_ > kMaxPickleBytes)
      fail("the pickle is larger than " + std::to_string(kMaxPickleBytes) + " bytes");
    while (true) {
      const std::uint8_t op = byte();
      if (op == '.') break;  // STOP
      step(op);
    }
    if (stack_.size() != 1 || !marks_.empty()) fail("the pickle does not end with exactly one value");
    out_.root = stack_.back();
    return std::move(out_);
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw sdk::Error(sdk::ErrorKind::model_error,
                     "checkpoint " + path_ + ": pickle at byte " + std::to_string(at_) + ": " + what);
  }
  std::uint8_t byte() {
    if (at_ >= size_) fail("truncated (ends without STOP)");
    return p_[at_++];
  }
  std::uint64_t le(int n) {
    if (static_cast<std::size_t>(n) > size_ - at_) fail("truncated");
    std::uint64_t v = 0;
    for (int i = n - 1; i >= 0; --i) v = (v << 8) | p_[at_ + static_cast<std::size_t>(i)];
    at_ += static_cast<std::size_t>(n);
    return v;
  }
  std::string take(std::uint64_t n) {
    if (n > size_ - at_) fail("truncated (a string runs past the end)");
    std::string s(reinterpret_cast<const char*>(p_ + at_), static_cast<std::size_t>(n));
    at_ += static_cast<std::size_t>(n);
    return s;
  }
  std::string line() {
    std::string s;
    while (true) {
      const std::uint8_t c = byte();
      if (c == '\n') return s;
      if (s.size() > 1024) fail("a GLOBAL name longer than 1024 bytes");
      s.push_back(static_cast<char>(c));
    }
  }

  PickleValue* make(Kind kind) {
    out_.arena.push_back(std::make_unique<PickleValue>());
    out_.arena.back()->kind = kind;
    return out_.arena.back().get();
  }
  void push(const PickleValue* v) {
    if (stack_.size() >= kMaxPickleStack)
      fail("more than " + std::to_string(kMaxPickleStack) + " values on the stack");
    stack_.push_back(v);
  }
  const PickleValue* pop() {
    if (stack_.size() <= floor()) fail("pops an empty stack");
    const PickleValue* v = stack_.back();
    stack_.pop_back();
    return v;
  }
  const PickleValue* top() const {
    if (stack_.size() <= floor()) fail("reads an empty stack");
    return stack_.back();
  }
  std::size_t floor() const { return marks_.empty() ? 0 : marks_.back(); }
  // The values since the last MARK, which is removed.
  std::vector<const PickleValue*> pop_mark() {
    if (marks_.empty()) fail("no MARK to pop to");
    std::vector<const PickleValue*> items(stack_.begin() + static_cast<std::ptrdiff_t>(marks_.back()),
                                          stack_.end());
    stack_.resize(marks_.back());
    marks_.pop_back();
    return items;
  }
  PickleValue* mutable_top(Kind kind, const char* op) {
    const PickleValue* v = top();
    if (v->kind != kind)
      fail(std::string(op) + " on a value that is not a " + (kind == Kind::dict ? "dict" : "list"));
    return const_cast<PickleValue*>(v);  // every value is the arena's, built here
  }

  void memo_put(std::uint64_t index) {
    if (memo_.size() >= kMaxPickleMemo && !memo_.count(index))
      fail("more than " + std::to_string(kMaxPickleMemo) + " memo entries");
    memo_[index] = top();
  }
  void memo_get(std::uint64_t index) {
    auto it = memo_.find(index);
    if (it == memo_.end()) fail("memo entry " + std::to_string(index) + " was never stored");
    push(it->second);
  }

  void push_int(std::int64_t v, Kind kind = Kind::integer) {
    PickleValue* x = make(kind);
    x->integer = v;
    push(x);
  }
  void push_text(std::string s, Kind kind) {
    PickleValue* x = make(kind);
    x->text = std::move(s);
    push(x);
  }
  void push_long1() {
    const std::uint64_t n = le(1);
    if (n > 8) fail("an integer of " + std::to_string(n) + " bytes (at most 8)");
    std::uint64_t v = le(static_cast<int>(n));
    if (n > 0 && n < 8 && (v >> (8 * n - 1)) != 0) v |= ~std::uint64_t{0} << (8 * n);  // sign-extend
    push_int(static_cast<std::int64_t>(v));
  }
  void push_global(const std::string& name) {
    if (name != kOrderedDict && name != kRebuildV2 && name != kRebuild && name != kRebuildParameter &&
        !storage_dtypes().count(name))
      fail("global '" + name +
           "' is not allowed (a checkpoint may hold only tensors, storages, ordered "
           "dicts and plain values; this file would run code when loaded by Python's pickle)");
    push_text(name, Kind::global);
  }
  void make_tuple(std::vector<const PickleValue*> items) {
    PickleValue* t = make(Kind::tuple);
    t->items = std::move(items);
    push(t);
  }

  void step(std::uint8_t op);
  void set_items(std::vector<const PickleValue*> kv);
  void reduce();
  void build();
  void persistent_id();
  const PickleValue* rebuild_tensor(const std::vector<const PickleValue*>& args);

  const std::uint8_t* p_;
  std::size_t size_, at_ = 0;
  std::string path_;
  Unpickled out_;
  std::vector<const PickleValue*> stack_;
  std::vector<std::size_t> marks_;
  std::unordered_map<std::uint64_t, const PickleValue*> memo_;
};

void Machine::step(std::uint8_t op) {
  switch (op) {
    case 0x80: le(1); return;  // PROTO
    case 0x95: le(8); return;  // FRAME: its length only
    case '(':
      if (marks_.size() >= kMaxPickleStack) fail("too many MARKs");
      marks_.push_back(stack_.size());
      return;
    case ')': make_tuple({}); return;
    case 't': make_tuple(pop_mark()); return;
    case 0x85: make_tuple({pop()}); return;
    case 0x86: {
      auto b = pop(), a = pop();
      make_tuple({a, b});
      return;
    }
    case 0x87: {
      auto c = pop(), b = pop(), a = pop();
      make_tuple({a, b, c});
      return;
    }
    case ']': push(make(Kind::list)); return;
    case 'l': {
      PickleValue* l = make(Kind::list);
      l->items = pop_mark();
      push(l);
      return;
    }
    case '}': push(make(Kind::dict)); return;
    case 'd': {
      auto kv = pop_mark();
      push(make(Kind::dict));
      set_items(std::move(kv));
      return;
    }
    case 'a': {
      auto v = pop();
      mutable_top(Kind::list, "APPEND")->items.push_back(v);
      return;
    }
    case 'e': {
      auto vs = pop_mark();
      auto& l = mutable_top(Kind::list, "APPENDS")->items;
      l.insert(l.end(), vs.begin(), vs.end());
      return;
    }
    case 's': {
      auto v = pop(), k = pop();
      set_items({k, v});
      return;
    }
    case 'u': set_items(pop_mark()); return;
    case 'q': memo_put(le(1)); return;
    case 'r': memo_put(le(4)); return;
    case 0x94: memo_put(memo_.size()); return;  // MEMOIZE
    case 'h': memo_get(le(1)); return;
    case 'j': memo_get(le(4)); return;
    case '2': push(top()); return;  // DUP
    case '0': pop(); return;        // POP
    case '1': pop_mark(); return;   // POP_MARK
    case 'N': push(make(Kind::none)); return;
    case 0x88: push_int(1, Kind::boolean); return;
    case 0x89: push_int(0, Kind::boolean); return;
    case 'K': push_int(static_cast<std::int64_t>(le(1))); return;
    case 'M': push_int(static_cast<std::int64_t>(le(2))); return;
    case 'J': push_int(static_cast<std::int32_t>(le(4))); return;
    case 0x8a: push_long1(); return;
    case 'G': {  // BINFLOAT: big-endian double
      std::uint64_t bits = 0;
      for (int i = 0; i < 8; ++i) bits = (bits << 8) | byte();
      PickleValue* f = make(Kind::floating);
      std::memcpy(&f->floating, &bits, sizeof bits);
      push(f);
      return;
    }
    case 'X': push_text(take(le(4)), Kind::text); return;
    case 0x8c: push_text(take(le(1)), Kind::text); return;
    case 0x8d: push_text(take(le(8)), Kind::text); return;
    case 'T': push_text(take(le(4)), Kind::text); return;  // BINSTRING (protocol 1 str)
    case 'U': push_text(take(le(1)), Kind::text); return;  // SHORT_BINSTRING
    case 'B': push_text(take(le(4)), Kind::bytes); return;
    case 'C': push_text(take(le(1)), Kind::bytes); return;
    case 0x8e: push_text(take(le(8)), Kind::bytes); return;
    case 'c': {
      std::string module = line();
      push_global(module + " " + line());
      return;
    }
    case 0x93: {  // STACK_GLOBAL
      auto name = pop(), module = pop();
      if (module->kind != Kind::text || name->kind != Kind::text) fail("STACK_GLOBAL of non-strings");
      push_global(module->text + " " + name->text);
      return;
    }
    case 'R': reduce(); return;
    case 'b': build(); return;
    case 'Q': persistent_id(); return;
    default: {
      char hex[8];
      std::snprintf(hex, sizeof hex, "0x%02x", op);
      fail(std::string("opcode ") + hex +
           " is not allowed (it builds or calls objects a checkpoint does not need)");
    }
  }
}

void Machine::set_items(std::vector<const PickleValue*> kv) {
  if (kv.size() % 2 != 0) fail("SETITEMS with an odd number of values");
  auto& entries = mutable_top(Kind::dict, "SETITEM")->entries;
  for (std::size_t i = 0; i < kv.size(); i += 2) entries.emplace_back(kv[i], kv[i + 1]);
}

void Machine::reduce() {
  const PickleValue* args = pop();
  const PickleValue* callable = pop();
  if (callable->kind != Kind::global || args->kind != Kind::tuple)
    fail("REDUCE of something other than an allowed global");
  const std::string& name = callable->text;
  if (name == kOrderedDict) {
    if (!args->items.empty()) fail("OrderedDict(...) with arguments (only OrderedDict() is read)");
    push(make(Kind::dict));
  } else if (name == kRebuildV2 || name == kRebuild) {
    push(rebuild_tensor(args->items));
  } else if (name == kRebuildParameter) {
    if (args->items.empty() || args->items[0]->kind != Kind::tensor)
      fail("_rebuild_parameter without a tensor");
    push(args->items[0]);
  } else {
    fail("global '" + name + "' cannot be called (storage types appear only in persistent ids)");
  }
}

void Machine::build() {
  const PickleValue* state = pop();
  const PickleValue* target = top();
  // OrderedDict's instance __dict__ (a state dict's _metadata): not needed, dropped.
  if (target->kind != Kind::dict || (state->kind != Kind::dict && state->kind != Kind::none))
    fail("BUILD is allowed only for an OrderedDict's attributes");
}

void Machine::persistent_id() {
  const PickleValue* pid = pop();
  const auto& it = pid->items;
  if (pid->kind != Kind::tuple || it.size() != 5 || it[0]->kind != Kind::text || it[0]->text != "storage" ||
      it[1]->kind != Kind::global || !storage_dtypes().count(it[1]->text) || it[2]->kind != Kind::text ||
      it[4]->kind != Kind::integer || it[4]->integer < 0)
    fail("a persistent id other than ('storage', torch.<type>Storage, key, location, numel)");
  PickleValue* s = make(Kind::storage);
  s->dtype = storage_dtypes().at(it[1]->text);
  s->text = it[2]->text;
  s->integer = it[4]->integer;
  push(s);
}

const PickleValue* Machine::rebuild_tensor(const std::vector<const PickleValue*>& args) {
  if (args.size() < 4 || args[0]->kind != Kind::storage || args[1]->kind != Kind::integer ||
      args[2]->kind != Kind::tuple || args[3]->kind != Kind::tuple)
    fail("_rebuild_tensor(storage, offset, size, stride, ...) with other arguments");
  PickleValue* t = make(Kind::tensor);
  t->storage = args[0];
  t->dtype = args[0]->dtype;
  t->offset = args[1]->integer;
  for (const auto* d : args[2]->items) {
    if (d->kind != Kind::integer) fail("a tensor size that is not an integer");
    t->shape.push_back(d->integer);
  }
  for (const auto* d : args[3]->items) {
    if (d->kind != Kind::integer) fail("a tensor stride that is not an integer");
    t->stride.push_back(d->integer);
  }
  return t;
}

}  // namespace

Unpickled restricted_unpickle(const std::uint8_t* bytes, std::size_t size, const std::string& path) {
  return Machine(bytes, size, path).run();
}

}  // namespace ftdr::torchbe
