#!/usr/bin/python3
"""A client we did not write reads a trident checkpoint: Debian's h5py opens
index.h5 (virtual datasets over the rank shards), reads every global tensor,
and PyTorch (float64) builds the GPT from the model/ tensors and computes
the logits of the tokens in IO.safetensors, which must match the logits
trident computed (same file) within 1e-5 of the largest.

Usage: /usr/bin/python3 h5py_client.py CHECKPOINT_DIR/index.h5 IO.safetensors
"""
import json
import os
import sys

import h5py
import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "reference"))
from gpt_reference import gpt_loss, load_safetensors  # noqa: E402

index_path, io_path = sys.argv[1:3]
with h5py.File(index_path, "r") as f:
    state = json.loads(f.attrs["trident_state"])
    tensors = {}
    f.visititems(lambda name, obj: tensors.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset) else None)
model = {k[len("model/"):]: torch.from_numpy(v.astype(np.float64)) for k, v in tensors.items() if k.startswith("model/")}
moments = [k for k in tensors if k.startswith("optim/")]
cfg = state["model"]
assert len(model) == 12 * cfg["num_layers"] + 4, sorted(model)
assert len(moments) == 2 * len(model), len(moments)
assert all(np.isfinite(v).all() for v in tensors.values())
assert float(np.abs(tensors["optim/exp_avg_sq/final_ln.weight"]).sum()) > 0, "optimizer state is empty"

io = load_safetensors(io_path)
tokens = io["tokens"].long()
ours = io["logits"].double()
with torch.no_grad():
    logits, _ = gpt_loss(model, tokens, tokens, cfg["num_layers"], cfg["num_attention_heads"], 1e-5)
theirs = logits.reshape(ours.shape)
error = float((ours - theirs).abs().max() / theirs.abs().max())
print(f"{'ok  ' if error <= 1e-5 else 'FAIL'} h5py read {len(tensors)} tensors of iteration {state['iteration']} "
      f"saved at layout {state['layout']}; PyTorch logits vs trident's: max error {error:.2e} (bound 1e-5)")
sys.exit(0 if error <= 1e-5 else 1)
