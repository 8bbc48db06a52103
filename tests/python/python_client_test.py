#!/usr/bin/env python3
"""The weightprint Python client against the real server on a loopback ephemeral port.

Starts `weightprint serve` on a temporary database, writes the demo models with
`weightprint demo --models-only`, and drives everything through the Python package: register,
query (compared field by field with the CLI's --json for the same query on the same server),
query_tensor, models, model, stats, delete, bundles (good and damaged), a token-protected
server, and bulk ingest of bundles (IngestBundles) compared with registering the same bundles. Usage: python_client_test.py --cli PATH_TO_WEIGHTPRINT [unittest args]; the package
(with its generated stubs) must be on PYTHONPATH.
"""
import dataclasses
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import unittest

import weightprint
from weightprint import registry as registry_module

CLI = None
WRITER_SECRET = "wsecret-0123456789abcdef"
READER_SECRET = "rsecret-0123456789abcdef"


def run_cli(*args, check=True):
    result = subprocess.run([CLI, *args], capture_output=True, text=True, timeout=120)
    if check and result.returncode != 0:
        raise AssertionError(f"weightprint {' '.join(args)} exited {result.returncode}:\n"
                             f"{result.stdout}\n{result.stderr}")
    return result


class Server:
    """`weightprint serve` on 127.0.0.1:0; the port is read from its log (at most 20 s)."""

    def __init__(self, workdir, name, extra=()):
        self.log_path = os.path.join(workdir, f"{name}.log")
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen(
            [CLI, "serve", "--db", os.path.join(workdir, f"{name}-db"),
             "--listen", "127.0.0.1:0", *extra],
            stdout=self.log, stderr=subprocess.STDOUT)
        self.address = None
        for _ in range(200):
            with open(self.log_path) as f:
                found = re.search(r"serving .* on (127\.0\.0\.1:\d+)", f.read())
            if found:
                self.address = found.group(1)
                break
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        if self.address is None:
            self.stop()
            with open(self.log_path) as f:
                raise AssertionError(f"server {name} did not start:\n{f.read()}")

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.log.close()


