#!/usr/bin/env bash
# bf16 against fp32 on this CPU: bench/train_throughput in fp32 and in bf16,
# alternated REPS times (the median of each, so that a noisy neighbour hits
# both), then the PyTorch peer in fp32 and under bf16 autocast in the same
# run. Prints every JSON line, then one with the ratios: trident bf16/fp32
# (issue target: >= 0.9 where the CPU has no native bf16 GEMM) and PyTorch's.
# Set TRIDENT_CPU_BF16=widen|native to choose trident's bf16 GEMM path
# (Note [when to widen]); ONEDNN_MAX_CPU_ISA=AVX2 makes oneDNN behave as on an
# AVX2-only CPU.
# Usage: compare_bf16_fp32.sh <build/bin> [REPS] [shape flags]
set -euo pipefail
bin=$1; shift
reps=${1:-3}; [ $# -gt 0 ] && shift
here=$(cd "$(dirname "$0")" && pwd)
threads=2
lines=()
for _ in $(seq "$reps"); do
  for dtype in fp32 bf16; do
    flag=(); [ $dtype = bf16 ] && flag=(--bf16)
    lines+=("$(OMP_NUM_THREADS=$threads "$bin/bench_train_throughput" --threads $threads "${flag[@]}" "$@" | tail -1)")
    echo "${lines[-1]}"
  done
done
# PyTorch's own oneDNN cannot make a bf16 GEMM under ONEDNN_MAX_CPU_ISA=AVX2 and fails, so the
# peer always runs with the CPU's full instruction set (the ratio line says so).
peer32=$(env -u ONEDNN_MAX_CPU_ISA OMP_NUM_THREADS=$threads /usr/bin/python3 "$here/pytorch_train.py" --threads $threads "$@")
peer16=$(env -u ONEDNN_MAX_CPU_ISA OMP_NUM_THREADS=$threads /usr/bin/python3 "$here/pytorch_train.py" --threads $threads --bf16 "$@")
echo "$peer32"
echo "$peer16"
/usr/bin/python3 - "$peer32" "$peer16" "${lines[@]}" <<'PY'
import json, os, statistics, sys
p32, p16 = json.loads(sys.argv[1]), json.loads(sys.argv[2])
ours = [json.loads(l) for l in sys.argv[3:]]
med = lambda dt: statistics.median(o["tokens_per_s"] for o in ours if o["dtype"] == dt)
f32, b16 = med("f32"), med("bf16")
print(json.dumps({"bench": "train", "compare": "bf16/fp32", "device": ours[0]["device"],
                  "trident_fp32_tokens_per_s": round(f32), "trident_bf16_tokens_per_s": round(b16),
                  "trident_bf16_over_fp32": round(b16 / f32, 3),
                  "pytorch_fp32_tokens_per_s": round(p32["tokens_per_s"]),
                  "pytorch_bf16_tokens_per_s": round(p16["tokens_per_s"]),
                  "pytorch_bf16_over_fp32": round(p16["tokens_per_s"] / p32["tokens_per_s"], 3),
                  "TRIDENT_CPU_BF16": os.environ.get("TRIDENT_CPU_BF16", "auto"),
                  "ONEDNN_MAX_CPU_ISA": os.environ.get("ONEDNN_MAX_CPU_ISA", "ALL"), "pytorch_isa": "ALL",
                  "trident_spread": {dt: [round(o["tokens_per_s"]) for o in ours if o["dtype"] == dt] for dt in ("f32", "bf16")}}))
PY
