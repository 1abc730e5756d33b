#!/usr/bin/env bash
# Parse rates of peer HL7 v2 parsers on the same corpus as `cargo bench --bench parse`
# (../shared/data/hl7v2 + ../shared/data/ssmix2), using the independent checkers in
# ../shared/tools. Installs python-hl7, hl7apy, hl7conv2 (pip) and @medplum/core (npm)
# into a temporary folder; needs network access to the package registries.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
shared="$here/../shared"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$shared/tools/." "$work/tools"
mkdir -p "$work/corpus"
cp -r "$shared/data/hl7v2" "$shared/data/ssmix2" "$work/corpus/"
cd "$work/tools"
python3 -m pip install -q hl7 hl7apy hl7conv2 >/dev/null
npm install --no-audit --no-fund >/dev/null 2>&1
node hl7_parse_bench.js "$work/corpus" --min-seconds 3
python3 parse_bench.py "$work/corpus" --min-seconds 3 | sed -n '/^parser/,/^$/p'
