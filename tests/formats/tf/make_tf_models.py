#!/usr/bin/env python3
"""Writes the same small Keras-style model in every TensorFlow-family container weightprint
reads, plus the reference conversion to PyTorch's layout as safetensors.

Usage: make_tf_models.py OUTDIR. Exit status 77 when numpy or h5py is missing (the tests skip).

Files written under OUTDIR:
  reference.safetensors, reference_f16.safetensors  PyTorch layout (the reference conversion)
  keras2_full.h5       Keras 2 full model: /model_weights, model_config attribute
  keras2_weights.h5    Keras 2 save_weights: layer groups at the root, no config
  keras3.weights.h5    Keras 3 layout: layers/<snake_case class>/vars/<i>
  model.keras          zip (stored) of config.json, metadata.json, model.weights.h5
  model_deflated.keras the same, deflated
  tfjs_f32/, tfjs_f16/, tfjs_u8/   TF.js layers models (shards of 30 bytes: weights and even
                       single elements span shard files)
  tfjs_graph/          TF.js graph model: MatMul, Conv2D, DepthwiseConv2dNative,
                       Conv2DBackpropInput consumers
  big.h5, big_reference.safetensors  datasets larger than one hyperslab block
  mapping.txt          lines "FILE TENSOR REFERENCE_NAME PRECISION SCALE" (PRECISION f32, f16,
                       u8, or big for big_reference.safetensors)
"""
import json
import os
import struct
import sys
import zipfile

try:
    import numpy as np
    import h5py
except ImportError as e:  # pragma: no cover
    print(e)
    sys.exit(77)

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(12)


def w(*shape):
    return (rng.standard_normal(shape) * 0.05 + 0.01).astype(np.float32)


# Keras layers, their weights in Keras (TensorFlow) layout, and the reference conversion.
# Each entry: (layer name, Keras class, [(weight name, keras value, reference name, torch value)]).
dense_k, dense_b = w(5, 3), w(3)
conv_k, conv_b = w(3, 3, 2, 4), w(4)
dw_k, dw_b = w(3, 3, 4, 2), w(8)
convt_k, convt_b = w(3, 3, 2, 4), w(2)  # (kh, kw, filters=out, in)
bn = [w(6) for _ in range(4)]
emb = w(10, 4)
lstm_k, lstm_r, lstm_b = w(4, 16), w(4, 16), w(16)
sep_d, sep_p, sep_b = w(3, 3, 3, 1), w(1, 1, 3, 5), w(5)
c1_k, c1_b = w(3, 2, 4), w(4)

LAYERS = [
    ("dense", "Dense", [("kernel", dense_k, "dense.weight", dense_k.T),
                        ("bias", dense_b, "dense.bias", dense_b)]),
    ("conv2d", "Conv2D", [("kernel", conv_k, "conv.weight", conv_k.transpose(3, 2, 0, 1)),
                          ("bias", conv_b, "conv.bias", conv_b)]),
    ("depthwise_conv2d", "DepthwiseConv2D",
     [("depthwise_kernel", dw_k, "dw.weight", dw_k.transpose(2, 3, 0, 1).reshape(8, 1, 3, 3)),
      ("bias", dw_b, "dw.bias", dw_b)]),
    ("conv2d_transpose", "Conv2DTranspose",
     [("kernel", convt_k, "convt.weight", convt_k.transpose(3, 2, 0, 1)),
      ("bias", convt_b, "convt.bias", convt_b)]),
    ("batch_normalization", "BatchNormalization",
     [("gamma", bn[0], "bn.weight", bn[0]), ("beta", bn[1], "bn.bias", bn[1]),
      ("moving_mean", bn[2], "bn.running_mean", bn[2]),
      ("moving_variance", bn[3], "bn.running_var", bn[3])]),
    ("embedding", "Embedding", [("embeddings", emb, "emb.weight", emb)]),
    ("lstm", "LSTM", [("kernel", lstm_k, "lstm.weight_ih_l0", lstm_k.T),
                      ("recurrent_kernel", lstm_r, "lstm.weight_hh_l0", lstm_r.T),
                      ("bias", lstm_b, "lstm.bias", lstm_b)]),
    ("separable_conv2d", "SeparableConv2D",
     [("depthwise_kernel", sep_d, "sep.depthwise.weight",
       sep_d.transpose(2, 3, 0, 1).reshape(3, 1, 3, 3)),
      ("pointwise_kernel", sep_p, "sep.pointwise.weight", sep_p.transpose(3, 2, 0, 1)),
      ("bias", sep_b, "sep.bias", sep_b)]),
    ("conv1d", "Conv1D", [("kernel", c1_k, "conv1d.weight", c1_k.transpose(2, 1, 0)),
                          ("bias", c1_b, "conv1d.bias", c1_b)]),
]
mapping = []


