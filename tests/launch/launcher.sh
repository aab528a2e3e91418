#!/usr/bin/env bash
# launch/trident-run composes the right command (without starting it) for
# mpirun on this machine (oversubscribed or not), a hostfile and Slurm's
# srun (no progress bar: the output here is not a terminal); then a real
# 2-rank pipeline run through it (no colour codes in its log file), a
# SIGTERM to it (save, exit 0), and --exit-interval / --exit-duration-in-mins.
# Usage: launcher.sh <trident-train>
set -uo pipefail
train=$1
here=$(cd "$(dirname "$0")" && pwd)
run=$here/../../launch/trident-run
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export TRIDENT_TRAIN=$train
status=0
cores=$(nproc)
expect() {  # expect <label> <substring> <command...>: the printed command holds the substring
  local label=$1 want=$2; shift 2
  local printed; printed=$("$@" 2>&1)
  if [[ "$printed" == *"$want"* ]]; then echo "ok   $label: ${printed#trident-run: }"
  else echo "FAIL $label: expected '$want' in: $printed"; status=1; fi
}
many=$((cores * 4))
as_root=$([ "$(id -u)" -eq 0 ] && echo "--allow-run-as-root ")
expect "more ranks than cores" "-n $many ${as_root}--oversubscribe --bind-to core:overload-allowed --map-by core -x OMP_WAIT_POLICY=passive -x OMP_NUM_THREADS=1 -x TRIDENT_PROGRESS=0 $train --threads 1 --tp 2" \
  "$run" -n "$many" --dry-run -- --tp 2
expect "one rank" "-x OMP_NUM_THREADS=$cores -x TRIDENT_PROGRESS=0 $train --threads $cores --pp 1" "$run" -n 1 --dry-run -- --pp 1
printf 'node1 slots=4\n# a comment\nnode2 slots=4\n' > "$work/hosts"
expect "hostfile" "--hostfile $work/hosts -x OMP_NUM_THREADS=" "$run" -n 8 --hostfile "$work/hosts" --dry-run -- --tp 2
expect "threads given" "-x OMP_NUM_THREADS=3 -x TRIDENT_PROGRESS=0 $train --threads 3" "$run" -n 2 --threads 3 --dry-run
mkdir -p "$work/bin"; printf '#!/bin/sh\nexit 0\n' > "$work/bin/srun"; chmod +x "$work/bin/srun"
expect "Slurm" "srun --mpi=pmix --ntasks 4 --cpus-per-task" env PATH="$work/bin:$PATH" SLURM_JOB_ID=7 SLURM_NTASKS=4 "$run" --dry-run -- --pp 2
# Tasks beyond the cores: srun overcommits and Open MPI yields (docs/decisions.md, "srun's MPI plug-in").
expect "Slurm, more tasks than cores" "--overcommit --export ALL,OMP_NUM_THREADS=1,TRIDENT_PROGRESS=0,OMPI_MCA_mpi_yield_when_idle=1" \
  env PATH="$work/bin:$PATH" SLURM_JOB_ID=7 SLURM_NTASKS="$many" "$run" --dry-run -- --pp 2
# Threads per task from the allocation.
expect "Slurm, --cpus-per-task" "--cpus-per-task 2 " env PATH="$work/bin:$PATH" SLURM_JOB_ID=7 SLURM_NTASKS=1 SLURM_CPUS_PER_TASK=2 \
  "$run" --dry-run
# The batch script: the resume flags filled in from --save, the preemption signal, requeue.
script=$("$run" --sbatch -n 8 --nodes 2 --gpus-per-node 4 --time 1:00:00 -- --tp 2 --save "$work/ck" 2>&1)
for want in "#SBATCH --nodes=2" "#SBATCH --ntasks=8" "#SBATCH --ntasks-per-node=4" "#SBATCH --gpus-per-node=4" \
            "#SBATCH --time=1:00:00" "#SBATCH --signal=USR1@120" "#SBATCH --requeue" "--save $work/ck --load $work/ck"; do
  [[ "$script" == *"$want"* ]] || { echo "FAIL: --sbatch: no '$want' in:"; echo "$script"; status=1; }
