#include "indexer/formats/tf/keras/internal/hdf5_file.h"

#include <hdf5.h>
#include <hdf5_hl.h>

#include <algorithm>
#include <cstring>
#include <mutex>
#include <utility>

#include "absl/strings/str_cat.h"

namespace weightprint::indexer::internal {
namespace {

constexpr unsigned char kSignature[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
// Datasets listed per file; a hostile file cannot make the listing unbounded.
constexpr size_t kMaxDatasets = 1 << 20;
constexpr int kMaxRank = 32;

// libhdf5's error stack is per thread in thread-safe builds: silence it on every thread that
// calls in, and switch plugin loading off once for the process.
void QuietHdf5() {
  static std::once_flag once;
  std::call_once(once, [] {
    H5open();
    H5PLset_loading_state(0);  // never dlopen a filter named by a file
  });
  thread_local bool quiet = false;
  if (!quiet) {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    quiet = true;
  }
}

// The innermost message on this thread's error stack, then clears it.
std::string TakeHdf5Error() {
  std::string message;
  H5Ewalk2(
      H5E_DEFAULT, H5E_WALK_UPWARD,
      [](unsigned n, const H5E_error2_t* err, void* data) -> herr_t {
        auto* out = static_cast<std::string*>(data);
        if (n == 0 && err != nullptr && err->desc != nullptr) *out = err->desc;
        return 0;
      },
      &message);
  H5Eclear2(H5E_DEFAULT);
  return message.empty() ? "libhdf5 reported an error" : message;
}

// Closes an HDF5 identifier with the matching function when it goes out of scope.
class Handle {
 public:
  using Closer = herr_t (*)(hid_t);
  Handle(hid_t id, Closer closer) : id_(id), closer_(closer) {}
  ~Handle() {
    if (id_ >= 0) closer_(id_);
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  hid_t get() const { return id_; }
  bool ok() const { return id_ >= 0; }

 private:
  hid_t id_;
  Closer closer_;
};

uint64_t ReadLE(std::span<const std::byte> b, uint64_t at, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) v |= static_cast<uint64_t>(b[at + i]) << (8 * i);
  return v;
}

absl::Status ImageError(const std::string& name, uint64_t offset, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat(name, ": offset ", offset, ": expected ", what));
}

// Our own checks of the superblock before libhdf5 sees the image.
absl::Status ValidateSuperblock(const std::string& name, std::span<const std::byte> bytes) {
  const std::optional<uint64_t> at = FindHdf5Superblock(bytes);
  if (!at.has_value()) {
    return ImageError(name, 0,
                      "the HDF5 signature \\x89HDF\\r\\n\\x1a\\n at offset 0, 512, 1024, ...");
  }
  const uint64_t size = bytes.size();
  const uint64_t sb = *at;
  if (size - sb < 12) return ImageError(name, sb + 8, "an HDF5 superblock (the file ends)");
  const unsigned version = static_cast<unsigned>(bytes[sb + 8]);
  size_t offset_size = 0, length_size = 0;
  uint64_t base_at = 0;  // where the base address field lies
  if (version == 0 || version == 1) {
    offset_size = static_cast<size_t>(bytes[sb + 13]);
    length_size = static_cast<size_t>(bytes[sb + 14]);
    base_at = sb + (version == 0 ? 24 : 28);
  } else if (version == 2 || version == 3) {
    offset_size = static_cast<size_t>(bytes[sb + 9]);
    length_size = static_cast<size_t>(bytes[sb + 10]);
    base_at = sb + 12;
  } else {
    return ImageError(name, sb + 8, absl::StrCat("superblock version 0 to 3, got ", version));
  }
  auto valid_size = [](size_t s) { return s == 2 || s == 4 || s == 8; };
  if (!valid_size(offset_size) || !valid_size(length_size)) {
    return ImageError(name, sb + (version < 2 ? 13 : 9),
                      absl::StrCat("offset and length sizes of 2, 4 or 8 bytes, got ",
                                   offset_size, " and ", length_size));
  }
  // Base address, then (v0/1) free-space address or (v2/3) extension address, then the
  // end-of-file address.
  const uint64_t eof_at = base_at + 2 * offset_size;
  if (eof_at + offset_size > size) {
    return ImageError(name, base_at, "a complete superblock (the file ends inside it)");
  }
  const uint64_t base = ReadLE(bytes, base_at, offset_size);
  const uint64_t eof = ReadLE(bytes, eof_at, offset_size);
  const uint64_t undefined = offset_size == 8 ? ~uint64_t{0} : (uint64_t{1} << (8 * offset_size)) - 1;
  if (base > size) {
    return ImageError(name, base_at, absl::StrCat("a base address inside the ", size,
                                                  "-byte file, got ", base));
  }
  if (eof == undefined || eof > size - base) {
    return ImageError(name, eof_at,
                      absl::StrCat("an end-of-file address within the ", size,
                                   "-byte file, got ", eof, " past base ", base, " (truncated?)"));
  }
  return absl::OkStatus();
}

struct VisitState {
  std::vector<std::string> datasets;
  std::string prefix;
  bool too_many = false;
};

herr_t VisitLink(hid_t group, const char* name, const H5L_info_t* info, void* data) {
  auto* state = static_cast<VisitState*>(data);
  if (info->type != H5L_TYPE_HARD) return 0;  // soft and external links are never followed
  H5O_info_t object;
  if (H5Oget_info_by_name2(group, name, &object, H5O_INFO_BASIC, H5P_DEFAULT) < 0) return -1;
  if (object.type == H5O_TYPE_DATASET) {
    if (state->datasets.size() >= kMaxDatasets) {
      state->too_many = true;
      return 1;
    }
    state->datasets.push_back(state->prefix + name);
  }
  return 0;
}

// The canonical dtype a dataset is read as, or nullopt for types that hold no weights.
absl::StatusOr<std::optional<DType>> DatasetDType(hid_t type) {
  const H5T_class_t cls = H5Tget_class(type);
  const size_t size = H5Tget_size(type);
  if (cls == H5T_INTEGER) {
    const bool is_signed = H5Tget_sign(type) == H5T_SGN_2;
    switch (size) {
      case 1: return std::optional<DType>(is_signed ? DType::kI8 : DType::kU8);
      case 2: return std::optional<DType>(is_signed ? DType::kI16 : DType::kU16);
      case 4: return std::optional<DType>(is_signed ? DType::kI32 : DType::kU32);
      case 8: return std::optional<DType>(is_signed ? DType::kI64 : DType::kU64);
      default: return std::optional<DType>();
    }
  }
  if (cls == H5T_FLOAT) {
    if (size == 4) return std::optional<DType>(DType::kF32);
    if (size == 8) return std::optional<DType>(DType::kF64);
    if (size == 2) {
      size_t spos, epos, esize, mpos, msize;
      if (H5Tget_fields(type, &spos, &epos, &esize, &mpos, &msize) < 0) {
        return absl::InvalidArgumentError(TakeHdf5Error());
      }
      const size_t bias = H5Tget_ebias(type);
      if (spos == 15 && epos == 10 && esize == 5 && mpos == 0 && msize == 10 && bias == 15) {
        return std::optional<DType>(DType::kF16);
      }
      if (spos == 15 && epos == 7 && esize == 8 && mpos == 0 && msize == 7 && bias == 127) {
        return std::optional<DType>(DType::kBF16);
      }
    }
    return absl::InvalidArgumentError(absl::StrCat(
        "a float type of IEEE half, bfloat16, single or double precision, got a ", size,
        "-byte custom float"));
  }
  return std::optional<DType>();
}

// The memory type ReadSlab asks libhdf5 for: little-endian, the dataset's own precision.
hid_t MemoryType(DType dtype, hid_t file_type, bool* owned) {
  *owned = false;
  switch (dtype) {
    case DType::kI8: return H5T_STD_I8LE;
    case DType::kU8: return H5T_STD_U8LE;
    case DType::kI16: return H5T_STD_I16LE;
    case DType::kU16: return H5T_STD_U16LE;
    case DType::kI32: return H5T_STD_I32LE;
    case DType::kU32: return H5T_STD_U32LE;
    case DType::kI64: return H5T_STD_I64LE;
    case DType::kU64: return H5T_STD_U64LE;
    case DType::kF32: return H5T_IEEE_F32LE;
    case DType::kF64: return H5T_IEEE_F64LE;
    default: {
      // Half and bfloat16 have no predefined type: the file's own type, little-endian.
      const hid_t t = H5Tcopy(file_type);
      if (t >= 0) {
        H5Tset_order(t, H5T_ORDER_LE);
        *owned = true;
      }
      return t;
    }
  }
}

}  // namespace

std::optional<uint64_t> FindHdf5Superblock(std::span<const std::byte> bytes) {
  for (uint64_t at = 0; at <= bytes.size() && bytes.size() - at >= sizeof(kSignature);
       at = at == 0 ? 512 : at * 2) {
    if (std::memcmp(bytes.data() + at, kSignature, sizeof(kSignature)) == 0) return at;
  }
  return std::nullopt;
}

absl::StatusOr<std::unique_ptr<Hdf5File>> Hdf5File::Open(const std::string& name,
                                                         std::span<const std::byte> bytes) {
  if (absl::Status s = ValidateSuperblock(name, bytes); !s.ok()) return s;
  QuietHdf5();
  // Read-only, no copy, and the caller keeps ownership of the bytes: libhdf5's core driver
  // reads the image in place and never writes to it.
  const hid_t file = H5LTopen_file_image(const_cast<std::byte*>(bytes.data()), bytes.size(),
                                         H5LT_FILE_IMAGE_DONT_COPY | H5LT_FILE_IMAGE_DONT_RELEASE);
  if (file < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ": expected a readable HDF5 file: ", TakeHdf5Error()));
  }
  return std::unique_ptr<Hdf5File>(new Hdf5File(name, file, bytes.size()));
}

