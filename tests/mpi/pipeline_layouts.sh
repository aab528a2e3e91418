#!/usr/bin/env bash
# Pipeline parallelism end to end: 20 iterations of an 8-layer GPT in one
# process, then under mpirun for every schedule in each (tp, pp, dp) layout
# of the pipeline issue; losses and final parameters within 1e-5 relative
# of the single process (compare_runs.py); also an uneven layer split. Then full and selective
# recompute in the (2,2,2) layout: bit-identical to no recompute.
# Usage: pipeline_layouts.sh <trident-train> <mpiexec>
set -euo pipefail
train=$1; mpiexec=$2
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# 16 sequences in micro-batches of 2: 8, 4 or 2 micro-batches per DP rank,
# each divisible by pp as the interleaved schedule needs; 8 layers = pp·v for pp 4, v 2.
flags=(--num-layers 8 --hidden-size 32 --num-attention-heads 4 --seq-length 32 --micro-batch-size 2
       --global-batch-size 16 --train-iters 20 --lr 1e-3 --lr-warmup-iters 5 --seed 11 --log-interval 20
       --data-path /usr/share/games/fortunes --ddp-bucket-size 4000)
"$train" "${flags[@]}" --metrics-file "$work/base.jsonl" --export-safetensors "$work/base.safetensors" > "$work/base.log"
status=0
run() {  # run <label> <ranks> <out-prefix> <flags...>
  local label=$1 n=$2 out=$3; shift 3
  if ! "$mpiexec" -n "$n" --oversubscribe "$train" "${flags[@]}" "$@" \
       --metrics-file "$out.jsonl" --export-safetensors "$out.safetensors" > "$out.log" 2>&1; then
    echo "FAIL $label: trident-train exited non-zero"; cat "$out.log"; return 1
  fi
}
for layout in "1 2 1" "1 4 1" "2 2 1" "1 2 2" "2 2 2" "1 4 2" "2 4 1"; do
  set -- $layout
  tp=$1; pp=$2; dp=$3; n=$((tp * pp * dp))
  for schedule in gpipe 1f1b interleaved; do
    extra=(); [ "$schedule" = interleaved ] && extra=(--num-virtual-stages-per-pipeline-rank 2)
    label="tp=$tp pp=$pp dp=$dp $schedule"
    run "$label" "$n" "$work/l" --tp "$tp" --pp "$pp" --dp "$dp" --pipeline-schedule "$schedule" "${extra[@]}" \
      || { status=1; continue; }
    /usr/bin/python3 "$here/compare_runs.py" "$work/base.jsonl" "$work/l.jsonl" "$work/base.safetensors" \
      "$work/l.safetensors" "$label" || status=1
  done
done
# An explicit uneven split (3 + 5 layers) trains the same model.
run "tp=1 pp=2 dp=1 1f1b, layers 3,5" 2 "$work/l" --pp 2 --pipeline-layers-per-stage 3,5 || status=1
/usr/bin/python3 "$here/compare_runs.py" "$work/base.jsonl" "$work/l.jsonl" "$work/base.safetensors" \
  "$work/l.safetensors" "tp=1 pp=2 dp=1 1f1b, layers 3,5" || status=1
# Recomputation changes memory, never results.
run "tp=2 pp=2 dp=2 1f1b" 8 "$work/none" --tp 2 --pp 2 --dp 2 || status=1
for granularity in full selective; do
  label="tp=2 pp=2 dp=2 1f1b, --recompute-granularity $granularity"
  run "$label" 8 "$work/$granularity" --tp 2 --pp 2 --dp 2 --recompute-granularity "$granularity" || { status=1; continue; }
  /usr/bin/python3 "$here/compare_runs.py" "$work/none.jsonl" "$work/$granularity.jsonl" "$work/none.safetensors" \
    "$work/$granularity.safetensors" "$label" --exact || status=1
done
exit $status
