use chrono::NaiveDate;
use diesel::prelude::*;

use super::{
    schema::{cases, entries},
    DbConnection,
};
use crate::{
    crypto::Locator,
    domain::{CaseId, CaseStatus, ClosureReason, Deadlines, EntryId, Readership, Role},
};

/// A case as stored: metadata only, never content. Its status and closure
/// reason are read typed; an unknown stored name is a query error.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = cases)]
pub struct Case {
    pub id: CaseId,
    pub locator: Vec<u8>,
    pub reporter_recipient: String,
    pub status: CaseStatus,
    pub closure_reason: Option<ClosureReason>,
    pub received_on: NaiveDate,
    pub ack_due: NaiveDate,
    pub acknowledged_on: Option<NaiveDate>,
    pub feedback_due: NaiveDate,
    pub closed_on: Option<NaiveDate>,
    pub on_hold: bool,
    /// Who reads the case: its ciphertexts are sealed to that group's keys.
    pub readership: Readership,
    /// The Secretary referred it to the Bureau (an alert or a step-aside).
    pub referred: bool,
    /// The day the reporter got feedback (a reply marked so, or the closing
    /// message), which the law asks for by `feedback_due`.
    pub feedback_on: Option<NaiveDate>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = cases)]
pub struct NewCase {
    pub id: CaseId,
    pub locator: Vec<u8>,
    pub reporter_recipient: String,
    pub status: CaseStatus,
    pub received_on: NaiveDate,
    pub ack_due: NaiveDate,
    pub feedback_due: NaiveDate,
    pub readership: Readership,
}

impl NewCase {
    /// A new case received today, with a fresh random identifier.
    pub fn received(
        locator: &Locator,
        reporter_recipient: String,
        readership: Readership,
        today: NaiveDate,
        due: Deadlines,
    ) -> Self {
        NewCase {
            id: CaseId::random(),
            locator: locator.as_bytes().to_vec(),
            reporter_recipient,
            status: CaseStatus::Received,
            received_on: today,
            ack_due: due.ack_due,
            feedback_due: due.feedback_due,
            readership,
        }
    }
}

crate::domain::named::named! {
    /// Who wrote an entry of a case's thread. Stored under its name (`as_str`).
    pub enum EntryKind {
        Report => "report",
        Message => "message",
        Reply => "reply",
    }
}

/// One encrypted item of a case's thread: the report, a reporter's message or
/// a Secretary's reply. The ciphertext is a plain binary age v1 file.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = entries)]
pub struct EntryRow {
    pub id: EntryId,
    pub case_id: CaseId,
    pub position: i32,
    pub kind: EntryKind,
    pub created_on: NaiveDate,
    pub ciphertext: Vec<u8>,
    pub unread: bool,
    /// Whose readers wrote a reply; `None` for the reporter's entries.
    pub replied_by: Option<Role>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = entries)]
pub struct NewEntry {
    pub id: EntryId,
    pub case_id: CaseId,
    pub position: i32,
    pub kind: EntryKind,
    pub created_on: NaiveDate,
    pub ciphertext: Vec<u8>,
    pub unread: bool,
    /// Whose readers wrote a reply; `None` for the reporter's entries.
    pub replied_by: Option<Role>,
}

impl NewEntry {
    /// The report that opens a case.
    pub fn report(case: &NewCase, ciphertext: Vec<u8>) -> Self {
        NewEntry {
            id: EntryId::random(),
            case_id: case.id.clone(),
            position: 1,
            kind: EntryKind::Report,
            created_on: case.received_on,
            ciphertext,
            unread: false,
            replied_by: None,
        }
    }

    /// A later entry of a case's thread; its position is set when stored.
    pub fn later(case_id: &CaseId, kind: EntryKind, today: NaiveDate, ciphertext: Vec<u8>) -> Self {
        NewEntry {
            id: EntryId::random(),
            case_id: case_id.clone(),
            position: 0,
            kind,
            created_on: today,
            ciphertext,
            unread: kind == EntryKind::Message,
            replied_by: None,
        }
    }
}

impl Case {
    /// Stores a new case and its report (run it inside `Db::write`).
    pub fn insert_with_report(
        conn: &mut DbConnection,
        case: &NewCase,
        report: &NewEntry,
    ) -> QueryResult<()> {
        diesel::insert_into(cases::table)
            .values(case)
            .execute(conn)?;
        diesel::insert_into(entries::table)
            .values(report)
            .execute(conn)?;
        Ok(())
    }

    /// Stores many cases and their entries at once (imports and benchmarks).
    pub fn insert_batch(
        conn: &mut DbConnection,
        cases: &[NewCase],
        entries: &[NewEntry],
    ) -> QueryResult<()> {
        // Multi-row VALUES is not available through the multi-backend
        // connection; inside one transaction, row by row is fast enough.
        for case in cases {
            diesel::insert_into(cases::table)
                .values(case)
                .execute(conn)?;
        }
        for entry in entries {
            diesel::insert_into(entries::table)
                .values(entry)
                .execute(conn)?;
        }
        Ok(())
    }

    pub fn find_by_locator(
        conn: &mut DbConnection,
        locator: &Locator,
    ) -> QueryResult<Option<Case>> {
        cases::table
            .filter(cases::locator.eq(locator.as_bytes().to_vec()))
            .select(Case::as_select())
            .first(conn)
            .optional()
    }

    pub fn find(conn: &mut DbConnection, id: &CaseId) -> QueryResult<Option<Case>> {
        cases::table
            .find(id)
            .select(Case::as_select())
            .first(conn)
            .optional()
    }

    /// Every case, oldest received first (ties in random identifier order).
    pub fn all(conn: &mut DbConnection) -> QueryResult<Vec<Case>> {
        cases::table
            .order((cases::received_on.asc(), cases::id.asc()))
            .select(Case::as_select())
            .load(conn)
    }

    pub fn count(conn: &mut DbConnection) -> QueryResult<i64> {
        cases::table.count().get_result(conn)
    }

    /// The case's thread in order.
    pub fn entries(&self, conn: &mut DbConnection) -> QueryResult<Vec<EntryRow>> {
        entries::table
            .filter(entries::case_id.eq(&self.id))
            .order(entries::position.asc())
            .select(EntryRow::as_select())
            .load(conn)
    }
}
