//! Located diagnostics shared by every stage.
//!
//! A diagnostic names *where* something went wrong (file, message control id, segment
//! path, byte offset, mapping `file:line:col`) and never the patient value found there:
//! error output ends up in tickets and CI logs, so it must be free of PHI by default.

use serde::Serialize;
use std::fmt;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Note,
    Warning,
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Note => "note",
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

/// Where a diagnostic points. Every part is optional; the more the better.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Location {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<PathBuf>,
    /// MSH-10 message control id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// `SEG[n]-field` style path inside the message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub segment: Option<String>,
    /// 1-based line (segment number for HL7, line for text files).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
    /// Byte offset inside the file, for decoding problems.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub byte: Option<usize>,
}

impl Location {
    pub fn file(path: impl AsRef<Path>) -> Self {
        Location {
            file: Some(path.as_ref().to_path_buf()),
            ..Default::default()
        }
    }
    pub fn with_segment(mut self, seg: impl Into<String>) -> Self {
        self.segment = Some(seg.into());
        self
    }
    pub fn with_line(mut self, line: usize) -> Self {
        self.line = Some(line);
        self
    }
    pub fn with_byte(mut self, byte: usize) -> Self {
        self.byte = Some(byte);
        self
    }
    pub fn with_message_id(mut self, id: Option<String>) -> Self {
        self.message_id = id;
        self
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts: Vec<String> = Vec::new();
        if let Some(p) = &self.file {
            let mut s = p.display().to_string();
            if let Some(l) = self.line {
                s.push_str(&format!(":{l}"));
                if let Some(c) = self.column {
                    s.push_str(&format!(":{c}"));
                }
            }
            parts.push(s);
        } else if let Some(l) = self.line {
            parts.push(format!("line {l}"));
        }
        if let Some(id) = &self.message_id {
            parts.push(format!("message {id}"));
        }
        if let Some(seg) = &self.segment {
            parts.push(seg.clone());
        }
        if let Some(b) = self.byte {
            parts.push(format!("byte {b}"));
        }
        f.write_str(&parts.join(" "))
    }
}

/// One finding. `code` is stable and documented in the README's diagnostics table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub code: &'static str,
    pub severity: Severity,
    pub message: String,
    pub location: Location,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn new(
        code: &'static str,
        severity: Severity,
        message: impl Into<String>,
        location: Location,
    ) -> Self {
        Diagnostic {
            code,
            severity,
            message: message.into(),
            location,
            help: None,
        }
    }
    pub fn error(code: &'static str, message: impl Into<String>, location: Location) -> Self {
        Self::new(code, Severity::Error, message, location)
    }
    pub fn warning(code: &'static str, message: impl Into<String>, location: Location) -> Self {
        Self::new(code, Severity::Warning, message, location)
    }
    pub fn note(code: &'static str, message: impl Into<String>, location: Location) -> Self {
        Self::new(code, Severity::Note, message, location)
    }
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// Compiler-style rendering:
///
/// ```text
/// error[S002]: file name does not agree with its folder
///   --> root/000/000/0000001/20000401/ADT-31/…
///   = help: move the file to …
/// ```
impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}[{}]: {}", self.severity, self.code, self.message)?;
        let loc = self.location.to_string();
        if !loc.is_empty() {
            write!(f, "\n  --> {loc}")?;
        }
        if let Some(h) = &self.help {
            write!(f, "\n  = help: {h}")?;
        }
        Ok(())
    }
}

/// Count of diagnostics by severity, for summaries and exit codes.
#[derive(Debug, Default, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct Tally {
    pub errors: usize,
    pub warnings: usize,
    pub notes: usize,
}

impl Tally {
    pub fn add(&mut self, d: &Diagnostic) {
        match d.severity {
            Severity::Error => self.errors += 1,
            Severity::Warning => self.warnings += 1,
            Severity::Note => self.notes += 1,
        }
    }
}
