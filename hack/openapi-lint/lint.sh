#!/usr/bin/env bash
# lint.sh [FILE] — lint the OpenAPI document (default rest/openapi.json) with
# Redocly CLI's recommended ruleset (redocly.yaml), pinned by
# package-lock.json and installed by `npm ci` here (.ci/install-deps does it).
# Fails on any error or warning, not only on errors as `redocly lint` does;
# the only problem allowed is the one .redocly.lint-ignore.yaml names.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
file=${1:-$here/../../rest/openapi.json}
file=$(realpath "$file")
redocly=$here/node_modules/.bin/redocly
if [[ ! -x $redocly ]]; then
	echo "lint-openapi: $redocly missing: run 'npm ci' in hack/openapi-lint (or make deps)" >&2
	exit 2
fi
# No telemetry or update check: the linter must work offline and say nothing
# about this machine to anyone.
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true
cd "$here"
# The ignore file names the document by its path relative to this directory.
rel=$(realpath --relative-to="$here" "$file")
json=$("$redocly" lint "$rel" --format=json 2>/dev/null) || true
totals=$(node -e '
	let t; try { t = JSON.parse(process.argv[1]).totals } catch (e) { process.exit(3) }
	console.log(`${t.errors} ${t.warnings} ${t.ignored}`)' "$json") || {
	echo "lint-openapi: redocly gave no JSON report; its output:" >&2
	"$redocly" lint "$rel" >&2 || true
	exit 1
}
read -r errors warnings ignored <<<"$totals"
if ((errors || warnings)); then
	# Show the problems the way people read them.
	"$redocly" lint "$rel" --format=codeframe 2>&1 | grep -v '[║╔╚]' >&2 || true
	echo "lint-openapi: $rel: $errors error(s), $warnings warning(s); want none" >&2
	exit 1
fi
echo "lint-openapi: $rel: 0 errors, 0 warnings ($ignored ignored by .redocly.lint-ignore.yaml)"
