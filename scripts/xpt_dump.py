#!/usr/bin/env python3
"""xpt_dump.py FILE.xpt [--encoding ENC] — what pyreadstat (ReadStat) reads from an XPT file,
as JSON on stdout, for tests to compare with kakehashi's own reader:

  {"name", "label", "columns": [{"name", "label", "type": "char"|"num", "length"}],
   "rows": [[value, ...], ...]}

Character values are right-trimmed ("" = blank); numbers are JSON numbers (shortest
round-trip repr of the double); missing values (".", and the special ".A"-"._", which
pyreadstat does not tell apart for XPT) are null.

xpt_write.py-style writing for tests: `xpt_dump.py --write OUT.xpt` reads a table as JSON on
stdin (same shape) and writes it with pyreadstat.write_xport(file_format_version=5).
"""
import json
import math
import sys


def dump(path, encoding):
    import pyreadstat
    df, meta = pyreadstat.read_xport(path, encoding=encoding)
    cols = []
    for name, label in zip(meta.column_names, meta.column_labels):
        cols.append(dict(
            name=name,
            label=label or "",
            type="char" if meta.readstat_variable_types.get(name) == "string" else "num",
            length=meta.variable_storage_width.get(name),
        ))
    rows = []
    for rec in df.itertuples(index=False):
        row = []
        for c, v in zip(cols, rec):
            if c["type"] == "char":
                row.append("" if v is None else str(v).rstrip())
            elif isinstance(v, str):
                row.append("." + v)
            elif v is None or (isinstance(v, float) and math.isnan(v)):
                row.append(None)
            else:
                row.append(float(v))
        rows.append(row)
    json.dump(dict(name=meta.table_name, label=meta.file_label or "", columns=cols, rows=rows), sys.stdout)


def write(path):
    import pandas as pd
    import pyreadstat
    t = json.load(sys.stdin)
    data = {}
    for i, c in enumerate(t["columns"]):
        vals = [r[i] for r in t["rows"]]
        if c["type"] == "num":
            data[c["name"]] = pd.Series([float("nan") if v is None else float(v) for v in vals], dtype="float64")
        else:
            data[c["name"]] = pd.Series(["" if v is None else v for v in vals], dtype="object")
    df = pd.DataFrame(data)
    pyreadstat.write_xport(df, path, file_label=t.get("label", ""), table_name=t["name"],
                           column_labels=[c["label"] for c in t["columns"]], file_format_version=5)


if __name__ == "__main__":
    args = sys.argv[1:]
    if args and args[0] == "--write":
        write(args[1])
    else:
        enc = None
        if "--encoding" in args:
            enc = args[args.index("--encoding") + 1]
        dump(args[0], enc)
