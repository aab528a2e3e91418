#!/usr/bin/env bash
# Resume remembers the run (--load):
#  1. a bf16 run with its own batch sizes, LR schedule and seed, resumed with
#     only --load, --train-iters and a layout, continues as it was: in the
#     same layout the loss curve is bitwise the uninterrupted run's, in
#     another within bf16's layout tolerance; the log lists what came from
#     the checkpoint;
#  2. model flags that disagree are one error naming every difference;
#  3. a changed LR schedule is an error unless --override-opt-param-scheduler
#     or --use-checkpoint-opt-param-scheduler says which wins;
#  4. consumed_samples carries on when the global batch changes.
# Usage: resume_remembers.sh <trident-train> <mpiexec>
set -uo pipefail
train=$1; mpiexec=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
status=0
run() {  # run NAME RANKS FLAGS...
  local name=$1 n=$2; shift 2
  "$mpiexec" -n "$n" --oversubscribe "$train" --log-interval 1 --threads 1 --metrics-file "$work/$name.jsonl" "$@" \
    > "$work/$name.log" 2>&1
}
run straight 2 --pp 2 --bf16 --num-layers 2 --hidden-size 64 --num-attention-heads 4 --seq-length 32 \
  --micro-batch-size 2 --global-batch-size 16 --lr 3e-3 --min-lr 3e-4 --lr-warmup-iters 5 --lr-decay-iters 20 \
  --lr-decay-style linear --seed 9 --weight-decay 0.05 --data-path /usr/share/games/fortunes \
  --make-vocab-size-divisible-by 64 --train-iters 20 --save "$work/ck" --save-interval 10 \
  || { echo "FAIL: the straight run"; cat "$work/straight.log"; exit 1; }
run same 2 --pp 2 --load "$work/ck" --load-iteration 10 --train-iters 20 \
  || { echo "FAIL: resume in the same layout"; cat "$work/same.log"; status=1; }
run other 2 --tp 2 --load "$work/ck" --load-iteration 10 --train-iters 20 \
  || { echo "FAIL: resume as tp 2"; cat "$work/other.log"; status=1; }
# (in key order; --make-vocab-size-divisible-by is in the saved flags, not the model object)
grep -qE "resume: from the checkpoint: (.*, )?--bf16, (.*, )?--global-batch-size 16, (.*, )?--lr 0.003, (.*, )?--make-vocab-size-divisible-by 64(,|$)" "$work/same.log" \
  && echo "ok   the log lists what came from the checkpoint: $(grep -o 'resume: from the checkpoint: .*' "$work/same.log" | cut -c1-160)..." \
  || { echo "FAIL: the log does not say what came from the checkpoint"; grep resume "$work/same.log"; status=1; }
/usr/bin/python3 - "$work" <<'PY' || status=1
import json, sys
w = sys.argv[1]
rows = lambda n: {r["iteration"]: r for r in map(json.loads, open(f"{w}/{n}.jsonl")) if "event" not in r}
straight, same, other = rows("straight"), rows("same"), rows("other")
assert sorted(same) == list(range(11, 21)) and sorted(other) == list(range(11, 21)), (sorted(same), sorted(other))
for it in range(11, 21):
    for key in ("loss", "lr", "consumed_samples"):
        assert same[it][key] == straight[it][key], (it, key, same[it][key], straight[it][key])
worst = max(abs(other[i]["loss"] - straight[i]["loss"]) / straight[i]["loss"] for i in range(11, 21))
assert worst <= 1e-4, f"tp 2 differs by {worst:.2g} relative"
assert all(other[i]["lr"] == straight[i]["lr"] for i in range(11, 21))
print(f"ok   resumed with --load and --train-iters only: iterations 11-20 bitwise in the same layout; as tp 2 "
      f"within {worst:.2g} relative (bf16); the LR schedule and consumed samples the straight run's")
PY
one_line_error() {  # one_line_error <label> <substring> <flags...>
  local label=$1 want=$2; shift 2
  "$train" --threads 1 --load "$work/ck" --load-iteration 10 --train-iters 12 --pp 1 "$@" > "$work/out" 2> "$work/err"
  local rc=$?
  if [ "$rc" -eq 2 ] && [ "$(wc -l < "$work/err")" -eq 1 ] && grep -qF -- "$want" "$work/err"; then
    echo "ok   $label -> $(cat "$work/err")"
  else
    echo "FAIL $label: exit $rc, expected one line naming '$want'"; cat "$work/err"; status=1
  fi
}
one_line_error "every model difference at once" \
  "holds a model with --num-layers 2 and --hidden-size 64, but this run has --num-layers 3 and --hidden-size 32" \
  --num-layers 3 --hidden-size 32
