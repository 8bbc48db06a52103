#include "tests/formats/pytorch/format_writers.h"

#include <zlib.h>

#include <cstring>
#include <stdexcept>

namespace weightprint::testing {
namespace {

void Put16(std::string& s, uint16_t v) {
  s.push_back(static_cast<char>(v & 0xFF));
  s.push_back(static_cast<char>(v >> 8));
}
void Put32(std::string& s, uint32_t v) {
  Put16(s, static_cast<uint16_t>(v & 0xFFFF));
  Put16(s, static_cast<uint16_t>(v >> 16));
}
void Put64(std::string& s, uint64_t v) {
  Put32(s, static_cast<uint32_t>(v & 0xFFFFFFFF));
  Put32(s, static_cast<uint32_t>(v >> 32));
}

}  // namespace

std::string Deflate(const std::string& data) {
  z_stream zs;
  std::memset(&zs, 0, sizeof(zs));
  if (deflateInit2(&zs, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    throw std::runtime_error("deflateInit2");
  }
  std::string out(deflateBound(&zs, data.size()) + 16, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  if (deflate(&zs, Z_FINISH) != Z_STREAM_END) throw std::runtime_error("deflate");
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

uint32_t Crc32(const std::string& data) {
  return static_cast<uint32_t>(
      crc32(0, reinterpret_cast<const Bytef*>(data.data()), static_cast<uInt>(data.size())));
}

ZipWriter::Member& ZipWriter::Add(std::string name, std::string data, bool deflate) {
  Member m;
  m.name = std::move(name);
  m.data = std::move(data);
  m.deflate = deflate;
  members_.push_back(std::move(m));
  return members_.back();
}

std::string ZipWriter::Build() {
  std::string out;
  local_offsets.clear();
  data_offsets.clear();
  central_offsets.clear();
  std::vector<std::string> payloads;
  for (const Member& m : members_) {
    const std::string payload = m.deflate ? Deflate(m.data) : m.data;
    const uint16_t method = m.method_override != 0xFFFF ? m.method_override : (m.deflate ? 8 : 0);
    local_offsets.push_back(out.size());
    Put32(out, 0x04034b50);
    Put16(out, zip64_ ? 45 : 20);
    Put16(out, m.flags);
    Put16(out, method);
    Put16(out, 0);     // time
    Put16(out, 0x21);  // date
    Put32(out, Crc32(m.data));
    Put32(out, zip64_ ? 0xFFFFFFFF : static_cast<uint32_t>(payload.size()));
    Put32(out, zip64_ ? 0xFFFFFFFF : static_cast<uint32_t>(m.data.size()));
    Put16(out, static_cast<uint16_t>(m.name.size()));
    std::string extra = m.local_extra;
    if (zip64_) {
      std::string z;
      Put16(z, 1);
      Put16(z, 16);
      Put64(z, m.data.size());
      Put64(z, payload.size());
      extra = z + extra;
    }
    Put16(out, static_cast<uint16_t>(extra.size()));
    out += m.name;
    out += extra;
    data_offsets.push_back(out.size());
    out += payload;
    payloads.push_back(payload);
  }
  cd_offset = out.size();
  for (size_t i = 0; i < members_.size(); ++i) {
    const Member& m = members_[i];
    const uint16_t method = m.method_override != 0xFFFF ? m.method_override : (m.deflate ? 8 : 0);
    central_offsets.push_back(out.size());
    Put32(out, 0x02014b50);
    Put16(out, 0x031e);  // made by: unix, 3.0
    Put16(out, zip64_ ? 45 : 20);
    Put16(out, m.flags);
    Put16(out, method);
    Put16(out, 0);
    Put16(out, 0x21);
    Put32(out, Crc32(m.data));
    std::string extra;
    if (zip64_) {
      Put16(extra, 1);
      Put16(extra, 24);
      Put64(extra, m.data.size());
      Put64(extra, payloads[i].size());
      Put64(extra, local_offsets[i]);
    }
    Put32(out, zip64_ ? 0xFFFFFFFF : static_cast<uint32_t>(payloads[i].size()));
    Put32(out, zip64_ ? 0xFFFFFFFF : static_cast<uint32_t>(m.data.size()));
    Put16(out, static_cast<uint16_t>(m.name.size()));
    Put16(out, static_cast<uint16_t>(extra.size()));
    Put16(out, 0);  // comment
    Put16(out, 0);  // disk
    Put16(out, 0);  // internal attributes
    Put32(out, 0);  // external attributes
    Put32(out, zip64_ ? 0xFFFFFFFF : static_cast<uint32_t>(local_offsets[i]));
    out += m.name;
    out += extra;
  }
  const uint64_t cd_size = out.size() - cd_offset;
  if (zip64_) {
    zip64_end_offset = out.size();
    Put32(out, 0x06064b50);
    Put64(out, 44);
    Put16(out, 45);
    Put16(out, 45);
    Put32(out, 0);
    Put32(out, 0);
    Put64(out, members_.size());
    Put64(out, members_.size());
    Put64(out, cd_size);
    Put64(out, cd_offset);
    Put32(out, 0x07064b50);
    Put32(out, 0);
    Put64(out, zip64_end_offset);
    Put32(out, 1);
  }
  end_offset = out.size();
  Put32(out, 0x06054b50);
  Put16(out, 0);
  Put16(out, 0);
  Put16(out, zip64_ ? 0xFFFF : static_cast<uint16_t>(members_.size()));
  Put16(out, zip64_ ? 0xFFFF : static_cast<uint16_t>(members_.size()));
  Put32(out, zip64_ ? 0xFFFFFFFF : static_cast<uint32_t>(cd_size));
  Put32(out, zip64_ ? 0xFFFFFFFF : static_cast<uint32_t>(cd_offset));
  Put16(out, 0);
  return out;
}

PickleWriter& PickleWriter::Proto(int version) {
  out_.push_back(static_cast<char>(0x80));
  out_.push_back(static_cast<char>(version));
  return *this;
}
PickleWriter& PickleWriter::Op(uint8_t opcode) {
  out_.push_back(static_cast<char>(opcode));
  return *this;
}
PickleWriter& PickleWriter::Raw(const std::string& bytes) {
  out_ += bytes;
  return *this;
}
PickleWriter& PickleWriter::Global(const std::string& module, const std::string& name) {
  out_ += "c" + module + "\n" + name + "\n";
  return *this;
}
PickleWriter& PickleWriter::Str(const std::string& s) {
  out_.push_back('X');
  Put32(out_, static_cast<uint32_t>(s.size()));
  out_ += s;
  return *this;
}
PickleWriter& PickleWriter::Bytes(const std::string& s) {
  out_.push_back('B');
  Put32(out_, static_cast<uint32_t>(s.size()));
  out_ += s;
  return *this;
}
PickleWriter& PickleWriter::Int(int64_t v) {
  if (v >= 0 && v < 256) {
    out_.push_back('K');
    out_.push_back(static_cast<char>(v));
  } else if (v >= 0 && v < 65536) {
    out_.push_back('M');
    Put16(out_, static_cast<uint16_t>(v));
  } else if (v >= INT32_MIN && v <= INT32_MAX) {
    out_.push_back('J');
    Put32(out_, static_cast<uint32_t>(static_cast<int32_t>(v)));
  } else {
    out_.push_back(static_cast<char>(0x8a));
    out_.push_back(8);
    Put64(out_, static_cast<uint64_t>(v));
  }
  return *this;
}
PickleWriter& PickleWriter::Bool(bool v) { return Op(v ? 0x88 : 0x89); }
PickleWriter& PickleWriter::None() { return Op('N'); }
PickleWriter& PickleWriter::Mark() { return Op('('); }
PickleWriter& PickleWriter::Tuple() { return Op('t'); }
PickleWriter& PickleWriter::EmptyTuple() { return Op(')'); }
PickleWriter& PickleWriter::EmptyDict() { return Op('}'); }
PickleWriter& PickleWriter::EmptyList() { return Op(']'); }
PickleWriter& PickleWriter::SetItems() { return Op('u'); }
PickleWriter& PickleWriter::Appends() { return Op('e'); }
PickleWriter& PickleWriter::Reduce() { return Op('R'); }
PickleWriter& PickleWriter::Build() { return Op('b'); }
PickleWriter& PickleWriter::NewObj() { return Op(0x81); }
PickleWriter& PickleWriter::BinPersId() { return Op('Q'); }
PickleWriter& PickleWriter::Put(uint32_t index) {
  if (index < 256) {
    out_.push_back('q');
    out_.push_back(static_cast<char>(index));
  } else {
    out_.push_back('r');
    Put32(out_, index);
  }
  return *this;
}
PickleWriter& PickleWriter::Get(uint32_t index) {
  if (index < 256) {
    out_.push_back('h');
    out_.push_back(static_cast<char>(index));
  } else {
    out_.push_back('j');
    Put32(out_, index);
  }
  return *this;
}
PickleWriter& PickleWriter::Stop() { return Op('.'); }
PickleWriter& PickleWriter::IntTuple(const std::vector<int64_t>& values) {
  Mark();
  for (int64_t v : values) Int(v);
  return Tuple();
}

PickleWriter& PickleWriter::RebuildTensor(const std::string& storage_type, const std::string& key,
                                          int64_t numel, int64_t offset,
                                          const std::vector<int64_t>& shape,
                                          const std::vector<int64_t>& stride) {
  Global("torch._utils", "_rebuild_tensor_v2");
  Mark();
  Mark().Str("storage").Global("torch", storage_type).Str(key).Str("cpu").Int(numel).Tuple();
  BinPersId();
  Int(offset).IntTuple(shape).IntTuple(stride).Bool(false);
  Global("collections", "OrderedDict").EmptyTuple().Reduce();
  Tuple();
  return Reduce();
}

std::string StateDictPickle(const std::vector<TorchTensorSpec>& tensors) {
  PickleWriter w;
  w.Proto(2).Global("collections", "OrderedDict").Put(0).EmptyTuple().Reduce().Put(1).Mark();
  for (const TorchTensorSpec& t : tensors) {
    w.Str(t.name).RebuildTensor(t.storage_type, t.key, t.numel, t.offset, t.shape, t.stride);
  }
  w.SetItems().Stop();
  return w.bytes();
}

std::string BuildTorchZip(const std::vector<TorchTensorSpec>& tensors,
                          const std::vector<std::pair<std::string, std::string>>& storages,
                          const std::string& byteorder, const std::string& archive) {
  ZipWriter zip;
  zip.Add(archive + "/data.pkl", StateDictPickle(tensors));
  if (!byteorder.empty()) zip.Add(archive + "/byteorder", byteorder);
  for (const auto& [key, bytes] : storages) {
    // torch pads local headers so that storage data is 64-byte aligned; imitate it.
    ZipWriter::Member& m = zip.Add(archive + "/data/" + key, bytes);
    m.local_extra = std::string("FB") + std::string("\x08\x00", 2) + std::string(8, 'Z');
  }
  zip.Add(archive + "/version", "3\n");
  return zip.Build();
}

std::string BuildTorchLegacy(const std::vector<TorchTensorSpec>& tensors,
                             const std::vector<std::pair<std::string, std::string>>& storages,
                             bool little_endian) {
  std::string out;
  out += std::string("\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.", 15);
  out += PickleWriter().Proto(2).Int(1001).Stop().bytes();
  PickleWriter info;
  info.Proto(2).EmptyDict().Mark().Str("protocol_version").Int(1001).Str("little_endian");
  info.Bool(little_endian).SetItems().Stop();
  out += info.bytes();
  PickleWriter main;
  main.Proto(2).Global("collections", "OrderedDict").EmptyTuple().Reduce().Mark();
  for (const TorchTensorSpec& t : tensors) {
    main.Str(t.name).Global("torch._utils", "_rebuild_tensor_v2").Mark();
    main.Mark().Str("storage").Global("torch", t.storage_type).Str(t.key).Str("cpu");
    main.Int(t.numel).None().Tuple().BinPersId();
    main.Int(t.offset).IntTuple(t.shape).IntTuple(t.stride).Bool(false);
    main.Global("collections", "OrderedDict").EmptyTuple().Reduce().Tuple().Reduce();
  }
  main.SetItems().Stop();
  out += main.bytes();
  PickleWriter keys;
  keys.Proto(2).EmptyList().Mark();
  for (const auto& [key, bytes] : storages) keys.Str(key);
  keys.Appends().Stop();
  out += keys.bytes();
  for (const auto& [key, bytes] : storages) {
    size_t element_size = 4;
    for (const TorchTensorSpec& t : tensors) {
      if (t.key == key && t.numel > 0) element_size = bytes.size() / t.numel;
    }
    const uint64_t count = bytes.size() / element_size;
    std::string field;
    Put64(field, count);
    if (!little_endian) field = std::string(field.rbegin(), field.rend());
    out += field + bytes;
  }
  return out;
}

std::string BuildNpy(const std::string& descr, const std::string& fortran_order,
                     const std::string& shape, const std::string& data, int major_version) {
  std::string dict = "{'descr': '" + descr + "', 'fortran_order': " + fortran_order +
                     ", 'shape': " + shape + ", }";
  const size_t prefix = major_version == 1 ? 10 : 12;
  size_t total = prefix + dict.size() + 1;
  const size_t padded = (total + 63) / 64 * 64;
  dict += std::string(padded - total, ' ') + "\n";
  std::string out = "\x93NUMPY";
  out.push_back(static_cast<char>(major_version));
  out.push_back(0);
  if (major_version == 1) {
    Put16(out, static_cast<uint16_t>(dict.size()));
  } else {
    Put32(out, static_cast<uint32_t>(dict.size()));
  }
  return out + dict + data;
}

}  // namespace weightprint::testing
