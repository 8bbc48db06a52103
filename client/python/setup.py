"""Installs the weightprint Python client (`pip install client/python` from a source tree).

The weightprint.v1 modules are generated from ../../proto at build time by generate_stubs.py
(system protoc and grpc_python_plugin from protobuf-compiler-grpc). Runtime dependencies are
Debian's python3-grpcio, python3-protobuf and python3-xxhash; they are not declared as pip
requirements so that pip never replaces the distribution's packages.
"""
import pathlib
import sys

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import generate_stubs  # noqa: E402


class BuildWithStubs(build_py):
    """build_py that also generates weightprint/v1/*_pb2*.py into the build directory."""

    def run(self):
        super().run()
        proto_root = HERE.parent.parent / "proto"
        if not (proto_root / "weightprint" / "v1").is_dir():
            sys.exit(f"setup.py: {proto_root}/weightprint/v1 not found: install from a "
                     "weightprint source tree")
        generate_stubs.generate(proto_root, self.build_lib)


setup(
    name="weightprint",
    version="0.1.0",
    description="Python client of the weightprint weight-fingerprint registry",
    packages=["weightprint"],
    python_requires=">=3.9",
    cmdclass={"build_py": BuildWithStubs},
)
