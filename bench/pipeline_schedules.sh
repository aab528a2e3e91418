#!/usr/bin/env bash
# GPipe, 1F1B and interleaved 1F1B in the (tp, pp, dp) = (2, 2, 2) layout on
# 8 local ranks, one thread each: per schedule a JSON line with the
# iteration time and the measured bubble beside the simulated one.
# Usage: pipeline_schedules.sh <build/bin> [extra flags]
set -euo pipefail
bin=$1; shift
OMP_NUM_THREADS=1 OMP_WAIT_POLICY=passive mpiexec -n 8 --oversubscribe "$bin/bench_pipeline_schedules" \
  --tp 2 --pp 2 --dp 2 --data-path /usr/share/games/fortunes "$@"
