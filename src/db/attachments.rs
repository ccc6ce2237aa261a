//! Attachments: age files stored in chunks, pending until a report or a
//! message claims them in its own transaction.

use diesel::prelude::*;

use crate::domain::{AttachmentId, CaseId, Readership};

use super::{
    schema::{attachment_chunks, attachments},
    DbConnection,
};

/// Most files one report or message may name.
pub const MAX_PER_CLAIM: usize = 64;

/// Largest chunk of ciphertext kept in one row.
pub const CHUNK_BYTES: usize = 1024 * 1024;

pub struct Attachment;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ClaimError {
    #[error("an attachment is unknown, already used or expired")]
    Unknown,
    #[error("the attachments are over the size limit")]
    TooLarge,
}

impl Attachment {
    /// A new pending upload, sealed for the cases of `readership`: only a
    /// case of that readership can claim it.
    pub fn start(
        conn: &mut DbConnection,
        id: &AttachmentId,
        readership: Readership,
        pending_until: i64,
    ) -> QueryResult<()> {
        diesel::insert_into(attachments::table)
            .values((
                attachments::id.eq(id),
                attachments::readership.eq(readership),
                attachments::size.eq(0i64),
                attachments::pending_until.eq(Some(pending_until)),
            ))
            .execute(conn)?;
        Ok(())
    }

    /// Appends one chunk of ciphertext to a pending upload.
    pub fn append(
        conn: &mut DbConnection,
        id: &AttachmentId,
        seq: i32,
        bytes: &[u8],
    ) -> QueryResult<()> {
        diesel::insert_into(attachment_chunks::table)
            .values((
                attachment_chunks::attachment_id.eq(id),
                attachment_chunks::seq.eq(seq),
                attachment_chunks::bytes.eq(bytes),
            ))
            .execute(conn)?;
        Ok(())
    }

    /// Records the size of the file itself once the upload is complete (the
    /// limits count files, not their encryption overhead).
    pub fn set_size(conn: &mut DbConnection, id: &AttachmentId, size: i64) -> QueryResult<()> {
        diesel::update(attachments::table.find(id))
            .set(attachments::size.eq(size))
            .execute(conn)?;
        Ok(())
    }

    /// Forgets a pending upload (refused, or abandoned).
    pub fn discard(conn: &mut DbConnection, id: &AttachmentId) -> QueryResult<()> {
        diesel::delete(
            attachments::table
                .find(id)
                .filter(attachments::case_id.is_null()),
        )
        .execute(conn)?;
        Ok(())
    }

    /// Gives pending uploads to a case, inside the transaction that stores the
    /// report or message naming them. All or nothing.
    pub fn claim(
        conn: &mut DbConnection,
        ids: &[AttachmentId],
        case_id: &CaseId,
        readership: Readership,
        now: i64,
        max_total: i64,
    ) -> Result<(), ClaimErrorOr> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut distinct = ids.to_vec();
        distinct.sort();
        distinct.dedup();
        if distinct.len() != ids.len() || ids.len() > MAX_PER_CLAIM {
            return Err(ClaimError::Unknown.into());
        }
        let sizes: Vec<i64> = attachments::table
            .filter(attachments::id.eq_any(ids))
            .filter(attachments::case_id.is_null())
            .filter(attachments::readership.eq(readership))
            .filter(attachments::pending_until.ge(now))
            .select(attachments::size)
            .load(conn)?;
        if sizes.len() != ids.len() {
            return Err(ClaimError::Unknown.into());
        }
        let already: i64 = attachments::table
            .filter(attachments::case_id.eq(case_id))
            .select(attachments::size)
            .load::<i64>(conn)?
            .iter()
            .sum();
        if already + sizes.iter().sum::<i64>() > max_total {
            return Err(ClaimError::TooLarge.into());
        }
        // The update repeats the conditions of the read above: a concurrent
        // claim of the same upload (PostgreSQL runs such transactions side
        // by side) makes this one touch fewer rows, and the caller's
        // transaction rolls back. Exactly one claim wins.
        let claimed = diesel::update(
            attachments::table
                .filter(attachments::id.eq_any(ids))
                .filter(attachments::case_id.is_null())
                .filter(attachments::readership.eq(readership))
                .filter(attachments::pending_until.ge(now)),
        )
        .set((
            attachments::case_id.eq(case_id),
            attachments::pending_until.eq(None::<i64>),
        ))
        .execute(conn)?;
        if claimed != ids.len() {
            return Err(ClaimError::Unknown.into());
        }
        Ok(())
    }

    /// Removes uploads left pending past their time (interrupted uploads,
    /// reports never sent, a server killed mid-upload).
    pub fn sweep(conn: &mut DbConnection, now: i64) -> QueryResult<usize> {
        diesel::delete(
            attachments::table
                .filter(attachments::case_id.is_null())
                .filter(attachments::pending_until.lt(now)),
        )
        .execute(conn)
    }

    /// The attachments of a case: identifier and size.
    pub fn of_case(
        conn: &mut DbConnection,
        case_id: &CaseId,
    ) -> QueryResult<Vec<(AttachmentId, i64)>> {
        attachments::table
            .filter(attachments::case_id.eq(case_id))
            .order(attachments::id.asc())
            .select((attachments::id, attachments::size))
            .load(conn)
    }

    /// The case an attachment belongs to, if any.
    pub fn case_of(
        conn: &mut DbConnection,
        id: &AttachmentId,
    ) -> QueryResult<Option<Option<CaseId>>> {
        attachments::table
            .find(id)
            .select(attachments::case_id)
            .first(conn)
            .optional()
    }

    pub fn chunk_count(conn: &mut DbConnection, id: &AttachmentId) -> QueryResult<i64> {
        attachment_chunks::table
            .filter(attachment_chunks::attachment_id.eq(id))
            .count()
            .get_result(conn)
    }

    /// One chunk, in order from 0.
    pub fn chunk(
        conn: &mut DbConnection,
        id: &AttachmentId,
        seq: i32,
    ) -> QueryResult<Option<Vec<u8>>> {
        attachment_chunks::table
            .find((id, seq))
            .select(attachment_chunks::bytes)
            .first(conn)
            .optional()
    }

    /// Replaces one chunk's bytes (a file's first chunk under a new header).
    pub fn replace_chunk(
        conn: &mut DbConnection,
        id: &AttachmentId,
        seq: i32,
        bytes: &[u8],
    ) -> QueryResult<usize> {
        diesel::update(attachment_chunks::table.find((id, seq)))
            .set(attachment_chunks::bytes.eq(bytes))
            .execute(conn)
    }

    /// Counts every stored row, for the consistency tests.
    pub fn counts(conn: &mut DbConnection) -> QueryResult<(i64, i64, i64)> {
        let all: i64 = attachments::table.count().get_result(conn)?;
        let pending: i64 = attachments::table
            .filter(attachments::case_id.is_null())
            .count()
            .get_result(conn)?;
        let chunks: i64 = attachment_chunks::table.count().get_result(conn)?;
        Ok((all, pending, chunks))
    }
}

/// A claim refused, or the database failed.
#[derive(Debug, thiserror::Error)]
pub enum ClaimErrorOr {
    #[error(transparent)]
    Claim(#[from] ClaimError),
    #[error(transparent)]
    Query(#[from] diesel::result::Error),
}
