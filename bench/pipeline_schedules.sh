#!/usr/bin/env bash
# GPipe, 1F1B and interleaved 1F1B, one thread per rank: per schedule a JSON
# line with the iteration time and the measured bubble beside the simulated
# one. First the (tp, pp, dp) = (2, 2, 2) layout on 8 local ranks, then
# (1, 2, 1) on 2 ranks with the same 8 micro-batches per pipeline: on a
# machine with fewer than 8 cores only the second has a core per rank, so
# only there are action times undisturbed by the others.
# Usage: pipeline_schedules.sh <build/bin> [extra flags]
set -euo pipefail
bin=$1; shift
export OMP_NUM_THREADS=1 OMP_WAIT_POLICY=passive
mpiexec -n 8 --oversubscribe "$bin/bench_pipeline_schedules" --tp 2 --pp 2 --dp 2 \
  --data-path /usr/share/games/fortunes "$@"
mpiexec -n 2 --oversubscribe "$bin/bench_pipeline_schedules" --pp 2 --global-batch-size 16 \
  --data-path /usr/share/games/fortunes "$@"
