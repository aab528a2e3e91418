#!/usr/bin/env bash
# Memory at scale trains the same model (issue 13's acceptance): 20 fp32
# iterations of the GPT on the fortunes corpus in one process, then in each
# (tp, pp, dp) of (1,1,4), (2,1,2), (2,2,2), (1,2,4), with the distributed
# optimizer off and on, and with sequence parallelism off and on where
# tp > 1: the loss at every iteration and the final parameters agree with
# the single process within 1e-5 relative (compare_runs.py).
# Usage: sharded_layouts.sh <trident-train> <mpiexec>
set -euo pipefail
train=$1; mpiexec=$2
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Buckets of 20000 elements: several per stage, so shards cut many tensors.
flags=(--num-layers 2 --hidden-size 64 --num-attention-heads 4 --seq-length 64 --micro-batch-size 2
       --global-batch-size 8 --train-iters 20 --lr 1e-3 --lr-warmup-iters 5 --seed 7 --log-interval 20
       --data-path /usr/share/games/fortunes --ddp-bucket-size 20000)
"$train" "${flags[@]}" --metrics-file "$work/base.jsonl" --export-safetensors "$work/base.safetensors" > "$work/base.log"
status=0
for layout in "1 1 4" "2 1 2" "2 2 2" "1 2 4"; do
  set -- $layout
  tp=$1; pp=$2; dp=$3; n=$((tp * pp * dp))
  variants=("" "--use-distributed-optimizer")
  [ "$tp" -gt 1 ] && variants+=("--sequence-parallel" "--use-distributed-optimizer --sequence-parallel")
  for variant in "${variants[@]}"; do
    name="tp=$tp pp=$pp dp=$dp ${variant:-(plain)}"
    # shellcheck disable=SC2086  # the variant is zero, one or two flags
    if ! "$mpiexec" -n "$n" --oversubscribe "$train" "${flags[@]}" --tp "$tp" --pp "$pp" --dp "$dp" $variant \
         --metrics-file "$work/l.jsonl" --export-safetensors "$work/l.safetensors" > "$work/l.log" 2>&1; then
      echo "FAIL $name: trident-train exited non-zero"; cat "$work/l.log"; status=1; continue
    fi
    /usr/bin/python3 "$here/compare_runs.py" "$work/base.jsonl" "$work/l.jsonl" "$work/base.safetensors" \
      "$work/l.safetensors" "$name" || status=1
  done
done
exit $status
