#!/usr/bin/python3
"""The baseline a user would otherwise write: the fingerprint's statistics and sketch in numpy.

Reads a bf16/f16/f32 safetensors file through a memory map and computes, per tensor, the same
moments (mean, std, min, max, excess kurtosis, zero fraction, non-finite count) and the same
256-bucket centred CountSketch as weightprint (docs/FINGERPRINT.md), in chunks of 2^24
elements so memory stays bounded. It does not compute the XXH3 hashes (Debian ships no Python
binding for them), so it does strictly less work than weightprint.

Usage: numpy_stats.py FILE.safetensors  -> prints "numpy_s=... numpy_gbps=... tensors=N"
"""
import json
import struct
import sys
import time

import numpy as np

M1 = np.uint64(0xBF58476D1CE4E5B9)
M2 = np.uint64(0x94D049BB133111EB)
SALT = np.uint64(0x5752315345454431)
CHUNK = 1 << 24


def mix64(z):
    z = z ^ (z >> np.uint64(30))
    z = z * M1
    z = z ^ (z >> np.uint64(27))
    z = z * M2
    return z ^ (z >> np.uint64(31))


def to_float(raw, dtype):
    if dtype == "BF16":
        return (raw.view(np.uint16).astype(np.uint32) << np.uint32(16)).view(np.float32)
    if dtype == "F16":
        return raw.view(np.float16).astype(np.float32)
    if dtype == "F32":
        return raw.view(np.float32)
    raise SystemExit(f"unsupported dtype {dtype}")


def fingerprint(data, dtype, shape):
    n = int(np.prod(shape)) if shape else 1
    inner = int(np.prod(shape[1:])) if len(shape) >= 2 else n
    size = {"BF16": 2, "F16": 2, "F32": 4}[dtype]
    s1 = s2 = s3 = s4 = 0.0
    count = zeros = bad = 0
    lo, hi = np.inf, -np.inf
    S = np.zeros(256)
    T = np.zeros(256)
    for start in range(0, n, CHUNK):
        stop = min(n, start + CHUNK)
        x = to_float(data[start * size:stop * size], dtype).astype(np.float64)
        finite = np.isfinite(x)
        bad += int((~finite).sum())
        zeros += int((x == 0).sum())
        x = np.where(finite, x, 0.0)
        idx = np.arange(start, stop, dtype=np.uint64)
        if len(shape) >= 2:
            rows, cols = idx // np.uint64(inner), idx % np.uint64(inner)
        else:
            rows, cols = np.zeros_like(idx), idx
        h = mix64(mix64(rows ^ SALT) ^ cols)
        bucket = (h >> np.uint64(56)).astype(np.int64)
        sign = np.where((h & np.uint64(1)) == 1, -1.0, 1.0) * finite
        S += np.bincount(bucket, weights=sign * x, minlength=256)
        T += np.bincount(bucket, weights=sign, minlength=256)
        xf = x[finite]
        if xf.size:
            count += xf.size
            s1 += xf.sum()
            lo, hi = min(lo, xf.min()), max(hi, xf.max())
    mean = s1 / max(count, 1)
    # Second pass for the central moments, as a careful user would (raw power sums cancel).
    for start in range(0, n, CHUNK):
        stop = min(n, start + CHUNK)
        x = to_float(data[start * size:stop * size], dtype).astype(np.float64)
        d = x[np.isfinite(x)] - mean
        d2 = d * d
        s2 += d2.sum()
        s3 += (d2 * d).sum()
        s4 += (d2 * d2).sum()
    var = s2 / max(count, 1)
    kurt = (s4 / count) / (var * var) - 3 if var > 0 else 0.0
    v = S - mean * T
    norm = np.linalg.norm(v)
    sketch = (v / norm).astype(np.float32) if norm > 0 else np.zeros(256, np.float32)
    return dict(mean=mean, std=np.sqrt(var), min=lo, max=hi, kurtosis=kurt,
                zero_fraction=zeros / max(n, 1), non_finite=bad, sketch=sketch)


def main():
    path = sys.argv[1]
    start = time.perf_counter()
    with open(path, "rb") as f:
        (header_len,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(header_len))
    mm = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + header_len)
    total = 0
    tensors = 0
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        fingerprint(mm[begin:end], info["dtype"], info["shape"])
        total += end - begin
        tensors += 1
    elapsed = time.perf_counter() - start
    print(f"numpy_s={elapsed:.2f} numpy_gbps={total / elapsed / 1e9:.3f} tensors={tensors}")


if __name__ == "__main__":
    main()
