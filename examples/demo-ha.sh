#!/usr/bin/env bash
# demo-ha.sh — several ferryds on a clustered northbound database, in the
# namespace lab (run as root: `make demo-ha`).
#
# A 3-member Raft cluster of Ferry_Northbound (examples/ha/cluster.sh) and
# three ferryd replicas run in the lab's management namespace; hv1 and hv3
# (two routed sites) carry switch blue. The demo then
#   1. kills (SIGKILL) the replica owning hv1 while blue-a pings blue-b 100
#      times a second: packets lost, time until a survivor owns and has
#      realized hv1, flow_mods and OVSDB transactions the new owner sent;
#   2. kills the Raft leader during a burst of port creations through a
#      replica: writes acknowledged, lost, and how long writes paused;
#   3. creates switch green through a surviving replica and pings across it;
# and prints a report (exit 1 if a check failed). Everything is torn down
# on exit.
#
# Env: LAB_PREFIX (default fha), LAB_DIR, FERRYD (a ferryd binary instead of
#      building bin/ferryd), DEMO_TIMEOUT (seconds, default 30).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

export LAB_PREFIX=${LAB_PREFIX:-fha}
export LAB_DIR=${LAB_DIR:-/tmp/ferry-lab-$LAB_PREFIX}
P=$LAB_PREFIX
MGMT_NS=$P-mgmt
BUILD=1
[[ -n ${FERRYD:-} ]] && BUILD=0
FERRYD=${FERRYD:-$ROOT/bin/ferryd}
TIMEOUT=${DEMO_TIMEOUT:-30}
export PATH=$PATH:/usr/local/go/bin:/usr/local/sbin:/usr/sbin:/sbin
export HA_DIR=$LAB_DIR/nb-cluster HA_HOST=127.0.0.1

. "$ROOT/examples/demo-lib.sh"

IDS=(r1 r2 r3)
declare -A PID APIOF
for i in 0 1 2; do APIOF[${IDS[$i]}]=127.0.0.1:$((8470 + i)); done
API=${APIOF[r1]}

cluster() { ip netns exec "$MGMT_NS" env HA_DIR="$HA_DIR" HA_HOST="$HA_HOST" bash "$ROOT/examples/ha/cluster.sh" "$@"; }

teardown() {
	local rc=$?
	trap - EXIT INT TERM
	local id
	for id in "${IDS[@]}"; do
		local p=${PID[$id]:-}
		[[ -n $p ]] && kill -TERM "$p" 2>/dev/null || true
	done
	for id in "${IDS[@]}"; do
		local p=${PID[$id]:-}
		[[ -n $p ]] || continue
		for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null || true
	done
	if [[ $rc != 0 ]]; then
		for id in "${IDS[@]}"; do
			[[ -f $LAB_DIR/$id.log ]] && { echo "--- last lines of $id's log ---"; tail -n 15 "$LAB_DIR/$id.log" || true; }
		done
	fi
	echo
	echo "tearing down the northbound cluster and the lab ($P)..."
	[[ -d $HA_DIR ]] && { cluster destroy || true; }
	lab down || true
	exit "$rc"
}
trap teardown EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

[[ $(id -u) == 0 ]] || { echo "demo-ha: run as root (network namespaces)" >&2; exit 1; }

# at ID: the REST API of replica ID for the helpers that follow.
at() { API=${APIOF[$1]}; }

# json EXPR: evaluates a Python expression over the JSON document in BODY (d).
json() { python3 -c "import json,sys; d=json.loads(sys.argv[1]); print($1)" "$BODY" 2>/dev/null || echo "?"; }

# metric NAME: one sample of replica API's /metrics.
metric() {
	quiet_get /metrics
	awk -v n="$1" '$1 == n { print $2 }' <<<"$BODY" | head -1
}

start_replica() {
	local id=$1 i=$2
	echo "  \$ ip netns exec $MGMT_NS $FERRYD --nb $NB --replica-id $id --api ${APIOF[$id]} --openflow ptcp:$((6653 + i)):198.18.255.1"
	ip netns exec "$MGMT_NS" "$FERRYD" --config= --nb "$NB" --replica-id "$id" --api "${APIOF[$id]}" \
		--openflow "ptcp:$((6653 + i)):198.18.255.1" >"$LAB_DIR/$id.log" 2>&1 &
	PID[$id]=$!
}

