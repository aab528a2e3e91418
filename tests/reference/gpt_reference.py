#!/usr/bin/python3
"""PyTorch oracle for trident's decoder (tests/reference).

Reads the initial weights, tokens and targets that the C++ test wrote
(safetensors, trident's parameter names), builds the same model in PyTorch
(float64, so the oracle's own rounding is negligible), and writes back:
logits, loss, the gradient of every parameter, and the losses of `--steps`
AdamW steps on the same batch with global grad-norm clipping.

Two models, written independently of trident's C++:
  gpt_loss      GPT-2 on trident's names, as trident's layers compute it
                (IN OUT --layers L --heads H: the GPT-2 test's call).
  hf_decoder    HuggingFace's LlamaForCausalLM formulas on HF's names, with
                the pieces trident may mix in (learned positions, LayerNorm,
                tanh-GELU MLP, biases, tied output). IN OUT --config JSON
                (GptConfig::to_json()) renames trident's tensors to HF's
                (trident_to_hf, from the layout trident documents) inside
                the autograd graph, so the gradients are those of
                trident's own leaves.

And hf-logits HF_DIR TOKENS OUT: the float64 logits of an HF checkpoint
directory (config.json, model.safetensors or its sharded index; Llama or
GPT-2 layout; F32/BF16/F16) for TOKENS' I32 "tokens" (B, T), written as F32
"logits" (B·T, V); in Python hf_logits(hf_dir, tokens). The oracle's own
pieces are checked by gpt_reference_self_test.py.

Run with Debian's python3-torch: /usr/bin/python3 gpt_reference.py ...
"""
import argparse
import dataclasses
import json
import math
import os
import struct
import sys

import numpy as np

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # importable without torch (gpt_reference_self_test.py skips)
    torch = None

# ---------------------------------------------------------------------------
# safetensors

NUMPY_DTYPES = {"F64": np.float64, "F32": np.float32, "F16": np.float16, "I64": np.int64, "I32": np.int32,
                "BF16": np.uint16}  # BF16: raw bits, decoded by decode_bf16


def decode_bf16(bits):
    """bfloat16 bits (uint16) -> float32: they are a float32's upper 16 bits
    (numpy has no bfloat16)."""
    return (bits.astype(np.uint32) << 16).view(np.float32)


def encode_bf16(values):
    """float32 -> bfloat16 bits, rounded to nearest even (for writing test
    checkpoints; NaN is not expected)."""
    u = np.ascontiguousarray(values, dtype=np.float32).view(np.uint32)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)


