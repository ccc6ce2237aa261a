//! The Secretary's side of storage: the inbox, the workflow, login
//! challenges, sessions and the journal.

use chrono::NaiveDate;
use diesel::{dsl::count_star, prelude::*};

use super::{
    models::{Case, NewEntry},
    schema::{cases, challenges, entries, journal, login_proofs, login_seeds, sessions},
    DbConnection,
};
use crate::domain::{
    CaseId, CaseStatus, ChallengeId, ClosureReason, EntryId, JournalId, Reader, Readership, Role,
};

/// One page of the inbox.
pub struct InboxPage {
    pub cases: Vec<(Case, i64)>,
    pub total: i64,
    /// The sealed reports of the page's cases, for the reader's browser to
    /// show an excerpt of: only those of at most [`EXCERPT_MAX_BYTES`].
    pub reports: Vec<(CaseId, Vec<u8>)>,
}

/// The largest sealed report the inbox hands to the browser for its
/// excerpt: a report of one 64 KiB chunk, its header and tag. A longer one
/// gets no excerpt, so that a page never carries more than 50 of these.
pub const EXCERPT_MAX_BYTES: i32 = 66 * 1024;

impl Case {
    /// A page of the cases `role` reads, newest first, with each case's
    /// unread reporter messages.
    pub fn inbox(
        conn: &mut DbConnection,
        role: Role,
        status: Option<CaseStatus>,
        page: i64,
        per_page: i64,
    ) -> QueryResult<InboxPage> {
        let reads = role.reads();
        let mut query = cases::table
            .filter(cases::readership.eq_any(reads))
            .into_boxed();
        let mut count = cases::table
            .filter(cases::readership.eq_any(reads))
            .into_boxed();
        if let Some(status) = status {
            query = query.filter(cases::status.eq(status));
            count = count.filter(cases::status.eq(status));
        }
        let total: i64 = count.count().get_result(conn)?;
        // Identifiers first, from the inbox index alone (a deep page skips
        // index entries, not rows), then the page's rows.
        let page_ids: Vec<CaseId> = query
            .order((cases::received_on.desc(), cases::id.asc()))
            .limit(per_page)
            .offset(page.saturating_mul(per_page))
            .select(cases::id)
            .load(conn)?;
        let mut rows: Vec<Case> = cases::table
            .filter(cases::id.eq_any(&page_ids))
            .select(Case::as_select())
            .load(conn)?;
        rows.sort_by_key(|r| page_ids.iter().position(|id| *id == r.id));
        let ids: Vec<&CaseId> = rows.iter().map(|r| &r.id).collect();
        let unread: Vec<(CaseId, i64)> = entries::table
            .filter(entries::case_id.eq_any(&ids))
            .filter(entries::unread.eq(true))
            .group_by(entries::case_id)
            .select((entries::case_id, count_star()))
            .load(conn)?;
        let reports: Vec<(CaseId, Vec<u8>)> = entries::table
            .filter(entries::case_id.eq_any(&ids))
            .filter(entries::kind.eq(super::EntryKind::Report))
            .filter(
                diesel::dsl::sql::<diesel::sql_types::Bool>("length(entries.ciphertext) <= ")
                    .bind::<diesel::sql_types::Integer, _>(EXCERPT_MAX_BYTES),
            )
            .select((entries::case_id, entries::ciphertext))
            .load(conn)?;
        let cases = rows
            .into_iter()
            .map(|row| {
                let n = unread
                    .iter()
                    .find(|(id, _)| *id == row.id)
                    .map(|(_, n)| *n)
                    .unwrap_or(0);
                (row, n)
            })
            .collect();
        Ok(InboxPage {
            cases,
            total,
            reports,
        })
    }

    /// Marks the reporter's messages as read.
    pub fn mark_read(conn: &mut DbConnection, case_id: &CaseId) -> QueryResult<usize> {
        diesel::update(
            entries::table
                .filter(entries::case_id.eq(case_id))
                .filter(entries::unread.eq(true)),
        )
        .set(entries::unread.eq(false))
        .execute(conn)
    }
}

impl Case {
    /// The case, if `role` reads it: to a reader of another group, a case
    /// of theirs does not exist.
    pub fn find_for(
        conn: &mut DbConnection,
        role: Role,
        case_id: &CaseId,
    ) -> QueryResult<Option<Case>> {
        Ok(Case::find(conn, case_id)?.filter(|c| c.readership.read_by(role)))
    }

    /// The case, locked for a workflow step: touching the row first takes
    /// its lock on PostgreSQL (and the write lock on SQLite), so two steps
    /// on one case never interleave.
    pub fn lock(conn: &mut DbConnection, case_id: &CaseId) -> QueryResult<Option<Case>> {
        let touched = diesel::update(cases::table.find(case_id))
            .set(cases::on_hold.eq(cases::on_hold))
            .execute(conn)?;
        if touched == 0 {
            return Ok(None);
        }
        Case::find(conn, case_id)
    }

