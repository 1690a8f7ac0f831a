#!/usr/bin/env bash
# lab.sh — a three-hypervisor Open vSwitch lab in network namespaces.
#
# Topology (every address is in 198.18.0.0/15 and lives inside namespaces this
# script creates; nothing touches the root namespace):
#
#   ${P}-mgmt   bridge mgmt0 198.18.255.1/24      (ferryd runs here)
#      │ veth "hvN" ── "mgmt" 198.18.255.1N/24 in ${P}-hvN
#   ${P}-hv1    br-phy 198.18.1.11/24  ┐
#   ${P}-hv2    br-phy 198.18.1.12/24  ┴ site A: bridge site-a 198.18.1.254/24 ┐ ${P}-rtr
#   ${P}-hv3    br-phy 198.18.2.13/24  ─ site B: bridge site-b 198.18.2.254/24 ┘ ip_forward=1
#
# Each hypervisor runs its own ovsdb-server (unix:$LAB_DIR/hvN/db.sock and
# ptcp:6640:198.18.255.1N) and ovs-vswitchd with the userspace datapath; br-phy
# carries the underlay address (OVS's userspace tunnels route with it) and
# br-int is pre-created empty for ferry to manage.
#
# Usage: lab.sh up | down | status
#        lab.sh guest HV NAME IP/PREFIX MAC IFACE_ID | unguest NAME
#        lab.sh xsguest HV NAME IP/PREFIX MAC BRIDGE VIF_UUID NETWORK_UUID DOMID [twin]
#        lab.sh migrate NAME HV    (move a guest's port, external_ids and all)
#        lab.sh exec NS CMD...     (NS: mgmt, rtr, hv1..hv3, a guest name, or a full name)
#        lab.sh ovs HV CMD...      (ovs-vsctl/ovs-ofctl/ovs-appctl against that hypervisor)
# Env:   LAB_PREFIX (default fy), LAB_DIR (default /tmp/ferry-lab-$LAB_PREFIX)
set -Eeuo pipefail
# die exits 3 and has already said why; anything else failing is unexpected.
trap 'rc=$?; [[ $rc == 3 ]] || echo "lab: failed (exit $rc) at line $LINENO: $BASH_COMMAND" >&2' ERR

P=${LAB_PREFIX:-fy}
LAB_DIR=${LAB_DIR:-/tmp/ferry-lab-$P}
HVS=(hv1 hv2 hv3)
MGMT_IP=198.18.255.1

if [[ ! $P =~ ^[a-z][a-z0-9]{0,7}$ ]]; then
	echo "lab: LAB_PREFIX must be 1-8 lowercase letters/digits starting with a letter, got '$P'" >&2
	exit 2
fi
case $LAB_DIR in
/ | "" | /tmp | /tmp/) echo "lab: refusing LAB_DIR=$LAB_DIR" >&2; exit 2 ;;
esac

log() { echo "lab[$P]: $*" >&2; }
die() { echo "lab[$P]: error: $*" >&2; exit 3; }

hv_index() { # hv1 -> 1
	case $1 in hv1) echo 1 ;; hv2) echo 2 ;; hv3) echo 3 ;; *) die "unknown hypervisor '$1' (hv1, hv2, hv3)" ;; esac
}
hv_mgmt_ip() { echo "198.18.255.1$(hv_index "$1")"; }
hv_tunnel_ip() {
	case $1 in hv1) echo 198.18.1.11 ;; hv2) echo 198.18.1.12 ;; hv3) echo 198.18.2.13 ;; esac
}
hv_site() { case $1 in hv3) echo b ;; *) echo a ;; esac; }
site_gw() { case $1 in a) echo 198.18.1.254 ;; b) echo 198.18.2.254 ;; esac; }

# ns_of NAME: short name (mgmt, rtr, hv1, guest) or full namespace name.
ns_of() {
	if ip netns list | awk '{print $1}' | grep -qx -- "$P-$1"; then
		echo "$P-$1"
	elif ip netns list | awk '{print $1}' | grep -qx -- "$1"; then
		echo "$1"
	else
		die "no namespace '$1' (or '$P-$1')"
	fi
}

lab_namespaces() { ip netns list | awk '{print $1}' | grep -- "^$P-" || true; }

# ovs_env HV: the environment that points every OVS tool at this hypervisor's daemons.
ovs_env() {
	local d=$LAB_DIR/$1
	echo "OVS_RUNDIR=$d OVS_DBDIR=$d OVS_LOGDIR=$d OVS_SYSCONFDIR=$d"
}

