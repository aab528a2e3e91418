#!/usr/bin/python3
"""The peer's figure for bench/train_throughput: the same GPT (the oracle's
definition in tests/reference/gpt_reference.py), the same shape and thread
count, trained in PyTorch (forward + backward + clip + AdamW), fp32 or bf16
autocast, on the CPU or a GPU. On a GPU, --sdpa (PyTorch's fused attention),
--compile (torch.compile) and the fused AdamW make it the strongest PyTorch
we can field. Prints one JSON line with the same keys."""
import argparse
import json
import math
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "reference"))
from gpt_reference import gpt_loss  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--num-layers", type=int, default=4)
    ap.add_argument("--hidden-size", type=int, default=256)
    ap.add_argument("--num-attention-heads", type=int, default=4)
    ap.add_argument("--seq-length", type=int, default=256)
    ap.add_argument("--micro-batch-size", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--data-path", default="/usr/share/games/fortunes")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--bf16", action="store_true", help="torch.autocast to bfloat16 (weights and optimizer in f32)")
    ap.add_argument("--global-batch-size", type=int, default=0)  # accepted for flag parity; one micro-batch
    ap.add_argument("--vocab-size", type=int, default=256)
    ap.add_argument("--sdpa", action="store_true", help="attention through F.scaled_dot_product_attention")
    ap.add_argument("--compile", action="store_true", help="torch.compile the forward and backward")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    L, C, H, T, B, V = args.num_layers, args.hidden_size, args.num_attention_heads, args.seq_length, args.micro_batch_size, args.vocab_size

    dev = torch.device(args.device)

    def normal(*shape, std=0.02):
        return (torch.randn(*shape, device=dev) * std).requires_grad_(True)

    p = {"embedding.word_embeddings.weight": normal(V, C), "embedding.position_embeddings.weight": normal(T, C),
         "final_ln.weight": torch.ones(C, device=dev, requires_grad=True), "final_ln.bias": torch.zeros(C, device=dev, requires_grad=True)}
    for i in range(L):
        for n, shape in (("attn.qkv", (3 * C, C)), ("attn.proj", (C, C)), ("mlp.fc1", (4 * C, C)), ("mlp.fc2", (C, 4 * C))):
            p[f"layers.{i}.{n}.weight"] = normal(*shape)
            p[f"layers.{i}.{n}.bias"] = torch.zeros(shape[0], device=dev, requires_grad=True)
        for n in ("ln1", "ln2"):
            p[f"layers.{i}.{n}.weight"] = torch.ones(C, device=dev, requires_grad=True)
            p[f"layers.{i}.{n}.bias"] = torch.zeros(C, device=dev, requires_grad=True)
    opt = torch.optim.AdamW(list(p.values()), lr=1e-3, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1,
                            **({"fused": True} if dev.type == "cuda" else {}))
    loss_fn = torch.compile(gpt_loss) if args.compile else gpt_loss

    files = sorted(f for f in os.listdir(args.data_path)
                   if not f.endswith((".dat", ".u8")) and os.path.isfile(os.path.join(args.data_path, f)))
    text = b"".join(open(os.path.join(args.data_path, f), "rb").read() for f in files)
    data = torch.frombuffer(bytearray(text), dtype=torch.uint8).long()

    def step():
        starts = torch.randint(0, len(data) - T - 1, (B,))
        window = torch.stack([data[s:s + T + 1] for s in starts]).to(dev)
        opt.zero_grad(set_to_none=True)
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=args.bf16):
            _, loss = loss_fn(p, window[:, :-1], window[:, 1:], L, H, 1e-5, args.sdpa)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(list(p.values()), 1.0)
        opt.step()
        return loss.item()

    for _ in range(args.warmup):
        step()
    times, loss = [], float("nan")
    for _ in range(args.iters):
        t0 = time.perf_counter()
        loss = step()  # .item() synchronises the device
        times.append(time.perf_counter() - t0)
    assert math.isfinite(loss) and loss < math.log(V), f"PyTorch did not train: loss {loss}"
    times.sort()
    median = times[len(times) // 2]
    flops = 72 * B * T * L * C * C * (1 + T / (6 * C) + V / (12 * L * C))
    print(json.dumps({"bench": "train", "impl": "pytorch", "device": args.device, "version": torch.__version__, "dtype": "bf16 autocast" if args.bf16 else "f32",
                      "sdpa": args.sdpa, "compiled": args.compile,
                      "threads": args.threads, "layers": L, "hidden": C, "heads": H, "seq": T, "batch": B, "vocab": V,
                      "ms_per_iter": median * 1e3, "tokens_per_s": B * T / median,
                      "model_gflops": flops / median * 1e-9, "loss": loss}))


if __name__ == "__main__":
    main()
