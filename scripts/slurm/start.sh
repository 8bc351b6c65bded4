#!/usr/bin/env bash
# Starts a single-node Slurm cluster on 127.0.0.1 for trying and testing bobench's Slurm path.
#
#   bash scripts/slurm/start.sh                  # with accounting (MariaDB + slurmdbd, sacct works)
#   bash scripts/slurm/start.sh --no-accounting  # slurmctld + slurmd only (sacct answers an error)
#   bash scripts/slurm/stop.sh                   # stops every daemon started here
#
# Idempotent: a second run with the same mode finds the cluster up and returns at once; a run
# with the other mode restarts the daemons. Needs root (installs Debian packages, runs slurmd).
# Everything listens on 127.0.0.1 only; authentication is auth/none (no munge), which is
# only acceptable because nothing but loopback can reach the daemons.
#
# Environment:
#   BOBENCH_SLURM_DIR      state dir (configs, spool, logs, database) [/tmp/bobench-slurm]
#   BOBENCH_SLURM_CLUSTER  cluster name [bobench]
#   BOBENCH_SLURM_DB_PORT  port of the private MariaDB instance [3307]
#   BOBENCH_SLURM_TIMEOUT  seconds to wait for the cluster to answer [90]
set -euo pipefail

STATE=${BOBENCH_SLURM_DIR:-/tmp/bobench-slurm}
CLUSTER=${BOBENCH_SLURM_CLUSTER:-bobench}
DB_PORT=${BOBENCH_SLURM_DB_PORT:-3307}
WAIT_S=${BOBENCH_SLURM_TIMEOUT:-90}
ACCOUNTING=1
for arg in "$@"; do
  case "$arg" in
    --no-accounting) ACCOUNTING=0 ;;
    --accounting) ACCOUNTING=1 ;;
    -h | --help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "start.sh: unknown argument '$arg' (use --no-accounting)" >&2; exit 2 ;;
  esac
done
MODE=$([ "$ACCOUNTING" = 1 ] && echo accounting || echo no-accounting)