    /// Appends an entry after the last one of its case.
    pub fn append(conn: &mut DbConnection, mut entry: NewEntry) -> QueryResult<()> {
        let last: Option<i32> = entries::table
            .filter(entries::case_id.eq(&entry.case_id))
            .select(diesel::dsl::max(entries::position))
            .first(conn)?;
        entry.position = last.unwrap_or(0) + 1;
        diesel::insert_into(entries::table)
            .values(&entry)
            .execute(conn)?;
        Ok(())
    }

    /// Records the acknowledgement and the feedback deadline it sets.
    pub fn acknowledge(
        conn: &mut DbConnection,
        case_id: &CaseId,
        today: NaiveDate,
        feedback_due: NaiveDate,
    ) -> QueryResult<usize> {
        diesel::update(cases::table.find(case_id))
            .set((
                cases::status.eq(CaseStatus::Acknowledged),
                cases::acknowledged_on.eq(Some(today)),
                cases::feedback_due.eq(feedback_due),
            ))
            .execute(conn)
    }

    pub fn set_status(
        conn: &mut DbConnection,
        case_id: &CaseId,
        status: CaseStatus,
    ) -> QueryResult<usize> {
        diesel::update(cases::table.find(case_id))
            .set(cases::status.eq(status))
            .execute(conn)
    }

    /// Records the closure, its reason and its date.
    pub fn close(
        conn: &mut DbConnection,
        case_id: &CaseId,
        reason: ClosureReason,
        today: NaiveDate,
    ) -> QueryResult<usize> {
        diesel::update(cases::table.find(case_id))
            .set((
                cases::status.eq(CaseStatus::Closed),
                cases::closure_reason.eq(Some(reason)),
                cases::closed_on.eq(Some(today)),
            ))
            .execute(conn)
    }

    /// Records that the reporter got feedback today, unless they already had.
    pub fn give_feedback(
        conn: &mut DbConnection,
        case_id: &CaseId,
        today: NaiveDate,
    ) -> QueryResult<usize> {
        diesel::update(
            cases::table
                .find(case_id)
                .filter(cases::feedback_on.is_null()),
        )
        .set(cases::feedback_on.eq(Some(today)))
        .execute(conn)
    }

    /// Gives the case to other readers: its ciphertexts were re-sealed for
    /// them in the same transaction. The case is marked as referred by the
    /// Secretary.
    pub fn refer(
        conn: &mut DbConnection,
        case_id: &CaseId,
        readership: Readership,
    ) -> QueryResult<usize> {
        diesel::update(cases::table.find(case_id))
            .set((cases::readership.eq(readership), cases::referred.eq(true)))
            .execute(conn)
    }

    /// Replaces an entry's age file (the same payload under a new header).
    pub fn replace_entry(
        conn: &mut DbConnection,
        entry: &EntryId,
        ciphertext: &[u8],
    ) -> QueryResult<usize> {
        diesel::update(entries::table.find(entry))
            .set(entries::ciphertext.eq(ciphertext))
            .execute(conn)
    }

    pub fn set_hold(
        conn: &mut DbConnection,
        case_id: &CaseId,
        on_hold: bool,
    ) -> QueryResult<usize> {
        diesel::update(cases::table.find(case_id))
            .set(cases::on_hold.eq(on_hold))
            .execute(conn)
    }
}

/// A one-time login challenge: only the SHA-256 of the expected answer is
/// kept. A challenge is answered at most once: a right answer deletes it, a
/// wrong one leaves it spent, and spent or unanswered challenges are what
/// the flood guard counts until they are swept.
pub struct Challenge;

impl Challenge {
    pub fn insert(
        conn: &mut DbConnection,
        id: &ChallengeId,
        digest: &[u8; 32],
        reader: &Reader,
        expires_at: i64,
    ) -> QueryResult<()> {
        diesel::insert_into(challenges::table)
            .values((
                challenges::id.eq(id),
                challenges::digest.eq(digest.to_vec()),
                challenges::expires_at.eq(expires_at),
                challenges::role.eq(reader.role),
                challenges::key_fingerprint.eq(&reader.key),
            ))
            .execute(conn)?;
        Ok(())
    }

