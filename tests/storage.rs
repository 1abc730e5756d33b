//! Storage rules end to end on trees built here: multi-root merge, misplaced and misnamed
//! files, current state, extended and transaction storage, the inventory.

mod common;

use kakehashi::hl7::Structures;
use kakehashi::ssmix2::inventory::Inventory;
use kakehashi::ssmix2::{read_item, select, Flag, Source, StatePolicy, Storage, WalkEvent};
use std::path::{Path, PathBuf};

const MSG: &str = "MSH|^~\\&|A|B|GW|RCV|20240101100000||OUL^R22^OUL_R22|C1|P|2.5\rPID|0001||1234567^^^^PI||\x1b$B45<T\x1b(B^\x1b$BB@O:\x1b(B\rSPM|1||||||||||||||||202401010900\rOBR|1\rORC|SC\rOBX|1|NM|3A010000002327101^TP^JC10||7.2\r";

fn put(root: &Path, rel: &str, body: &str) -> PathBuf {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, body.as_bytes()).unwrap();
    p
}

fn std_path(name: &str) -> String {
    let f = kakehashi::ssmix2::FileName::parse(name).unwrap().0;
    let d = f.expected_dirs();
    format!("{}/{}/{}/{}/{}/{}", d[0], d[1], d[2], d[3], d[4], name)
}

fn walk_all(
    storage: &Storage,
) -> (
    Vec<kakehashi::ssmix2::PatientFiles>,
    Vec<kakehashi::diagnostics::Diagnostic>,
) {
    let mut p = Vec::new();
    let mut d = Vec::new();
    for ev in storage.walk() {
        match ev {
            WalkEvent::Patient(x) => p.push(x),
            WalkEvent::Diagnostic(x) => d.push(x),
        }
    }
    (p, d)
}

#[test]
fn several_roots_merge_patient_by_patient_in_order() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    put(
        a.path(),
        &std_path("1234567_20240101_OML-11_000000000000001_20240101100000000_01_1"),
        MSG,
    );
    put(
        b.path(),
        &std_path("1234567_20240102_OML-11_000000000000002_20240102100000000_01_1"),
        MSG,
    );
    put(
        b.path(),
        &std_path("0000001_20240102_OML-11_000000000000002_20240102100000000_01_1"),
        &MSG.replace("1234567", "0000001"),
    );
    put(
        a.path(),
        &std_path("9990001_-_ADT-00_999999999999999_20240102100000000_-_1"),
        MSG,
    );
    let s = Storage::open(&[a.path().to_path_buf(), b.path().to_path_buf()]);
    let (patients, diags) = walk_all(&s);
    assert!(diags.is_empty(), "{diags:?}");
    let ids: Vec<&str> = patients.iter().map(|p| p.patient_id.as_str()).collect();
    assert_eq!(ids, ["0000001", "1234567", "9990001"]);
    assert_eq!(
        patients[1].items.len(),
        2,
        "both roots' files of one patient come together"
    );
    assert_eq!(
        patients[1].items.iter().map(|i| i.root).collect::<Vec<_>>(),
        [0, 1]
    );
}

#[test]
fn misnamed_misplaced_and_stray_files_are_diagnosed_and_the_walk_goes_on() {
    let r = tempfile::tempdir().unwrap();
    put(
        r.path(),
        "123/456/1234567/20240101/OML-11/not-a-name.txt",
        MSG,
    );
    put(r.path(), "123/456/1234567/20240101/OML-11/1234567_20240101_OML-11_000000000000001_20240101100000000_01_1", MSG);
    // Name says another date folder.
    put(r.path(), "123/456/1234567/20240101/OML-11/1234567_20240105_OML-11_000000000000009_20240105100000000_01_1", MSG);
    put(r.path(), "README.txt", "hello");
    put(r.path(), "123/456/1234567/stray.txt", "x");
    let s = Storage::open(&[r.path().to_path_buf()]);
    let (patients, diags) = walk_all(&s);
    let mut codes: Vec<&str> = diags.iter().map(|d| d.code).collect();
    codes.extend(
        patients
            .iter()
            .flat_map(|p| p.diagnostics.iter().map(|d| d.code)),
    );
    codes.sort();
    assert_eq!(codes, ["S001", "S002", "S004", "S004"]);
    assert_eq!(patients.len(), 1);
    assert_eq!(
        patients[0].items.len(),
        2,
        "the misplaced file is still read, keyed by its name"
    );
    let misplaced = patients[0]
        .diagnostics
        .iter()
        .find(|d| d.code == "S002")
        .unwrap();
    assert!(misplaced
        .help
        .as_deref()
        .unwrap()
        .contains("123/456/1234567/20240105/OML-11"));
    // No patient value in any message: the file names are locations, messages are generic.
    for d in patients[0].diagnostics.iter().chain(&diags) {
        assert!(!d.message.contains("患者"));
    }
}