step "installing dependencies (idempotent)"
bash "$ROOT/.ci/install-deps"
if [[ $BUILD == 1 ]]; then
	step "building ferryd"
	make -C "$ROOT" --no-print-directory build
fi
[[ -x $FERRYD ]] || { echo "demo-ha: $FERRYD was not built" >&2; exit 1; }

step "building the lab"
lab up

step "a 3-member Raft cluster of the northbound database in $MGMT_NS"
cluster create
cluster start
cluster wait
NB=$(cluster targets)
echo "  --nb $NB; leader: $(cluster leader)"

step "three ferryd replicas on it"
for i in 0 1 2; do start_replica "${IDS[$i]}" "$i"; done
for id in "${IDS[@]}"; do
	at "$id"
	end=$((SECONDS + 20))
	until quiet_get /healthz && [[ $HTTP_CODE == 200 ]]; do
		kill -0 "${PID[$id]}" 2>/dev/null || { echo "demo-ha: $id exited" >&2; exit 1; }
		((SECONDS < end)) || { echo "demo-ha: $id's API did not come up" >&2; exit 1; }
		sleep 0.2
	done
done
echo "  replicas up: r1 ${PID[r1]}, r2 ${PID[r2]}, r3 ${PID[r3]}"

step "hv1 and hv3, switch blue, a guest on each"
at r1
api POST /v1/chassis '{"name":"hv1","ovsdb":"tcp:198.18.255.11:6640","tunnel_ip":"198.18.1.11"}'
api POST /v1/chassis '{"name":"hv3","ovsdb":"tcp:198.18.255.13:6640","tunnel_ip":"198.18.2.13"}'
api POST /v1/switches '{"name":"blue","vni":1001}'
lab guest hv1 blue-a 198.18.100.1/24 02:b1:0e:00:00:0a iface-blue-a
lab guest hv3 blue-b 198.18.100.2/24 02:b1:0e:00:00:0b iface-blue-b
api POST /v1/switches/blue/ports '{"name":"blue-a","iface_id":"iface-blue-a"}'
api POST /v1/switches/blue/ports '{"name":"blue-b","iface_id":"iface-blue-b"}'
wait_ping blue-a 198.18.100.2 && r=reply || r=none
check "blue-a -> blue-b across hv1 and hv3" reply "$r" "$([[ $r == reply ]] && echo 1 || echo 0)"
api GET /v1/replicas

step "1. SIGKILL the replica owning hv1 during a ping at 100/s"
quiet_get /v1/chassis/hv1
OWNER=$(json 'd["status"].get("owner","")')
SURVIVORS=()
for id in "${IDS[@]}"; do [[ $id != "$OWNER" ]] && SURVIVORS+=("$id"); done
echo "  hv1 is owned by $OWNER; ${SURVIVORS[*]} survive"
sleep 1.5 # the bridge's generation is recorded up to a second after a change
declare -A FM0 TX0
for id in "${SURVIVORS[@]}"; do
	at "$id"
	FM0[$id]=$(metric ferry_openflow_flow_mods_total)
	TX0[$id]=$(metric ferry_ovsdb_device_transactions_total)
done
lab exec blue-a ping -n -q -i 0.01 -c 600 -W 1 198.18.100.2 >"$LAB_DIR/ping.txt" 2>&1 &
PING=$!
sleep 1.5
echo "  \$ kill -9 ${PID[$OWNER]}   # $OWNER"
t0=$(date +%s%N)
kill -KILL "${PID[$OWNER]}"
wait "${PID[$OWNER]}" 2>/dev/null || true
PID[$OWNER]=
took=
NEW=
end=$((SECONDS + TIMEOUT))
while ((SECONDS < end)); do
	at "${SURVIVORS[0]}"
	quiet_get /v1/chassis/hv1
	o=$(json 'd["status"].get("owner","")')
	if [[ $o != "$OWNER" && -n $o && $o != "?" ]]; then
		# Connected and realized as the new owner itself reports it.
		at "$o"
		quiet_get /v1/chassis/hv1
		if [[ $(json '"%s %s" % (d["status"].get("owner",""), d["status"]["openflow_connected"])') == "$o True" ]]; then
			took=$((($(date +%s%N) - t0) / 1000000))
			NEW=$o
			break
		fi
	fi
	sleep 0.02
