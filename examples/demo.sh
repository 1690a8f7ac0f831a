#!/usr/bin/env bash
# demo.sh — ferry end to end in the namespace lab (run as root: `make demo`).
#
# Three hypervisors on two routed sites: hv1 and hv3 are KVM hosts (br-int,
# libvirt-style VIFs), hv2 is a XenServer-style host (bridge xapi1, VIFs
# vifD.N with xapi's external_ids). Two logical switches, blue (VXLAN, VNI
# 1001) and red (GRE, VNI 1002), each with one VM on site A and one on site B.
# Both switches use the same IP subnet on purpose: isolation must come from
# the switches, not from addressing. Then a third site with a VTEP gateway
# (ovs-vtep, driven by ferry over hardware_vtep) puts a bare-metal server
# (untagged, port p0) and a VM on an ESXi-like host (VLAN 100 on port p1) on
# blue. The demo prints every REST call as a curl command, checks what an
# operator would check, prints a report and exits non-zero if any check
# failed. Everything, the gateway site included, is torn down on exit.
#
# Env: LAB_PREFIX (default fy), LAB_DIR, FERRYD (a ferryd binary to use
#      instead of building bin/ferryd),
#      DEMO_TIMEOUT (seconds to wait for realization, default 30).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

export LAB_PREFIX=${LAB_PREFIX:-fy}
export LAB_DIR=${LAB_DIR:-/tmp/ferry-lab-$LAB_PREFIX}
P=$LAB_PREFIX
MGMT_NS=$P-mgmt
BUILD=1
[[ -n ${FERRYD:-} ]] && BUILD=0
FERRYD=${FERRYD:-$ROOT/bin/ferryd}
TIMEOUT=${DEMO_TIMEOUT:-30}
API=127.0.0.1:8470
export PATH=$PATH:/usr/local/go/bin:/usr/local/sbin:/usr/sbin:/sbin

# lab, bold, step, api, quiet_get, realized, check, ping_ok, wait_ping,
# wait_no_ping, neigh_mac and the report: examples/demo-lib.sh.
. "$ROOT/examples/demo-lib.sh"

FERRYD_PID=
FERRYD_LOG=/tmp/ferry-demo-$P-ferryd.log
teardown() {
	local rc=$?
	trap - EXIT INT TERM
	if [[ -n $FERRYD_PID ]] && kill -0 "$FERRYD_PID" 2>/dev/null; then
		kill -TERM "$FERRYD_PID" 2>/dev/null || true
		for _ in $(seq 50); do kill -0 "$FERRYD_PID" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$FERRYD_PID" 2>/dev/null || true
	fi
	if [[ $rc != 0 && -n $FERRYD_PID && -f $FERRYD_LOG ]]; then
		echo "--- last lines of the ferryd log ($FERRYD_LOG) ---"
		tail -n 30 "$FERRYD_LOG" || true
	fi
	echo
	echo "tearing down the lab ($P)..."
	lab down || true
	exit "$rc"
}
trap teardown EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

[[ $(id -u) == 0 ]] || { echo "demo: run as root (network namespaces)" >&2; exit 1; }

flow_counts() {
	local hv agg flows groups
	printf '  %-5s %-7s %8s %8s\n' hv bridge flows groups
	for hv in hv1 hv2 hv3; do
		br=br-int
		[[ $hv == hv2 ]] && br=xapi1
		agg=$(lab ovs "$hv" ovs-ofctl -O OpenFlow15 dump-aggregate "$br" 2>/dev/null || true)
		flows=$(sed -n 's/.*flow_count=\([0-9]*\).*/\1/p' <<<"$agg")
		groups=$(lab ovs "$hv" ovs-ofctl -O OpenFlow15 dump-groups "$br" 2>/dev/null | grep -c 'group_id=' || true)
		printf '  %-5s %-7s %8s %8s\n' "$hv" "$br" "${flows:-?}" "${groups:-?}"
	done
}

# ---------------------------------------------------------------- the demo

step "installing dependencies (idempotent)"
bash "$ROOT/.ci/install-deps"

