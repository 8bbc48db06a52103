"""Exceptions the weightprint client raises; all derive from WeightprintError."""


class WeightprintError(Exception):
    """Base class of every error this package raises."""


class BundleError(WeightprintError, ValueError):
    """A fingerprint bundle (.wpb) that is not valid: names the file and the byte offset."""

    def __init__(self, path, offset, message):
        self.path = str(path)
        self.offset = offset
        super().__init__(f"{self.path}: at byte {offset}: {message}")


class FingerprintError(WeightprintError):
    """`weightprint fingerprint` could not be run, or failed on the model."""


class RegistryError(WeightprintError):
    """An RPC failed. `code` is the gRPC status name (e.g. "UNAUTHENTICATED", "NOT_FOUND")."""

    def __init__(self, code, message):
        self.code = code
        self.message = message
        super().__init__(f"{code}: {message}")


class IngestError(RegistryError):
    """An IngestBundles call the server refused; nothing of it was stored. `origin` is the
    bundle the server named (its path as given, or "<bytes N>"), or None when the refusal
    concerns the whole call (a token without the writer role, a server limit, ...)."""

    def __init__(self, code, message, origin=None):
        super().__init__(code, message)
        self.origin = origin
