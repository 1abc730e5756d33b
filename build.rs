// The mapping files, structures and schemas are embedded in the binary (include_dir!,
// include_str!); include_dir cannot tell cargo about them on stable Rust, so this does.
fn main() {
    println!("cargo:rerun-if-changed=mappings");
    println!("cargo:rerun-if-changed=schemas");
}
