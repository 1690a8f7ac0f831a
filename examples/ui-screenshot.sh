#!/usr/bin/env bash
# ui-screenshot.sh — retake docs/img/topology.png, the README's picture of
# the topology page, from the namespace lab (root, OVS and chromium needed).
# It runs the browser test TestTopologyPage (examples/e2e/ui_test.go):
# three hypervisors, the VTEP gateway, switches blue and red, hv3 cut off
# the underlay so its tunnels are down, and saves the page at 1280x800 with
# blue selected.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PATH:/usr/local/go/bin:/usr/local/sbin:/usr/sbin:/sbin
mkdir -p docs/img
FERRY_REQUIRE_LAB=1 FERRY_REQUIRE_OVS=1 go test -count=1 -run '^TestTopologyPage$' ./examples/e2e/ \
	-ui.screenshot="$PWD/docs/img/topology.png"
echo "ui-screenshot: wrote docs/img/topology.png"
