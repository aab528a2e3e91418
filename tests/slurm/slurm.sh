#!/usr/bin/env bash
# trident under a real one-node Slurm (cluster.sh), 8 ranks as (2, 2, 2):
#  1. `srun -n 8` (PMIx) and `mpirun -np 8` train the same model: losses
#     and final parameters bit-identical (fp32);
#  2. the batch script `trident-run --sbatch` prints, submitted with sbatch,
#     trains; `scancel --signal=USR1` at a random iteration makes every rank
#     save and the job end with exit 0; `scontrol requeue` starts it again,
#     it resumes from its latest checkpoint by itself and finishes with final
#     weights bitwise equal to an uninterrupted run;
#  3. a job whose ranks are killed outright (SIGKILL, as a node failure) and requeued restarts
#     from its last committed checkpoint and finishes bitwise equal too;
#  4. no daemon (munged, slurmctld, slurmd) nor job step outlives the test.
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
  echo "[$SECONDS s] stopping the one-node Slurm"
  slurm_cluster_stop || status=1
  sleep 1
  if pgrep -x slurmstepd > /dev/null; then echo "FAIL: a job step outlived the test"; pkill -9 -x slurmstepd; status=1; fi
  rm -rf "$work"
  exit $status
}
trap finish EXIT
trap 'status=1; exit' TERM INT HUP  # a test killed by ctest's timeout still stops its daemons
echo "[$SECONDS s] starting the one-node Slurm"
slurm_cluster_start "$work/cluster" || { echo "FAIL: the one-node Slurm did not start"; tail -5 "$work"/cluster/log/*; status=1; exit; }
export TRIDENT_TRAIN=$train OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
flags=(--num-layers 4 --hidden-size 32 --num-attention-heads 4 --seq-length 32 --micro-batch-size 2
       --global-batch-size 16 --train-iters 300 --lr 1e-3 --lr-warmup-iters 5 --min-lr 1e-4 --seed 5 --log-interval 100
       --data-path /usr/share/games/fortunes --tp 2 --pp 2 --dp 2 --threads 1)

# 1. srun against mpirun.
echo "[$SECONDS s] the one-node Slurm is up"
"$mpiexec" -n 8 --oversubscribe -x OMP_NUM_THREADS=1 "$train" "${flags[@]}" --metrics-file "$work/mpirun.jsonl" \
  --export-safetensors "$work/mpirun.safetensors" > "$work/mpirun.log" 2>&1 || { echo "FAIL: mpirun"; cat "$work/mpirun.log"; exit; }
timeout 300 srun -n 8 --overcommit --mpi=pmix --export=ALL,OMP_NUM_THREADS=1,OMPI_MCA_mpi_yield_when_idle=1 "$train" \
  "${flags[@]}" --metrics-file "$work/srun.jsonl" --export-safetensors "$work/srun.safetensors" > "$work/srun.log" 2>&1 \
  || { echo "FAIL: srun -n 8"; cat "$work/srun.log"; status=1; }
/usr/bin/python3 "$compare" "$work/mpirun.jsonl" "$work/srun.jsonl" "$work/mpirun.safetensors" "$work/srun.safetensors" \
  "srun -n 8 vs mpirun -np 8, (2,2,2)" --exact || status=1

# 2. sbatch, preemption, requeue.
job_state() { scontrol show job "$1" 2> /dev/null | grep -o 'JobState=[A-Z_]*' | cut -d= -f2; }
wait_for_rerun() {  # <job> <its output file> <starts>: until the job's script has started that often and the job has ended
  local i
  for i in $(seq 1 1500); do
    # Slurm makes a requeued job eligible only two minutes later (Reason=BeginTime): now, in a test
    # (scontrol's name for it is StartTime).
    if [ "$(job_state "$1")" = PENDING ] && scontrol show job "$1" | grep -q 'Reason=BeginTime'; then
      scontrol update JobId="$1" StartTime=now 2> /dev/null
    fi
    if [ "$(grep -c '^trident-run: srun' "$2" 2> /dev/null)" -ge "$3" ]; then
      case "$(job_state "$1")" in COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY) return 0 ;; esac
    fi
    sleep 0.2
  done
  echo "FAIL: job $1 still $(job_state "$1") after 300 s, started $(grep -c '^trident-run: srun' "$2") time(s)"; return 1
}
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
echo "[$SECONDS s] sbatch"
job=$(sbatch --parsable "$work/job.sh") || { echo "FAIL: sbatch refused the script"; cat "$work/job.sh"; status=1; exit; }
# A random iteration (of 300, about 10 ms each): the signal lands wherever the job is by then.
stop_at=$(( RANDOM % 100 + 3 ))
for i in $(seq 1 3000); do
  [ -s "$work/job.jsonl" ] && [ "$(grep -c '"loss"' "$work/job.jsonl")" -ge "$stop_at" ] && break
  case "$(job_state "$job")" in COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY) break ;; esac
  sleep 0.05
done
echo "[$SECONDS s] scancel --signal=USR1 $job"
scancel --signal=USR1 "$job"
wait_for_end "$job" || status=1
out="$work/ck.slurm-$job.out"
first=$(grep -o '"iteration": *[0-9]*' "$work/job.jsonl" | tail -1 | grep -o '[0-9]*$')
if [ "$(job_state "$job")" != COMPLETED ] || ! scontrol show job "$job" | grep -q 'ExitCode=0:0' \
   || [ ! -s "$work/ck/latest" ] || [ "${first:-300}" -ge 300 ]; then
  echo "FAIL: USR1 at iteration ~$stop_at: job $(job_state "$job"), last iteration ${first:-none}"; cat "$out"; status=1; exit
fi
echo "ok   scancel --signal=USR1 once iteration $stop_at was logged: job $job saved $(cat "$work/ck/latest") and ended COMPLETED with exit 0"
requeue() {
  echo "[$SECONDS s] scontrol requeue $1"
  scontrol requeue "$1" || { echo "FAIL: scontrol requeue $1"; return 1; }
}
requeue "$job" || { status=1; exit; }
wait_for_rerun "$job" "$out" 2 || status=1
if [ "$(job_state "$job")" != COMPLETED ] || ! grep -q "loaded iteration $first" "$out"; then
  echo "FAIL: the requeued job did not resume from iteration $first and finish"; cat "$out"; status=1; exit
fi
grep -q "holds no checkpoint yet: starting fresh" "$out" || { echo "FAIL: the first start did not say it started fresh"; status=1; }
/usr/bin/python3 "$compare" "$work/mpirun.jsonl" "$work/job.jsonl" "$work/mpirun.safetensors" "$work/job.safetensors" \
  "sbatch, USR1 at iteration $first, requeued: against an uninterrupted run" --exact || status=1

# 3. Killed outright after a committed checkpoint (every 20 iterations), requeued: on from that checkpoint.
"$root/launch/trident-run" --sbatch -n 8 --overcommit --threads 1 -- "${flags[@]}" --save "$work/ck2" \
  --save-interval 20 --metrics-file "$work/job2.jsonl" --export-safetensors "$work/job2.safetensors" > "$work/job2.sh"
job2=$(sbatch --parsable "$work/job2.sh") || { echo "FAIL: sbatch refused the second script"; status=1; exit; }
for i in $(seq 1 3000); do
  [ -s "$work/ck2/latest" ] && [ "$(grep -c '"loss"' "$work/job2.jsonl" 2> /dev/null)" -ge 50 ] && break
  case "$(job_state "$job2")" in COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY) break ;; esac
  sleep 0.05
done
echo "[$SECONDS s] SIGKILL to job $job2's ranks"
for pid in $(scontrol listpids "$job2" 2> /dev/null | awk 'NR > 1 { print $1 }'); do
  [ "$(ps -o comm= -p "$pid" 2> /dev/null)" = trident-train ] && kill -9 "$pid" 2> /dev/null
done
wait_for_end "$job2" || status=1
committed=$(cat "$work/ck2/latest" 2> /dev/null); committed=${committed#iter_}; committed=$((10#${committed:-0}))
if [ "$(job_state "$job2")" = COMPLETED ] || [ "$committed" -eq 0 ] || [ "$committed" -ge 300 ]; then
  echo "FAIL: SIGKILL: job $job2 $(job_state "$job2"), latest checkpoint at ${committed}"; cat "$work/ck2.slurm-$job2.out"
  status=1; exit
fi
requeue "$job2" || { status=1; exit; }
wait_for_rerun "$job2" "$work/ck2.slurm-$job2.out" 2 || status=1
if [ "$(job_state "$job2")" != COMPLETED ] || ! grep -q "loaded iteration $committed" "$work/ck2.slurm-$job2.out"; then
  echo "FAIL: the killed job did not resume from iteration $committed and finish"; cat "$work/ck2.slurm-$job2.out"
  status=1; exit
fi
echo "ok   killed outright (job $job2 $(grep -c '"loss"' "$work/job2.jsonl") records in), requeued: resumed from iteration $committed"
cmp -s "$work/mpirun.safetensors" "$work/job2.safetensors" \
  && echo "ok   killed and requeued: final weights bitwise equal to the uninterrupted run's" \
  || { echo "FAIL: killed and requeued: final weights differ from the uninterrupted run's"; status=1; }