def first_difference(a, b, path="$"):
    """The JSON path of the first place a and b differ, or None."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if key not in a or key not in b:
                return f"{path}.{key} (present in only one)"
            found = first_difference(a[key], b[key], f"{path}.{key}")
            if found:
                return found
        return None
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return f"{path} (lengths {len(a)} and {len(b)})"
        for i, (x, y) in enumerate(zip(a, b)):
            found = first_difference(x, y, f"{path}[{i}]")
            if found:
                return found
        return None
    if type(a) is bool or type(b) is bool:
        return None if a is b else f"{path}: {a!r} != {b!r}"
    return None if a == b else f"{path}: {a!r} != {b!r}"


class PythonClientTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="weightprint-py-")
        cls.models = os.path.join(cls.tmp, "models")
        run_cli("demo", "--models-only", "--workdir", cls.models)
        cls.server = Server(cls.tmp, "open")
        cls.registry = weightprint.Registry(cls.server.address, timeout=60, cli=CLI)
        cls.base = cls.registry.register(cls.model_path("base"), name="org/base",
                                         license="apache-2.0")
        cls.other = cls.registry.register(cls.model_path("other"), name="org/other")

    @classmethod
    def tearDownClass(cls):
        cls.registry.close()
        cls.server.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def model_path(cls, name):
        return os.path.join(cls.models, f"{name}.safetensors")

    def bundle_of(self, name):
        out = os.path.join(self.tmp, f"{name}.wpb")
        if not os.path.exists(out):
            run_cli("fingerprint", self.model_path(name), "-o", out)
        return out

    def test_register_returns_the_stored_model(self):
        self.assertIsInstance(self.base, weightprint.ModelInfo)
        self.assertEqual(self.base.name, "org/base")
        self.assertEqual(self.base.license, "apache-2.0")
        self.assertEqual(self.base.format, "safetensors")
        self.assertGreater(self.base.id, 0)
        self.assertGreater(self.base.tensor_count, 0)
        self.assertGreater(self.base.parameter_count, 0)
        self.assertNotEqual(self.base.id, self.other.id)
        # The same weights again: an idempotent success with the same id.
        again = self.registry.register(self.model_path("base"), name="org/base")
        self.assertEqual(again.id, self.base.id)

    def test_conflicting_registration_is_refused(self):
        with self.assertRaises(weightprint.RegistryError) as caught:
            self.registry.register(self.model_path("other"), name="org/base")
        self.assertEqual(caught.exception.code, "ALREADY_EXISTS")

    def test_query_names_the_source_of_a_derived_copy(self):
        report = self.registry.query(self.model_path("finetune-bf16"))
        self.assertIsInstance(report, weightprint.Report)
        self.assertIn("derived from org/base", report.verdict)
        self.assertGreaterEqual(len(report.candidates), 1)
        best = report.candidates[0]
        self.assertEqual(best.model.name, "org/base")
        self.assertEqual(best.relation, "derived")
        self.assertGreater(best.share_explained, 0.9)
        self.assertLess(best.p_value, 1e-3)
        self.assertNotIn("org/other", [c.model.name for c in report.candidates])
        self.assertEqual(len(report.tensor_matches), report.query.informative_tensors)

    def test_query_of_a_cast_is_identical_and_an_independent_model_has_no_source(self):
        cast = self.registry.query(self.model_path("cast-f16"))
        self.assertEqual(cast.candidates[0].model.name, "org/base")
        self.assertEqual(cast.candidates[0].relation, "identical")
        independent = self.registry.query(self.model_path("independent"))
        self.assertEqual(independent.candidates, [])
        self.assertIn("no registered source", independent.verdict)

    def test_report_equals_the_cli_json_for_the_same_query(self):
        for name in ("finetune-bf16", "independent"):
            with self.subTest(model=name):
                report = self.registry.query(self.model_path(name))
                cli = json.loads(run_cli("--server", self.server.address, "query",
                                         self.model_path(name), "--json").stdout)
                mine = dataclasses.asdict(report)
                self.assertEqual(mine["kind"], "model_query")
                self.assertIsNone(first_difference(mine, cli), "Python report != CLI --json")
                self.assertEqual(mine, cli)

    def test_query_options_reach_the_server_like_the_cli_flags(self):
        # --all lists the unrelated candidates the server examined (those with any hit), --top
        # caps the list: the same options through Python and the CLI give the same report.
        report = self.registry.query(self.model_path("finetune-bf16"), include_unrelated=True,
                                     top=1)
        self.assertEqual([c.model.name for c in report.candidates], ["org/base"])
        cli = json.loads(run_cli("--server", self.server.address, "query",
                                 self.model_path("finetune-bf16"), "--all", "--top", "1",
                                 "--json").stdout)
        self.assertIsNone(first_difference(dataclasses.asdict(report), cli))
        lean = self.registry.query(self.model_path("finetune-bf16"),
                                   include_tensor_matches=False)
        self.assertEqual(lean.tensor_matches, [])
        self.assertEqual(lean.candidates[0].model.name, "org/base")

    def test_declared_base_model_is_checked_against_the_evidence(self):
        report = self.registry.query(self.model_path("finetune-bf16"), base_models=["org/other"])
        self.assertEqual(report.lineage.declared_base_models, ["org/other"])
        self.assertEqual(report.lineage.declared_in, "command line")
        self.assertTrue(report.lineage.undeclared_reuse)
        self.assertTrue(report.lineage.unsupported_claim)
        cli = json.loads(run_cli("--server", self.server.address, "query",
                                 self.model_path("finetune-bf16"), "--base-model", "org/other",
                                 "--json").stdout)
        self.assertIsNone(first_difference(dataclasses.asdict(report), cli))

    def test_query_tensor_equals_the_cli_json(self):
        tensor = "model.embed_tokens.weight"
        result = self.registry.query_tensor(self.model_path("finetune-bf16"), tensor)
        self.assertIsInstance(result, weightprint.TensorReport)
        self.assertEqual(result.query.name, tensor)
        self.assertEqual(result.matches[0].model, "org/base")
        self.assertEqual(result.matches[0].relation, "derived")
        cli = json.loads(run_cli("--server", self.server.address, "query",
                                 self.model_path("finetune-bf16"), "--tensor", tensor,
                                 "--json").stdout)
        self.assertIsNone(first_difference(dataclasses.asdict(result), cli))
        with self.assertRaises(KeyError):
            self.registry.query_tensor(self.model_path("finetune-bf16"), "no.such.tensor")

    def test_a_bundle_queries_like_its_model_file(self):
        bundle = weightprint.read_bundle(self.bundle_of("finetune-bf16"))
        self.assertGreater(len(bundle.tensors), 0)
        self.assertEqual(bundle.info.format, "safetensors")
        from_bundle = dataclasses.asdict(self.registry.query(bundle.path))
        from_file = dataclasses.asdict(self.registry.query(self.model_path("finetune-bf16")))
        self.assertIsNone(first_difference(from_bundle, from_file))

    def test_a_bundle_carries_the_name_it_was_fingerprinted_with(self):
        named = os.path.join(self.tmp, "named.wpb")
        run_cli("fingerprint", self.model_path("independent"), "-o", named,
                "--name", "org/named", "--revision", "r1")
        with open(named, "rb") as f:
            stored = self.registry.register(weightprint.parse_bundle(f.read(), named))
        self.assertEqual(stored.display_name, "org/named@r1")
        self.assertEqual(self.registry.model("org/named@r1").id, stored.id)
        self.registry.delete(stored.id)
        nameless = self.bundle_of("independent")
        with self.assertRaises(ValueError):
            self.registry.register(nameless)

    def test_models_model_stats(self):
        listed = self.registry.models()
        self.assertTrue(all(isinstance(m, weightprint.ModelInfo) for m in listed))
        self.assertIn("org/base", [m.name for m in listed])
        self.assertIn("org/other", [m.name for m in listed])
        self.assertEqual([m.name for m in self.registry.models(name_prefix="org/b")],
                         ["org/base"])
        cli = json.loads(run_cli("--server", self.server.address, "models", "list",
                                 "--json").stdout)
        self.assertEqual([dataclasses.asdict(m) for m in listed], cli)
        self.assertEqual(self.registry.model("org/base"), self.base)
        self.assertEqual(self.registry.model(self.base.id).name, "org/base")
        with self.assertRaises(weightprint.RegistryError) as caught:
            self.registry.model("org/none")
        self.assertEqual(caught.exception.code, "NOT_FOUND")
        stats = self.registry.stats()
        self.assertGreaterEqual(stats.models, 2)
        self.assertGreaterEqual(stats.tensors, self.base.tensor_count + self.other.tensor_count)
        cli_stats = json.loads(run_cli("--server", self.server.address, "stats",
                                       "--json").stdout)
        self.assertEqual(set(dataclasses.asdict(stats)), set(cli_stats))

    def test_delete(self):
        stored = self.registry.register(self.model_path("independent"), name="org/scratch")
        deleted = self.registry.delete("org/scratch")
        self.assertEqual(deleted.id, stored.id)
        self.assertNotIn("org/scratch", [m.name for m in self.registry.models()])

    def test_damaged_bundles_raise_a_clear_error(self):
        with open(self.bundle_of("other"), "rb") as f:
            good = f.read()
        weightprint.parse_bundle(good)  # the undamaged bytes read fine
        body_length = struct.unpack_from("<Q", good, 16)[0]
        cases = {
            "magic": (b"NOTABUND" + good[8:], 0, "magic"),
            "version": (good[:8] + struct.pack("<I", 2) + good[12:], 8, "version 2"),
            "flags": (good[:12] + struct.pack("<I", 1) + good[16:], 12, "flags"),
            "truncated": (good[:-1], 16, "truncated"),
            "trailing": (good + b"\0", len(good), "after the checksum"),
            "checksum": (good[:30] + bytes([good[30] ^ 1]) + good[31:], 24 + body_length,
                         "checksum mismatch"),
            "short": (good[:10], 10, "at least 40"),
        }
        for name, (data, offset, words) in cases.items():
            with self.subTest(case=name):
                path = os.path.join(self.tmp, f"bad-{name}.wpb")
                with open(path, "wb") as f:
                    f.write(data)
                with self.assertRaises(weightprint.BundleError) as caught:
                    self.registry.query(path)
                self.assertEqual(caught.exception.offset, offset)
                self.assertIn(path, str(caught.exception))
                self.assertIn(words, str(caught.exception))
        # A body that is not a ModelBundle, with a valid checksum over it.
        import xxhash
        junk = b"\xff" * 16
        data = (b"WPBUNDLE" + struct.pack("<IIQ", 1, 0, len(junk)) + junk
                + xxhash.xxh3_128(junk).digest())
        with self.assertRaises(weightprint.BundleError) as caught:
            weightprint.parse_bundle(data, "junk.wpb")
        self.assertEqual(caught.exception.offset, 24)
        self.assertIn("ModelBundle", str(caught.exception))

    def test_a_missing_model_file_is_a_clear_error(self):
        missing = os.path.join(self.tmp, "nothing-here.safetensors")
        with self.assertRaises(weightprint.FingerprintError) as caught:
            self.registry.query(missing)
        self.assertIn(missing, str(caught.exception))
        not_a_model = os.path.join(self.tmp, "not-a-model.bin")
        with open(not_a_model, "wb") as f:
            f.write(b"this is not a model file")
        with self.assertRaises(weightprint.FingerprintError) as caught:
            self.registry.query(not_a_model)
        self.assertIn("exit", str(caught.exception))

    def test_an_unreachable_server_is_unavailable(self):
        with weightprint.Registry("127.0.0.1:1", timeout=10) as nowhere:
            with self.assertRaises(weightprint.RegistryError) as caught:
                nowhere.stats()
        self.assertEqual(caught.exception.code, "UNAVAILABLE")
        self.assertIn("127.0.0.1:1", str(caught.exception))

    def test_batches_stay_under_one_mebibyte(self):
        bundle = weightprint.read_bundle(self.bundle_of("base"))
        largest = max(bundle.tensors, key=lambda t: t.ByteSize())
        tensors = [largest] * 3000  # several MiB of fingerprints
        batches = list(registry_module.tensor_batches(tensors))
        self.assertGreater(len(batches), 1)
        self.assertEqual(sum(len(b.tensors) for b in batches), len(tensors))
        for batch in batches:
            request = weightprint.registry.pb.RegisterModelRequest(tensors=batch)
            self.assertLessEqual(request.ByteSize(), registry_module.MAX_MESSAGE_BYTES)


class TokenServerTest(unittest.TestCase):
    """A server with --tokens refuses writes without a token and with a reader token."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="weightprint-py-tokens-")
        cls.models = os.path.join(cls.tmp, "models")
        run_cli("demo", "--models-only", "--workdir", cls.models)
        tokens = os.path.join(cls.tmp, "tokens")
        with open(tokens, "w") as f:
            f.write(f"py-writer writer {WRITER_SECRET}\npy-reader reader {READER_SECRET}\n")
        cls.server = Server(cls.tmp, "tokens", ["--tokens", tokens])

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_writes_need_a_writer_token(self):
        base = os.path.join(self.models, "base.safetensors")
        with weightprint.Registry(self.server.address, timeout=60, cli=CLI) as anonymous:
            with self.assertRaises(weightprint.RegistryError) as caught:
                anonymous.register(base, name="org/base")
            self.assertEqual(caught.exception.code, "UNAUTHENTICATED")
        with weightprint.Registry(self.server.address, token=READER_SECRET, timeout=60,
                                  cli=CLI) as reader:
            with self.assertRaises(weightprint.RegistryError) as caught:
                reader.register(base, name="org/base")
            self.assertEqual(caught.exception.code, "PERMISSION_DENIED")
        with weightprint.Registry(self.server.address, token="wrong-0123456789abcdef",
                                  timeout=60, cli=CLI) as wrong:
            with self.assertRaises(weightprint.RegistryError) as caught:
                wrong.register(base, name="org/base")
            self.assertEqual(caught.exception.code, "UNAUTHENTICATED")
        with weightprint.Registry(self.server.address, token=WRITER_SECRET, timeout=60,
                                  cli=CLI) as writer:
            stored = writer.register(base, name="org/base")
            self.assertEqual(stored.name, "org/base")
            self.assertEqual([m.name for m in writer.models()], ["org/base"])
        # The audit trail names the token the write came with.
        audit = run_cli("--server", self.server.address, "audit").stdout
        self.assertRegex(audit, r"register +org/base .*by py-writer \[writer\]")