if [[ $BUILD == 1 ]]; then
	step "building ferryd"
	make -C "$ROOT" --no-print-directory build
fi
[[ -x $FERRYD ]] || { echo "demo: $FERRYD was not built" >&2; exit 1; }

step "building the lab: 3 hypervisors, 2 routed sites, a management network"
lab up
lab status

step "starting ferryd in $MGMT_NS"
mkdir -p "$LAB_DIR/ferryd"
echo "  \$ ip netns exec $MGMT_NS $FERRYD --api $API --openflow ptcp:6653:198.18.255.1 --advertise tcp:198.18.255.1:6653 --data-dir $LAB_DIR/ferryd"
ip netns exec "$MGMT_NS" "$FERRYD" --api "$API" --openflow ptcp:6653:198.18.255.1 \
	--advertise tcp:198.18.255.1:6653 --data-dir "$LAB_DIR/ferryd" >"$FERRYD_LOG" 2>&1 &
FERRYD_PID=$!
end=$((SECONDS + 15))
until ip netns exec "$MGMT_NS" curl -s -o /dev/null "http://$API/"; do
	kill -0 "$FERRYD_PID" 2>/dev/null || { echo "demo: ferryd exited" >&2; exit 1; }
	((SECONDS < end)) || { echo "demo: ferryd's API did not come up on $API" >&2; exit 1; }
	sleep 0.2
done
echo "  ferryd is up (pid $FERRYD_PID, log $FERRYD_LOG)"

