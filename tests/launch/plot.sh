#!/usr/bin/env bash
# launch/plot_metrics.py draws a metrics file with evaluations, a rollback
# and skipped steps into a PNG (checked by its signature and size), and refuses a file
# that is not a metrics file with one line.
# Usage: plot.sh <trident-train>
set -uo pipefail
train=$1
here=$(cd "$(dirname "$0")" && pwd)
plot=$here/../../launch/plot_metrics.py
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
/usr/bin/python3 -c "import matplotlib" 2> /dev/null || { echo "FAIL: Debian's python3-matplotlib is missing"; exit 1; }
"$train" --num-layers 1 --hidden-size 32 --num-attention-heads 2 --seq-length 16 --micro-batch-size 2 \
  --global-batch-size 4 --train-iters 40 --save "$work/ck" --save-interval 10 --inject-fault nan@25 \
  --split 95,5,0 --eval-interval 10 --eval-iters 2 --data-path /usr/share/games/fortunes --log-interval 100 --metrics-file "$work/m.jsonl" > "$work/log" 2>&1 \
  || { echo "FAIL: training"; cat "$work/log"; exit 1; }
grep -q '"event":"rollback"' "$work/m.jsonl" || { echo "FAIL: no rollback to draw"; exit 1; }
grep -q '"event":"eval"' "$work/m.jsonl" || { echo "FAIL: no evaluation to draw"; exit 1; }
/usr/bin/python3 "$plot" "$work/m.jsonl" "$work/m.png" || exit 1
[ "$(head -c 8 "$work/m.png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] && [ "$(wc -c < "$work/m.png")" -gt 10000 ] \
  || { echo "FAIL: not a PNG"; exit 1; }
echo "not json" > "$work/bad.jsonl"
/usr/bin/python3 "$plot" "$work/bad.jsonl" "$work/bad.png" 2> "$work/err"; rc=$?
[ "$rc" -ne 0 ] && [ "$(wc -l < "$work/err")" -eq 1 ] && grep -q "is not JSON" "$work/err" \
  || { echo "FAIL: a bad file: exit $rc"; cat "$work/err"; exit 1; }
echo "ok   plot: $(wc -c < "$work/m.png") byte PNG with evaluations, a rollback and a skipped step; a bad file -> $(cat "$work/err")"
