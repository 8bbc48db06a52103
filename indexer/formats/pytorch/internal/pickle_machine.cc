// The restricted pickle VM. Opcode values and semantics follow CPython's Lib/pickletools.py.
#include "indexer/formats/pytorch/internal/pickle_machine.h"

#include <cstring>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace weightprint::indexer::internal {
namespace {

enum Op : uint8_t {
  kMark = '(',
  kStop = '.',
  kPop = '0',
  kPopMark = '1',
  kDup = '2',
  kBinInt = 'J',
  kBinInt1 = 'K',
  kBinInt2 = 'M',
  kNone = 'N',
  kBinPersId = 'Q',
  kReduce = 'R',
  kBinString = 'T',
  kShortBinString = 'U',
  kBinUnicode = 'X',
  kAppend = 'a',
  kBuild = 'b',
  kGlobal = 'c',
  kDict = 'd',
  kEmptyDict = '}',
  kAppends = 'e',
  kBinGet = 'h',
  kLongBinGet = 'j',
  kList = 'l',
  kEmptyList = ']',
  kBinPut = 'q',
  kLongBinPut = 'r',
  kSetItem = 's',
  kTuple = 't',
  kEmptyTuple = ')',
  kSetItems = 'u',
  kBinFloat = 'G',
  kProto = 0x80,
  kNewObj = 0x81,
  kTuple1 = 0x85,
  kTuple2 = 0x86,
  kTuple3 = 0x87,
  kNewTrue = 0x88,
  kNewFalse = 0x89,
  kLong1 = 0x8a,
  kLong4 = 0x8b,
  kBinBytes = 'B',
  kShortBinBytes = 'C',
  kShortBinUnicode = 0x8c,
  kBinUnicode8 = 0x8d,
  kBinBytes8 = 0x8e,
  kEmptySet = 0x8f,
  kAddItems = 0x90,
  kFrozenSet = 0x91,
  kNewObjEx = 0x92,
  kStackGlobal = 0x93,
  kMemoize = 0x94,
  kFrame = 0x95,
};

const char* KindName(PickleKind kind) {
  switch (kind) {
    case PickleKind::kNone:
      return "None";
    case PickleKind::kBool:
      return "a bool";
    case PickleKind::kInt:
      return "an int";
    case PickleKind::kBigInt:
      return "a long int";
    case PickleKind::kFloat:
      return "a float";
    case PickleKind::kString:
      return "a string";
    case PickleKind::kBytes:
      return "bytes";
    case PickleKind::kTuple:
      return "a tuple";
    case PickleKind::kList:
      return "a list";
    case PickleKind::kSet:
      return "a set";
    case PickleKind::kDict:
      return "a dict";
    case PickleKind::kGlobal:
      return "a global";
    case PickleKind::kObject:
      return "an object";
    case PickleKind::kPersistent:
      return "a persistent id";
  }
  return "?";
}

// Latin-1 text from UTF-8 (for _codecs.encode(text, "latin1")); nullopt if a code point is
// above U+00FF or the UTF-8 is malformed.
std::optional<std::string> Utf8ToLatin1(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
    } else if ((c == 0xC2 || c == 0xC3) && i + 1 < s.size() &&
               (static_cast<unsigned char>(s[i + 1]) & 0xC0) == 0x80) {
      out.push_back(
          static_cast<char>(((c & 0x03) << 6) | (static_cast<unsigned char>(s[i + 1]) & 0x3F)));
      ++i;
    } else {
      return std::nullopt;
    }
  }
  return out;
}

class Machine {
 public:
  Machine(std::string_view bytes, const std::string& path, uint64_t base,
          const PickleLimits& limits)
      : in_(bytes), path_(path), base_(base), limits_(limits) {
    max_objects_ = std::min<uint64_t>(limits.max_objects, bytes.size() + 16);
  }

  absl::StatusOr<PickleGraph> Run();

