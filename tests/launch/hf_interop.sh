#!/usr/bin/env bash
# --export-hf and --load-hf round trip across layouts: a tiny Llama (4 query
# heads in 2 key/value groups, so the query-head permutation is not the
# identity) trains 3 iterations and exports A; --load-hf A with no training
# step (--skip-train) in tp 2, and in dp 2 with the distributed optimizer,
# exports B and C: model.safetensors and config.json must be byte-identical
# to A's. The same in bf16 under pp 2, and for a tied GPT-2 under pp 2. Then: a checkpoint under --load wins
# over --load-hf (the requeue case), and one-line errors for a flag that
# contradicts config.json, a model no HF class has, and a DIR that holds
# something else. (That the exported weights mean what HF means is
# test_hf_reference's job.)
# Usage: hf_interop.sh <trident-train> <mpiexec>
set -uo pipefail
train=$1; mpiexec=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
status=0
fail() { echo "FAIL: $*"; status=1; }
llama=(--num-layers 2 --hidden-size 64 --num-attention-heads 4 --group-query-attention --num-query-groups 2
       --swiglu --ffn-hidden-size 96 --normalization RMSNorm --position-embedding-type rope
       --untie-embeddings-and-output-weights --disable-bias-linear --seq-length 32)
common=(--micro-batch-size 2 --global-batch-size 4 --data-path /usr/share/games/fortunes --log-interval 10)
evaluate_only=(--skip-train --split 90,10,0 --eval-iters 1)   # no optimizer step: the loaded weights are exported
run() { local log=$1; shift; "$@" > "$log" 2>&1 || { fail "exit $? from: $*"; tail -5 "$log"; }; }
same_export() {  # same_export A B what
  cmp -s "$1/model.safetensors" "$2/model.safetensors" && cmp -s "$1/config.json" "$2/config.json" \
    && echo "ok   $3: model.safetensors and config.json identical to $1's" || fail "$3: $2 differs from $1"
}

run a.log "$train" "${llama[@]}" "${common[@]}" --train-iters 3 --export-hf A
grep -q '"LlamaForCausalLM"' A/config.json && grep -q '"num_key_value_heads": 2' A/config.json \
  || fail "A/config.json: $(tr -d '\n ' < A/config.json)"
run b.log "$mpiexec" -n 2 --oversubscribe "$train" --load-hf A --tp 2 "${common[@]}" "${evaluate_only[@]}" --export-hf B
same_export A B "--load-hf A --tp 2 --export-hf B"
run c.log "$mpiexec" -n 2 --oversubscribe "$train" --load-hf A --dp 2 --use-distributed-optimizer "${common[@]}" \
  "${evaluate_only[@]}" --export-hf C
same_export A C "--load-hf A --dp 2 --use-distributed-optimizer"

run a16.log "$train" "${llama[@]}" "${common[@]}" --bf16 --train-iters 3 --export-hf A16
grep -q '"torch_dtype": "bfloat16"' A16/config.json && grep -q '"BF16"' A16/model.safetensors \
  || fail "--bf16 exported another dtype"
run b16.log "$mpiexec" -n 2 --oversubscribe "$train" --load-hf A16 --bf16 --pp 2 "${common[@]}" "${evaluate_only[@]}" \
  --export-hf B16
same_export A16 B16 "bf16, --load-hf A16 --pp 2"

# GPT-2 (tied: the last pipeline stage's copy of the token table must be loaded too, which the
# export does not show, so the validation loss of pp 2 must be that of one process).
gpt2=(--num-layers 2 --hidden-size 64 --num-attention-heads 4 --seq-length 32)
run g.log "$train" "${gpt2[@]}" "${common[@]}" --train-iters 3 --export-hf G
run g1.log "$train" --load-hf G "${common[@]}" "${evaluate_only[@]}" --export-hf G1
run g2.log "$mpiexec" -n 2 --oversubscribe "$train" --load-hf G --pp 2 "${common[@]}" "${evaluate_only[@]}" --export-hf G2
grep -q '"GPT2LMHeadModel"' G/config.json || fail "G/config.json: $(tr -d '\n ' < G/config.json)"
same_export G G2 "GPT-2, --load-hf G --pp 2"
loss() { grep -o 'lm loss value: [0-9.E+-]*' "$1" | awk '{print $4}'; }
[ -n "$(loss g1.log)" ] && [ "$(loss g1.log)" = "$(loss g2.log)" ] \
  && echo "ok   GPT-2 loaded in pp 2 evaluates as in one process: loss $(loss g2.log)" \
  || fail "GPT-2 validation loss: one process $(loss g1.log), pp 2 $(loss g2.log)"

# --rotary-base given with --load-hf but without the RoPE flag (config.json's type): config.json's base agrees, another
# is refused below.
"$train" --load-hf A --rotary-base 10000 "${common[@]}" "${evaluate_only[@]}" > rb.log 2>&1 \
  && echo "ok   --load-hf A --rotary-base 10000 (config.json's rope_theta) accepted" \
  || { fail "--load-hf A --rotary-base 10000"; tail -3 rb.log; }

# --export-hf . names the (empty) working directory: the export is renamed onto it, so it must resolve to its path.
mkdir D && (cd D && run ../d.log "$train" "${gpt2[@]}" "${common[@]}" --train-iters 1 --export-hf .)
grep -q '"GPT2LMHeadModel"' D/config.json && [ -s D/model.safetensors ] && [ ! -e D.tmp ] \
  && echo "ok   --export-hf . from inside an empty D: the export is D" || fail "--export-hf .: $(ls -a D)"

# The first start of a job script takes A; its requeue resumes the checkpoint and says that --load-hf is ignored.
for i in 1 2; do
  run r$i.log "$train" --load-hf A "${common[@]}" --train-iters $i --lr-decay-iters 2 --save ck --load ck
done
grep -q "starting at iteration 1 with a fresh optimizer" r1.log && grep -q -- "--load-hf A ignored" r2.log \
  && grep -q "checkpoint: loaded iteration 1" r2.log && echo "ok   a checkpoint under --load wins over --load-hf" \
  || fail "--load with --load-hf: $(grep -h 'load' r1.log r2.log | head -4)"

# One-line errors, exit 2, before anything is written.
refuse() {  # refuse <what the message must say> <flags...>
  local want=$1; shift
  "$train" "${common[@]}" --train-iters 1 "$@" > out.log 2> err.log; local rc=$?
  [ "$rc" -eq 2 ] && [ "$(wc -l < err.log)" -eq 1 ] && grep -q -- "$want" err.log \
    && echo "ok   refused: $(cut -c1-110 err.log)" || { fail "expected exit 2 and one line with '$want', got $rc:"; cat err.log; }
}
refuse "holds a model with --num-layers 2 in config.json, --num-layers 3 given" --load-hf A --num-layers 3
refuse "--rotary-base 10000 in config.json, --rotary-base 5000 given" --load-hf A --rotary-base 5000
refuse "HuggingFace has no model with RoPE, LayerNorm and a GELU MLP" --position-embedding-type rope --export-hf new
mkdir other && touch other/notes.txt
refuse "holds something other than a previous trident export" --export-hf other
refuse "holds no config.json" --load-hf other
[ -e new ] && fail "a refused run wrote its --export-hf directory"
exit $status
