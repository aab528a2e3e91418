#!/usr/bin/env bash
# --trace: a Chrome trace-event file that parses as JSON, with a named
# track for every rank holding each traced iteration's forward and
# backward spans, pipeline waits, the all-reduce, the optimizer and the
# checkpoint save, well nested in time.
# Usage: trace.sh <trident-train> <mpiexec>
set -euo pipefail
train=$1; mpiexec=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$mpiexec" -n 4 --oversubscribe "$train" --num-layers 2 --hidden-size 32 --num-attention-heads 4 --seq-length 32 \
  --micro-batch-size 2 --global-batch-size 8 --train-iters 5 --pp 2 --dp 2 --trace "$work/trace.json" \
  --trace-iterations 3 --save "$work/ck" --data-path /usr/share/games/fortunes > "$work/log" 2>&1 \
  || { cat "$work/log"; exit 1; }
/usr/bin/python3 - "$work/trace.json" <<'PY'
import collections, json, sys
trace = json.load(open(sys.argv[1]))
events = trace["traceEvents"]
names = {e["pid"]: e["args"]["name"] for e in events if e["ph"] == "M" and e["name"] == "process_name"}
assert sorted(names) == [0, 1, 2, 3], names
spans = collections.defaultdict(list)
for e in events:
    if e["ph"] == "X":
        assert e["dur"] >= 0 and e["ts"] >= 0, e
        spans[e["pid"]].append(e)
for pid in range(4):
    cats = collections.Counter(e["cat"] for e in spans[pid])
    # 2 micro-batches per DP rank, 3 traced iterations: 6 forwards and 6 backwards per rank.
    assert cats["forward"] == 6 and cats["backward"] == 6, (pid, cats)
    assert cats["iteration"] == 3 and cats["optimizer"] == 3 and cats["all-reduce"] == 3, (pid, cats)
    assert cats["pipeline wait"] > 0 and cats["pipeline send"] > 0 and cats["checkpoint"] == 1, (pid, cats)
    for it in (e for e in spans[pid] if e["cat"] == "iteration"):
        inside = [e for e in spans[pid] if e["cat"] in ("forward", "backward") and it["ts"] <= e["ts"] <= it["ts"] + it["dur"]]
        assert len(inside) == 4, (pid, it["name"], len(inside))
print(f"ok   trace: {len(events)} events, tracks {sorted(names.values())}")
PY
