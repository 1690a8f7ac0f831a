#!/usr/bin/env bash
# Runs every Go fuzz target in the repository for FUZZTIME each, one after
# another (go test -fuzz takes one target per run), and prints a summary
# line per target. New inputs go to Go's cache (GOCACHE/fuzz), not into the
# repository; a crash is written to the package's testdata/fuzz/ as Go
# does, to be committed as a regression case once fixed.
#   FUZZTIME      per-target duration (go test -fuzztime), default 30s
#   FUZZPARALLEL  workers per target (go test -parallel), default 1
#   FUZZ          regular expression selecting targets, default all
set -uo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
FUZZTIME=${FUZZTIME:-30s}
FUZZPARALLEL=${FUZZPARALLEL:-1}
FUZZ=${FUZZ:-.}

summary=()
failed=0
for pkg in $($GO list ./...); do
	targets=$($GO test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz' | grep -E -- "$FUZZ" || true)
	for target in $targets; do
		echo "fuzz: $pkg $target for $FUZZTIME (-parallel $FUZZPARALLEL)"
		log=$(mktemp)
		start=$(date +%s)
		$GO test "$pkg" -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" -parallel "$FUZZPARALLEL" >"$log" 2>&1
		rc=$?
		took=$(($(date +%s) - start))
		execs=$(grep -o 'execs: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
		if [[ $rc == 0 ]]; then
			summary+=("ok    ${pkg#github.com/ferry-sdn/ferry/} $target ${took}s ${execs:-?} execs")
		else
			failed=1
			summary+=("FAIL  ${pkg#github.com/ferry-sdn/ferry/} $target ${took}s (see below)")
			grep -v '^fuzz: elapsed' "$log" | tail -30
		fi
		rm -f "$log"
	done
done
echo
echo "fuzz summary (FUZZTIME=$FUZZTIME FUZZPARALLEL=$FUZZPARALLEL, $(nproc) CPUs):"
if [[ ${#summary[@]} == 0 ]]; then
	echo "  no fuzz target matches FUZZ=$FUZZ"
	exit 1
fi
printf '  %s\n' "${summary[@]}"
exit $failed
