#!/usr/bin/env bash
# Seed corpora for the fuzz targets, from the project's own fixtures and generator (never
# from ../shared). Writes fuzz/corpus/<target>/; the corpora are not committed.
set -euo pipefail
cd "$(dirname "$0")/.."
# Any build of the binary will do (CI has the test build already).
K=${KAKEHASHI:-target/release/kakehashi}
[ -x "$K" ] || K=target/debug/kakehashi
[ -x "$K" ] || { cargo build --release -q; K=target/release/kakehashi; }
C=fuzz/corpus
rm -rf "$C" fuzz/.seed && mkdir -p "$C" fuzz/.seed
S=fuzz/.seed
"$K" synth --patients 4 -o "$S/synth" >/dev/null
"$K" convert fhir fixtures/ssmix2 --bundles -o "$S/fhir" >/dev/null 2>&1 || true
"$K" convert fixtures/ssmix2 --study fixtures/studies/minimal.yaml --demo-key \
  --format xpt,json,ndjson --allow-findings -o "$S/all" >/dev/null 2>&1 || true
seed() { # target, prefix byte (octal, or '' for none), file
  local d="$C/$1"; mkdir -p "$d"
  local out="$d/$(sha1sum "$3" | cut -c1-16)-$2"
  if [ -n "$2" ]; then { printf "\\$2"; cat "$3"; } >"$out"; else cp "$3" "$out"; fi
}
while IFS= read -r -d '' f; do
  seed hl7_message '' "$f"
  n="$S/name"; basename "$f" | tr -d '\n' >"$n"; seed ssmix2_filename '' "$n"
done < <(find fixtures/ssmix2 "$S/synth" -type f -print0)
i=0
for folder in messages segments datatypes codes; do
  for f in mappings/ssmix2/$folder/*.yaml; do seed mapping_file "00$i" "$f"; done
  i=$((i+1))
done
for f in "$S"/fhir/*.ndjson; do seed fhir_input 000 "$f"; done
for f in "$S"/fhir/bundles/*.json; do seed fhir_input 001 "$f"; done
for f in "$S"/all/sdtm/*.xpt; do seed xpt_reader '' "$f"; done
for f in "$S"/all/sdtm/*.json; do seed dataset_json 001 "$f"; done
for f in "$S"/all/sdtm/*.ndjson; do seed dataset_json 000 "$f"; done
for f in fixtures/studies/*.yaml; do seed study_file '' "$f"; done
for f in fixtures/criteria/*.yaml; do seed criteria_file '' "$f"; done
# FHIRPath: the expressions of the SDTM views over a resource of the bundled output.
res=$(head -n1 "$S/fhir/Observation.ndjson")
grep -rhoE '(path|where|forEach|forEachOrNull|expression): .+' mappings/sdtm | sed -E 's/^[a-zA-Z]+: //; s/^"(.*)"$/\1/' | sort -u | head -300 |
  while IFS= read -r e; do f="$S/expr"; printf '%s\n%s' "$e" "$res" >"$f"; seed fhirpath '' "$f"; done
for t in "$C"/*; do echo "$(basename "$t"): $(ls "$t" | wc -l) seeds"; done
