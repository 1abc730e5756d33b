"""Write the CDISC pilot's DM and AE with seven known defects, with pyreadstat (software we did
not write), for tests/validate_defects.rs. Usage: inject_defects.py PILOT_DIR OUT_DIR.

Each defect is written into a different record, and the record numbers are printed as JSON
so the test knows where each one must be found:
  DM: SEX "X", AGEU "YEAR", RFSTDTC "2014/01/02", COUNTRY "JAPAN"
  AE: AESER "X", AESEQ duplicated within a subject, AESTDTC "2014-1-3"
"""
import json
import shutil
import sys

import pyreadstat

src, out = sys.argv[1], sys.argv[2]
where = {}


def rewrite(name, edits):
    df, meta = pyreadstat.read_xport(f"{src}/{name}.xpt")
    for var, row, value in edits:
        if var == "AESEQ":
            # The same AESEQ as the record before it, same subject.
            assert df.loc[row, "USUBJID"] == df.loc[row - 1, "USUBJID"]
            value = df.loc[row - 1, "AESEQ"]
        df.loc[row, var] = value
        where.setdefault(name.upper(), []).append([var, row + 1, str(value)])
    labels = [meta.column_names_to_labels.get(c) or "" for c in df.columns]
    pyreadstat.write_xport(
        df,
        f"{out}/{name}.xpt",
        file_format_version=5,
        table_name=name.upper(),
        column_labels=labels,
        variable_format=meta.original_variable_types,
    )


for f in ["ex", "ds", "mh", "cm", "sv", "suppdm", "suppae"]:
    shutil.copy(f"{src}/{f}.xpt", f"{out}/{f}.xpt")
rewrite("dm", [("SEX", 0, "X"), ("AGEU", 1, "YEAR"), ("RFSTDTC", 2, "2014/01/02"), ("COUNTRY", 3, "JAPAN")])
rewrite("ae", [("AESER", 0, "X"), ("AESEQ", 2, None), ("AESTDTC", 4, "2014-1-3")])
print(json.dumps(where))
