//! kakehashi (架け橋): SS-MIX2 hospital storage → HL7 FHIR R4 → CDISC SDTM.
//!
//! Stages, in the order data flows: [`ssmix2`] (storage) → [`hl7`] (messages) → … .
//! The library never prints and never exits; the CLI decides what the user sees.

pub mod diagnostics;
pub mod fhir;
pub mod fhirpath;
pub mod formats;
pub mod hl7;
pub mod mapping;
pub mod outdir;
pub mod privacy;
pub mod r4model;
pub mod sdtm;
pub mod ssmix2;
pub mod stats;
pub mod synth;
pub mod validate;
pub mod yaml;
