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
# With LAB_TLS=1, "up" builds an OVS PKI with ovs-pki in $LAB_DIR/pki and runs
# the lab with TLS only: each OVS host's ovsdb-server listens on
# pssl:6640:MGMT_IP (no ptcp) with its own switch certificate, and its
# ovs-vswitchd gets the same identity (ovs-vsctl set-ssl) for ssl: controller
# connections. As ovs-pki(8) intends, ferryd's certificate is signed by
# controllerca and trusts switchca; the OVS hosts' certificates are signed by
# switchca and trust controllerca. A second PKI, pki/rogue-ca, signs
# pki/rogue-{privkey,cert}.pem: a switch certificate ferry must refuse.
#   pki/ferryd-{privkey,cert}.pem  pki/ca/switchca/cacert.pem      (for ferryd)
#   pki/HOST-{privkey,cert}.pem    pki/ca/controllerca/cacert.pem  (hv1..hv3, gw1)
#
# "lab.sh gateway" adds a VTEP gateway site (a separate step: up stays fast):
#
#   ${P}-gw1    br-phy 198.18.3.31/24 ─ site C: bridge site-c 198.18.3.254/24 on ${P}-rtr
#               mgmt 198.18.255.31/24; ovsdb-server with conf.db AND vtep.db
#               (ptcp:6640:198.18.255.31), ovs-vswitchd, ovs-vtep for the
#               physical switch vtep0 (tunnel_ips 198.18.3.31), ports p0, p1
#   p0 ── eth0 of a bare-metal server (lab.sh baremetal), untagged
#   p1 ── uplink (trunk) of ${P}-esx1: its own ovsdb-server + ovs-vswitchd,
#         bridge vsw0; VMs on access ports tag=VLAN (lab.sh esxvm)
#
# Usage: lab.sh up | down | status
#        lab.sh gateway [up|down]  (add/remove only the VTEP gateway site; "lab.sh down" removes all)
#        lab.sh baremetal NAME IP/PREFIX MAC [PORT]  (server on gateway port PORT, default p0)
#        lab.sh esxvm NAME IP/PREFIX MAC VLAN  (VM on esx1's vsw0, access port tag=VLAN; 0 = untagged)
#        lab.sh guest HV NAME IP/PREFIX MAC IFACE_ID | unguest NAME
#        lab.sh xsguest HV NAME IP/PREFIX MAC BRIDGE VIF_UUID NETWORK_UUID DOMID [twin]
#        lab.sh migrate NAME HV    (move a guest's port, external_ids and all)
#        lab.sh daemon HOST kill|start ovsdb-server|ovs-vswitchd [SIGNAL]
#                                  (a daemon fault and its repair, as up started it)
#        lab.sh cut mgmt|ul HOST down|loss | heal mgmt|ul HOST  (a link fault and its repair)
#        lab.sh exec NS CMD...     (NS: mgmt, rtr, hv1..hv3, gw1, esx1, a guest name, or a full name)
#        lab.sh ovs HV CMD...      (ovs-vsctl/ovs-ofctl/ovs-appctl/vtep-ctl against hv1..hv3, gw1, esx1)
# Env:   LAB_PREFIX (default fy), LAB_DIR (default /tmp/ferry-lab-$LAB_PREFIX),
#        LAB_TLS=1 (up only: TLS everywhere; later commands follow the lab's mode)
set -Eeuo pipefail
# die exits 3 and has already said why; anything else failing is unexpected.
trap 'rc=$?; [[ $rc == 3 ]] || echo "lab: failed (exit $rc) at line $LINENO: $BASH_COMMAND" >&2' ERR

P=${LAB_PREFIX:-fy}
LAB_DIR=${LAB_DIR:-/tmp/ferry-lab-$P}
HVS=(hv1 hv2 hv3)
MGMT_IP=198.18.255.1
# The VTEP gateway site (lab.sh gateway).
GW=gw1
GW_MGMT_IP=198.18.255.31
GW_TUNNEL_IP=198.18.3.31
GW_PS=vtep0
ESX=esx1
ESX_BR=vsw0
OVS_VTEP=/usr/share/openvswitch/scripts/ovs-vtep

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
site_gw() { case $1 in a) echo 198.18.1.254 ;; b) echo 198.18.2.254 ;; c) echo 198.18.3.254 ;; esac; }

# ovs_host NAME: succeeds for the namespaces that run their own OVS daemons.
ovs_host() { case $1 in hv1 | hv2 | hv3 | "$GW" | "$ESX") return 0 ;; *) return 1 ;; esac; }

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

