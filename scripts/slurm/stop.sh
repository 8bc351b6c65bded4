#!/usr/bin/env bash
# Stops the daemons started by scripts/slurm/start.sh (slurmd, slurmctld, slurmdbd, MariaDB).
# Only processes named in the state dir's pid files are signalled. The state dir is kept (the
# database and the job history survive a restart); `stop.sh --purge` deletes it too.
set -uo pipefail

STATE=${BOBENCH_SLURM_DIR:-/tmp/bobench-slurm}
PURGE=0
[ "${1:-}" = "--purge" ] && PURGE=1

stop_pid_file() { # stop_pid_file NAME FILE: signals the pid only if it still runs NAME
  local name=$1 file=$2 pid
  [ -s "$file" ] || return 0
  pid=$(cat "$file")
  if kill -0 "$pid" 2>/dev/null && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$name" ]; then
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 1 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      echo "[slurm] $name ($pid) ignored SIGTERM for 10s: SIGKILL"
      kill -KILL "$pid" 2>/dev/null
    fi
    echo "[slurm] stopped $name ($pid)"
  fi
  rm -f "$file"
}

# Cancel this cluster's jobs first, so that no slurmstepd outlives slurmd.
if [ -s "$STATE/run/slurmctld.pid" ] && kill -0 "$(cat "$STATE/run/slurmctld.pid")" 2>/dev/null; then
  export SLURM_CONF=$STATE/etc/slurm.conf
  jobs=$(squeue -h -o %i 2>/dev/null | tr '\n' ' ')
  if [ -n "${jobs// /}" ]; then
    # shellcheck disable=SC2086
    scancel $jobs 2>/dev/null && echo "[slurm] cancelled jobs $jobs"
    for _ in $(seq 1 50); do
      [ -z "$(pgrep -x slurmstepd)" ] && break
      sleep 0.2
    done
  fi
fi
stop_pid_file slurmd "$STATE/run/slurmd.pid"
stop_pid_file slurmctld "$STATE/run/slurmctld.pid"
stop_pid_file slurmdbd "$STATE/run/slurmdbd.pid"
stop_pid_file mariadbd "$STATE/mysql/run/mysqld.pid"
rm -f "$STATE/mode"

# Daemons that lost their pid file (a crash, a half-finished start) would keep the ports and
# make the next start fail: stop those too. This cluster's Slurm daemons are the only ones on a
# machine that runs it; MariaDB only where it serves this state dir.
stray=$(pgrep -x slurmd; pgrep -x slurmctld; pgrep -x slurmdbd; pgrep -f "mariadbd.*--datadir=$STATE" || true)
if [ -n "${stray//[[:space:]]/}" ]; then
  # shellcheck disable=SC2086
  kill -TERM $stray 2>/dev/null
  for _ in $(seq 1 100); do
    # shellcheck disable=SC2086
    kill -0 $stray 2>/dev/null || break
    sleep 0.1
  done
  # shellcheck disable=SC2086
  kill -KILL $stray 2>/dev/null || true
  echo "[slurm] stopped daemons without a pid file: $(tr "\n" " " <<<"$stray")"
fi

if [ "$PURGE" = 1 ]; then
  if [ -L /etc/slurm/slurm.conf ] && [ "$(readlink /etc/slurm/slurm.conf)" = "$STATE/etc/slurm.conf" ]; then
    rm -f /etc/slurm/slurm.conf
  fi
  rm -rf "$STATE"
  echo "[slurm] removed $STATE"
fi
