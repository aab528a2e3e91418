#!/usr/bin/env bash
# Why one GEMM shape is slow: the GPT-2 124M bf16 step with
# TRIDENT_GEMM_VERBOSE=1 (every shape's cuBLASLt candidates, timed, to
# stderr), then the step's speed with cuBLASLt's workspace at 32 MiB (the
# default) and 512 MiB. Usage: bench/gpu_gemm_probe.sh BUNDLE_DIR OUTDIR
set -uo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
out=$2
. "$src/bench/gpu_env.sh" "$1"
shape="$GPT_124M --global-batch-size 16"
# shellcheck disable=SC2086
TRIDENT_GEMM_VERBOSE=1 timeout 90 "$tb/bin/bench_train_throughput" --device cuda --bf16 --data-path "$tb/fortunes" \
  --warmup 1 --iters 2 $shape > "$out/verbose.log" 2>&1
grep "^gemm" "$out/verbose.log" | cut -c1-200
for mb in 32 512; do
  # shellcheck disable=SC2086
  TRIDENT_GEMM_WORKSPACE_MB=$mb timeout 90 "$tb/bin/bench_train_throughput" --device cuda --bf16 \
    --data-path "$tb/fortunes" --warmup 3 --iters 10 $shape 2>/dev/null | sed "s/^{/{\"workspace_mb\":$mb,/" \
    | tee -a "$out/probe.jsonl"
done
