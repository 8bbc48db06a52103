"""Reports as dataclasses whose field names and order are those of docs/JSON.md.

`dataclasses.asdict(report)` of a Report equals the JSON `weightprint query PATH --json` prints
for the same query (docs/API.md, "Python client", lists the differences: none for reports).
Enumerations are the same strings as in the JSON ("identical", "derived", "unrelated"; hash
matches "exact", "bf16", "f16" or ""), p-values that underflow a double are 0 with z keeping
their order. Converters read weightprint.v1 messages; they never raise on unknown enum values
(a relation the client does not know reads as "unrelated", the claim that asserts nothing).
"""
import dataclasses
from dataclasses import dataclass, field
from typing import List

from weightprint import _stubs

SCHEMA = "weightprint.report.v1"

_RELATIONS = {1: "identical", 2: "derived", 3: "unrelated"}
_HASH_MATCHES = {"exact", "bf16", "f16"}
_FLAG_KINDS = {1: "consistent", 2: "undeclared_reuse", 3: "unsupported_claim", 4: "unverifiable"}
_EVIDENCE = {1: "informative", 2: "too_small", 3: "constant", 4: "non_float", 5: "fixed_buffer"}


def _relation(value):
    return _RELATIONS.get(value, "unrelated")


def _hex(hash128):
    return f"{hash128.high:016x}{hash128.low:016x}"


@dataclass
class ModelInfo:
    id: int = 0
    name: str = ""
    revision: str = ""
    license: str = ""
    source: str = ""
    base_model: str = ""
    format: str = ""
    architecture: str = ""
    tensor_count: int = 0
    parameter_count: int = 0
    created_unix: int = 0
    fingerprint_version: int = 0
    base_models: List[str] = field(default_factory=list)
    base_model_relation: str = ""
    base_model_declared_in: str = ""
    trusted: bool = False

    @property
    def display_name(self):
        """NAME, or NAME@REVISION when there is a revision (as the CLI prints it)."""
        return f"{self.name}@{self.revision}" if self.revision else self.name

    @classmethod
    def from_proto(cls, m):
        return cls(id=m.id, name=m.name, revision=m.revision, license=m.license, source=m.source,
                   base_model=m.base_model, format=m.format, architecture=m.architecture,
                   tensor_count=m.tensor_count, parameter_count=m.parameter_count,
                   created_unix=m.created_unix, fingerprint_version=m.fingerprint_version,
                   base_models=list(m.base_models), base_model_relation=m.base_model_relation,
                   base_model_declared_in=m.base_model_declared_in, trusted=m.trusted)


@dataclass
class TensorMatch:
    query_tensor: str
    model_id: int
    model: str                # display name of the registered model
    tensor: str
    relation: str
    hash_match: str
    pearson_estimate: float
    z: float
    p_value: float
    null_sd: float
    parameters: int

    @classmethod
    def from_proto(cls, m):
        return cls(query_tensor=m.query_tensor, model_id=m.model_id, model=m.model_name,
                   tensor=m.tensor, relation=_relation(m.relation),
                   hash_match=m.hash_match if m.hash_match in _HASH_MATCHES else "",
                   pearson_estimate=m.pearson_estimate, z=m.z, p_value=m.p_value,
                   null_sd=m.null_sd, parameters=m.parameters)


@dataclass
class Component:
    component: str
    relation: str
    parameters: int
    share_explained: float
    tensors_matched: int
    tensors: int


@dataclass
class LayerMapEntry:
    query_layer: int
    source_layer: int
    tensors: int


@dataclass
class LayerSimilarity:
    query_stack: str
    query_layer: int
    source_stack: str
    source_layer: int
    pearson_estimate: float
    z: float
    null_sd: float
    tensors: int


@dataclass
class SharedConstant:
    query_tensor: str
    tensor: str
    reason: str
    hash: str


def _shared(items):
    return [SharedConstant(query_tensor=k.query_tensor, tensor=k.tensor, reason=k.reason,
                           hash=k.hash) for k in items]


