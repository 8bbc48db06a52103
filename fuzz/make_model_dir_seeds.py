#!/usr/bin/env python3
"""Writes the seed corpus of model_dir_fuzzer (fuzz/corpus/model_dir/).

Each seed packs a Hugging Face model directory in the fuzzer's framing: five little-endian u16
lengths, then config.json, model.safetensors.index.json, README.md and the two shards
model-00001-of-00002.safetensors and model-00002-of-00002.safetensors (a zero length leaves a
file out). Usage: python3 fuzz/make_model_dir_seeds.py fuzz/corpus/model_dir
"""
import json
import os
import struct
import sys


def safetensors(tensors, metadata=None):
    """A safetensors file of float32 tensors: {name: (shape, [values])}."""
    header, data = {}, b""
    if metadata:
        header["__metadata__"] = metadata
    for name, (shape, values) in tensors.items():
        raw = struct.pack("<%df" % len(values), *values)
        header[name] = {"dtype": "F32", "shape": shape,
                        "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + data


def values(n, seed):
    state, out = seed, []
    for _ in range(n):
        state = (state * 1103515245 + 12345) % (1 << 31)
        out.append(round(state / (1 << 30) - 1.0, 4))
    return out


def pack(files):
    """files: config, index, readme, shard1, shard2 (bytes, b"" = absent)."""
    return b"".join(struct.pack("<H", len(f)) for f in files) + b"".join(files)


def main(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    config = json.dumps({"architectures": ["LlamaForCausalLM"], "model_type": "llama",
                         "hidden_size": 4}).encode()
    readme = (b"---\nbase_model:\n- org/base\nbase_model_relation: finetune\n"
              b"license: mit\n---\n# tiny\n")
    shard1 = safetensors({"model.embed_tokens.weight": ([4, 4], values(16, 1))},
                         {"format": "pt"})
    shard2 = safetensors({"model.layers.0.mlp.up_proj.weight": ([4, 4], values(16, 2)),
                          "lm_head.weight": ([2, 4], values(8, 3))}, {"format": "pt"})
    index = json.dumps({
        "metadata": {"total_size": 160},
        "weight_map": {
            "model.embed_tokens.weight": "model-00001-of-00002.safetensors",
            "model.layers.0.mlp.up_proj.weight": "model-00002-of-00002.safetensors",
            "lm_head.weight": "model-00002-of-00002.safetensors",
        }}, indent=1).encode()
    seeds = {
        "sharded": pack([config, index, readme, shard1, shard2]),
        # No index: the reader looks for a single model.safetensors and finds none.
        "no_index": pack([config, b"", readme, shard1, b""]),
        "card_flow_list": pack([b"{\"model_type\": \"bert\"}", index,
                                b"---\nbase_model: [\"org/a\", org/b]\n...\n", shard1, shard2]),
    }
    for name, data in seeds.items():
        with open(os.path.join(out_dir, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "fuzz/corpus/model_dir")
