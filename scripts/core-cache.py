#!/usr/bin/env python3
"""Builds a CDISC CORE (cdisc-rules-engine) cache folder offline, for scripts/core-compare.sh.

CORE reads its standards from pickles its maintainers fill from the CDISC Library (an
account and network). Here they are rebuilt from the same sources kakehashi embeds:

- standards_details.pkl  SDTMIG 3.4 as the Library's /mdr/sdtmig/3-4 JSON (classes →
                         datasets → datasetVariables), from ../shared/reference/sdtmig-3.4;
- sdtmct-<date>.pkl      the CT package as the Library's /mdr/ct/packages JSON, from the NCI
                         EVS "SDTM Terminology.txt";
- standards_models.pkl   the SDTM model: not in ../shared (a CDISC Library resource), so the
                         model has the IG's classes and no class variables; rules that need
                         class-level model metadata run without it in CORE as in kakehashi;
- variables_metadata.pkl empty (Library variable metadata, likewise unavailable).

The other pickles (rules.pkl, variable_codelist_maps.pkl …) are copied from a fetched CORE
source tree. Usage: core-cache.py CORE_SRC OUT_DIR SHARED_DIR
"""
import csv
import os
import pickle
import shutil
import sys
from collections import defaultdict

core, out, shared = sys.argv[1], sys.argv[2], sys.argv[3]
os.makedirs(out, exist_ok=True)
src = os.path.join(core, "resources", "cache")
for f in os.listdir(src):
    p = os.path.join(src, f)
    # Large pickles absent from the snapshot are rebuilt below.
    try:
        with open(p, "rb") as fh:
            pickle.load(fh)
        shutil.copy(p, os.path.join(out, f))
    except Exception:
        pass

ig = os.path.join(shared, "reference", "sdtmig-3.4")
with open(os.path.join(ig, "Datasets.csv"), encoding="utf-8-sig") as fh:
    datasets = list(csv.DictReader(fh))
with open(os.path.join(ig, "Variables.csv"), encoding="utf-8-sig") as fh:
    variables = list(csv.DictReader(fh))
by_ds = defaultdict(list)
for v in variables:
    codelists = [c.strip() for c in (v["CDISC CT Codelist Code(s)"] or "").split(";") if c.strip()]
    by_ds[v["Dataset Name"]].append(
        {
            "name": v["Variable Name"],
            "label": v["Variable Label"],
            "ordinal": v["Variable Order"],
            "role": v["Role"],
            "core": v["Core"],
            "simpleDatatype": "Num" if v["Type"] == "Num" else "Char",
            "describedValueDomain": v["Described Value Domain(s)"] or None,
            "_links": {
                "codelist": [{"href": f"/mdr/root/ct/sdtmct/codelists/{c}"} for c in codelists]
            },
        }
    )
classes = {}
for d in datasets:
    c = classes.setdefault(d["Class"], {"name": d["Class"], "ordinal": str(len(classes) + 1), "datasets": []})
    c["datasets"].append(
        {
            "name": d["Dataset Name"],
            "label": d["Dataset Label"],
            "description": d["Dataset Label"],
            "datasetStructure": d["Structure"],
            "ordinal": str(len(c["datasets"]) + 1),
            "datasetVariables": by_ds[d["Dataset Name"]],
            "_links": {"parentClass": {"title": d["Class"]}},
        }
    )
standard = {
    "name": "SDTMIG v3.4",
    "version": "3.4",
    "_links": {"model": {"href": "/mdr/sdtm/2-0", "title": "SDTM v2.0"}, "self": {"href": "/mdr/sdtmig/3-4"}},
    "classes": list(classes.values()),
}
with open(os.path.join(out, "standards_details.pkl"), "wb") as fh:
    pickle.dump({"standards/sdtmig/3-4": standard}, fh)
model = {"name": "SDTM v2.0", "version": "2.0", "classes": [{"name": c["name"], "ordinal": c["ordinal"], "classVariables": [], "datasets": []} for c in classes.values()]}
with open(os.path.join(out, "standards_models.pkl"), "wb") as fh:
    pickle.dump({"models/sdtm/2-0": model}, fh)
with open(os.path.join(out, "variables_metadata.pkl"), "wb") as fh:
    pickle.dump({}, fh)

ct_dir = os.path.join(shared, "reference", "cdisc-ct")
date = sys.argv[4] if len(sys.argv) > 4 else "2025-03-28"
codelists = {}
terms = []
with open(os.path.join(ct_dir, "SDTM_Terminology.txt"), encoding="utf-8") as fh:
    for r in csv.reader(fh, delimiter="\t"):
        if r[0] == "Code":
            continue
        code, parent, ext, name, sub, syn, definition, pt = (r + [""] * 8)[:8]
        syns = [s.strip() for s in syn.split(";") if s.strip()]
        if not parent:
            codelists[code] = {
                "conceptId": code, "extensible": ext == "Yes", "name": name,
                "submissionValue": sub, "definition": definition, "preferredTerm": pt,
                "synonyms": syns, "terms": [],
            }
        else:
            terms.append((parent, {"conceptId": code, "submissionValue": sub, "definition": definition, "preferredTerm": pt, "synonyms": syns}))
for parent, t in terms:
    if parent in codelists:
        codelists[parent]["terms"].append(t)
name = f"sdtmct-{date}"
with open(os.path.join(out, f"{name}.pkl"), "wb") as fh:
    pickle.dump({"package": name, "codelists": list(codelists.values())}, fh)
print(f"{out}: standards_details (SDTMIG 3.4, {len(datasets)} datasets, {len(variables)} variables), {name} ({len(codelists)} codelists)")
