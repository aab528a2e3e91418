#!/usr/bin/env bash
# The GPU checks in one call (for a lent GPU machine, which has the CUDA
# driver and PyTorch but not trident's Debian build dependencies):
#   1. the `gpu` test label (test_cuda_vs_cpu: every CUDA op against the CPU backend),
#      then again under compute-sanitizer (memcheck, racecheck) where it is installed,
#   2. trident-train on the GPU: the loss must fall,
#   3. training throughput on the GPU, trident vs PyTorch (f32, same shape, same run).
# Usage: bench/gpu_check.sh BUNDLE OUTDIR, BUNDLE made by bench/make_gpu_bundle.sh.
set -uo pipefail
bundle=$1; out=$2
cublas_dir=$(dirname "$(find /usr/local/cuda* /opt -name 'libcublasLt.so.13' 2>/dev/null | head -1)")
export LD_LIBRARY_PATH=$bundle/lib:$cublas_dir:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}
nvidia-smi -L
status=0
echo "== gpu tests"
"$bundle/bin/test_cuda_vs_cpu" 2>&1 | tee "$out/gpu_tests.log" | grep -E "OK|FAILED|SKIPPED|Failure|error|PASSED" || true
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1
if command -v compute-sanitizer >/dev/null; then
  echo "== compute-sanitizer: memcheck (all gpu tests), racecheck (block reductions)"
  compute-sanitizer --tool memcheck --error-exitcode 3 "$bundle/bin/test_cuda_vs_cpu" > "$out/memcheck.log" 2>&1 \
    || { status=1; echo "memcheck FAILED"; }
  compute-sanitizer --tool racecheck --error-exitcode 3 "$bundle/bin/test_cuda_vs_cpu" \
    --gtest_filter='*AttentionAndCrossEntropy*:*EmbeddingLayerNorm*' > "$out/racecheck.log" 2>&1 \
    || { status=1; echo "racecheck FAILED"; }
  tail -1 "$out/memcheck.log"; tail -1 "$out/racecheck.log"
fi
echo "== trident-train on the GPU"
"$bundle/bin/trident-train" --device cuda --data-path "$bundle/fortunes" --num-layers 4 --hidden-size 256 \
  --num-attention-heads 4 --seq-length 256 --micro-batch-size 16 --global-batch-size 32 --train-iters 300 \
  --lr 3e-3 --min-lr 3e-4 --lr-warmup-iters 20 --log-interval 50 --metrics-file "$out/gpu_train.jsonl" \
  > "$out/gpu_train.log" 2>&1 || status=1
tail -7 "$out/gpu_train.log"
echo "== throughput (f32), trident then PyTorch, same shapes"
for shape in "--num-layers 4 --hidden-size 256 --num-attention-heads 4 --seq-length 256 --micro-batch-size 8" \
             "--num-layers 12 --hidden-size 768 --num-attention-heads 12 --seq-length 1024 --micro-batch-size 8"; do
  mbs=$(echo "$shape" | sed 's/.*--micro-batch-size \([0-9]*\).*/\1/')
  # shellcheck disable=SC2086
  "$bundle/bin/bench_train_throughput" --device cuda --data-path "$bundle/fortunes" --global-batch-size "$mbs" \
    --warmup 3 --iters 10 $shape 2>&1 | tee -a "$out/gpu_bench.jsonl" || status=1
  # shellcheck disable=SC2086
  python3 "$(dirname "$0")/pytorch_train.py" --device cuda --data-path "$bundle/fortunes" --warmup 3 --iters 10 \
    $shape 2>&1 | tee -a "$out/gpu_bench.jsonl" || status=1
done
exit $status
