//! SS-MIX2 storage: walking roots, file names, current state (flags 1/2/0, snapshots),
//! extended and transaction storage, and reading items into HL7 messages.

pub mod filename;
pub mod inventory;
pub mod read;
pub mod state;
pub mod storage;
pub mod transaction;

pub use filename::{FileName, Flag};
pub use read::{read_item, ReadItem};
pub use state::{select, PatientState, StatePolicy};
pub use storage::{Item, PatientFiles, Source, Storage, WalkEvent};

use rayon::prelude::*;

/// Run `work` over patients on all cores while keeping output order deterministic:
/// patients are taken from the (sorted) walk in batches, each batch is processed in
/// parallel, and results are handed to `sink` in walk order. Memory is bounded by one batch.
pub fn par_patients<T: Send>(
    events: impl Iterator<Item = WalkEvent>,
    batch: usize,
    work: impl Fn(PatientFiles) -> T + Sync,
    mut sink: impl FnMut(Result<T, crate::diagnostics::Diagnostic>),
) {
    let mut pending: Vec<PatientFiles> = Vec::with_capacity(batch);
    let flush = |pending: &mut Vec<PatientFiles>,
                 sink: &mut dyn FnMut(Result<T, crate::diagnostics::Diagnostic>)| {
        let results: Vec<T> = std::mem::take(pending).into_par_iter().map(&work).collect();
        for r in results {
            sink(Ok(r));
        }
    };
    for ev in events {
        match ev {
            WalkEvent::Diagnostic(d) => {
                flush(&mut pending, &mut sink);
                sink(Err(d));
            }
            WalkEvent::Patient(p) => {
                pending.push(p);
                if pending.len() >= batch {
                    flush(&mut pending, &mut sink);
                }
            }
        }
    }
    flush(&mut pending, &mut sink);
}
