//! Alerting the Bureau and stepping aside: the Secretary's browser gives
//! every age file of a case a new header, the same file key wrapped to the
//! new readers and the reporter's `R`; here the new headers are checked and
//! swapped in, all in one transaction, and the case changes readers.
//!
//! - Only the Secretary does either, on a case he reads, and only when the
//!   Bureau has a key. An alert makes a case of his the readers' of both; a
//!   step-aside makes a case of his, or of both, the Bureau's alone.
//! - A header is given for every entry and every file of the case, once
//!   each, and each holds exactly the new readers' stanzas plus `R`'s. The
//!   payloads are kept; the old headers are gone once it commits.
//! - The server cannot open a header: it cannot tell a header that wraps
//!   the right file key from one that does not. The browser builds each from
//!   the file key it unwrapped, and the Secretary's own key checks the
//!   result of an alert.

use crate::{
    crypto::{self, CiphertextError, Readers},
    db::{self, Attachment, Case, DbConnection, Journal, JournalAction, Outbox},
    domain::{AttachmentId, CaseId, Clock, Reader, Readership, Role},
};

/// What the Secretary does with a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Referral {
    /// The charter's rule: the Bureau reads the case too.
    Alert,
    /// A conflict of interest: the Bureau alone reads the case.
    StepAside,
}

impl Referral {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "alert" => Some(Referral::Alert),
            "step-aside" => Some(Referral::StepAside),
            _ => None,
        }
    }

    /// The readers after it, from the readers before, if it is allowed.
    pub fn from(self, before: Readership) -> Option<Readership> {
        match (self, before) {
            (Referral::Alert, Readership::Secretary) => Some(Readership::Both),
            (Referral::StepAside, Readership::Secretary | Readership::Both) => {
                Some(Readership::Bureau)
            }
            _ => None,
        }
    }

    fn journal(self) -> JournalAction {
        match self {
            Referral::Alert => JournalAction::Alerted,
            Referral::StepAside => JournalAction::SteppedAside,
        }
    }
}

/// The new headers, one for each entry (by position) and file of the case.
#[derive(Debug, Default)]
pub struct NewHeaders {
    pub entries: Vec<(i32, Vec<u8>)>,
    pub attachments: Vec<(AttachmentId, Vec<u8>)>,
}