log() { echo "[slurm] $*"; }
die() { echo "[slurm] ERROR: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "run as root (it installs packages and starts slurmd)"

T0=$(date +%s.%N)
ETC=$STATE/etc
LOGS=$STATE/log
RUN=$STATE/run
CONF=$ETC/slurm.conf
export SLURM_CONF=$CONF
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# --- packages -------------------------------------------------------------------------------
PKGS=(slurmctld slurmd slurm-client)
[ "$ACCOUNTING" = 1 ] && PKGS+=(slurmdbd mariadb-server)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- already up? ----------------------------------------------------------------------------
alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
cluster_ok() {
  alive "$RUN/slurmctld.pid" && alive "$RUN/slurmd.pid" \
    && sinfo -h -o '%T' 2>/dev/null | grep -Eq '^(idle|mixed|allocated)' || return 1
  if [ "$ACCOUNTING" = 1 ]; then sacct -n -X -j 1 >/dev/null 2>&1 || return 1; fi
}
if [ -f "$STATE/mode" ] && [ "$(cat "$STATE/mode")" = "$MODE" ] && cluster_ok; then
  log "already running ($MODE), state in $STATE"
  exit 0
fi
if [ -f "$STATE/mode" ]; then
  log "restarting (was $(cat "$STATE/mode"), want $MODE)"
fi
bash "$HERE/stop.sh" >/dev/null # also daemons left without a pid file, which would hold the ports

mkdir -p "$ETC" "$LOGS" "$RUN" "$STATE/spool/ctld" "$STATE/spool/d"
chmod 755 "$STATE" "$ETC" "$RUN"
chown -R slurm:slurm "$STATE/spool/ctld" "$LOGS"
chmod 700 "$STATE/spool/ctld"

# --- node description from the real machine ------------------------------------------------
read -r CPUS SOCKETS CORES THREADS MEM < <(slurmd -C | head -1 | tr ' ' '\n' | awk -F= '
  $1=="CPUs"{c=$2} $1=="SocketsPerBoard"{s=$2} $1=="CoresPerSocket"{k=$2}
  $1=="ThreadsPerCore"{t=$2} $1=="RealMemory"{m=$2} END{print c, s, k, t, m}')
MEM=$((MEM * 95 / 100)) # a little below the total, so the node never drains for "low memory"
HOST=$(hostname -s)

if [ "$ACCOUNTING" = 1 ]; then
  ACCT_LINES="AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort=6819
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=30"
else
  ACCT_LINES="AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none"
fi

cat >"$CONF" <<EOF
# Written by scripts/slurm/start.sh ($MODE). Single node on loopback, no munge.
ClusterName=$CLUSTER
SlurmctldHost=$HOST(127.0.0.1)
SlurmUser=slurm
SlurmdUser=root
SlurmctldPort=6817
SlurmdPort=6818
AuthType=auth/none
CredType=cred/none
MpiDefault=none
MailProg=/bin/true
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
ReturnToService=2
StateSaveLocation=$STATE/spool/ctld
SlurmdSpoolDir=$STATE/spool/d
SlurmctldPidFile=$RUN/slurmctld.pid
SlurmdPidFile=$RUN/slurmd.pid
SlurmctldLogFile=$LOGS/slurmctld.log
SlurmdLogFile=$LOGS/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
# fast turn-around for a laptop-sized cluster
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
KillWait=5
MinJobAge=300
InactiveLimit=0
OverTimeLimit=0
MessageTimeout=10
$ACCT_LINES
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$CPUS SocketsPerBoard=$SOCKETS CoresPerSocket=$CORES ThreadsPerCore=$THREADS RealMemory=$MEM State=UNKNOWN
# OverSubscribe=FORCE:4: up to 4 jobs per core, so a driver job and its worker jobs fit on 2 CPUs.
PartitionName=debug Nodes=$HOST Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4
EOF
chmod 644 "$CONF"

# Clients (sinfo, sbatch, submitit, the jobs) find the config through /etc/slurm/slurm.conf.
# Only a link we made ourselves is replaced; otherwise clients need SLURM_CONF=$CONF.
mkdir -p /etc/slurm
if [ -L /etc/slurm/slurm.conf ] || [ ! -e /etc/slurm/slurm.conf ]; then
  ln -sfn "$CONF" /etc/slurm/slurm.conf
else
  log "NOTE: /etc/slurm/slurm.conf is not ours; clients need: export SLURM_CONF=$CONF"
fi

wait_for() { # wait_for SECONDS DESCRIPTION COMMAND...
  local limit=$1 what=$2 i=0
  shift 2
  until "$@" >/dev/null 2>&1; do
    i=$((i + 1))
    if [ $((i / 5)) -ge "$limit" ]; then die "$what did not come up in ${limit}s (logs: $LOGS)"; fi
    sleep 0.2
  done
}

# --- accounting: MariaDB (private instance) + slurmdbd ---------------------------------------
if [ "$ACCOUNTING" = 1 ]; then
  DB=$STATE/mysql
  SOCK=$DB/run/mysqld.sock
  DB_PID=$DB/run/mysqld.pid
  mkdir -p "$DB/run"
  chown mysql:mysql "$DB" "$DB/run"
  chmod 750 "$DB"
  if [ ! -d "$DB/data/mysql" ]; then
    log "initialising MariaDB in $DB/data"
    mariadb-install-db --no-defaults --user=mysql --datadir="$DB/data" --skip-test-db \
      --auth-root-authentication-method=socket >"$LOGS/mariadb-install.log" 2>&1 \
      || die "mariadb-install-db failed (see $LOGS/mariadb-install.log)"
  fi
  if ! alive "$DB_PID"; then
    touch "$LOGS/mysqld.log" && chown mysql:mysql "$LOGS/mysqld.log"
    setsid mariadbd --no-defaults --user=mysql --datadir="$DB/data" --socket="$SOCK" \
      --port="$DB_PORT" --bind-address=127.0.0.1 --skip-name-resolve \
      --pid-file="$DB_PID" --log-error="$LOGS/mysqld.log" \
      --innodb-buffer-pool-size=64M --innodb-log-file-size=48M \
      --innodb-lock-wait-timeout=900 </dev/null >/dev/null 2>&1 &
    wait_for 60 MariaDB mariadb --no-defaults -S "$SOCK" -u root -e 'select 1'
  fi
  PASS_FILE=$ETC/.db_password
  if [ ! -s "$PASS_FILE" ]; then
    (umask 077 && head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' >"$PASS_FILE")
  fi
  PASS=$(cat "$PASS_FILE")
  mariadb --no-defaults -S "$SOCK" -u root <<SQL
CREATE DATABASE IF NOT EXISTS slurm_acct_db;
CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY '$PASS';
ALTER USER 'slurm'@'127.0.0.1' IDENTIFIED BY '$PASS';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';
FLUSH PRIVILEGES;
SQL
  (umask 077 && cat >"$ETC/slurmdbd.conf" <<EOF
# Written by scripts/slurm/start.sh. Readable by the slurm user only (it holds a password).
AuthType=auth/none
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort=6819
SlurmUser=slurm
PidFile=$RUN/slurmdbd.pid
LogFile=$LOGS/slurmdbd.log
DebugLevel=info
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$DB_PORT
StorageUser=slurm
StoragePass=$PASS
StorageLoc=slurm_acct_db
EOF
  )
  chown slurm:slurm "$ETC/slurmdbd.conf"
  chmod 600 "$ETC/slurmdbd.conf"
  if ! alive "$RUN/slurmdbd.pid"; then
    setsid slurmdbd </dev/null >/dev/null 2>&1
    wait_for "$WAIT_S" slurmdbd sacctmgr -n list cluster
  fi
  # The cluster must exist in the database before slurmctld first registers.
  if ! sacctmgr -n -P list cluster format=cluster | grep -qx "$CLUSTER"; then
    sacctmgr -i add cluster "$CLUSTER" >/dev/null
  fi
fi

# --- slurmctld + slurmd ---------------------------------------------------------------------
if ! alive "$RUN/slurmctld.pid"; then
  setsid slurmctld </dev/null >/dev/null 2>&1 || die "slurmctld failed (see $LOGS/slurmctld.log)"
fi
if ! alive "$RUN/slurmd.pid"; then
  setsid slurmd -N "$HOST" </dev/null >/dev/null 2>&1 || die "slurmd failed (see $LOGS/slurmd.log)"
fi
node_idle() { sinfo -h -o '%T' | grep -Eq '^(idle|mixed|allocated)$'; }
wait_for "$WAIT_S" "the node (sinfo idle)" node_idle
if [ "$ACCOUNTING" = 1 ]; then
  wait_for "$WAIT_S" sacct sacct -n -X -j 1
fi
echo "$MODE" >"$STATE/mode"
T1=$(date +%s.%N)
log "up ($MODE) in $(awk -v a="$T0" -v b="$T1" 'BEGIN{printf "%.1f", b-a}')s: node $HOST," \
  "$CPUS CPUs, ${MEM} MB; state in $STATE"
sinfo