in_hv() { # in_hv HV CMD...: run with that hypervisor's OVS environment in its namespace
	local hv=$1
	shift
	# shellcheck disable=SC2046
	ip netns exec "$P-$hv" env $(ovs_env "$hv") "$@"
}

vsctl() { local hv=$1; shift; in_hv "$hv" ovs-vsctl --timeout=20 "$@"; }

# ---------------------------------------------------------------- down

# stop_pid PID: SIGTERM, wait, SIGKILL — only if the process belongs to this lab
# (its command line names LAB_DIR), so a recycled pid is never hit.
stop_pid() {
	local pid=$1 i
	[[ $pid =~ ^[0-9]+$ ]] || return 0
	[[ -r /proc/$pid/cmdline ]] || return 0
	if ! tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$LAB_DIR"; then
		return 0
	fi
	kill -TERM "$pid" 2>/dev/null || return 0
	for i in $(seq 50); do
		[[ -e /proc/$pid ]] || return 0
		# A zombie whose parent has not reaped it yet counts as gone.
		[[ $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) == Z ]] && return 0
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
}

cmd_down() {
	local f ns pid
	if [[ -d $LAB_DIR ]]; then
		# ovs-vswitchd first so it does not spin reconnecting to a dead ovsdb-server.
		for f in "$LAB_DIR"/*/ovs-vswitchd.pid "$LAB_DIR"/*/ovsdb-server.pid "$LAB_DIR"/*.pid "$LAB_DIR"/*/*.pid; do
			[[ -f $f ]] || continue
			stop_pid "$(cat "$f" 2>/dev/null || true)"
		done
	fi
	# Anything still running inside a lab namespace was started for the lab
	# (a guest's ping, a capture, ferryd): stop it so the namespace really goes.
	for ns in $(lab_namespaces); do
		for pid in $(ip netns pids "$ns" 2>/dev/null || true); do
			kill -TERM "$pid" 2>/dev/null || true
		done
	done
	for ns in $(lab_namespaces); do
		for pid in $(ip netns pids "$ns" 2>/dev/null || true); do
			for _ in $(seq 20); do [[ -e /proc/$pid ]] || break; sleep 0.1; done
			kill -KILL "$pid" 2>/dev/null || true
		done
		ip netns del "$ns" 2>/dev/null || true
	done
	# Links live inside the namespaces and die with them; sweep the root
	# namespace anyway in case a half-built run left a "${P}-…" link there.
	for l in $(ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1 | grep -- "^$P-" || true); do
		ip link del "$l" 2>/dev/null || true
	done
	rm -rf -- "$LAB_DIR"
}

# ---------------------------------------------------------------- up

start_ovs() {
	local hv=$1 d=$LAB_DIR/$1 mip
	mip=$(hv_mgmt_ip "$hv")
	mkdir -p "$d"
	ovsdb-tool create "$d/conf.db" /usr/share/openvswitch/vswitch.ovsschema
	in_hv "$hv" ovsdb-server "$d/conf.db" \
		--remote=punix:"$d/db.sock" --remote=ptcp:6640:"$mip" \
		--remote=db:Open_vSwitch,Open_vSwitch,manager_options \
		--pidfile="$d/ovsdb-server.pid" -vconsole:off --log-file="$d/ovsdb-server.log" \
		--detach --no-chdir
	in_hv "$hv" ovs-vsctl --db=unix:"$d/db.sock" --no-wait init
	in_hv "$hv" ovs-vsctl --db=unix:"$d/db.sock" --no-wait set Open_vSwitch . \
		external_ids:system-id="$hv" external_ids:hostname="$hv"
	in_hv "$hv" ovs-vswitchd unix:"$d/db.sock" \
		--pidfile="$d/ovs-vswitchd.pid" -vconsole:off --log-file="$d/ovs-vswitchd.log" \
		--detach --no-chdir
}

