#!/usr/bin/python3
"""PyTorch oracle for trident's GPT (tests/reference).

Reads the initial weights, tokens and targets that the C++ test wrote
(safetensors, trident's parameter names), builds the same GPT-2-style model
in PyTorch (float64, so the oracle's own rounding is negligible), and writes
back: logits, loss, the gradient of every parameter, and the losses of
`--steps` AdamW steps on the same batch with global grad-norm clipping.

Run with Debian's python3-torch: /usr/bin/python3 gpt_reference.py IN OUT ...
"""
import argparse
import json
import math
import struct

import numpy as np
import torch
import torch.nn.functional as F

DTYPES = {"F32": np.float32, "I32": np.int32, "F64": np.float64}


def load_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        arr = np.frombuffer(data[begin:end], dtype=DTYPES[info["dtype"]]).reshape(info["shape"])
        out[name] = torch.from_numpy(arr.copy())
    return out


def save_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        arr = np.ascontiguousarray(t.detach().to(torch.float32).numpy())
        blob = arr.tobytes()
        header[name] = {"dtype": "F32", "shape": list(arr.shape), "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("inp")
    ap.add_argument("out")
    ap.add_argument("--layers", type=int, required=True)
    ap.add_argument("--heads", type=int, required=True)
    ap.add_argument("--eps", type=float, default=1e-5)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--weight-decay", type=float, default=0.1)
    ap.add_argument("--clip-grad", type=float, default=1.0)
    ap.add_argument("--autocast-bf16", action="store_true",
                    help="only logits and loss, in float32 under torch.autocast('cpu', bfloat16)")
    args = ap.parse_args()

    torch.set_num_threads(1)
    data = load_safetensors(args.inp)
    tokens = data.pop("tokens").long()
    targets = data.pop("targets").long()
    if args.autocast_bf16:
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
            logits, loss = gpt_loss(data, tokens, targets, args.layers, args.heads, args.eps)
        save_safetensors(args.out, {"logits": logits.float().reshape(-1, logits.shape[-1]), "loss": loss.float().reshape(1)})
        return
    params = {n: t.to(torch.float64).requires_grad_(True) for n, t in data.items()}

    logits, loss = gpt_loss(params, tokens, targets, args.layers, args.heads, args.eps)
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
        _, loss = gpt_loss(params, tokens, targets, args.layers, args.heads, args.eps)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(list(params.values()), args.clip_grad)
        opt.step()
        losses.append(loss.item())
    out["step_losses"] = torch.tensor(losses, dtype=torch.float64)
    save_safetensors(args.out, out)


if __name__ == "__main__":
    main()
