#!/usr/bin/env bash
# Checkpoints end to end, in the (tp, pp, dp) = (2, 2, 2) layout on 8 ranks:
#  1. exact resume, fp32 and bf16: 20 iterations straight vs 10, save, a new
#     job that loads, 10 more: losses and final parameters bit-identical;
#  2. resharding: the iteration-10 checkpoint resumed at (1,1,1), (4,2,1),
#     (1,2,4) and (2,1,4): iterations 11-20 within 1e-5 of the straight run;
#  3. preemption: SIGUSR1 to mpirun mid-run saves at the next iteration
#     boundary and exits 0; resuming from it is bit-identical to no stop;
#     SIGTERM to a single rank does the same (the ranks agree on it);
#  4. --keep-last 2 keeps the two newest checkpoints.
# Usage: resume.sh <trident-train> <mpiexec>
set -euo pipefail
train=$1; mpiexec=$2
here=$(cd "$(dirname "$0")" && pwd)
compare=$here/../mpi/compare_runs.py
work=$(mktemp -d)
# Background jobs (the signal tests) never outlive the script.
trap 'pkill -P $$ 2> /dev/null || true; rm -rf "$work"' EXIT
flags=(--num-layers 4 --hidden-size 32 --num-attention-heads 4 --seq-length 32 --micro-batch-size 2
       --global-batch-size 16 --train-iters 20 --lr 1e-3 --lr-warmup-iters 5 --lr-decay-iters 20 --min-lr 1e-4 --seed 5 --log-interval 20
       --data-path /usr/share/games/fortunes --ddp-bucket-size 4000)
status=0
run() {  # run <ranks> <out-prefix> <flags...>
  local n=$1 out=$2; shift 2
  if ! "$mpiexec" -n "$n" --oversubscribe "$train" "${flags[@]}" "$@" --metrics-file "$out.jsonl" \
       --export-safetensors "$out.safetensors" > "$out.log" 2>&1; then
    echo "FAIL: trident-train -n $n $* exited non-zero"; cat "$out.log"; return 1
  fi
}
l222=(--tp 2 --pp 2 --dp 2)
for precision in fp32 bf16; do
  extra=(); [ "$precision" = bf16 ] && extra=(--bf16)
  run 8 "$work/straight_$precision" "${l222[@]}" "${extra[@]}" || { status=1; continue; }
  run 8 "$work/first_$precision" "${l222[@]}" "${extra[@]}" --train-iters 10 --save "$work/ck_$precision" \
    || { status=1; continue; }
  run 8 "$work/resumed_$precision" "${l222[@]}" "${extra[@]}" --load "$work/ck_$precision" || { status=1; continue; }
  grep -q "loaded iteration 10" "$work/resumed_$precision.log" || { echo "FAIL: no load logged"; status=1; }
  /usr/bin/python3 "$compare" "$work/straight_$precision.jsonl" "$work/resumed_$precision.jsonl" \
    "$work/straight_$precision.safetensors" "$work/resumed_$precision.safetensors" \
    "exact resume (2,2,2) $precision" --exact || status=1
done
for layout in "1 1 1" "4 2 1" "1 2 4" "2 1 4"; do
  set -- $layout
  n=$(($1 * $2 * $3))
  label="(2,2,2) -> ($1,$2,$3) resumed"
  run "$n" "$work/reshard" --tp "$1" --pp "$2" --dp "$3" --load "$work/ck_fp32" || { status=1; continue; }
  /usr/bin/python3 "$compare" "$work/straight_fp32.jsonl" "$work/reshard.jsonl" "$work/straight_fp32.safetensors" \
    "$work/reshard.safetensors" "$label" || status=1
done

# --finetune starts at iteration 1 from the trained weights; --no-load-optim resumes at 11 with fresh moments.
run 1 "$work/finetune" --load "$work/ck_fp32" --finetune || status=1
run 1 "$work/fresh" || status=1
run 1 "$work/no_optim" --load "$work/ck_fp32" --no-load-optim || status=1
/usr/bin/python3 - "$work" <<'PY' || status=1
import json, sys
rows = lambda name: [r for r in map(json.loads, open(f"{sys.argv[1]}/{name}.jsonl")) if "event" not in r]
finetune, fresh, no_optim, straight = rows("finetune"), rows("fresh"), rows("no_optim"), rows("straight_fp32")
assert [r["iteration"] for r in finetune] == list(range(1, 21)), "finetune must start at iteration 1"
assert finetune[0]["loss"] < fresh[0]["loss"] - 0.05, (finetune[0]["loss"], fresh[0]["loss"])
assert [r["iteration"] for r in no_optim] == list(range(11, 21)), "--no-load-optim must resume at 11"
assert abs(no_optim[0]["loss"] - straight[10]["loss"]) <= 1e-5 * straight[10]["loss"], "the weights are the checkpoint's"
assert no_optim[1]["loss"] != straight[11]["loss"], "fresh AdamW moments must change the next step"
print(f"ok   --finetune: iteration 1 loss {finetune[0]['loss']:.4f} (fresh weights {fresh[0]['loss']:.4f}); "
      f"--no-load-optim: iteration 11 as saved, 12 differs ({no_optim[1]['loss']:.5f} vs {straight[11]['loss']:.5f})")