step "registering the hypervisors"
ok=1
for hv in hv1 hv2 hv3; do
	case $hv in hv1) tip=198.18.1.11 ;; hv2) tip=198.18.1.12 ;; hv3) tip=198.18.2.13 ;; esac
	mip=198.18.255.1${hv#hv}
	if [[ $hv == hv2 ]]; then
		# A XenServer host: ferry manages the network's bridge, xapi1.
		api POST /v1/chassis "{\"name\":\"$hv\",\"ovsdb\":\"tcp:$mip:6640\",\"tunnel_ip\":\"$tip\",\"bridge\":\"xapi1\",\"kind\":\"xenserver\",\"datapath_type\":\"netdev\"}"
	else
		api POST /v1/chassis "{\"name\":\"$hv\",\"ovsdb\":\"tcp:$mip:6640\",\"tunnel_ip\":\"$tip\",\"bridge\":\"br-int\",\"kind\":\"kvm\"}"
	fi
	api_ok || ok=0
done
check "register 3 hypervisors" "2xx" "$([[ $ok == 1 ]] && echo 2xx || echo "an error")" "$ok"

step "starting VMs (KVM: br-int + iface-id; XenServer: vifD.N on xapi1 + xs-vif-uuid)"
RED_A_VIF=5c0f9a3e-2b7d-4e1a-9c3f-7d2e1b0a9f01
# name hv ip mac iface-id (the xs-vif-uuid for the XenServer VIF)
GUESTS=(
	"blue-a hv1 198.18.100.1/24 02:b1:0e:00:00:0a iface-blue-a"
	"blue-b hv3 198.18.100.2/24 02:b1:0e:00:00:0b iface-blue-b"
	"red-a hv2 198.18.100.1/24 02:7e:d0:00:00:0a $RED_A_VIF"
	"red-b hv3 198.18.100.2/24 02:7e:d0:00:00:0b iface-red-b"
)
for g in "${GUESTS[@]}"; do
	read -r name hv ip mac ifid <<<"$g"
	if [[ $hv == hv2 ]]; then
		echo "  $name on $hv: $ip $mac vif7.0 on xapi1, xs-vif-uuid=$ifid (with an inactive tap7.0 twin)"
		lab xsguest "$hv" "$name" "$ip" "$mac" xapi1 "$ifid" 9d1e0c4b-xen-net-red 7 twin
	else
		echo "  $name on $hv: $ip $mac iface-id=$ifid"
		lab guest "$hv" "$name" "$ip" "$mac" "$ifid"
	fi
done

step "creating the logical switches and binding ports"
ok=1
api POST /v1/switches '{"name":"blue","vni":1001}'
api_ok || ok=0
api POST /v1/switches '{"name":"red","vni":1002,"encap":"gre"}'
api_ok || ok=0
for g in "${GUESTS[@]}"; do
	read -r name _ _ _ ifid <<<"$g"
	api POST "/v1/switches/${name%-*}/ports" "{\"name\":\"$name\",\"iface_id\":\"$ifid\"}"
	api_ok || ok=0
done
check "create switches blue (vxlan), red (gre), 4 ports" "2xx" "$([[ $ok == 1 ]] && echo 2xx || echo "an error")" "$ok"

step "waiting for realization (status.realized on each switch, ${TIMEOUT}s max)"
for sw in blue red; do
	end=$((SECONDS + TIMEOUT))
	r=false
	while ((SECONDS < end)); do
		quiet_get "/v1/switches/$sw"
		r=$(printf '%s' "$BODY" | realized)
		[[ $r == true ]] && break
		sleep 0.2
	done
	check "switch $sw realized" "realized=true" "realized=$r" "$([[ $r == true ]] && echo 1 || echo 0)"
done
api GET /v1/switches/blue
flow_counts

step "pinging within each switch"
if wait_ping blue-a 198.18.100.2 && ping_ok blue-a 198.18.100.2 5; then r=reply; else r=none; fi
check "blue-a (hv1) -> 198.18.100.2 (blue-b, hv3)" reply "$r" "$([[ $r == reply ]] && echo 1 || echo 0)"
if wait_ping red-a 198.18.100.2 && ping_ok red-a 198.18.100.2 5; then r=reply; else r=none; fi
check "red-a (hv2) -> 198.18.100.2 (red-b, hv3)" reply "$r" "$([[ $r == reply ]] && echo 1 || echo 0)"

step "tunnels and MTU: VXLAN for blue, GRE for red, per hypervisor pair"
for sw in blue red; do
	quiet_get "/v1/switches/$sw"
	summary=$(printf '%s' "$BODY" | python3 -c 'import json,sys
d = json.load(sys.stdin)["status"]
print(" ".join(t["a"] + "-" + t["b"] + ":" + t["encap"] for t in d["tunnels"]), "mtu=%d" % d["mtu"])' 2>/dev/null || echo "?")
	echo "  $sw: $summary"
	case $sw in
	blue) want="hv1-hv3:vxlan mtu=1450" ;;
	red) want="hv2-hv3:gre mtu=1458" ;;
	esac
	check "$sw tunnels and guest MTU" "$want" "$summary" "$([[ $summary == "$want" ]] && echo 1 || echo 0)"
