//! One insta snapshot per SDTM dataset of the bundled archive (ASCII and Japanese variants),
//! from the README's end-to-end command: any change to a domain file, a table or a
//! derivation shows up as a reviewed diff.

mod common;

#[test]
fn fixture_sdtm_datasets() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let o = std::process::Command::new(common::bin())
        .args([
            "convert",
            common::repo("fixtures/ssmix2").to_str().unwrap(),
            "--study",
            common::repo("fixtures/studies/minimal.yaml")
                .to_str()
                .unwrap(),
            "--demo-key",
            "--format",
            "csv",
            "-o",
            out.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let sdtm = out.join("sdtm");
    let mut names = Vec::new();
    for f in common::files_under(&sdtm) {
        if f.extension().is_some_and(|x| x == "csv") {
            let rel = f
                .strip_prefix(&sdtm)
                .unwrap()
                .to_string_lossy()
                .replace(['/', '\\'], "_");
            names.push(rel.clone());
            insta::assert_snapshot!(format!("sdtm_{rel}"), std::fs::read_to_string(&f).unwrap());
        }
    }
    assert!(names.len() >= 12, "{names:?}");
}
