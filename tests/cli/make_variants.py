#!/usr/bin/env python3
"""Writes derived test models from the demo's F32 safetensors files (standard library only).

usage: make_variants.py MODELS_DIR OUT_DIR

  upscaled.safetensors  depth up-scaling of base: 4 layers become 6 (0 1 2 1 2 3), each a
                        lightly perturbed copy, as in "depth up-scaled" model releases
  composite/            a directory model: its language model is the unregistered
                        `independent` model, its vision tower is a copy of org/other's layers,
                        and its README.md model card declares org/base as its base model
"""
import json
import os
import random
import struct
import sys
from array import array


def read(path):
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    body = data[8 + n:]
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        assert info["dtype"] == "F32", info["dtype"]
        start, end = info["data_offsets"]
        values = array("f")
        values.frombytes(body[start:end])
        tensors[name] = (info["shape"], values)
    return tensors


def write(path, tensors):
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        shape, values = tensors[name]
        raw = values.tobytes()
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for raw in blobs:
            f.write(raw)


def perturb(values, relative, rng):
    n = len(values)
    mean = sum(values) / n
    sd = (sum((v - mean) ** 2 for v in values) / n) ** 0.5 or 1.0
    return array("f", (v + rng.gauss(0.0, relative * sd) for v in values))


def relayer(name, layer_from, layer_to, prefix_from="model.layers.", prefix_to="model.layers."):
    return prefix_to + str(layer_to) + name[len(prefix_from + str(layer_from)):]


def main():
    models, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    rng = random.Random(7)
    base = read(os.path.join(models, "base.safetensors"))
    other = read(os.path.join(models, "other.safetensors"))
    independent = read(os.path.join(models, "independent.safetensors"))

    upscaled = {}
    plan = [0, 1, 2, 1, 2, 3]  # new layer i copies base layer plan[i]
    for name, (shape, values) in base.items():
        if not name.startswith("model.layers."):
            upscaled[name] = (shape, perturb(values, 0.02, rng))
            continue
        layer = int(name.split(".")[2])
        for new, old in enumerate(plan):
            if old == layer:
                upscaled[relayer(name, layer, new)] = (shape, perturb(values, 0.02, rng))
    write(os.path.join(out, "upscaled.safetensors"), upscaled)

    composite = dict(independent)
    for name, (shape, values) in other.items():
        if name.startswith("model.layers."):
            layer = int(name.split(".")[2])
            composite[relayer(name, layer, layer, "model.layers.", "vision_tower.layers.")] = (
                shape, perturb(values, 0.01, rng))
    cdir = os.path.join(out, "composite")
    os.makedirs(cdir, exist_ok=True)
    write(os.path.join(cdir, "model.safetensors"), composite)
    with open(os.path.join(cdir, "README.md"), "w") as f:
        f.write("---\nlicense: apache-2.0\nbase_model:\n  - org/base\n"
                "base_model_relation: finetune\ntags:\n  - test\n---\n"
                "# <script>alert('card')</script> composite\n")


if __name__ == "__main__":
    main()
