#!/usr/bin/env bash
# The GPU checks in one call, for a lent GPU machine (CUDA driver, cuBLASLt
# and PyTorch there; trident's Debian dependencies come in the bundle):
#   1. the `gpu` label: test_cuda_vs_cpu (every CUDA op against the CPU
#      backend in f32/bf16/f16, the GPT step in f32 and bf16);
#   2. trident-train on the GPU in bf16: the loss must fall;
#   3. test_device_comm (MpiComm staging and NcclComm on device tensors),
#      tests/mpi/gpu_layout.sh: 8 ranks in (2,2,2) sharing the GPU
#      (--comm mpi, staged) against the same layout on the CPU;
#   4. throughput in bf16, trident then PyTorch on the same card in the
#      same run: GPT-2 124M and a 1.3B shape at seq 1024, MFU against the
#      cuBLASLt bf16 GEMM peak measured here;
#   5. last (the slowest, so a short lease still gets 1-4): the kernel
#      tests under compute-sanitizer memcheck and racecheck.
# Every step has its own time limit, so one hang cannot eat the lease.
# Usage: bench/gpu_check.sh BUNDLE_DIR OUTDIR  (BUNDLE_DIR from bench/make_gpu_bundle.sh)
set -uo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
bundle_dir=$1; out=$2
. "$src/bench/gpu_env.sh" "$bundle_dir"
bin=$tb/bin
nvidia-smi --query-gpu=name,memory.total,clocks.sm,clocks.max.sm --format=csv,noheader
status=0
step() { echo "== $*"; }

step "gpu tests"
timeout 120 "$bin/test_cuda_vs_cpu" > "$out/gpu_tests.log" 2>&1 || { status=1; echo "gpu tests FAILED"; }
grep -E "^\[  (FAILED|PASSED|SKIPPED) |Failure|error:|Which is|gpu |cpu " "$out/gpu_tests.log" | head -40
step "Comm on device tensors: MPI staging (2 ranks on the GPU), NCCL (1 rank; 2 need 2 GPUs)"
for np in 1 2; do
  timeout 120 mpirun -n $np --oversubscribe "$bin/test_device_comm" > "$out/device_comm_np$np.log" 2>&1 \
    || { status=1; echo "test_device_comm np$np FAILED"; }
  grep -E "^\[  (FAILED|PASSED|SKIPPED) |Failure|error" "$out/device_comm_np$np.log" | sort -u | head -8
done

step "trident-train --comm nccl (one rank under mpirun: every group an NCCL communicator of one)"
timeout 120 mpirun -n 1 "$bin/trident-train" --device cuda --comm nccl --bf16 --data-path "$tb/fortunes" \
  --num-layers 2 --hidden-size 128 --num-attention-heads 2 --seq-length 128 --micro-batch-size 4 \
  --global-batch-size 8 --train-iters 50 --log-interval 25 > "$out/nccl_train.log" 2>&1 \
  || { status=1; echo "trident-train --comm nccl FAILED"; }
grep -E "iteration +(25|50)/|error" "$out/nccl_train.log" | cut -c1-160

step "trident-train on the GPU, bf16"
timeout 90 "$bin/trident-train" --device cuda --bf16 --data-path "$tb/fortunes" --num-layers 4 --hidden-size 256 \
  --num-attention-heads 4 --seq-length 256 --micro-batch-size 16 --global-batch-size 32 --train-iters 300 \
  --lr 3e-3 --min-lr 3e-4 --lr-warmup-iters 20 --log-interval 50 --metrics-file "$out/gpu_train.jsonl" \
  > "$out/gpu_train.log" 2>&1 || { status=1; echo "trident-train FAILED"; }
grep -E "iteration +(50|300)/|error" "$out/gpu_train.log" | cut -c1-220

step "8 ranks on one GPU, (2,2,2), --comm mpi, against the CPU"
timeout 150 "$src/tests/mpi/gpu_layout.sh" "$bin/trident-train" "$tb/mpi/bin/mpirun" > "$out/gpu_layout.log" 2>&1 \
  || { status=1; echo "gpu_layout FAILED"; }
tail -8 "$out/gpu_layout.log"

step "throughput, bf16: trident, then PyTorch (fused attention + torch.compile) on the same card"
for shape in "$GPT_124M" "$GPT_1P3B"; do
  mbs=$(echo "$shape" | sed 's/.*--micro-batch-size \([0-9]*\).*/\1/')
  # shellcheck disable=SC2086
  timeout 150 "$bin/bench_train_throughput" --device cuda --bf16 --data-path "$tb/fortunes" --global-batch-size "$mbs" \
    --warmup 3 --iters 10 $shape 2>"$out/bench_err.log" | tee -a "$out/gpu_bench.jsonl" || { status=1; tail -3 "$out/bench_err.log"; }
  # shellcheck disable=SC2086
  PYTHONUNBUFFERED=1 timeout 180 python3 "$src/bench/pytorch_train.py" --device cuda --bf16 --sdpa --compile \
    --data-path "$tb/fortunes" --warmup 3 --iters 10 $shape 2>"$out/torch_err.log" | tee -a "$out/gpu_bench.jsonl" \
    || { status=1; tail -3 "$out/torch_err.log"; }
done
python3 "$src/bench/gpu_table.py" "$out/gpu_bench.jsonl"
if command -v compute-sanitizer >/dev/null; then
  step "compute-sanitizer memcheck and racecheck (kernel tests)"
  kernels='Dtypes/*:*CrossEntropy*:*AdamW*:*Conversions*'
  timeout 100 compute-sanitizer --tool memcheck --error-exitcode 3 "$bin/test_cuda_vs_cpu" --gtest_filter="$kernels" \
    > "$out/memcheck.log" 2>&1 || { status=1; echo "memcheck FAILED"; }
  timeout 100 compute-sanitizer --tool racecheck --error-exitcode 3 "$bin/test_cuda_vs_cpu" \
    --gtest_filter='Dtypes/*/bf16:*CrossEntropy*' > "$out/racecheck.log" 2>&1 || { status=1; echo "racecheck FAILED"; }
  tail -1 "$out/memcheck.log"; tail -1 "$out/racecheck.log"
fi

exit $status
