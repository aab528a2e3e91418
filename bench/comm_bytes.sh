#!/usr/bin/env bash
# Communication of one iteration of a TP=2, DP=2 run (4 local ranks):
# bytes counted by Comm per group (per collective kind for TP) beside the
# analytic figures, without and with --sequence-parallel (and with it under
# full recompute), and with --use-distributed-optimizer (f32 and bf16).
# Exits non-zero if any row disagrees.
# Usage: comm_bytes.sh <build/bin> [extra trident-train flags]
set -uo pipefail
bin=$1; shift
status=0
for variant in "" "--sequence-parallel" "--sequence-parallel --recompute-granularity full" \
               "--use-distributed-optimizer" "--use-distributed-optimizer --sequence-parallel --bf16"; do
  OMP_NUM_THREADS=1 OMP_WAIT_POLICY=passive mpiexec -n 4 --oversubscribe "$bin/bench_comm_bytes" --tp 2 --dp 2 \
    --data-path /usr/share/games/fortunes $variant "$@" || { echo "comm_bytes: disagreement with flags '$variant $*'" >&2; status=1; }
done
exit $status