 private:
  absl::Status Error(uint64_t at, const std::string& what) const {
    return absl::InvalidArgumentError(absl::StrCat(path_, ": offset ", base_ + at, ": ", what));
  }
  absl::Status OpError(const std::string& what) const { return Error(op_at_, what); }

  // Reads n bytes of opcode argument; fails if the stream ends first.
  absl::StatusOr<std::string_view> Take(uint64_t n, const char* what) {
    if (n > in_.size() - pos_) {
      return Error(pos_, absl::StrCat("expected ", n, " bytes of ", what, ", the pickle has ",
                                      in_.size() - pos_, " left"));
    }
    std::string_view s = in_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  absl::StatusOr<uint64_t> TakeLe(int n, const char* what) {
    absl::StatusOr<std::string_view> s = Take(n, what);
    if (!s.ok()) return s.status();
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>((*s)[i]);
    return v;
  }
  absl::StatusOr<std::string_view> TakeLine(const char* what) {
    const size_t nl = in_.find('\n', pos_);
    if (nl == std::string_view::npos || nl - pos_ > 1024) {
      return Error(pos_, absl::StrCat("expected ", what, " ending in a newline"));
    }
    std::string_view s = in_.substr(pos_, nl - pos_);
    pos_ = nl + 1;
    return s;
  }

  absl::StatusOr<PickleRef> New(PickleKind kind) {
    if (graph_.objects.size() >= max_objects_) {
      return OpError(absl::StrCat("more than ", max_objects_,
                                  " objects; expected a pickle no larger than its input"));
    }
    graph_.objects.emplace_back();
    graph_.objects.back().kind = kind;
    graph_.objects.back().offset = base_ + op_at_;
    return static_cast<PickleRef>(graph_.objects.size() - 1);
  }
  PickleObject& Obj(PickleRef ref) { return graph_.objects[ref]; }

  absl::Status Push(PickleRef ref) {
    if (stack_.size() + marks_.size() >= limits_.max_stack) {
      return OpError(absl::StrCat("stack deeper than ", limits_.max_stack, " entries"));
    }
    stack_.push_back(ref);
    return absl::OkStatus();
  }
  absl::Status PushNew(PickleKind kind) {
    absl::StatusOr<PickleRef> ref = New(kind);
    if (!ref.ok()) return ref.status();
    return Push(*ref);
  }
  size_t FrameBase() const { return marks_.empty() ? 0 : marks_.back(); }
  absl::StatusOr<PickleRef> Pop(const char* what) {
    if (stack_.size() <= FrameBase()) {
      return OpError(absl::StrCat("expected ", what, " on the stack, found ",
                                  marks_.empty() ? "an empty stack" : "a mark"));
    }
    const PickleRef r = stack_.back();
    stack_.pop_back();
    return r;
  }
  absl::StatusOr<PickleRef> Top(const char* what) {
    if (stack_.size() <= FrameBase()) {
      return OpError(absl::StrCat("expected ", what, " on the stack"));
    }
    return stack_.back();
  }
  // Pops everything above the innermost mark, and the mark.
  absl::StatusOr<std::vector<PickleRef>> PopMark() {
    if (marks_.empty()) return OpError("expected a MARK on the stack");
    const size_t base = marks_.back();
    marks_.pop_back();
    std::vector<PickleRef> items(stack_.begin() + static_cast<std::ptrdiff_t>(base), stack_.end());
    stack_.resize(base);
    return items;
  }
  absl::Status CheckContainer(size_t size) const {
    if (size > limits_.max_container) {
      return OpError(absl::StrCat("container of more than ", limits_.max_container, " items"));
    }
    return absl::OkStatus();
  }
  absl::Status Memo(uint64_t index) {
    absl::StatusOr<PickleRef> top = Top("a value to memoize");
    if (!top.ok()) return top.status();
    if (memo_.size() >= limits_.max_memo && !memo_.contains(index)) {
      return OpError(absl::StrCat("memo larger than ", limits_.max_memo, " entries"));
    }
    memo_[index] = *top;
    return absl::OkStatus();
  }
  absl::Status Get(uint64_t index) {
    const auto it = memo_.find(index);
    if (it == memo_.end()) {
      return OpError(absl::StrCat("expected memo entry ", index, " to have been stored"));
    }
    return Push(it->second);
  }
  absl::Status PushText(PickleKind kind, uint64_t length, const char* what) {
    absl::StatusOr<std::string_view> s = Take(length, what);
    if (!s.ok()) return s.status();
    absl::StatusOr<PickleRef> ref = New(kind);
    if (!ref.ok()) return ref.status();
    Obj(*ref).text.assign(s->data(), s->size());
    return Push(*ref);
  }
  absl::Status PushSequence(PickleKind kind, std::vector<PickleRef> items) {
    if (absl::Status s = CheckContainer(items.size()); !s.ok()) return s;
    absl::StatusOr<PickleRef> ref = New(kind);
    if (!ref.ok()) return ref.status();
    Obj(*ref).items = std::move(items);
    return Push(*ref);
  }
  absl::Status PushGlobal(std::string_view module, std::string_view name) {
    absl::StatusOr<PickleRef> ref = New(PickleKind::kGlobal);
    if (!ref.ok()) return ref.status();
    Obj(*ref).text = absl::StrCat(std::string(module), ".", std::string(name));
    Obj(*ref).meaning = ClassifyGlobal(module, name);
    return Push(*ref);
  }
  absl::Status AddItems(PickleRef target, std::vector<PickleRef> items);
  absl::Status SetItems(PickleRef target, const std::vector<PickleRef>& flat);
  absl::Status Reduce(PickleRef callable, PickleRef args);
  absl::Status Step(uint8_t op, bool& stop);

  const std::string_view in_;
  const std::string& path_;
  const uint64_t base_;
  const PickleLimits limits_;
  uint64_t max_objects_ = 0;
  uint64_t pos_ = 0;
  uint64_t op_at_ = 0;
  PickleGraph graph_;
  std::vector<PickleRef> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, PickleRef> memo_;
};

absl::Status Machine::AddItems(PickleRef target, std::vector<PickleRef> items) {
  PickleObject& t = Obj(target);
  if (t.kind != PickleKind::kList && t.kind != PickleKind::kSet && t.kind != PickleKind::kObject) {
    return OpError(absl::StrCat("expected a list to append to, found ", KindName(t.kind)));
  }
  if (absl::Status s = CheckContainer(t.items.size() + items.size()); !s.ok()) return s;
  t.items.insert(t.items.end(), items.begin(), items.end());
  return absl::OkStatus();
}

absl::Status Machine::SetItems(PickleRef target, const std::vector<PickleRef>& flat) {
  if (flat.size() % 2 != 0) return OpError("expected key/value pairs, found an odd count");
  PickleObject& t = Obj(target);
  if (t.kind != PickleKind::kDict && t.kind != PickleKind::kObject) {
    return OpError(absl::StrCat("expected a dict to set items in, found ", KindName(t.kind)));
  }
  if (absl::Status s = CheckContainer(t.pairs.size() + flat.size() / 2); !s.ok()) return s;
  for (size_t i = 0; i < flat.size(); i += 2) t.pairs.emplace_back(flat[i], flat[i + 1]);
  return absl::OkStatus();
}

// Builds the result of callable(*args) without calling anything: containers for the
// allow-listed constructors, a recorded object for everything else.
absl::Status Machine::Reduce(PickleRef callable, PickleRef args) {
  if (Obj(callable).kind != PickleKind::kGlobal) {
    return OpError(absl::StrCat("expected a global to call, found ", KindName(Obj(callable).kind)));
  }
  if (Obj(args).kind != PickleKind::kTuple) {
    return OpError(absl::StrCat("expected an argument tuple, found ", KindName(Obj(args).kind)));
  }
  const GlobalRole role = Obj(callable).meaning.role;
  const std::vector<PickleRef> a = Obj(args).items;
  switch (role) {
    case GlobalRole::kOrderedDict:
      if (!a.empty()) return OpError("expected OrderedDict() with no arguments");
      return PushNew(PickleKind::kDict);
    case GlobalRole::kTorchSize:
    case GlobalRole::kSet:
    case GlobalRole::kFrozenSet: {
      std::vector<PickleRef> items;
      if (!a.empty()) {
        const PickleObject& src = Obj(a[0]);
        if (a.size() != 1 || (src.kind != PickleKind::kTuple && src.kind != PickleKind::kList &&
                              src.kind != PickleKind::kSet)) {
          return OpError(absl::StrCat("expected ", Obj(callable).text, "() of one tuple or list"));
        }
        items = src.items;
      }
      return PushSequence(role == GlobalRole::kTorchSize ? PickleKind::kTuple : PickleKind::kSet,
                          std::move(items));
    }
    case GlobalRole::kByteArray:
    case GlobalRole::kCodecsEncode: {
      std::string bytes;
      if (role == GlobalRole::kByteArray && a.size() == 1 && Obj(a[0]).kind == PickleKind::kBytes) {
        bytes = Obj(a[0]).text;
      } else if (role == GlobalRole::kCodecsEncode && a.size() == 2 &&
                 Obj(a[0]).kind == PickleKind::kString && Obj(a[1]).kind == PickleKind::kString &&
                 (Obj(a[1]).text == "latin1" || Obj(a[1]).text == "latin-1")) {
        std::optional<std::string> latin = Utf8ToLatin1(Obj(a[0]).text);
        if (!latin.has_value()) return OpError("expected latin-1 text for _codecs.encode");
        bytes = *std::move(latin);
      } else if (!(role == GlobalRole::kByteArray && a.empty())) {
        return OpError(absl::StrCat("unexpected arguments to ", Obj(callable).text));
      }
      absl::StatusOr<PickleRef> ref = New(PickleKind::kBytes);
      if (!ref.ok()) return ref.status();
      Obj(*ref).text = std::move(bytes);
      return Push(*ref);
    }
    default:
      break;
  }
  absl::StatusOr<PickleRef> ref = New(PickleKind::kObject);
  if (!ref.ok()) return ref.status();
  Obj(*ref).callable = callable;
  Obj(*ref).args = args;
  return Push(*ref);
}

absl::Status Machine::Step(uint8_t op, bool& stop) {
  switch (op) {
    case kProto: {
      absl::StatusOr<uint64_t> v = TakeLe(1, "protocol");
      if (!v.ok()) return v.status();
      if (*v < 2 || *v > 5) {
        return OpError(absl::StrCat("expected pickle protocol 2 to 5, got ", *v));
      }
      return absl::OkStatus();
    }
    case kFrame: {
      absl::StatusOr<uint64_t> n = TakeLe(8, "frame size");
      if (!n.ok()) return n.status();
      if (*n > in_.size() - pos_) return OpError("frame runs past the end of the pickle");
      return absl::OkStatus();  // framing is a buffering hint only
    }
    case kStop:
      stop = true;
      return absl::OkStatus();
    case kMark:
      if (stack_.size() + marks_.size() >= limits_.max_stack) {
        return OpError(absl::StrCat("stack deeper than ", limits_.max_stack, " entries"));
      }
      marks_.push_back(stack_.size());
      return absl::OkStatus();
    case kPop:
      if (stack_.size() > FrameBase()) {
        stack_.pop_back();
      } else if (!marks_.empty()) {
        marks_.pop_back();
      } else {
        return OpError("expected a value to POP, found an empty stack");
      }
      return absl::OkStatus();
    case kPopMark:
      return PopMark().status();
    case kDup: {
      absl::StatusOr<PickleRef> top = Top("a value to DUP");
      if (!top.ok()) return top.status();
      return Push(*top);
    }
    case kNone:
      return PushNew(PickleKind::kNone);
    case kNewTrue:
    case kNewFalse: {
      absl::StatusOr<PickleRef> ref = New(PickleKind::kBool);
      if (!ref.ok()) return ref.status();
      Obj(*ref).boolean = op == kNewTrue;
      return Push(*ref);
    }
    case kBinInt:
    case kBinInt1:
    case kBinInt2: {
      const int width = op == kBinInt ? 4 : op == kBinInt1 ? 1 : 2;
      absl::StatusOr<uint64_t> v = TakeLe(width, "integer");
      if (!v.ok()) return v.status();
      absl::StatusOr<PickleRef> ref = New(PickleKind::kInt);
      if (!ref.ok()) return ref.status();
      Obj(*ref).integer = op == kBinInt ? static_cast<int32_t>(static_cast<uint32_t>(*v))
                                        : static_cast<int64_t>(*v);
      return Push(*ref);
    }
    case kLong1:
    case kLong4: {
      absl::StatusOr<uint64_t> n = TakeLe(op == kLong1 ? 1 : 4, "long length");
      if (!n.ok()) return n.status();
      if (*n > limits_.max_long_bytes) {
        return OpError(absl::StrCat("long integer of ", *n, " bytes; expected at most ",
                                    limits_.max_long_bytes));
      }
      absl::StatusOr<std::string_view> s = Take(*n, "long integer");
      if (!s.ok()) return s.status();
      if (s->size() <= 8) {
        uint64_t v = 0;
        for (size_t i = s->size(); i-- > 0;) v = (v << 8) | static_cast<uint8_t>((*s)[i]);
        if (!s->empty() && s->size() < 8 && (static_cast<uint8_t>(s->back()) & 0x80)) {
          v |= ~uint64_t{0} << (8 * s->size());  // sign-extend
        }
        absl::StatusOr<PickleRef> ref = New(PickleKind::kInt);
        if (!ref.ok()) return ref.status();
        Obj(*ref).integer = static_cast<int64_t>(v);
        return Push(*ref);
      }
      absl::StatusOr<PickleRef> ref = New(PickleKind::kBigInt);
      if (!ref.ok()) return ref.status();
      Obj(*ref).text.assign(s->data(), s->size());
      return Push(*ref);
    }
    case kBinFloat: {
      absl::StatusOr<std::string_view> s = Take(8, "float");
      if (!s.ok()) return s.status();
      uint64_t bits = 0;
      for (char c : *s) bits = (bits << 8) | static_cast<uint8_t>(c);  // big-endian
      absl::StatusOr<PickleRef> ref = New(PickleKind::kFloat);
      if (!ref.ok()) return ref.status();
      std::memcpy(&Obj(*ref).real, &bits, sizeof(bits));
      return Push(*ref);
    }
    case kShortBinUnicode:
    case kBinUnicode:
    case kBinUnicode8:
    case kShortBinString:
    case kBinString: {
      const int width = (op == kShortBinUnicode || op == kShortBinString) ? 1
                        : op == kBinUnicode8                              ? 8
                                                                          : 4;
      absl::StatusOr<uint64_t> n = TakeLe(width, "string length");
      if (!n.ok()) return n.status();
      return PushText(PickleKind::kString, *n, "string");
    }
    case kShortBinBytes:
    case kBinBytes:
    case kBinBytes8: {
      const int width = op == kShortBinBytes ? 1 : op == kBinBytes ? 4 : 8;
      absl::StatusOr<uint64_t> n = TakeLe(width, "bytes length");
      if (!n.ok()) return n.status();
      return PushText(PickleKind::kBytes, *n, "bytes");
    }
    case kEmptyTuple:
      return PushSequence(PickleKind::kTuple, {});
    case kTuple1:
    case kTuple2:
    case kTuple3: {
      const size_t n = op - kTuple1 + 1;
      if (stack_.size() < FrameBase() + n) {
        return OpError(absl::StrCat("expected ", n, " values on the stack for a tuple"));
      }
      std::vector<PickleRef> items(stack_.end() - static_cast<std::ptrdiff_t>(n), stack_.end());
      stack_.resize(stack_.size() - n);
      return PushSequence(PickleKind::kTuple, std::move(items));
    }
    case kTuple:
    case kList:
    case kFrozenSet: {
      absl::StatusOr<std::vector<PickleRef>> items = PopMark();
      if (!items.ok()) return items.status();
      return PushSequence(op == kTuple  ? PickleKind::kTuple
                          : op == kList ? PickleKind::kList
                                        : PickleKind::kSet,
                          *std::move(items));
    }
    case kEmptyList:
      return PushNew(PickleKind::kList);
    case kEmptySet:
      return PushNew(PickleKind::kSet);
    case kEmptyDict:
      return PushNew(PickleKind::kDict);
    case kDict: {
      absl::StatusOr<std::vector<PickleRef>> items = PopMark();
      if (!items.ok()) return items.status();
      absl::StatusOr<PickleRef> ref = New(PickleKind::kDict);
      if (!ref.ok()) return ref.status();
      if (absl::Status s = SetItems(*ref, *items); !s.ok()) return s;
      return Push(*ref);
    }
    case kAppend: {
      absl::StatusOr<PickleRef> value = Pop("a value to APPEND");
      if (!value.ok()) return value.status();
      absl::StatusOr<PickleRef> target = Top("a list to APPEND to");
      if (!target.ok()) return target.status();
      return AddItems(*target, {*value});
    }
    case kAppends:
    case kAddItems: {
      absl::StatusOr<std::vector<PickleRef>> items = PopMark();
      if (!items.ok()) return items.status();
      absl::StatusOr<PickleRef> target = Top("a list to extend");
      if (!target.ok()) return target.status();
      return AddItems(*target, *std::move(items));
    }
    case kSetItem: {
      absl::StatusOr<PickleRef> value = Pop("a value to SETITEM");
      if (!value.ok()) return value.status();
      absl::StatusOr<PickleRef> key = Pop("a key to SETITEM");
      if (!key.ok()) return key.status();
      absl::StatusOr<PickleRef> target = Top("a dict to SETITEM in");
      if (!target.ok()) return target.status();
      return SetItems(*target, {*key, *value});
    }
    case kSetItems: {
      absl::StatusOr<std::vector<PickleRef>> items = PopMark();
      if (!items.ok()) return items.status();
      absl::StatusOr<PickleRef> target = Top("a dict to SETITEMS in");
      if (!target.ok()) return target.status();
      return SetItems(*target, *items);
    }
    case kBinPut:
    case kLongBinPut: {
      absl::StatusOr<uint64_t> index = TakeLe(op == kBinPut ? 1 : 4, "memo index");
      if (!index.ok()) return index.status();
      return Memo(*index);
    }
    case kMemoize:
      return Memo(memo_.size());
    case kBinGet:
    case kLongBinGet: {
      absl::StatusOr<uint64_t> index = TakeLe(op == kBinGet ? 1 : 4, "memo index");
      if (!index.ok()) return index.status();
      return Get(*index);
    }
    case kGlobal: {
      absl::StatusOr<std::string_view> module = TakeLine("a module name");
      if (!module.ok()) return module.status();
      absl::StatusOr<std::string_view> name = TakeLine("a global name");
      if (!name.ok()) return name.status();
      return PushGlobal(*module, *name);
    }
    case kStackGlobal: {
      absl::StatusOr<PickleRef> name = Pop("a global name");
      if (!name.ok()) return name.status();
      absl::StatusOr<PickleRef> module = Pop("a module name");
      if (!module.ok()) return module.status();
      if (Obj(*name).kind != PickleKind::kString || Obj(*module).kind != PickleKind::kString) {
        return OpError("expected two strings for STACK_GLOBAL");
      }
      const std::string m = Obj(*module).text;
      const std::string n = Obj(*name).text;
      return PushGlobal(m, n);
    }
    case kReduce: {
      absl::StatusOr<PickleRef> args = Pop("an argument tuple");
      if (!args.ok()) return args.status();
      absl::StatusOr<PickleRef> callable = Pop("a callable");
      if (!callable.ok()) return callable.status();
      return Reduce(*callable, *args);
    }
    case kNewObj:
    case kNewObjEx: {
      if (op == kNewObjEx) {
        absl::StatusOr<PickleRef> kwargs = Pop("keyword arguments");
        if (!kwargs.ok()) return kwargs.status();
      }
      absl::StatusOr<PickleRef> args = Pop("an argument tuple");
      if (!args.ok()) return args.status();
      absl::StatusOr<PickleRef> cls = Pop("a class");
      if (!cls.ok()) return cls.status();
      if (Obj(*cls).kind != PickleKind::kGlobal || Obj(*args).kind != PickleKind::kTuple) {
        return OpError("expected a class global and an argument tuple for NEWOBJ");
      }
      absl::StatusOr<PickleRef> ref = New(PickleKind::kObject);
      if (!ref.ok()) return ref.status();
      Obj(*ref).callable = *cls;
      Obj(*ref).args = *args;
      return Push(*ref);
    }
    case kBuild: {
      absl::StatusOr<PickleRef> state = Pop("a state to BUILD with");
      if (!state.ok()) return state.status();
      absl::StatusOr<PickleRef> target = Top("an object to BUILD");
      if (!target.ok()) return target.status();
      PickleObject& t = Obj(*target);
      if (t.kind == PickleKind::kObject) {
        t.state = *state;
      } else if (t.kind != PickleKind::kDict && t.kind != PickleKind::kList) {
        // A dict's state is its attributes (an OrderedDict's _metadata): not tensor data.
        return OpError(absl::StrCat("expected an object to BUILD, found ", KindName(t.kind)));
      }
      return absl::OkStatus();
    }
    case kBinPersId: {
      absl::StatusOr<PickleRef> pid = Pop("a persistent id");
      if (!pid.ok()) return pid.status();
      absl::StatusOr<PickleRef> ref = New(PickleKind::kPersistent);
      if (!ref.ok()) return ref.status();
      Obj(*ref).args = *pid;
      return Push(*ref);
    }
    default:
      return OpError(absl::StrCat("unsupported pickle opcode 0x", absl::Hex(op, absl::kZeroPad2),
                                  "; expected one of the opcodes state dicts and tensors use"));
  }
}

absl::StatusOr<PickleGraph> Machine::Run() {
  bool stop = false;
  while (!stop) {
    if (pos_ >= in_.size()) {
      return Error(pos_, "expected a pickle opcode, the pickle ends before STOP");
    }
    op_at_ = pos_;
    const uint8_t op = static_cast<uint8_t>(in_[pos_++]);
    if (absl::Status s = Step(op, stop); !s.ok()) return s;
  }
  if (!marks_.empty() || stack_.size() != 1) {
    return OpError(absl::StrCat("expected exactly one value on the stack at STOP, found ",
                                stack_.size(), marks_.empty() ? "" : " and a mark"));
  }
  graph_.root = stack_.back();
  graph_.end_offset = base_ + pos_;
  return std::move(graph_);
}

}  // namespace

absl::StatusOr<PickleGraph> Unpickle(std::string_view bytes, const std::string& path,
                                     uint64_t base_offset, const PickleLimits& limits) {
  Machine machine(bytes, path, base_offset, limits);
  return machine.Run();
}

}  // namespace weightprint::indexer::internal
