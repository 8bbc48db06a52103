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