    /// Spends the challenge and returns its digest and the reader whose
    /// key it was sealed to, if it was live: the caller then deletes it with
    /// [`Challenge::answered`] when the answer is right. Marking it spent
    /// first (a row lock on PostgreSQL, the write lock on SQLite) means two
    /// answers can never both use it.
    pub fn take(
        conn: &mut DbConnection,
        id: &ChallengeId,
        now: i64,
    ) -> QueryResult<Option<(Vec<u8>, Reader)>> {
        let spent = diesel::update(
            challenges::table
                .find(id)
                .filter(challenges::spent.eq(false))
                .filter(challenges::expires_at.ge(now)),
        )
        .set(challenges::spent.eq(true))
        .execute(conn)?;
        if spent != 1 {
            return Ok(None);
        }
        let row: Option<(Vec<u8>, Role, String)> = challenges::table
            .find(id)
            .select((
                challenges::digest,
                challenges::role,
                challenges::key_fingerprint,
            ))
            .first(conn)
            .optional()?;
        Ok(row.map(|(digest, role, key)| (digest, Reader { role, key })))
    }

    /// Forgets a rightly answered challenge: it no longer counts as a flood.
    pub fn answered(conn: &mut DbConnection, id: &ChallengeId) -> QueryResult<()> {
        diesel::delete(challenges::table.find(id)).execute(conn)?;
        Ok(())
    }

    /// Sweeps challenges that ended (expired or spent) more than
    /// `keep_secs` ago, then the oldest beyond `cap`; returns how many are
    /// left: the challenges issued recently and not rightly answered.
    pub fn sweep(conn: &mut DbConnection, now: i64, keep_secs: i64, cap: i64) -> QueryResult<i64> {
        diesel::delete(challenges::table.filter(challenges::expires_at.lt(now - keep_secs)))
            .execute(conn)?;
        let left: i64 = challenges::table.count().get_result(conn)?;
        if left <= cap {
            return Ok(left);
        }
        let oldest: Vec<ChallengeId> = challenges::table
            .order((challenges::expires_at.asc(), challenges::id.asc()))
            .limit(left - cap)
            .select(challenges::id)
            .load(conn)?;
        diesel::delete(challenges::table.filter(challenges::id.eq_any(&oldest))).execute(conn)?;
        Ok(cap)
    }
}

/// The random seeds of the login's proof of work: one per minute, shared by
/// every instance through the database.
pub struct LoginSeed;

impl LoginSeed {
    /// The seed of `minute` (made now if no instance made it yet) and the
    /// previous minute's, if any; older seeds are forgotten.
    pub fn current(
        conn: &mut DbConnection,
        minute: i64,
        fresh: [u8; 32],
    ) -> QueryResult<(Vec<u8>, Option<Vec<u8>>)> {
        diesel::delete(login_seeds::table.filter(login_seeds::minute.lt(minute - 1)))
            .execute(conn)?;
        let find = |conn: &mut DbConnection, m: i64| {
            login_seeds::table
                .find(m)
                .select(login_seeds::seed)
                .first::<Vec<u8>>(conn)
                .optional()
        };
        let seed = match find(conn, minute)? {
            Some(seed) => seed,
            None => {
                // Another instance may insert it at the same moment: the
                // savepoint keeps the transaction usable, and theirs wins.
                let _ = conn.transaction(|c| {
                    diesel::insert_into(login_seeds::table)
                        .values((
                            login_seeds::minute.eq(minute),
                            login_seeds::seed.eq(fresh.to_vec()),
                        ))
                        .execute(c)
                });
                find(conn, minute)?.ok_or(diesel::result::Error::NotFound)?
            }
        };
        Ok((seed, find(conn, minute - 1)?))
    }
}

/// Proofs of work already used: each can open one challenge only.
pub struct LoginProof;

impl LoginProof {
    /// Records a proof; `false` if it was used already.
    pub fn spend(
        conn: &mut DbConnection,
        digest: &[u8; 32],
        now: i64,
        until: i64,
    ) -> QueryResult<bool> {
        diesel::delete(login_proofs::table.filter(login_proofs::expires_at.lt(now)))
            .execute(conn)?;
        super::insert_once(conn, |c| {
            diesel::insert_into(login_proofs::table)
                .values((
                    login_proofs::digest.eq(digest.to_vec()),
                    login_proofs::expires_at.eq(until),
                ))
                .execute(c)
        })
    }
}

/// A Secretary session, stored as the SHA-256 of its identifier.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = sessions)]
pub struct SessionRow {
    pub id_hash: Vec<u8>,
    pub csrf_hash: Vec<u8>,
    pub created_at: i64,
    pub last_seen: i64,
    pub role: Role,
    pub key_fingerprint: String,
}

impl SessionRow {
    pub fn insert(
        conn: &mut DbConnection,
        id_hash: &[u8; 32],
        csrf_hash: &[u8; 32],
        reader: &Reader,
        now: i64,
    ) -> QueryResult<()> {
        diesel::insert_into(sessions::table)
            .values((
                sessions::id_hash.eq(id_hash.to_vec()),
                sessions::csrf_hash.eq(csrf_hash.to_vec()),
                sessions::created_at.eq(now),
                sessions::last_seen.eq(now),
                sessions::role.eq(reader.role),
                sessions::key_fingerprint.eq(&reader.key),
            ))
            .execute(conn)?;
        Ok(())
    }