# ---------------------------------------------------------------- TLS

PKI=$LAB_DIR/pki

# tls_on: the lab was built with LAB_TLS=1 (its PKI exists).
tls_on() { [[ -f $PKI/ferryd-cert.pem ]]; }

# mgmt_target IP: the OVSDB target of an OVS host's management address.
mgmt_target() { if tls_on; then echo "ssl:$1:6640"; else echo "tcp:$1:6640"; fi; }

# mgmt_ssl: the options an OVS client in ${P}-mgmt needs to reach an OVS
# host over TLS, with ferryd's identity (none without TLS).
mgmt_ssl() {
	tls_on || return 0
	echo "--private-key=$PKI/ferryd-privkey.pem --certificate=$PKI/ferryd-cert.pem --ca-cert=$PKI/ca/switchca/cacert.pem"
}

# pki_sign NAME TYPE [CA_DIR]: NAME-privkey.pem and NAME-cert.pem in $PKI,
# signed by CA_DIR's (default $PKI/ca) switchca or controllerca.
pki_sign() {
	local dir=${3:-$PKI/ca}
	(cd "$PKI" && ovs-pki --dir="$dir" --log="$PKI/ovs-pki.log" req+sign "$1" "$2" >>"$PKI/ovs-pki.log" 2>&1) ||
		die "ovs-pki req+sign $1 $2 failed (see $PKI/ovs-pki.log)"
	rm -f "$PKI/$1-req.pem"
}

pki_up() {
	local hv
	command -v ovs-pki >/dev/null || die "LAB_TLS=1 needs ovs-pki (package openvswitch-common)"
	mkdir -p "$PKI"
	ovs-pki --dir="$PKI/ca" --log="$PKI/ovs-pki.log" init >>"$PKI/ovs-pki.log" 2>&1 ||
		die "ovs-pki init failed (see $PKI/ovs-pki.log)"
	ovs-pki --dir="$PKI/rogue-ca" --log="$PKI/ovs-pki.log" init >>"$PKI/ovs-pki.log" 2>&1 ||
		die "ovs-pki init of the rogue CA failed (see $PKI/ovs-pki.log)"
	for hv in "${HVS[@]}" "$GW"; do pki_sign "$hv" switch; done
	pki_sign rogue switch "$PKI/rogue-ca"
	# Last: tls_on keys on it, so a half-built PKI is not TLS mode.
	pki_sign ferryd controller
}

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
		# ovs-vtep, then ovs-vswitchd, so neither spins reconnecting to a dead ovsdb-server.
		for f in "$LAB_DIR"/*/ovs-vtep.pid "$LAB_DIR"/*/ovs-vswitchd.pid "$LAB_DIR"/*/ovsdb-server.pid "$LAB_DIR"/*.pid "$LAB_DIR"/*/*.pid; do
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

start_ovs() { start_daemons "$1" "$(hv_mgmt_ip "$1")"; }

# start_daemons NAME MGMT_IP [vtep]: ovsdb-server and ovs-vswitchd for one
# OVS host; with MGMT_IP, OVSDB also listens on tcp:MGMT_IP:6640 (in TLS
# mode ssl:MGMT_IP:6640, and ovs-vswitchd has the host's identity); with
# "vtep", the same ovsdb-server also serves a hardware_vtep database
# (vtep.db), as a VTEP switch does.
start_daemons() {
	local hv=$1 mip=$2 vtep=${3:-} d=$LAB_DIR/$1
	mkdir -p "$d"
	ovsdb-tool create "$d/conf.db" /usr/share/openvswitch/vswitch.ovsschema
	if [[ $vtep == vtep ]]; then
		ovsdb-tool create "$d/vtep.db" /usr/share/openvswitch/vtep.ovsschema
	fi
	run_ovsdb_server "$hv" "$mip" "$vtep"
	in_hv "$hv" ovs-vsctl --db=unix:"$d/db.sock" --no-wait init
	in_hv "$hv" ovs-vsctl --db=unix:"$d/db.sock" --no-wait set Open_vSwitch . \
		external_ids:system-id="$hv" external_ids:hostname="$hv"
	if [[ -n $mip ]] && tls_on; then
		# ovs-vswitchd's identity for ssl: controllers (ferryd).
		in_hv "$hv" ovs-vsctl --db=unix:"$d/db.sock" --no-wait set-ssl \
			"$PKI/$hv-privkey.pem" "$PKI/$hv-cert.pem" "$PKI/ca/controllerca/cacert.pem"
	fi
	run_vswitchd "$hv"
}

