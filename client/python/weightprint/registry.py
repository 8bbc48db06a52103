"""Registry: a weightprint server over gRPC, with the calls as Python methods.

Models are fingerprinted in C++ (`weightprint fingerprint`, or a bundle written by it) and only
fingerprints travel. Registration and model queries stream the fingerprints the way the C++
client does: a first message (model info or query options), then `tensors` batches of at most
1 MiB serialized each; a bulk ingest repeats that pair for every bundle of the call. Every call carries a deadline and, when a token is set, the header
`authorization: Bearer TOKEN`. A Registry may be shared between threads (grpc channels are
thread-safe); call close() or use it as a context manager to release the channel.
"""
import os

import grpc

from weightprint import _stubs
from weightprint import bundle as bundle_io
from weightprint import ingest as ingest_io
from weightprint.errors import IngestError, RegistryError
from weightprint.report import ModelInfo, Report, Stats, TensorReport

pb = _stubs.registry_pb2

# Largest request message written: as the C++ client (client/remote/grpc_client.cc).
MAX_MESSAGE_BYTES = 1 << 20
_BATCH_BUDGET = MAX_MESSAGE_BYTES - 8  # room for the request's own framing of the batch
MAX_RECEIVE_BYTES = 64 << 20           # GetModel responses can list every tensor


def _varint_size(value):
    size = 1
    while value >= 0x80:
        value >>= 7
        size += 1
    return size


def _framed_size(payload_bytes):  # one length-delimited field with a 1-byte tag
    return 1 + _varint_size(payload_bytes) + payload_bytes


def tensor_batches(tensors):
    """Splits fingerprints into TensorBatch messages of at most 1 MiB serialized each."""
    batch = pb.TensorBatch()
    batch_bytes = 0
    for tensor in tensors:
        framed = _framed_size(tensor.ByteSize())
        if batch_bytes > 0 and batch_bytes + framed > _BATCH_BUDGET:
            yield batch
            batch = pb.TensorBatch()
            batch_bytes = 0
        batch.tensors.append(tensor)
        batch_bytes += framed
    if batch_bytes > 0:
        yield batch


def _read(path):
    with open(path, "rb") as f:
        return f.read()


