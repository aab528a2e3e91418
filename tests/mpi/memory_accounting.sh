#!/usr/bin/env bash
# The memory model against the allocator (docs/memory.md): 2 iterations of a
# small GPT in each (tp, pp, dp) layout, with and without the distributed
# optimizer, and with sequence parallelism where tp > 1. For every rank, each
# category's measured peak must be within 10% of the prediction for its
# pipeline stage (categories predicted under 64 KiB are exempt: there the
# allocator's few stray scalars are a large share). Then the scaling laws on
# measured bytes: optimizer state at dp = 4 is a quarter of dp = 1 (up to
# bucket padding), and sequence parallelism at tp = 2 saves the analytic
# activation bytes. A Llama-family model (RoPE, RMSNorm, SwiGLU, 2 key/value
# groups, untied output, no biases) is held to the same 10% in (2,2,2) with
# both, and in one process in bf16 (the CPU's widened weights).
# Usage: memory_accounting.sh <trident-train> <mpiexec>
set -euo pipefail
train=$1; mpiexec=$2
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
flags=(--num-layers 4 --hidden-size 64 --num-attention-heads 4 --seq-length 32 --micro-batch-size 2
       --global-batch-size 16 --train-iters 2 --log-interval 2 --peak-tflops 1 --ddp-bucket-size 20000
       --data-path /usr/share/games/fortunes)
run() {  # name ranks flags...
  local name=$1 n=$2; shift 2
  if ! "$mpiexec" -n "$n" --oversubscribe "$train" "${flags[@]}" "$@" --metrics-file "$work/$name.jsonl" \
       > "$work/$name.log" 2>&1; then
    echo "FAIL $name: trident-train exited non-zero"; cat "$work/$name.log"; exit 1
  fi
}
cases=()
for layout in "1 1 4" "2 1 2" "2 2 2" "1 2 4"; do
  set -- $layout
  tp=$1; pp=$2; dp=$3
  for extra in "" "--use-distributed-optimizer" "--sequence-parallel" "--sequence-parallel --use-distributed-optimizer"; do
    [[ $tp == 1 && $extra == *sequence* ]] && continue
    name="tp${tp}_pp${pp}_dp${dp}$(echo "$extra" | sed 's/--use-distributed-optimizer/_distopt/; s/--sequence-parallel/_sp/; s/ //g')"
    run "$name" $((tp * pp * dp)) --tensor-model-parallel-size "$tp" --pipeline-model-parallel-size "$pp" $extra
    cases+=("$name")
  done
done
run tp1_pp1_dp1_distopt 1 --use-distributed-optimizer
llama=(--group-query-attention --num-query-groups 2 --swiglu --ffn-hidden-size 160 --normalization RMSNorm
       --position-embedding-type rope --untie-embeddings-and-output-weights --disable-bias-linear)
run llama_tp2_pp2_dp2_sp_distopt 8 "${llama[@]}" --tp 2 --pp 2 --sequence-parallel --use-distributed-optimizer
run llama_tp1_pp1_dp1_bf16 1 "${llama[@]}" --bf16
cases+=(llama_tp2_pp2_dp2_sp_distopt llama_tp1_pp1_dp1_bf16)
/usr/bin/python3 "$here/check_memory.py" "$work" "${cases[@]}"