#[test]
fn current_state_over_a_real_tree() {
    let r = tempfile::tempdir().unwrap();
    for n in [
        "1234567_20240101_OML-11_000000000000001_20240101100000000_01_2",
        "1234567_20240101_OML-11_000000000000001_20240101110000000_01_1",
        "1234567_20240101_OMP-01_000000000000002_20240101100000000_01_0",
        "1234567_20240101_OMP-01_000000000000002_20240101100500000_01_0",
        "1234567_-_ADT-00_999999999999999_20240101100000000_-_2",
        "1234567_-_ADT-00_999999999999999_20240102100000000_-_1",
    ] {
        put(r.path(), &std_path(n), MSG);
    }
    let s = Storage::open(&[r.path().to_path_buf()]);
    let (mut patients, _) = walk_all(&s);
    let pf = patients.remove(0);
    let st = select(&pf.patient_id, pf.items, &StatePolicy::default());
    let cur: Vec<String> = st.current.iter().map(|i| i.name.to_name()).collect();
    assert_eq!(
        cur,
        [
            "1234567_-_ADT-00_999999999999999_20240102100000000_-_1",
            "1234567_20240101_OML-11_000000000000001_20240101110000000_01_1"
        ]
    );
    assert_eq!(st.deleted.len(), 1);
    assert_eq!(st.deleted[0].item.name.flag, Flag::Deleted);
    assert_eq!(st.history.len(), 3);
}

#[test]
fn extended_storage_content_folders() {
    let r = tempfile::tempdir().unwrap();
    let dt = "L-OBSERVATIONS^OBSERVATIONS^99ZL01";
    let folder = format!("123/456/1234567/20240101/{dt}/1234567_20240101_{dt}_0000000000000001_20240101090000000_01_1");
    let vit = "MSH|^~\\&|A|B|GW|RCV|20240101090000||ORU^R30^ORU_R30|V1|P|2.5\rPID|0001||1234567\rORC|NW\rOBR|1||||||20240101090000\rOBX|1|NM|9A751000000000001^SBP^JC10||128|mm[Hg]\r";
    put(r.path(), &format!("{folder}/main_document.hl7"), vit);
    put(r.path(), &format!("{folder}/attachment.pdf"), "%PDF");
    // Folder without a main document.
    put(r.path(), &format!("123/456/1234567/20240101/{dt}/1234567_20240101_{dt}_0000000000000002_20240101090000000_01_1/x.bin"), "x");
    let s = Storage::open(&[r.path().to_path_buf()]);
    let (patients, _) = walk_all(&s);
    let p = &patients[0];
    assert_eq!(p.items.len(), 1);
    assert_eq!(
        p.diagnostics.iter().map(|d| d.code).collect::<Vec<_>>(),
        ["S007"]
    );
    let item = &p.items[0];
    assert_eq!(item.name.data_type, dt);
    assert!(item.path.ends_with("main_document.hl7"));
    let Source::Extended { attachments, .. } = &item.source else {
        panic!("{:?}", item.source)
    };
    assert_eq!(attachments.len(), 1);
    let read = read_item(item, &Structures::default_set());
    assert!(!read.has_errors(), "{:?}", read.diagnostics);
    assert_eq!(
        read.message.unwrap().get_path("OBX-5").as_str(),
        Some("128")
    );
}

#[test]
fn transaction_storage_records_join_their_patients() {
    let r = tempfile::tempdir().unwrap();
    let ins = format!("#SSMIX,2.00,9999999999,1234567,20240101,OML-11,000000000000001,INS,01,20240101100000000\r{MSG}");
    let del = format!("#SSMIX,2.00,9999999999,1234567,20240101,OML-11,000000000000001,DEL,01,20240101120000000\r{MSG}");
    let other = format!("#SSMIX,2.00,9999999999,7654321,20240101,OML-11,000000000000003,INS,01,20240101100000000\r{}", MSG.replace("1234567", "7654321"));
    put(
        r.path(),
        "2024/TR_20240101000000000_00001.DAT",
        &format!("{ins}{del}{other}#SSMIX,broken\r"),
    );
    put(
        r.path(),
        &std_path("1234567_20240101_OML-11_000000000000002_20240101100000000_01_1"),
        MSG,
    );
    let s = Storage::open(&[r.path().to_path_buf()]);
    let (patients, diags) = walk_all(&s);
    assert_eq!(diags.iter().map(|d| d.code).collect::<Vec<_>>(), ["S008"]);
    assert_eq!(
        patients
            .iter()
            .map(|p| p.patient_id.as_str())
            .collect::<Vec<_>>(),
        ["1234567", "7654321"]
    );
    let p = &patients[0];
    assert_eq!(p.items.len(), 3);
    let st = select(&p.patient_id, p.items.clone(), &StatePolicy::default());
    assert_eq!(
        st.current.len(),
        1,
        "order 1 was deleted by the DEL record; order 2 is current"
    );
    assert_eq!(st.deleted.len(), 1);
    let tx = st.deleted[0].item.clone();
    assert_eq!(tx.kind(), "transaction");
    let read = read_item(&tx, &Structures::default_set());
    assert!(!read.has_errors(), "{:?}", read.diagnostics);
    assert_eq!(
        read.message.unwrap().get_path("PID-5.1").as_str(),
        Some("患者")
    );
}

