#!/usr/bin/env bash
# A checkpoint written before issue 15 (fixtures/before_issue_15, by commit
# 5f4f9db) still loads: resuming it gives the loss that commit gave, to the
# last digit the metrics file keeps, and trident-generate samples from it.
# Usage: old_format.sh <trident-train> <trident-generate>
set -euo pipefail
train=$1; generate=$2
fixture=$(cd "$(dirname "$0")" && pwd)/fixtures/before_issue_15
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$fixture/ckpt" "$work/ckpt"  # a resume may write beside it: never into the source tree
"$train" --num-layers 1 --hidden-size 16 --num-attention-heads 2 --seq-length 8 --micro-batch-size 2 \
  --global-batch-size 4 --lr 3e-3 --bf16 --threads 1 --data-path "$fixture/text.txt" --log-interval 1 --seed 5 \
  --train-iters 3 --load "$work/ckpt" --metrics-file "$work/m.jsonl" > "$work/log" 2>&1 \
  || { echo "FAIL: loading the old checkpoint"; cat "$work/log"; exit 1; }
grep -q "checkpoint: loaded iteration 2 from" "$work/log" || { echo "FAIL: no load line"; cat "$work/log"; exit 1; }
/usr/bin/python3 - "$work/m.jsonl" "$(cat "$fixture/expected_loss")" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
got, want = rows[-1]["loss"], float(sys.argv[2])
if rows[-1]["iteration"] != 3 or got != want:
    sys.exit(f"FAIL: iteration {rows[-1]['iteration']} loss {got!r}, the checkpoint's own code gave {want!r}")
print(f"ok   old checkpoint: resumed to iteration 3 with loss {got!r}, as 5f4f9db did")
PY
"$generate" --load "$work/ckpt" --max-tokens 20 --prompt "Q: " > "$work/text" 2> "$work/gen.log" \
  || { echo "FAIL: trident-generate on the old checkpoint"; cat "$work/gen.log"; exit 1; }
[ "$(wc -c < "$work/text")" -ge 20 ] || { echo "FAIL: trident-generate wrote $(wc -c < "$work/text") bytes"; exit 1; }
echo "ok   old checkpoint: trident-generate sampled $(wc -c < "$work/text") bytes"