Hdf5File::~Hdf5File() {
  QuietHdf5();
  H5Fclose(static_cast<hid_t>(file_id_));
}

bool Hdf5File::HasGroup(const std::string& path) const {
  QuietHdf5();
  const hid_t file = static_cast<hid_t>(file_id_);
  // Check each component is a hard link before opening, so no soft or external link is
  // followed.
  std::string prefix;
  size_t from = 1;
  while (from <= path.size()) {
    size_t slash = path.find('/', from);
    if (slash == std::string::npos) slash = path.size();
    prefix = path.substr(0, slash);
    H5L_info_t link;
    if (H5Lexists(file, prefix.c_str(), H5P_DEFAULT) <= 0 ||
        H5Lget_info(file, prefix.c_str(), &link, H5P_DEFAULT) < 0 || link.type != H5L_TYPE_HARD) {
      H5Eclear2(H5E_DEFAULT);
      return false;
    }
    from = slash + 1;
  }
  H5O_info_t object;
  if (H5Oget_info_by_name2(file, path.c_str(), &object, H5O_INFO_BASIC, H5P_DEFAULT) < 0) {
    H5Eclear2(H5E_DEFAULT);
    return false;
  }
  return object.type == H5O_TYPE_GROUP;
}

std::optional<std::string> Hdf5File::StringAttribute(const std::string& path,
                                                     const std::string& attr_name) const {
  QuietHdf5();
  const hid_t file = static_cast<hid_t>(file_id_);
  if (H5Aexists_by_name(file, path.c_str(), attr_name.c_str(), H5P_DEFAULT) <= 0) {
    H5Eclear2(H5E_DEFAULT);
    return std::nullopt;
  }
  Handle attr(H5Aopen_by_name(file, path.c_str(), attr_name.c_str(), H5P_DEFAULT, H5P_DEFAULT),
              H5Aclose);
  if (!attr.ok()) return std::nullopt;
  Handle type(H5Aget_type(attr.get()), H5Tclose);
  Handle space(H5Aget_space(attr.get()), H5Sclose);
  if (!type.ok() || !space.ok() || H5Tget_class(type.get()) != H5T_STRING ||
      H5Sget_simple_extent_npoints(space.get()) != 1) {
    H5Eclear2(H5E_DEFAULT);
    return std::nullopt;
  }
  constexpr size_t kMaxAttribute = size_t{64} << 20;
  if (H5Tis_variable_str(type.get()) > 0) {
    Handle mem(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(mem.get(), H5T_VARIABLE);
    char* value = nullptr;
    if (H5Aread(attr.get(), mem.get(), &value) < 0 || value == nullptr) {
      H5Eclear2(H5E_DEFAULT);
      return std::nullopt;
    }
    std::string out(value, strnlen(value, kMaxAttribute));
    H5free_memory(value);
    return out;
  }
  const size_t size = H5Tget_size(type.get());
  if (size == 0 || size > kMaxAttribute) return std::nullopt;
  std::string out(size, '\0');
  if (H5Aread(attr.get(), type.get(), out.data()) < 0) {
    H5Eclear2(H5E_DEFAULT);
    return std::nullopt;
  }
  out.resize(strnlen(out.data(), out.size()));
  return out;
}

absl::StatusOr<std::vector<Hdf5Dataset>> Hdf5File::ListDatasets(
    const std::string& group, const std::vector<std::string>& exclude, size_t* skipped) const {
  QuietHdf5();
  *skipped = 0;
  const hid_t file = static_cast<hid_t>(file_id_);
  VisitState state;
  state.prefix = group == "/" ? "/" : group + "/";
  {
    Handle g(H5Gopen2(file, group.c_str(), H5P_DEFAULT), H5Gclose);
    if (!g.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(name_, ": cannot open group ", group, ": ",
                                                     TakeHdf5Error()));
    }
    if (H5Lvisit(g.get(), H5_INDEX_NAME, H5_ITER_INC, VisitLink, &state) < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          name_, ": expected a readable group tree under ", group, ": ", TakeHdf5Error()));
    }
  }
  if (state.too_many) {
    return absl::InvalidArgumentError(
        absl::StrCat(name_, ": holds more than ", kMaxDatasets, " datasets"));
  }
  std::vector<Hdf5Dataset> out;
  for (const std::string& path : state.datasets) {
    const std::string relative = path.substr(state.prefix.size());
    if (std::any_of(exclude.begin(), exclude.end(), [&](const std::string& prefix) {
          return relative.compare(0, prefix.size(), prefix) == 0;
        })) {
      continue;
    }
    const std::string where = absl::StrCat(name_, ": dataset ", path, ": ");
    Handle dset(H5Dopen2(file, path.c_str(), H5P_DEFAULT), H5Dclose);
    if (!dset.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(where, "cannot open: ", TakeHdf5Error()));
    }
    Handle dcpl(H5Dget_create_plist(dset.get()), H5Pclose);
    if (!dcpl.ok()) return absl::InvalidArgumentError(absl::StrCat(where, TakeHdf5Error()));
    const H5D_layout_t layout = H5Pget_layout(dcpl.get());
    if (layout != H5D_COMPACT && layout != H5D_CONTIGUOUS && layout != H5D_CHUNKED) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, "expected compact, contiguous or chunked storage (virtual datasets refer to "
                 "other files and are refused)"));
    }
    if (H5Pget_external_count(dcpl.get()) != 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, "expected its data inside the file (external raw data files are refused)"));
    }
    Handle type(H5Dget_type(dset.get()), H5Tclose);
    Handle space(H5Dget_space(dset.get()), H5Sclose);
    if (!type.ok() || !space.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(where, TakeHdf5Error()));
    }
    absl::StatusOr<std::optional<DType>> dtype = DatasetDType(type.get());
    if (!dtype.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(where, "expected ", dtype.status().message()));
    }
    if (!dtype->has_value() || H5Sget_simple_extent_type(space.get()) == H5S_NULL) {
      ++*skipped;
      continue;
    }
    const int rank = H5Sget_simple_extent_ndims(space.get());
    if (rank < 0 || rank > kMaxRank) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, "expected a simple dataspace of rank at most ", kMaxRank));
    }
    hsize_t dims[kMaxRank];
    if (H5Sget_simple_extent_dims(space.get(), dims, nullptr) < 0) {
      return absl::InvalidArgumentError(absl::StrCat(where, TakeHdf5Error()));
    }
    Hdf5Dataset d;
    d.path = path;
    d.dtype = **dtype;
    uint64_t elements = 1;
    for (int k = 0; k < rank; ++k) {
      if (dims[k] > (uint64_t{1} << 50) || (dims[k] != 0 && elements > (uint64_t{1} << 50) / dims[k])) {
        return absl::InvalidArgumentError(absl::StrCat(where, "expected fewer than 2^50 elements"));
      }
      elements *= dims[k];
      d.shape.push_back(static_cast<int64_t>(dims[k]));
    }
    // What the dataset declares must be what it stores: libhdf5 returns fill values for
    // storage that was never written, so a dimension damaged to 10^9 would otherwise stream
    // gigabytes that are not in the file.
    const uint64_t declared = elements * H5Tget_size(type.get());
    const uint64_t stored = H5Dget_storage_size(dset.get());
    const uint64_t image = image_size_;
    if (layout == H5D_CHUNKED) {
      // Deflate cannot compress better than about 1032:1.
      if (declared > 0 && (stored == 0 || declared / 1100 > stored)) {
        return absl::InvalidArgumentError(absl::StrCat(
            where, "expected its chunks to store its ", declared, " declared bytes; they hold ",
            stored, " (damaged dimensions, or chunks never written)"));
      }
    } else if (stored != declared) {
      return absl::InvalidArgumentError(absl::StrCat(where, "declares ", declared,
                                                     " bytes of data but stores ", stored,
                                                     " (damaged dimensions or type?)"));
    }
    if (layout == H5D_CONTIGUOUS && declared > 0) {
      const haddr_t addr = H5Dget_offset(dset.get());
      if (addr == HADDR_UNDEF || addr > image || declared > image - addr) {
        return absl::InvalidArgumentError(absl::StrCat(
            where, "expected its ", declared, " bytes of contiguous data inside the ", image,
            "-byte file, at address ", addr == HADDR_UNDEF ? 0 : addr));
      }
      d.file_offset = addr;
    }
    H5Eclear2(H5E_DEFAULT);
    out.push_back(std::move(d));
  }
  return out;
}