def read_safetensors_numpy(path):
    """name -> numpy array (BF16 decoded to float32)."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] not in NUMPY_DTYPES:
            raise ValueError(f"{path}: tensor {name} has dtype {info['dtype']}, not one of {sorted(NUMPY_DTYPES)}")
        begin, end = info["data_offsets"]
        arr = np.frombuffer(data[begin:end], dtype=NUMPY_DTYPES[info["dtype"]]).reshape(info["shape"])
        out[name] = decode_bf16(arr) if info["dtype"] == "BF16" else arr.copy()
    return out


def load_safetensors(path):
    return {n: torch.from_numpy(a) for n, a in read_safetensors_numpy(path).items()}


def write_safetensors_numpy(path, arrays, dtypes=None):
    """arrays: name -> numpy array, written as float32/int32 as they are, or
    as dtypes[name] ("F32", "F16", "BF16", "I32")."""
    header, blobs, offset = {}, [], 0
    for name, arr in arrays.items():
        dtype = (dtypes or {}).get(name) or ("I32" if arr.dtype == np.int32 else "F32")
        if dtype == "BF16":
            blob = encode_bf16(arr).tobytes()
        else:
            blob = np.ascontiguousarray(arr, dtype=NUMPY_DTYPES[dtype]).tobytes()
        header[name] = {"dtype": dtype, "shape": list(arr.shape), "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


def save_safetensors(path, tensors):
    """Every tensor as F32."""
    write_safetensors_numpy(path, {n: t.detach().to(torch.float32).numpy() for n, t in tensors.items()})


# ---------------------------------------------------------------------------
# GPT-2 on trident's names (the GPT-2 test's model, unchanged)

def gpt_loss(p, tokens, targets, layers, heads, eps, sdpa=False):
    """The model, written out as trident's layers compute it. sdpa: the
    attention core through F.scaled_dot_product_attention (PyTorch's fused
    kernels; the same function), for speed comparisons on a GPU."""
    B, T = tokens.shape
    x = p["embedding.word_embeddings.weight"][tokens] + p["embedding.position_embeddings.weight"][:T]
    C = x.shape[-1]
    D = C // heads
    mask = torch.tril(torch.ones(T, T, dtype=torch.bool, device=tokens.device))
    for i in range(layers):
        w = lambda n: p[f"layers.{i}.{n}"]
        a = F.layer_norm(x, (C,), w("ln1.weight"), w("ln1.bias"), eps)
        qkv = F.linear(a, w("attn.qkv.weight"), w("attn.qkv.bias"))
        q, k, v = qkv.split(C, dim=-1)
        q, k, v = (t.view(B, T, heads, D).transpose(1, 2) for t in (q, k, v))
        if sdpa:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            att = (q @ k.transpose(-2, -1)) / math.sqrt(D)
            att = att.masked_fill(~mask, float("-inf")).softmax(dim=-1)
            y = att @ v
        y = y.transpose(1, 2).reshape(B, T, C)
        h = x + F.linear(y, w("attn.proj.weight"), w("attn.proj.bias"))
        m = F.layer_norm(h, (C,), w("ln2.weight"), w("ln2.bias"), eps)
        m = F.gelu(F.linear(m, w("mlp.fc1.weight"), w("mlp.fc1.bias")), approximate="tanh")
        x = h + F.linear(m, w("mlp.fc2.weight"), w("mlp.fc2.bias"))
    x = F.layer_norm(x, (C,), p["final_ln.weight"], p["final_ln.bias"], eps)
    logits = x @ p["embedding.word_embeddings.weight"].t()
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
    return logits, loss


# ---------------------------------------------------------------------------
# The decoder on HuggingFace's names

@dataclasses.dataclass
class Arch:
    """What the decoder computes. H query heads of D, G key/value heads."""
    layers: int
    hidden: int          # C
    heads: int           # H
    kv_heads: int        # G; HF's query head h uses key/value head h // (H/G)
    head_dim: int        # D
    ffn: int             # F
    vocab: int           # V, unpadded
    rope: bool           # else learned positions "model.embed_positions.weight" (P, C)
    rope_theta: float
    rms_norm: bool       # else LayerNorm, with ".bias" beside each norm's ".weight"
    eps: float
    swiglu: bool         # else tanh-GELU: down_proj(gelu(up_proj(x)))
    attention_bias: bool  # q/k/v/o_proj.bias
    mlp_bias: bool        # gate/up/down_proj.bias
    tied: bool           # no lm_head.weight: the output layer is embed_tokens

    @staticmethod
    def from_trident(j):
        """From GptConfig::to_json() (or architecture()): flag names without "--"."""
        H = int(j["num_attention_heads"])
        bias = not j.get("disable_bias_linear", False)
        swiglu = bool(j.get("swiglu", False))
        C = int(j["hidden_size"])
        return Arch(layers=int(j["num_layers"]), hidden=C, heads=H,
                    kv_heads=int(j["num_query_groups"]) if j.get("group_query_attention", False) else H,
                    head_dim=C // H,
                    ffn=int(j.get("ffn_hidden_size") or (8 * C // 3 // 64 * 64 if swiglu else 4 * C)),
                    vocab=int(j["vocab_size"]),
                    rope=j.get("position_embedding_type", "learned_absolute") == "rope",
                    rope_theta=float(j.get("rotary_base", 10000.0)),
                    rms_norm=j.get("normalization", "LayerNorm") == "RMSNorm",
                    eps=float(j.get("norm_epsilon", 1e-5)), swiglu=swiglu, attention_bias=bias, mlp_bias=bias,
                    tied=not j.get("untie_embeddings_and_output_weights", False))

    @staticmethod
    def from_hf(j):
        """From an HF config.json: LlamaConfig keys, or GPT2Config's (with
        HF's defaults for the keys a file leaves out)."""
        if j.get("model_type") == "gpt2" or "n_embd" in j:
            for key, ok in (("activation_function", "gelu_new"), ("scale_attn_by_inverse_layer_idx", False),
                            ("scale_attn_weights", True)):
                if j.get(key, ok) != ok:
                    raise ValueError(f"GPT-2 config with {key} = {j[key]!r}: only {ok!r} is written here")
            C, H = j.get("n_embd", 768), j.get("n_head", 12)
            return Arch(layers=j.get("n_layer", 12), hidden=C, heads=H, kv_heads=H, head_dim=C // H,
                        ffn=j.get("n_inner") or 4 * C, vocab=j.get("vocab_size", 50257), rope=False,
                        rope_theta=0.0, rms_norm=False, eps=j.get("layer_norm_epsilon", 1e-5), swiglu=False,
                        attention_bias=True, mlp_bias=True, tied=j.get("tie_word_embeddings", True))
        if j.get("model_type", "llama") != "llama":
            raise ValueError(f"config.json of model_type {j['model_type']!r}: only llama and gpt2 are written here")
        if j.get("hidden_act", "silu") != "silu" or j.get("rope_scaling") is not None:
            raise ValueError("Llama config with hidden_act != silu or rope_scaling: not written here")
        C, H = j.get("hidden_size", 4096), j.get("num_attention_heads", 32)
        return Arch(layers=j.get("num_hidden_layers", 32), hidden=C, heads=H,
                    kv_heads=j.get("num_key_value_heads") or H, head_dim=j.get("head_dim") or C // H,
                    ffn=j.get("intermediate_size", 11008), vocab=j.get("vocab_size", 32000), rope=True,
                    rope_theta=float(j.get("rope_theta", 10000.0)), rms_norm=True, eps=j.get("rms_norm_eps", 1e-6),
                    swiglu=True, attention_bias=bool(j.get("attention_bias", False)),
                    mlp_bias=bool(j.get("mlp_bias", False)), tied=bool(j.get("tie_word_embeddings", False)))