done
out=$("$run" --sbatch -n 8 -- --tp 2 2>&1); rc=$?
[ $rc -eq 2 ] && [[ "$out" == *"give --save DIR"* ]] && echo "ok   --sbatch without --save -> $out" \
  || { echo "FAIL: --sbatch without --save: $out"; status=1; }
out=$("$run" -n 0 2>&1); rc=$?
[ $rc -eq 2 ] && [[ "$out" == *"-n N (a positive integer)"* ]] && echo "ok   -n 0 -> $out" || { echo "FAIL: -n 0: $out"; status=1; }
# A real run: 2 ranks as a 2-stage pipeline.
if OMP_WAIT_POLICY=passive "$run" -n 2 -- --pp 2 --num-layers 2 --hidden-size 32 --num-attention-heads 2 --seq-length 16 \
     --micro-batch-size 2 --global-batch-size 4 --train-iters 3 --data-path /usr/share/games/fortunes \
     --metrics-file "$work/m.jsonl" > "$work/log" 2>&1 && [ "$(grep -vc '"event"' "$work/m.jsonl")" -eq 3 ]; then
  echo "ok   a real 2-rank run through trident-run"
else
  echo "FAIL: a real 2-rank run"; cat "$work/log"; status=1
fi
# Its log went to a file: no colour codes in it.
if grep -q $'\033' "$work/log"; then echo "FAIL: ANSI colour codes in a log file"; status=1
else echo "ok   no colour codes in the log file"; fi

# SIGTERM to trident-run: every rank saves at the next iteration and the job exits 0.
small=(--num-layers 1 --hidden-size 32 --num-attention-heads 2 --seq-length 16 --micro-batch-size 2
       --global-batch-size 4 --data-path /usr/share/games/fortunes --log-interval 1)
OMP_WAIT_POLICY=passive "$run" -n 2 -- "${small[@]}" --dp 2 --train-iters 100000 --save "$work/ck_term" \
  > "$work/term.log" 2>&1 &
pid=$!
for _ in $(seq 1 600); do grep -q "iteration      2/" "$work/term.log" && break; sleep 0.1; done
kill -TERM "$pid"
wait "$pid"; rc=$?
if [ "$rc" -eq 0 ] && grep -q "stop signal received: stopping after iteration" "$work/term.log" \
   && [ -e "$work/ck_term/latest" ]; then
  echo "ok   SIGTERM to trident-run: saved $(cat "$work/ck_term/latest"), exit 0"
else
  echo "FAIL: SIGTERM to trident-run: exit $rc"; tail -5 "$work/term.log"; status=1
fi

# Megatron's --exit-interval and --exit-duration-in-mins: save, stop, exit 0.
"$train" "${small[@]}" --train-iters 50 --exit-interval 3 --save "$work/ck_interval" > "$work/interval.log" 2>&1; rc=$?
[ "$rc" -eq 0 ] && grep -q -- "--exit-interval reached: stopping after iteration 3, checkpoint saved" "$work/interval.log" \
  && [ "$(cat "$work/ck_interval/latest")" = iter_0000003 ] && echo "ok   --exit-interval 3: saved iteration 3, exit 0" \
  || { echo "FAIL: --exit-interval: exit $rc"; tail -3 "$work/interval.log"; status=1; }
"$train" "${small[@]}" --train-iters 50 --exit-duration-in-mins 0.0001 --save "$work/ck_time" > "$work/time.log" 2>&1; rc=$?
[ "$rc" -eq 0 ] && grep -q -- "--exit-duration-in-mins reached: stopping after iteration 1, checkpoint saved" "$work/time.log" \
  && echo "ok   --exit-duration-in-mins: saved iteration 1, exit 0" \
  || { echo "FAIL: --exit-duration-in-mins: exit $rc"; tail -3 "$work/time.log"; status=1; }
exit $status
