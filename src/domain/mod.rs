//! Parsed values and the rules of the legal workflow. Nothing here touches
//! the network, the database or a key.

mod report;
mod status;

pub use report::{Categories, Category, ReportDraft, ReportError, ReportFields};
pub use status::{deadlines, CaseStatus, Deadlines};

use chrono::NaiveDate;

/// Today's date, injected so that tests can freeze it.
pub trait Clock: Send + Sync {
    fn today(&self) -> NaiveDate;
}

/// The real clock. Dates are UTC dates.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn today(&self) -> NaiveDate {
        chrono::Utc::now().date_naive()
    }
}

/// A clock stopped on one day, for tests and benchmarks.
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub NaiveDate);

impl Clock for FixedClock {
    fn today(&self) -> NaiveDate {
        self.0
    }
}
