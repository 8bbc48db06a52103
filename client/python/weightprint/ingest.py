"""What an IngestBundles call returns, as Python dataclasses, and how its bundles are gathered.

`IngestResult` mirrors weightprint.v1.IngestBundlesResponse: one `IngestOutcome` per model in
the order sent (`origin`, `action`, the stored `ModelInfo`), with the counts a caller usually
wants computed from them. The call is all or nothing, so a refused model is not an outcome: it
fails the whole call with an `IngestError` (weightprint.errors) that names the model's origin.
Plain value types; `read_all` reads files and is safe to call from any thread.
"""
import dataclasses
import os
from dataclasses import dataclass, field
from typing import List

from weightprint import bundle as bundle_io
from weightprint.report import ModelInfo

REGISTER = "register"
REGISTER_UNCHANGED = "register-unchanged"
REPLACE = "replace"


@dataclass
class IngestOutcome:
    origin: str          # the bundle's path as given, or "<bytes N>" for the Nth item as bytes
    action: str          # "register", "register-unchanged" or "replace"
    model: ModelInfo     # as stored; for "register-unchanged", the record it matched

    @classmethod
    def from_proto(cls, o):
        return cls(origin=o.origin, action=o.action, model=ModelInfo.from_proto(o.model))


@dataclass
class IngestResult:
    outcomes: List[IngestOutcome] = field(default_factory=list)
    tensors_sent: int = 0   # fingerprints streamed, every model counted

    @property
    def models_stored(self):
        """Models written by this call ("register" and "replace")."""
        return sum(1 for o in self.outcomes if o.action != REGISTER_UNCHANGED)

    @property
    def models_replaced(self):
        return sum(1 for o in self.outcomes if o.action == REPLACE)

    @property
    def models_unchanged(self):
        """Models already registered (or earlier in the call) with the same weights: nothing
        was written for them; ingesting the same bundles twice gives only these."""
        return sum(1 for o in self.outcomes if o.action == REGISTER_UNCHANGED)

    @property
    def tensors_stored(self):
        """Tensors of the models written by this call."""
        return sum(o.model.tensor_count for o in self.outcomes if o.action != REGISTER_UNCHANGED)

    @classmethod
    def from_proto(cls, response, tensors_sent):
        return cls(outcomes=[IngestOutcome.from_proto(o) for o in response.outcomes],
                   tensors_sent=tensors_sent)


def read_all(bundles):
    """Reads and verifies every bundle before anything is sent: a list of (origin, Bundle).

    `bundles` is one item or an iterable of items, each a bundle file path (str or PathLike),
    the bytes of a bundle, or a Bundle. A damaged file raises BundleError naming it and the
    byte offset; a path that is not a bundle (no WPBUNDLE magic) is refused the same way, since
    ingest takes bundles only; a model without a name raises ValueError naming its origin.
    """
    if isinstance(bundles, (str, os.PathLike, bytes, bytearray, memoryview, bundle_io.Bundle)):
        bundles = [bundles]
    read = []
    for index, item in enumerate(bundles, start=1):
        if isinstance(item, bundle_io.Bundle):
            origin, decoded = item.path, item
        elif isinstance(item, (bytes, bytearray, memoryview)):
            origin = f"<bytes {index}>"
            decoded = bundle_io.parse_bundle(item, origin)
        elif isinstance(item, (str, os.PathLike)):
            origin = os.fspath(item)
            decoded = bundle_io.read_bundle(origin)
        else:
            raise TypeError(f"ingest item {index}: expected a bundle path, bundle bytes or a "
                            f"Bundle, got {type(item).__name__}")
        if not decoded.info.name:
            raise ValueError(f"{origin}: the bundle has no model name; write it with "
                             "`weightprint fingerprint PATH -o FILE.wpb --name ORG/MODEL`")
        read.append((origin, decoded))
    if not read:
        raise ValueError("ingest needs at least one bundle")
    return read


def as_dict(result):
    """The result as plain data: {"outcomes": [...], "tensors_sent": N} plus the counts."""
    data = dataclasses.asdict(result)
    data.update(models_stored=result.models_stored, models_replaced=result.models_replaced,
                models_unchanged=result.models_unchanged, tensors_stored=result.tensors_stored)
    return data