@dataclass
class Candidate:
    model: ModelInfo
    evidence: str
    invariants_matched: int
    invariants_compared: int
    invariant_p_value: float
    invariant_z: float
    strongest_invariants: List[TensorMatch]
    relation: str
    share_explained: float
    share_identical: float
    tensors_matched: int
    tensors_compared: int
    median_pearson: float
    z: float
    p_value: float
    components: List[Component]
    layer_map: List[LayerMapEntry]
    strongest: List[TensorMatch]
    layer_similarity: List[LayerSimilarity]
    link: str
    shared_constants: List[SharedConstant]

    @classmethod
    def from_proto(cls, c):
        return cls(
            model=ModelInfo.from_proto(c.model), evidence=c.evidence,
            invariants_matched=c.invariants_matched, invariants_compared=c.invariants_compared,
            invariant_p_value=c.invariant_p_value, invariant_z=c.invariant_z,
            strongest_invariants=[TensorMatch.from_proto(m) for m in c.strongest_invariants],
            relation=_relation(c.relation), share_explained=c.share_explained,
            share_identical=c.share_identical, tensors_matched=c.tensors_matched,
            tensors_compared=c.tensors_compared, median_pearson=c.median_pearson, z=c.z,
            p_value=c.p_value,
            components=[Component(component=a.component, relation=_relation(a.relation),
                                  parameters=a.parameters, share_explained=a.share_explained,
                                  tensors_matched=a.tensors_matched, tensors=a.tensors)
                        for a in c.components],
            layer_map=[LayerMapEntry(query_layer=e.query_layer, source_layer=e.source_layer,
                                     tensors=e.tensors) for e in c.layer_map],
            strongest=[TensorMatch.from_proto(m) for m in c.strongest],
            layer_similarity=[LayerSimilarity(
                query_stack=s.query_stack, query_layer=s.query_layer,
                source_stack=s.source_stack, source_layer=s.source_layer,
                pearson_estimate=s.pearson_estimate, z=s.z, null_sd=s.null_sd,
                tensors=s.tensors) for s in c.layer_similarity],
            link=c.link, shared_constants=_shared(c.shared_constants))


@dataclass
class ConstantLink:
    model: ModelInfo
    link: str
    shared: List[SharedConstant]


@dataclass
class QuerySummary:
    tensors: int
    informative_tensors: int
    parameters: int
    informative_parameters: int
    constant_tensors: int


@dataclass
class ModelOrigin:
    model_id: int
    model: str
    parameters: int
    share: float


@dataclass
class OriginScope:
    component: str
    parameters: int
    parameters_with_origin: int
    share_with_origin: float
    share_without_origin: float
    origins: List[ModelOrigin]

    @classmethod
    def from_proto(cls, s):
        return cls(component=s.component, parameters=s.parameters,
                   parameters_with_origin=s.parameters_with_origin,
                   share_with_origin=s.share_with_origin,
                   share_without_origin=s.share_without_origin,
                   origins=[ModelOrigin(model_id=o.model_id, model=o.model_name,
                                        parameters=o.parameters, share=o.share)
                            for o in s.origins])


@dataclass
class OriginAudit:
    total: OriginScope
    components: List[OriginScope]
    registered_models: int
    candidates_examined: int
    uninformative_parameters: int
    statement: str

    @classmethod
    def from_proto(cls, a):
        return cls(total=OriginScope.from_proto(a.total),
                   components=[OriginScope.from_proto(s) for s in a.components],
                   registered_models=a.registered_models,
                   candidates_examined=a.candidates_examined,
                   uninformative_parameters=a.uninformative_parameters, statement=a.statement)


@dataclass
class LineageFlag:
    kind: str
    model: str
    relation: str
    share_explained: float
    message: str


