#!/usr/bin/env bash
# trident under a real one-node Slurm (cluster.sh), 8 ranks as (2, 2, 2):
#  1. `srun -n 8` (PMIx) and `mpirun -np 8` train the same model: losses
#     and final parameters bit-identical (fp32);
#  2. the batch script `trident-run --sbatch` prints, submitted with sbatch,
#     trains; `scancel --signal=USR1` at a random iteration makes every rank
#     save and the job end with exit 0; `scontrol requeue` starts it again,
#     it resumes from its latest checkpoint by itself and finishes with final
#     weights bitwise equal to an uninterrupted run;
#  3. no daemon (munged, slurmctld, slurmd) nor job step outlives the test.
# Skipped (exit 77) where Slurm is not installed.
# Usage: slurm.sh <trident-train> <mpiexec>
set -uo pipefail
train=$1; mpiexec=$2
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
compare=$root/tests/mpi/compare_runs.py
for tool in munged slurmctld slurmd srun sbatch scontrol; do
  command -v "$tool" > /dev/null || { echo "SKIP: $tool is not installed (launch/packages.txt lists Slurm)"; exit 77; }
done
work=$(mktemp -d)
status=0
# shellcheck source=cluster.sh
source "$here/cluster.sh"
finish() {
  scancel --full --signal=KILL $(squeue -h -o %i 2> /dev/null) 2> /dev/null
  slurm_cluster_stop || status=1
  sleep 1
  if pgrep -x slurmstepd > /dev/null; then echo "FAIL: a job step outlived the test"; pkill -9 -x slurmstepd; status=1; fi
  rm -rf "$work"
  exit $status
}
trap finish EXIT
slurm_cluster_start "$work/cluster" || { echo "FAIL: the one-node Slurm did not start"; tail -5 "$work"/cluster/log/*; status=1; exit; }
export TRIDENT_TRAIN=$train OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
flags=(--num-layers 4 --hidden-size 32 --num-attention-heads 4 --seq-length 32 --micro-batch-size 2
       --global-batch-size 16 --train-iters 30 --lr 1e-3 --lr-warmup-iters 5 --min-lr 1e-4 --seed 5 --log-interval 30
       --data-path /usr/share/games/fortunes --tp 2 --pp 2 --dp 2 --threads 1)

# 1. srun against mpirun.
"$mpiexec" -n 8 --oversubscribe -x OMP_NUM_THREADS=1 "$train" "${flags[@]}" --metrics-file "$work/mpirun.jsonl" \
  --export-safetensors "$work/mpirun.safetensors" > "$work/mpirun.log" 2>&1 || { echo "FAIL: mpirun"; cat "$work/mpirun.log"; exit; }
timeout 300 srun -n 8 --overcommit --mpi=pmix --export=ALL,OMP_NUM_THREADS=1,OMPI_MCA_mpi_yield_when_idle=1 "$train" \
  "${flags[@]}" --metrics-file "$work/srun.jsonl" --export-safetensors "$work/srun.safetensors" > "$work/srun.log" 2>&1 \
  || { echo "FAIL: srun -n 8"; cat "$work/srun.log"; status=1; }
/usr/bin/python3 "$compare" "$work/mpirun.jsonl" "$work/srun.jsonl" "$work/mpirun.safetensors" "$work/srun.safetensors" \
  "srun -n 8 vs mpirun -np 8, (2,2,2)" --exact || status=1

# 2. sbatch, preemption, requeue.
job_state() { scontrol show job "$1" 2> /dev/null | grep -o 'JobState=[A-Z_]*' | cut -d= -f2; }
wait_for_end() {  # until the job is neither pending nor running (nor completing)
  local i
  for i in $(seq 1 600); do
    case "$(job_state "$1")" in PENDING|RUNNING|COMPLETING|CONFIGURING|REQUEUED) sleep 0.5 ;; *) return 0 ;; esac
  done
  echo "FAIL: job $1 still $(job_state "$1") after 300 s"; return 1
}
"$root/launch/trident-run" --sbatch -n 8 --overcommit --threads 1 -- "${flags[@]}" --save "$work/ck" \
  --metrics-file "$work/job.jsonl" --export-safetensors "$work/job.safetensors" > "$work/job.sh" 2> "$work/sbatch.err" \
  || { echo "FAIL: trident-run --sbatch"; cat "$work/sbatch.err"; status=1; exit; }
job=$(sbatch --parsable "$work/job.sh") || { echo "FAIL: sbatch refused the script"; cat "$work/job.sh"; status=1; exit; }
stop_at=$(( RANDOM % 20 + 3 ))  # a random iteration: the signal lands wherever the job is then
for i in $(seq 1 600); do
  [ -s "$work/job.jsonl" ] && [ "$(grep -c '"loss"' "$work/job.jsonl")" -ge "$stop_at" ] && break
  [ "$(job_state "$job")" = RUNNING ] || [ "$(job_state "$job")" = PENDING ] || break
  sleep 0.1
done
scancel --signal=USR1 "$job"
wait_for_end "$job" || status=1
out="$work/ck.slurm-$job.out"
first=$(grep -o '"iteration": *[0-9]*' "$work/job.jsonl" | tail -1 | grep -o '[0-9]*$')
if [ "$(job_state "$job")" != COMPLETED ] || ! scontrol show job "$job" | grep -q 'ExitCode=0:0' \
   || [ ! -s "$work/ck/latest" ] || [ "${first:-30}" -ge 30 ]; then
  echo "FAIL: USR1 at iteration ~$stop_at: job $(job_state "$job"), last iteration ${first:-none}"; cat "$out"; status=1; exit
fi
echo "ok   scancel --signal=USR1 once iteration $stop_at was logged: job $job saved $(cat "$work/ck/latest") and ended COMPLETED with exit 0"
scontrol requeue "$job" || { echo "FAIL: scontrol requeue $job"; status=1; exit; }
# Slurm makes a requeued job eligible only after a delay (its BeginTime, about two minutes on): now, here.
scontrol update JobId="$job" BeginTime=now 2> /dev/null || true
sleep 1
wait_for_end "$job" || status=1
if [ "$(job_state "$job")" != COMPLETED ] || ! grep -q "loaded iteration $first" "$out"; then
  echo "FAIL: the requeued job did not resume from iteration $first and finish"; cat "$out"; status=1; exit
fi
grep -q "holds no checkpoint yet: starting fresh" "$out" || { echo "FAIL: the first start did not say it started fresh"; status=1; }
/usr/bin/python3 "$compare" "$work/mpirun.jsonl" "$work/job.jsonl" "$work/mpirun.safetensors" "$work/job.safetensors" \
  "sbatch, USR1 at iteration $first, requeued: against an uninterrupted run" --exact || status=1