# run_ovsdb_server NAME MGMT_IP [vtep]: start the host's ovsdb-server on
# its existing database files (start_daemons creates them; "lab.sh daemon"
# restarts a killed server on the same ones).
run_ovsdb_server() {
	local hv=$1 mip=$2 vtep=${3:-} d=$LAB_DIR/$1
	local dbs=("$d/conf.db") remotes=(--remote=punix:"$d/db.sock") ssl=()
	if [[ -n $mip ]] && tls_on; then
		ssl=(--private-key="$PKI/$hv-privkey.pem" --certificate="$PKI/$hv-cert.pem"
			--ca-cert="$PKI/ca/controllerca/cacert.pem")
		remotes+=(--remote=pssl:6640:"$mip")
	elif [[ -n $mip ]]; then
		remotes+=(--remote=ptcp:6640:"$mip")
	fi
	remotes+=(--remote=db:Open_vSwitch,Open_vSwitch,manager_options)
	if [[ $vtep == vtep ]]; then
		dbs+=("$d/vtep.db")
		# vtep-ctl set-manager makes the switch dial its NVC.
		remotes+=(--remote=db:hardware_vtep,Global,managers)
	fi
	in_hv "$hv" ovsdb-server "${dbs[@]}" "${remotes[@]}" ${ssl[@]+"${ssl[@]}"} \
		--pidfile="$d/ovsdb-server.pid" -vconsole:off --log-file="$d/ovsdb-server.log" \
		--detach --no-chdir
}

run_vswitchd() {
	local d=$LAB_DIR/$1
	in_hv "$1" ovs-vswitchd unix:"$d/db.sock" \
		--pidfile="$d/ovs-vswitchd.pid" -vconsole:off --log-file="$d/ovs-vswitchd.log" \
		--detach --no-chdir
}

# host_mgmt_ip HOST: an OVS host's management address ("" for esx1, which
# has none).
host_mgmt_ip() {
	case $1 in
	hv1 | hv2 | hv3) hv_mgmt_ip "$1" ;;
	"$GW") echo "$GW_MGMT_IP" ;;
	*) echo "" ;;
	esac
}

# host_underlay HOST: "TUNNEL_IP ROUTER" of a host whose underlay address
# lives on br-phy (nothing for esx1).
host_underlay() {
	case $1 in
	hv1 | hv2 | hv3) echo "$(hv_tunnel_ip "$1") $(site_gw "$(hv_site "$1")")" ;;
	"$GW") echo "$GW_TUNNEL_IP $(site_gw c)" ;;
	esac
}

# restore_underlay HOST: br-phy is a tap device of ovs-vswitchd's userspace
# datapath. It survives a killed ovs-vswitchd here, but should it have to be
# recreated it comes back bare: make sure the underlay address and route are
# there, as a host's network configuration would (idempotent).
restore_underlay() {
	local host=$1 ns=$P-$1 tip gw ok=0
	read -r tip gw <<<"$(host_underlay "$host")"
	[[ -n ${tip:-} ]] || return 0
	for _ in $(seq 100); do
		if ip -n "$ns" link show br-phy >/dev/null 2>&1; then ok=1; break; fi
		sleep 0.1
	done
	[[ $ok == 1 ]] || die "$host: br-phy did not come back after ovs-vswitchd started"
	ip -n "$ns" addr replace "$tip/24" dev br-phy
	ip -n "$ns" link set br-phy up
	ip -n "$ns" route replace 198.18.0.0/16 via "$gw" dev br-phy
}

# lab_daemon_pid HOST DAEMON: the pid in the daemon's pidfile if it is a
# live process of this lab (its command line names LAB_DIR), else nothing.
lab_daemon_pid() {
	local f=$LAB_DIR/$1/$2.pid pid
	[[ -f $f ]] || return 0
	pid=$(cat "$f" 2>/dev/null || true)
	[[ $pid =~ ^[0-9]+$ && -r /proc/$pid/cmdline ]] || return 0
	[[ $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) != Z ]] || return 0
	tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$LAB_DIR" || return 0
	echo "$pid"
}

