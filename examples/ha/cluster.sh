#!/usr/bin/env bash
# cluster.sh — a 3-member Raft cluster of ferry's northbound database
# (Ferry_Northbound) on one machine, for trying and testing ferryd's
# --nb tcp:A,tcp:B,tcp:C. docs/ha.md explains the same on three hosts.
#
# Member N lives in $HA_DIR/mN: nb.db (the clustered database file),
# ovsdb-server.pid, ovsdb-server.ctl (unixctl), ovsdb-server.log, nb.sock.
# It listens for clients on tcp:$HA_HOST:<Nth of HA_NB_PORTS> and for its
# peers on tcp:$HA_HOST:<Nth of HA_RAFT_PORTS>. Member 1 creates the cluster
# (ovsdb-tool create-cluster), members 2 and 3 join it through member 1
# (ovsdb-tool join-cluster); they become members once started.
#
# Usage: cluster.sh create        (the three database files; the directory must not hold a cluster)
#        cluster.sh start [N...]  (ovsdb-server --detach per member; all by default)
#        cluster.sh stop [N...]   (SIGTERM by pidfile, then SIGKILL; all by default)
#        cluster.sh kill-member N [SIGNAL]  (default KILL: a crash, by pidfile)
#        cluster.sh status        (cluster/status of every running member)
#        cluster.sh leader        (prints "N TARGET" of the leader; exit 3 if there is none)
#        cluster.sh wait          (until every running member has joined and one leads; HA_WAIT s, default 20)
#        cluster.sh targets       (the --nb value: tcp:H:P1,tcp:H:P2,tcp:H:P3)
#        cluster.sh pid N         (the pid of member N's ovsdb-server, if running)
#        cluster.sh destroy       (stop, then remove HA_DIR)
# Env:   HA_DIR (default /tmp/ferry-ha), HA_HOST (default 127.0.0.1),
#        HA_NB_PORTS (default "6641 6741 6841"), HA_RAFT_PORTS (default
#        "6643 6743 6843"), HA_SCHEMA (default ovsdb/nb/nb.ovsschema of this
#        checkout).
# Processes are found by pidfile only, never by name: other ovsdb-servers
# (other clusters, other tests) may run on the same machine.
set -Eeuo pipefail
trap 'rc=$?; [[ $rc == 3 ]] || echo "cluster: failed (exit $rc) at line $LINENO: $BASH_COMMAND" >&2' ERR

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
HA_DIR=${HA_DIR:-/tmp/ferry-ha}
HA_HOST=${HA_HOST:-127.0.0.1}
read -r -a NB_PORTS <<<"${HA_NB_PORTS:-6641 6741 6841}"
read -r -a RAFT_PORTS <<<"${HA_RAFT_PORTS:-6643 6743 6843}"
HA_SCHEMA=${HA_SCHEMA:-$HERE/../../ovsdb/nb/nb.ovsschema}
DB=Ferry_Northbound
MEMBERS=(1 2 3)

die() { echo "cluster: $*" >&2; exit 3; }

