#!/usr/bin/env bash
# Every layout trains the same Llama-family model (issue 14's acceptance):
# 20 fp32 iterations of a 4-layer Llama (RoPE, RMSNorm, SwiGLU, 4 query
# heads in 2 key/value groups, untied output, no linear biases) on the
# fortunes corpus in one process, then in (tp, pp, dp) = (2,1,2), (2,2,2)
# and (1,4,2), and (2,2,2) again with the distributed optimizer and
# sequence parallelism: the loss at every iteration and the final
# parameters agree with the single process within 1e-5 relative
# (compare_runs.py).
# Usage: llama_layouts.sh <trident-train> <mpiexec>
set -euo pipefail
train=$1; mpiexec=$2
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
flags=(--num-layers 4 --hidden-size 64 --num-attention-heads 4 --group-query-attention --num-query-groups 2
       --swiglu --ffn-hidden-size 160 --normalization RMSNorm --position-embedding-type rope
       --untie-embeddings-and-output-weights --disable-bias-linear --seq-length 64 --micro-batch-size 2
       --global-batch-size 8 --train-iters 20 --lr 1e-3 --lr-warmup-iters 5 --seed 7 --log-interval 20
       --data-path /usr/share/games/fortunes --ddp-bucket-size 20000)
"$train" "${flags[@]}" --metrics-file "$work/base.jsonl" --export-safetensors "$work/base.safetensors" > "$work/base.log"
status=0
for run in "2 1 2" "2 2 2" "1 4 2" "2 2 2 --use-distributed-optimizer --sequence-parallel"; do
  set -- $run
  tp=$1; pp=$2; dp=$3; shift 3; n=$((tp * pp * dp))
  name="tp=$tp pp=$pp dp=$dp ${*:-(plain)}"
  if ! "$mpiexec" -n "$n" --oversubscribe "$train" "${flags[@]}" --tp "$tp" --pp "$pp" --dp "$dp" "$@" \
       --metrics-file "$work/l.jsonl" --export-safetensors "$work/l.safetensors" > "$work/l.log" 2>&1; then
    echo "FAIL $name: trident-train exited non-zero"; cat "$work/l.log"; status=1; continue
  fi
  /usr/bin/python3 "$here/compare_runs.py" "$work/base.jsonl" "$work/l.jsonl" "$work/base.safetensors" \
    "$work/l.safetensors" "$name" || status=1
done
exit $status