PY

# Preemption: a signal mid-run (to mpirun, which forwards SIGUSR1 to every
# rank), a save at the next iteration boundary, exit 0; then a resume to
# iteration 40 equals 40 iterations straight. (The LR schedule is fixed by
# --lr-decay-iters, so --train-iters changes only where the loop ends.)
run 8 "$work/straight40" "${l222[@]}" --train-iters 40 || status=1
timeout 120 "$mpiexec" -n 8 --oversubscribe "$train" "${flags[@]}" "${l222[@]}" --train-iters 100000 \
  --save "$work/ck_signal" --log-interval 1 > "$work/signal.log" 2>&1 &
pid=$!
for _ in $(seq 1 2000); do grep -q "iteration *3/" "$work/signal.log" && break; sleep 0.01; done
pkill -USR1 -P "$pid"  # mpiexec, the child of timeout
if wait "$pid" && grep -q "stop signal received" "$work/signal.log"; then
  stopped=$(cat "$work/ck_signal/latest")
  echo "ok   SIGUSR1 -> saved $stopped, exit 0"
  run 8 "$work/after_signal" "${l222[@]}" --train-iters 40 --load "$work/ck_signal" || status=1
  /usr/bin/python3 "$compare" "$work/straight40.jsonl" "$work/after_signal.jsonl" "$work/straight40.safetensors" \
    "$work/after_signal.safetensors" "resumed after SIGUSR1 at $stopped" --exact || status=1
else
  echo "FAIL: SIGUSR1 did not end in a save and exit 0"; tail -20 "$work/signal.log"; status=1
fi

# SIGTERM (Slurm's preemption warning) to one rank only: every rank stops at the same boundary.
timeout 120 "$mpiexec" -n 8 --oversubscribe "$train" "${flags[@]}" "${l222[@]}" --train-iters 100000 \
  --save "$work/ck_term" --log-interval 1 > "$work/term.log" 2>&1 &
pid=$!
for _ in $(seq 1 2000); do grep -q "iteration *3/" "$work/term.log" && break; sleep 0.01; done
rank_pid=$(pgrep -f -- "trident-train.*--save $work/ck_term" | grep -v "^$pid\$" | tail -1)
kill -TERM "$rank_pid"
if wait "$pid" && grep -q "stop signal received" "$work/term.log" && [ -e "$work/ck_term/latest" ]; then
  echo "ok   SIGTERM to one rank (pid $rank_pid) -> every rank saved $(cat "$work/ck_term/latest"), exit 0"
else
  echo "FAIL: SIGTERM to one rank did not end in a save and exit 0"; tail -20 "$work/term.log"; status=1
fi

# --keep-last 2 of saves every 5 iterations: iterations 15 and 20 remain.
run 8 "$work/keep" "${l222[@]}" --save "$work/ck_keep" --save-interval 5 --keep-last 2 || status=1
kept=$(cd "$work/ck_keep" && ls -d iter_* | tr '\n' ' ')
if [ "$kept" = "iter_0000015 iter_0000020 " ] && [ "$(cat "$work/ck_keep/latest")" = iter_0000020 ]; then
  echo "ok   --keep-last 2: $kept"
else
  echo "FAIL: --keep-last 2 left: $kept"; status=1
fi
# Resumed from 15 into the same directory: the other run's iteration 20 is set aside, not overwritten,
# and --keep-last keeps the checkpoint just written.
run 8 "$work/keep2" "${l222[@]}" --load "$work/ck_keep" --load-iteration 15 --save "$work/ck_keep" --save-interval 5 \
  --keep-last 2 || status=1
kept=$(cd "$work/ck_keep" && ls -d iter_* superseded.* | tr '\n' ' ')
if [ "$kept" = "iter_0000015 iter_0000020 superseded.iter_0000020.1 " ] && [ "$(cat "$work/ck_keep/latest")" = iter_0000020 ]; then
  echo "ok   resumed at 15 into the same directory: $kept"
else
  echo "FAIL: resumed at 15 into the same directory: $kept, latest $(cat "$work/ck_keep/latest")"; status=1
fi
exit $status
