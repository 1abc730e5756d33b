//! Statistics and feasibility counts for sponsors, without records: subjects' facts from
//! SDTM ([`facts`]), aggregate tables ([`aggregate`]) and attrition tables
//! ([`feasibility`]), all protected by small-cell and complementary suppression
//! ([`suppress`]), written as CSV, JSON and one self-contained HTML page ([`html`]).

pub mod aggregate;
pub mod facts;
pub mod feasibility;
pub mod html;
pub mod suppress;

pub use aggregate::{stats, Stats};
pub use facts::Subject;
pub use feasibility::{attrition, Attrition, Criteria};

/// Default small-cell threshold: counts 1–9 are never published.
pub const DEFAULT_THRESHOLD: u64 = 10;
