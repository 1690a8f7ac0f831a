#!/usr/bin/env bash
# deb.sh — `make deb`: build bin/ferry_VERSION_ARCH.deb with dpkg-deb from
# what `make build man` produced, staged by install.sh with the Debian
# layout (/usr/bin, /lib/systemd/system, /etc/ferry, /usr/share/man).
#   BIN      the built binaries (bin)
#   VERSION  git describe --always --dirty, turned into a Debian version
#   OUT      where the .deb goes (bin)
# Prints the .deb's path as its last line.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-bin}
OUT=${OUT:-$BIN}
VERSION=${VERSION:-$(git describe --always --dirty 2>/dev/null || echo unknown)}

# v1.2.3-4-gabc -> 1.2.3+4+gabc; a bare commit (no tag yet) -> 0~gitDATE.HASH:
# Debian versions must start with a digit, and ~ sorts before any release.
v=${VERSION#v}
if [[ $v =~ ^[0-9]+\.[0-9]+ ]]; then
	debversion=${v//-/+}
else
	date=$(git log -1 --format=%cd --date=format:%Y%m%d 2>/dev/null || date -u +%Y%m%d)
	debversion=0~git$date.${v//-/.}
fi
arch=$(dpkg --print-architecture)

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
chmod 0755 "$stage"
BIN=$BIN DESTDIR=$stage PREFIX=/usr SYSCONFDIR=/etc UNITDIR=/lib/systemd/system \
	bash packaging/install.sh >/dev/null
# Debian policy: man pages compressed, a copy of the changelog-less docs.
find "$stage/usr/share/man" -type f -exec gzip -9n {} +
install -d "$stage/usr/share/doc/ferry"
install -m 0644 README.md docs/operations.md "$stage/usr/share/doc/ferry/"
gzip -9n "$stage/usr/share/doc/ferry/operations.md"
# Debian policy 12.5: every package ships its copyright, uncompressed.
install -m 0644 packaging/copyright "$stage/usr/share/doc/ferry/copyright"

install -d "$stage/DEBIAN"
size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
cat >"$stage/DEBIAN/control" <<CONTROL
Package: ferry
Version: $debversion
Architecture: $arch
Maintainer: ferry developers <ferry@example.invalid>
Installed-Size: $size
Depends: openvswitch-common
Recommends: openvswitch-switch
Section: net
Priority: optional
Homepage: https://github.com/ferry-sdn/ferry
Description: Open vSwitch controller for layer-2 logical switches
 ferry spans layer-2 logical switches across Open vSwitch hypervisors
 (KVM, XenServer) and hardware_vtep gateways over routed underlays,
 driven through a REST API and the ferryctl CLI.
 .
 This package holds ferryd (the controller, run by ferryd.service),
 ferryctl, their manual pages and /etc/ferry/ferryd.conf. ferryd runs its
 own ovsdb-server (from openvswitch-common) for its northbound database.
CONTROL
echo /etc/ferry/ferryd.conf >"$stage/DEBIAN/conffiles"
for s in postinst prerm postrm; do
	install -m 0755 "packaging/deb/$s" "$stage/DEBIAN/$s"
done
(cd "$stage" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z | xargs -0 md5sum) >"$stage/DEBIAN/md5sums"

mkdir -p "$OUT"
deb=$OUT/ferry_${debversion}_$arch.deb
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >/dev/null
echo "deb: $(dpkg-deb --field "$deb" Package Version Architecture | tr '\n' ' ')"
echo "$deb"