one_line_error "a changed LR schedule" "--override-opt-param-scheduler" --lr 1e-3
"$train" --threads 1 --load "$work/ck" --load-iteration 10 --train-iters 11 --fp16 > "$work/fp16.log" 2>&1 \
  && grep -q "fp16: dynamic\|loss scaling dynamic" "$work/fp16.log" \
  && echo "ok   a bf16 checkpoint resumed with --fp16: the precision given replaces the checkpoint's" \
  || { echo "FAIL: --fp16 on a bf16 checkpoint"; tail -3 "$work/fp16.log"; status=1; }
"$train" --threads 1 --load "$work/ck" --load-iteration 10 --train-iters 11 --lr 1e-3 --override-opt-param-scheduler \
  --metrics-file "$work/override.jsonl" > "$work/override.log" 2>&1 \
  && grep -q "resume: from the command line: --lr 0.001" "$work/override.log" \
  && echo "ok   --override-opt-param-scheduler: the new --lr is used and logged" \
  || { echo "FAIL: --override-opt-param-scheduler"; tail -3 "$work/override.log"; status=1; }
"$train" --threads 1 --load "$work/ck" --load-iteration 10 --train-iters 11 --lr 1e-3 \
  --use-checkpoint-opt-param-scheduler --metrics-file "$work/keep.jsonl" > "$work/keep.log" 2>&1 \
  && /usr/bin/python3 -c "
import json, sys
keep = [r for r in map(json.loads, open('$work/keep.jsonl')) if 'event' not in r][0]
straight = [r for r in map(json.loads, open('$work/straight.jsonl')) if r.get('iteration') == 11 and 'event' not in r][0]
sys.exit(0 if keep['lr'] == straight['lr'] else 1)" \
  && echo "ok   --use-checkpoint-opt-param-scheduler: the checkpoint's LR, --lr 1e-3 ignored" \
  || { echo "FAIL: --use-checkpoint-opt-param-scheduler"; tail -3 "$work/keep.log"; status=1; }
# 4. Global batch 16 -> 8 at iteration 10 (160 samples consumed): the next iterations end at 168, 176.
"$train" --threads 1 --load "$work/ck" --load-iteration 10 --train-iters 12 --global-batch-size 8 \
  --metrics-file "$work/half.jsonl" > "$work/half.log" 2>&1 \
  && [ "$(grep -v '"event"' "$work/half.jsonl" | /usr/bin/python3 -c 'import json,sys; print(*[json.loads(l)["consumed_samples"] for l in sys.stdin])')" = "168 176" ] \
  && echo "ok   global batch 16 -> 8: consumed samples 160 -> 168 -> 176" \
  || { echo "FAIL: consumed samples after a batch change"; cat "$work/half.jsonl"; status=1; }
# ... and they are the samples that followed: with the checkpoint's weights (a learning rate of 1e-30 moves no
# f32 weight), samples 160-167 and 168-175 at batch 8 average to what 160-175 give at batch 16.
"$train" --threads 1 --load "$work/ck" --load-iteration 10 --train-iters 11 --metrics-file "$work/b16.jsonl" \
  > "$work/b16.log" 2>&1 || { echo "FAIL: batch 16 resume"; tail -3 "$work/b16.log"; status=1; }
"$train" --threads 1 --load "$work/ck" --load-iteration 10 --train-iters 12 --global-batch-size 8 --lr 1e-30 \
  --min-lr 0 --override-opt-param-scheduler --metrics-file "$work/b8.jsonl" > "$work/b8.log" 2>&1 \
  || { echo "FAIL: batch 8 resume"; tail -3 "$work/b8.log"; status=1; }
/usr/bin/python3 - "$work" <<'PY' || status=1
import json, sys
w = sys.argv[1]
loss = lambda n: [r["loss"] for r in map(json.loads, open(f"{w}/{n}.jsonl")) if "event" not in r]
(whole,), halves = loss("b16"), loss("b8")
rel = abs(sum(halves) / 2 - whole) / whole
assert len(halves) == 2 and rel <= 1e-6, (whole, halves, rel)
print(f"ok   samples 160-175: at batch 16 loss {whole:.6f}, at batch 8 {halves[0]:.6f} and {halves[1]:.6f} "
      f"(mean within {rel:.1e})")
PY
exit $status