#[test]
fn bad_bytes_yield_located_diagnostics_and_the_run_continues() {
    let r = tempfile::tempdir().unwrap();
    let good = std_path("1234567_20240101_OML-11_000000000000001_20240101100000000_01_1");
    put(r.path(), &good, MSG);
    let bad = r.path().join(std_path(
        "1234567_20240101_OML-11_000000000000002_20240101100000000_01_1",
    ));
    std::fs::create_dir_all(bad.parent().unwrap()).unwrap();
    std::fs::write(
        &bad,
        b"MSH|^~\\&|A\rPID|1||1234567||\x1b$B45\xff\xfe\x1b(B\r",
    )
    .unwrap();
    let empty = put(
        r.path(),
        &std_path("1234567_20240101_OML-11_000000000000003_20240101100000000_01_1"),
        "",
    );
    let s = Storage::open(&[r.path().to_path_buf()]);
    let structures = Structures::default_set();
    let inv = Inventory::of_storage(&s, &structures, &StatePolicy::default(), |_| {});
    assert_eq!(inv.files, 3);
    assert_eq!(inv.messages_parsed, 2);
    let h020 = inv.diagnostics.iter().find(|d| d.code == "H020").unwrap();
    assert_eq!(h020.location.file.as_deref(), Some(bad.as_path()));
    assert!(h020.location.byte.is_some());
    let h001 = inv.diagnostics.iter().find(|d| d.code == "H001").unwrap();
    assert_eq!(h001.location.file.as_deref(), Some(empty.as_path()));
}

#[test]
fn inventory_of_the_shared_samples() {
    let roots = [
        common::shared("data/ssmix2/nhoHQ__SSMIX2DataTestingTool/sampleData"),
        common::shared("data/ssmix2/yuakagi__ssmixtwins-generated/standard_root"),
    ];
    let s = Storage::open(&roots);
    let structures = Structures::default_set();
    let inv = Inventory::of_storage(&s, &structures, &StatePolicy::default(), |_| {});
    assert_eq!(inv.patients, 4);
    assert_eq!(inv.files, 40);
    assert_eq!(inv.messages_parsed, 39);
    assert_eq!(inv.by_data_type["OMP-11"].deleted, 1);
    // ssmixtwins writes ADT^A01 into ADT-12 (spec: ADT^A04): a known generator defect.
    assert_eq!(
        inv.diagnostics
            .iter()
            .filter(|d| d.code == "S011" && d.message.contains("ADT-12"))
            .count(),
        3
    );
    assert_eq!(
        inv.tally.errors,
        1,
        "{:#?}",
        inv.diagnostics
            .iter()
            .filter(|d| d.is_error())
            .collect::<Vec<_>>()
    );
}

#[test]
fn unreadable_entries_are_diagnosed() {
    let r = tempfile::tempdir().unwrap();
    put(
        r.path(),
        &std_path("1234567_20240101_OML-11_000000000000001_20240101100000000_01_1"),
        MSG,
    );
    // A dangling link where a message file should be: the walk reports it and goes on.
    let link = r.path().join(std_path(
        "1234567_20240101_OML-11_000000000000002_20240101100000000_01_1",
    ));
    std::os::unix::fs::symlink(r.path().join("gone"), &link).unwrap();
    let s = Storage::open(&[r.path().to_path_buf(), r.path().join("no-such-root")]);
    let (patients, diags) = walk_all(&s);
    assert_eq!(diags.iter().map(|d| d.code).collect::<Vec<_>>(), ["S006"]);
    assert_eq!(patients[0].items.len(), 1);
    let d = patients[0]
        .diagnostics
        .iter()
        .find(|d| d.code == "S003")
        .expect("S003 for the dangling link");
    assert_eq!(d.location.file.as_deref(), Some(link.as_path()));
}
