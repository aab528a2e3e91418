#!/usr/bin/env bash
# Where a GPU training step's time goes: bench_train_throughput in bf16 at
# the GPT-2 124M and the 1.3B shapes with TRIDENT_CUDA_PROFILE=1, which
# synchronises around every backend operation and logs a table of time per
# operation (GEMMs per shape) at exit. The synchronisations slow the step:
# read the shares, and take speeds from bench/gpu_check.sh.
# Usage: bench/gpu_profile.sh BUNDLE_DIR OUTDIR
set -uo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
out=$2
. "$src/bench/gpu_env.sh" "$1"
for shape in "$GPT_124M" "$GPT_1P3B"; do
  mbs=$(echo "$shape" | sed 's/.*--micro-batch-size \([0-9]*\).*/\1/')
  name=$(echo "$shape" | awk '{print $2 "x" $4}')
  # shellcheck disable=SC2086
  TRIDENT_CUDA_PROFILE=1 timeout 150 "$tb/bin/bench_train_throughput" --device cuda --bf16 --data-path "$tb/fortunes" \
    --global-batch-size "$mbs" --warmup 2 --iters 3 $shape > "$out/profile_$name.log" 2>&1 || echo "profile $name FAILED"
  grep -E "TRIDENT_CUDA_PROFILE|^  +[0-9.]+ ms|tokens_per_s" "$out/profile_$name.log" | head -30
done
