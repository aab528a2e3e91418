#!/usr/bin/env bash
# trident-plan (issue 15): ranks layouts and prints a command trident-train
# accepts; fixed flags restrict the search; bad input is one line and exit 2.
# Usage: plan.sh <trident-plan> <trident-train>
set -uo pipefail
plan=$1; train=$2
here=$(cd "$(dirname "$0")" && pwd)
configs=$here/../../models/gpt/configs
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
status=0
fail() { echo "FAIL: $*"; status=1; }
# Llama-3-8B on 64 H100s: a table, and the best layout's command.
"$plan" --config "$configs/llama3-8b.json" --global-batch-size 512 --cluster H100-80GB --gpus 64 --explain \
  > "$work/out" 2> "$work/err" || { fail "Llama-3-8B on 64 H100s"; cat "$work/err"; }
grep -q "^best: ./launch/trident run -n 64 -- " "$work/out" || fail "no best command"
grep -q "time per iteration" "$work/out" || fail "--explain printed no breakdown"
# trident-train accepts the command's flags for a world of 64 (--print-schedule validates without running).
best=$(sed -n 's/^best: .*run -n 64 -- //p' "$work/out")
# shellcheck disable=SC2086  # the flags are words
OMPI_COMM_WORLD_RANK=0 "$train" $best --print-schedule > "$work/schedule" 2> "$work/err" \
  || { fail "trident-train refuses the planned flags: $best"; cat "$work/err"; }
head -20 "$work/out"
# Fixed choices are not searched.
"$plan" --config "$configs/llama3-8b.json" --global-batch-size 512 --gpus 64 --tp 2 --pp 4 --top 50 > "$work/fixed" \
  || fail "fixed --tp 2 --pp 4"
awk '$1 ~ /^[0-9]+$/ {rows++} $1 ~ /^[0-9]+$/ && ($2 != 2 || $3 != 4) {bad = 1} END {exit bad || rows == 0}' \
  "$work/fixed" || fail "no rows, or a row other than tp 2, pp 4"
# This machine, measured (GEMM, copy, an MPI all-reduce among 2 ranks): the memory model is the CPU's.
"$plan" --cluster local --gpus 2 --num-layers 2 --hidden-size 64 --num-attention-heads 4 --seq-length 32 \
  --global-batch-size 4 --json --top 100 > "$work/local" 2> "$work/err" || { fail "--cluster local"; cat "$work/err"; }
/usr/bin/python3 - "$work/local" <<'PY' || fail "--cluster local: unexpected layouts"
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
degrees = {(r["tp"], r["pp"], r["dp"]) for r in rows}
assert degrees == {(1, 1, 2), (1, 2, 1), (2, 1, 1)}, degrees
assert all(r["ms_per_iter"] > 0 and r["memory_bytes"] > 0 for r in rows)
print(f"ok   --cluster local: {len(rows)} layouts of 2 ranks, fastest {rows[0]['flags']} at {rows[0]['ms_per_iter']:.2f} ms")
PY
# Bad input: one line naming the problem, exit 2.
expect_error() {  # expect_error <text> <flags...>
  local want=$1; shift
  "$plan" "$@" > "$work/out" 2> "$work/err"; local rc=$?
  if [ "$rc" -ne 2 ] || [ "$(wc -l < "$work/err")" -ne 1 ] || ! grep -qF -- "$want" "$work/err"; then
    fail "[$*]: exit $rc, expected one line naming '$want'"; sed 's/^/    /' "$work/err"
  else
    echo "ok   $(cat "$work/err")"
  fi
}
expect_error "no layout fits" --config "$configs/llama3-8b.json" --global-batch-size 8 --gpus 1 --cluster A100-80GB
expect_error "no layout of 8 devices splits" --num-layers 3 --num-attention-heads 3 --hidden-size 96 \
  --global-batch-size 15 --gpus 8
expect_error "unknown cluster preset 'V100'" --cluster V100 --gpus 8
expect_error "--gpus 12 is not a whole number of nodes" --gpus 12 --cluster A100-80GB
expect_error "leave --pipeline-layers-per-stage out" --num-layers 4 --hidden-size 64 --num-attention-heads 4 \
  --global-batch-size 8 --gpus 8 --pp 2 --pipeline-layers-per-stage 1 3
expect_error "leave --pipeline-schedule out" --cluster local --num-layers 4 --hidden-size 64 --num-attention-heads 4 \
  --global-batch-size 8 --gpus 2 --pp 2 --pipeline-schedule gpipe
expect_error "--cluster custom needs --peak-tflops, --device-memory-gb and --gpus-per-node" --cluster custom \
  --peak-tflops 100 --device-memory-gb 40 --gpus 8
exit $status