    pub fn find(conn: &mut DbConnection, id_hash: &[u8; 32]) -> QueryResult<Option<SessionRow>> {
        sessions::table
            .find(id_hash.to_vec())
            .select(SessionRow::as_select())
            .first(conn)
            .optional()
    }

    pub fn touch(conn: &mut DbConnection, id_hash: &[u8], now: i64) -> QueryResult<usize> {
        diesel::update(sessions::table.find(id_hash.to_vec()))
            .set(sessions::last_seen.eq(now))
            .execute(conn)
    }

    pub fn delete(conn: &mut DbConnection, id_hash: &[u8]) -> QueryResult<usize> {
        diesel::delete(sessions::table.find(id_hash.to_vec())).execute(conn)
    }

    /// Forgets sessions idle or older than the limits.
    pub fn delete_expired(
        conn: &mut DbConnection,
        idle_before: i64,
        created_before: i64,
    ) -> QueryResult<usize> {
        diesel::delete(
            sessions::table.filter(
                sessions::last_seen
                    .lt(idle_before)
                    .or(sessions::created_at.lt(created_before)),
            ),
        )
        .execute(conn)
    }
}

crate::domain::named::named! {
    /// What the journal records. Each is stored under its name (`as_str`),
    /// which is also the end of its message key (`journal-<name>`).
    pub enum JournalAction {
        LoggedIn => "logged_in",
        LoggedOut => "logged_out",
        Opened => "opened",
        Acknowledged => "acknowledged",
        Replied => "replied",
        StatusChanged => "status_changed",
        Closed => "closed",
        HoldPlaced => "hold_placed",
        HoldReleased => "hold_released",
        Exported => "exported",
        Purged => "purged",
        Downloaded => "downloaded",
        Alerted => "alerted",
        SteppedAside => "stepped_aside",
        FeedbackGiven => "feedback_given",
        Deleted => "deleted",
        RetentionConfirmed => "retention_confirmed",
        RetentionFloor => "retention_floor",
        HandedOver => "handed_over",
    }
}

/// The append-only journal: what the Secretary and the system did, never
/// any content. There is no update or delete here, and database triggers
/// refuse both.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = journal)]
pub struct Journal {
    pub id: JournalId,
    pub case_id: Option<CaseId>,
    pub action: JournalAction,
    pub detail: Option<String>,
    pub occurred_at: i64,
    /// Whose journal the line was written in.
    pub readership: Readership,
    /// The role of the reader who acted; `None` for the system.
    pub role: Option<Role>,
    /// The short fingerprint of the key that reader logged in with.
    pub key_fingerprint: Option<String>,
}

impl Journal {
    /// Records a line about a case (with the case's readership) or, without
    /// one, in the journal of the reader who acted (the Secretary's for the
    /// system). `by` is the reader who acted, `None` for the system.
    pub fn record(
        conn: &mut DbConnection,
        about: Option<(&CaseId, Readership)>,
        action: JournalAction,
        detail: Option<&str>,
        by: Option<&Reader>,
        now: i64,
    ) -> QueryResult<()> {
        let readership = match (about, by) {
            (Some((_, readership)), _) => readership,
            (None, Some(reader)) => Readership::from(reader.role),
            (None, None) => Readership::Secretary,
        };
        diesel::insert_into(journal::table)
            .values((
                journal::id.eq(JournalId::random()),
                journal::case_id.eq(about.map(|(id, _)| id)),
                journal::action.eq(action),
                journal::detail.eq(detail),
                journal::occurred_at.eq(now),
                journal::readership.eq(readership),
                journal::role.eq(by.map(|r| r.role)),
                journal::key_fingerprint.eq(by.map(|r| r.key.as_str())),
            ))
            .execute(conn)?;
        Ok(())
    }

    /// The newest lines `role` may see, overall or for one case: the lines
    /// written in its journal, and the lines about a case it reads now (so
    /// that a case referred to the Bureau brings its history along). A
    /// line of the Bureau's own cases never reaches the Secretary.
    pub fn recent(
        conn: &mut DbConnection,
        role: Role,
        case_id: Option<&CaseId>,
        limit: i64,
    ) -> QueryResult<Vec<Journal>> {
        let reads = role.reads();
        let mut q = journal::table
            .left_join(cases::table.on(journal::case_id.eq(cases::id.nullable())))
            .filter(
                journal::readership
                    .eq_any(reads)
                    .or(cases::readership.nullable().eq_any(reads)),
            )
            .into_boxed();
        if let Some(id) = case_id {
            q = q.filter(journal::case_id.eq(id));
        }
        q.order((journal::occurred_at.desc(), journal::id.asc()))
            .limit(limit)
            .select(Journal::as_select())
            .load(conn)
    }
}
