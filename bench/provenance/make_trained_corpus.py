#!/usr/bin/python3
"""Builds a corpus of tiny Llama-style language models actually trained with torch, for
bench/provenance/eval_provenance --corpus DIR.

Text: Python's standard library sources on this machine (real text, no download), read as
bytes (vocabulary 256). Two disjoint slices: A (pre-training) and B (fine-tuning data).

Registered: base-a and base-b, trained from independent initialisations on the same data A.
Queries:
  derivatives of base-a: bf16 cast, int8 and 4-bit quantization, GGUF Q8_0 and Q4_0 copies in
  llama.cpp's layout, 50% magnitude pruning, supervised fine-tune on B,
  long continued pre-training on B, LoRA fine-tune merged, 25% FFN neurons pruned then tuned,
  vocabulary expanded then tuned, depth up-scaled then tuned, a 50/50 merge of base-a and base-b;
  negatives: two more models trained from scratch on the same data A (independent inits), and a
  student distilled from base-a's outputs from a fresh initialisation.
Writes DIR/*.safetensors and DIR/manifest.json. Deterministic for a given seed; CPU only.
"""
import glob
import json
import math
import os
import struct
import sys

import torch
import torch.nn.functional as F

HIDDEN, LAYERS, HEADS, FFN, VOCAB, CONTEXT = 96, 3, 4, 256, 256, 64


def load_text():
    files = sorted(glob.glob("/usr/lib/python3*/*.py"))
    data = b"".join(open(f, "rb").read() for f in files)
    if len(data) < 2_000_000:
        sys.exit("not enough text found under /usr/lib/python3*")
    cut = len(data) * 7 // 10
    return (torch.tensor(list(data[:cut]), dtype=torch.long),
            torch.tensor(list(data[cut:]), dtype=torch.long))


def init_params(seed, vocab=VOCAB, layers=LAYERS, ffn=FFN):
    g = torch.Generator().manual_seed(seed)
    def w(*shape, std=0.02):
        return (torch.randn(*shape, generator=g) * std).requires_grad_()
    p = {"model.embed_tokens.weight": w(vocab, HIDDEN), "lm_head.weight": w(vocab, HIDDEN),
         "model.norm.weight": torch.ones(HIDDEN).requires_grad_()}
    for l in range(layers):
        pre = f"model.layers.{l}."
        for n in ("q_proj", "k_proj", "v_proj", "o_proj"):
            p[pre + f"self_attn.{n}.weight"] = w(HIDDEN, HIDDEN)
        p[pre + "mlp.gate_proj.weight"] = w(ffn, HIDDEN)
        p[pre + "mlp.up_proj.weight"] = w(ffn, HIDDEN)
        p[pre + "mlp.down_proj.weight"] = w(HIDDEN, ffn)
        p[pre + "input_layernorm.weight"] = torch.ones(HIDDEN).requires_grad_()
        p[pre + "post_attention_layernorm.weight"] = torch.ones(HIDDEN).requires_grad_()
    return p


def layer_count(p):
    return 1 + max(int(k.split(".")[2]) for k in p if k.startswith("model.layers."))


def rms(x, g):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * g


def rotary(x):
    t = x.shape[-2]
    half = x.shape[-1] // 2
    freq = 1.0 / (10000 ** (torch.arange(half, dtype=torch.float32) / half))
    ang = torch.arange(t, dtype=torch.float32)[:, None] * freq[None, :]
    cos, sin = ang.cos(), ang.sin()
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)


