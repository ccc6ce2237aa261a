//! Use cases, outside the web layer: each takes typed inputs, holds the
//! rules, and returns a typed outcome. Handlers parse the request, call one
//! use case, and render what it returns.
//!
//! - [`report`]: submit a report, sealed by the browser or by the server;
//! - [`case`]: look up a case by its locator or by a typed token;
//! - [`message`]: add a reporter message to a case;
//! - [`upload`]: store an attachment, sealed by the browser or as it streams
//!   into the server;
//! - [`workflow`]: a step of the Secretary's (acknowledge, reply, review,
//!   close, hold) and the rules that allow it.

pub mod case;
pub mod handover;
pub mod message;
pub mod report;
pub mod reseal;
pub mod upload;
pub mod workflow;

use crate::domain::CaseId;
use crate::{crypto::Readers, db::Db, domain::Clock};

/// What the reporter's use cases need from the running instance.
#[derive(Clone, Copy)]
pub struct Desk<'a> {
    pub db: &'a Db,
    pub readers: &'a Readers,
    pub clock: &'a dyn Clock,
    /// The Secretary is told after a random delay of up to this many seconds.
    pub notify_max_delay: u64,
    /// The largest total of a case's attachments (sizes of the files).
    pub attachments_total: i64,
}

/// The per-minute budgets of lookups and messages (see `web::limits`).
/// Each call counts one use.
pub trait Budgets: Send + Sync {
    /// One more reading of this case.
    fn reading(&self, now: i64, case_id: &CaseId) -> bool;
    /// One more locator that matched no case.
    fn miss(&self, now: i64) -> bool;
    /// One more reporter message to this case.
    fn message(&self, now: i64, case_id: &CaseId) -> bool;
}