class Weights:
    """name -> tensor that remembers which names were read, so that a
    tensor the model never used (a misnamed or stray one) is an error, not
    silently ignored."""

    def __init__(self, tensors):
        self.tensors, self.used = tensors, set()

    def __getitem__(self, name):
        if name not in self.tensors:
            raise KeyError(f"the model needs {name}, which is not among the weights")
        self.used.add(name)
        return self.tensors[name]

    def check_all_used(self):
        unused = sorted(set(self.tensors) - self.used)
        if unused:
            raise KeyError(f"weights the model does not use: {unused}")


def rotate_half(x):
    """HF's rotate_half: (x1, x2) -> (−x2, x1) over the last dimension's halves."""
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def rope_cos_sin(T, D, theta, dtype=torch.float64):
    """HF's LlamaRotaryEmbedding: inv_freq_i = 1 / θ^(2i/D), angles
    position·inv_freq repeated over both halves; (T, D) each."""
    inv_freq = 1.0 / theta ** (torch.arange(0, D, 2, dtype=torch.float64) / D)
    freqs = torch.outer(torch.arange(T, dtype=torch.float64), inv_freq)
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos().to(dtype), emb.sin().to(dtype)


def apply_rope(x, cos, sin):
    """x (B, heads, T, D): HF's apply_rotary_pos_emb."""
    return x * cos + rotate_half(x) * sin


def repeat_kv(x, n_rep):
    """HF's repeat_kv: (B, G, T, D) -> (B, G·n_rep, T, D); head h is x's h // n_rep."""
    B, G, T, D = x.shape
    return x[:, :, None].expand(B, G, n_rep, T, D).reshape(B, G * n_rep, T, D)


def norm(x, w, prefix, arch):
    if arch.rms_norm:  # HF's LlamaRMSNorm
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + arch.eps) * w[prefix + ".weight"]
    return F.layer_norm(x, (x.shape[-1],), w[prefix + ".weight"], w[prefix + ".bias"], arch.eps)


def linear(x, w, prefix, bias):
    return F.linear(x, w[prefix + ".weight"], w[prefix + ".bias"] if bias else None)


