# A one-node Slurm for tests, in the test's own directory (source this file):
#
#   slurm_cluster_start DIR   munged, slurmctld and slurmd for this host, with
#                             their configuration, keys, state, logs and
#                             sockets under DIR; exports SLURM_CONF; returns
#                             once the node is idle (non-zero if it never is)
#   slurm_cluster_stop        stops all three, waits until they are gone and
#                             fails if any survives; call it from an EXIT trap
#
# The node is this machine's (CPUs from `slurmd -C`), oversubscribed as the
# MPI tests are (tasks may outnumber CPUs with --overcommit), without
# cgroups (proctrack/linuxproc, task/none). Ports are chosen free at start.
# MpiDefault=pmix: docs/decisions.md, "srun's MPI plug-in".

slurm_cluster_pids=()

slurm_free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

slurm_cluster_start() {
  local dir=$1 host node ctld_port slurmd_port
  mkdir -p "$dir/state" "$dir/spool" "$dir/munge" "$dir/log"
  chmod 700 "$dir" "$dir/munge"
  head -c 1024 /dev/urandom > "$dir/munge/munge.key"
  chmod 400 "$dir/munge/munge.key"
  # As root munged needs --force; its socket and key live in the test's directory.
  munged --force --socket="$dir/munge/socket" --key-file="$dir/munge/munge.key" --pid-file="$dir/munge/munged.pid" \
         --log-file="$dir/log/munged.log" --seed-file="$dir/munge/seed" || return 1
  slurm_cluster_pids+=("$(cat "$dir/munge/munged.pid")")
  host=$(hostname -s)
  node=$(slurmd -C | head -1 | sed "s/^NodeName=[^ ]*/NodeName=$host/; s/ RealMemory=[0-9]*//")
  ctld_port=$(slurm_free_port); slurmd_port=$(slurm_free_port)
  cat > "$dir/slurm.conf" <<CONF
ClusterName=trident-test
SlurmctldHost=$host
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/socket
MpiDefault=pmix
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
ReturnToService=2
JobRequeue=1
KillWait=10
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
$node State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:8
CONF
  export SLURM_CONF=$dir/slurm.conf
  slurmctld -f "$SLURM_CONF" || return 1
  slurmd -f "$SLURM_CONF" || return 1
  local i
  for i in $(seq 1 60); do
    [ -s "$dir/slurmctld.pid" ] && [ -s "$dir/slurmd.pid" ] && break
    sleep 0.5
  done
  slurm_cluster_pids+=("$(cat "$dir/slurmctld.pid" 2> /dev/null)" "$(cat "$dir/slurmd.pid" 2> /dev/null)")
  for i in $(seq 1 120); do
    [ "$(sinfo -h -n "$host" -o %T 2> /dev/null)" = idle ] && return 0
    sleep 0.5
  done
  echo "slurm_cluster_start: node $host never became idle; logs in $dir/log" >&2
  return 1
}

slurm_cluster_stop() {
  local pid i alive
  for pid in "${slurm_cluster_pids[@]}"; do [ -n "$pid" ] && kill "$pid" 2> /dev/null; done
  for i in $(seq 1 40); do
    alive=""
    for pid in "${slurm_cluster_pids[@]}"; do [ -n "$pid" ] && kill -0 "$pid" 2> /dev/null && alive+=" $pid"; done
    [ -z "$alive" ] && return 0
    sleep 0.25
  done
  for pid in $alive; do kill -9 "$pid" 2> /dev/null; done
  echo "slurm_cluster_stop: daemon(s)$alive outlived SIGTERM for 10 s: killed" >&2
  return 1
}
