"""Reading offline fingerprint bundles (.wpb) and making them with `weightprint fingerprint`.

A bundle is a model's fingerprints and metadata, written by the C++ fingerprinter; this module
never computes a fingerprint itself. Layout (docs/API.md, "Fingerprint bundles"): the magic
WPBUNDLE, a uint32 LE format version (1), uint32 LE flags (0), a uint64 LE body length N, N
bytes of a serialized weightprint.v1.ModelBundle, and the XXH3-128 of the body, big-endian.
Every check names the file and the byte offset it failed at.
"""
import dataclasses
import os
import pathlib
import shutil
import struct
import subprocess
import tempfile

from weightprint import _stubs
from weightprint.errors import BundleError, FingerprintError, WeightprintError

MAGIC = b"WPBUNDLE"
FORMAT_VERSION = 1
HEADER_BYTES = 24
CHECKSUM_BYTES = 16


@dataclasses.dataclass
class Bundle:
    """A decoded bundle: `info` and `tensors` are weightprint.v1 protobuf messages."""
    path: str
    info: object                 # weightprint.v1.ModelInfo
    tensors: list                # weightprint.v1.TensorFingerprint, in file order
    fingerprinter_version: str
    source: str
    created_unix: int


def _xxh3_128_digest(data):
    try:
        import xxhash
    except ImportError as error:
        raise WeightprintError(
            "reading bundles needs python3-xxhash (apt-get install python3-xxhash)") from error
    return xxhash.xxh3_128(data).digest()  # canonical: high 64 bits first


def is_bundle_file(path):
    """True if `path` names a bundle: a .wpb file, or any file starting with the magic."""
    path = pathlib.Path(path)
    if path.suffix == ".wpb":
        return True
    if not path.is_file():
        return False
    with open(path, "rb") as f:
        return f.read(len(MAGIC)) == MAGIC


def parse_bundle(data, path="<bytes>"):
    """Decodes bundle bytes; raises BundleError naming `path` and the offset on bad input."""
    size = len(data)
    minimum = HEADER_BYTES + CHECKSUM_BYTES
    if size < minimum:
        raise BundleError(path, size, f"file is {size} bytes; a bundle has at least {minimum} "
                                      "(24-byte header and 16-byte checksum)")
    if data[:8] != MAGIC:
        raise BundleError(path, 0, f"expected the magic {MAGIC.decode()!r}, found {data[:8]!r}")
    version, flags, body_length = struct.unpack_from("<IIQ", data, 8)
    if version != FORMAT_VERSION:
        raise BundleError(path, 8, f"format version {version}; this client reads version "
                                   f"{FORMAT_VERSION}")
    if flags != 0:
        raise BundleError(path, 12, f"unknown flags 0x{flags:08x}; version 1 defines none")
    expected = HEADER_BYTES + body_length + CHECKSUM_BYTES
    if expected > size:
        raise BundleError(path, 16, f"body length {body_length} needs a file of {expected} "
                                    f"bytes; the file is {size} (truncated?)")
    if expected < size:
        raise BundleError(path, expected, f"{size - expected} unexpected bytes after the "
                                          "checksum")
    body = bytes(data[HEADER_BYTES:HEADER_BYTES + body_length])
    stored = bytes(data[HEADER_BYTES + body_length:])
    computed = _xxh3_128_digest(body)
    if stored != computed:
        raise BundleError(path, HEADER_BYTES + body_length,
                          f"checksum mismatch: stored XXH3-128 {stored.hex()}, body hashes to "
                          f"{computed.hex()} (corrupted file)")
    if _stubs.bundle_pb2 is None:
        raise WeightprintError("this build's proto/ has no weightprint/v1/bundle.proto; "
                               "regenerate the stubs from a tree that has it")
    message = _stubs.bundle_pb2.ModelBundle()
    try:
        message.ParseFromString(body)
    except Exception as error:  # protobuf raises DecodeError (and others on some backends)
        raise BundleError(path, HEADER_BYTES,
                          f"body is not a valid weightprint.v1.ModelBundle: {error}") from None
    return Bundle(path=str(path), info=message.info, tensors=list(message.tensors),
                  fingerprinter_version=message.fingerprinter_version, source=message.source,
                  created_unix=message.created_unix)


def read_bundle(path):
    """Reads and verifies the bundle at `path` (magic, version, flags, length, checksum)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as error:
        raise BundleError(path, 0, f"cannot read: {error.strerror or error}") from None
    return parse_bundle(data, path)


def find_cli(cli=None):
    """The weightprint binary: `cli`, else $WEIGHTPRINT_CLI, else `weightprint` on PATH."""
    candidate = cli or os.environ.get("WEIGHTPRINT_CLI")
    if candidate:
        if not (os.path.isfile(candidate) and os.access(candidate, os.X_OK)):
            raise FingerprintError(f"weightprint binary {candidate!r} is not an executable file")
        return candidate
    found = shutil.which("weightprint")
    if found is None:
        raise FingerprintError("no weightprint binary: pass cli=..., set $WEIGHTPRINT_CLI, or "
                               "put weightprint on PATH (fingerprinting runs in C++)")
    return found


def fingerprint(path, cli=None, timeout=None):
    """Fingerprints the model file or directory at `path` with `weightprint fingerprint`."""
    binary = find_cli(cli)
    with tempfile.TemporaryDirectory(prefix="weightprint-") as tmp:
        out = os.path.join(tmp, "model.wpb")
        try:
            result = subprocess.run([binary, "fingerprint", os.fspath(path), "-o", out],
                                    capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise FingerprintError(f"weightprint fingerprint {path}: no result within "
                                   f"{timeout} s") from None
        except OSError as error:
            raise FingerprintError(f"cannot run {binary}: {error}") from None
        if result.returncode != 0:
            detail = (result.stderr or result.stdout).strip()
            raise FingerprintError(f"weightprint fingerprint {path} failed (exit "
                                   f"{result.returncode}): {detail}")
        bundle = read_bundle(out)
        bundle.path = os.fspath(path)
        return bundle


def load(path_or_bundle, cli=None, timeout=None):
    """A Bundle from a Bundle, a bundle file, or a model path (fingerprinted in C++)."""
    if isinstance(path_or_bundle, Bundle):
        return path_or_bundle
    if isinstance(path_or_bundle, (bytes, bytearray, memoryview)):
        return parse_bundle(path_or_bundle)
    if is_bundle_file(path_or_bundle):
        return read_bundle(path_or_bundle)
    if not os.path.exists(path_or_bundle):
        raise FingerprintError(f"{os.fspath(path_or_bundle)}: no such file or directory")
    return fingerprint(path_or_bundle, cli=cli, timeout=timeout)