def without_created_unix(value):
    """`value` (asdict output) with every ModelInfo's created_unix removed: the one field in
    which a model stored by ingest and the same model registered on another server must differ
    (each store stamps its own clock)."""
    if isinstance(value, dict):
        return {k: without_created_unix(v) for k, v in value.items() if k != "created_unix"}
    if isinstance(value, list):
        return [without_created_unix(v) for v in value]
    return value


class IngestTest(unittest.TestCase):
    """Registry.ingest over the IngestBundles RPC, on a server with writer and reader tokens,
    against registering the same bundles one at a time on a second (open) server."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="weightprint-py-ingest-")
        cls.models = os.path.join(cls.tmp, "models")
        run_cli("demo", "--models-only", "--workdir", cls.models)
        tokens = os.path.join(cls.tmp, "tokens")
        with open(tokens, "w") as f:
            f.write(f"py-writer writer {WRITER_SECRET}\npy-reader reader {READER_SECRET}\n")
        cls.server = Server(cls.tmp, "ingest", ["--tokens", tokens])
        cls.reference = Server(cls.tmp, "reference")
        cls.writer = weightprint.Registry(cls.server.address, token=WRITER_SECRET, timeout=60,
                                         cli=CLI)
        cls.bundles = {}
        for model, name in (("base", "org/base"), ("other", "org/other"),
                            ("independent", "org/independent")):
            out = os.path.join(cls.tmp, f"{model}.wpb")
            run_cli("fingerprint", os.path.join(cls.models, f"{model}.safetensors"), "-o", out,
                    "--name", name)
            cls.bundles[model] = out

    @classmethod
    def tearDownClass(cls):
        cls.writer.close()
        cls.server.stop()
        cls.reference.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def assert_not_stored(self, name):
        with self.assertRaises(weightprint.RegistryError) as caught:
            self.writer.model(name)
        self.assertEqual(caught.exception.code, "NOT_FOUND")

    def read(self, model):
        with open(self.bundles[model], "rb") as f:
            return f.read()

    def test_ingest_stores_the_bundles_and_queries_as_registering_them(self):
        files = [self.bundles["base"], self.bundles["other"]]
        sizes = [len(weightprint.read_bundle(f).tensors) for f in files]
        result = self.writer.ingest(files)
        self.assertIsInstance(result, weightprint.IngestResult)
        self.assertEqual([o.origin for o in result.outcomes], files)
        self.assertEqual([o.action for o in result.outcomes], ["register", "register"])
        self.assertEqual([o.model.name for o in result.outcomes], ["org/base", "org/other"])
        self.assertEqual([o.model.tensor_count for o in result.outcomes], sizes)
        self.assertEqual(result.models_stored, 2)
        self.assertEqual(result.models_unchanged, 0)
        self.assertEqual(result.tensors_sent, sum(sizes))
        self.assertEqual(result.tensors_stored, sum(sizes))
        for outcome in result.outcomes:
            self.assertEqual(self.writer.model(outcome.model.name), outcome.model)
        # The writer's models are not the operators' own: trusted stays false.
        self.assertEqual([o.model.trusted for o in result.outcomes], [False, False])
        stats = self.writer.stats()

        # The same bundles registered one at a time, in the same order, on another server.
        with weightprint.Registry(self.reference.address, timeout=60, cli=CLI) as reference:
            for f in files:
                reference.register(f)
            for query in ("finetune-bf16", "cast-f16", "independent"):
                with self.subTest(query=query):
                    path = os.path.join(self.models, f"{query}.safetensors")
                    ingested = dataclasses.asdict(self.writer.query(path))
                    registered = dataclasses.asdict(reference.query(path))
                    ingested, registered = map(without_created_unix, (ingested, registered))
                    self.assertIsNone(first_difference(ingested, registered))
                    self.assertEqual(ingested, registered)
            report = self.writer.query(os.path.join(self.models, "finetune-bf16.safetensors"))
            self.assertEqual(report.candidates[0].model.name, "org/base")
            self.assertEqual(report.candidates[0].relation, "derived")

        # Ingesting the same bundles again stores nothing and names the records they match.
        again = self.writer.ingest(files)
        self.assertEqual([o.action for o in again.outcomes],
                         ["register-unchanged", "register-unchanged"])
        self.assertEqual([o.model.id for o in again.outcomes],
                         [o.model.id for o in result.outcomes])
        self.assertEqual(again.models_stored, 0)
        self.assertEqual(again.models_unchanged, 2)
        self.assertEqual(again.tensors_stored, 0)
        self.assertEqual(again.tensors_sent, sum(sizes))
        after = self.writer.stats()
        self.assertEqual((after.models, after.tensors), (stats.models, stats.tensors))
        # The audit trail names the token, once per model and call.
        audit = run_cli("--server", self.server.address, "audit").stdout
        self.assertRegex(audit, r"register +org/other .*by py-writer \[writer\]")
        self.assertRegex(audit, r"register-unchanged +org/base .*by py-writer \[writer\]")

    def test_ingest_needs_a_writer_token_and_stores_nothing_otherwise(self):
        bundle = self.bundles["independent"]
        with weightprint.Registry(self.server.address, token=READER_SECRET,
                                  timeout=60) as reader:
            with self.assertRaises(weightprint.IngestError) as caught:
                reader.ingest([bundle])
            self.assertEqual(caught.exception.code, "PERMISSION_DENIED")
            self.assertIsNone(caught.exception.origin)
        with weightprint.Registry(self.server.address, timeout=60) as anonymous:
            with self.assertRaises(weightprint.RegistryError) as caught:
                anonymous.ingest(bundle)
            self.assertEqual(caught.exception.code, "UNAUTHENTICATED")
        self.assert_not_stored("org/independent")

    def test_a_damaged_bundle_fails_before_anything_is_sent(self):
        good = self.read("independent")
        damaged = os.path.join(self.tmp, "damaged.wpb")
        with open(damaged, "wb") as f:
            f.write(good[:40] + bytes([good[40] ^ 0x55]) + good[41:])
        body_length = struct.unpack_from("<Q", good, 16)[0]
        # Against an address where nothing listens: any attempt to send would be UNAVAILABLE.
        with weightprint.Registry("127.0.0.1:1", timeout=10) as nowhere:
            with self.assertRaises(weightprint.BundleError) as caught:
                nowhere.ingest([self.bundles["independent"], damaged])
        self.assertEqual(caught.exception.path, damaged)
        self.assertEqual(caught.exception.offset, 24 + body_length)
        self.assertIn("checksum mismatch", str(caught.exception))
        # On the real server: the good bundle before it is not stored either.
        with self.assertRaises(weightprint.BundleError) as caught:
            self.writer.ingest([self.bundles["independent"], damaged])
        self.assertIn(damaged, str(caught.exception))
        self.assert_not_stored("org/independent")
        # A model file is not a bundle: ingest takes bundles only.
        model_file = os.path.join(self.models, "independent.safetensors")
        with self.assertRaises(weightprint.BundleError) as caught:
            self.writer.ingest(model_file)
        self.assertEqual((caught.exception.path, caught.exception.offset), (model_file, 0))
        # A bundle without a model name is refused before sending too.
        nameless = os.path.join(self.tmp, "nameless.wpb")
        run_cli("fingerprint", model_file, "-o", nameless)
        with self.assertRaises(ValueError) as caught:
            self.writer.ingest([nameless])
        self.assertIn(nameless, str(caught.exception))

    def test_bundle_bytes_and_a_refused_model_named_by_its_origin(self):
        # On a server of its own (open to loopback writers), so that the other tests' registry
        # matches the reference one model for model.
        server = Server(self.tmp, "bytes")
        self.addCleanup(server.stop)
        registry = weightprint.Registry(server.address, timeout=60, cli=CLI)
        self.addCleanup(registry.close)
        registry.ingest(self.bundles["base"])
        renamed = os.path.join(self.tmp, "renamed.wpb")
        run_cli("fingerprint", os.path.join(self.models, "independent.safetensors"), "-o",
                renamed, "--name", "org/from-bytes")
        with open(renamed, "rb") as f:
            fresh = f.read()
        conflicting = os.path.join(self.tmp, "conflicting.wpb")
        run_cli("fingerprint", os.path.join(self.models, "other.safetensors"), "-o",
                conflicting, "--name", "org/base")
        with open(conflicting, "rb") as f:
            conflict = f.read()
        # org/base with other weights: the whole call is refused, naming the second item.
        with self.assertRaises(weightprint.IngestError) as caught:
            registry.ingest([fresh, conflict])
        self.assertEqual(caught.exception.code, "ALREADY_EXISTS")
        self.assertEqual(caught.exception.origin, "<bytes 2>")
        self.assertIn("org/base", caught.exception.message)
        with self.assertRaises(weightprint.RegistryError) as missing:
            registry.model("org/from-bytes")
        self.assertEqual(missing.exception.code, "NOT_FOUND")
        # Bytes and a Bundle in one call; the second is the same model again, within the call.
        result = registry.ingest([fresh, weightprint.parse_bundle(fresh, "again.wpb")])
        self.assertEqual([(o.origin, o.action) for o in result.outcomes],
                         [("<bytes 1>", "register"), ("again.wpb", "register-unchanged")])
        self.assertEqual(result.models_stored, 1)
        self.assertEqual(registry.model("org/from-bytes").id, result.outcomes[0].model.id)
        self.assertEqual(result.outcomes[1].model.id, result.outcomes[0].model.id)

class MutualTlsServerTest(unittest.TestCase):
    """TLS with a CA, server and client certificates made here by the openssl command."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="weightprint-py-tls-")
        cls.models = os.path.join(cls.tmp, "models")
        run_cli("demo", "--models-only", "--workdir", cls.models)
        script = (
            "set -e; exec >openssl.log 2>&1; "
            "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=weightprint-py-ca "
            "  -keyout ca.key -out ca.pem; "
            "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > san.ext; "
            "openssl req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout server.key "
            "  -out server.csr; "
            "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 "
            "  -extfile san.ext -out server.pem; "
            "openssl req -newkey rsa:2048 -nodes -subj /CN=py-operator -keyout client.key "
            "  -out client.csr; "
            "openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 "
            "  -out client.pem")
        made = subprocess.run(["bash", "-c", script], cwd=cls.tmp, timeout=120)
        if made.returncode != 0:
            with open(os.path.join(cls.tmp, "openssl.log")) as f:
                raise AssertionError(f"openssl failed:\n{f.read()}")
        tokens = os.path.join(cls.tmp, "tokens")
        with open(tokens, "w") as f:
            f.write(f"py-writer writer {WRITER_SECRET}\n")
        cls.server = Server(cls.tmp, "tls", [
            "--tls-cert", cls.file("server.pem"), "--tls-key", cls.file("server.key"),
            "--tls-client-ca", cls.file("ca.pem"), "--tokens", tokens])

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def file(cls, name):
        return os.path.join(cls.tmp, name)

    def test_register_over_mutual_tls_with_a_token(self):
        with weightprint.Registry(self.server.address, token=WRITER_SECRET,
                                  tls=self.file("ca.pem"), client_cert=self.file("client.pem"),
                                  client_key=self.file("client.key"), timeout=60,
                                  cli=CLI) as registry:
            stored = registry.register(os.path.join(self.models, "base.safetensors"),
                                       name="org/base")
            self.assertEqual(stored.name, "org/base")
            report = registry.query(os.path.join(self.models, "finetune-bf16.safetensors"))
            self.assertEqual(report.candidates[0].model.name, "org/base")
        # Without a client certificate, or in plaintext, there is no connection at all.
        with weightprint.Registry(self.server.address, token=WRITER_SECRET,
                                  tls=self.file("ca.pem"), timeout=10) as no_cert:
            with self.assertRaises(weightprint.RegistryError) as caught:
                no_cert.stats()
            self.assertEqual(caught.exception.code, "UNAVAILABLE")
        with weightprint.Registry(self.server.address, timeout=10) as plain:
            with self.assertRaises(weightprint.RegistryError) as caught:
                plain.stats()
            self.assertEqual(caught.exception.code, "UNAVAILABLE")
        with self.assertRaises(ValueError):
            weightprint.Registry(self.server.address, tls=True, client_cert="only-a-cert.pem")


if __name__ == "__main__":
    if "--cli" in sys.argv:
        i = sys.argv.index("--cli")
        CLI = sys.argv[i + 1]
        del sys.argv[i:i + 2]
    CLI = CLI or os.environ.get("WEIGHTPRINT_CLI") or shutil.which("weightprint")
    if not CLI:
        sys.exit("python_client_test.py: pass --cli PATH_TO_WEIGHTPRINT")
    unittest.main(verbosity=2)
