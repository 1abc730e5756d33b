#!/usr/bin/env bash
# Before/after output diff (issue 16): builds two revisions of kakehashi, runs both over the
# same inputs — the bundled fixture archive, every corpus in ../shared/data that a command
# takes (the two SS-MIX2 trees end to end, the two FHIR corpora through `convert sdtm`), and
# a generated synth archive — and compares the written folders byte for byte.
#
#   scripts/diff-outputs.sh BASE [HEAD]     # revisions; HEAD defaults to the work tree
#   KK_DIFF_PATIENTS=300 scripts/diff-outputs.sh HEAD~3
#
# Exit 0 when every output is identical, 1 when any differs (the differing files are
# listed), 2 on a usage or build error. A speed change must leave this at 0.
set -euo pipefail

base=${1:?usage: scripts/diff-outputs.sh BASE [HEAD]}
head=${2:-}
repo=$(cd "$(dirname "$0")/.." && pwd)
shared=${KK_SHARED:-$repo/../shared}
patients=${KK_DIFF_PATIENTS:-100}
work=$(mktemp -d /tmp/kk-diff.XXXXXX)
trap 'git -C "$repo" worktree remove --force "$work/src-base" >/dev/null 2>&1 || true;
      [ -n "$head" ] && git -C "$repo" worktree remove --force "$work/src-head" >/dev/null 2>&1 || true;
      rm -rf "$work"' EXIT
[ -d "$shared/data" ] || { echo "no $shared/data (set KK_SHARED)" >&2; exit 2; }

# One target directory for both builds: the second is an incremental rebuild.
export CARGO_TARGET_DIR=${KK_DIFF_TARGET:-$repo/target/diff-outputs}

build() { # build REV-or-empty NAME → $work/NAME (the binary)
  local src=$repo
  if [ -n "$1" ]; then
    src=$work/src-$2
    git -C "$repo" worktree add --detach --force "$src" "$1" >/dev/null 2>&1 ||
      { echo "cannot check out $1" >&2; exit 2; }
  fi
  (cd "$src" && cargo build --release --quiet --bin kakehashi) || { echo "build of ${1:-work tree} failed" >&2; exit 2; }
  cp "$CARGO_TARGET_DIR/release/kakehashi" "$work/$2"
}

build "$base" base
build "$head" head
"$work/head" synth -o "$work/synth" --patients "$patients" --seed 16 >/dev/null

run() { # run BIN OUT: every input through BIN into OUT/<case>
  local kk=$1 out=$2 study=$repo/fixtures/studies/minimal.yaml
  mkdir -p "$out"
  # Exit codes are part of the output: a run that finds errors in a corpus is expected.
  { "$kk" convert "$repo/fixtures/ssmix2" --study "$study" --demo-key -o "$out/fixture"; echo "exit $?"; } >"$out/fixture.log" 2>&1 || true
  { "$kk" convert "$work/synth" --study "$study" --demo-key -o "$out/synth"; echo "exit $?"; } >"$out/synth.log" 2>&1 || true
  for d in "$shared"/data/ssmix2/*/; do
    local n; n=ssmix2-$(basename "$d")
    { "$kk" convert "$d" --study "$study" --demo-key --allow-findings -o "$out/$n"; echo "exit $?"; } >"$out/$n.log" 2>&1 || true
  done
  for d in "$shared"/data/fhir/*/; do
    local n; n=fhir-$(basename "$d")
    { "$kk" convert sdtm "$d" --study "$study" --demo-key --allow-findings -o "$out/$n"; echo "exit $?"; } >"$out/$n.log" 2>&1 || true
  done
  # Terminal summaries carry timings ("(0.42 s)") and the output path; neither is output.
  sed -i -E "s/\([0-9.]+ s\)//g; s/in [0-9.]+ s//g; s#$out#OUT#g" "$out"/*.log
}

run "$work/base" "$work/out-base"
run "$work/head" "$work/out-head"

if diff -rq "$work/out-base" "$work/out-head" >"$work/diff.txt"; then
  echo "identical: $(find "$work/out-base" -type f | wc -l) files over $(ls "$work/out-base" | grep -vc '\.log$') runs (base ${base}, head ${head:-work tree})"
else
  echo "outputs differ (base ${base}, head ${head:-work tree}):"
  sed "s#$work/##g" "$work/diff.txt"
  exit 1
fi
