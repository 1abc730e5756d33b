//! Current state of a patient's storage.
//!
//! Versions of one record share (PID, care date, data type, order no.). The rule, from the
//! SS-MIX2 guideline's update procedure: the newest flag-`1` file is the current version;
//! flag-`2` files are superseded history; when the newest file of a key is flag `0` the
//! record is deleted. Data types configured as *snapshots* (ADT-00 by default) hold the
//! whole state of the patient, so their key is (PID, data type): the newest replaces all
//! earlier ones. PPR-01 is per key by default, because generators and vendors differ (one
//! file per batch of diagnoses is common); `--snapshot-types ADT-00,PPR-01` makes it a
//! snapshot too.

use super::filename::Flag;
use super::storage::{Item, Key};
use crate::diagnostics::Diagnostic;
use std::collections::BTreeMap;

#[derive(Debug, Clone)]
pub struct StatePolicy {
    pub snapshot_types: Vec<String>,
}

impl Default for StatePolicy {
    fn default() -> Self {
        StatePolicy {
            snapshot_types: vec!["ADT-00".into()],
        }
    }
}

/// A record whose newest version is a deletion.
#[derive(Debug, Clone)]
pub struct Deleted {
    pub key: Key,
    /// The newest (flag-0) item, which holds the delete/cancel message.
    pub item: Item,
}

#[derive(Debug, Clone, Default)]
pub struct PatientState {
    pub patient_id: String,
    /// Current versions, sorted by key.
    pub current: Vec<Item>,
    pub deleted: Vec<Deleted>,
    /// Everything else (superseded and older versions), for audit.
    pub history: Vec<Item>,
    pub diagnostics: Vec<Diagnostic>,
}

