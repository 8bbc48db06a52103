#!/usr/bin/env python3
"""Reads Prometheus pages scraped from `weightprint serve --metrics` and checks them.

  metrics_check.py delta BEFORE AFTER EXPECTED_JSON
      The per-(method, code) change of weightprint_rpc_requests_total between two pages equals
      EXPECTED_JSON ({"Method code": n, ...}) exactly, every other series unchanged; the error
      counter moved by the non-OK part of it; each method's histogram count moved as its
      requests did, its buckets are cumulative and end in +Inf = count; nothing is in flight.
  metrics_check.py stats PAGE STATS_JSON
      The registry gauges equal `weightprint stats --json`.

The page is parsed line by line to the text format's grammar (a promtool run beside this one
checks it with Prometheus's own parser). Exit status 1 with the differences on failure.
"""
import json
import re
import sys

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse(path):
    samples = {}
    for line in open(path, encoding="utf-8"):
        line = line.rstrip("\n")
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        if not m:
            sys.exit(f"metrics_check: {path}: not a sample line: {line!r}")
        labels = tuple(LABEL.findall(m.group(2) or ""))
        value = float(m.group(3))
        samples[(m.group(1), labels)] = value
    return samples


def series(samples, name):
    return {dict(k[1]).get("method", "") + ((" " + dict(k[1])["code"]) if "code" in dict(k[1]) else ""): v
            for k, v in samples.items() if k[0] == name and dict(k[1]).get("service") == "weightprint.v1.Registry"}


def delta(before_path, after_path, expected_path):
    before, after = parse(before_path), parse(after_path)
    expected = json.load(open(expected_path))
    problems = []
    for name, keep in (("weightprint_rpc_requests_total", lambda k: True),
                       ("weightprint_rpc_errors_total", lambda k: not k.endswith(" OK"))):
        b, a = series(before, name), series(after, name)
        want = {k: v for k, v in expected.items() if keep(k)}
        for key in sorted(set(a) | set(b) | set(want)):
            moved = a.get(key, 0) - b.get(key, 0)
            if moved != want.get(key, 0):
                problems.append(f"{name} {key}: moved by {moved:g}, expected {want.get(key, 0)}")
    requests_moved = {}
    for key, n in expected.items():
        method = key.split(" ")[0]
        requests_moved[method] = requests_moved.get(method, 0) + n
    b, a = series(before, "weightprint_rpc_duration_seconds_count"), series(
        after, "weightprint_rpc_duration_seconds_count")
    for method in sorted(set(a) | set(requests_moved)):
        moved = a.get(method, 0) - b.get(method, 0)
        if moved != requests_moved.get(method, 0):
            problems.append(f"latency count {method}: moved by {moved:g}, "
                            f"expected {requests_moved.get(method, 0)}")
    # Histogram shape, every service: cumulative buckets ending in +Inf == count.
    buckets, counts = {}, {}
    for (name, labels), v in after.items():
        d = dict(labels)
        key = (d.get("service"), d.get("method"))
        if name == "weightprint_rpc_duration_seconds_bucket":
            buckets.setdefault(key, []).append((float(d["le"]), v))
        elif name == "weightprint_rpc_duration_seconds_count":
            counts[key] = v
    for key, bs in buckets.items():
        bs.sort()
        values = [v for _, v in bs]
        if values != sorted(values):
            problems.append(f"histogram {key}: buckets not cumulative {values}")
        if bs[-1][0] != float("inf") or bs[-1][1] != counts.get(key):
            problems.append(f"histogram {key}: +Inf bucket {bs[-1]} != count {counts.get(key)}")
    if not buckets:
        problems.append("no weightprint_rpc_duration_seconds histogram on the page")
    for key, v in series(after, "weightprint_rpc_in_flight").items():
        if v != 0:
            problems.append(f"in flight {key}: {v:g} after every call returned")
    return problems


def stats(page_path, stats_path):
    page = parse(page_path)
    st = json.load(open(stats_path))
    problems = []
    gauges = {"weightprint_registry_models": st["models"],
              "weightprint_registry_tensors": st["tensors"],
              "weightprint_registry_vectors": st["vectors"],
              "weightprint_index_vectors": st["vectors"],
              "weightprint_registry_parameters": st["parameters"],
              "weightprint_calibration_pairs": st["calibration_pairs"],
              "weightprint_calibrated": 1 if st["calibration_pairs"] > 0 else 0,
              "weightprint_registry_up": 1}
    for name, want in gauges.items():
        got = page.get((name, ()))
        if got != want:
            problems.append(f"{name}: {got}, stats says {want}")
    info = page.get(("weightprint_index_info", (("type", st["index_type"]),)))
    if info != 1:
        problems.append(f"weightprint_index_info has no series for type {st['index_type']!r}")
    build = [dict(k[1]) for k in page if k[0] == "weightprint_build_info"]
    if len(build) != 1 or build[0].get("schema_version") != str(st["schema_version"]) or \
            build[0].get("fingerprint_version") != str(st["fingerprint_version"]):
        problems.append(f"weightprint_build_info {build} disagrees with stats")
    uptime = page.get(("weightprint_uptime_seconds", ()))
    if uptime is None or uptime < 0:
        problems.append(f"weightprint_uptime_seconds: {uptime}")
    return problems


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "delta":
        found = delta(*sys.argv[2:])
    elif len(sys.argv) == 4 and sys.argv[1] == "stats":
        found = stats(*sys.argv[2:])
    else:
        sys.exit(__doc__)
    for p in found:
        print(p)
    sys.exit(1 if found else 0)
