#!/usr/bin/env bash
# trident-train's check of trident-plan (issue 15): at start the plan's
# prediction for the run's own layout (log line and the metrics file's start
# record), after the first log interval the measured ms/iter over it. The
# prediction's memory is trident-plan's for the same layout to the byte; its
# ms/iter the same model on the same machine (measured twice, so within 2x).
# Usage: plan_check.sh <trident-plan> <trident-train> <mpiexec>
set -uo pipefail
plan=$1; train=$2; mpiexec=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
status=0
fail() { echo "FAIL: $*"; status=1; }
model=(--num-layers 2 --hidden-size 64 --num-attention-heads 4 --seq-length 64 --global-batch-size 8)
layout=(--tp 1 --pp 2 --dp 1 --micro-batch-size 2)
threads=$(( $(nproc) / 2 > 0 ? $(nproc) / 2 : 1 ))  # what trident-plan --cluster local --gpus 2 measures with
"$mpiexec" -n 2 --oversubscribe "$train" "${model[@]}" "${layout[@]}" --threads "$threads" --train-iters 7 --log-interval 4 \
  --metrics-file "$work/m.jsonl" > "$work/log" 2>&1 || { fail "trident-train"; tail -5 "$work/log"; }
grep -q "plan for this layout (trident-plan's model): .* ms/iter" "$work/log" || fail "no prediction logged at start"
grep -q "plan check: measured .* ms/iter over iterations 2..4, predicted" "$work/log" || fail "no plan check logged"
"$plan" --cluster local --gpus 2 "${model[@]}" "${layout[@]}" --recompute-granularity none \
  --use-distributed-optimizer=false --sequence-parallel=false --num-virtual-stages-per-pipeline-rank 1 --json \
  > "$work/plan" 2> "$work/err" || { fail "trident-plan"; cat "$work/err"; }
/usr/bin/python3 - "$work/m.jsonl" "$work/plan" <<'PY' || fail "the metrics file's plan records"
import json, sys
records = [json.loads(line) for line in open(sys.argv[1])]
planned = json.loads(open(sys.argv[2]).readline())
start = records[0]["plan"]
assert start["memory_bytes"] == planned["memory_bytes"], (start["memory_bytes"], planned["memory_bytes"])
assert 0.5 < start["ms_per_iter"] / planned["ms_per_iter"] < 2, (start["ms_per_iter"], planned["ms_per_iter"])
its = {r["iteration"]: r for r in records if "ms_per_iter" in r}
checks = [r for r in its.values() if "plan_check" in r]
assert [r["iteration"] for r in checks] == [4], "one check, at the first log interval"
c = checks[0]["plan_check"]
measured = sum(its[i]["ms_per_iter"] for i in (2, 3, 4)) / 3  # the run's first iteration left out
assert abs(c["measured_ms_per_iter"] - measured) < 1e-6 * measured, (c, measured)
assert c["predicted_ms_per_iter"] == start["ms_per_iter"], c
assert abs(c["measured_over_predicted"] - measured / start["ms_per_iter"]) < 1e-9, c
print(f"ok   predicted {start['ms_per_iter']:.1f} ms/iter (trident-plan: {planned['ms_per_iter']:.1f}), "
      f"{start['memory_bytes']} bytes (trident-plan: the same); measured {measured:.1f}: "
      f"{c['measured_over_predicted']:.2f} x")
PY
exit $status
