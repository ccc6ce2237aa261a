//! One-time submission keys, kept as a digest with the day they were used.

use chrono::NaiveDate;
use diesel::prelude::*;

use super::{schema::submissions, DbConnection};

/// How many days a used key is remembered after the day of its use: a
/// reload or a retry comes within minutes; a day or two is generous.
pub const SUBMISSION_DAYS: i64 = 2;

pub struct Submission;

impl Submission {
    /// Marks a key as used, in the caller's transaction. `false` when it
    /// already was: the form was sent before, and this copy must not land.
    /// Keys older than [`SUBMISSION_DAYS`] are forgotten on the way.
    pub fn record(
        conn: &mut DbConnection,
        digest: &[u8; 32],
        today: NaiveDate,
    ) -> QueryResult<bool> {
        let oldest = today - chrono::Duration::days(SUBMISSION_DAYS);
        diesel::delete(submissions::table.filter(submissions::used_on.lt(oldest))).execute(conn)?;
        super::insert_once(conn, |c| {
            diesel::insert_into(submissions::table)
                .values((
                    submissions::key_hash.eq(digest.to_vec()),
                    submissions::used_on.eq(today),
                ))
                .execute(c)
        })
    }

    /// Whether a key was used (and is still remembered).
    pub fn used(conn: &mut DbConnection, digest: &[u8; 32]) -> QueryResult<bool> {
        diesel::select(diesel::dsl::exists(
            submissions::table.filter(submissions::key_hash.eq(digest.to_vec())),
        ))
        .get_result(conn)
    }
}