absl::Status Hdf5File::ReadSlab(const Hdf5Dataset& dataset, const std::vector<uint64_t>& start,
                                const std::vector<uint64_t>& count,
                                std::span<std::byte> out) const {
  QuietHdf5();
  const hid_t file = static_cast<hid_t>(file_id_);
  const std::string where = absl::StrCat(name_, ": dataset ", dataset.path, ": ");
  Handle dset(H5Dopen2(file, dataset.path.c_str(), H5P_DEFAULT), H5Dclose);
  if (!dset.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(where, "cannot open: ", TakeHdf5Error()));
  }
  Handle file_type(H5Dget_type(dset.get()), H5Tclose);
  if (!file_type.ok()) return absl::InvalidArgumentError(absl::StrCat(where, TakeHdf5Error()));
  bool owned = false;
  const hid_t mem_type = MemoryType(dataset.dtype, file_type.get(), &owned);
  Handle mem_type_handle(owned ? mem_type : -1, H5Tclose);
  if (mem_type < 0) return absl::InvalidArgumentError(absl::StrCat(where, TakeHdf5Error()));
  herr_t status;
  if (dataset.shape.empty()) {
    status = H5Dread(dset.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data());
  } else {
    std::vector<hsize_t> s(start.begin(), start.end()), c(count.begin(), count.end());
    Handle file_space(H5Dget_space(dset.get()), H5Sclose);
    Handle mem_space(H5Screate_simple(static_cast<int>(c.size()), c.data(), nullptr), H5Sclose);
    if (!file_space.ok() || !mem_space.ok() ||
        H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, s.data(), nullptr, c.data(),
                            nullptr) < 0) {
      return absl::InvalidArgumentError(absl::StrCat(where, TakeHdf5Error()));
    }
    status = H5Dread(dset.get(), mem_type, mem_space.get(), file_space.get(), H5P_DEFAULT,
                     out.data());
  }
  if (status < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, "expected readable data: ", TakeHdf5Error()));
  }
  return absl::OkStatus();
}

}  // namespace weightprint::indexer::internal
