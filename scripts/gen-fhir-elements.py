#!/usr/bin/env python3
"""Derive schemas/fhir-r4-elements.txt from the official FHIR R4 JSON Schema.

The mapping checker needs to know which element paths exist in FHIR R4 and what type each
element has. This script reduces the official schema (fhir.schema.json, FHIR R4 4.0.1, CC0)
to one line per type:  `Type element:ElementType[*] ...`  (`*` = repeating; enums are
`code`; primitive extensions `_x` are dropped). Run:

    python3 scripts/gen-fhir-elements.py ../shared/schemas/fhir.schema.json > schemas/fhir-r4-elements.txt
"""
import json
import sys

schema = json.load(open(sys.argv[1]))
defs = schema["definitions"]
# Choice-type primitives (onsetDateTime, valueBoolean, …) are inlined with the primitive's
# pattern instead of a $ref: recognise them by pattern, else by the element-name suffix.
by_pattern = {}
for pname, pdef in defs.items():
    if pname[:1].islower() and "pattern" in pdef:
        by_pattern.setdefault(pdef["pattern"], pname)
PRIMS = sorted((n for n in defs if n[:1].islower()), key=len, reverse=True)


def inline_type(el, target):
    if "pattern" in target and target["pattern"] in by_pattern:
        t = by_pattern[target["pattern"]]
        # Several primitives share a pattern (e.g. uri/url/canonical); the name suffix decides.
        for n in PRIMS:
            if el.endswith(n[0].upper() + n[1:]) and defs[n].get("pattern") == target["pattern"]:
                return n
        return t
    for n in PRIMS:
        if el.endswith(n[0].upper() + n[1:]):
            return n
    return {"boolean": "boolean", "number": "decimal"}.get(target.get("type"), "string")
print("# FHIR R4 (4.0.1) element index, derived by scripts/gen-fhir-elements.py from the")
print("# official FHIR R4 JSON Schema (CC0). One line per type: Type element:ElementType[*]")
for name in sorted(defs):
    d = defs[name]
    props = d.get("properties")
    if not props:
        continue
    parts = []
    for el, p in sorted(props.items()):
        if el.startswith("_") or el == "resourceType":
            continue
        many = p.get("type") == "array"
        target = p.get("items", p) if many else p
        if "$ref" in target:
            t = target["$ref"].split("/")[-1]
        elif "enum" in target:
            t = "code"
        elif "const" in target:
            t = "code"
        else:
            t = inline_type(el, target)
        parts.append(f"{el}:{t}{'*' if many else ''}")
    print(name, " ".join(parts))
