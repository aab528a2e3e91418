#!/usr/bin/env bash
# Communication of one iteration of a TP=2, DP=2 run (4 local ranks):
# bytes counted by Comm per group beside the analytic figures.
# Usage: comm_bytes.sh <build/bin> [extra trident-train flags]
set -euo pipefail
bin=$1; shift
OMP_NUM_THREADS=1 OMP_WAIT_POLICY=passive mpiexec -n 4 --oversubscribe "$bin/bench_comm_bytes" --tp 2 --dp 2 \
  --data-path /usr/share/games/fortunes "$@"
