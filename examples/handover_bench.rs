//! A key handover of 10,000 cases, some with large attachments: how long
//! re-sealing every file takes, and the process's peak memory.
//!
//! Fills a fresh SQLite database (or the PostgreSQL database named by
//! VIGIE_DATABASE_URL, with `--features postgres`) with N cases, each a
//! report and a message sealed to the old key and its reporter's `R`, and F
//! of them with an attachment of M MiB sealed as the server seals them. Then
//! hands every case over to a new key by the code paths of `vigie rekey`
//! (`crypto::rewrap_header`, a new header from the old identity) and `vigie
//! import-rekeyed` (`service::handover::import_case`, one transaction a
//! case), and checks one file with the new key. Prints the time and the
//! peak resident memory; run it with a larger M to see that the memory does
//! not grow with the attachments (only headers and one 1 MiB chunk a file
//! are ever read).
//!
//!     cargo run --release --example handover_bench -- [N] [F] [M]
//!
//! Defaults: N = 10000, F = 10, M = 16.

#[path = "common/mod.rs"]
mod common;
use common::peak_rss_mb;

use std::time::Instant;

use futures_util::stream;
use vigie::{
    crypto::{self, Locator, Readers, Recipients, ReporterRecipient},
    db::{self, Attachment, Case, EntryKind, NewCase, NewEntry},
    domain::{deadlines, CaseId, Readership, Role},
    service::{
        handover::{self, CaseHeaders},
        reseal,
        upload::{self, FileLimits},
    },
};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let arg = |n: usize, default: usize| {
        std::env::args()
            .nth(n)
            .and_then(|a| a.parse().ok())
            .unwrap_or(default)
    };
    let (total, with_files, mib) = (arg(1, 10_000), arg(2, 10), arg(3, 16));
    let dir = tempfile::tempdir()?;
    let (mut settings, old) = common::settings(dir.path())?;
    settings.database_url = std::env::var("VIGIE_DATABASE_URL").ok().map(Into::into);
    let database = db::connect(&settings.database()?, 4)?;
    let old_readers = Recipients::new(vec![old.to_public()]);
    let reporter_key = crypto::generate_identity();
    let reporter = ReporterRecipient::parse(&reporter_key.to_public().to_string())
        .map_err(|e| anyhow::anyhow!("{e}"))?;

    let started = Instant::now();
    let today = chrono::Utc::now().date_naive();
    let padded = crypto::pad(zeroize::Zeroizing::new(
        br#"{"v":1,"type":"report","lang":"fr","category":"funds","description":"bench"}"#.to_vec(),
    ));
    let sealed = crypto::seal_for_case(&old_readers, &reporter, &padded)?;
    let mut ids = Vec::with_capacity(total);
    let mut n = 0usize;
    while n < total {
        let mut cases = Vec::new();
        let mut entries = Vec::new();
        for i in n..(n + 1000).min(total) {
            let lookup: [u8; 32] = crypto::sha256(&i.to_le_bytes());
            let case = NewCase::received(
                &Locator::from_lookup(&lookup),
                reporter.to_string(),
                Readership::Secretary,
                today,
                deadlines(today, None),
            );
            // Every file its own header (a fresh seal would cost the same).
            entries.push(NewEntry::report(&case, sealed.as_bytes().to_vec()));
            let mut message = NewEntry::later(
                &case.id,
                EntryKind::Message,
                today,
                sealed.as_bytes().to_vec(),
            );
            message.position = 2;
            entries.push(message);
            ids.push(case.id.clone());
            cases.push(case);
        }
        n += cases.len();
        database.write(|conn| Case::insert_batch(conn, &cases, &entries))?;
    }
    for case_id in ids.iter().take(with_files) {
        let limits = FileLimits {
            file_bytes: u64::MAX,
            total_bytes: u64::MAX,
            pending_until: i64::MAX,
            readership: Readership::Secretary,
        };
        let chunk = vec![7u8; 64 * 1024];
        let mut file =
            stream::iter((0..mib * 16).map(|_| Ok::<_, std::convert::Infallible>(chunk.clone())));
        let mut seen = 0;
        let stored = upload::seal_stream(
            &database,
            &old_readers,
            &reporter,
            limits,
            &mut file,
            &mut seen,
            false,
        )
        .await?;
        let id = case_id.clone();
        database.write(move |conn| {
            Attachment::claim(conn, &[stored.id], &id, Readership::Secretary, 0, i64::MAX).map_err(
                |e| match e {
                    db::ClaimErrorOr::Query(q) => q,
                    db::ClaimErrorOr::Claim(_) => diesel::result::Error::RollbackTransaction,
                },
            )
        })?;
    }
    println!(
        "cases stored        : {total} ({with_files} with a {mib} MiB file) in {:.1} s, peak memory {:.0} MB",
        started.elapsed().as_secs_f64(),
        peak_rss_mb()
    );

    // The handover: new headers from the old identity, swapped case by case.
    let new = crypto::generate_identity();
    let readers = Readers::new(
        Recipients::new(vec![new.to_public()]),
        Recipients::default(),
    )?;
    let to = [new.to_public(), reporter.recipient().clone()];
    let identities = [old.clone()];
    let started = Instant::now();
    let mut files = 0usize;
    for case_id in &ids {
        let (entries, attachments) =
            database.write(|conn| Ok(reseal::headers(conn, Role::Secretary, case_id)))??;
        let mut headers = CaseHeaders {
            readership: Some(Readership::Secretary),
            ..CaseHeaders::default()
        };
        for (position, header) in entries {
            headers
                .entries
                .push((position, crypto::rewrap_header(&header, &identities, &to)?));
        }
        for (id, header) in attachments {
            headers
                .attachments
                .push((id, crypto::rewrap_header(&header, &identities, &to)?));
        }
        files += headers.entries.len() + headers.attachments.len();
        let id: CaseId = case_id.clone();
        database.write(|conn| {
            handover::import_case(conn, &readers, &id, &headers).map_err(|e| match e {
                handover::HandoverError::Query(q) => q,
                _ => diesel::result::Error::RollbackTransaction,
            })
        })?;
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "handover            : {total} cases, {files} files in {seconds:.1} s ({:.2} ms a case)",
        seconds * 1000.0 / total as f64
    );
    println!("peak memory         : {:.0} MB", peak_rss_mb());

    // One file, opened with the new key and refused to the old one.
    let mut conn = database.conn()?;
    let case = Case::find(&mut conn, &ids[0])?.ok_or_else(|| anyhow::anyhow!("no case"))?;
    let entry = case.entries(&mut conn)?.remove(0);
    anyhow::ensure!(crypto::decrypt(std::slice::from_ref(&new), &entry.ciphertext).is_ok());
    anyhow::ensure!(crypto::decrypt(&identities, &entry.ciphertext).is_err());
    println!("check               : the new key opens, the old key does not");
    Ok(())
}
