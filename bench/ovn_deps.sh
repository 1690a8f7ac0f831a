#!/usr/bin/env bash
# ovn_deps.sh — install OVN (ovn-central, ovn-host: OVN 23.03 on Debian 12)
# for the benchmark's side-by-side comparison, if it is missing. Only
# `make bench` runs it; CI's `make test` does not need OVN (the OVN test
# skips with a reason without it).
#
# Services: the benchmark starts its own ovn-northd, NB/SB ovsdb-servers and
# ovn-controllers in a temporary directory. apt must not start the system
# ones: a policy-rc.d that denies every start is put in place for the
# install; should a package still have started a daemon, it is stopped by
# the pid in its own pidfile (never by name: other OVS/OVN instances may run
# on this machine).
set -euo pipefail
export PATH=$PATH:/usr/local/sbin:/usr/sbin:/sbin

need=(ovn-northd ovn-controller ovn-nbctl ovn-sbctl ovsdb-tool ovsdb-server)
schemas=(/usr/share/ovn/ovn-nb.ovsschema /usr/share/ovn/ovn-sb.ovsschema)
missing=()
for c in "${need[@]}"; do
	command -v "$c" >/dev/null 2>&1 || missing+=("$c")
done
for s in "${schemas[@]}"; do
	[[ -f $s ]] || missing+=("$s")
done
((${#missing[@]})) || exit 0

echo "ovn_deps: missing: ${missing[*]}"
if [[ $(id -u) != 0 ]]; then
	echo "ovn_deps: not root, not installing; the benchmark runs without OVN. To install:" \
		"apt-get install ovn-central ovn-host" >&2
	exit 0
fi

pidfiles=(/var/run/ovn/ovnnb_db.pid /var/run/ovn/ovnsb_db.pid /var/run/ovn/ovn-northd.pid
	/var/run/ovn/ovn-controller.pid /var/run/openvswitch/ovsdb-server.pid /var/run/openvswitch/ovs-vswitchd.pid)
live_before=()
for f in "${pidfiles[@]}"; do
	if [[ -f $f ]] && pid=$(cat "$f" 2>/dev/null) && [[ $pid =~ ^[0-9]+$ && -e /proc/$pid ]]; then
		live_before+=("$pid")
	fi
done
policy_added=0
if [[ ! -e /usr/sbin/policy-rc.d ]]; then
	printf '#!/bin/sh\n# ovn_deps: deny service starts during the install\nexit 101\n' >/usr/sbin/policy-rc.d
	chmod +x /usr/sbin/policy-rc.d
	policy_added=1
fi
trap 'if [[ $policy_added == 1 ]]; then rm -f /usr/sbin/policy-rc.d; fi' EXIT

export DEBIAN_FRONTEND=noninteractive
apt-get install -y ovn-central ovn-host || { apt-get update && apt-get install -y ovn-central ovn-host; }

for f in "${pidfiles[@]}"; do
	[[ -f $f ]] || continue
	pid=$(cat "$f" 2>/dev/null || true)
	[[ $pid =~ ^[0-9]+$ && -e /proc/$pid ]] || continue
	case " ${live_before[*]} " in *" $pid "*) continue ;; esac
	echo "ovn_deps: the package started $(tr '\0' ' ' </proc/"$pid"/cmdline | cut -c1-60) (pid $pid); stopping it"
	kill -TERM "$pid" || true
done
for c in "${need[@]}"; do
	command -v "$c" >/dev/null 2>&1 || { echo "ovn_deps: $c still missing after install" >&2; exit 1; }
done
