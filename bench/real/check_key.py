#!/usr/bin/python3
"""Checks the answer key of the real-weights evaluation against the tensors themselves, with
readers independent of weightprint's (tensors.py), so that the key is evidence and not opinion.

Usage: check_key.py [--cache DIR] [--key answer_key.json]

For every pair the key states (query and expected parent, related models, negative classes) it
compares each float tensor of 256+ elements of one model with the same-shape tensors of the
other: equal by value (after a cast to float16, so an fp16 copy counts) or, failing that, the
best absolute Pearson correlation. It then checks the claim:
  identical copy / re-export  every such tensor of the query equal to one of the parent's
  derivative (any other case) median best correlation of the query's tensors >= 0.5
  related                     as a derivative
  negative                    the only equal tensors are the key's fixed tensors or constant
                              ones, and the median best correlation of learned tensors < 0.3
Exit status 1 if a claim does not hold. Needs python3-numpy and python3-onnx (Debian)."""

import argparse
import hashlib
import os
import statistics
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import json  # noqa: E402

import tensors  # noqa: E402

MIN_ELEMENTS = 256


def learned(model):
    return {n: a.astype(np.float64) for n, a in model.items()
            if a.dtype.kind == "f" and a.size >= MIN_ELEMENTS}


def digest(a):
    return hashlib.sha1(np.ascontiguousarray(a.astype(np.float16)).tobytes()).hexdigest()


def compare(q, p):
    """Per query tensor: (name, equal to some parent tensor, best |Pearson| over same shape)."""
    p_hash = {digest(a) for a in p.values()}
    by_shape = {}
    for a in p.values():
        by_shape.setdefault(a.shape, []).append(a.ravel())
    out = []
    for name, a in q.items():
        if digest(a) in p_hash:
            out.append((name, True, 1.0))
            continue
        x = a.ravel()
        best = 0.0
        if x.std() > 0:
            for y in by_shape.get(a.shape, []):
                if y.std() > 0:
                    best = max(best, abs(float(np.corrcoef(x, y)[0, 1])))
        out.append((name, False, best))
    return out


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--cache", default=os.environ.get(
        "WEIGHTPRINT_REAL_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "weightprint", "real")))
    ap.add_argument("--key", default=os.path.join(here, "answer_key.json"))
    args = ap.parse_args()
    key = json.load(open(args.key))
    models = key["models"]
    cache = {}

    def load(mid):
        if mid not in cache:
            m = models[mid]
            cache[mid] = learned(tensors.load(os.path.join(args.cache, m["file"]), m["format"]))
        return cache[mid]

    fixed_names = {name.split(" ")[0] for f in key["fixed_tensors"] for names in f["in"].values()
                   for name in names}
    failures = 0

    def report(label, a, b, claim):
        nonlocal failures
        rows = compare(load(a), load(b))
        equal = [r for r in rows if r[1]]
        unequal = [r for r in rows if not r[1]]
        med = statistics.median([r[2] for r in unequal]) if unequal else 1.0
        if claim == "identical":
            ok = not unequal
        elif claim == "derived":
            ok = statistics.median([r[2] for r in rows]) >= 0.5
        else:
            stray = [r[0] for r in equal if r[0] not in fixed_names and np.ptp(load(a)[r[0]]) > 0]
            ok = not stray and med < 0.3
        failures += not ok
        print(f"{'ok  ' if ok else 'FAIL'} {label}: {a} vs {b}: {len(equal)}/{len(rows)} tensors equal; "
              f"median best |r| of the others {med:.3f} (claim: {claim})")

    for q in key["queries"]:
        for e in q["expect"]:
            claim = "identical" if e["case"].startswith(("identical copy", "re-export of one")) else "derived"
            report(e["case"], q["model"], e["parent"], claim)
    for r in key.get("related", []):
        report("related", r["models"][1], r["models"][0], "derived")
    for c in key.get("negative_classes", []):
        report(c["class"], c["models"][0], c["models"][1], "negative")
        report(c["class"], c["models"][1], c["models"][0], "negative")
    print(f"{failures} claims do not hold" if failures else "every claim holds")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
