#!/usr/bin/env bash
# A real training run on Debian's fortunes corpus: the loss must start near
# ln 256 = 5.55 nats per byte and end below 2.5 (mean of the last 10
# iterations, so one lucky batch cannot pass it), and the divergence guard,
# on by default, must not fire on this ordinary run. A smaller, faster model
# than the README's demo, so the suite stays quick on 2 cores.
# Usage: train_fortunes.sh <path to trident-train>
set -euo pipefail
train=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
OMP_WAIT_POLICY=passive "$train" --num-layers 4 --hidden-size 128 --num-attention-heads 4 --seq-length 128 \
  --micro-batch-size 16 --global-batch-size 32 --train-iters 300 --lr 3e-3 --min-lr 3e-4 --lr-warmup-iters 20 \
  --seed 1234 --data-path /usr/share/games/fortunes --log-interval 50 --metrics-file "$work/metrics.jsonl"
python3 - "$work/metrics.jsonl" <<'PY'
import json, sys
rows = [r for r in map(json.loads, open(sys.argv[1])) if r.get("event") != "start"]
events = [r for r in rows if "event" in r]
assert not events, f"the divergence guard fired on an ordinary run: {events}"
losses = [r["loss"] for r in rows]
first, last10 = losses[0], sum(losses[-10:]) / 10
print(f"first loss {first:.3f}, mean of the last 10 {last10:.3f} nats/byte; no divergence-guard event")
assert 5.0 < first < 6.0, "an untrained byte model should start near ln 256"
assert last10 < 2.5, "training on fortunes must reach 2.5 nats/byte"
PY
