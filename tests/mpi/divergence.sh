#!/usr/bin/env bash
# The divergence guard end to end, 8 ranks as (tp, pp, dp) = (2, 2, 2),
# checkpoints every 10 iterations:
#  1. a NaN gradient on one rank at iteration 30: exactly one rollback, to
#     iteration 20, the data batches 21-30 skipped and never trained on,
#     60 iterations finished with a finite, falling loss;
#  2. a loss spike (one step at 1000x the learning rate at iteration 40):
#     detected after --spike-patience 3 iterations, rolled back to 30 (the
#     newest checkpoint from before the damage), 5 more batches skipped,
#     the learning rate halved from then on;
#  3. a NaN that recurs after every rollback: the job gives up after
#     --max-rollbacks 2 with exit status 3 and its message; the committed
#     checkpoints are untouched and the newest still loads.
# Usage: divergence.sh <trident-train> <mpiexec>
set -uo pipefail
train=$1; mpiexec=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
flags=(--num-layers 4 --hidden-size 64 --num-attention-heads 4 --seq-length 64 --micro-batch-size 2
       --global-batch-size 16 --tp 2 --pp 2 --dp 2 --lr 1e-3 --seed 21 --save-interval 10 --log-interval 100
       --data-path /usr/share/games/fortunes)
status=0
job() {  # job <name> <flags...>: runs, leaves <name>.jsonl, <name>.log, <name>.rc
  local name=$1; shift
  timeout 300 "$mpiexec" -n 8 --oversubscribe "$train" "${flags[@]}" --save "$work/$name.ck" \
    --metrics-file "$work/$name.jsonl" "$@" > "$work/$name.log" 2>&1
  echo $? > "$work/$name.rc"
}
job nan --train-iters 60 --inject-fault nan@30:5
job spike --train-iters 70 --inject-fault spike@40 --spike-patience 3 --rollback-skip-batches 5 --rollback-lr-scale 0.5
job recurring --train-iters 60 --inject-fault nan@30:3:repeat --max-rollbacks 2 --rollback-lr-scale 0.5
/usr/bin/python3 - "$work" <<'PY' || status=1
import json, math, sys
work = sys.argv[1]
def load(name):
    rows = [r for r in map(json.loads, open(f"{work}/{name}.jsonl")) if r.get("event") != "start"]
    return rc(name), [r for r in rows if "event" not in r], [r for r in rows if "event" in r], rows
def rc(name):
    return int(open(f"{work}/{name}.rc").read())
def check_run(name, fault_at, detected, target, skipped, lr_scale):
    code, steps, events, rows = load(name)
    assert code == 0, f"{name}: exit {code}"
    assert [e["event"] for e in events] == ["rollback"], f"{name}: events {events}"
    e = events[0]
    assert (e["from_iteration"], e["to_iteration"], e["batches_skipped"]) == (detected, target, skipped), e
    assert e["lr_scale"] == lr_scale, e
    # The trajectory that counts: up to the checkpoint, then everything after the event.
    at = rows.index(e)
    final = [r for r in rows[:at] if r["iteration"] <= target] + [r for r in rows[at + 1:] if "event" not in r]
    assert [r["iteration"] for r in final] == list(range(1, final[-1]["iteration"] + 1)), f"{name}: iterations"
    trained = [r["data_batch"] for r in final]
    never = set(range(target + 1, target + 1 + skipped))
    assert not never & set(trained), f"{name}: skipped batches were trained on: {sorted(never & set(trained))}"
    assert trained == sorted(trained) and len(set(trained)) == len(trained), f"{name}: data order"
    assert all(r["consumed_samples"] == r["data_batch"] * 16 for r in final), f"{name}: consumed samples"
    losses = [r["loss"] for r in final]
    assert all(math.isfinite(l) for l in losses), f"{name}: non-finite loss after the rollback"
    first, last = sum(losses[:10]) / 10, sum(losses[-10:]) / 10
    assert last < first - 0.5, f"{name}: loss did not fall ({first:.3f} -> {last:.3f})"
    if lr_scale != 1.0:  # the same iteration's learning rate, before and after the rollback
        pre = {r["iteration"]: r["lr"] for r in rows[:at] if "event" not in r}
        post = {r["iteration"]: r["lr"] for r in rows[at + 1:] if "event" not in r}
        i = target + 1
        assert abs(post[i] - lr_scale * pre[i]) <= 1e-6 * pre[i], (pre[i], post[i])
    print(f"ok   {name}: rollback {detected} -> {target} ({e['reason'][:60]}...), data batches "
          f"{min(never)}-{max(never)} never trained, loss {first:.3f} -> {last:.3f} over {len(final)} iterations")
ok = True
for args in (("nan", 30, 30, 20, 10, 1.0), ("spike", 40, 43, 30, 18, 0.5)):
    try:
        check_run(*args)
    except AssertionError as error:
        print(f"FAIL {args[0]}: {error}"); ok = False
code, steps, events, rows = load("recurring")
kinds = [e["event"] for e in events]
log = open(f"{work}/recurring.log").read()
scales = [e["lr_scale"] for e in events if e["event"] == "rollback"]
if code == 3 and kinds == ["rollback", "rollback", "give_up"] and scales == [0.5, 0.25] and "giving up" in log \
        and log.count("trident-train: error:") == 1:
    print(f"ok   recurring NaN: exit 3 after {kinds.count('rollback')} rollbacks (learning rate x {scales}): "
          + [l for l in log.splitlines() if "trident-train: error:" in l][0][:140] + "...")
else:
    print(f"FAIL recurring NaN: exit {code}, events {kinds}, lr scales {scales}"); print(log[-2000:]); ok = False
sys.exit(0 if ok else 1)
PY
# The checkpoints the guard gave up with are intact, and the newest loads.
if [ "$(cat "$work/recurring.ck/latest")" = iter_0000020 ] && [ -e "$work/recurring.ck/iter_0000010/COMMITTED" ] \
   && timeout 120 "$mpiexec" -n 8 --oversubscribe "$train" "${flags[@]}" --train-iters 21 --load "$work/recurring.ck" \
      > "$work/after.log" 2>&1 && grep -q "loaded iteration 20" "$work/after.log"; then
  echo "ok   after giving up: iter_0000010 and iter_0000020 committed, latest iter_0000020, which resumes"
else
  echo "FAIL: the checkpoints after giving up"; tail -5 "$work/after.log"; status=1
fi
# After the spike's rollback to 30, the diverged timeline's checkpoint of 40 was set aside, never loaded again.
if ls -d "$work"/spike.ck/abandoned.iter_0000040.* > /dev/null 2>&1 && [ "$(cat "$work/spike.ck/latest")" = iter_0000070 ] \
   && grep -q "moved aside" "$work/spike.log"; then
  echo "ok   spike: the diverged iter_0000040 moved aside as $(cd "$work/spike.ck" && ls -d abandoned.*); latest iter_0000070"
else
  echo "FAIL: after the spike's rollback: $(ls "$work/spike.ck")"; status=1
fi
exit $status
