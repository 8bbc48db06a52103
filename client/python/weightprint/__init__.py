"""weightprint: the Python client of a weightprint registry server.

    from weightprint import Registry
    with Registry("127.0.0.1:50051", token=None) as registry:
        registry.register("./base.safetensors", name="org/base")
        report = registry.query("./suspect.safetensors")
        print(report.verdict, [c.model.name for c in report.candidates])
        result = registry.ingest(["a.wpb", "b.wpb"])  # bundles of `weightprint fingerprint -o`
        print(result.models_stored, result.tensors_stored)

Fingerprints are computed by the C++ `weightprint fingerprint` command (or read from a .wpb
bundle it wrote); reports are dataclasses with the field names of docs/JSON.md.
"""
from weightprint.bundle import Bundle, fingerprint, read_bundle, parse_bundle
from weightprint.errors import (BundleError, FingerprintError, IngestError, RegistryError,
                                WeightprintError)
from weightprint.ingest import IngestOutcome, IngestResult
from weightprint.registry import Registry, connect
from weightprint.report import (Candidate, Component, ConstantLink, LayerMapEntry,
                                LayerSimilarity, Lineage, LineageFlag, ModelInfo, ModelOrigin,
                                OriginAudit, OriginScope, QuerySummary, Report, SharedConstant,
                                Stats, TensorMatch, TensorReport, TensorSummary, as_dict)

__version__ = "0.1.0"

__all__ = [
    "Bundle", "BundleError", "Candidate", "Component", "ConstantLink", "FingerprintError",
    "IngestError", "IngestOutcome", "IngestResult",
    "LayerMapEntry", "LayerSimilarity", "Lineage", "LineageFlag", "ModelInfo", "ModelOrigin",
    "OriginAudit", "OriginScope", "QuerySummary", "Registry", "RegistryError", "Report",
    "SharedConstant", "Stats", "TensorMatch", "TensorReport", "TensorSummary",
    "WeightprintError", "as_dict", "connect", "fingerprint", "parse_bundle", "read_bundle",
]
