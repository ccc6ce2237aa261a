//! Emails the relay has accepted whose outbox rows are not deleted yet.
//!
//! Between the relay's "250 accepted" and the commit that deletes the rows
//! lies the one moment where an email can go out twice: if the database is
//! down then, the rows keep their lease, and once it expires any worker
//! sends them again. So the identifiers of an accepted batch are first
//! written to a private file in the data folder, flushed to disk; the rows
//! are deleted; the file is removed. A worker deletes the rows of every file
//! left over (an outage, a crash, a restart) before it claims anything, and
//! retries every second while some are left. Each file holds outbox
//! identifiers only: random, with no case, time or content in them.

use std::{
    fs, io,
    path::{Path, PathBuf},
};

use crate::domain::OutboxId;

const EXTENSION: &str = "sent";

/// The folder of accepted batches.
#[derive(Debug, Clone)]
pub struct HandOffs {
    dir: PathBuf,
}

/// One accepted batch, as found on disk.
#[derive(Debug)]
pub struct HandOff {
    pub path: PathBuf,
    pub ids: Vec<OutboxId>,
}

impl HandOffs {
    pub fn new(dir: PathBuf) -> io::Result<Self> {
        super::files::private_folder(&dir)?;
        Ok(HandOffs { dir })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes down, durably, that the relay accepted the email of `ids`.
    pub fn record(&self, ids: Vec<OutboxId>) -> io::Result<HandOff> {
        let text: String = ids.iter().map(|id| format!("{}\n", id.as_str())).collect();
        let path = super::files::write_private(&self.dir, EXTENSION, text.as_bytes())?;
        Ok(HandOff { path, ids })
    }

    /// The batches whose rows may not be deleted yet, oldest name first.
    /// A line that is not an identifier is skipped: a damaged file then
    /// costs at most a second email, never a failed worker. A file that
    /// cannot be read is an error: it is kept, and the worker claims
    /// nothing until it can read it.
    pub fn pending(&self) -> io::Result<Vec<HandOff>> {
        let mut found = Vec::new();
        for path in self.files()? {
            let bytes = fs::read(&path)?;
            let ids = String::from_utf8_lossy(&bytes)
                .lines()
                .filter_map(OutboxId::parse)
                .collect();
            found.push(HandOff { path, ids });
        }
        found.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(found)
    }

    fn files(&self) -> io::Result<Vec<PathBuf>> {
        let mut files = Vec::new();
        for entry in fs::read_dir(&self.dir)? {
            let path = entry?.path();
            if path.extension().and_then(|e| e.to_str()) == Some(EXTENSION) {
                files.push(path);
            }
        }
        Ok(files)
    }

    /// Whether a batch has waited longer than `wait` to be recorded (for
    /// readiness: a normal send records it at once).
    pub fn waiting_longer_than(&self, wait: std::time::Duration) -> bool {
        self.files().unwrap_or_default().iter().any(|p| {
            fs::metadata(p)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > wait)
        })
    }

    /// How many batches wait for their rows to be deleted.
    pub fn count(&self) -> usize {
        self.files().map(|f| f.len()).unwrap_or(0)
    }

    /// The rows are deleted: the batch is done.
    pub fn done(&self, hand_off: &HandOff) -> io::Result<()> {
        match fs::remove_file(&hand_off.path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recorded_batch_is_found_with_its_identifiers_until_it_is_done() {
        let root = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let h = HandOffs::new(root.path().join("h")).unwrap_or_else(|e| panic!("{e}"));
        let ids = vec![OutboxId::random(), OutboxId::random()];
        h.record(ids.clone()).unwrap_or_else(|e| panic!("{e}"));
        let pending = h.pending().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].ids, ids);
        h.done(&pending[0]).unwrap_or_else(|e| panic!("{e}"));
        h.done(&pending[0]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(h.count(), 0);
    }

    #[test]
    fn a_damaged_file_gives_its_readable_identifiers_and_no_error() {
        let root = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let h = HandOffs::new(root.path().join("h")).unwrap_or_else(|e| panic!("{e}"));
        let id = OutboxId::random();
        let text = format!("not an id\n{}\n\u{0}\u{ff}\n", id.as_str());
        fs::write(h.dir().join(format!("x.{EXTENSION}")), text).unwrap_or_else(|e| panic!("{e}"));
        fs::write(h.dir().join("other.txt"), "ignored").unwrap_or_else(|e| panic!("{e}"));
        let pending = h.pending().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].ids, vec![id]);
    }
}
