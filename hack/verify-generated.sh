#!/usr/bin/env bash
# verify-generated.sh: fail if generated code is stale.
#
# Runs `go generate` (by default on ./...) in a scratch copy of the working
# tree and compares the result with an untouched copy of the same files. Any
# difference, including a file the generators would add, is printed as a
# unified diff and the script exits 1. The working tree itself is never
# modified.
#
# usage: hack/verify-generated.sh [packages...]   (default: ./...)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
pkgs=("$@")
[ ${#pkgs[@]} -gt 0 ] || pkgs=(./...)

tmp="$(mktemp -d "${TMPDIR:-/tmp}/ferry-verify-gen.XXXXXX")"
trap 'chmod -R u+w "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT

# The files to copy: tracked and untracked-but-not-ignored ones when this is
# a git checkout (so build output and editor files do not count), else
# everything but .git.
list_files() {
	if git -C "$root" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
		git -C "$root" ls-files -z --cached --others --exclude-standard
	else
		(cd "$root" && find . -path ./.git -prune -o -type f -print0)
	fi
}

mkdir "$tmp/want" "$tmp/got"
list_files | (cd "$root" && xargs -0 -r cp --parents -t "$tmp/want" 2>/dev/null || true)
# Files listed by git but deleted in the working tree are skipped above;
# start both copies from the same set.
cp -a "$tmp/want/." "$tmp/got/"

(cd "$tmp/got" && GOFLAGS="${GOFLAGS:-} -mod=readonly" go generate "${pkgs[@]}")

if ! diff -ruN "$tmp/want" "$tmp/got" >"$tmp/diff"; then
	sed -e "s|$tmp/want/|a/|g" -e "s|$tmp/got/|b/|g" "$tmp/diff"
	echo >&2
	echo "verify-generated: generated files are out of date; run 'go generate ${pkgs[*]}' and commit the result" >&2
	exit 1
fi
echo "verify-generated: generated files are up to date"
