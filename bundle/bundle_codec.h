// The `.wpb` offline fingerprint bundle container, version 1 (docs/BUNDLES.md is the normative
// specification): a 24-byte header (magic "WPBUNDLE", format version, flags, body length), the
// body (a serialized weightprint.v1.ModelBundle) and the body's XXH3-128 checksum in canonical
// big-endian order. Nothing follows the checksum.
//
// Bundles are untrusted input: DecodeBundle checks every field of the frame before it touches
// the body and reports what is wrong with the origin (a file name), the byte offset and what
// was expected; it never crashes on any input. The body's fingerprints are not validated here
// (that is the registry's job, with the same rules as a registration).
//
// This library links only the generated protos, xxHash and wp_base, so a remote-only client can
// read and write bundles. Pure functions; thread-safe.
#ifndef WEIGHTPRINT_BUNDLE_BUNDLE_CODEC_H_
#define WEIGHTPRINT_BUNDLE_BUNDLE_CODEC_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "weightprint/v1/bundle.pb.h"

namespace weightprint::bundle {

// The eight ASCII bytes every bundle starts with.
inline constexpr std::string_view kBundleMagic = "WPBUNDLE";
// The container version this build reads and writes.
inline constexpr uint32_t kBundleFormatVersion = 1;
// Header: magic (8), version (4), flags (4), body length (8).
inline constexpr size_t kBundleHeaderSize = 24;
// Trailer: XXH3-128 of the body, high 64 bits first.
inline constexpr size_t kBundleChecksumSize = 16;
// The largest body a reader accepts (1 GiB: about 190,000 tensors with long sketches). A
// declared length above it is refused before anything is allocated.
inline constexpr uint64_t kMaxBundleBodyBytes = uint64_t{1} << 30;

// The whole file for `bundle`. INVALID_ARGUMENT if the body would exceed kMaxBundleBodyBytes.
absl::StatusOr<std::string> EncodeBundle(const weightprint::v1::ModelBundle& bundle);

// Parses a whole file. `origin` names it in error messages (a path, "<stdin>", "stream 3").
// INVALID_ARGUMENT, naming origin, byte offset and what was expected, for: a file shorter than
// the header, bad magic, unknown version, unknown flags, a declared body length over the limit,
// a truncated body or checksum, trailing bytes, a checksum mismatch, or a body that does not
// parse as a ModelBundle.
absl::StatusOr<weightprint::v1::ModelBundle> DecodeBundle(std::span<const std::byte> file,
                                                          std::string_view origin);
absl::StatusOr<weightprint::v1::ModelBundle> DecodeBundle(std::string_view file,
                                                          std::string_view origin);

// Reads and decodes the bundle file at `path` (errors name the path).
absl::StatusOr<weightprint::v1::ModelBundle> ReadBundleFile(const std::string& path);

// Writes `bundle` to `path` atomically: into a temporary file beside it, flushed, then renamed,
// so a reader never sees half a bundle.
absl::Status WriteBundleFile(const weightprint::v1::ModelBundle& bundle, const std::string& path);

}  // namespace weightprint::bundle

#endif  // WEIGHTPRINT_BUNDLE_BUNDLE_CODEC_H_
