#!/usr/bin/env python3
"""Derive schemas/fhir-r4-required.txt: the FHIR R4 elements with minimum cardinality 1.

The R4 JSON Schema cannot say that a primitive is required (`status` may come as `_status`),
so the converter's runtime check needs the cardinalities from elsewhere. fhirbolt-model
(MIT/Apache-2.0) generates its R4 structs from the official StructureDefinitions: an
element is required exactly when its field is neither `Option<…>` nor `Vec<…>` (1..*
elements are `Vec` there too, so those are not listed). This script reads those generated
sources and writes one line per type that has required elements, with the type named as
in schemas/fhir-r4-elements.txt without underscores (`ObservationReferenceRange`):

    python3 scripts/gen-fhir-required.py "$(cargo metadata --format-version 1 | python3 -c \
      'import json,sys; print([p for p in json.load(sys.stdin)["packages"] if p["name"]=="fhirbolt-model"][0]["manifest_path"])')" \
      > schemas/fhir-r4-required.txt
"""
import pathlib
import re
import sys

root = pathlib.Path(sys.argv[1]).parent / "src" / "generated" / "r4"
struct_re = re.compile(r"^pub struct (\w+) \{$")
field_re = re.compile(r"^    pub r#(\w+): (.+),$")


def camel(snake):
    head, *rest = snake.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


files = sorted(list((root / "resources").glob("*.rs")) + list((root / "types").glob("*.rs")))
enums = {m.group(1) for f in files for m in re.finditer(r"^pub enum (\w+) \{$", f.read_text(), re.M)}
out = {}
for f in files:
    current = None
    for line in f.read_text().splitlines():
        m = struct_re.match(line)
        if m:
            current = m.group(1)
            continue
        if line.startswith("}"):
            current = None
            continue
        m = field_re.match(line)
        if current and m:
            name, ty = m.groups()
            if ty.startswith("Option<") or ty.startswith("Vec<"):
                continue
            # A choice element is an enum (`ImmunizationOccurrence` for occurrence[x]).
            is_choice = ty.split("::")[-1].strip("<>") in enums or ty in enums
            out.setdefault(current, []).append(camel(name) + ("[x]" if is_choice else ""))

print("# FHIR R4 elements with minimum cardinality 1 (0..* and 1..* lists excluded), derived by")
print("# scripts/gen-fhir-required.py from fhirbolt-model 0.4.0's structs, which are generated")
print("# from the official R4 StructureDefinitions. One line per type: Type element …")
for t in sorted(out):
    print(t, " ".join(sorted(out[t])))
