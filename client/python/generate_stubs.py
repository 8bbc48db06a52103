#!/usr/bin/env python3
"""Generates the weightprint.v1 protobuf and gRPC modules for the Python client.

Runs the system protoc with --python_out and the grpc_python_plugin that Debian's
protobuf-compiler-grpc installs (python3-grpc-tools in Debian 12 is 1.14, far older than the
python3-grpcio 1.51 runtime, so its bundled compiler is not used). The modules land in
OUT/weightprint/v1/, next to the package sources when --package is given, so OUT is a
directory that can go on PYTHONPATH as is. Used by the CMake target `wp_python_client` and by
setup.py; nothing generated is ever committed.
"""
import argparse
import pathlib
import shutil
import subprocess
import sys


def find_tool(name, given):
    if given:
        path = pathlib.Path(given)
        if not path.is_file():
            sys.exit(f"generate_stubs: {name} not found at {given}")
        return str(path)
    found = shutil.which(name)
    if found is None:
        sys.exit(f"generate_stubs: {name} not found on PATH (Debian: apt-get install "
                 f"{'protobuf-compiler' if name == 'protoc' else 'protobuf-compiler-grpc'})")
    return found


def generate(proto_root, out, protoc=None, plugin=None, package=None):
    proto_root = pathlib.Path(proto_root).resolve()
    out = pathlib.Path(out).resolve()
    protos = sorted((proto_root / "weightprint" / "v1").glob("*.proto"))
    if not protos:
        sys.exit(f"generate_stubs: no .proto files under {proto_root}/weightprint/v1")
    if package is not None:
        # The package sources first, so the generated modules sit inside the same tree.
        src = pathlib.Path(package).resolve()
        dst = out / "weightprint"
        dst.mkdir(parents=True, exist_ok=True)
        for py in sorted(src.glob("*.py")):
            shutil.copyfile(py, dst / py.name)
    v1 = out / "weightprint" / "v1"
    v1.mkdir(parents=True, exist_ok=True)
    for stale in v1.glob("*_pb2*.py"):
        stale.unlink()
    command = [
        find_tool("protoc", protoc),
        f"--plugin=protoc-gen-grpc_python={find_tool('grpc_python_plugin', plugin)}",
        f"-I{proto_root}",
        f"--python_out={out}",
        f"--grpc_python_out={out}",
    ] + [str(p) for p in protos]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"generate_stubs: protoc failed ({result.returncode}):\n{result.stderr}")
    (v1 / "__init__.py").write_text('"""Generated weightprint.v1 protobuf and gRPC modules."""\n')
    return [p.stem for p in protos]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--proto-root", required=True, help="directory holding weightprint/v1/")
    parser.add_argument("--out", required=True, help="directory to generate into")
    parser.add_argument("--package", help="copy the weightprint package sources from here too")
    parser.add_argument("--protoc")
    parser.add_argument("--plugin", help="grpc_python_plugin")
    parser.add_argument("--stamp", help="file to touch when done")
    args = parser.parse_args()
    names = generate(args.proto_root, args.out, args.protoc, args.plugin, args.package)
    if args.stamp:
        pathlib.Path(args.stamp).write_text(" ".join(names) + "\n")


if __name__ == "__main__":
    main()
