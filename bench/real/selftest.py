#!/usr/bin/python3
"""Tests the real-weights runner (run.py) itself, on a miniature cache of synthetic safetensors
files written here, so that its scoring, skip handling and exit codes are checked on every
machine, with or without the real cache.

Usage: selftest.py --cli build/client/weightprint

The miniature key registers A, B, C and an unreadable file; B carries a copy of one of A's
learned tensors (a reused component: real evidence) while the key calls A and B unrelated on
purpose, so that querying a copy of A must produce exactly that false positive. Checked:
  - exit 1 and "FAIL" on that false positive; exit 0 with --xfail-known once the key lists it;
  - the copy of A and a fine-tune of C detected; the unreadable file listed as skipped;
  - a known link that does not occur (A / C) reported as no longer occurring;
  - exit 77 with --skip-if-absent, and 2 without it, when the cache is empty.
Standard library only."""

import argparse
import json
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name, (shape, values) in tensors.items():
        raw = struct.pack(f"<{len(values)}f", *values)
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def random_model(rng, names, n=64):
    return {name: ([n, n], [rng.gauss(0.0, 0.02) for _ in range(n * n)]) for name in names}


def run(cli, cache, key, *extra):
    proc = subprocess.run([sys.executable, os.path.join(HERE, "run.py"), "--cli", cli, "--cache", cache,
                           "--key", key, *extra], capture_output=True, text=True, timeout=600)
    return proc.returncode, proc.stdout + proc.stderr


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", required=True)
    args = ap.parse_args()
    failures = []
    checks = [0]

    def expect(cond, what, output):
        checks[0] += 1
        if not cond:
            failures.append(what)
            print(f"FAILED: {what}\n--- runner output ---\n{output}\n---")

    tmp = tempfile.mkdtemp(prefix="weightprint-real-selftest-")
    try:
        files = os.path.join(tmp, "cache", "files")
        os.makedirs(files)
        rng = random.Random(7)
        layers = [f"layers.{i}.weight" for i in range(4)]
        a = random_model(rng, layers)
        b = random_model(rng, layers)
        b["layers.0.weight"] = a["layers.0.weight"]  # a reused learned component
        c = random_model(rng, layers)
        c_tuned = {k: (s, [v + rng.gauss(0.0, 0.002) for v in vals]) for k, (s, vals) in c.items()}
        for name, model in [("a", a), ("b", b), ("c", c), ("c_tuned", c_tuned)]:
            write_safetensors(os.path.join(files, f"{name}.safetensors"), model)
        shutil.copy(os.path.join(files, "a.safetensors"), os.path.join(files, "a_copy.safetensors"))
        with open(os.path.join(files, "x.unknown"), "wb") as f:
            f.write(b"not a model format anyone reads" * 8)

        key = {
            "schema": "weightprint.real_key.v1",
            "models": {m: {"file": f"files/{m}.safetensors", "format": "safetensors"}
                       for m in ["a", "b", "c", "c_tuned", "a_copy"]},
            "registered": ["a", "b", "c", "x"],
            "queries": [
                {"model": "a_copy", "lineage": "a", "expect": [{"parent": "a", "case": "copy"}]},
                {"model": "c_tuned", "lineage": "c", "expect": [{"parent": "c", "case": "tuned"}]},
            ],
            "negative_classes": [{"models": ["a", "b"], "class": "said unrelated"}],
            "known_false_links": [],
            "fixed_tensors": [],
        }
        key["models"]["x"] = {"file": "files/x.unknown", "format": "none"}
        key_path = os.path.join(tmp, "key.json")
        cache = os.path.join(tmp, "cache")

        with open(key_path, "w") as f:
            json.dump(key, f)
        rc, out = run(args.cli, cache, key_path)
        expect(rc == 1 and "FAIL: 1 false positives not in the key's known list" in out,
               "an unlisted false positive fails the run (exit 1)", out)
        expect("a_copy -> b (said unrelated) [NEW]" in out, "the false link is named", out)
        expect("| copy | 1 | 1/1 |" in out and "| tuned | 1 | 1/1 |" in out,
               "the copy and the fine-tune are detected", out)
        expect("- x (none, files/x.unknown): format not readable yet" in out,
               "an unreadable file is listed as skipped", out)

        key["known_false_links"] = [{"models": ["a", "b"], "cause": "test"},
                                    {"models": ["a", "c"], "cause": "test"}]
        with open(key_path, "w") as f:
            json.dump(key, f)
        rc, out = run(args.cli, cache, key_path)
        expect(rc == 1 and "all of them known" in out, "a known false positive still fails by default", out)
        rc, out = run(args.cli, cache, key_path, "--xfail-known")
        expect(rc == 0 and "PASS with 1 known false positives" in out,
               "--xfail-known passes on known false positives only", out)
        expect("no longer occur (remove them from known_false_links): a / c" in out,
               "a known link that does not occur is reported", out)

        empty = os.path.join(tmp, "empty")
        rc, out = run(args.cli, empty, key_path, "--skip-if-absent")
        expect(rc == 77 and "SKIPPED" in out, "an absent cache skips with 77", out)
        rc, out = run(args.cli, empty, key_path)
        expect(rc == 2, "an absent cache is a set-up error without --skip-if-absent", out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{checks[0] - len(failures)} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
