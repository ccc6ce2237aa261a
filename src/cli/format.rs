//! The format of an export, written by `vigie export` and read back, without
//! trusting it, by `vigie decrypt`.
//!
//! ```text
//! <case id>/metadata.json
//! <case id>/001-report.age, 002-message.age, 003-reply.age…
//! <case id>/attachment-<attachment id>.age
//! ```
//!
//! Identifiers are UUIDs v4 in lowercase hyphenated form, and every file name
//! is built from them: nothing read from `metadata.json` is ever used as a
//! path without being parsed into one of the types below first.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

use crate::db::EntryKind;

/// `metadata.json` of an exported case: dates and status only, no content.
#[derive(Debug, Serialize, Deserialize)]
pub struct ExportedCase {
    pub id: String,
    pub status: String,
    pub closure_reason: Option<String>,
    pub received_on: chrono::NaiveDate,
    pub ack_due: chrono::NaiveDate,
    pub acknowledged_on: Option<chrono::NaiveDate>,
    pub feedback_due: chrono::NaiveDate,
    pub closed_on: Option<chrono::NaiveDate>,
    pub on_hold: bool,
    pub reporter_recipient: String,
    /// Who reads the case: `secretary`, `bureau` or `both` (missing in
    /// exports made before readerships: the Secretary's).
    #[serde(default)]
    pub readership: Option<String>,
    pub entries: Vec<ExportedEntry>,
    #[serde(default)]
    pub attachments: Vec<ExportedAttachment>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct ExportedAttachment {
    pub id: String,
    pub file: String,
    pub size: i64,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct ExportedEntry {
    pub file: String,
    pub kind: String,
    pub created_on: chrono::NaiveDate,
}

/// The name of the metadata file in a case folder.
pub const METADATA: &str = "metadata.json";

/// The identifier of a case or of an attachment: a UUID v4, written in
/// lowercase hyphenated form and in no other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ExportId(uuid::Uuid);

#[derive(Debug, thiserror::Error)]
#[error("not a lowercase hyphenated UUID v4")]
pub struct BadId;

impl FromStr for ExportId {
    type Err = BadId;
    fn from_str(s: &str) -> Result<Self, BadId> {
        let id = uuid::Uuid::try_parse(s).map_err(|_| BadId)?;
        let canonical = id.hyphenated().to_string();
        if canonical != s || id.get_version_num() != 4 || id.get_variant() != uuid::Variant::RFC4122
        {
            return Err(BadId);
        }
        Ok(ExportId(id))
    }
}

impl fmt::Display for ExportId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

/// The file that holds an attachment in its case folder.
pub fn attachment_file(id: impl fmt::Display) -> String {
    format!("attachment-{id}.age")
}

impl ExportId {
    /// The file that holds this attachment in its case folder.
    pub fn attachment_file(self) -> String {
        attachment_file(self)
    }
}

/// The file of one entry: `NNN-kind.age`, its position in the thread written
/// with at least three digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EntryFile {
    pub position: u32,
    pub kind: EntryKind,
}

#[derive(Debug, thiserror::Error)]
#[error("not an entry file name (NNN-kind.age)")]
pub struct BadEntry;

impl EntryFile {
    pub fn new(position: i64, kind: &str) -> Result<Self, BadEntry> {
        Ok(EntryFile {
            position: u32::try_from(position).map_err(|_| BadEntry)?,
            kind: EntryKind::parse(kind).ok_or(BadEntry)?,
        })
    }
}

impl FromStr for EntryFile {
    type Err = BadEntry;
    fn from_str(s: &str) -> Result<Self, BadEntry> {
        let stem = s.strip_suffix(".age").ok_or(BadEntry)?;
        let (digits, kind) = stem.split_once('-').ok_or(BadEntry)?;
        if digits.len() < 3 || digits.len() > 10 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(BadEntry);
        }
        let entry = EntryFile {
            position: digits.parse().map_err(|_| BadEntry)?,
            kind: EntryKind::parse(kind).ok_or(BadEntry)?,
        };
        // One spelling only: "0001-report.age" is not "001-report.age".
        if entry.to_string() != s {
            return Err(BadEntry);
        }
        Ok(entry)
    }
}

impl fmt::Display for EntryFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:03}-{}.age", self.position, self.kind.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_have_one_form_only() {
        let good = "3f2b8c1e-9a4d-4e6f-8b7a-0c1d2e3f4a5b";
        assert!(good.parse::<ExportId>().is_ok());
        for bad in [
            "",
            "../3f2b8c1e-9a4d-4e6f-8b7a-0c1d2e3f4a5b",
            "/tmp/x",
            "3F2B8C1E-9A4D-4E6F-8B7A-0C1D2E3F4A5B",
            "3f2b8c1e9a4d4e6f8b7a0c1d2e3f4a5b",
            "{3f2b8c1e-9a4d-4e6f-8b7a-0c1d2e3f4a5b}",
            "urn:uuid:3f2b8c1e-9a4d-4e6f-8b7a-0c1d2e3f4a5b",
            "3f2b8c1e-9a4d-1e6f-8b7a-0c1d2e3f4a5b",
            "3f2b8c1e-9a4d-4e6f-cb7a-0c1d2e3f4a5b",
            "3f2b8c1e-9a4d-4e6f-8b7a-0c1d2e3f4a5b/..",
        ] {
            assert!(bad.parse::<ExportId>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn entry_files_have_one_form_only() {
        for good in ["001-report.age", "002-message.age", "1234-reply.age"] {
            assert_eq!(
                good.parse::<EntryFile>().map(|e| e.to_string()).ok(),
                Some(good.to_string())
            );
        }
        for bad in [
            "../001-report.age",
            "/etc/001-report.age",
            "sub/001-report.age",
            "001-report.age/..",
            "01-report.age",
            "0001-report.age",
            "001-report.txt",
            "001-other.age",
            "-01-report.age",
            "001-report",
            "metadata.json",
        ] {
            assert!(bad.parse::<EntryFile>().is_err(), "{bad:?}");
        }
    }
}