class Registry:
    """A weightprint registry server.

    address: HOST:PORT. token: bearer token (writer or admin for writes; a server without
    tokens takes writes from loopback only). tls: False for plaintext (tokens only on
    loopback), True for TLS verified against the system roots, or the path of a CA
    certificate (PEM). client_cert/client_key: PEM files for mutual TLS. timeout: seconds per
    call. cli: the weightprint binary used to fingerprint model paths (default
    $WEIGHTPRINT_CLI, else `weightprint` on PATH).
    """

    def __init__(self, address, token=None, tls=False, *, client_cert=None, client_key=None,
                 server_name=None, timeout=300.0, cli=None):
        if not address:
            raise ValueError("server address is empty (HOST:PORT)")
        if timeout is None or timeout <= 0:
            raise ValueError("the per-call timeout must be positive")
        self.address = address
        self.timeout = timeout
        self.cli = cli
        self._metadata = (("authorization", f"Bearer {token}"),) if token else ()
        options = [("grpc.max_receive_message_length", MAX_RECEIVE_BYTES)]
        if (client_cert is None) != (client_key is None):
            raise ValueError("a client certificate needs both client_cert and client_key")
        if tls or client_cert is not None:
            root = None if tls is True or not tls else _read(tls)
            credentials = grpc.ssl_channel_credentials(
                root_certificates=root,
                private_key=_read(client_key) if client_key else None,
                certificate_chain=_read(client_cert) if client_cert else None)
            if server_name:
                options.append(("grpc.ssl_target_name_override", server_name))
            self._channel = grpc.secure_channel(address, credentials, options=options)
        else:
            self._channel = grpc.insecure_channel(address, options=options)
        self._stub = _stubs.registry_pb2_grpc.RegistryStub(self._channel)

    def close(self):
        self._channel.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- calls -------------------------------------------------------------------------------

    def _call(self, rpc, request):
        try:
            return rpc(request, timeout=self.timeout, metadata=self._metadata)
        except grpc.RpcError as error:
            raise self._error(error) from None

    def _error(self, error):
        code = error.code() if hasattr(error, "code") else grpc.StatusCode.UNKNOWN
        details = error.details() if hasattr(error, "details") else str(error)
        if code == grpc.StatusCode.UNAVAILABLE:
            details = f"weightprint server at {self.address} is not reachable: {details}"
        elif code == grpc.StatusCode.DEADLINE_EXCEEDED:
            details = (f"weightprint server at {self.address} did not answer within "
                       f"{self.timeout} s: {details}")
        return RegistryError(code.name, details)

    def _bundle(self, path_or_bundle):
        return bundle_io.load(path_or_bundle, cli=self.cli)

    def register(self, path_or_bundle, name=None, revision=None, replace=False, *,
                 license=None, source=None, base_models=None, base_model_relation=None):
        """Registers a model file, model directory or bundle; returns the stored ModelInfo.

        name and revision default to the bundle's; the other keywords override the metadata
        the fingerprinter recorded. Registering the same NAME@REVISION with the same weights
        again succeeds; with other weights it needs replace=True (and an admin token).
        """
        bundle = self._bundle(path_or_bundle)
        info = pb.ModelInfo()
        info.CopyFrom(bundle.info)
        if name is not None:
            info.name = name
        if revision is not None:
            info.revision = revision
        if not info.name:
            raise ValueError("register needs a name (ORG/MODEL): the bundle has none")
        if license is not None:
            info.license = license
        if source is not None:
            info.source = source
        if base_models is not None:
            del info.base_models[:]
            info.base_models.extend(base_models)
            info.base_model = base_models[0] if base_models else ""
            info.base_model_declared_in = "command line" if base_models else ""
        if base_model_relation is not None:
            info.base_model_relation = base_model_relation

        def requests():
            yield pb.RegisterModelRequest(info=info, replace=replace)
            for batch in tensor_batches(bundle.tensors):
                yield pb.RegisterModelRequest(tensors=batch)

        return ModelInfo.from_proto(self._call(self._stub.RegisterModel, requests()).model)

    def ingest(self, bundles, replace=False):
        """Stores many bundles in one IngestBundles call, all or nothing; returns IngestResult.

        `bundles`: bundle file paths, bundle bytes or Bundle objects (or one of them). Every
        bundle is read and verified first (frame, checksum, a model name), so a damaged one
        raises BundleError naming the file and byte offset before anything is sent. The server
        applies register's rules to each model (same weights as a stored NAME@REVISION:
        "register-unchanged"; other weights: refused unless replace=True, which needs an admin
        token) and builds its index and calibration once; a refused model raises IngestError
        naming the bundle (`.origin`) and nothing of the call is stored.
        """
        read = ingest_io.read_all(bundles)
        tensors_sent = sum(len(b.tensors) for _, b in read)

        def requests():
            for origin, decoded in read:
                start = pb.IngestModelStart(origin=origin)
                start.info.CopyFrom(decoded.info)
                yield pb.IngestBundlesRequest(model=start, replace=replace)
                for batch in tensor_batches(decoded.tensors):
                    yield pb.IngestBundlesRequest(tensors=batch)

        try:
            response = self._stub.IngestBundles(requests(), timeout=self.timeout,
                                                metadata=self._metadata)
        except grpc.RpcError as error:
            failed = self._error(error)
            named = [o for o, _ in read if f"{o}: " in failed.message]
            origin = max(named, key=len) if named else None
            raise IngestError(failed.code, failed.message, origin) from None
        return ingest_io.IngestResult.from_proto(response, tensors_sent)

    def query(self, path_or_bundle, *, top=5, include_unrelated=False,
              include_tensor_matches=True, base_models=None, base_model_relation=None):
        """Where does this model come from? Returns a Report (docs/JSON.md, model_query).

        The declared lineage compared with the evidence is the bundle's (the model card's),
        unless base_models / base_model_relation are given ("command line", as the CLI's
        --base-model).
        """
        bundle = self._bundle(path_or_bundle)
        options = pb.QueryOptions(top=top, include_tensor_matches=include_tensor_matches,
                                  include_unrelated=include_unrelated)
        if base_models is not None or base_model_relation is not None:
            options.declared_base_models.extend(base_models or [])
            options.declared_relation = base_model_relation or ""
            options.declared_in = "command line"
        else:
            options.declared_base_models.extend(bundle.info.base_models)
            options.declared_relation = bundle.info.base_model_relation
            options.declared_in = bundle.info.base_model_declared_in

        def requests():
            yield pb.QueryModelRequest(options=options)
            for batch in tensor_batches(bundle.tensors):
                yield pb.QueryModelRequest(tensors=batch)

        return Report.from_proto(self._call(self._stub.QueryModel, requests()))

    def query_tensor(self, path_or_bundle, tensor, *, top=5, include_unrelated=False):
        """Where does one tensor come from? Returns a TensorReport (docs/JSON.md)."""
        bundle = self._bundle(path_or_bundle)
        found = [t for t in bundle.tensors if t.name == tensor]
        if not found:
            raise KeyError(f"{bundle.path}: no tensor named {tensor!r}")
        request = pb.QueryTensorRequest(fingerprint=found[0], top=top,
                                        include_unrelated=include_unrelated)
        return TensorReport.from_proto(self._call(self._stub.QueryTensor, iter([request])))

    def models(self, name_prefix="", limit=0):
        """Registered models, as ModelInfo, optionally those whose name starts with a prefix."""
        request = pb.ListModelsRequest(name_prefix=name_prefix, limit=limit)
        response = self._call(self._stub.ListModels, request)
        return [ModelInfo.from_proto(m) for m in response.models]

    def model(self, name):
        """One registered model by NAME, NAME@REVISION, or numeric id."""
        request = pb.GetModelRequest(id=name) if isinstance(name, int) else \
            pb.GetModelRequest(name=name)
        return ModelInfo.from_proto(self._call(self._stub.GetModel, request).model)

    def delete(self, name):
        """Deletes a model by NAME[@REVISION] or id (admin); returns what was deleted."""
        request = pb.DeleteModelRequest(id=name) if isinstance(name, int) else \
            pb.DeleteModelRequest(name=name)
        return ModelInfo.from_proto(self._call(self._stub.DeleteModel, request).deleted)

    def stats(self):
        """Registry size and versions (docs/JSON.md, kind "stats")."""
        return Stats.from_proto(self._call(self._stub.Stats, pb.StatsRequest()))


def connect(address=None, **kwargs):
    """A Registry at `address`, else $WEIGHTPRINT_SERVER."""
    address = address or os.environ.get("WEIGHTPRINT_SERVER")
    if not address:
        raise ValueError("no server address: pass HOST:PORT or set $WEIGHTPRINT_SERVER")
    return Registry(address, **kwargs)