def hf_decoder_logits(tensors, tokens, arch):
    """LlamaForCausalLM's forward, pre-norm: tokens (B, T) -> logits (B, T, V).
    tensors: HF names -> float64 tensors; every one must be used."""
    w = Weights(tensors)
    B, T = tokens.shape
    H, G, D = arch.heads, arch.kv_heads, arch.head_dim
    x = w["model.embed_tokens.weight"][tokens]
    if not arch.rope:
        x = x + w["model.embed_positions.weight"][:T]
    cos, sin = rope_cos_sin(T, D, arch.rope_theta, x.dtype) if arch.rope else (None, None)
    mask = torch.tril(torch.ones(T, T, dtype=torch.bool))
    for i in range(arch.layers):
        pre = f"model.layers.{i}."
        a = norm(x, w, pre + "input_layernorm", arch)
        q = linear(a, w, pre + "self_attn.q_proj", arch.attention_bias).view(B, T, H, D).transpose(1, 2)
        k = linear(a, w, pre + "self_attn.k_proj", arch.attention_bias).view(B, T, G, D).transpose(1, 2)
        v = linear(a, w, pre + "self_attn.v_proj", arch.attention_bias).view(B, T, G, D).transpose(1, 2)
        if arch.rope:
            q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        k, v = repeat_kv(k, H // G), repeat_kv(v, H // G)
        att = (q @ k.transpose(-2, -1)) / math.sqrt(D)
        att = att.masked_fill(~mask, float("-inf")).softmax(dim=-1)
        y = (att @ v).transpose(1, 2).reshape(B, T, H * D)
        x = x + linear(y, w, pre + "self_attn.o_proj", arch.attention_bias)
        m = norm(x, w, pre + "post_attention_layernorm", arch)
        if arch.swiglu:
            m = F.silu(linear(m, w, pre + "mlp.gate_proj", arch.mlp_bias)) * linear(m, w, pre + "mlp.up_proj", arch.mlp_bias)
        else:
            m = F.gelu(linear(m, w, pre + "mlp.up_proj", arch.mlp_bias), approximate="tanh")
        x = x + linear(m, w, pre + "mlp.down_proj", arch.mlp_bias)
    x = norm(x, w, "model.norm", arch)
    logits = x @ w["model.embed_tokens.weight" if arch.tied else "lm_head.weight"].t()
    w.check_all_used()
    return logits


# ---------------------------------------------------------------------------
# trident's names -> HF's

def hf_query_heads(H, G):
    """order[hf] = the trident query head that HF's query head hf is. HF
    pairs query head hf with key/value head hf // (H/G), trident pairs head
    t with t mod G; the j-th query head of group g is HF's g·(H/G) + j and
    trident's j·G + g."""
    R = H // G
    return [(hf % R) * G + hf // R for hf in range(H)]


def trident_to_hf(p, arch):
    """trident's parameter names -> HF's, through differentiable indexing
    (the gradients flow back to p's leaves). From the layout trident
    documents: attn.qkv.weight ((H+2G)·D, C) rows Q | K | V with query
    heads permuted by hf_query_heads, attn.proj.weight (C, H·D) columns
    likewise; mlp.fc1 (2F, C) rows gate | up with SwiGLU."""
    H, G, D, C, F_ = arch.heads, arch.kv_heads, arch.head_dim, arch.hidden, arch.ffn
    order = torch.tensor(hf_query_heads(H, G))
    p = Weights(p)
    out = {"model.embed_tokens.weight": p["embedding.word_embeddings.weight"]}
    if not arch.rope:
        out["model.embed_positions.weight"] = p["embedding.position_embeddings.weight"]
    norm_parts = ("weight",) if arch.rms_norm else ("weight", "bias")
    for i in range(arch.layers):
        t, h = f"layers.{i}.", f"model.layers.{i}."
        for ours, theirs in (("ln1", "input_layernorm"), ("ln2", "post_attention_layernorm")):
            for part in norm_parts:
                out[f"{h}{theirs}.{part}"] = p[f"{t}{ours}.{part}"]
        qkv_parts = [("weight", p[t + "attn.qkv.weight"])]
        if arch.attention_bias:
            qkv_parts.append(("bias", p[t + "attn.qkv.bias"]))
        for part, value in qkv_parts:
            q, k, v = value.split([H * D, G * D, G * D], dim=0)
            out[f"{h}self_attn.q_proj.{part}"] = q.reshape(H, D, *q.shape[1:])[order].reshape(q.shape)
            out[f"{h}self_attn.k_proj.{part}"] = k
            out[f"{h}self_attn.v_proj.{part}"] = v
        proj = p[t + "attn.proj.weight"]  # (C, H·D)
        out[h + "self_attn.o_proj.weight"] = proj.reshape(C, H, D)[:, order].reshape(C, H * D)
        if arch.attention_bias:
            out[h + "self_attn.o_proj.bias"] = p[t + "attn.proj.bias"]
        mlp_parts = ["weight"] + (["bias"] if arch.mlp_bias else [])
        for part in mlp_parts:
            fc1 = p[f"{t}mlp.fc1.{part}"]
            if arch.swiglu:
                out[f"{h}mlp.gate_proj.{part}"], out[f"{h}mlp.up_proj.{part}"] = fc1.split([F_, F_], dim=0)
            else:
                out[f"{h}mlp.up_proj.{part}"] = fc1
            out[f"{h}mlp.down_proj.{part}"] = p[f"{t}mlp.fc2.{part}"]
    for part in norm_parts:
        out["model.norm." + part] = p["final_ln." + part]
    if not arch.tied:
        out["lm_head.weight"] = p["output_layer.weight"]
    p.check_all_used()
    return out


def trident_loss(p, tokens, targets, arch):
    """trident's tensors through HF's model: logits (B, T, V) and the mean
    cross-entropy. p holds unpadded token tables (V rows)."""
    logits = hf_decoder_logits(trident_to_hf(p, arch), tokens, arch)
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
    return logits, loss


# ---------------------------------------------------------------------------
# An HF checkpoint directory

def gpt2_to_llama_names(t, arch):
    """HF GPT-2 (transformer.wte, h.{i}.attn.c_attn, ... Conv1D weights
    stored (in, out)) -> the names hf_decoder_logits reads."""
    t = {(n[len("transformer."):] if n.startswith("transformer.") else n): v for n, v in t.items()}
    C = arch.hidden
    out = {"model.embed_tokens.weight": t.pop("wte.weight"), "model.embed_positions.weight": t.pop("wpe.weight")}
    for i in range(arch.layers):
        g, h = f"h.{i}.", f"model.layers.{i}."
        for ours, theirs in (("ln_1", "input_layernorm"), ("ln_2", "post_attention_layernorm")):
            for part in ("weight", "bias"):
                out[f"{h}{theirs}.{part}"] = t.pop(f"{g}{ours}.{part}")
        q, k, v = t.pop(g + "attn.c_attn.weight").t().split(C, dim=0)
        qb, kb, vb = t.pop(g + "attn.c_attn.bias").split(C, dim=0)
        for name, wt, b in (("q_proj", q, qb), ("k_proj", k, kb), ("v_proj", v, vb)):
            out[f"{h}self_attn.{name}.weight"], out[f"{h}self_attn.{name}.bias"] = wt, b
        for ours, theirs in (("attn.c_proj", "self_attn.o_proj"), ("mlp.c_fc", "mlp.up_proj"),
                             ("mlp.c_proj", "mlp.down_proj")):
            out[f"{h}{theirs}.weight"] = t.pop(f"{g}{ours}.weight").t()
            out[f"{h}{theirs}.bias"] = t.pop(f"{g}{ours}.bias")
        for buffer in ("attn.bias", "attn.masked_bias"):  # causal-mask buffers of older checkpoints
            t.pop(g + buffer, None)
    out["model.norm.weight"], out["model.norm.bias"] = t.pop("ln_f.weight"), t.pop("ln_f.bias")
    if arch.tied:
        t.pop("lm_head.weight", None)  # HF ties it to wte whatever the file holds
    else:
        out["lm_head.weight"] = t.pop("lm_head.weight")
    if t:
        raise KeyError(f"GPT-2 checkpoint tensors not understood: {sorted(t)}")
    return out


def load_hf_dir(hf_dir):
    """(Arch, HF-named float64 tensors in hf_decoder_logits' names)."""
    with open(os.path.join(hf_dir, "config.json")) as f:
        config = json.load(f)
    arch = Arch.from_hf(config)
    index = os.path.join(hf_dir, "model.safetensors.index.json")
    if os.path.exists(index):
        with open(index) as f:
            files = sorted(set(json.load(f)["weight_map"].values()))
    else:
        files = ["model.safetensors"]
    tensors = {}
    for name in files:
        for n, a in read_safetensors_numpy(os.path.join(hf_dir, name)).items():
            tensors[n] = torch.from_numpy(a).to(torch.float64)
    if config.get("model_type") == "gpt2" or "n_embd" in config:
        return arch, gpt2_to_llama_names(tensors, arch)
    if arch.tied:
        tensors.pop("lm_head.weight", None)  # as HF: tied to embed_tokens
    return arch, tensors


def hf_logits(hf_dir, tokens):
    """float64 logits (B, T, V) of the HF checkpoint in hf_dir for tokens (B, T)."""
    arch, tensors = load_hf_dir(hf_dir)
    tokens = torch.as_tensor(np.asarray(tokens)).long()
    with torch.no_grad():
        return hf_decoder_logits(tensors, tokens, arch)


# ---------------------------------------------------------------------------
# The oracle's run

def run_oracle(args):
    torch.set_num_threads(1)
    data = load_safetensors(args.inp)
    tokens = data.pop("tokens").long()
    targets = data.pop("targets").long()
    if args.config:
        with open(args.config) as f:
            arch = Arch.from_trident(json.load(f))
        loss_fn = lambda p: trident_loss(p, tokens, targets, arch)
    else:
        if args.layers is None or args.heads is None:
            sys.exit("gpt_reference.py: give --config, or --layers and --heads for GPT-2")
        loss_fn = lambda p: gpt_loss(p, tokens, targets, args.layers, args.heads, args.eps)
    if args.autocast_bf16:
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
            logits, loss = loss_fn(data)
        save_safetensors(args.out, {"logits": logits.float().reshape(-1, logits.shape[-1]), "loss": loss.float().reshape(1)})
        return
    params = {n: t.to(torch.float64).requires_grad_(True) for n, t in data.items()}

    logits, loss = loss_fn(params)
    loss.backward()
    out = {"logits": logits.reshape(-1, logits.shape[-1]), "loss": loss.reshape(1)}
    for n, t in params.items():
        out["grad." + n] = t.grad.clone()

    # Weight decay on weights and embeddings, not on biases and norm weights,
    # as trident decides it (Param::weight_decay).
    decay = [t for n, t in params.items() if n.endswith(".weight") and t.dim() == 2]
    no_decay = [t for n, t in params.items() if not (n.endswith(".weight") and t.dim() == 2)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.95), eps=1e-8)
    losses = []
    for _ in range(args.steps):
        opt.zero_grad()
        _, loss = loss_fn(params)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(list(params.values()), args.clip_grad)
        opt.step()
        losses.append(loss.item())
    out["step_losses"] = torch.tensor(losses, dtype=torch.float64)
    save_safetensors(args.out, out)


def run_hf_logits(argv):
    ap = argparse.ArgumentParser(prog="gpt_reference.py hf-logits",
                                 description="float64 logits of an HF checkpoint directory")
    ap.add_argument("hf_dir")
    ap.add_argument("tokens", help='safetensors with an I32 "tokens" (B, T)')
    ap.add_argument("out", help='safetensors to write F32 "logits" (B·T, V) to')
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    tokens = read_safetensors_numpy(args.tokens)["tokens"]
    logits = hf_logits(args.hf_dir, tokens)
    save_safetensors(args.out, {"logits": logits.reshape(-1, logits.shape[-1])})


def main():
    if torch is None:
        sys.exit("gpt_reference.py needs Debian's python3-torch")
    if len(sys.argv) > 1 and sys.argv[1] == "hf-logits":
        return run_hf_logits(sys.argv[2:])
    ap = argparse.ArgumentParser()
    ap.add_argument("inp")
    ap.add_argument("out")
    ap.add_argument("--config", help="GptConfig::to_json() as a file: any model trident allows")
    ap.add_argument("--layers", type=int, help="GPT-2 without --config")
    ap.add_argument("--heads", type=int, help="GPT-2 without --config")
    ap.add_argument("--eps", type=float, default=1e-5, help="GPT-2 without --config")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--weight-decay", type=float, default=0.1)
    ap.add_argument("--clip-grad", type=float, default=1.0)
    ap.add_argument("--autocast-bf16", action="store_true",
                    help="only logits and loss, in float32 under torch.autocast('cpu', bfloat16)")
    run_oracle(ap.parse_args())


if __name__ == "__main__":
    main()
