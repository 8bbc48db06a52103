#include "bundle/bundle_codec.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <limits>
#include <memory>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/mapped_file.h"
#include "xxhash.h"

namespace weightprint::bundle {
namespace {

void PutLe32(uint32_t v, std::string& out) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void PutLe64(uint64_t v, std::string& out) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
uint32_t GetLe32(const unsigned char* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
uint64_t GetLe64(const unsigned char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// The 16 checksum bytes of `body`: XXH3-128 in canonical (big-endian, high half first) form.
std::string BodyChecksum(const void* body, size_t size) {
  const XXH128_hash_t hash = XXH3_128bits(body, size);
  XXH128_canonical_t canonical;
  XXH128_canonicalFromHash(&canonical, hash);
  return std::string(reinterpret_cast<const char*>(canonical.digest), sizeof(canonical.digest));
}

absl::Status Bad(std::string_view origin, uint64_t offset, std::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat(std::string(origin), ": byte ", offset, ": not a weightprint bundle: ",
                   std::string(what)));
}

std::string ErrnoText(int err) { return std::strerror(err); }

}  // namespace

absl::StatusOr<std::string> EncodeBundle(const weightprint::v1::ModelBundle& bundle) {
  const size_t body_size = bundle.ByteSizeLong();
  if (body_size > kMaxBundleBodyBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("bundle body of ", body_size, " bytes exceeds the format's limit of ",
                     kMaxBundleBodyBytes, " bytes"));
  }
  std::string out;
  out.reserve(kBundleHeaderSize + body_size + kBundleChecksumSize);
  out.append(kBundleMagic);
  PutLe32(kBundleFormatVersion, out);
  PutLe32(/*flags=*/0, out);
  PutLe64(body_size, out);
  const size_t body_at = out.size();
  out.resize(body_at + body_size);
  if (!bundle.SerializeToArray(out.data() + body_at, static_cast<int>(body_size))) {
    return absl::InternalError("bundle body could not be serialized");
  }
  out.append(BodyChecksum(out.data() + body_at, body_size));
  return out;
}

absl::StatusOr<weightprint::v1::ModelBundle> DecodeBundle(std::span<const std::byte> file,
                                                          std::string_view origin) {
  const auto* p = reinterpret_cast<const unsigned char*>(file.data());
  const uint64_t size = file.size();
  if (size < kBundleMagic.size() ||
      std::memcmp(p, kBundleMagic.data(), kBundleMagic.size()) != 0) {
    const size_t shown = std::min<uint64_t>(size, kBundleMagic.size());
    return Bad(origin, 0,
               absl::StrCat("expected the magic \"WPBUNDLE\", found \"",
                            absl::CHexEscape(absl::string_view(
                                reinterpret_cast<const char*>(p), shown)),
                            "\""));
  }
  if (size < kBundleHeaderSize) {
    return Bad(origin, size,
               absl::StrCat("file ends inside the ", kBundleHeaderSize, "-byte header (",
                            size, " bytes)"));
  }
  const uint32_t version = GetLe32(p + 8);
  if (version != kBundleFormatVersion) {
    return Bad(origin, 8,
               absl::StrCat("unknown format version ", version, " (this build reads version ",
                            kBundleFormatVersion, ")"));
  }
  const uint32_t flags = GetLe32(p + 12);
  if (flags != 0) {
    return Bad(origin, 12,
               absl::StrFormat("unknown flags 0x%08x (version 1 defines none; expected 0)",
                               flags));
  }
  const uint64_t body_size = GetLe64(p + 16);
  if (body_size > kMaxBundleBodyBytes) {
    return Bad(origin, 16,
               absl::StrCat("body length ", body_size, " exceeds the limit of ",
                            kMaxBundleBodyBytes, " bytes"));
  }
  const uint64_t body_end = kBundleHeaderSize + body_size;
  if (size < body_end) {
    return Bad(origin, size,
               absl::StrCat("truncated body: the header declares ", body_size,
                            " body bytes ending at byte ", body_end, ", but the file has ",
                            size, " bytes"));
  }
  if (size < body_end + kBundleChecksumSize) {
    return Bad(origin, size,
               absl::StrCat("truncated checksum: expected ", kBundleChecksumSize,
                            " checksum bytes at byte ", body_end, ", the file has ",
                            size - body_end));
  }
  if (size > body_end + kBundleChecksumSize) {
    return Bad(origin, body_end + kBundleChecksumSize,
               absl::StrCat(size - body_end - kBundleChecksumSize,
                            " trailing bytes after the checksum (expected the end of the file)"));
  }
  const std::string expected = BodyChecksum(p + kBundleHeaderSize, body_size);
  if (std::memcmp(expected.data(), p + body_end, kBundleChecksumSize) != 0) {
    return Bad(origin, body_end,
               absl::StrCat("checksum mismatch: the body's XXH3-128 is ",
                            absl::BytesToHexString(expected), ", the file records ",
                            absl::BytesToHexString(absl::string_view(
                                reinterpret_cast<const char*>(p + body_end),
                                kBundleChecksumSize))));
  }
  weightprint::v1::ModelBundle bundle;
  if (!bundle.ParseFromArray(p + kBundleHeaderSize, static_cast<int>(body_size))) {
    return Bad(origin, kBundleHeaderSize,
               "body does not parse as a weightprint.v1.ModelBundle message");
  }
  return bundle;
}

absl::StatusOr<weightprint::v1::ModelBundle> DecodeBundle(std::string_view file,
                                                          std::string_view origin) {
  return DecodeBundle(
      std::span<const std::byte>(reinterpret_cast<const std::byte*>(file.data()), file.size()),
      origin);
}

absl::StatusOr<weightprint::v1::ModelBundle> ReadBundleFile(const std::string& path) {
  absl::StatusOr<std::unique_ptr<base::MappedFile>> file = base::MappedFile::Open(path);
  if (!file.ok()) {
    return absl::Status(file.status().code(),
                        absl::StrCat(path, ": ", file.status().message()));
  }
  return DecodeBundle((*file)->bytes(), path);
}

absl::Status WriteBundleFile(const weightprint::v1::ModelBundle& bundle,
                             const std::string& path) {
  absl::StatusOr<std::string> bytes = EncodeBundle(bundle);
  if (!bytes.ok()) return bytes.status();
  const std::string temp = absl::StrCat(path, ".tmp.", ::getpid());
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    return absl::UnavailableError(absl::StrCat(temp, ": cannot create: ", ErrnoText(errno)));
  }
  size_t written = 0;
  while (written < bytes->size()) {
    const ssize_t n = ::write(fd, bytes->data() + written, bytes->size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      ::unlink(temp.c_str());
      return absl::UnavailableError(absl::StrCat(temp, ": write failed: ", ErrnoText(err)));
    }
    written += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    const int err = errno;
    ::unlink(temp.c_str());
    return absl::UnavailableError(absl::StrCat(temp, ": flush failed: ", ErrnoText(err)));
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(temp.c_str());
    return absl::UnavailableError(
        absl::StrCat(path, ": cannot rename ", temp, " into place: ", ErrnoText(err)));
  }
  return absl::OkStatus();
}

}  // namespace weightprint::bundle
