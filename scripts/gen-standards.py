#!/usr/bin/env python3
"""Derive the standards the validator embeds (schemas/cdisc/) from their published sources.

kakehashi validates against SDTMIG 3.4, CDISC CT and the CDISC Open Rules by default, so a
user needs no download to get a submission-grade verdict. The repository never carries the
shared copies themselves; it carries these derived, compacted files, regenerated with:

    python3 -m venv /tmp/std && /tmp/std/bin/pip install pycountry==26.2.16
    /tmp/std/bin/python scripts/gen-standards.py ../shared schemas/cdisc

What each file keeps (and why it drops the rest):
  sdtmig-3.4/Datasets.csv   CDISC Library export of SDTMIG 3.4, as is (classes, labels).
  sdtmig-3.4/Variables.csv  the same export without the "CDISC Notes" column (prose the
                            rules never read; 2/3 of the size).
  sdtm-ct.tsv.gz            NCI EVS "SDTM Terminology.txt" (CDISC CT 2025-03), all codelists
                            and terms, with the Synonym and Definition columns emptied (the
                            validator and define.xml use codes, submission values, names,
                            extensibility and the NCI preferred term). gzip, fixed mtime.
  open-rules-sdtmig.yaml.gz the 316 published SDTMIG rules (Published/CORE-*/rule.yml) of
                            cdisc-org/cdisc-open-rules, concatenated in id order, each after a
                            `#%% CORE-nnnnnn` line; the per-rule test data stays in ../shared.
  iso3166-1-alpha3.txt      ISO 3166-1 alpha-3 codes with their English short names, from
                            pycountry (iso-codes, Debian); the CT has no COUNTRY codelist.
  VERSIONS                  version and source of each, printed in every report.
"""
import csv
import gzip
import io
import os
import sys

shared, out = sys.argv[1], sys.argv[2]
os.makedirs(os.path.join(out, "sdtmig-3.4"), exist_ok=True)


def write(path, data: bytes):
    with open(os.path.join(out, path), "wb") as f:
        f.write(data)


def gz(data: bytes) -> bytes:
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", compresslevel=9, mtime=0) as g:
        g.write(data)
    return buf.getvalue()


ig = os.path.join(shared, "reference/sdtmig-3.4")
with open(os.path.join(ig, "Datasets.csv"), "rb") as f:
    write("sdtmig-3.4/Datasets.csv", f.read())
with open(os.path.join(ig, "Variables.csv"), encoding="utf-8-sig", newline="") as f:
    rows = list(csv.DictReader(f))
cols = [c for c in rows[0] if c != "CDISC Notes"]
buf = io.StringIO()
w = csv.DictWriter(buf, cols, quoting=csv.QUOTE_ALL, lineterminator="\n")
w.writeheader()
for r in rows:
    w.writerow({c: r[c] for c in cols})
write("sdtmig-3.4/Variables.csv", buf.getvalue().encode("utf-8"))

ct_lines = []
with open(os.path.join(shared, "reference/cdisc-ct/SDTM_Terminology.txt"), encoding="utf-8") as f:
    for line in f.read().split("\n"):
        fld = line.split("\t")
        if len(fld) < 8:
            continue
        fld[5] = ""
        fld[6] = ""
        ct_lines.append("\t".join(fld))
write("sdtm-ct.tsv.gz", gz(("\n".join(ct_lines) + "\n").encode("utf-8")))

pub = os.path.join(shared, "conformance/cdisc-open-rules-sdtmig/Published")
parts = []
for rid in sorted(os.listdir(pub)):
    p = os.path.join(pub, rid, "rule.yml")
    if os.path.exists(p):
        with open(p, encoding="utf-8") as f:
            parts.append(f"#%% {rid}\n" + f.read().rstrip("\n") + "\n")
write("open-rules-sdtmig.yaml.gz", gz("".join(parts).encode("utf-8")))

import pycountry  # noqa: E402  (only this file needs it)

countries = sorted((c.alpha_3, c.name) for c in pycountry.countries)
write(
    "iso3166-1-alpha3.txt",
    ("".join(f"{a}\t{n}\n" for a, n in countries)).encode("utf-8"),
)

write(
    "VERSIONS",
    (
        "sdtmig\t3.4\tCDISC SDTM Implementation Guide v3.4, CDISC Library export\n"
        "ct\t2025-03-28\tCDISC SDTM Controlled Terminology 2025-03 (NCI EVS)\n"
        f"open-rules\t618ab81d\tCDISC Open Rules, {len(parts)} published SDTMIG rules (cdisc-org/cdisc-open-rules@618ab81d)\n"
        f"iso3166\t26.2.16\tISO 3166-1 alpha-3, {len(countries)} codes (pycountry 26.2.16, iso-codes)\n"
        "iso8601\t2019\tISO 8601-1:2019 extended format as SDTMIG 3.4 §4.4 restricts it\n"
    ).encode("utf-8"),
)
print(f"{len(rows)} variables, {len(ct_lines)} CT lines, {len(parts)} rules, {len(countries)} countries")
