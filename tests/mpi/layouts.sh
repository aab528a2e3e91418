#!/usr/bin/env bash
# End to end (DESIGN.md idea 3): 20 iterations of the GPT on the fortunes
# corpus in one process, then under mpirun in each (tp, dp) layout; the
# loss at every iteration and the final parameters must agree with the
# single process within 1e-5 relative.
# Usage: layouts.sh <trident-train> <mpiexec>
set -euo pipefail
train=$1; mpiexec=$2
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
flags=(--num-layers 2 --hidden-size 64 --num-attention-heads 4 --seq-length 64 --micro-batch-size 2
       --global-batch-size 8 --train-iters 20 --lr 1e-3 --lr-warmup-iters 5 --seed 7 --log-interval 20
       --data-path /usr/share/games/fortunes --ddp-bucket-size 20000)
"$train" "${flags[@]}" --metrics-file "$work/base.jsonl" --export-safetensors "$work/base.safetensors" > "$work/base.log"
status=0
for layout in "2 1" "4 1" "1 2" "1 4" "2 2"; do
  set -- $layout
  tp=$1; dp=$2; n=$((tp * dp))
  if ! "$mpiexec" -n "$n" --oversubscribe "$train" "${flags[@]}" --tp "$tp" --dp "$dp" \
       --metrics-file "$work/l.jsonl" --export-safetensors "$work/l.safetensors" > "$work/l.log" 2>&1; then
    echo "FAIL tp=$tp dp=$dp: trident-train exited non-zero"; cat "$work/l.log"; status=1; continue
  fi
  /usr/bin/python3 "$here/compare_runs.py" "$work/base.jsonl" "$work/l.jsonl" "$work/base.safetensors" \
    "$work/l.safetensors" "tp=$tp dp=$dp" || status=1
done
exit $status