/// Select the current state from all stored versions of a patient.
pub fn select(patient_id: &str, items: Vec<Item>, policy: &StatePolicy) -> PatientState {
    let mut groups: BTreeMap<Key, Vec<Item>> = BTreeMap::new();
    for it in items {
        let mut key = Key::of(&it.name);
        if policy.snapshot_types.contains(&key.data_type) {
            key.care_date = None;
            key.order_no = String::new();
        }
        groups.entry(key).or_default().push(it);
    }
    let mut st = PatientState {
        patient_id: patient_id.to_owned(),
        ..Default::default()
    };
    for (key, mut versions) in groups {
        // Oldest first; ties broken by flag (0 and 2 before 1 is arbitrary but fixed) and path.
        versions.sort_by(|a, b| {
            (a.name.sortable_timestamp(), a.name.flag, &a.path).cmp(&(
                b.name.sortable_timestamp(),
                b.name.flag,
                &b.path,
            ))
        });
        let newest = versions.len() - 1;
        if versions[newest].name.flag == Flag::Deleted {
            let item = versions.remove(newest);
            st.history.extend(versions);
            st.deleted.push(Deleted { key, item });
            continue;
        }
        let current_idx = versions.iter().rposition(|v| v.name.flag == Flag::Current);
        let chosen = match current_idx {
            Some(i) => {
                if i != newest {
                    st.diagnostics.push(
                        Diagnostic::warning("S031", "a superseded (flag 2) version is newer than the current (flag 1) one; the flag-1 version is used", versions[newest].location())
                            .help("the storage update was interrupted or files were renamed by hand"),
                    );
                }
                i
            }
            None => {
                st.diagnostics.push(
                    Diagnostic::warning(
                        "S030",
                        "only superseded (flag 2) versions exist; the newest is used as current",
                        versions[newest].location(),
                    )
                    .help("the current (flag 1) file is missing from the storage"),
                );
                newest
            }
        };
        let cur = versions.remove(chosen);
        st.history.extend(versions);
        st.current.push(cur);
    }
    st
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ssmix2::filename::FileName;
    use crate::ssmix2::storage::Source;

    fn item(name: &str) -> Item {
        Item {
            name: FileName::parse(name).unwrap().0,
            path: name.into(),
            source: Source::Standard,
            root: 0,
        }
    }

    #[test]
    fn newest_flag1_wins_and_history_is_kept() {
        let st = select(
            "1",
            vec![
                item("1_20240101_OML-11_000000000000001_20240101100000000_01_2"),
                item("1_20240101_OML-11_000000000000001_20240102100000000_01_1"),
                item("1_20240101_OML-11_000000000000001_20240101120000000_01_2"),
            ],
            &StatePolicy::default(),
        );
        assert_eq!(st.current.len(), 1);
        assert_eq!(st.current[0].name.timestamp, "20240102100000000");
        assert_eq!(st.history.len(), 2);
        assert!(st.diagnostics.is_empty());
    }

    #[test]
    fn newest_flag0_deletes() {
        let st = select(
            "1",
            vec![
                item("1_20240101_OML-11_000000000000001_20240101100000000_01_0"),
                item("1_20240101_OML-11_000000000000001_20240102100000000_01_0"),
            ],
            &StatePolicy::default(),
        );
        assert!(st.current.is_empty());
        assert_eq!(st.deleted.len(), 1);
        assert_eq!(st.deleted[0].item.name.timestamp, "20240102100000000");
    }

    #[test]
    fn orders_are_separate_records() {
        let st = select(
            "1",
            vec![
                item("1_20240101_OML-11_000000000000001_20240101100000000_01_1"),
                item("1_20240101_OML-11_000000000000002_20240101100000000_01_1"),
            ],
            &StatePolicy::default(),
        );
        assert_eq!(st.current.len(), 2);
    }

    #[test]
    fn adt00_is_a_snapshot_ppr01_per_key_unless_configured() {
        let items = vec![
            item("1_-_ADT-00_999999999999999_20240101100000000_-_1"),
            item("1_-_ADT-00_999999999999998_20240102100000000_-_1"),
            item("1_-_PPR-01_000000000000001_20240101100000000_-_1"),
            item("1_-_PPR-01_000000000000002_20240102100000000_-_1"),
        ];
        let st = select("1", items.clone(), &StatePolicy::default());
        assert_eq!(
            st.current
                .iter()
                .filter(|i| i.name.data_type == "ADT-00")
                .count(),
            1
        );
        assert_eq!(
            st.current
                .iter()
                .filter(|i| i.name.data_type == "PPR-01")
                .count(),
            2
        );
        let st = select(
            "1",
            items,
            &StatePolicy {
                snapshot_types: vec!["ADT-00".into(), "PPR-01".into()],
            },
        );
        let ppr: Vec<_> = st
            .current
            .iter()
            .filter(|i| i.name.data_type == "PPR-01")
            .collect();
        assert_eq!(ppr.len(), 1);
        assert_eq!(ppr[0].name.order_no, "000000000000002");
    }

    #[test]
    fn inconsistent_flags_are_reported() {
        let st = select(
            "1",
            vec![item(
                "1_20240101_OML-11_000000000000001_20240101100000000_01_2",
            )],
            &StatePolicy::default(),
        );
        assert_eq!(st.current.len(), 1);
        assert_eq!(st.diagnostics[0].code, "S030");
        let st = select(
            "1",
            vec![
                item("1_20240101_OML-11_000000000000001_20240101100000000_01_1"),
                item("1_20240101_OML-11_000000000000001_20240102100000000_01_2"),
            ],
            &StatePolicy::default(),
        );
        assert_eq!(st.current[0].name.timestamp, "20240101100000000");
        assert_eq!(st.diagnostics[0].code, "S031");
    }

    #[test]
    fn timestamps_of_different_lengths_compare_by_value() {
        let st = select(
            "1",
            vec![
                item("1_20240101_OML-11_000000000000001_202401011000001_01_1"),
                item("1_20240101_OML-11_000000000000001_20240101100000099_01_2"),
            ],
            &StatePolicy::default(),
        );
        // 202401011000001 → 20240101100000100 is newer than …099.
        assert_eq!(st.current[0].name.timestamp, "202401011000001");
    }
}
