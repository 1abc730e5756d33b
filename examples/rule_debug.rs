fn main() {
    let a: Vec<String> = std::env::args().collect();
    let rule =
        kakehashi::validate::Rule::parse_yaml(&std::fs::read_to_string(&a[1]).unwrap()).unwrap();
    let (study, d) = kakehashi::validate::load_folder(std::path::Path::new(&a[2]));
    for t in &study.tables {
        println!(
            "table {} domain {} cols {:?}",
            t.name,
            t.domain(),
            t.columns.iter().map(|c| &c.name).collect::<Vec<_>>()
        );
    }
    println!("{d:?}");
    let mut lib =
        kakehashi::validate::Library::load(std::path::Path::new("../shared/reference/sdtmig-3.4"))
            .unwrap();
    lib.ct = None;
    for f in kakehashi::validate::run(&rule, &study, &lib) {
        println!("{f:?}");
    }
}
