//! `kakehashi validate`: SDTM conformance. Datasets are read from any accepted form
//! ([`data`]), rules are declarations in the CDISC Open Rules language ([`rule`]), one
//! engine runs them ([`engine`]) with standard metadata when given ([`library`]).

pub mod data;
pub mod engine;
pub mod library;
pub mod rule;
pub mod rules;

pub use data::{load_folder, Study};
pub use engine::{run, Finding};
pub use library::Library;
pub use rule::Rule;