/// Why a re-sealing was refused. Nothing was changed.
#[derive(Debug, thiserror::Error)]
pub enum ResealError {
    #[error("no such case")]
    NotFound,
    #[error("only the Secretary alerts the Bureau or steps aside, on a case he reads, when the Bureau has a key")]
    NotAllowed,
    #[error("the headers do not name every entry and file of the case exactly once")]
    Incomplete,
    #[error("a header is refused: {0}")]
    Header(CiphertextError),
    #[error(transparent)]
    Query(#[from] diesel::result::Error),
    #[error(transparent)]
    Db(#[from] db::DbError),
}

/// The age headers of a case's files, for the browser to re-seal: entries
/// by position, then files by identifier.
pub type Headers = (Vec<(i32, Vec<u8>)>, Vec<(AttachmentId, Vec<u8>)>);

/// The headers of every entry and file of a case `role` reads.
pub fn headers(
    conn: &mut DbConnection,
    role: Role,
    case_id: &CaseId,
) -> Result<Headers, ResealError> {
    let case = Case::find_for(conn, role, case_id)?.ok_or(ResealError::NotFound)?;
    let mut entries = Vec::new();
    for entry in case.entries(conn)? {
        let len = crypto::stored_header_len(&entry.ciphertext).map_err(ResealError::Header)?;
        entries.push((entry.position, entry.ciphertext[..len].to_vec()));
    }
    let mut files = Vec::new();
    for (id, _) in Attachment::of_case(conn, &case.id)? {
        let first = Attachment::chunk(conn, &id, 0)?.unwrap_or_default();
        let len = crypto::stored_header_len(&first).map_err(ResealError::Header)?;
        files.push((id, first[..len].to_vec()));
    }
    Ok((entries, files))
}

/// Whether new headers name every entry (by position) and every file of a
/// case, each once, and nothing else.
pub(super) fn names_every_file<T, U>(
    entries: &[db::EntryRow],
    files: &[(AttachmentId, T)],
    given_entries: &[(i32, U)],
    given_files: &[(AttachmentId, U)],
) -> bool {
    let mut given: Vec<i32> = given_entries.iter().map(|(p, _)| *p).collect();
    given.sort_unstable();
    let mut have: Vec<i32> = entries.iter().map(|e| e.position).collect();
    have.sort_unstable();
    let mut given_ids: Vec<&AttachmentId> = given_files.iter().map(|(id, _)| id).collect();
    given_ids.sort();
    let mut have_ids: Vec<&AttachmentId> = files.iter().map(|(id, _)| id).collect();
    have_ids.sort();
    given == have && given_ids == have_ids
}

/// Swaps the new headers in and gives the case to its new readers, in the
/// caller's transaction; journaled with the reader, and announced to the
/// Bureau.
pub fn reseal(
    conn: &mut DbConnection,
    readers: &Readers,
    clock: &dyn Clock,
    reader: &Reader,
    case_id: &CaseId,
    referral: Referral,
    headers: NewHeaders,
) -> Result<Readership, ResealError> {
    let case = Case::lock(conn, case_id)?.ok_or(ResealError::NotFound)?;
    if !case.readership.read_by(reader.role) {
        return Err(ResealError::NotFound);
    }
    if reader.role != Role::Secretary || !readers.has_bureau() {
        return Err(ResealError::NotAllowed);
    }
    let to = referral
        .from(case.readership)
        .ok_or(ResealError::NotAllowed)?;
    let count = readers.of(to).len();
    let entries = case.entries(conn)?;
    let files = Attachment::of_case(conn, &case.id)?;
    if !names_every_file(&entries, &files, &headers.entries, &headers.attachments) {
        return Err(ResealError::Incomplete);
    }
    // Each new header is a whole header, for exactly the new readers and R.
    let check = |header: &[u8]| -> Result<(), ResealError> {
        let len = crypto::header_len(header, count).map_err(ResealError::Header)?;
        if len != header.len() {
            return Err(ResealError::Header(CiphertextError::BadHeader));
        }
        Ok(())
    };
    for (position, header) in &headers.entries {
        check(header)?;
        let Some(entry) = entries.iter().find(|e| e.position == *position) else {
            return Err(ResealError::Incomplete);
        };
        let old = crypto::stored_header_len(&entry.ciphertext).map_err(ResealError::Header)?;
        let mut file = Vec::with_capacity(header.len() + entry.ciphertext.len() - old);
        file.extend_from_slice(header);
        file.extend_from_slice(&entry.ciphertext[old..]);
        Case::replace_entry(conn, &entry.id, &file)?;
    }
    for (id, header) in &headers.attachments {
        check(header)?;
        let first = Attachment::chunk(conn, id, 0)?.ok_or(ResealError::Incomplete)?;
        let old = crypto::stored_header_len(&first).map_err(ResealError::Header)?;
        let mut chunk = Vec::with_capacity(header.len() + first.len() - old);
        chunk.extend_from_slice(header);
        chunk.extend_from_slice(&first[old..]);
        Attachment::replace_chunk(conn, id, 0, &chunk)?;
        // The first chunk may now be a little larger or smaller: the file's
        // own size (what the limits count) does not change.
    }
    Case::refer(conn, case_id, to)?;
    let now = clock.now();
    // Both journals keep the line: the Secretary keeps the record of having
    // referred the case, even one he no longer reads.
    Journal::record(
        conn,
        Some((case_id, Readership::Both)),
        referral.journal(),
        None,
        Some(reader),
        now,
    )?;
    // The Bureau is told that a case reached it.
    Outbox::announce(conn, Readership::Bureau, now)?;
    Ok(to)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_alert_is_for_the_secretary_cases_and_a_step_aside_for_his_or_both() {
        use Readership::*;
        let table = [
            (Referral::Alert, Secretary, Some(Both)),
            (Referral::Alert, Both, None),
            (Referral::Alert, Bureau, None),
            (Referral::StepAside, Secretary, Some(Bureau)),
            (Referral::StepAside, Both, Some(Bureau)),
            (Referral::StepAside, Bureau, None),
        ];
        for (referral, before, after) in table {
            assert_eq!(referral.from(before), after, "{referral:?} from {before:?}");
        }
        assert_eq!(Referral::parse("alert"), Some(Referral::Alert));
        assert_eq!(Referral::parse("step-aside"), Some(Referral::StepAside));
        assert_eq!(Referral::parse("Alert"), None);
    }
}