done
wait "$PING" || true
LOSS=$(grep -o '[0-9.]*% packet loss' "$LAB_DIR/ping.txt" || echo "?")
check "ping blue-a -> blue-b while hv1's owner is killed" "0% packet loss" "$LOSS" "$([[ $LOSS == "0% packet loss" ]] && echo 1 || echo 0)"
check "hv1 owned again, by ${NEW:-nobody}" "<= 3000 ms" "${took:-never} ms" "$([[ -n $took && $took -le 3000 ]] && echo 1 || echo 0)"
if [[ -n $NEW ]]; then
	at "$NEW"
	FM=$(python3 -c "print(int(float('$(metric ferry_openflow_flow_mods_total)') - float('${FM0[$NEW]}')))")
	TX=$(python3 -c "print(int(float('$(metric ferry_ovsdb_device_transactions_total)') - float('${TX0[$NEW]}')))")
else
	FM=? TX=?
fi
check "flow_mods sent by the new owner" 0 "$FM" "$([[ $FM == 0 ]] && echo 1 || echo 0)"
check "OVSDB transactions sent by the new owner" 0 "$TX" "$([[ $TX == 0 ]] && echo 1 || echo 0)"
SURVIVOR=${SURVIVORS[0]}
at "$SURVIVOR"
api GET /v1/replicas

step "2. kill the Raft leader during a burst of 300 port creations through $SURVIVOR"
read -r LEADER _ < <(cluster leader)
acked=()
failed=0
pause_start=
pause=0
for n in $(seq 1 300); do
	[[ $n == 60 ]] && { echo "  \$ cluster.sh kill-member $LEADER   # the leader"; cluster kill-member "$LEADER" KILL; }
	code=$(ip netns exec "$MGMT_NS" curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
		-d "{\"name\":\"burst-$n\",\"iface_id\":\"iface-burst-$n\"}" "http://$API/v1/switches/blue/ports" || echo 000)
	if [[ $code == 201 ]]; then
		acked+=("burst-$n")
		if [[ -n $pause_start ]]; then
			pause=$((($(date +%s%N) - pause_start) / 1000000))
			pause_start=
		fi
	else
		failed=$((failed + 1))
		[[ -z $pause_start ]] && pause_start=$(date +%s%N)
	fi
done
quiet_get /v1/switches/blue
missing=$(python3 -c 'import json,sys; have=set(json.loads(sys.argv[1])["ports"]); print(sum(1 for p in sys.argv[2:] if p not in have))' "$BODY" "${acked[@]}")
echo "  ${#acked[@]} acknowledged, $failed refused (503 while there was no leader), writes paused for ${pause} ms"
check "acknowledged writes missing after the leader was killed" 0 "$missing" "$([[ $missing == 0 ]] && echo 1 || echo 0)"
check "writes paused by the leader's death" "<= 5000 ms" "$pause ms" "$([[ $pause -le 5000 ]] && echo 1 || echo 0)"

step "3. switch green through $SURVIVOR"
api POST /v1/switches '{"name":"green","vni":1003}'
lab guest hv1 green-a 198.18.102.1/24 02:9e:00:00:00:0a iface-green-a
lab guest hv3 green-b 198.18.102.2/24 02:9e:00:00:00:0b iface-green-b
api POST /v1/switches/green/ports '{"name":"green-a","iface_id":"iface-green-a"}'
api POST /v1/switches/green/ports '{"name":"green-b","iface_id":"iface-green-b"}'
wait_ping green-a 198.18.102.2 && r=reply || r=none
check "green-a -> green-b, created through $SURVIVOR" reply "$r" "$([[ $r == reply ]] && echo 1 || echo 0)"
api GET /v1/replicas

report