# daemon HOST kill|start DAEMON [SIGNAL]: a fault and its repair. kill
# sends SIGNAL (default KILL) to the host's ovsdb-server or ovs-vswitchd by
# its pidfile and waits until it is gone; start runs it again as "up" did,
# on the same database, and restores what died with it.
cmd_daemon() {
	[[ $# == 3 || $# == 4 ]] || die "usage: daemon HOST kill|start ovsdb-server|ovs-vswitchd [SIGNAL]"
	local host=$1 action=$2 daemon=$3 sig=${4:-KILL} pid vtep=""
	ovs_host "$host" || die "unknown OVS host '$host' (hv1, hv2, hv3, $GW, $ESX)"
	[[ -d $LAB_DIR/$host ]] || die "no $host at $LAB_DIR"
	case $daemon in ovsdb-server | ovs-vswitchd) ;; *) die "daemon must be ovsdb-server or ovs-vswitchd, got '$daemon'" ;; esac
	[[ $sig =~ ^[A-Z0-9]+$ ]] || die "bad signal '$sig'"
	pid=$(lab_daemon_pid "$host" "$daemon")
	case $action in
	kill)
		[[ -n $pid ]] || die "$host's $daemon is not running"
		kill -"$sig" "$pid"
		for _ in $(seq 100); do
			[[ -n $(lab_daemon_pid "$host" "$daemon") ]] || return 0
			sleep 0.1
		done
		die "$host's $daemon (pid $pid) still runs 10 s after SIG$sig"
		;;
	start)
		[[ -z $pid ]] || die "$host's $daemon already runs (pid $pid)"
		case $daemon in
		ovsdb-server)
			[[ $host != "$GW" ]] || vtep=vtep
			run_ovsdb_server "$host" "$(host_mgmt_ip "$host")" "$vtep"
			# The host is whole again when its ovs-vswitchd has reconnected
			# (its own backoff reaches 8 s) and rewritten the ephemeral
			# columns, datapath_id among them, that a controller needs.
			if [[ -n $(lab_daemon_pid "$host" ovs-vswitchd) ]]; then
				for _ in $(seq 200); do
					[[ $(vsctl "$host" --columns=datapath_id --bare list Bridge 2>/dev/null | tr -d '[:space:]') != "" ]] && return 0
					sleep 0.1
				done
				die "$host's ovs-vswitchd did not reconnect to its restarted ovsdb-server within 20 s"
			fi
			;;
		ovs-vswitchd)
			run_vswitchd "$host"
			restore_underlay "$host"
			;;
		esac
		;;
	*) die "usage: daemon HOST kill|start DAEMON [SIGNAL]" ;;
	esac
}

# link_ends LINK HOST: "NS DEV" for both ends of a host's mgmt or ul veth.
link_ends() {
	case $1 in
	mgmt) echo "$P-$2 mgmt $P-mgmt $2" ;;
	ul) echo "$P-$2 ul $P-rtr $2" ;;
	*) die "link must be mgmt or ul, got '$1'" ;;
	esac
}

# cut LINK HOST down|loss: cut a host's management (mgmt) or underlay (ul)
# link. "down" sets the host's end down (both sides see no carrier); "loss"
# leaves the link up and silently drops everything both ways (a blackhole
# qdisc on both ends: 100 % loss, as a failed switch in between would; this
# kernel has no netem). heal LINK HOST undoes either.
cmd_cut() {
	[[ $# == 3 ]] || die "usage: cut mgmt|ul HOST down|loss"
	local ns1 dev1 ns2 dev2
	ovs_host "$2" || die "unknown OVS host '$2'"
	read -r ns1 dev1 ns2 dev2 <<<"$(link_ends "$1" "$2")"
	case $3 in
	down) ip -n "$ns1" link set "$dev1" down ;;
	loss)
		ip netns exec "$ns1" tc qdisc replace dev "$dev1" root blackhole
		ip netns exec "$ns2" tc qdisc replace dev "$dev2" root blackhole
		;;
	*) die "mode must be down or loss, got '$3'" ;;
	esac
}

