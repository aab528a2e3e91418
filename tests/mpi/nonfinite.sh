#!/usr/bin/env bash
# A non-finite gradient on one rank (--inject-fault nan@ITERATION:RANK,
# injected after the data-parallel reduction, so only that rank sees it)
# must make every rank skip the step: the parameters end bitwise equal to
# a run that stopped one iteration earlier, the skip is counted, and the
# fp16 loss scale moves as Megatron's rules say.
# Usage: nonfinite.sh <trident-train> <mpiexec>
set -euo pipefail
train=$1; mpiexec=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
flags=(--num-layers 1 --hidden-size 64 --num-attention-heads 4 --seq-length 32 --micro-batch-size 2
       --global-batch-size 8 --lr 1e-3 --lr-decay-style constant --data-path /usr/share/games/fortunes --log-interval 100)
status=0
check() {  # check <name> <ranks> <inject "R:I"> <iters> <flags...>
  local name=$1 n=$2 at=$3 iters=$4; shift 4
  "$mpiexec" -n "$n" --oversubscribe "$train" "${flags[@]}" "$@" --train-iters $((iters - 1)) \
    --export-safetensors "$work/$name.before.st" > /dev/null
  "$mpiexec" -n "$n" --oversubscribe "$train" "${flags[@]}" --inject-fault "nan@${at#*:}:${at%%:*}" \
    "$@" --train-iters "$iters" --export-safetensors "$work/$name.after.st" --metrics-file "$work/$name.jsonl" \
    > "$work/$name.log" 2>&1
  python3 - "$work" "$name" "$iters" "$@" <<'PY' || status=1
import json, sys
work, name, iters = sys.argv[1], sys.argv[2], int(sys.argv[3])
before = open(f"{work}/{name}.before.st", "rb").read()
after = open(f"{work}/{name}.after.st", "rb").read()
rows = [r for r in map(json.loads, open(f"{work}/{name}.jsonl")) if "event" not in r]
last = rows[-1]
ok = before == after and last["skipped"] and last["skipped_iterations"] == 1 and not any(r["skipped"] for r in rows[:-1])
msg = f"{name}: iteration {iters} skipped={last['skipped']}, count {last['skipped_iterations']}, parameters " \
      f"{'unchanged' if before == after else 'CHANGED'}, loss scale used {last['loss_scale']:.0f}"
if "--fp16" in sys.argv:
    # scale 1024, hysteresis 1: the overflow halves it; the next step would use 512.
    ok &= last["loss_scale"] == 1024.0
print(("ok   " if ok else "FAIL ") + msg)
sys.exit(0 if ok else 1)
PY
  if [ "$name" = fp16 ]; then
    grep -q "non-finite gradients: 1 step(s) skipped in iterations 1..$iters (the last at iteration $iters)" "$work/$name.log" \
      || { echo "FAIL fp16: the skip is not in the log"; status=1; }
  fi
}
# The LR schedule steps on successful updates only (as Megatron's): a skipped step retries its LR.
"$mpiexec" -n 1 "$train" "${flags[@]}" --lr-decay-style linear --train-iters 6 --inject-fault nan@3 \
  --metrics-file "$work/lr.jsonl" > "$work/lr.log" 2>&1
python3 - "$work/lr.jsonl" <<'PY' || status=1
import json, sys
lr = {r["iteration"]: r["lr"] for r in map(json.loads, open(sys.argv[1])) if "event" not in r}
ok = lr[4] == lr[3] and lr[3] < lr[2] and lr[5] < lr[4]
print(("ok   " if ok else "FAIL ") + f"LR after the skipped step 3: {lr[2]:.3g}, {lr[3]:.3g}, {lr[4]:.3g}, {lr[5]:.3g} "
      "(iteration 4 retries 3's)")
sys.exit(0 if ok else 1)
PY
check fp16 2 1:4 4 --fp16 --initial-loss-scale 1024 --hysteresis 1 --dp 2
check bf16 2 0:3 3 --bf16 --tp 2
exit $status
