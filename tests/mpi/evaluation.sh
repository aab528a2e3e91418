#!/usr/bin/env bash
# Evaluation on held-out data (--eval-interval, --eval-iters, --skip-train):
#  1. the validation loss in (tp, pp, dp) = (2, 2, 2), (1, 2, 4) and (4, 1, 2)
#     equals the single process's within 1e-5 relative (fp32);
#  2. --skip-train on a checkpoint gives the figure the run itself logged at
#     that iteration (exactly in the same layout, to 1e-5 in another);
#  3. evaluating does not touch the training state: the final weights equal,
#     bit for bit, those of the same run without evaluation, and a run
#     resumed from its checkpoint ends with the same weights and validation loss.
# Usage: evaluation.sh <trident-train> <mpiexec>
set -euo pipefail
train=$1; mpiexec=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
flags=(--num-layers 4 --hidden-size 32 --num-attention-heads 4 --seq-length 32 --micro-batch-size 2
       --global-batch-size 8 --train-iters 20 --lr 1e-3 --seed 11 --log-interval 100 --threads 1
       --data-path /usr/share/games/fortunes --split 95,5,0 --eval-iters 3)
run() {  # run NAME RANKS FLAGS...: trident-train's output in NAME.log, failing loudly
  local name=$1 n=$2; shift 2
  local launcher=()
  [ "$n" -gt 1 ] && launcher=("$mpiexec" -n "$n" --oversubscribe)
  if ! "${launcher[@]}" "$train" "${flags[@]}" "$@" > "$work/$name.log" 2>&1; then
    echo "FAIL $name: trident-train exited non-zero"; cat "$work/$name.log"; exit 1
  fi
}
# (eval records of A) vs (of B): same iterations, losses within rtol.
compare_evals() {
  /usr/bin/python3 - "$@" <<'PY'
import json, sys
a_path, b_path, rtol, what = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
def evals(p):
    return {r["iteration"]: r["loss"] for r in map(json.loads, open(p)) if r.get("event") == "eval"}
a, b = evals(a_path), evals(b_path)
common = sorted(set(a) & set(b))
if not common:
    sys.exit(f"FAIL {what}: no common evaluation ({sorted(a)} vs {sorted(b)})")
worst = max(abs(a[i] - b[i]) / abs(a[i]) for i in common)
if worst > rtol:
    sys.exit(f"FAIL {what}: validation loss differs by {worst:.3g} relative (> {rtol}): "
             + ", ".join(f"it {i}: {a[i]!r} vs {b[i]!r}" for i in common))
print(f"ok   {what}: validation loss at iterations {common} within {worst:.2g} relative (<= {rtol})")
PY
}

run base 1 --eval-interval 10 --save "$work/ck" --save-interval 10 --metrics-file "$work/base.jsonl" \
  --export-safetensors "$work/base.safetensors"
[ "$(grep -c '"event":"eval"' "$work/base.jsonl")" -eq 2 ] || { echo "FAIL: expected evaluations at 10 and 20"; exit 1; }
grep -q "validation loss at iteration 20 | lm loss value: .* | lm loss PPL: .* |" "$work/base.log" \
  || { echo "FAIL: no Megatron validation line"; cat "$work/base.log"; exit 1; }

# 1. Layouts against the single process.
for layout in "2 2 2" "1 2 4" "4 1 2"; do
  set -- $layout
  run "l$1$2$3" 8 --tp "$1" --pp "$2" --dp "$3" --eval-interval 10 --metrics-file "$work/l$1$2$3.jsonl"
  compare_evals "$work/base.jsonl" "$work/l$1$2$3.jsonl" 1e-5 "layout (tp, pp, dp) = ($1, $2, $3)"
done

# 2. --skip-train on the checkpoint of iteration 10: the same layout, then another.
run skip 1 --load "$work/ck" --load-iteration 10 --skip-train --metrics-file "$work/skip.jsonl"
compare_evals "$work/base.jsonl" "$work/skip.jsonl" 0 "--skip-train at iteration 10, one process"
run skip8 8 --tp 2 --pp 2 --dp 2 --load "$work/ck" --load-iteration 10 --skip-train --metrics-file "$work/skip8.jsonl"
compare_evals "$work/base.jsonl" "$work/skip8.jsonl" 1e-5 "--skip-train at iteration 10, (tp, pp, dp) = (2, 2, 2)"

# 3. The training state is untouched: bitwise the same weights without evaluation, and after a resume.
run plain 1 --export-safetensors "$work/plain.safetensors"
cmp -s "$work/base.safetensors" "$work/plain.safetensors" \
  || { echo "FAIL: the weights after 20 iterations differ with and without evaluation every 10"; exit 1; }
run resumed 1 --eval-interval 10 --load "$work/ck" --load-iteration 10 --metrics-file "$work/resumed.jsonl" \
  --export-safetensors "$work/resumed.safetensors"
cmp -s "$work/base.safetensors" "$work/resumed.safetensors" \
  || { echo "FAIL: the run resumed at iteration 10 ends with other weights"; exit 1; }
compare_evals "$work/base.jsonl" "$work/resumed.jsonl" 0 "resumed at iteration 10"
echo "ok   evaluation: weights bitwise equal with and without evaluation, and after a resume"
