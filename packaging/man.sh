#!/usr/bin/env bash
# man.sh — `make man`: generate the man pages and bash completion from the
# built binaries into OUT (bin/man). They are build output, not committed:
# generated from the flag sets, they cannot fall behind the binaries.
#   ferryd.8        bin/ferryd --help-man
#   ferryctl*.1     bin/ferryctl man OUT, when ferryctl has that command
#   bin/ferryctl.bash  bin/ferryctl completion bash, when it has that command
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-bin}
OUT=${OUT:-$BIN/man}
mkdir -p "$OUT"
rm -f "$OUT"/*.[1-8] "$BIN/ferryctl.bash"
"$BIN/ferryd" --help-man >"$OUT/ferryd.8"
echo "man: $OUT/ferryd.8"
if "$BIN/ferryctl" man --help >/dev/null 2>&1; then
	"$BIN/ferryctl" man "$OUT"
	echo "man: $OUT/ferryctl pages"
else
	echo "man: skipping ferryctl pages: $BIN/ferryctl has no 'man' command"
fi
if "$BIN/ferryctl" completion bash >"$BIN/ferryctl.bash" 2>/dev/null && [[ -s $BIN/ferryctl.bash ]]; then
	echo "man: $BIN/ferryctl.bash (bash completion)"
else
	rm -f "$BIN/ferryctl.bash"
	echo "man: skipping bash completion: $BIN/ferryctl has no 'completion bash' command"
fi
