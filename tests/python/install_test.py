#!/usr/bin/env python3
"""The Python client installs from a source tree: setup.py's build step generates the stubs.

Runs `setup.py build` into a temporary directory (what `pip install client/python` runs),
imports the result in a fresh interpreter that sees nothing else of the tree, and checks that
the source tree itself holds no generated module. Usage: install_test.py REPO_ROOT.
"""
import os
import pathlib
import subprocess
import sys
import tempfile
import unittest

ROOT = None


class InstallTest(unittest.TestCase):
    def test_setup_build_generates_importable_stubs(self):
        package = ROOT / "client" / "python"
        with tempfile.TemporaryDirectory(prefix="weightprint-py-install-") as tmp:
            build = subprocess.run(
                [sys.executable, "setup.py", "-q", "build", "--build-base", tmp],
                cwd=package, capture_output=True, text=True, timeout=120,
                env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
            self.assertEqual(build.returncode, 0, build.stderr)
            lib = pathlib.Path(tmp) / "lib"
            generated = sorted(p.name for p in (lib / "weightprint" / "v1").glob("*_pb2*.py"))
            self.assertIn("registry_pb2.py", generated)
            self.assertIn("registry_pb2_grpc.py", generated)
            probe = ("import weightprint, weightprint.registry as r; "
                     "print(weightprint.__file__); "
                     "print(sorted(f.name for f in r.pb.ModelInfo.DESCRIPTOR.fields)[:3]); "
                     "print(hasattr(r._stubs.registry_pb2_grpc, 'RegistryStub'))")
            env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
            env.update(PYTHONPATH=str(lib), PYTHONDONTWRITEBYTECODE="1")
            run = subprocess.run([sys.executable, "-c", probe], cwd=tmp, env=env,
                                 capture_output=True, text=True, timeout=60)
            self.assertEqual(run.returncode, 0, run.stderr)
            lines = run.stdout.splitlines()
            self.assertTrue(lines[0].startswith(str(lib)), lines[0])
            self.assertEqual(lines[1], "['architecture', 'base_model', 'base_model_declared_in']")
            self.assertEqual(lines[2], "True")
        self.assertEqual(list(package.rglob("*_pb2*.py")), [],
                         "generated stubs must never be in the source tree")

    def test_without_stubs_the_import_error_says_how_to_generate_them(self):
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        env.update(PYTHONPATH=str(ROOT / "client" / "python"), PYTHONDONTWRITEBYTECODE="1")
        run = subprocess.run([sys.executable, "-c", "import weightprint"], env=env,
                             capture_output=True, text=True, timeout=60)
        self.assertNotEqual(run.returncode, 0)
        self.assertIn("stubs are not generated", run.stderr)
        self.assertIn("wp_python_client", run.stderr)


if __name__ == "__main__":
    ROOT = pathlib.Path(sys.argv.pop(1)).resolve()
    unittest.main(verbosity=2)
