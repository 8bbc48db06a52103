"""Reads the tensors of the model files in the real-weights evaluation, independently of the
C++ readers, so that the answer key's claims (identical copies, derivatives, retrains, shared
fixed tensors) can be checked against the bytes. Formats: ONNX (initializers and Constant
nodes, subgraphs included), TensorFlow.js (weights manifest + shards), TFLite (a minimal
flatbuffer walk of the schema's Model/SubGraph/Tensor/Buffer tables) and safetensors.
Uses only Debian's python3-numpy and python3-onnx."""

import json
import os
import struct

import numpy as np


def _onnx_tensors(path):
    import onnx
    from onnx import numpy_helper
    model = onnx.load(path)
    out = {}

    def walk(graph, scope):
        for init in graph.initializer:
            out[scope + init.name] = numpy_helper.to_array(init)
        for node in graph.node:
            for attr in node.attribute:
                if node.op_type == "Constant" and attr.name == "value":
                    out[scope + node.output[0]] = numpy_helper.to_array(attr.t)
                if attr.type == onnx.AttributeProto.GRAPH:
                    walk(attr.g, scope + node.name + "/" + attr.name + "/")
                elif attr.type == onnx.AttributeProto.GRAPHS:
                    for i, sub in enumerate(attr.graphs):
                        walk(sub, scope + node.name + "/" + attr.name + str(i) + "/")

    walk(model.graph, "")
    return out


_TFJS_DTYPES = {"float32": np.float32, "int32": np.int32, "bool": np.bool_,
                "float16": np.float16}


def _tfjs_tensors(manifest_path):
    with open(manifest_path) as f:
        doc = json.load(f)
    groups = doc["weightsManifest"] if isinstance(doc, dict) else doc
    base = os.path.dirname(manifest_path)
    out = {}
    for group in groups:
        data = b"".join(open(os.path.join(base, p), "rb").read() for p in group["paths"])
        offset = 0
        for w in group["weights"]:
            count = int(np.prod(w["shape"])) if w["shape"] else 1
            q = w.get("quantization")
            if q:
                qtype = np.dtype(q["dtype"])
                raw = np.frombuffer(data, qtype, count, offset)
                offset += count * qtype.itemsize
                if q["dtype"] == "float16":
                    arr = raw.astype(np.float32)
                else:
                    arr = raw.astype(np.float32) * q["scale"] + q.get("min", 0.0)
            else:
                dt = np.dtype(_TFJS_DTYPES[w["dtype"]])
                arr = np.frombuffer(data, dt, count, offset)
                offset += count * dt.itemsize
            out[w["name"]] = arr.reshape(w["shape"])
    return out


class _Table:
    """One flatbuffer table: field i read through the vtable."""

    def __init__(self, buf, pos):
        self.buf, self.pos = buf, pos
        vt = pos - struct.unpack_from("<i", buf, pos)[0]
        self.vt, self.vt_len = vt, struct.unpack_from("<H", buf, vt)[0]

    def _field(self, i):
        o = 4 + 2 * i
        return struct.unpack_from("<H", self.buf, self.vt + o)[0] if o < self.vt_len else 0

    def scalar(self, i, fmt, default=0):
        o = self._field(i)
        return struct.unpack_from("<" + fmt, self.buf, self.pos + o)[0] if o else default

    def _indirect(self, i):
        o = self._field(i)
        if not o:
            return None
        p = self.pos + o
        return p + struct.unpack_from("<I", self.buf, p)[0]

    def vector(self, i):
        p = self._indirect(i)
        if p is None:
            return 0, 0
        return p + 4, struct.unpack_from("<I", self.buf, p)[0]

    def tables(self, i):
        start, n = self.vector(i)
        return [_Table(self.buf, start + 4 * k + struct.unpack_from("<I", self.buf, start + 4 * k)[0])
                for k in range(n)]

    def string(self, i):
        start, n = self.vector(i)
        return self.buf[start:start + n].decode("utf-8", "replace")


_TFLITE_DTYPES = {0: np.float32, 1: np.float16, 2: np.int32, 3: np.uint8, 4: np.int64,
                  7: np.int16, 9: np.int8}


def _tflite_tensors(path):
    buf = open(path, "rb").read()
    model = _Table(buf, struct.unpack_from("<I", buf, 0)[0])
    buffers = model.tables(4)
    out = {}
    for sg in model.tables(2):
        for t in sg.tables(0):
            bidx = t.scalar(2, "I")
            if bidx == 0 or bidx >= len(buffers):
                continue
            start, n = buffers[bidx].vector(0)
            dtype = _TFLITE_DTYPES.get(t.scalar(1, "b"))
            if n == 0 or dtype is None:
                continue
            sstart, sn = t.vector(0)
            shape = [struct.unpack_from("<i", buf, sstart + 4 * k)[0] for k in range(sn)]
            arr = np.frombuffer(buf, dtype, n // np.dtype(dtype).itemsize, start)
            if int(np.prod(shape)) == arr.size:
                arr = arr.reshape(shape)
            out[t.string(3)] = arr
    return out


def _safetensors_tensors(path):
    data = open(path, "rb").read()
    (n,) = struct.unpack_from("<Q", data, 0)
    header = json.loads(data[8:8 + n])
    dts = {"F32": np.float32, "F16": np.float16, "I64": np.int64, "I32": np.int32,
           "I8": np.int8, "U8": np.uint8}
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        out[name] = np.frombuffer(data[8 + n + a:8 + n + b], dts[info["dtype"]]).reshape(info["shape"])
    return out


def load(path, fmt):
    """Tensors of one model file as {name: ndarray}."""
    if fmt == "onnx":
        return _onnx_tensors(path)
    if fmt == "tfjs":
        return _tfjs_tensors(path)
    if fmt == "tflite":
        return _tflite_tensors(path)
    if fmt == "safetensors":
        return _safetensors_tensors(path)
    raise ValueError(f"{path}: no reader for format {fmt}")


def write_safetensors(path, tensors):
    """Writes {name: ndarray} as safetensors (8-byte header length, JSON header, raw data)."""
    names = {np.dtype(np.float32): "F32", np.dtype(np.float16): "F16",
             np.dtype(np.int64): "I64", np.dtype(np.int32): "I32"}
    header, blobs, offset = {}, [], 0
    for name, arr in tensors.items():
        arr = np.ascontiguousarray(arr)
        raw = arr.tobytes()
        header[name] = {"dtype": names[arr.dtype], "shape": list(arr.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for raw in blobs:
            f.write(raw)
