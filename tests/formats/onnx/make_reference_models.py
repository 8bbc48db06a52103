"""Writes ONNX models with the reference writers for onnx_tests (onnx_reference_writer_test.cc).

usage: make_reference_models.py OUTDIR

Writes into OUTDIR:
  helper_raw.onnx, helper_typed.onnx  onnx.helper / numpy_helper models (raw_data, typed fields)
  external.onnx + ext_weights.bin     onnx.save_model(save_as_external_data=True, one file)
  expected/<model>/<tensor>.f64       numpy_helper.to_array() of every initializer, as float64
  manifest.txt                        "<model>\t<tensor>\t<element count>" per initializer
  torch_linear.onnx + torch_state.safetensors (when torch is importable; else torch_skipped)
Exit status 77 when onnx or numpy cannot be imported.
"""
import copy
import json
import os
import struct
import sys

try:
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper
except Exception as e:  # noqa: BLE001 - any import problem means "skip"
    print("onnx/numpy unavailable:", e)
    sys.exit(77)

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
manifest = []


def values(n, seed):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(n) * 0.02).astype(np.float32)


def record(model_name, model):
    d = os.path.join(out, "expected", model_name)
    os.makedirs(d, exist_ok=True)
    for t in model.graph.initializer:
        arr = numpy_helper.to_array(t)
        np.asarray(arr, dtype=np.float64).tofile(os.path.join(d, t.name + ".f64"))
        manifest.append(f"{model_name}\t{t.name}\t{arr.size}")


def graph_with(initializers):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])
    node = helper.make_node("Identity", ["x"], ["y"])
    return helper.make_graph([node], "g", [x], [y], initializer=initializers)


def model_of(initializers):
    return helper.make_model(graph_with(initializers), producer_name="wp-reference",
                             opset_imports=[helper.make_opsetid("", 13)])


w = values(12 * 8, 1).reshape(12, 8)
raw = model_of([
    numpy_helper.from_array(w, "w_f32"),
    numpy_helper.from_array(w.astype(np.float16), "w_f16"),
    numpy_helper.from_array(w.astype(np.float64), "w_f64"),
    numpy_helper.from_array(np.arange(-6, 6, dtype=np.int64), "i64"),
    numpy_helper.from_array(np.arange(0, 12, dtype=np.uint8), "u8"),
    numpy_helper.from_array(np.array([True, False, True]), "mask"),
])
onnx.save(raw, os.path.join(out, "helper_raw.onnx"))
record("helper_raw", raw)

flat = w.flatten().tolist()
typed = model_of([
    helper.make_tensor("w_f32", TensorProto.FLOAT, [12, 8], flat),
    helper.make_tensor("w_f16", TensorProto.FLOAT16, [12, 8], w.astype(np.float16).flatten()),
    helper.make_tensor("w_bf16", TensorProto.BFLOAT16, [12, 8], flat),
    helper.make_tensor("w_f64", TensorProto.DOUBLE, [12, 8], w.astype(np.float64).flatten().tolist()),
    helper.make_tensor("i32", TensorProto.INT32, [5], [-2, -1, 0, 1, 2]),
    helper.make_tensor("i8", TensorProto.INT8, [4], [-128, -1, 1, 127]),
    helper.make_tensor("u16", TensorProto.UINT16, [3], [0, 1000, 65535]),
    helper.make_tensor("i64", TensorProto.INT64, [3], [-5, 0, 5]),
    helper.make_tensor("u32", TensorProto.UINT32, [2], [0, 4000000]),
    helper.make_tensor("mask", TensorProto.BOOL, [3], [True, False, True]),
])
onnx.save(typed, os.path.join(out, "helper_typed.onnx"))
record("helper_typed", typed)

ext = model_of([
    numpy_helper.from_array(w, "w_f32"),
    numpy_helper.from_array(values(33, 2), "b_f32"),
    numpy_helper.from_array(w.astype(np.float16), "w_f16"),
])
record("external", ext)
onnx.save_model(copy.deepcopy(ext), os.path.join(out, "external.onnx"), save_as_external_data=True,
                all_tensors_to_one_file=True, location="ext_weights.bin", size_threshold=0)

try:
    import torch
except Exception as e:  # noqa: BLE001
    open(os.path.join(out, "torch_skipped"), "w").write(str(e))
else:
    torch.manual_seed(0)

    class Tiny(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = torch.nn.Linear(16, 32)
            self.fc2 = torch.nn.Linear(32, 8)

        def forward(self, x):
            return self.fc2(torch.relu(self.fc1(x)))

    m = Tiny().eval()
    torch.onnx.export(m, torch.randn(2, 16), os.path.join(out, "torch_linear.onnx"),
                      opset_version=13, input_names=["x"], output_names=["y"])
    # The same parameters as safetensors (8-byte LE header length, JSON header, raw data).
    header, blobs, offset = {}, [], 0
    for name, p in m.state_dict().items():
        data = p.detach().contiguous().numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(p.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(os.path.join(out, "torch_state.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))

with open(os.path.join(out, "manifest.txt"), "w") as f:
    f.write("\n".join(manifest) + "\n")
