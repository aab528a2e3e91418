#!/usr/bin/env bash
# Fused against unfused attention in a whole training step, on one card in
# one run: bench_train_throughput in bf16 at the GPT-2 124M and 1.3B
# shapes with the fused kernels (default) and with TRIDENT_FUSED_ATTENTION=0,
# then PyTorch (SDPA + torch.compile) at the same shapes; first the gpu
# tests, since the kernels are what changed. Prints JSON lines and a table.
# Usage: bench/gpu_attention.sh BUNDLE_DIR OUTDIR
set -uo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
out=$2
. "$src/bench/gpu_env.sh" "$1"
timeout 100 "$tb/bin/test_cuda_vs_cpu" > "$out/gpu_tests.log" 2>&1 || echo "gpu tests FAILED"
grep -E "^\[  (FAILED|PASSED) |Failure|Expected|actual" "$out/gpu_tests.log" | head -12
for shape in "$GPT_124M" "$GPT_1P3B"; do
  mbs=$(echo "$shape" | sed 's/.*--micro-batch-size \([0-9]*\).*/\1/')
  for fused in 1 0; do
    # shellcheck disable=SC2086
    TRIDENT_FUSED_ATTENTION=$fused timeout 120 "$tb/bin/bench_train_throughput" --device cuda --bf16 \
      --data-path "$tb/fortunes" --global-batch-size "$mbs" --warmup 3 --iters 10 $shape 2>>"$out/bench_err.log" \
      | sed "s/^{/{\"fused_attention\":$fused,/" | tee -a "$out/attention.jsonl"
  done
done
name=12x768
# shellcheck disable=SC2086
TRIDENT_CUDA_PROFILE=1 timeout 100 "$tb/bin/bench_train_throughput" --device cuda --bf16 --data-path "$tb/fortunes" \
  --global-batch-size 16 --warmup 2 --iters 3 $GPT_124M > "$out/profile_$name.log" 2>&1 || echo "profile FAILED"
grep -E "TRIDENT_CUDA_PROFILE|^  +[0-9.]+ ms" "$out/profile_$name.log" | head -24
for shape in "$GPT_124M" "$GPT_1P3B"; do
  # shellcheck disable=SC2086
  PYTHONUNBUFFERED=1 timeout 150 python3 "$src/bench/pytorch_train.py" --device cuda --bf16 --sdpa --compile \
    --data-path "$tb/fortunes" --warmup 3 --iters 10 $shape 2>>"$out/torch_err.log" | tee -a "$out/attention.jsonl"
done
python3 "$src/bench/gpu_table.py" "$out/attention.jsonl"
