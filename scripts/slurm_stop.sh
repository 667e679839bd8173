#!/usr/bin/env bash
# Stops the daemons scripts/slurm_start.sh started, by the pids it recorded (never by name).
set -uo pipefail
DIR=$(realpath -m "${1:-${REPRO_SLURM_DIR:-/tmp/repro-slurm}}")
for name in slurmd slurmctld munged; do
    pidfile="$DIR/$name.pid"
    [ -f "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    if kill "$pid" 2>/dev/null; then
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
        echo "stopped $name (pid $pid)" >&2
    fi
    rm -f "$pidfile"
done
