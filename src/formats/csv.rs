//! CSV for quick looks: a header of variable names, then one line per row; null = empty.

use std::io::Write;

use super::table::Dataset;

pub fn write(ds: &Dataset, out: &mut impl Write) -> std::io::Result<()> {
    let mut w = ::csv::Writer::from_writer(out);
    w.write_record(ds.columns.iter().map(|c| c.name.as_str()))
        .map_err(std::io::Error::other)?;
    for r in &ds.rows {
        w.write_record(r.iter().map(|c| c.text()))
            .map_err(std::io::Error::other)?;
    }
    w.flush()
}
