#!/usr/bin/env bash
# Bad pipeline settings under mpirun: each must end the job non-zero with
# exactly one "trident-train: error:" line naming the problem, and write
# nothing (no metrics file).
# Usage: bad_pipeline.sh <trident-train> <mpiexec>
set -u
train=$1; mpiexec=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0

# expect_error <ranks> <substring expected in the message> <flags...>
expect_error() {
  local n=$1 want=$2; shift 2
  rm -f "$work/metrics.jsonl"
  timeout 60 "$mpiexec" -n "$n" --oversubscribe "$train" --seq-length 16 --hidden-size 32 --num-attention-heads 2 \
    --micro-batch-size 2 --global-batch-size 8 --train-iters 2 --metrics-file "$work/metrics.jsonl" "$@" \
    > "$work/out" 2>&1
  local rc=$? lines
  lines=$(grep -c "trident-train: error:" "$work/out")
  if [ "$rc" -eq 0 ] || [ "$rc" -eq 124 ] || [ "$lines" -ne 1 ] || ! grep "trident-train: error:" "$work/out" | grep -qF -- "$want" \
     || [ -e "$work/metrics.jsonl" ]; then
    echo "FAIL [-n $n $*]: exit $rc, $lines error line(s), expected one naming '$want'"
    sed 's/^/    /' "$work/out"
    failures=$((failures + 1))
  else
    echo "ok   [-n $n $*] -> $(grep "trident-train: error:" "$work/out")"
  fi
}

expect_error 2 "--num-layers 3 is not divisible by the 2 pipeline stages" --pp 2 --num-layers 3
expect_error 4 "--num-layers 2 is fewer than the 4 pipeline stages" --pp 4 --num-layers 2
expect_error 2 "--num-layers 4 is fewer than the 6 pipeline stages" --pp 2 --num-layers 4 \
  --num-virtual-stages-per-pipeline-rank 3
expect_error 2 "divisible by --pipeline-model-parallel-size 2" --pp 2 --num-layers 4 \
  --num-virtual-stages-per-pipeline-rank 2 --global-batch-size 6
expect_error 2 "needs --pipeline-schedule interleaved" --pp 2 --num-layers 4 --pipeline-schedule 1f1b \
  --num-virtual-stages-per-pipeline-rank 2
expect_error 2 "interleaved schedule needs --num-virtual-stages-per-pipeline-rank of at least 2" --pp 2 \
  --num-layers 4 --pipeline-schedule interleaved
expect_error 1 "--num-virtual-stages-per-pipeline-rank 2 (the interleaved schedule) needs --pipeline-model-parallel-size of at least 2" \
  --num-layers 4 --num-virtual-stages-per-pipeline-rank 2
expect_error 2 "unknown --pipeline-schedule 'zero-bubble'" --pp 2 --num-layers 2 --pipeline-schedule zero-bubble
expect_error 2 "unknown --recompute-granularity 'some'" --pp 2 --num-layers 2 --recompute-granularity some
expect_error 2 "--pipeline-layers-per-stage has 3 entries" --pp 2 --num-layers 4 --pipeline-layers-per-stage 1,1,2
expect_error 2 "--pipeline-layers-per-stage sums to 3 layers" --pp 2 --num-layers 4 --pipeline-layers-per-stage 1,2
expect_error 2 "every stage needs at least one layer" --pp 2 --num-layers 4 --pipeline-layers-per-stage 0,4
expect_error 3 "not divisible by --tensor-model-parallel-size 1 x --pipeline-model-parallel-size 2" --pp 2 --num-layers 2
exit $((failures > 0))
