#!/usr/bin/env python3
"""Runs CDISC CORE (the reference engine, cdisc-rules-engine) and `kakehashi validate` on
the same folder of XPT datasets and compares them rule by rule, offline.

    scripts/core-compare.py --core-src DIR --python PY [--kakehashi BIN] DATA_DIR...

--core-src  a CORE source tree (core.py + resources/cache; `fetch github:cdisc-org/cdisc-rules-engine`
            and check it out); its large Library pickles need not be present: the cache is rebuilt
            from ../shared by scripts/core-cache.py (SDTMIG 3.4, CT 2025-03-28, no SDTM model).
--python    a Python 3.12 with `pip install cdisc-rules-engine` (it needs 3.12).

For each folder it prints, with issue counts: rules both fire, rules only kakehashi fires,
rules only CORE fires, and CORE's execution errors (rules it could not run for want of
Library metadata). Only published SDTMIG rules are compared; CORE runs every rule its
package holds for SDTMIG 3.4, which includes rules not in the Open Rules corpus we embed
(they are marked `not embedded`).
"""
import argparse
import collections
import json
import os
import shutil
import subprocess
import sys
import tempfile

here = os.path.dirname(os.path.abspath(__file__))
repo = os.path.dirname(here)
ap = argparse.ArgumentParser()
ap.add_argument("--core-src", required=True)
ap.add_argument("--python", required=True)
ap.add_argument("--kakehashi", default=os.path.join(repo, "target", "release", "kakehashi"))
ap.add_argument("--shared", default=os.path.join(repo, "..", "shared"))
ap.add_argument("data", nargs="+")
a = ap.parse_args()

work = tempfile.mkdtemp(prefix="core-compare-")
cache = os.path.join(work, "cache")
subprocess.run([a.python, os.path.join(here, "core-cache.py"), a.core_src, cache, a.shared], check=True)
embedded = set()
pub = os.path.join(a.shared, "conformance", "cdisc-open-rules-sdtmig", "Published")
if os.path.isdir(pub):
    embedded = {d for d in os.listdir(pub) if d.startswith("CORE-")}

for data in a.data:
    name = os.path.basename(os.path.normpath(data))
    xpt = os.path.join(work, name)
    os.makedirs(xpt, exist_ok=True)
    for f in os.listdir(data):
        if f.endswith(".xpt"):
            shutil.copy(os.path.join(data, f), xpt)
    out = os.path.join(work, f"core-{name}")
    define = os.path.join(data, "define.xml")
    # With a Define-XML 2.1, CORE takes the CT release from the define (it refuses -ct).
    extra = ["-dxp", define] if os.path.exists(define) else ["-ct", "sdtmct-2025-03-28"]
    subprocess.run(
        [a.python, "core.py", "validate", "-ca", cache, "-s", "sdtmig", "-v", "3-4",
         "-d", xpt, "-ft", "xpt", "-of", "json", "-o", out, "-p", "disabled"] + extra,
        cwd=a.core_src, check=True, stdout=subprocess.DEVNULL,
    )
    core = json.load(open(out + ".json"))
    errors = {r["core_id"] for r in core["Rules_Report"] if r["status"] == "EXECUTION ERROR"}
    # Counted as distinct records (dataset, record number): CORE reports a record once with
    # its variables, kakehashi once per variable.
    core_hits = collections.Counter(
        r for r, _, _ in {(i["core_id"], i["dataset"], i.get("row")) for i in core["Issue_Details"]
                          if i["core_id"] not in errors}
    )
    ours = json.loads(
        subprocess.run([a.kakehashi, "validate", xpt, "--format", "json"]
                       + (["--define", define] if os.path.exists(define) else []),
                       capture_output=True, check=False).stdout
    )
    our_hits = collections.Counter(
        r for r, _, _ in {(f["Rule"], f["Dataset"], f["Record"]) for f in ours["findings"]
                          if f["Rule"].startswith("CORE-")}
    )
    own = collections.Counter(f["Rule"] for f in ours["findings"] if not f["Rule"].startswith("CORE-"))
    print(f"\n## {data}\n")
    print(f"CORE: {len(core['Rules_Report'])} rules, {len(errors)} execution errors; "
          f"kakehashi: {ours['rules_run']} rules\n")
    print("| rule | CORE records | kakehashi records | |")
    print("|---|---:|---:|---|")
    for rule in sorted(set(core_hits) | set(our_hits)):
        c, k = core_hits.get(rule, 0), our_hits.get(rule, 0)
        kind = "both" if c and k else ("only CORE" if c else "only kakehashi")
        if kind == "only CORE" and rule not in embedded:
            kind += " (not embedded)"
        print(f"| {rule} | {c} | {k} | {kind} |")
    for rule in sorted(errors):
        print(f"| {rule} | execution error | {our_hits.get(rule, 0)} | CORE could not run it |")
    for rule, n in sorted(own.items()):
        print(f"| {rule} | — | {n} | kakehashi's own rule |")
shutil.rmtree(work, ignore_errors=True)
