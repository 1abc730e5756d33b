use super::OutputFormat;
use kakehashi::diagnostics::Location;
use kakehashi::hl7::{FieldPath, Structures};
use kakehashi::ssmix2::read::parse_bytes;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// An HL7 v2 file (any encoding, any line ending, MLLP framing allowed).
    pub file: PathBuf,
    /// Print the value at a field path, e.g. PID-5[2].1 or OBX[3]-5 (repeatable).
    #[arg(long = "get")]
    pub get: Vec<String>,
    /// Print the segment-group outline from the declared structure.
    #[arg(long)]
    pub groups: bool,
    #[arg(long, value_enum, default_value = "text")]
    pub format: OutputFormat,
}

pub fn run(a: Args) -> ExitCode {
    let bytes = match std::fs::read(&a.file) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error[S003]: file cannot be read\n  --> {}\n  = help: the operating system said: {}", a.file.display(), e.kind());
            return ExitCode::from(1);
        }
    };
    let mut paths = Vec::new();
    for g in &a.get {
        match g.parse::<FieldPath>() {
            Ok(p) => paths.push(p),
            Err(e) => {
                eprintln!("error: {e}\n  --> --get {g}");
                return ExitCode::from(2);
            }
        }
    }
    let structures = Structures::default_set();
    let r = parse_bytes(&bytes, &structures, &Location::file(&a.file));
    let values: Vec<(String, Option<String>)> = match &r.message {
        Some(m) => paths
            .iter()
            .map(|p| (p.to_string(), m.get(p).into_owned()))
            .collect(),
        None => Vec::new(),
    };
    match a.format {
        OutputFormat::Json => {
            let v = serde_json::json!({
                "file": a.file,
                "encoding": r.encoding.map(|e| e.name()),
                "message_type": r.message.as_ref().and_then(|m| m.message_type()),
                "segments": r.message.as_ref().map(|m| m.segments().map(|s| s.raw().to_owned()).collect::<Vec<_>>()),
                "values": values.iter().map(|(k, v)| (k.clone(), serde_json::json!(v))).collect::<serde_json::Map<_, _>>(),
                "groups": if a.groups { r.message.as_ref().zip(r.groups.as_ref()).map(|(m, g)| g.outline(m)) } else { None },
                "diagnostics": r.diagnostics,
            });
            println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        }
        OutputFormat::Text => {
            println!("encoding: {}", r.encoding.map(|e| e.name()).unwrap_or("-"));
            if let Some(m) = &r.message {
                println!(
                    "message type: {}",
                    m.message_type().unwrap_or_else(|| "-".into())
                );
                for s in m.segments() {
                    println!("{:>4}  {}", s.line(), s.raw());
                }
                if a.groups {
                    if let Some(g) = &r.groups {
                        print!("\n{}", g.outline(m));
                    }
                }
                for (k, v) in &values {
                    println!("{k} = {}", v.as_deref().unwrap_or("(absent)"));
                }
            }
            for d in &r.diagnostics {
                eprintln!("{d}");
            }
        }
    }
    if r.has_errors() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