cmd_heal() {
	[[ $# == 2 ]] || die "usage: heal mgmt|ul HOST"
	local ns1 dev1 ns2 dev2
	ovs_host "$2" || die "unknown OVS host '$2'"
	read -r ns1 dev1 ns2 dev2 <<<"$(link_ends "$1" "$2")"
	ip netns exec "$ns1" tc qdisc del dev "$dev1" root 2>/dev/null || true
	ip netns exec "$ns2" tc qdisc del dev "$dev2" root 2>/dev/null || true
	ip -n "$ns1" link set "$dev1" up
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
	[[ ${LAB_TLS:-0} != 1 ]] || pki_up

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
		# shellcheck disable=SC2046
		if ! ip netns exec "$P-mgmt" ovs-vsctl --timeout=5 --db="$(mgmt_target "$(hv_mgmt_ip "$hv")")" $(mgmt_ssl) \
			get Open_vSwitch . external_ids:system-id >/dev/null; then
			die "self-check failed: $hv's ovsdb does not answer on $(mgmt_target "$(hv_mgmt_ip "$hv")")"
		fi
	done
	UP_DONE=1
	if tls_on; then
		log "up: ${HVS[*]} ready with TLS (state in $LAB_DIR, PKI in $PKI)"
	else
		log "up: ${HVS[*]} ready (state in $LAB_DIR)"
	fi
}

# ---------------------------------------------------------------- gateway site

in_gw() { in_hv "$GW" "$@"; }
vtepctl() { in_gw vtep-ctl --timeout=20 "$@"; }

cmd_gateway() {
	case ${1:-up} in
	up) gateway_up ;;
	down) gateway_down ;;
	*) die "usage: gateway [up|down]" ;;
	esac
}

gateway_up() {
	local d=$LAB_DIR/$GW mac ok ns dev x _
	[[ -d $LAB_DIR ]] && ip netns list | awk '{print $1}' | grep -qx -- "$P-rtr" ||
		die "no lab at $LAB_DIR (run up first)"
	[[ ! -e $d ]] || die "the gateway site is already up (gateway down first)"
	[[ -x $OVS_VTEP && -f /usr/share/openvswitch/vtep.ovsschema ]] ||
		die "no $OVS_VTEP or vtep.ovsschema (install openvswitch-vtep python3-openvswitch)"
	GW_DONE=0
	trap 'if [[ $GW_DONE != 1 ]]; then log "gateway failed; removing it"; gateway_down; fi' EXIT

	for ns in "$GW" "$ESX"; do
		ip netns add "$P-$ns"
		ip -n "$P-$ns" link set lo up
	done

	# Site C on the router.
	ip -n "$P-rtr" link add site-c type bridge
	ip -n "$P-rtr" addr add "$(site_gw c)/24" dev site-c
	ip -n "$P-rtr" link set site-c up

	# Management: ferry in ${P}-mgmt reaches the VTEP database here.
	ip link add mgmt netns "$P-$GW" type veth peer name "$GW" netns "$P-mgmt"
	ip -n "$P-mgmt" link set "$GW" master mgmt0 up
	ip -n "$P-$GW" addr add "$GW_MGMT_IP/24" dev mgmt
	ip -n "$P-$GW" link set mgmt up

	# Underlay, as on a hypervisor: the address lives on br-phy.
	ip link add ul netns "$P-$GW" type veth peer name "$GW" netns "$P-rtr"
	ip -n "$P-rtr" link set "$GW" master site-c up
	ip -n "$P-$GW" link set ul up
	ip netns exec "$P-$GW" ethtool -K ul tx off >/dev/null
	ip netns exec "$P-rtr" ethtool -K "$GW" tx off >/dev/null
	start_daemons "$GW" "$GW_MGMT_IP" vtep
	vsctl "$GW" --no-wait set Open_vSwitch . external_ids:system-id="$GW" external_ids:hostname="$GW"
	mac=$(ip netns exec "$P-$GW" cat /sys/class/net/ul/address)
	vsctl "$GW" add-br br-phy -- set bridge br-phy datapath_type=netdev \
		other_config:hwaddr="$mac" -- add-port br-phy ul
	ip -n "$P-$GW" addr add "$GW_TUNNEL_IP/24" dev br-phy
	ip -n "$P-$GW" link set br-phy up
	ip -n "$P-$GW" route add 198.18.0.0/16 via "$(site_gw c)" dev br-phy

	# p0: the bare-metal port. Its peer waits in the gateway namespace as
	# "bp0" until lab.sh baremetal moves it into a server.
	ip -n "$P-$GW" link add p0 type veth peer name bp0
	ip netns exec "$P-$GW" ethtool -K p0 tx off >/dev/null
	ip -n "$P-$GW" link set p0 up

	# esx1: an ESXi-like host whose vSwitch uplink (a trunk) is p1.
	start_daemons "$ESX" ""
	vsctl "$ESX" --no-wait set Open_vSwitch . external_ids:hostname="$ESX"
	ip link add p1 netns "$P-$GW" type veth peer name uplink netns "$P-$ESX"
	for x in "$GW p1" "$ESX uplink"; do
		read -r ns dev <<<"$x"
		ip netns exec "$P-$ns" ethtool -K "$dev" tx off >/dev/null
		ip -n "$P-$ns" link set "$dev" up
	done
	vsctl "$ESX" add-br "$ESX_BR" -- set bridge "$ESX_BR" datapath_type=netdev -- add-port "$ESX_BR" uplink

	# The physical switch, in both databases, then the emulator.
	vsctl "$GW" add-br "$GW_PS" -- set bridge "$GW_PS" datapath_type=netdev \
		-- add-port "$GW_PS" p0 -- add-port "$GW_PS" p1
	vtepctl add-ps "$GW_PS" -- set Physical_Switch "$GW_PS" \
		tunnel_ips="$GW_TUNNEL_IP" management_ips="$GW_MGMT_IP"
	vtepctl add-port "$GW_PS" p0 -- add-port "$GW_PS" p1
	in_gw "$OVS_VTEP" --log-file="$d/ovs-vtep.log" --pidfile="$d/ovs-vtep.pid" \
		--detach --no-chdir -vconsole:off "$GW_PS"

	# Self-checks: the emulator finished its setup (it names the switch),
	# the underlay reaches site A, and the VTEP database answers from mgmt.
	ok=0
	for _ in $(seq 100); do
		if [[ $(vtepctl get Physical_Switch "$GW_PS" description 2>/dev/null) == '"OVS VTEP Emulator"' ]] &&
			vsctl "$GW" br-exists vtep_bfd 2>/dev/null; then ok=1; break; fi
		sleep 0.1
	done
	[[ $ok == 1 ]] || die "self-check failed: ovs-vtep did not set up $GW_PS (see $d/ovs-vtep.log)"
	ok=0
	for _ in $(seq 20); do
		if ip netns exec "$P-$GW" ping -q -c 1 -W 1 198.18.1.11 >/dev/null 2>&1; then ok=1; break; fi
		sleep 0.25
	done
	[[ $ok == 1 ]] || die "self-check failed: $GW cannot ping hv1's underlay address 198.18.1.11"
	# shellcheck disable=SC2046
	ip netns exec "$P-mgmt" ovsdb-client --timeout=5 $(mgmt_ssl) list-dbs "$(mgmt_target "$GW_MGMT_IP")" | grep -qx hardware_vtep ||
		die "self-check failed: $(mgmt_target "$GW_MGMT_IP") does not serve hardware_vtep"
	GW_DONE=1
	log "gateway: $GW (vtep $GW_PS, $(mgmt_target "$GW_MGMT_IP"), tunnel $GW_TUNNEL_IP) and $ESX ready"
}

