//! Attachments, uploaded before the report or message that claims them:
//! written chunk by chunk into pending storage, never held whole in memory,
//! never written to disk in plaintext. The API receives files sealed in the
//! browser; the no-JavaScript form's files are sealed here as they stream in.

use futures_util::{Stream, StreamExt};

use crate::{
    crypto::{self, CiphertextError, EncryptError, FileSealer, Recipients, ReporterRecipient},
    db::{Attachment, Db, DbError, CHUNK_BYTES},
    domain::{
        scrub::{Findings, Scrubber},
        AttachmentId, AttachmentRef, Readership,
    },
};
use zeroize::Zeroizing;

/// An upload being written, chunk by chunk, into pending storage.
pub struct Upload {
    pub id: AttachmentId,
    db: Db,
    seq: i32,
    buf: Vec<u8>,
    pub size: u64,
}

impl Upload {
    /// A new pending upload, forgotten at `pending_until` unless claimed.
    pub async fn start(
        db: &Db,
        readership: Readership,
        pending_until: i64,
    ) -> Result<Upload, DbError> {
        let id = AttachmentId::random();
        let stored = id.clone();
        db.run_write(move |conn| -> Result<(), DbError> {
            Ok(Attachment::start(conn, &stored, readership, pending_until)?)
        })
        .await?;
        Ok(Upload {
            id,
            db: db.clone(),
            seq: 0,
            buf: Vec::with_capacity(CHUNK_BYTES),
            size: 0,
        })
    }

    async fn flush(&mut self, chunk: Vec<u8>) -> Result<(), DbError> {
        let (id, seq) = (self.id.clone(), self.seq);
        self.seq += 1;
        self.db
            .run_write(move |conn| -> Result<(), DbError> {
                Ok(Attachment::append(conn, &id, seq, &chunk)?)
            })
            .await
    }

    /// Adds ciphertext; whole chunks go to the database at once.
    pub async fn push(&mut self, bytes: &[u8]) -> Result<(), DbError> {
        self.size += bytes.len() as u64;
        self.buf.extend_from_slice(bytes);
        while self.buf.len() >= CHUNK_BYTES {
            let rest = self.buf.split_off(CHUNK_BYTES);
            let chunk = std::mem::replace(&mut self.buf, rest);
            self.flush(chunk).await?;
        }
        Ok(())
    }

    /// Stores what is left and records `plain`, the size of the file itself.
    pub async fn finish(mut self, plain: u64) -> Result<(AttachmentId, u64), DbError> {
        if !self.buf.is_empty() {
            let chunk = std::mem::take(&mut self.buf);
            self.flush(chunk).await?;
        }
        let id = self.id.clone();
        let size = i64::try_from(plain).unwrap_or(i64::MAX);
        self.db
            .run_write(move |conn| -> Result<(), DbError> {
                Ok(Attachment::set_size(conn, &id, size)?)
            })
            .await?;
        Ok((self.id, self.size))
    }

    /// Drops what was written so far.
    pub async fn discard(self) {
        discard(&self.db, &self.id).await;
    }
}

async fn discard(db: &Db, id: &AttachmentId) {
    let id = id.clone();
    let dropped = db
        .run_write(move |conn| -> Result<(), DbError> { Ok(Attachment::discard(conn, &id)?) })
        .await;
    if let Err(e) = dropped {
        // The pending upload expires on its own; nothing is lost.
        tracing::warn!(error = %e, "a refused upload could not be dropped at once");
    }
}

/// Forgets the files of a refused form.
pub async fn discard_all(db: &Db, files: &[AttachmentRef]) {
    for f in files {
        discard(db, &f.id).await;
    }
}