def forward(p, tokens, lora=None):
    def lin(x, name):
        y = x @ p[name].t()
        if lora and name in lora:
            a, b = lora[name]
            y = y + (x @ a.t()) @ b.t()
        return y
    b, t = tokens.shape
    x = p["model.embed_tokens.weight"][tokens]
    mask = torch.full((t, t), float("-inf")).triu(1)
    hd = HIDDEN // HEADS
    for l in range(layer_count(p)):
        pre = f"model.layers.{l}."
        h = rms(x, p[pre + "input_layernorm.weight"])
        q = lin(h, pre + "self_attn.q_proj.weight").view(b, t, HEADS, hd).transpose(1, 2)
        k = lin(h, pre + "self_attn.k_proj.weight").view(b, t, HEADS, hd).transpose(1, 2)
        v = lin(h, pre + "self_attn.v_proj.weight").view(b, t, HEADS, hd).transpose(1, 2)
        q, k = rotary(q), rotary(k)
        att = (q @ k.transpose(-1, -2)) / math.sqrt(hd) + mask
        o = (att.softmax(-1) @ v).transpose(1, 2).reshape(b, t, HIDDEN)
        x = x + lin(o, pre + "self_attn.o_proj.weight")
        h = rms(x, p[pre + "post_attention_layernorm.weight"])
        gate = F.silu(lin(h, pre + "mlp.gate_proj.weight"))
        x = x + lin(gate * lin(h, pre + "mlp.up_proj.weight"), pre + "mlp.down_proj.weight")
    x = rms(x, p["model.norm.weight"])
    return x @ p["lm_head.weight"].t()


def batches(data, seed, vocab=VOCAB):
    g = torch.Generator().manual_seed(seed)
    while True:
        idx = torch.randint(0, len(data) - CONTEXT - 1, (32,), generator=g)
        chunk = torch.stack([data[i:i + CONTEXT + 1] for i in idx]) % vocab
        yield chunk[:, :-1], chunk[:, 1:]


def train(p, data, steps, lr, seed, teacher=None, lora=None):
    params = [v for v in (lora_params(lora) if lora else p.values())]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    it = batches(data, seed)
    for step in range(steps):
        x, y = next(it)
        logits = forward(p, x, lora)
        if teacher is not None:
            with torch.no_grad():
                target = forward(teacher, x).softmax(-1)
            loss = F.kl_div(logits.log_softmax(-1), target, reduction="batchmean")
        else:
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return float(loss)


def lora_params(lora):
    for a, b in lora.values():
        yield a
        yield b


def clone(p):
    return {k: v.detach().clone().requires_grad_() for k, v in p.items()}