cmd_up() {
	local hv ns site mac tip gw ok
	if [[ -e $LAB_DIR ]] || [[ -n $(lab_namespaces) ]]; then
		log "tearing down the previous lab first"
		cmd_down
	fi
	mkdir -p "$LAB_DIR/guests"
	# If anything below fails, leave nothing half-built behind.
	UP_DONE=0
	trap 'if [[ $UP_DONE != 1 ]]; then log "up failed; tearing down"; cmd_down; fi' EXIT

	for ns in mgmt rtr "${HVS[@]}"; do
		ip netns add "$P-$ns"
		ip -n "$P-$ns" link set lo up
	done

	# Management network: one bridge, one veth per hypervisor.
	ip -n "$P-mgmt" link add mgmt0 type bridge
	ip -n "$P-mgmt" addr add "$MGMT_IP/24" dev mgmt0
	ip -n "$P-mgmt" link set mgmt0 up

	# Router: one bridge per site.
	ip netns exec "$P-rtr" sysctl -qw net.ipv4.ip_forward=1
	for site in a b; do
		ip -n "$P-rtr" link add "site-$site" type bridge
		ip -n "$P-rtr" addr add "$(site_gw $site)/24" dev "site-$site"
		ip -n "$P-rtr" link set "site-$site" up
	done

	for hv in "${HVS[@]}"; do
		ns=$P-$hv
		site=$(hv_site "$hv")
		tip=$(hv_tunnel_ip "$hv")
		gw=$(site_gw "$site")

		ip link add mgmt netns "$ns" type veth peer name "$hv" netns "$P-mgmt"
		ip -n "$P-mgmt" link set "$hv" master mgmt0 up
		ip -n "$ns" addr add "$(hv_mgmt_ip "$hv")/24" dev mgmt
		ip -n "$ns" link set mgmt up

		ip link add ul netns "$ns" type veth peer name "$hv" netns "$P-rtr"
		ip -n "$P-rtr" link set "$hv" master "site-$site" up
		ip -n "$ns" link set ul up
		# Offloaded (partial) checksums do not survive the userspace datapath.
		ip netns exec "$ns" ethtool -K ul tx off >/dev/null
		ip netns exec "$P-rtr" ethtool -K "$hv" tx off >/dev/null

		start_ovs "$hv"
		mac=$(ip netns exec "$ns" cat /sys/class/net/ul/address)
		vsctl "$hv" add-br br-phy -- set bridge br-phy datapath_type=netdev \
			other_config:hwaddr="$mac" -- add-port br-phy ul
		ip -n "$ns" addr add "$tip/24" dev br-phy
		ip -n "$ns" link set br-phy up
		# The mgmt /24 on "mgmt" stays more specific than this /16.
		ip -n "$ns" route add 198.18.0.0/16 via "$gw" dev br-phy
		vsctl "$hv" add-br br-int -- set bridge br-int datapath_type=netdev
	done

	# Self-check: routed underlay and remote OVSDB access.
	ok=0
	for _ in $(seq 20); do
		if ip netns exec "$P-hv1" ping -q -c 1 -W 1 198.18.2.13 >/dev/null 2>&1; then ok=1; break; fi
		sleep 0.25
	done
	if [[ $ok != 1 ]]; then
		die "self-check failed: hv1 cannot ping hv3's underlay address 198.18.2.13"
	fi
	for hv in "${HVS[@]}"; do
		if ! ip netns exec "$P-mgmt" ovs-vsctl --timeout=5 --db="tcp:$(hv_mgmt_ip "$hv"):6640" \
			get Open_vSwitch . external_ids:system-id >/dev/null; then
			die "self-check failed: $hv's ovsdb does not answer on tcp:$(hv_mgmt_ip "$hv"):6640"
		fi
	done
	UP_DONE=1
	log "up: ${HVS[*]} ready (state in $LAB_DIR)"
}

# ---------------------------------------------------------------- guests

