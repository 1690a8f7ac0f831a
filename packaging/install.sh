#!/usr/bin/env bash
# install.sh — `make install`: put the built binaries, the systemd unit, the
# man pages, the default configuration and bash completion under
# DESTDIR/PREFIX. `make deb` stages the package with it too, so the two
# layouts cannot drift apart.
#   BIN         where make build put ferryd and ferryctl (bin)
#   MANOUT      where make man put the pages (bin/man)
#   DESTDIR     staging root (empty: the live system)
#   PREFIX      /usr/local; BINDIR=PREFIX/bin, MANDIR=PREFIX/share/man
#   SYSCONFDIR  /etc (ferryd's default --config is /etc/ferry/ferryd.conf)
#   UNITDIR     PREFIX/lib/systemd/system (systemd reads /usr/local/lib/systemd/system)
#   COMPLETIONDIR PREFIX/share/bash-completion/completions
# An existing ferryd.conf is never overwritten.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${BIN:-bin}
MANOUT=${MANOUT:-$BIN/man}
DESTDIR=${DESTDIR:-}
PREFIX=${PREFIX:-/usr/local}
BINDIR=${BINDIR:-$PREFIX/bin}
MANDIR=${MANDIR:-$PREFIX/share/man}
SYSCONFDIR=${SYSCONFDIR:-/etc}
UNITDIR=${UNITDIR:-$PREFIX/lib/systemd/system}
COMPLETIONDIR=${COMPLETIONDIR:-$PREFIX/share/bash-completion/completions}

say() { echo "install: $*"; }

install -d "$DESTDIR$BINDIR"
install -m 0755 "$BIN/ferryd" "$BIN/ferryctl" "$DESTDIR$BINDIR/"
say "$BINDIR/ferryd, $BINDIR/ferryctl"

install -d "$DESTDIR$UNITDIR"
sed -e "s|@BINDIR@|$BINDIR|g" -e "s|@SYSCONFDIR@|$SYSCONFDIR|g" packaging/ferryd.service.in >"$DESTDIR$UNITDIR/ferryd.service"
chmod 0644 "$DESTDIR$UNITDIR/ferryd.service"
say "$UNITDIR/ferryd.service"

conf=$DESTDIR$SYSCONFDIR/ferry/ferryd.conf
install -d -m 0755 "$DESTDIR$SYSCONFDIR/ferry"
if [[ -e $conf ]]; then
	say "$SYSCONFDIR/ferry/ferryd.conf exists: kept (the shipped one is packaging/ferryd.conf)"
else
	install -m 0644 packaging/ferryd.conf "$conf"
	say "$SYSCONFDIR/ferry/ferryd.conf"
fi

for page in "$MANOUT"/*.[1-8]; do
	[[ -e $page ]] || continue
	section=${page##*.}
	install -d "$DESTDIR$MANDIR/man$section"
	install -m 0644 "$page" "$DESTDIR$MANDIR/man$section/"
	say "$MANDIR/man$section/$(basename "$page")"
done

if [[ -s $BIN/ferryctl.bash ]]; then
	install -d "$DESTDIR$COMPLETIONDIR"
	install -m 0644 "$BIN/ferryctl.bash" "$DESTDIR$COMPLETIONDIR/ferryctl"
	say "$COMPLETIONDIR/ferryctl"
else
	say "no bash completion: $BIN/ferryctl has no 'completion bash' command"
fi

if [[ -z $DESTDIR ]] && [[ -d /run/systemd/system ]]; then
	systemctl daemon-reload || true
	say "edit $SYSCONFDIR/ferry/ferryd.conf (openflow or advertise), then: systemctl enable --now ferryd"
fi