def save(p, path, dtype=torch.float32):
    header, blobs, offset = {}, [], 0
    names = {torch.float32: "F32", torch.bfloat16: "BF16", torch.float16: "F16"}
    for name in sorted(p):
        t = p[name].detach().to(dtype).contiguous()
        raw = t.view(torch.int16).numpy().tobytes() if dtype != torch.float32 else t.numpy().tobytes()
        header[name] = {"dtype": names[dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h)
        for b in blobs:
            f.write(b)


GGUF_NAMES = {"model.embed_tokens.weight": "token_embd.weight", "lm_head.weight": "output.weight",
              "model.norm.weight": "output_norm.weight"}
GGUF_LAYER = {"input_layernorm": "attn_norm", "post_attention_layernorm": "ffn_norm",
              "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k",
              "self_attn.v_proj": "attn_v", "self_attn.o_proj": "attn_output",
              "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up", "mlp.down_proj": "ffn_down"}


def gguf_name(name):
    if name in GGUF_NAMES:
        return GGUF_NAMES[name]
    parts = name.split(".")  # model.layers.N.<module...>.weight
    return f"blk.{parts[2]}.{GGUF_LAYER['.'.join(parts[3:-1])]}.weight"


def permute_rows(w, heads):
    # llama.cpp's converter reorders Q/K rows from rotate-half to interleaved pairs.
    return w.reshape(heads, 2, w.shape[0] // heads // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def gguf_blocks(w, qtype):
    """Row-major blocks of 32 along the last dim: Q8_0 (type 8) or Q4_0 (type 2)."""
    import numpy as np
    x = w.reshape(-1, 32).astype(np.float32)
    amax = np.abs(x).max(axis=1, keepdims=True)
    if qtype == 8:
        d = amax / 127.0
        q = np.round(np.divide(x, d, out=np.zeros_like(x), where=d > 0)).astype(np.int8)
        out = np.zeros(len(x), dtype=[("d", "<f2"), ("q", "i1", 32)])
        out["d"], out["q"] = d[:, 0], q
        return out.tobytes()
    # Q4_0: d = max / -8 (the signed extreme maps to -8), q in [0, 15], x = (q - 8) * d.
    idx = np.abs(x).argmax(axis=1)
    mx = x[np.arange(len(x)), idx][:, None]
    d = mx / -8.0
    q = np.clip(np.round(np.divide(x, d, out=np.zeros_like(x), where=d != 0)) + 8, 0, 15).astype(np.uint8)
    packed = q[:, :16] | (q[:, 16:] << 4)
    out = np.zeros(len(x), dtype=[("d", "<f2"), ("q", "u1", 16)])
    out["d"], out["q"] = d[:, 0], packed
    return out.tobytes()


def save_gguf(p, path, qtype):
    """A GGUF v3 file as llama.cpp's converter writes a Llama model: its tensor names, Q/K rows
    permuted, dims in ggml order (fastest first); matrices in `qtype`, vectors in F32."""
    import numpy as np
    def s(text):
        b = text.encode()
        return struct.pack("<Q", len(b)) + b
    kv = [("general.architecture", 8, s("llama")), ("general.name", 8, s("weightprint corpus")),
          ("llama.block_count", 4, struct.pack("<I", layer_count(p))),
          ("llama.embedding_length", 4, struct.pack("<I", HIDDEN)),
          ("llama.feed_forward_length", 4, struct.pack("<I", FFN)),
          ("llama.attention.head_count", 4, struct.pack("<I", HEADS)),
          ("llama.attention.head_count_kv", 4, struct.pack("<I", HEADS)),
          ("general.alignment", 4, struct.pack("<I", 32))]
    infos, blobs, offset = b"", [], 0
    for name in sorted(p):
        w = p[name].detach().float().numpy()
        if name.endswith(("q_proj.weight", "k_proj.weight")):
            w = permute_rows(w, HEADS)
        if w.ndim == 2:
            raw, t = gguf_blocks(w, qtype), qtype
        else:
            raw, t = w.astype("<f4").tobytes(), 0
        infos += s(gguf_name(name)) + struct.pack("<I", w.ndim)
        infos += b"".join(struct.pack("<Q", d) for d in reversed(w.shape))
        infos += struct.pack("<IQ", t, offset)
        pad = (-len(raw)) % 32
        blobs.append(raw + b"\0" * pad)
        offset += len(raw) + pad
    head = b"GGUF" + struct.pack("<IQQ", 3, len(p), len(kv))
    head += b"".join(s(k) + struct.pack("<I", t) + v for k, t, v in kv) + infos
    head += b"\0" * ((-len(head)) % 32)
    with open(path, "wb") as f:
        f.write(head)
        for b in blobs:
            f.write(b)


def add_gguf_queries(out, manifest, a):
    for qtype, label in ((8, "Q8_0"), (2, "Q4_0")):
        fname = f"gguf_{label}.gguf"
        save_gguf(a, os.path.join(out, fname), qtype)
        manifest["queries"].append({"transform": f"GGUF {label} (llama.cpp layout)",
                                    "group": "first", "path": fname, "parents": ["base-a"]})


def quantize(p, bits):
    out = {}
    for k, v in p.items():
        v = v.detach()
        if v.dim() != 2:
            out[k] = v.clone()
            continue
        levels = 127 if bits == 8 else 7
        if bits == 8:
            scale = v.abs().amax(dim=1, keepdim=True).clamp_min(1e-12) / levels
            out[k] = (v / scale).round() * scale
        else:
            g = v.reshape(-1, 32)
            scale = g.abs().amax(dim=1, keepdim=True).clamp_min(1e-12) / levels
            out[k] = ((g / scale).round().clamp(-8, 7) * scale).reshape(v.shape)
    return out


def fold_norms(p):
    """Folds every RMSNorm gain into the linear layers that read its output; gains become 1."""
    out = {k: v.detach().clone() for k, v in p.items()}
    for l in range(layer_count(p)):
        pre = f"model.layers.{l}."
        for norm, readers in (("input_layernorm", ("self_attn.q_proj", "self_attn.k_proj",
                                                   "self_attn.v_proj")),
                              ("post_attention_layernorm", ("mlp.gate_proj", "mlp.up_proj"))):
            g = out[pre + norm + ".weight"]
            for r in readers:
                out[pre + r + ".weight"] = out[pre + r + ".weight"] * g[None, :]
            out[pre + norm + ".weight"] = torch.ones_like(g)
    out["lm_head.weight"] = out["lm_head.weight"] * out["model.norm.weight"][None, :]
    out["model.norm.weight"] = torch.ones_like(out["model.norm.weight"])
    return out


def rotate_residual(p, seed):
    """Gains folded, then the residual stream rotated by a random orthogonal Q (function kept)."""
    out = fold_norms(p)
    g = torch.Generator().manual_seed(seed)
    q, r = torch.linalg.qr(torch.randn(HIDDEN, HIDDEN, generator=g, dtype=torch.float64))
    q = (q * torch.sign(torch.diagonal(r))[None, :]).float()
    for k, v in out.items():
        if k in ("model.embed_tokens.weight", "lm_head.weight") or k.endswith(
                ("q_proj.weight", "k_proj.weight", "v_proj.weight", "gate_proj.weight",
                 "up_proj.weight")):
            out[k] = v @ q            # reads the residual stream
        elif k.endswith(("o_proj.weight", "down_proj.weight")):
            out[k] = q.t() @ v        # writes the residual stream
    return out


def permute_units(p, seed, neurons=True, heads=True):
    """Consistent random permutation of FFN neurons and/or attention heads in every layer."""
    out = {k: v.detach().clone() for k, v in p.items()}
    g = torch.Generator().manual_seed(seed)
    hd = HIDDEN // HEADS
    for l in range(layer_count(p)):
        pre = f"model.layers.{l}."
        if neurons:
            perm = torch.randperm(out[pre + "mlp.up_proj.weight"].shape[0], generator=g)
            for n in ("gate_proj", "up_proj"):
                out[pre + f"mlp.{n}.weight"] = out[pre + f"mlp.{n}.weight"][perm]
            out[pre + "mlp.down_proj.weight"] = out[pre + "mlp.down_proj.weight"][:, perm]
        if heads:
            hp = torch.randperm(HEADS, generator=g)
            idx = (hp[:, None] * hd + torch.arange(hd)[None, :]).reshape(-1)
            for n in ("q_proj", "k_proj", "v_proj"):
                out[pre + f"self_attn.{n}.weight"] = out[pre + f"self_attn.{n}.weight"][idx]
            out[pre + "self_attn.o_proj.weight"] = out[pre + "self_attn.o_proj.weight"][:, idx]
    return out


def rescale_units(p, seed):
    """Function-preserving rescaling: q x s / k / s and v x t / o / t per head, up x s / down / s
    per neuron, scales log-uniform in [1/4, 4]."""
    out = {k: v.detach().clone() for k, v in p.items()}
    g = torch.Generator().manual_seed(seed)
    hd = HIDDEN // HEADS
    def scales(n):
        return torch.exp((torch.rand(n, generator=g) * 2 - 1) * math.log(4.0))
    for l in range(layer_count(p)):
        pre = f"model.layers.{l}."
        for a, b in (("q_proj", "k_proj"), ("v_proj", "o_proj")):
            s = scales(HEADS).repeat_interleave(hd)
            out[pre + f"self_attn.{a}.weight"] = out[pre + f"self_attn.{a}.weight"] * s[:, None]
            if b == "k_proj":
                out[pre + f"self_attn.{b}.weight"] = out[pre + f"self_attn.{b}.weight"] / s[:, None]
            else:
                out[pre + f"self_attn.{b}.weight"] = out[pre + f"self_attn.{b}.weight"] / s[None, :]
        s = scales(out[pre + "mlp.up_proj.weight"].shape[0])
        out[pre + "mlp.up_proj.weight"] = out[pre + "mlp.up_proj.weight"] * s[:, None]
        out[pre + "mlp.down_proj.weight"] = out[pre + "mlp.down_proj.weight"] / s[None, :]
    return out


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "trained-corpus"
    steps = int(os.environ.get("WP_CORPUS_STEPS", "600"))
    # WP_CORPUS_ONLY=coordinate-free: only base-a, the transforms that move coordinates and the
    # hardest negatives — a model trained from scratch on the same data in the same order, and a
    # student distilled from base-a (a quicker run for the coordinate-free evidence).
    only_coordinate_free = os.environ.get("WP_CORPUS_ONLY", "") == "coordinate-free"
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(int(os.environ.get("WP_CORPUS_THREADS", "0")) or max(1, os.cpu_count() or 1))
    data_a, data_b = load_text()
    manifest = {"title": "trained corpus",
                "description": f"tiny Llama-style byte-level LMs trained with torch {torch.__version__} "
                               f"(hidden {HIDDEN}, {LAYERS} layers, FFN {FFN}, {steps} pre-training steps)",
                "registered": [], "queries": []}

    def log(msg):
        print(msg, flush=True)

    def query(transform, p, parents, group="first", dtype=torch.float32):
        fname = transform.replace(" ", "_").replace("/", "-").replace("%", "pct") + ".safetensors"
        save(p, os.path.join(out, fname), dtype)
        manifest["queries"].append({"transform": transform, "group": group, "path": fname,
                                    "parents": parents})

    bases = {}
    for name, seed in (("base-a", 1), ("base-b", 2))[:1 if only_coordinate_free else 2]:
        p = init_params(seed)
        loss = train(p, data_a, steps, 3e-3, seed)
        log(f"{name}: loss {loss:.3f}")
        save(p, os.path.join(out, name + ".safetensors"))
        manifest["registered"].append({"name": name, "path": name + ".safetensors"})
        bases[name] = p
    a = bases["base-a"]

    if not only_coordinate_free:
        query("cast bf16", a, ["base-a"], dtype=torch.bfloat16)
        query("quantize int8 (per row)", quantize(a, 8), ["base-a"])
        query("quantize 4-bit (groups of 32)", quantize(a, 4), ["base-a"])
        add_gguf_queries(out, manifest, a)
        pruned50 = {}
        for k, v in a.items():
            v = v.detach().clone()
            if v.dim() == 2:
                v[v.abs() < v.abs().flatten().kthvalue(v.numel() // 2).values] = 0
            pruned50[k] = v
        query("unstructured pruning 50%", pruned50, ["base-a"])

        sft = clone(a)
        log(f"sft: loss {train(sft, data_b, steps // 4, 1e-3, 11):.3f}")
        query("fine-tune on new data", sft, ["base-a"], dtype=torch.bfloat16)

        cpt = clone(a)
        log(f"continued pre-training: loss {train(cpt, data_b, steps * 3, 3e-3, 12):.3f}")
        query("long continued pre-training", cpt, ["base-a"])

        lora_p = clone(a)
        g = torch.Generator().manual_seed(13)
        lora = {}
        for k, v in lora_p.items():
            if v.dim() == 2 and "layers" in k:
                lora[k] = ((torch.randn(8, v.shape[1], generator=g) * 0.01).requires_grad_(),
                           torch.zeros(v.shape[0], 8).requires_grad_())
        log(f"lora: loss {train(lora_p, data_b, steps // 2, 3e-3, 13, lora=lora):.3f}")
        merged = {k: (v.detach() + (lora[k][1] @ lora[k][0]).detach()) if k in lora else v.detach()
                  for k, v in lora_p.items()}
        query("LoRA fine-tune merged", merged, ["base-a"])

        pruned = clone(a)
        for l in range(LAYERS):
            pre = f"model.layers.{l}.mlp."
            importance = pruned[pre + "down_proj.weight"].detach().norm(dim=0)
            keep = importance.argsort(descending=True)[: FFN * 3 // 4].sort().values
            pruned[pre + "gate_proj.weight"] = pruned[pre + "gate_proj.weight"].detach()[keep].clone().requires_grad_()
            pruned[pre + "up_proj.weight"] = pruned[pre + "up_proj.weight"].detach()[keep].clone().requires_grad_()
            pruned[pre + "down_proj.weight"] = pruned[pre + "down_proj.weight"].detach()[:, keep].clone().requires_grad_()
        log(f"pruned: loss {train(pruned, data_b, steps // 4, 1e-3, 14):.3f}")
        query("FFN neurons pruned 25%, then tuned", pruned, ["base-a"])

        vocab = clone(a)
        for k in ("model.embed_tokens.weight", "lm_head.weight"):
            extra = torch.randn(64, HIDDEN, generator=torch.Generator().manual_seed(15)) * 0.02
            vocab[k] = torch.cat([vocab[k].detach(), extra]).requires_grad_()
        log(f"vocab: loss {train(vocab, data_b, steps // 4, 1e-3, 15):.3f}")
        query("vocabulary expanded, then tuned", vocab, ["base-a"])

        deep = clone(a)
        for l in range(1, LAYERS):
            for k in list(a):
                if k.startswith(f"model.layers.{l}."):
                    new = k.replace(f"model.layers.{l}.", f"model.layers.{LAYERS + l - 1}.")
                    deep[new] = a[k].detach().clone().requires_grad_()
        log(f"upscaled: loss {train(deep, data_b, steps // 4, 1e-3, 16):.3f}")
        query("depth up-scaled, then tuned", deep, ["base-a"])

    # Transforms that move coordinates but keep the function (coordinate-free evidence).
    query("residual stream rotated (gains folded)", rotate_residual(a, 21), ["base-a"], group="coordinate-free")
    query("FFN neurons permuted", permute_units(a, 22, heads=False), ["base-a"], group="coordinate-free")
    query("attention heads permuted", permute_units(a, 23, neurons=False), ["base-a"], group="coordinate-free")
    query("rescaled per head and neuron (function-preserving)", rescale_units(a, 24), ["base-a"], group="coordinate-free")
    query("rotated + permuted + rescaled",
          rescale_units(permute_units(rotate_residual(a, 25), 26), 27), ["base-a"],
          group="coordinate-free")
    with torch.no_grad():  # the function is unchanged: same logits up to float rounding
        probe = data_a[:CONTEXT].view(1, -1)
        drift = (forward(rescale_units(permute_units(rotate_residual(a, 25), 26), 27), probe)
                 - forward(a, probe)).abs().max().item()
    log(f"rotated + permuted + rescaled: max logit change {drift:.2e}")

    if not only_coordinate_free:
        merge = {k: 0.5 * a[k].detach() + 0.5 * bases["base-b"][k].detach() for k in a}
        query("merge 50/50 of base-a and base-b", merge, ["base-a", "base-b"])

    for name, seed in (("independent model, same data (seed 3)", 3),
                       ("independent model, same data (seed 4)", 4))[:0 if only_coordinate_free else 2]:
        p = init_params(seed)
        log(f"{name}: loss {train(p, data_a, steps, 3e-3, seed):.3f}")
        query(name, p, [], group="negative")

    # Same data in the same order as base-a (batch seed 1), only the initialisation differs.
    p = init_params(6)
    log(f"independent model, same data and order: loss {train(p, data_a, steps, 3e-3, 1):.3f}")
    query("independent model, same data and order (seed 6)", p, [], group="negative")

    student = init_params(5)
    log(f"distilled student: loss {train(student, data_a, steps, 3e-3, 5, teacher=a):.3f}")
    query("student distilled from base-a (fresh init)", student, [], group="negative")

    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    log(f"corpus written to {out}")


if __name__ == "__main__":
    main()