cmd_guest() {
	[[ $# == 5 ]] || die "usage: guest HV NAME IP/PREFIX MAC IFACE_ID"
	local hv=$1 name=$2 cidr=$3 mac=$4 ifid=$5 port vmid
	hv_index "$hv" >/dev/null
	[[ $name =~ ^[a-z0-9][a-z0-9_-]{0,12}$ ]] || die "guest name must be 1-13 chars [a-z0-9_-], got '$name'"
	case $name in mgmt | rtr | hv[0-9]*) die "guest name '$name' is reserved" ;; esac
	[[ -d $LAB_DIR ]] || die "no lab at $LAB_DIR (run up first)"
	port=v-$name
	vmid=$(cat /proc/sys/kernel/random/uuid)
	ip netns add "$P-$name"
	GUEST_DONE=0
	# hv and name are validated above, so they can be expanded into the trap now.
	trap "if [[ \$GUEST_DONE != 1 ]]; then echo $hv >\"\$LAB_DIR/guests/$name\"; cmd_unguest $name; fi" EXIT
	ip -n "$P-$name" link set lo up
	ip link add eth0 netns "$P-$name" type veth peer name "$port" netns "$P-$hv"
	ip -n "$P-$name" link set eth0 address "$mac" mtu 1400
	ip -n "$P-$name" addr add "$cidr" dev eth0
	ip netns exec "$P-$name" ethtool -K eth0 tx off >/dev/null
	ip -n "$P-$name" link set eth0 up
	ip -n "$P-$hv" link set "$port" up
	vsctl "$hv" add-port br-int "$port" -- set Interface "$port" \
		external_ids:iface-id="$ifid" external_ids:attached-mac="$mac" \
		external_ids:iface-status=active external_ids:vm-id="$vmid"
	echo "$hv br-int $port" >"$LAB_DIR/guests/$name"
	GUEST_DONE=1
}

# xsguest HV NAME IP/PREFIX MAC BRIDGE VIF_UUID NETWORK_UUID DOMID [twin]:
# a XenServer-style guest: port vifDOMID.0 on BRIDGE (created, netdev, if
# missing) with the external_ids xapi sets; "twin" adds the emulated
# tapDOMID.0 twin, inactive, as XenServer does for HVM guests with PV
# drivers.
cmd_xsguest() {
	[[ $# == 8 || $# == 9 ]] || die "usage: xsguest HV NAME IP/PREFIX MAC BRIDGE VIF_UUID NETWORK_UUID DOMID [twin]"
	local hv=$1 name=$2 cidr=$3 mac=$4 br=$5 vif=$6 net=$7 dom=$8 twin=${9:-} port vm
	hv_index "$hv" >/dev/null
	[[ $name =~ ^[a-z0-9][a-z0-9_-]{0,12}$ ]] || die "guest name must be 1-13 chars [a-z0-9_-], got '$name'"
	[[ $dom =~ ^[0-9]{1,4}$ ]] || die "domid must be a number"
	[[ -d $LAB_DIR ]] || die "no lab at $LAB_DIR (run up first)"
	port=vif$dom.0
	vm=$(cat /proc/sys/kernel/random/uuid)
	vsctl "$hv" --may-exist add-br "$br" -- set bridge "$br" datapath_type=netdev
	ip netns add "$P-$name"
	GUEST_DONE=0
	trap "if [[ \$GUEST_DONE != 1 ]]; then echo '$hv $br $port' >\"\$LAB_DIR/guests/$name\"; cmd_unguest $name; fi" EXIT
	ip -n "$P-$name" link set lo up
	ip link add eth0 netns "$P-$name" type veth peer name "$port" netns "$P-$hv"
	ip -n "$P-$name" link set eth0 address "$mac" mtu 1400
	ip -n "$P-$name" addr add "$cidr" dev eth0
	ip netns exec "$P-$name" ethtool -K eth0 tx off >/dev/null
	ip -n "$P-$name" link set eth0 up
	ip -n "$P-$hv" link set "$port" up
	vsctl "$hv" add-port "$br" "$port" -- set Interface "$port" \
		external_ids:xs-vif-uuid="$vif" external_ids:xs-vm-uuid="$vm" \
		external_ids:xs-network-uuid="$net" external_ids:attached-mac="$mac" \
		external_ids:iface-status=active
	if [[ $twin == twin ]]; then
		vsctl "$hv" add-port "$br" "tap$dom.0" -- set Interface "tap$dom.0" type=internal \
			external_ids:xs-vif-uuid="$vif" external_ids:xs-vm-uuid="$vm" \
			external_ids:xs-network-uuid="$net" external_ids:attached-mac="$mac" \
			external_ids:iface-status=inactive
	fi
	echo "$hv $br $port" >"$LAB_DIR/guests/$name"
	GUEST_DONE=1
}

# migrate NAME HV: move a guest's port to another hypervisor, keeping its
# external_ids, as a live migration does (the VM's interface disappears from
# one host and appears on the other).
cmd_migrate() {
	[[ $# == 2 ]] || die "usage: migrate NAME HV"
	local name=$1 to=$2 from br port ids
	hv_index "$to" >/dev/null
	[[ -f $LAB_DIR/guests/$name ]] || die "no guest $name"
	read -r from br port <"$LAB_DIR/guests/$name"
	br=${br:-br-int} port=${port:-v-$name}
	[[ $from != "$to" ]] || die "$name is already on $to"
	ids=$(vsctl "$from" get Interface "$port" external_ids)
	vsctl "$from" del-port "$br" "$port"
	ip -n "$P-$from" link set "$port" netns "$P-$to"
	ip -n "$P-$to" link set "$port" up
	vsctl "$to" --may-exist add-br "$br" -- set bridge "$br" datapath_type=netdev
	vsctl "$to" add-port "$br" "$port" -- set Interface "$port" external_ids="$ids"
	echo "$to $br $port" >"$LAB_DIR/guests/$name"
}

cmd_unguest() {
	[[ $# == 1 ]] || die "usage: unguest NAME"
	local name=$1 hv
	if [[ -f $LAB_DIR/guests/$name ]]; then
		local br port
		read -r hv br port <"$LAB_DIR/guests/$name"
		vsctl "$hv" --if-exists del-port "${br:-br-int}" "${port:-v-$name}" || true
		[[ $port == vif* ]] && vsctl "$hv" --if-exists del-port "${br}" "tap${port#vif}" || true
		rm -f "$LAB_DIR/guests/$name"
	fi
	for pid in $(ip netns pids "$P-$name" 2>/dev/null || true); do kill -KILL "$pid" 2>/dev/null || true; done
	ip netns del "$P-$name" 2>/dev/null || true
}

# ---------------------------------------------------------------- misc

cmd_exec() {
	[[ $# -ge 2 ]] || die "usage: exec NS CMD..."
	local ns=$1
	shift
	case $ns in
	# exec: the caller's pid becomes the command's, so it can be signalled.
	hv1 | hv2 | hv3) exec ip netns exec "$P-$ns" env $(ovs_env "$ns") "$@" ;;
	*) ns=$(ns_of "$ns") && exec ip netns exec "$ns" "$@" ;;
	esac
}

cmd_ovs() {
	[[ $# -ge 2 ]] || die "usage: ovs HV CMD..."
	local hv=$1
	hv_index "$hv" >/dev/null
	shift
	[[ -d $LAB_DIR/$hv ]] || die "no lab at $LAB_DIR (run up first)"
	# shellcheck disable=SC2046
	exec ip netns exec "$P-$hv" env $(ovs_env "$hv") "$@"
}

cmd_status() {
	local hv ns src dst r
	echo "lab prefix: $P    state: $LAB_DIR"
	echo "namespaces:"
	for ns in $(lab_namespaces); do echo "  $ns"; done
	[[ -d $LAB_DIR ]] || { echo "(no lab state directory)"; return 0; }
	echo "underlay (kernel ping from br-phy's address):"
	for src in "${HVS[@]}"; do
		for dst in "${HVS[@]}"; do
			[[ $src == "$dst" ]] && continue
			if ip netns exec "$P-$src" ping -q -c 1 -W 1 "$(hv_tunnel_ip "$dst")" >/dev/null 2>&1; then r=ok; else r=FAIL; fi
			printf '  %s -> %s (%s): %s\n' "$src" "$dst" "$(hv_tunnel_ip "$dst")" "$r"
		done
	done
	echo "ovsdb from ${P}-mgmt:"
	for hv in "${HVS[@]}"; do
		if ip netns exec "$P-mgmt" ovs-vsctl --timeout=3 --db="tcp:$(hv_mgmt_ip "$hv"):6640" show >/dev/null 2>&1; then r=ok; else r=FAIL; fi
		printf '  tcp:%s:6640 (%s): %s\n' "$(hv_mgmt_ip "$hv")" "$hv" "$r"
	done
	echo "guests:"
	for f in "$LAB_DIR"/guests/*; do
		[[ -f $f ]] || continue
		printf '  %s on %s\n' "$(basename "$f")" "$(cat "$f")"
	done
}

usage() {
	sed -n '2,/^set -/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
}

[[ $# -ge 1 ]] || { usage >&2; exit 2; }
cmd=$1
shift
case $cmd in
up | down | status | guest | xsguest | migrate | unguest | exec | ovs)
	if [[ $(id -u) != 0 ]]; then die "must run as root"; fi
	"cmd_$cmd" "$@"
	;;
help | -h | --help) usage ;;
*) usage >&2; exit 2 ;;
esac
