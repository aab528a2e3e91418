#!/usr/bin/env bash
# Sequence parallelism end to end (--sequence-parallel): 20 iterations of a
# small GPT on 4 ranks in (tp, dp) = (2, 2) and (tp, pp) = (2, 2), each with
# and without it. The run without SP is the oracle: losses at every
# iteration, the validation losses and the final parameters must agree
# within 1e-5 relative (compare_runs.py). The pipeline run with SP also
# recomputes whole blocks, which must change nothing either.
# Usage: sequence_parallel.sh <trident-train> <mpiexec>
set -euo pipefail
train=$1; mpiexec=$2
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Micro-batches of 2 sequences of 32 tokens: 16 rows a TP rank under SP,
# cut across sequences (Note [sequence-parallel rows]).
flags=(--num-layers 2 --hidden-size 32 --num-attention-heads 4 --seq-length 32 --micro-batch-size 2
       --global-batch-size 8 --train-iters 20 --lr 1e-3 --lr-warmup-iters 5 --seed 13 --log-interval 20
       --threads 1 --data-path /usr/share/games/fortunes --split 95,5,0 --eval-interval 10 --eval-iters 2
       --ddp-bucket-size 4000)
run() {  # run <name> <flags...>: 4 ranks, outputs <name>.{jsonl,safetensors,log}
  local name=$1; shift
  if ! "$mpiexec" -n 4 --oversubscribe "$train" "${flags[@]}" "$@" --metrics-file "$work/$name.jsonl" \
       --export-safetensors "$work/$name.safetensors" > "$work/$name.log" 2>&1; then
    echo "FAIL $name: trident-train exited non-zero"; cat "$work/$name.log"; return 1
  fi
}
compare_evals() {  # compare_evals <oracle.jsonl> <run.jsonl> <label>
  /usr/bin/python3 - "$@" <<'PY'
import json, sys
a_path, b_path, what = sys.argv[1:4]
def evals(p):
    return {r["iteration"]: r["loss"] for r in map(json.loads, open(p)) if r.get("event") == "eval"}
a, b = evals(a_path), evals(b_path)
if not a or a.keys() != b.keys():
    sys.exit(f"FAIL {what}: evaluations at {sorted(a)} vs {sorted(b)}")
worst = max(abs(a[i] - b[i]) / abs(a[i]) for i in a)
print(f"{'ok  ' if worst <= 1e-5 else 'FAIL'} {what}: validation losses at {sorted(a)}, worst error {worst:.2e}")
sys.exit(0 if worst <= 1e-5 else 1)
PY
}
status=0
for layout in "dp:--tp 2 --dp 2" "pp:--tp 2 --pp 2"; do
  name=${layout%%:*}; set -- ${layout#*:}
  extra=(); [ "$name" = pp ] && extra=(--recompute-granularity full)
  label="$* --sequence-parallel ${extra[*]}"
  run "$name" "$@" || { status=1; continue; }
  run "$name-sp" "$@" --sequence-parallel "${extra[@]}" || { status=1; continue; }
  /usr/bin/python3 "$here/compare_runs.py" "$work/$name.jsonl" "$work/$name-sp.jsonl" "$work/$name.safetensors" \
    "$work/$name-sp.safetensors" "$label" || status=1
  compare_evals "$work/$name.jsonl" "$work/$name-sp.jsonl" "$label" || status=1
done
exit $status