done
t=$(lab ovs hv2 ovs-vsctl --bare --columns=type find Interface name=fgrc612020d 2>/dev/null || true)
echo "  hv2 (XenServer, xapi1) tunnel port to hv3: fgrc612020d type=${t:-none}"
check "hv2 tunnel port to hv3 is GRE" gre "${t:-none}" "$([[ $t == gre ]] && echo 1 || echo 0)"
p=$(lab ovs hv2 ovs-vsctl --bare --columns=name find Interface external_ids:xs-vif-uuid=$RED_A_VIF external_ids:iface-status=active 2>/dev/null || true)
quiet_get "/v1/switches/red/ports/red-a"
b=$(printf '%s' "$BODY" | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"]["interface"])' 2>/dev/null || echo "?")
check "red-a bound to the active XenServer VIF" "$p" "$b" "$([[ -n $p && $b == "$p" ]] && echo 1 || echo 0)"

step "isolation: same IPs, different switches"
m=$(neigh_mac blue-a 198.18.100.2)
check "blue-a resolves 198.18.100.2 to" "02:b1:0e:00:00:0b (blue-b)" "${m:-nothing}" "$([[ $m == 02:b1:0e:00:00:0b ]] && echo 1 || echo 0)"
m=$(neigh_mac red-a 198.18.100.2)
check "red-a resolves 198.18.100.2 to" "02:7e:d0:00:00:0b (red-b)" "${m:-nothing}" "$([[ $m == 02:7e:d0:00:00:0b ]] && echo 1 || echo 0)"

# Watch both VMs at 198.18.100.2 while blue-a ARPs afresh: blue-b must see the
# broadcast, red-b must not see a single frame from blue-a.
caps=()
for g in blue-b red-b; do
	ip netns exec "$P-$g" tcpdump -l -n -e --immediate-mode -i eth0 "ether src 02:b1:0e:00:00:0a" \
		>"$LAB_DIR/cap-$g.txt" 2>"$LAB_DIR/cap-$g.err" &
	caps+=($!)
done
for g in blue-b red-b; do
	for _ in $(seq 50); do grep -q "listening on" "$LAB_DIR/cap-$g.err" 2>/dev/null && break; sleep 0.1; done
done
lab exec blue-a ip neigh flush dev eth0
ping_ok blue-a 198.18.100.2 3 || true
sleep 0.3
for pid in "${caps[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
wait "${caps[@]}" 2>/dev/null || true
nb=$(grep -c . "$LAB_DIR/cap-blue-b.txt" || true)
nr=$(grep -c . "$LAB_DIR/cap-red-b.txt" || true)
check "frames from blue-a seen by blue-b" ">0" "$nb" "$([[ $nb -gt 0 ]] && echo 1 || echo 0)"
check "frames from blue-a seen by red-b" "0" "$nr" "$([[ $nr == 0 ]] && echo 1 || echo 0)"

step "a VTEP gateway: a bare-metal server and an ESXi VM join blue"
# Site C: ovs-vtep emulates a hardware VTEP (Physical_Switch vtep0, tunnel IP
# 198.18.3.31, ports p0 and p1); ferry is its NVC over OVSDB (hardware_vtep).
lab gateway up
BM_MAC=02:b1:0e:00:00:10
ESX_MAC=02:b1:0e:00:00:20
GW_TUNNEL_IP=198.18.3.31
api POST /v1/gateways '{"name":"gw1","ovsdb":"tcp:198.18.255.31:6640"}'
ok=0
api_ok && ok=1
check "register gateway gw1" "2xx" "$([[ $ok == 1 ]] && echo 2xx || echo "an error")" "$ok"
# gw_summary: "connected tunnel_ips ports" of a gateway document on stdin.
gw_summary() {
	python3 -c 'import json,sys
try:
    s = json.load(sys.stdin)["status"]
    print("connected" if s.get("connected") else "disconnected", ",".join(s.get("tunnel_ips") or []) or "-",
          ",".join(p["name"] for p in s.get("ports") or []) or "-")
except Exception:
    print("?")'
}
want="connected $GW_TUNNEL_IP p0,p1"
end=$((SECONDS + TIMEOUT))
g="?"
while ((SECONDS < end)); do
	quiet_get /v1/gateways/gw1
	g=$(printf '%s' "$BODY" | gw_summary)
	[[ $g == "$want" ]] && break
	sleep 0.2
done
api GET /v1/gateways/gw1
check "gw1 connected: tunnel IP, ports" "$want" "$g" "$([[ $g == "$want" ]] && echo 1 || echo 0)"

echo "  bm1: bare-metal server on gw1 port p0 (untagged), 198.18.100.10/24 $BM_MAC"
lab baremetal bm1 198.18.100.10/24 "$BM_MAC"
echo "  esx-a: VM on esx1, port group VLAN 100 (esx1's uplink is gw1 port p1), 198.18.100.20/24 $ESX_MAC"
lab esxvm esx-a 198.18.100.20/24 "$ESX_MAC" 100
ok=1
api POST /v1/switches/blue/bindings '{"gateway":"gw1","port":"p0","vlan":0}'
api_ok || ok=0
api POST /v1/switches/blue/bindings '{"gateway":"gw1","port":"p1","vlan":100}'
api_ok || ok=0
check "bind gw1 p0 (untagged), p1 VLAN 100 to blue" "2xx" "$([[ $ok == 1 ]] && echo 2xx || echo "an error")" "$ok"

# blue is realized again only when the hypervisors and the VTEP have all
# committed the generation that added the bindings.
gw_realized() {
	python3 -c 'import json,sys
try:
    s = json.load(sys.stdin)["status"]
    g = [x for x in s.get("gateways") or [] if x["name"] == "gw1"]
    ok = s.get("realized") is True and g and g[0].get("realized") is True
    print("realized=%s %s" % ("true" if ok else "false", g[0].get("replication_mode", "?") if g else "no-gw1"))
except Exception:
    print("realized=false ?")'
}
want="realized=true source_node"
end=$((SECONDS + TIMEOUT))
r="realized=false"
while ((SECONDS < end)); do
	quiet_get /v1/switches/blue
	r=$(printf '%s' "$BODY" | gw_realized)
	[[ $r == "$want" ]] && break
	sleep 0.2
done
check "switch blue realized on hypervisors and gw1" "$want" "$r" "$([[ $r == "$want" ]] && echo 1 || echo 0)"
quiet_get /v1/switches/blue
summary=$(printf '%s' "$BODY" | python3 -c 'import json,sys
d = json.load(sys.stdin)["status"]
print(" ".join(t["a"] + "-" + t["b"] + ":" + t["encap"] for t in d["tunnels"] if "gw1" in (t["a"], t["b"])))' 2>/dev/null || echo "?")
want="hv1-gw1:vxlan hv3-gw1:vxlan"
check "blue tunnels to the VTEP" "$want" "$summary" "$([[ $summary == "$want" ]] && echo 1 || echo 0)"

# ovs-vtep applies what ferry wrote on its next polling round (about 1 s).
if wait_ping blue-a 198.18.100.10 && ping_ok blue-a 198.18.100.10 5; then r=reply; else r=none; fi
check "blue-a (hv1) -> 198.18.100.10 (bm1, bare metal)" reply "$r" "$([[ $r == reply ]] && echo 1 || echo 0)"
if wait_ping bm1 198.18.100.20 && ping_ok bm1 198.18.100.20 5; then r=reply; else r=none; fi
check "bm1 -> 198.18.100.20 (esx-a, ESXi VLAN 100)" reply "$r" "$([[ $r == reply ]] && echo 1 || echo 0)"
if wait_ping esx-a 198.18.100.2 && ping_ok esx-a 198.18.100.2 5; then r=reply; else r=none; fi
check "esx-a (ESXi VM) -> 198.18.100.2 (blue-b, hv3)" reply "$r" "$([[ $r == reply ]] && echo 1 || echo 0)"

# The VTEP learns bm1's MAC on p0 (Ucast_Macs_Local; it forgets it after
# 15 s without traffic, so bm1 keeps talking while we wait); ferry then
# sends frames for that MAC from every hypervisor straight to the VTEP.
ofport=$(lab ovs hv1 ovs-vsctl --bare --columns=ofport find Interface type=vxlan "options:remote_ip=\"$GW_TUNNEL_IP\"" 2>/dev/null || true)
tport=$(lab ovs hv1 ovs-vsctl --bare --columns=name find Interface type=vxlan "options:remote_ip=\"$GW_TUNNEL_IP\"" 2>/dev/null || true)
learned=0
flow=
end=$((SECONDS + TIMEOUT))
while ((SECONDS < end)); do
	ping_ok bm1 198.18.100.1 1 || true
	if [[ $learned == 0 ]]; then
		macs=$(lab ovs gw1 vtep-ctl list-local-macs ferry-blue 2>/dev/null || true)
		if [[ $macs == *"$BM_MAC"* ]]; then
			learned=1
			echo "  gw1 learned $BM_MAC on p0 after $((SECONDS - end + TIMEOUT))s:"
			echo "  \$ vtep-ctl list-local-macs ferry-blue"
			printf '%s\n' "$macs" | sed -e 's/^/    /' -e 's/ *$//'
		fi
	fi
	if [[ $learned == 1 && -n $ofport ]]; then
		flow=$(lab ovs hv1 ovs-ofctl -O OpenFlow15 dump-flows br-int 2>/dev/null |
			grep -o "dl_dst=$BM_MAC actions=output:$ofport\b" | head -1 || true)
		[[ -n $flow ]] && break
	fi
	sleep 0.5
done
[[ -n $flow ]] && echo "  hv1: $(lab ovs hv1 ovs-ofctl -O OpenFlow15 dump-flows br-int | grep "dl_dst=$BM_MAC actions=output" | sed 's/^ *//')"
want="output:${ofport:-?} (${tport:-?})"
if [[ -n $flow ]]; then r="output:$ofport ($tport)"; elif [[ $learned == 1 ]]; then r="no flow"; else r="MAC not learned"; fi
check "hv1 unicast flow for bm1's MAC to the VTEP" "$want" "$r" "$([[ -n $flow ]] && echo 1 || echo 0)"

echo "  what ferry wrote on the VTEP:"
echo "  \$ vtep-ctl list-remote-macs ferry-blue"
lab ovs gw1 vtep-ctl list-remote-macs ferry-blue | sed -e 's/^/    /' -e 's/ *$//' || true
echo "  \$ vtep-ctl list-bindings vtep0 p0; vtep-ctl list-bindings vtep0 p1"
{ lab ovs gw1 vtep-ctl list-bindings vtep0 p0; lab ovs gw1 vtep-ctl list-bindings vtep0 p1; } | sed 's/^/    /' || true

# red uses the same subnet but has no binding on gw1: red-a's ARP for
# 198.18.100.10 must never reach bm1.
ip netns exec "$P-bm1" tcpdump -l -n -e --immediate-mode -i eth0 "ether src 02:7e:d0:00:00:0a" \
	>"$LAB_DIR/cap-bm1.txt" 2>"$LAB_DIR/cap-bm1.err" &
cap=$!
for _ in $(seq 50); do grep -q "listening on" "$LAB_DIR/cap-bm1.err" 2>/dev/null && break; sleep 0.1; done
if ping_ok red-a 198.18.100.10 3; then r=reply; else r=none; fi
sleep 0.3
kill -TERM "$cap" 2>/dev/null || true
wait "$cap" 2>/dev/null || true
n=$(grep -c . "$LAB_DIR/cap-bm1.txt" || true)
# No capture would prove nothing: count it as a failure.
grep -q "listening on" "$LAB_DIR/cap-bm1.err" 2>/dev/null || n="no capture"
check "red-a -> 198.18.100.10 (bm1, not on red)" none "$r" "$([[ $r == none ]] && echo 1 || echo 0)"
check "frames from red-a seen by bm1" "0" "$n" "$([[ $n == 0 ]] && echo 1 || echo 0)"

step "deleting switch red"
api DELETE /v1/switches/red
check "DELETE /v1/switches/red" "2xx" "$HTTP_CODE" "$(api_ok && echo 1 || echo 0)"
if wait_no_ping red-a 198.18.100.2; then r=none; else r=reply; fi
check "red-a -> 198.18.100.2 after delete" none "$r" "$([[ $r == none ]] && echo 1 || echo 0)"
if ping_ok blue-a 198.18.100.2 5; then r=reply; else r=none; fi
check "blue-a -> 198.18.100.2 after deleting red" reply "$r" "$([[ $r == reply ]] && echo 1 || echo 0)"
quiet_get /v1/switches/red
check "GET /v1/switches/red after delete" 404 "$HTTP_CODE" "$([[ $HTTP_CODE == 404 ]] && echo 1 || echo 0)"
if ping_ok blue-a 198.18.100.10 3 && ping_ok blue-a 198.18.100.20 3; then r=reply; else r=none; fi
check "blue-a -> bm1, esx-a (gateway) after deleting red" reply "$r" "$([[ $r == reply ]] && echo 1 || echo 0)"
flow_counts

report
