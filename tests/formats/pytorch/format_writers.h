// Test-side writers for the PyTorch and NumPy reader tests, built byte by byte from the
// specifications (PKWARE APPNOTE, CPython's pickletools, NumPy's NEP 1) and independent of the
// readers under test: a zip writer (stored or deflated members, optional ZIP64 records), a
// pickle writer that emits the opcodes torch.save uses, a torch checkpoint builder and an .npy
// writer. Each can also produce malformed output. Not thread-safe; one writer per thread.
#ifndef WEIGHTPRINT_TESTS_FORMATS_PYTORCH_FORMAT_WRITERS_H_
#define WEIGHTPRINT_TESTS_FORMATS_PYTORCH_FORMAT_WRITERS_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace weightprint::testing {

class ZipWriter {
 public:
  struct Member {
    std::string name;
    std::string data;
    bool deflate = false;
    uint16_t flags = 0;
    uint16_t method_override = 0xFFFF;  // != 0xFFFF: written as the method
    std::string local_extra;            // e.g. alignment padding, as torch writes
  };
  Member& Add(std::string name, std::string data, bool deflate = false);

  // Writes every size and offset through ZIP64 records (extra fields, ZIP64 end record and
  // locator), as archives over 4 GB must.
  void set_zip64(bool zip64) { zip64_ = zip64; }

  std::string Build();

  // Filled by Build(): where each member's local header and data start, and the central
  // directory and end records.
  std::vector<uint64_t> local_offsets;
  std::vector<uint64_t> data_offsets;
  std::vector<uint64_t> central_offsets;
  uint64_t cd_offset = 0;
  uint64_t zip64_end_offset = 0;
  uint64_t end_offset = 0;

 private:
  std::vector<Member> members_;
  bool zip64_ = false;
};

// Raw deflate (no zlib header) of `data`.
std::string Deflate(const std::string& data);
uint32_t Crc32(const std::string& data);

class PickleWriter {
 public:
  PickleWriter& Proto(int version);
  PickleWriter& Op(uint8_t opcode);
  PickleWriter& Raw(const std::string& bytes);
  PickleWriter& Global(const std::string& module, const std::string& name);
  PickleWriter& Str(const std::string& s);    // BINUNICODE
  PickleWriter& Bytes(const std::string& s);  // BINBYTES
  PickleWriter& Int(int64_t v);               // BININT1/BININT2/BININT/LONG1
  PickleWriter& Bool(bool v);
  PickleWriter& None();
  PickleWriter& Mark();
  PickleWriter& Tuple();  // TUPLE (from the mark)
  PickleWriter& EmptyTuple();
  PickleWriter& EmptyDict();
  PickleWriter& EmptyList();
  PickleWriter& SetItems();
  PickleWriter& Appends();
  PickleWriter& Reduce();
  PickleWriter& Build();
  PickleWriter& NewObj();
  PickleWriter& BinPersId();
  PickleWriter& Put(uint32_t index);
  PickleWriter& Get(uint32_t index);
  PickleWriter& Stop();
  PickleWriter& IntTuple(const std::vector<int64_t>& values);

  // torch._utils._rebuild_tensor_v2((storage pid), offset, size, stride, False, OrderedDict())
  // with pid ('storage', torch.<storage_type>, key, 'cpu', numel).
  PickleWriter& RebuildTensor(const std::string& storage_type, const std::string& key,
                              int64_t numel, int64_t offset, const std::vector<int64_t>& shape,
                              const std::vector<int64_t>& stride);

  const std::string& bytes() const { return out_; }

 private:
  std::string out_;
};

// One tensor of a hand-built torch checkpoint.
struct TorchTensorSpec {
  std::string name;
  std::string storage_type;  // "FloatStorage", ...
  std::string key;           // storage key (member ARCHIVE/data/KEY)
  int64_t numel = 0;         // storage elements
  int64_t offset = 0;
  std::vector<int64_t> shape;
  std::vector<int64_t> stride;
};

// A torch.save-style zip: ARCHIVE/data.pkl (an OrderedDict of the tensors), ARCHIVE/data/KEY
// for each storage (`storages` pairs of key and bytes), ARCHIVE/version and, when
// `byteorder` is non-empty, ARCHIVE/byteorder.
std::string BuildTorchZip(const std::vector<TorchTensorSpec>& tensors,
                          const std::vector<std::pair<std::string, std::string>>& storages,
                          const std::string& byteorder = "little",
                          const std::string& archive = "archive");
// The data.pkl BuildTorchZip writes.
std::string StateDictPickle(const std::vector<TorchTensorSpec>& tensors);

// A legacy (pre-1.6) torch.save stream: magic, protocol 1001, sys_info, the state-dict pickle
// (persistent ids with a None view), the storage key list, then per storage an 8-byte element
// count and the raw bytes, in `storages` order. Counts and data in the given byte order.
std::string BuildTorchLegacy(const std::vector<TorchTensorSpec>& tensors,
                             const std::vector<std::pair<std::string, std::string>>& storages,
                             bool little_endian = true);

// An .npy file: header dict written as given (`descr`, `fortran_order` as "True"/"False",
// `shape` as Python tuple text), padded as NumPy pads, then `data`.
std::string BuildNpy(const std::string& descr, const std::string& fortran_order,
                     const std::string& shape, const std::string& data, int major_version = 1);

}  // namespace weightprint::testing

#endif  // WEIGHTPRINT_TESTS_FORMATS_PYTORCH_FORMAT_WRITERS_H_