[[ ${#NB_PORTS[@]} == 3 && ${#RAFT_PORTS[@]} == 3 ]] || die "HA_NB_PORTS and HA_RAFT_PORTS need three ports each"

dir() { echo "$HA_DIR/m$1"; }
raft() { echo "tcp:$HA_HOST:${RAFT_PORTS[$1 - 1]}"; }
target() { echo "tcp:$HA_HOST:${NB_PORTS[$1 - 1]}"; }
listen() { echo "ptcp:${NB_PORTS[$1 - 1]}:$HA_HOST"; }
ctl() { echo "$(dir "$1")/ovsdb-server.ctl"; }
member() { [[ $1 =~ ^[123]$ ]] || die "no member $1 (members are 1, 2, 3)"; }

# pid prints member N's pid if its pidfile names a live process.
pid() {
	local f p
	f="$(dir "$1")/ovsdb-server.pid"
	[[ -s $f ]] || return 1
	p=$(<"$f")
	[[ $p =~ ^[0-9]+$ ]] && alive "$p" || return 1
	echo "$p"
}

# alive: the process exists and is not a zombie nobody reaped yet.
alive() {
	local st
	st=$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null) || return 1
	[[ $st != Z ]]
}

# gone waits up to 5 s for a process to end.
gone() {
	local i
	for ((i = 0; i < 50; i++)); do
		alive "$1" || return 0
		sleep 0.1
	done
	return 1
}

create() {
	[[ -e $(dir 1)/nb.db ]] && die "$HA_DIR already holds a cluster (cluster.sh destroy first)"
	[[ -r $HA_SCHEMA ]] || die "no schema at $HA_SCHEMA (set HA_SCHEMA)"
	for n in "${MEMBERS[@]}"; do mkdir -p "$(dir "$n")"; done
	ovsdb-tool create-cluster "$(dir 1)/nb.db" "$HA_SCHEMA" "$(raft 1)"
	for n in 2 3; do
		ovsdb-tool join-cluster "$(dir "$n")/nb.db" "$DB" "$(raft "$n")" "$(raft 1)"
	done
	echo "cluster: created $DB in $HA_DIR; start it with: cluster.sh start"
}

start() {
	local n d
	for n in "$@"; do
		member "$n"
		d=$(dir "$n")
		[[ -e $d/nb.db ]] || die "member $n has no database (cluster.sh create first)"
		if pid "$n" >/dev/null; then
			echo "cluster: member $n already running (pid $(pid "$n"))"
			continue
		fi
		# A clustered database keeps its own raft address; --remote is the
		# client side. --no-chdir: the directory may be removed under it.
		OVS_RUNDIR=$d OVS_DBDIR=$d OVS_LOGDIR=$d ovsdb-server "$d/nb.db" \
			--remote="$(listen "$n")" --remote="punix:$d/nb.sock" \
			--pidfile="$d/ovsdb-server.pid" --unixctl="$(ctl "$n")" \
			--log-file="$d/ovsdb-server.log" -vconsole:off --detach --no-chdir
		echo "cluster: member $n running (pid $(pid "$n")), clients $(target "$n"), raft $(raft "$n")"
	done
}

stop() {
	local n p
	for n in "$@"; do
		member "$n"
		p=$(pid "$n") || continue
		kill -TERM "$p" 2>/dev/null || true
		gone "$p" || kill -KILL "$p" 2>/dev/null || true
		gone "$p" || true
		rm -f "$(dir "$n")/ovsdb-server.pid"
	done
}

status() {
	local n
	for n in "${MEMBERS[@]}"; do
		echo "== member $n: $(target "$n")"
		if pid "$n" >/dev/null; then
			ovs-appctl -t "$(ctl "$n")" cluster/status "$DB" || true
		else
			echo "not running"
		fi
	done
}

# leader asks every running member for its role; the leader says so itself.
leader() {
	local n st
	for n in "${MEMBERS[@]}"; do
		pid "$n" >/dev/null || continue
		st=$(ovs-appctl -t "$(ctl "$n")" cluster/status "$DB" 2>/dev/null) || continue
		if grep -q '^Role: leader$' <<<"$st"; then
			echo "$n $(target "$n")"
			return 0
		fi
	done
	return 1
}

# ready: every running member is a member (joined), and one is leader.
ready() {
	local n st
	for n in "${MEMBERS[@]}"; do
		pid "$n" >/dev/null || continue
		st=$(ovs-appctl -t "$(ctl "$n")" cluster/status "$DB" 2>/dev/null) || return 1
		grep -q '^Status: cluster member$' <<<"$st" || return 1
	done
	leader >/dev/null 2>&1
}

wait_ready() {
	local i
	for ((i = 0; i < ${HA_WAIT:-20} * 10; i++)); do
		ready && return 0
		sleep 0.1
	done
	die "no leader with every running member joined after ${HA_WAIT:-20} s"
}

cmd=${1:-}
shift || true
case $cmd in
create) create ;;
start) start "${@:-${MEMBERS[@]}}" ;;
stop) stop "${@:-${MEMBERS[@]}}" ;;
kill-member)
	[[ $# -ge 1 ]] || die "usage: cluster.sh kill-member N [SIGNAL]"
	member "$1"
	p=$(pid "$1") || die "member $1 is not running"
	kill -"${2:-KILL}" "$p"
	case ${2:-KILL} in KILL | 9 | TERM | 15) gone "$p" || die "member $1 (pid $p) did not end" ;; esac
	;;
status) status ;;
leader) leader || die "no leader" ;;
wait) wait_ready ;;
targets) echo "$(target 1),$(target 2),$(target 3)" ;;
pid)
	[[ $# -ge 1 ]] || die "usage: cluster.sh pid N"
	member "$1"
	pid "$1" || die "member $1 is not running"
	;;
destroy)
	stop "${MEMBERS[@]}"
	rm -rf "$HA_DIR"
	;;
*)
	sed -n '/^# Usage:/,/^# Env:/p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
	;;
esac