# gateway_down removes the gateway site and whatever was attached to it,
# leaving the rest of the lab alone; it works on a half-built site.
gateway_down() {
	local f name hv pid ns
	for f in "$LAB_DIR/$GW/ovs-vtep.pid" "$LAB_DIR"/{"$GW","$ESX"}/ovs-vswitchd.pid "$LAB_DIR"/{"$GW","$ESX"}/ovsdb-server.pid; do
		[[ -f $f ]] || continue
		stop_pid "$(cat "$f" 2>/dev/null || true)"
	done
	for f in "$LAB_DIR"/guests/*; do
		[[ -f $f ]] || continue
		read -r hv _ <"$f" || true
		[[ $hv == "$GW" || $hv == "$ESX" ]] || continue
		name=$(basename "$f")
		for pid in $(ip netns pids "$P-$name" 2>/dev/null || true); do kill -KILL "$pid" 2>/dev/null || true; done
		ip netns del "$P-$name" 2>/dev/null || true
		rm -f "$f"
	done
	for ns in "$GW" "$ESX"; do
		for pid in $(ip netns pids "$P-$ns" 2>/dev/null || true); do kill -KILL "$pid" 2>/dev/null || true; done
	done
	# Delete the peers outside the site now: a namespace's devices go
	# asynchronously, and a quick "gateway up" must not find them.
	ip -n "$P-mgmt" link del "$GW" 2>/dev/null || true
	ip -n "$P-rtr" link del "$GW" 2>/dev/null || true
	ip -n "$P-rtr" link del site-c 2>/dev/null || true
	for ns in "$GW" "$ESX"; do ip netns del "$P-$ns" 2>/dev/null || true; done
	rm -rf -- "${LAB_DIR:?}/$GW" "${LAB_DIR:?}/$ESX"
}

# check_guest_name NAME: a valid, unreserved name for a guest namespace.
check_guest_name() {
	[[ $1 =~ ^[a-z0-9][a-z0-9_-]{0,12}$ ]] || die "guest name must be 1-13 chars [a-z0-9_-], got '$1'"
	case $1 in mgmt | rtr | hv[0-9]* | gw[0-9]* | esx[0-9]*) die "guest name '$1' is reserved" ;; esac
	if ip netns list | awk '{print $1}' | grep -qx -- "$P-$1"; then die "namespace $P-$1 exists"; fi
}

# baremetal NAME IP/PREFIX MAC [PORT]: a server whose eth0 is cabled to the
# gateway's port PORT (default p0). A port other than p0/p1 is created on
# the fly (veth, vtep0 and the Physical_Switch); p1 is esx1's uplink.
cmd_baremetal() {
	[[ $# == 3 || $# == 4 ]] || die "usage: baremetal NAME IP/PREFIX MAC [PORT]"
	local name=$1 cidr=$2 mac=$3 port=${4:-p0}
	check_guest_name "$name"
	[[ $port =~ ^p[0-9]{1,2}$ ]] || die "port must be p0..p99, got '$port'"
	[[ -d $LAB_DIR/$GW ]] || die "no gateway site (run gateway first)"
	ip netns add "$P-$name"
	GUEST_DONE=0
	trap "if [[ \$GUEST_DONE != 1 ]]; then echo '$GW $GW_PS $port baremetal' >\"\$LAB_DIR/guests/$name\"; cmd_unguest $name; fi" EXIT
	ip -n "$P-$name" link set lo up
	if ip -n "$P-$GW" link show "b$port" >/dev/null 2>&1; then
		ip -n "$P-$GW" link set "b$port" netns "$P-$name" name eth0
	elif ip -n "$P-$GW" link show "$port" >/dev/null 2>&1; then
		GUEST_DONE=1 # the port is someone else's: leave it alone
		ip netns del "$P-$name"
		die "gateway port $port is in use"
	else
		ip link add "$port" netns "$P-$GW" type veth peer name eth0 netns "$P-$name"
		ip netns exec "$P-$GW" ethtool -K "$port" tx off >/dev/null
		ip -n "$P-$GW" link set "$port" up
		vsctl "$GW" add-port "$GW_PS" "$port"
		vtepctl --may-exist add-port "$GW_PS" "$port"
	fi
	ip -n "$P-$name" link set eth0 address "$mac" mtu 1400
	ip -n "$P-$name" addr add "$cidr" dev eth0
	ip netns exec "$P-$name" ethtool -K eth0 tx off >/dev/null
	ip -n "$P-$name" link set eth0 up
	echo "$GW $GW_PS $port baremetal" >"$LAB_DIR/guests/$name"
	GUEST_DONE=1
}

# esxvm NAME IP/PREFIX MAC VLAN: a VM on esx1, on an access port of vsw0
# (a port group) with tag=VLAN; the uplink trunk carries it to p1 tagged.
# VLAN 0 is an access port in the native (untagged) VLAN.
cmd_esxvm() {
	[[ $# == 4 ]] || die "usage: esxvm NAME IP/PREFIX MAC VLAN"
	local name=$1 cidr=$2 mac=$3 vlan=$4 port
	check_guest_name "$name"
	[[ $vlan =~ ^[0-9]{1,4}$ ]] && ((10#$vlan <= 4094)) || die "VLAN must be 0..4094, got '$vlan'"
	vlan=$((10#$vlan))
	[[ -d $LAB_DIR/$ESX ]] || die "no gateway site (run gateway first)"
	port=v-$name
	ip netns add "$P-$name"
	GUEST_DONE=0
	trap "if [[ \$GUEST_DONE != 1 ]]; then echo '$ESX $ESX_BR $port' >\"\$LAB_DIR/guests/$name\"; cmd_unguest $name; fi" EXIT
	ip -n "$P-$name" link set lo up
	ip link add eth0 netns "$P-$name" type veth peer name "$port" netns "$P-$ESX"
	ip -n "$P-$name" link set eth0 address "$mac" mtu 1400
	ip -n "$P-$name" addr add "$cidr" dev eth0
	ip netns exec "$P-$name" ethtool -K eth0 tx off >/dev/null
	ip -n "$P-$name" link set eth0 up
	ip netns exec "$P-$ESX" ethtool -K "$port" tx off >/dev/null
	ip -n "$P-$ESX" link set "$port" up
	vsctl "$ESX" add-port "$ESX_BR" "$port" -- set Port "$port" vlan_mode=access tag="$vlan" \
		-- set Interface "$port" external_ids:attached-mac="$mac" external_ids:vm-name="$name"
	echo "$ESX $ESX_BR $port" >"$LAB_DIR/guests/$name"
	GUEST_DONE=1
}

# ---------------------------------------------------------------- guests

cmd_guest() {
	[[ $# == 5 ]] || die "usage: guest HV NAME IP/PREFIX MAC IFACE_ID"
	local hv=$1 name=$2 cidr=$3 mac=$4 ifid=$5 port vmid
	hv_index "$hv" >/dev/null
	[[ $name =~ ^[a-z0-9][a-z0-9_-]{0,12}$ ]] || die "guest name must be 1-13 chars [a-z0-9_-], got '$name'"
	check_guest_name "$name"
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
		local br port kind
		read -r hv br port kind <"$LAB_DIR/guests/$name"
		if [[ $kind == baremetal ]]; then
			# Unplug the cable, not the switch port: park the server's end
			# in the gateway again for the next server.
			if ip -n "$P-$name" link show eth0 >/dev/null 2>&1; then
				ip -n "$P-$name" link set eth0 down || true
				ip -n "$P-$name" link set eth0 netns "$P-$hv" name "b$port" || true
			fi
		else
			vsctl "$hv" --if-exists del-port "${br:-br-int}" "${port:-v-$name}" || true
			[[ $port == vif* ]] && vsctl "$hv" --if-exists del-port "${br}" "tap${port#vif}" || true
		fi
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
	hv1 | hv2 | hv3 | "$GW" | "$ESX") exec ip netns exec "$P-$ns" env $(ovs_env "$ns") "$@" ;;
	*) ns=$(ns_of "$ns") && exec ip netns exec "$ns" "$@" ;;
	esac
}

cmd_ovs() {
	[[ $# -ge 2 ]] || die "usage: ovs HV CMD..."
	local hv=$1
	ovs_host "$hv" || die "unknown OVS host '$hv' (hv1, hv2, hv3, $GW, $ESX)"
	shift
	[[ -d $LAB_DIR/$hv ]] || die "no $hv at $LAB_DIR (run up, or gateway, first)"
	# shellcheck disable=SC2046
	exec ip netns exec "$P-$hv" env $(ovs_env "$hv") "$@"
}

cmd_status() {
	local hv ns src dst r
	echo "lab prefix: $P    state: $LAB_DIR"
	if tls_on; then echo "TLS: on (PKI in $PKI)"; fi
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
		# shellcheck disable=SC2046
		if ip netns exec "$P-mgmt" ovs-vsctl --timeout=3 --db="$(mgmt_target "$(hv_mgmt_ip "$hv")")" $(mgmt_ssl) show >/dev/null 2>&1; then r=ok; else r=FAIL; fi
		printf '  %s (%s): %s\n' "$(mgmt_target "$(hv_mgmt_ip "$hv")")" "$hv" "$r"
	done
	if [[ -d $LAB_DIR/$GW ]]; then
		echo "gateway $GW:"
		if ip netns exec "$P-$GW" ping -q -c 1 -W 1 198.18.1.11 >/dev/null 2>&1; then r=ok; else r=FAIL; fi
		printf '  underlay %s -> hv1 (198.18.1.11): %s\n' "$GW_TUNNEL_IP" "$r"
		# shellcheck disable=SC2046
		if ip netns exec "$P-mgmt" ovsdb-client --timeout=3 $(mgmt_ssl) list-dbs "$(mgmt_target "$GW_MGMT_IP")" 2>/dev/null | grep -qx hardware_vtep; then r=ok; else r=FAIL; fi
		printf '  hardware_vtep on %s: %s\n' "$(mgmt_target "$GW_MGMT_IP")" "$r"
		r=FAIL
		if [[ -f $LAB_DIR/$GW/ovs-vtep.pid ]] && pid=$(cat "$LAB_DIR/$GW/ovs-vtep.pid") && [[ -e /proc/$pid ]]; then r="running (pid $pid)"; fi
		printf '  ovs-vtep: %s\n' "$r"
		printf '  logical switches: %s\n' "$(vtepctl list-ls 2>/dev/null | tr '\n' ' ')"
	fi
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
up | down | status | gateway | baremetal | esxvm | guest | xsguest | migrate | unguest | daemon | cut | heal | exec | ovs)
	if [[ $(id -u) != 0 ]]; then die "must run as root"; fi
	"cmd_$cmd" "$@"
	;;
help | -h | --help) usage ;;
*) usage >&2; exit 2 ;;
esac
