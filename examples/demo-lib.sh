# demo-lib.sh — what examples/demo.sh and examples/demo-ha.sh share:
# running the lab, REST calls in the management namespace, checks, pings
# and the final report. Sourced; expects ROOT, MGMT_NS, API and TIMEOUT.

lab() { bash "$ROOT/examples/lab/lab.sh" "$@"; }

bold() { if [[ -t 1 ]]; then printf '\033[1m%s\033[0m\n' "$*"; else printf '%s\n' "$*"; fi; }
step() { echo; bold "==> $*"; }

# ---------------------------------------------------------------- REST helpers

# api METHOD PATH [JSON]: prints the curl command, runs it inside the mgmt
# namespace, prints the response; sets HTTP_CODE and BODY.
HTTP_CODE=
BODY=
api() {
	local method=$1 path=$2 data=${3:-} out
	local args=(-s -S -X "$method" -w '\n%{http_code}')
	if [[ -n $data ]]; then
		args+=(-H 'Content-Type: application/json' -d "$data")
		printf '  $ curl -s -X %s http://%s%s -H '\''Content-Type: application/json'\'' -d %s\n' "$method" "$API" "$path" "'$data'"
	else
		printf '  $ curl -s -X %s http://%s%s\n' "$method" "$API" "$path"
	fi
	if ! out=$(ip netns exec "$MGMT_NS" curl "${args[@]}" "http://$API$path" 2>&1); then
		HTTP_CODE=000
		BODY=$out
	else
		HTTP_CODE=${out##*$'\n'}
		BODY=${out%$'\n'*}
	fi
	printf '    -> %s %s\n' "$HTTP_CODE" "$(printf '%s' "$BODY" | tr -d '\n' | cut -c1-160)"
}
api_ok() { [[ $HTTP_CODE == 2?? ]]; }

# quiet_get PATH: GET without printing (for polling); sets HTTP_CODE and BODY.
quiet_get() {
	local out
	out=$(ip netns exec "$MGMT_NS" curl -s -w '\n%{http_code}' "http://$API$1" 2>/dev/null) || { HTTP_CODE=000; BODY=; return 0; }
	HTTP_CODE=${out##*$'\n'}
	BODY=${out%$'\n'*}
}

# realized: reads a switch document on stdin, prints true/false.
realized() {
	python3 -c 'import json,sys
try:
    d = json.load(sys.stdin)
    print("true" if (d.get("status") or {}).get("realized") is True else "false")
except Exception:
    print("false")'
}

# ---------------------------------------------------------------- checks

CHECKS=()
FAILED=0
# check NAME EXPECTED RESULT OK(0/1)
check() {
	local name=$1 expected=$2 result=$3 ok=$4 mark
	if [[ $ok == 1 ]]; then mark=PASS; else mark=FAIL; FAILED=$((FAILED + 1)); fi
	CHECKS+=("$mark|$name|$expected|$result")
	echo "  [$mark] $name: expected $expected, got $result"
}

# ping_ok GUEST IP [COUNT]: all replies received.
ping_ok() {
	local out
	out=$(lab exec "$1" ping -n -q -c "${3:-3}" -W 1 -i 0.2 "$2" 2>&1) || return 1
	[[ $out == *" ${3:-3} received"* ]]
}
# wait_ping GUEST IP: until a ping succeeds or TIMEOUT.
wait_ping() {
	local end=$((SECONDS + TIMEOUT))
	while ((SECONDS < end)); do
		ping_ok "$1" "$2" 1 && return 0
		sleep 0.2
	done
	return 1
}
# wait_no_ping GUEST IP: until pings fail (3 in a row) or TIMEOUT.
wait_no_ping() {
	local end=$((SECONDS + TIMEOUT))
	while ((SECONDS < end)); do
		if ! ping_ok "$1" "$2" 1 && ! ping_ok "$1" "$2" 1 && ! ping_ok "$1" "$2" 1; then return 0; fi
		sleep 0.2
	done
	return 1
}
# neigh_mac GUEST IP: the MAC the guest resolved IP to.
neigh_mac() { lab exec "$1" ip neigh show "$2" | awk '{for (i = 1; i < NF; i++) if ($i == "lladdr") print $(i + 1)}' | head -1; }

# report: every check, then exit 1 if any failed.
report() {
	step "report"
	printf '  %-4s  %-50s  %-28s  %s\n' "" check expected result
	for c in "${CHECKS[@]}"; do
		IFS='|' read -r mark name expected result <<<"$c"
		printf '  %-4s  %-50s  %-28s  %s\n' "$mark" "$name" "$expected" "$result"
	done
	echo
	if ((FAILED)); then
		bold "$FAILED of ${#CHECKS[@]} checks FAILED"
		exit 1
	fi
	bold "all ${#CHECKS[@]} checks passed"
}
