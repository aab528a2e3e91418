#!/usr/bin/env bash
# launch/plot_metrics.py draws a metrics file with evaluations, a rollback
# and skipped steps into a PNG (checked by its signature and size). Through
# --print-series (what would be drawn, as JSON): it draws only the last
# timeline of a file that a resumed run appended to, both for a real resume
# that redoes iterations and for start records, and labels the loss with the
# unit of the last start record. It refuses a file that is not a metrics
# file, a missing file, a file without iterations, an unwritable output and a
# wrong command line, each with one line on stderr.
# Usage: plot.sh <trident-train>
set -uo pipefail
train=$1
here=$(cd "$(dirname "$0")" && pwd)
plot=$here/../../launch/plot_metrics.py
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
/usr/bin/python3 -c "import matplotlib" 2> /dev/null || { echo "FAIL: Debian's python3-matplotlib is missing"; exit 1; }
tiny=(--min-lr 1e-4 --threads 1 --num-layers 1 --hidden-size 32 --num-attention-heads 2 --seq-length 16 --micro-batch-size 2
      --global-batch-size 4 --split 95,5,0 --eval-interval 10 --eval-iters 2 --data-path /usr/share/games/fortunes
      --log-interval 100)

# expect_series <what> <metrics file> <Python condition on s, the --print-series object>
expect_series() {
  /usr/bin/python3 "$plot" --print-series "$2" > "$work/series" 2> "$work/err" && [ "$(wc -l < "$work/series")" -eq 1 ] \
    && /usr/bin/python3 -c 'import json, sys; s = json.load(open(sys.argv[1])); sys.exit(not eval("(" + sys.argv[2] + ")"))' \
         "$work/series" "$3" \
    || { echo "FAIL: $1: want $3, got:"; cat "$work/series" "$work/err"; exit 1; }
  echo "ok   $1: $(cat "$work/series")"
}

# expect_error <exit status> <text the one stderr line holds> <plot_metrics.py arguments...>
expect_error() {
  local want_rc=$1 want=$2 rc; shift 2
  /usr/bin/python3 "$plot" "$@" > /dev/null 2> "$work/err"; rc=$?
  [ "$rc" -eq "$want_rc" ] && [ "$(wc -l < "$work/err")" -eq 1 ] && grep -qF -- "$want" "$work/err" \
    || { echo "FAIL: plot_metrics.py $*: exit $rc, want $want_rc and one stderr line holding '$want':"; cat "$work/err"
         exit 1; }
  echo "ok   [$*] -> exit $rc: $(cat "$work/err")"
}

# A run with evaluations, a rollback (nan at 25 -> checkpoint 20) and a skipped step, drawn.
"$train" "${tiny[@]}" --train-iters 40 --save "$work/ck" --save-interval 10 --inject-fault nan@25 \
  --metrics-file "$work/m.jsonl" > "$work/log" 2>&1 || { echo "FAIL: training"; cat "$work/log"; exit 1; }
grep -q '"event":"rollback"' "$work/m.jsonl" || { echo "FAIL: no rollback to draw"; exit 1; }
grep -q '"event":"eval"' "$work/m.jsonl" || { echo "FAIL: no evaluation to draw"; exit 1; }
/usr/bin/python3 "$plot" "$work/m.jsonl" "$work/m.png" || exit 1
[ "$(head -c 8 "$work/m.png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] && [ "$(wc -c < "$work/m.png")" -gt 10000 ] \
  || { echo "FAIL: not a PNG"; exit 1; }
echo "ok   plot: $(wc -c < "$work/m.png") byte PNG with evaluations, a rollback and a skipped step"
# The rollback's iterations 21..25 are abandoned (grey), the ones that redo them drawn.
expect_series "rollback" "$work/m.jsonl" \
  's["train"] == list(range(1, 41)) and s["abandoned"] == list(range(21, 26)) and s["eval"] == [10, 20, 30, 40]'

# A resume that redoes iterations: run to 20 (checkpoints 10 and 20), resume from 10 to 25 into the same file.
"$train" "${tiny[@]}" --train-iters 20 --save "$work/ck2" --save-interval 10 --metrics-file "$work/r.jsonl" \
  > "$work/log" 2>&1 || { echo "FAIL: training to 20"; cat "$work/log"; exit 1; }
"$train" "${tiny[@]}" --train-iters 25 --load "$work/ck2" --load-iteration 10 --metrics-file "$work/r.jsonl" \
  > "$work/log" 2>&1 || { echo "FAIL: resuming from 10"; cat "$work/log"; exit 1; }
[ "$(grep -c '"iteration":15,' "$work/r.jsonl")" -eq 2 ] || { echo "FAIL: the resume did not redo iteration 15"; exit 1; }
# Without start records (a trainer before them) the resume is seen at iteration 11 <= 20; with them, at the record.
expect_series "resume from 10 after a run to 20" "$work/r.jsonl" \
  's["train"] == list(range(1, 26)) and s["abandoned"] == [] and s["eval"] == [10, 20, 25]
   and s["loss_unit"] in (None, "nats/byte")'

# Start records: the second run starts after 2, while the first went on to 5; the unit is the last one's
# (a byte run resumed as a token run only here: it tells the two records apart).
cat > "$work/s.jsonl" << 'EOF'
{"event":"start","iteration":0,"loss_unit":"nats/byte"}
{"iteration":1,"loss":5.0}
{"iteration":2,"loss":4.9}
{"event":"eval","iteration":2,"loss":4.8,"ppl":121.5}
{"iteration":3,"loss":4.8}
{"iteration":4,"loss":4.7}
{"event":"eval","iteration":4,"loss":4.6,"ppl":99.5}
{"iteration":5,"loss":4.6}
{"event":"start","iteration":2,"loss_unit":"nats/token"}
EOF
# Read while the resume has written nothing else: only the start record says 3..5 are gone.
expect_series "start record, resume not yet past it" "$work/s.jsonl" \
  's["train"] == [1, 2] and s["eval"] == [2] and s["loss_unit"] == "nats/token" and s["loss_label"] == "loss (nats/token)"'
cat >> "$work/s.jsonl" << 'EOF'
{"iteration":3,"loss":4.75}
{"iteration":4,"loss":4.65}
{"event":"eval","iteration":4,"loss":4.55,"ppl":94.6}
EOF
expect_series "start records" "$work/s.jsonl" \
  's["train"] == [1, 2, 3, 4] and s["eval"] == [2, 4] and s["loss_unit"] == "nats/token"'
grep -v '"start"' "$work/s.jsonl" > "$work/nostart.jsonl"
expect_series "the same without start records" "$work/nostart.jsonl" \
  's["train"] == [1, 2, 3, 4] and s["eval"] == [2, 4] and s["loss_unit"] is None
   and s["loss_label"] == "loss (nats per token)"'

# Each refusal: one line on stderr, no traceback.
echo "not json" > "$work/bad.jsonl"
expect_error 1 "is not JSON" "$work/bad.jsonl" "$work/bad.png"
expect_error 1 "cannot read $work/missing.jsonl: No such file or directory" "$work/missing.jsonl" "$work/x.png"
head -1 "$work/s.jsonl" > "$work/start_only.jsonl"
expect_error 1 "holds no iteration records" "$work/start_only.jsonl" "$work/x.png"
expect_error 1 "cannot write $work/no/such/dir/x.png" "$work/s.jsonl" "$work/no/such/dir/x.png"
expect_error 2 "usage:" "$work/m.jsonl"
