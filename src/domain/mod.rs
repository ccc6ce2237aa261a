//! Parsed values and the rules of the legal workflow. Nothing here touches
//! the network, the database or a key.

pub mod docprops;
pub mod figures;
mod ids;
pub(crate) mod named;
pub mod pdfmeta;
mod readership;
mod report;
pub mod scrub;
mod status;

pub use ids::{
    AttachmentId, CaseId, ChallengeId, EntryId, JournalId, OutboxId, SubmissionKey,
    UnknownIdentifier,
};
pub use readership::{Reader, Readership, Role};
pub use report::{
    to_padded_json, AttachmentRef, Categories, Category, ReportDraft, ReportError, ReportFields,
};
pub use status::{
    deadlines, due, CaseStatus, ClosureReason, Deadlines, Due, ACK_SOON_DAYS, FEEDBACK_SOON_DAYS,
    RETENTION_FLOOR_DAYS,
};

use chrono::NaiveDate;

/// Today's date and the time, injected so that tests can freeze or move them.
pub trait Clock: Send + Sync {
    fn today(&self) -> NaiveDate;
    /// Unix seconds, for the Secretary's sessions and the journal.
    fn now(&self) -> i64;
}

/// The real clock. Dates are UTC dates.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn today(&self) -> NaiveDate {
        chrono::Utc::now().date_naive()
    }
    fn now(&self) -> i64 {
        chrono::Utc::now().timestamp()
    }
}

/// A clock that only moves when told to, for tests.
#[derive(Debug)]
pub struct ManualClock(std::sync::atomic::AtomicI64);

impl ManualClock {
    /// Stopped at `secs` Unix seconds.
    pub fn at(secs: i64) -> Self {
        ManualClock(std::sync::atomic::AtomicI64::new(secs))
    }

    pub fn advance(&self, secs: i64) {
        self.0.fetch_add(secs, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn today(&self) -> NaiveDate {
        chrono::DateTime::from_timestamp(self.now(), 0)
            .map(|t| t.date_naive())
            .unwrap_or_default()
    }
    fn now(&self) -> i64 {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }
}
