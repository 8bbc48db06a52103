#!/usr/bin/python3
"""Writes derivatives of real third-party weights for the real-weights evaluation: the
transforms that a re-publisher applies (cast to fp16, int8 quantization, a fine-tune, pruning),
applied here to real models so that the answer key knows the parent for certain.

Usage: make_derived.py CACHE_DIR   (reads CACHE_DIR/files/..., writes CACHE_DIR/derived/...)

The recipes are fixed (seeded), so the files are the same on every run. Non-trainable buffers
(tensors whose name ends in "basis_buffer": the STFT basis) are left untouched by the fine-tune
and pruning recipes, as training and magnitude pruning leave buffers alone; the fp16 cast
converts every float tensor. Needs python3-numpy and python3-onnx (Debian)."""

import os
import sys

import numpy as np
import onnx
from onnx import numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tensors  # noqa: E402

# (parent file relative to CACHE/files, stem of the derived files, seed)
PARENTS = [
    ("vad-web-0.0.24/dist/silero_vad_v5.onnx", "silero_v5", 11),
    ("ocr-models-1.4.2/assets/ch_PP-OCRv4_det_infer.onnx", "ppocr_v4_det", 12),
]
MIN_ELEMENTS = 64  # smaller tensors are left alone by every recipe


def _is_buffer(name):
    return name.endswith("basis_buffer")


def _per_row_int8(w):
    rows = w.reshape(w.shape[0], -1).astype(np.float64)
    scale = np.abs(rows).max(axis=1, keepdims=True) / 127.0
    scale[scale == 0] = 1.0
    q = np.clip(np.rint(rows / scale), -127, 127)
    return (q * scale).reshape(w.shape).astype(np.float32)


def _fine_tune(w, rng):
    return (w + rng.normal(0.0, 0.1 * float(w.std()), w.shape)).astype(np.float32)


def _prune_half(w):
    flat = np.abs(w).ravel()
    threshold = np.partition(flat, flat.size // 2)[flat.size // 2]
    return np.where(np.abs(w) < threshold, 0.0, w).astype(np.float32)


def _rewrite_onnx(src, dst, transform):
    """Applies transform(name, array) to every float tensor of at least MIN_ELEMENTS elements
    (initializers and Constant nodes, in subgraphs too) and saves a valid ONNX model."""
    model = onnx.load(src)

    def fix(tensor, name):
        arr = numpy_helper.to_array(tensor)
        if arr.dtype != np.float32 or arr.size < MIN_ELEMENTS or _is_buffer(name):
            return
        tensor.CopyFrom(numpy_helper.from_array(transform(arr), tensor.name))

    def walk(graph):
        for init in graph.initializer:
            fix(init, init.name)
        for node in graph.node:
            for attr in node.attribute:
                if node.op_type == "Constant" and attr.name == "value":
                    fix(attr.t, node.output[0])
                if attr.type == onnx.AttributeProto.GRAPH:
                    walk(attr.g)
                elif attr.type == onnx.AttributeProto.GRAPHS:
                    for sub in attr.graphs:
                        walk(sub)

    walk(model.graph)
    onnx.checker.check_model(model)
    onnx.save(model, dst)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    cache = sys.argv[1]
    out_dir = os.path.join(cache, "derived")
    os.makedirs(out_dir, exist_ok=True)
    for rel, stem, seed in PARENTS:
        src = os.path.join(cache, "files", rel)
        if not os.path.exists(src):
            sys.exit(f"make_derived: {src} is missing: run bench/real/fetch.sh first")
        # fp16 cast, written as safetensors (the parent is ONNX: a change of format too).
        f16 = {name: arr.astype(np.float16)
               for name, arr in tensors.load(src, "onnx").items()
               if arr.dtype == np.float32 and arr.size >= MIN_ELEMENTS}
        tensors.write_safetensors(os.path.join(out_dir, f"{stem}_fp16.safetensors"), f16)
        _rewrite_onnx(src, os.path.join(out_dir, f"{stem}_int8.onnx"),
                      lambda a: _per_row_int8(a) if a.ndim >= 2 else a)
        rng = np.random.default_rng(seed)
        _rewrite_onnx(src, os.path.join(out_dir, f"{stem}_finetune.onnx"),
                      lambda a: _fine_tune(a, rng))
        _rewrite_onnx(src, os.path.join(out_dir, f"{stem}_pruned.onnx"), _prune_half)
        print(f"make_derived: {stem}: fp16, int8, fine-tune, pruned written to {out_dir}")


if __name__ == "__main__":
    main()
