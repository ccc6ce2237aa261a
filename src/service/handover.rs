//! A key handover, on the server's side: the new headers `vigie rekey` made
//! offline for one case are checked and swapped in, in one transaction; the
//! payloads are never touched. Run again, a case already handed over is
//! recognised (its stored headers are the new ones) and left as it is, so
//! an interrupted import is finished by running it again.

use crate::{
    crypto::{self, CiphertextError, Readers},
    db::{Attachment, Case, DbConnection},
    domain::{AttachmentId, CaseId, Readership},
};

/// The new headers of one case, as the manifest lists them.
#[derive(Debug, Default)]
pub struct CaseHeaders {
    pub readership: Option<Readership>,
    pub entries: Vec<(i32, Vec<u8>)>,
    pub attachments: Vec<(AttachmentId, Vec<u8>)>,
}

/// What became of one case.
#[derive(Debug, PartialEq, Eq)]
pub enum Imported {
    /// Its headers were swapped: this many files.
    Swapped(usize),
    /// It was handed over already.
    AlreadyDone,
}

/// Why a case was not imported. Nothing of it was changed.
#[derive(Debug, thiserror::Error)]
pub enum HandoverError {
    #[error("no such case")]
    NotFound,
    #[error("the case changed since the export (its readers, entries or files): export, rekey and import it again")]
    Changed,
    #[error("a header is refused: {0}")]
    Header(CiphertextError),
    #[error(transparent)]
    Query(#[from] diesel::result::Error),
}

/// Checks and swaps one case's new headers, in the caller's transaction.
/// Each must be a whole header for exactly the case's readers (as `readers`
/// now lists them) and `R`.
pub fn import_case(
    conn: &mut DbConnection,
    readers: &Readers,
    case_id: &CaseId,
    headers: &CaseHeaders,
) -> Result<Imported, HandoverError> {
    let case = Case::lock(conn, case_id)?.ok_or(HandoverError::NotFound)?;
    if headers.readership != Some(case.readership) {
        return Err(HandoverError::Changed);
    }
    let count = readers.of(case.readership).len();
    let entries = case.entries(conn)?;
    let files = Attachment::of_case(conn, &case.id)?;
    if !super::reseal::names_every_file(&entries, &files, &headers.entries, &headers.attachments) {
        return Err(HandoverError::Changed);
    }
    let check = |header: &[u8]| -> Result<(), HandoverError> {
        match crypto::header_len(header, count) {
            Ok(len) if len == header.len() => Ok(()),
            Ok(_) => Err(HandoverError::Header(CiphertextError::BadHeader)),
            Err(e) => Err(HandoverError::Header(e)),
        }
    };
    let mut swapped = 0;
    let mut done = 0;
    for (position, header) in &headers.entries {
        check(header)?;
        let Some(entry) = entries.iter().find(|e| e.position == *position) else {
            return Err(HandoverError::Changed);
        };
        let old = crypto::stored_header_len(&entry.ciphertext).map_err(HandoverError::Header)?;
        if entry.ciphertext[..old] == header[..] {
            done += 1;
            continue;
        }
        let mut file = Vec::with_capacity(header.len() + entry.ciphertext.len() - old);
        file.extend_from_slice(header);
        file.extend_from_slice(&entry.ciphertext[old..]);
        Case::replace_entry(conn, &entry.id, &file)?;
        swapped += 1;
    }
    for (id, header) in &headers.attachments {
        check(header)?;
        let first = Attachment::chunk(conn, id, 0)?.ok_or(HandoverError::Changed)?;
        let old = crypto::stored_header_len(&first).map_err(HandoverError::Header)?;
        if first[..old] == header[..] {
            done += 1;
            continue;
        }
        let mut chunk = Vec::with_capacity(header.len() + first.len() - old);
        chunk.extend_from_slice(header);
        chunk.extend_from_slice(&first[old..]);
        Attachment::replace_chunk(conn, id, 0, &chunk)?;
        swapped += 1;
    }
    Ok(if swapped == 0 && done > 0 {
        Imported::AlreadyDone
    } else {
        Imported::Swapped(swapped)
    })
}
