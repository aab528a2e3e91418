#!/usr/bin/env bash
# trident-generate from a checkpoint: deterministic for a seed, the same
# text in every layout (fp32), a different text for another seed, and a
# one-line error for a missing checkpoint; and the same for a Llama-family
# checkpoint (RoPE, RMSNorm, SwiGLU, 2 key/value groups, untied output).
# Usage: generate.sh <trident-train> <trident-generate> <mpiexec>
set -uo pipefail
train=$1; generate=$2; mpiexec=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
status=0
"$mpiexec" -n 4 --oversubscribe "$train" --num-layers 4 --hidden-size 64 --num-attention-heads 4 --seq-length 64 \
  --micro-batch-size 4 --global-batch-size 16 --train-iters 60 --lr 3e-3 --tp 2 --pp 2 \
  --data-path /usr/share/games/fortunes --log-interval 100 --save "$work/ck" > "$work/train.log" 2>&1 \
  || { echo "FAIL: training"; cat "$work/train.log"; exit 1; }
gen() { local n=$1; shift; "$mpiexec" -n "$n" --oversubscribe "$generate" --load "$work/ck" --max-tokens 80 --prompt "Q: " "$@" 2> "$work/gen.err"; }
gen 1 > "$work/a.txt" && gen 1 > "$work/b.txt" || status=1
cmp -s "$work/a.txt" "$work/b.txt" || { echo "FAIL: same seed, different text"; status=1; }
for layout in "--tp 2" "--pp 2" "--tp 2 --pp 2" "--pp 4"; do
  n=1; for x in $layout; do [[ $x =~ ^[0-9]+$ ]] && n=$((n * x)); done
  gen "$n" $layout > "$work/l.txt" || { echo "FAIL: $layout"; cat "$work/gen.err"; status=1; continue; }
  cmp -s "$work/a.txt" "$work/l.txt" && echo "ok   $layout: the same $(wc -c < "$work/l.txt") bytes" \
    || { echo "FAIL: $layout generates other text"; status=1; }
done
gen 1 --seed 99 > "$work/c.txt"
cmp -s "$work/a.txt" "$work/c.txt" && { echo "FAIL: another seed, the same text"; status=1; }
[ "$(head -c 3 "$work/a.txt")" = "Q: " ] && [ "$(wc -c < "$work/a.txt")" -eq 84 ] \
  || { echo "FAIL: expected the prompt and 80 bytes"; status=1; }
"$generate" --load "$work/none" > /dev/null 2> "$work/err"; rc=$?
[ "$rc" -eq 2 ] && [ "$(wc -l < "$work/err")" -eq 1 ] && grep -q "is not a directory" "$work/err" \
  || { echo "FAIL: a missing checkpoint: exit $rc"; cat "$work/err"; status=1; }
# A Llama trained in (2,2): sampled alike in every layout, tp 2 splitting its 2 key/value groups.
"$mpiexec" -n 4 --oversubscribe "$train" --num-layers 4 --hidden-size 64 --num-attention-heads 4 --seq-length 64 \
  --group-query-attention --num-query-groups 2 --swiglu --ffn-hidden-size 160 --normalization RMSNorm \
  --position-embedding-type rope --untie-embeddings-and-output-weights --disable-bias-linear \
  --micro-batch-size 4 --global-batch-size 16 --train-iters 60 --lr 3e-3 --tp 2 --pp 2 \
  --data-path /usr/share/games/fortunes --log-interval 100 --save "$work/ck_llama" > "$work/train.log" 2>&1 \
  || { echo "FAIL: training the Llama"; cat "$work/train.log"; exit 1; }
genl() { local n=$1; shift; "$mpiexec" -n "$n" --oversubscribe "$generate" --load "$work/ck_llama" --max-tokens 80 --prompt "Q: " "$@" 2> "$work/gen.err"; }
genl 1 > "$work/la.txt" || { echo "FAIL: Llama, one process"; cat "$work/gen.err"; status=1; }
grep -q "Llama: 4 layers" "$work/gen.err" || { echo "FAIL: the Llama checkpoint was not sampled as a Llama"; status=1; }
cmp -s "$work/a.txt" "$work/la.txt" && { echo "FAIL: the Llama generates the GPT's text"; status=1; }
for layout in "--tp 2" "--tp 2 --pp 2" "--pp 4"; do
  n=1; for x in $layout; do [[ $x =~ ^[0-9]+$ ]] && n=$((n * x)); done
  genl "$n" $layout > "$work/l.txt" || { echo "FAIL: Llama $layout"; cat "$work/gen.err"; status=1; continue; }
  cmp -s "$work/la.txt" "$work/l.txt" && echo "ok   Llama $layout: the same $(wc -c < "$work/l.txt") bytes" \
    || { echo "FAIL: Llama $layout generates other text"; status=1; }
done
[ $status -eq 0 ] && echo "ok   deterministic for a seed, other seed other text, bad --load one line: $(head -c 60 "$work/a.txt" | tr '\n' ' ')"
exit $status