def map_line(file, tensor, ref, precision="f32", scale=0.0):
    mapping.append(f"{file} {tensor} {ref} {precision} {scale!r}")


# --- reference safetensors (PyTorch layout), written by the format's spec -------------------
def write_safetensors(path, tensors, dtype):
    header, blobs, offset = {}, [], 0
    for name, value in tensors:
        data = np.ascontiguousarray(value.astype(np.float16 if dtype == "F16" else np.float32))
        raw = data.tobytes()
        header[name] = {"dtype": dtype, "shape": list(data.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


refs = [(ref, torch_value) for _, _, ws in LAYERS for _, _, ref, torch_value in ws]
write_safetensors(os.path.join(out, "reference.safetensors"), refs, "F32")
write_safetensors(os.path.join(out, "reference_f16.safetensors"), refs, "F16")

model_config = {"class_name": "Sequential", "config": {"name": "sequential", "layers": [
    {"class_name": cls, "config": {"name": name}} for name, cls, _ in LAYERS]}}


# --- Keras 2 .h5 -------------------------------------------------------------------------------
def keras2_weight_names(name, cls, weights):
    # Keras 2 names RNN weights through the cell: lstm/lstm_cell/kernel:0.
    cell = f"{name}/lstm_cell/" if cls == "LSTM" else f"{name}/"
    return [f"{cell}{wname}:0" for wname, _, _, _ in weights]


def write_keras2(path, full):
    with h5py.File(path, "w") as f:
        root = f
        f.attrs["keras_version"] = "2.13.1"
        f.attrs["backend"] = "tensorflow"
        if full:
            f.attrs["model_config"] = json.dumps(model_config)
            root = f.create_group("model_weights")
            # Optimizer state is not part of the model.
            f.create_dataset("optimizer_weights/Adam/iter:0", data=np.int64(3))
            # Never written (no data): its storage is unallocated; skipped with the optimizer.
            f.create_dataset("optimizer_weights/Adam/dense/kernel/m:0", shape=(5, 3), dtype="f4")
        root.attrs["layer_names"] = np.array([n.encode() for n, _, _ in LAYERS])
        for name, cls, weights in LAYERS:
            g = root.create_group(name)
            names = keras2_weight_names(name, cls, weights)
            g.attrs["weight_names"] = np.array([n.encode() for n in names])
            for wname, (_, keras_value, ref, _) in zip(names, weights):
                g.create_dataset(wname, data=keras_value)
                map_line(os.path.basename(path), f"{name}/{wname[:-2]}", ref)


write_keras2(os.path.join(out, "keras2_full.h5"), True)
write_keras2(os.path.join(out, "keras2_weights.h5"), False)


# --- Keras 3 .weights.h5 and .keras ------------------------------------------------------------
def write_keras3(path, file_label):
    with h5py.File(path, "w") as f:
        f.create_group("vars")
        f.create_dataset("optimizer/vars/0", data=np.int64(3))
        for name, cls, weights in LAYERS:
            prefix = f"layers/{name}/cell/vars" if cls == "LSTM" else f"layers/{name}/vars"
            g = f.create_group(prefix)
            for i, (_, keras_value, ref, _) in enumerate(weights):
                g.create_dataset(str(i), data=keras_value)
                map_line(file_label, f"{prefix}/{i}", ref)


write_keras3(os.path.join(out, "keras3.weights.h5"), "keras3.weights.h5")
inner = os.path.join(out, "inner.weights.h5")
for label, method in (("model.keras", zipfile.ZIP_STORED),
                      ("model_deflated.keras", zipfile.ZIP_DEFLATED)):
    write_keras3(inner, label)
    with zipfile.ZipFile(os.path.join(out, label), "w", compression=method) as z:
        z.writestr("metadata.json", json.dumps({"keras_version": "3.3.3"}))
        z.writestr("config.json", json.dumps(model_config))
        z.write(inner, "model.weights.h5")
os.remove(inner)


# --- TF.js ---------------------------------------------------------------------------------------
SHARD = 30


def write_tfjs(dirname, quant, wrap_config):
    d = os.path.join(out, dirname)
    os.makedirs(d, exist_ok=True)
    buf = bytearray()
    specs = []
    for name, cls, weights in LAYERS:
        for wname, keras_value, ref, _ in weights:
            tname = f"{name}/{wname}"
            spec = {"name": tname, "shape": list(keras_value.shape), "dtype": "float32"}
            scale = 0.0
            if quant == "float16":
                buf += keras_value.astype("<f2").tobytes()
                spec["quantization"] = {"dtype": "float16"}
                map_line(dirname, tname, ref, "f16")
            elif quant == "uint8":
                lo, hi = float(keras_value.min()), float(keras_value.max())
                scale = (hi - lo) / 255.0
                q = np.clip(np.round((keras_value - lo) / scale), 0, 255).astype(np.uint8)
                buf += q.tobytes()
                spec["quantization"] = {"dtype": "uint8", "scale": scale, "min": lo}
                map_line(dirname, tname, ref, "u8", scale)
            else:
                buf += keras_value.astype("<f4").tobytes()
                map_line(dirname, tname, ref)
            specs.append(spec)
    paths = []
    for k in range(0, len(buf), SHARD):
        n = f"group1-shard{k // SHARD + 1}of{(len(buf) + SHARD - 1) // SHARD}.bin"
        with open(os.path.join(d, n), "wb") as f:
            f.write(buf[k:k + SHARD])
        paths.append(n)
    topology = {"keras_version": "2.13.1", "backend": "tensorflow",
                "model_config": model_config} if wrap_config else model_config
    with open(os.path.join(d, "model.json"), "w") as f:
        json.dump({"format": "layers-model", "generatedBy": "keras v2.13.1",
                   "convertedBy": "weightprint test writer", "modelTopology": topology,
                   "weightsManifest": [{"paths": paths, "weights": specs}]}, f)


write_tfjs("tfjs_f32", None, True)
write_tfjs("tfjs_f16", "float16", False)
write_tfjs("tfjs_u8", "uint8", True)

# A graph model: weights named by node, layout known from the consuming op.
graph_weights = [
    ("StatefulPartitionedCall/dense/MatMul/ReadVariableOp", dense_k, "dense.weight", "MatMul", {}),
    ("fc_transposed", dense_k.T.copy(), "dense.weight", "MatMul",
     {"transpose_b": {"b": True}}),
    ("conv_filter", conv_k, "conv.weight", "Conv2D", {}),
    ("dw_filter", dw_k, "dw.weight", "DepthwiseConv2dNative", {}),
    ("convt_filter", convt_k, "convt.weight", "Conv2DBackpropInput", {}),
    ("conv_bias", conv_b, "conv.bias", "BiasAdd", {}),
]
gd = os.path.join(out, "tfjs_graph")
os.makedirs(gd, exist_ok=True)
nodes = [{"name": "x", "op": "Placeholder"}]
buf = bytearray()
specs = []
for name, value, ref, op, attr in graph_weights:
    nodes.append({"name": name, "op": "Const"})
    inputs = ["x", name] if op != "Conv2DBackpropInput" else ["sizes", name, "x"]
    nodes.append({"name": f"use_{name}", "op": op, "input": inputs + ["^x"], "attr": attr})
    buf += value.astype("<f4").tobytes()
    specs.append({"name": name, "shape": list(value.shape), "dtype": "float32"})
    map_line("tfjs_graph", name, ref)
# A constant that two ops read in different layouts keeps its stored layout.
shared = w(5, 3)
nodes.append({"name": "shared", "op": "Const"})
nodes.append({"name": "use_shared_a", "op": "MatMul", "input": ["x", "shared"]})
nodes.append({"name": "use_shared_b", "op": "Reshape", "input": ["shared", "x"]})
buf += shared.tobytes()
specs.append({"name": "shared", "shape": [5, 3], "dtype": "float32"})
# int32 weights are read as such.
ints = np.arange(6, dtype="<i4")
buf += ints.tobytes()
specs.append({"name": "ints", "shape": [6], "dtype": "int32"})
with open(os.path.join(gd, "weights.bin"), "wb") as f:
    f.write(buf)
with open(os.path.join(gd, "model.json"), "w") as f:
    json.dump({"format": "graph-model", "generatedBy": "2.13.0",
               "convertedBy": "weightprint test writer",
               "modelTopology": {"node": nodes, "versions": {"producer": 1395}},
               "weightsManifest": [{"paths": ["weights.bin"], "weights": specs}]}, f)

# Larger than one 4 MiB hyperslab: streamed in blocks. A chunked, deflated Dense kernel and a
# tensor whose leading rows are each larger than a block.
big_k = w(1500, 1000)
big_e = w(1, 2, 1100000)
with h5py.File(os.path.join(out, "big.h5"), "w") as f:
    f.create_dataset("dense/dense/kernel:0", data=big_k, chunks=(100, 1000), compression="gzip")
    f.create_dataset("emb/emb/embeddings:0", data=big_e)
write_safetensors(os.path.join(out, "big_reference.safetensors"),
                  [("big.dense.weight", big_k.T), ("big.emb.weight", big_e)], "F32")
map_line("big.h5", "dense/dense/kernel", "big.dense.weight", "big")
map_line("big.h5", "emb/emb/embeddings", "big.emb.weight", "big")

with open(os.path.join(out, "mapping.txt"), "w") as f:
    f.write("\n".join(mapping) + "\n")
print(f"wrote {len(mapping)} mapped tensors to {out}")