@dataclass
class Lineage:
    declared_base_models: List[str]
    declared_relation: str
    declared_in: str
    flags: List[LineageFlag]
    undeclared_reuse: bool
    unsupported_claim: bool

    @classmethod
    def from_proto(cls, l):
        return cls(declared_base_models=list(l.declared_base_models),
                   declared_relation=l.declared_relation, declared_in=l.declared_in,
                   flags=[LineageFlag(kind=_FLAG_KINDS.get(f.kind, "consistent"), model=f.model,
                                      relation=_relation(f.relation),
                                      share_explained=f.share_explained, message=f.message)
                          for f in l.flags],
                   undeclared_reuse=l.undeclared_reuse, unsupported_claim=l.unsupported_claim)


@dataclass
class Report:
    """A model query's report (`kind: "model_query"` in docs/JSON.md)."""
    schema: str
    kind: str
    verdict: str
    query: QuerySummary
    registry_tensors: int
    candidates: List[Candidate]
    constant_links: List[ConstantLink]
    tensor_matches: List[TensorMatch]
    origin_audit: OriginAudit
    lineage: Lineage

    @classmethod
    def from_proto(cls, r):
        return cls(
            schema=SCHEMA, kind="model_query", verdict=r.verdict,
            query=QuerySummary(tensors=r.query_tensors,
                               informative_tensors=r.informative_tensors,
                               parameters=r.query_parameters,
                               informative_parameters=r.informative_parameters,
                               constant_tensors=r.constant_tensors),
            registry_tensors=r.registry_tensors,
            candidates=[Candidate.from_proto(c) for c in r.candidates],
            constant_links=[ConstantLink(model=ModelInfo.from_proto(l.model),
                                         link="common_constants_only", shared=_shared(l.shared))
                            for l in r.constant_links],
            tensor_matches=[TensorMatch.from_proto(m) for m in r.tensor_matches],
            origin_audit=OriginAudit.from_proto(r.origin_audit),
            lineage=Lineage.from_proto(r.lineage))


@dataclass
class TensorSummary:
    name: str
    dtype: str
    shape: List[int]
    evidence: str
    fixed_family: str
    exact_hash: str
    mean: float
    std: float


@dataclass
class TensorReport:
    """A tensor query's answer (`kind: "tensor_query"` in docs/JSON.md)."""
    schema: str
    kind: str
    verdict: str
    query: TensorSummary
    registry_tensors: int
    constant_reason: str
    matches: List[TensorMatch]

    @classmethod
    def from_proto(cls, r):
        q = r.query
        dtypes = _stubs.fingerprint_pb2.DType
        dtype = dtypes.Name(q.dtype) if q.dtype in dtypes.values() and q.dtype else "UNKNOWN"
        return cls(schema=SCHEMA, kind="tensor_query", verdict=r.verdict,
                   query=TensorSummary(name=q.name, dtype=dtype, shape=list(q.shape),
                                       evidence=_EVIDENCE.get(q.evidence, "unknown"),
                                       fixed_family=q.fixed_family,
                                       exact_hash=_hex(q.exact_hash), mean=q.stats.mean,
                                       std=q.stats.std),
                   registry_tensors=r.registry_tensors, constant_reason=r.constant_reason,
                   matches=[TensorMatch.from_proto(m) for m in r.matches])


@dataclass
class Stats:
    """Registry statistics (`kind: "stats"` in docs/JSON.md)."""
    schema: str
    kind: str
    models: int
    tensors: int
    vectors: int
    parameters: int
    index_type: str
    schema_version: int
    fingerprint_version: int
    calibration_pairs: int
    db_path: str

    @classmethod
    def from_proto(cls, s):
        return cls(schema=SCHEMA, kind="stats", models=s.models, tensors=s.tensors,
                   vectors=s.vectors, parameters=s.parameters, index_type=s.index_type,
                   schema_version=s.schema_version, fingerprint_version=s.fingerprint_version,
                   calibration_pairs=s.calibration_pairs, db_path=s.db_path)


def as_dict(value):
    """The JSON-shaped dict of any report dataclass (dataclasses.asdict)."""
    return dataclasses.asdict(value)
