#!/usr/bin/env bash
# Runs bench/train_throughput and the PyTorch peer on the same shape and
# thread count, one after the other in this run, and prints both JSON lines
# and a third with the ratio of trident's tokens/s to PyTorch's.
# Usage: compare_train_pytorch.sh <build/bin> [shape flags, e.g. --num-layers 4 --hidden-size 256] [--bf16]
# (--bf16: trident computes in bf16; PyTorch runs under torch.autocast(bfloat16))
set -euo pipefail
bin=$1; shift
here=$(cd "$(dirname "$0")" && pwd)
threads=2
ours=$(OMP_NUM_THREADS=$threads "$bin/bench_train_throughput" --threads $threads "$@")
peer=$(OMP_NUM_THREADS=$threads /usr/bin/python3 "$here/pytorch_train.py" --threads $threads "$@")
echo "$ours"
echo "$peer"
python3 -c '
import json, sys
a, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(json.dumps({"bench": "train", "compare": "trident/pytorch", "tokens_per_s_ratio": round(a["tokens_per_s"] / b["tokens_per_s"], 3),
                  "trident_tokens_per_s": round(a["tokens_per_s"]), "pytorch_tokens_per_s": round(b["tokens_per_s"]),
                  "trident_mfu": round(a["mfu"], 3)}))' "$ours" "$peer"
