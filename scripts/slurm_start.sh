#!/usr/bin/env bash
# A one-node Slurm cluster on this machine, for the Slurm executor's tests (tox -e slurm, .ci/run).
#   scripts/slurm_start.sh [DIR]   -> prints `export SLURM_CONF=DIR/slurm.conf`; pids in DIR/*.pid
#   scripts/slurm_stop.sh  [DIR]   stops the daemons by those pids
# Debian's slurm-wlm + munge, no systemd: munged, slurmctld and slurmd started by hand, as in
# Slurm's quick-start guide (https://slurm.schedmd.com/quickstart_admin.html). Needs root.
set -euo pipefail
DIR=$(realpath -m "${1:-${REPRO_SLURM_DIR:-/tmp/repro-slurm}}")
HOST=$(hostname -s)
mkdir -p "$DIR"/{state,spool}

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    apt-get update -q >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q slurm-wlm munge >&2
fi

# munge: the package's install script created /etc/munge/munge.key; the socket folder is ours to make.
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    install -d -o munge -g munge -m 0755 /run/munge
    runuser -u munge -- munged --pid-file=/run/munge/munged.pid
    cp /run/munge/munged.pid "$DIR/munged.pid"
    for _ in $(seq 50); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.1; done
fi

CPUS=$(nproc)
MEM_MB=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 * 3 / 4 ))
cat > "$DIR/slurm.conf" <<CONF
ClusterName=repro
SlurmctldHost=$HOST
SlurmUser=root
AuthType=auth/munge
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/slurmctld.log
SlurmdLogFile=$DIR/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
MpiDefault=none
# Look at the queue every few seconds (default 60): stages wait on each other, and a requeued job
# becomes eligible again after a delay that the scheduler only notices on its next pass.
SchedulerParameters=sched_interval=5,bf_interval=5
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
# Without a default a job asking no memory is given the whole node, and jobs could only run one by one.
DefMemPerCPU=$(( MEM_MB / CPUS ))
ReturnToService=2
KillWait=5
MinJobAge=600
NodeName=$HOST CPUs=$CPUS RealMemory=$MEM_MB State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$DIR/slurm.conf"
slurmctld -i
slurmd
for _ in $(seq 100); do
    sinfo -h -o '%T' 2>/dev/null | grep -qE '^(idle|mixed|allocated)' && break
    sleep 0.2
done
sinfo >&2
echo "export SLURM_CONF=$DIR/slurm.conf"