/// Why a file sealed by the server was refused.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("the body broke off")]
    Broken,
    #[error("the file is over its limit")]
    FileTooLarge,
    #[error("the files are over their total limit")]
    TotalTooLarge,
    #[error("the file could not be sealed")]
    Seal(#[source] EncryptError),
    #[error("the file could not be stored")]
    Store(#[source] DbError),
}

/// The limits a file sealed by the server is held to while it streams.
#[derive(Debug, Clone, Copy)]
pub struct FileLimits {
    pub file_bytes: u64,
    pub total_bytes: u64,
    /// A pending upload is forgotten at this time unless claimed.
    pub pending_until: i64,
    /// The readership of the case that will claim the file.
    pub readership: Readership,
}

/// A file sealed by the server as it streamed in.
#[derive(Debug)]
pub struct SealedFile {
    pub id: AttachmentId,
    /// The size of what was sealed: the file without its hidden information.
    pub size: u64,
    /// What hidden information the file had, and whether it could be read.
    pub findings: Findings,
}

/// Seals a file for the Secretary and the reporter as it streams in, into
/// pending storage, without the hidden information of a JPEG or PNG
/// picture (`domain::scrub`). `total` counts the bytes of every file of the
/// form, as they arrived; the limits hold to those. With `scrub` false (the
/// reporter asked to keep the pictures as they are) the file is sealed
/// untouched.
pub async fn seal_stream<S, B, E>(
    db: &Db,
    secretary: &Recipients,
    reporter: &ReporterRecipient,
    limits: FileLimits,
    file: &mut S,
    total: &mut u64,
    scrub: bool,
) -> Result<SealedFile, SealError>
where
    S: Stream<Item = Result<B, E>> + Unpin,
    B: AsRef<[u8]>,
{
    let mut upload = Upload::start(db, limits.readership, limits.pending_until)
        .await
        .map_err(SealError::Store)?;
    let sealed = async {
        let mut sealer = FileSealer::new(secretary, reporter).map_err(SealError::Seal)?;
        let mut scrubber = Scrubber::new();
        // What the scrubber keeps, before sealing; zeroized when dropped.
        let mut kept = Zeroizing::new(Vec::new());
        let (mut size, mut sealed_size) = (0u64, 0u64);
        while let Some(chunk) = file.next().await {
            let chunk = chunk.map_err(|_| SealError::Broken)?;
            let chunk = chunk.as_ref();
            size += chunk.len() as u64;
            *total += chunk.len() as u64;
            if size > limits.file_bytes {
                return Err(SealError::FileTooLarge);
            }
            if *total > limits.total_bytes {
                return Err(SealError::TotalTooLarge);
            }
            let kept: &[u8] = if scrub {
                kept.clear();
                scrubber.push(chunk, &mut kept);
                &kept
            } else {
                chunk
            };
            sealed_size += kept.len() as u64;
            sealer.write(kept).map_err(SealError::Seal)?;
            if let Some(out) = sealer.take(CHUNK_BYTES) {
                upload.push(&out).await.map_err(SealError::Store)?;
            }
        }
        kept.clear();
        let findings = if scrub {
            scrubber.finish(&mut kept)
        } else {
            Findings::NotAPicture
        };
        sealed_size += kept.len() as u64;
        sealer.write(&kept).map_err(SealError::Seal)?;
        if let Some(out) = sealer.finish().map_err(SealError::Seal)? {
            upload.push(&out).await.map_err(SealError::Store)?;
        }
        Ok((sealed_size, findings))
    }
    .await;
    match sealed {
        Ok((size, findings)) => upload
            .finish(size)
            .await
            .map(|(id, _)| SealedFile { id, size, findings })
            .map_err(SealError::Store),
        Err(e) => {
            upload.discard().await;
            Err(e)
        }
    }
}

/// Why an age file sealed in the browser was refused.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the body is not a valid age file: {0}")]
    Ciphertext(CiphertextError),
    #[error("the file is over its limit")]
    TooLarge,
    #[error("the file could not be stored")]
    Store(#[source] DbError),
}

/// The limits an age file sealed in the browser is held to.
#[derive(Debug, Clone, Copy)]
pub struct SealedLimits {
    /// Largest age file, header and tags included.
    pub ciphertext_bytes: u64,
    /// Largest file itself.
    pub file_bytes: u64,
    pub pending_until: i64,
    /// The readership of the case that will claim the file.
    pub readership: Readership,
}

/// Stores an age file sealed in the browser as it streams in, checking its
/// header (the case's recipients) before anything past it is stored, and
/// its payload's shape at the end. Returns the upload's id and stored size.
pub async fn store_sealed_stream<S, B, E>(
    db: &Db,
    recipients: usize,
    limits: SealedLimits,
    body: &mut S,
) -> Result<(AttachmentId, u64), StoreError>
where
    S: Stream<Item = Result<B, E>> + Unpin,
    B: AsRef<[u8]>,
{
    let mut upload = Upload::start(db, limits.readership, limits.pending_until)
        .await
        .map_err(StoreError::Store)?;
    match stream_into(&mut upload, recipients, limits, body).await {
        Ok(plain) => upload.finish(plain).await.map_err(StoreError::Store),
        Err(e) => {
            upload.discard().await;
            Err(e)
        }
    }
}

/// Writes the body into `upload`; returns the file's own size.
async fn stream_into<S, B, E>(
    upload: &mut Upload,
    recipients: usize,
    limits: SealedLimits,
    body: &mut S,
) -> Result<u64, StoreError>
where
    S: Stream<Item = Result<B, E>> + Unpin,
    B: AsRef<[u8]>,
{
    let mut header = Vec::new();
    let mut payload_len: Option<usize> = None;
    let mut total: u64 = 0;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|_| StoreError::Ciphertext(CiphertextError::NotAge))?;
        let chunk = chunk.as_ref();
        total += chunk.len() as u64;
        if total > limits.ciphertext_bytes {
            return Err(StoreError::TooLarge);
        }
        match payload_len {
            Some(len) => {
                payload_len = Some(len + chunk.len());
                upload.push(chunk).await.map_err(StoreError::Store)?;
            }
            None => {
                header.extend_from_slice(chunk);
                if let Some(start) = crypto::check_stream_header(&header, recipients)
                    .map_err(StoreError::Ciphertext)?
                {
                    payload_len = Some(header.len() - start);
                    let head = std::mem::take(&mut header);
                    upload.push(&head).await.map_err(StoreError::Store)?;
                }
            }
        }
    }
    let Some(payload_len) = payload_len else {
        return Err(StoreError::Ciphertext(CiphertextError::NotAge));
    };
    if !crypto::stream_payload_ok(payload_len) {
        return Err(StoreError::Ciphertext(CiphertextError::BadPayload));
    }
    // The file's own size: the payload less its nonce and one tag a chunk.
    let sealed = payload_len.saturating_sub(16);
    let plain = sealed.saturating_sub(sealed.div_ceil(65536 + 16) * 16) as u64;
    if plain > limits.file_bytes {
        return Err(StoreError::TooLarge);
    }
    Ok(plain)
}
