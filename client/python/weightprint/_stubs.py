"""The generated weightprint.v1 modules, or a clear error saying how to generate them.

The stubs are generated from proto/ at build or install time (generate_stubs.py) into
weightprint/v1/ next to this file; a source checkout has none until then.
"""
try:
    from weightprint.v1 import fingerprint_pb2  # noqa: F401
    from weightprint.v1 import registry_pb2
    from weightprint.v1 import registry_pb2_grpc
except ImportError as error:  # pragma: no cover - depends on how the package was built
    raise ImportError(
        "the weightprint gRPC stubs are not generated: build them with "
        "`cmake --build build --target wp_python_client` and put build/client/python on "
        "PYTHONPATH, or install the package with `pip install client/python` "
        f"(needs protoc and grpc_python_plugin); import failed with: {error}") from error

try:
    from weightprint.v1 import bundle_pb2
except ImportError:  # a proto/ without the bundle format
    bundle_pb2 = None

__all__ = ["fingerprint_pb2", "registry_pb2", "registry_pb2_grpc", "bundle_pb2"]
