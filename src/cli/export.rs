//! `vigie export`: every case (or one) as a folder of stock age files plus
//! `metadata.json`, all readable by their owner only.

use std::{io::Write, path::Path};

use anyhow::{bail, Context};

use super::{
    files,
    format::{
        attachment_file, EntryFile, ExportedAttachment, ExportedCase, ExportedEntry, METADATA,
    },
    text::printable_line,
};
use crate::{
    config::Settings,
    db::{self, Attachment, Case, Journal, JournalAction},
    domain::{CaseId, Role},
    i18n::{I18n, Lang},
};

pub(super) fn export(
    i18n: &I18n,
    lang: Lang,
    config: Option<&Path>,
    out: &Path,
    only: Option<&str>,
    readership: Option<&str>,
) -> anyhow::Result<i32> {
    let role = match readership {
        None => None,
        Some(name) => Some(Role::parse(name).ok_or_else(|| {
            anyhow::anyhow!(i18n.get_with(
                lang,
                "cli-export-bad-readership",
                &[("value", printable_line(name))]
            ))
        })?),
    };
    let shown = |p: &Path| printable_line(&p.display().to_string());
    let no_such_case =
        |id: &str| i18n.get_with(lang, "cli-no-such-case", &[("id", printable_line(id))]);
    let only = match only {
        Some(id) => Some(CaseId::parse(id).ok_or_else(|| anyhow::anyhow!(no_such_case(id)))?),
        None => None,
    };
    let settings = Settings::load(config)?;
    let database = settings.database()?;
    let database = db::connect(&database, 2)?;
    let mut conn = database.conn()?;
    let cases = match only {
        Some(id) => match Case::find(&mut conn, &id)? {
            Some(case) => vec![case],
            None => bail!(no_such_case(id.as_str())),
        },
        None => Case::all(&mut conn)?,
    };
    let cases: Vec<Case> = cases
        .into_iter()
        .filter(|c| role.is_none_or(|r| c.readership.read_by(r)))
        .collect();
    // The database decides the names of what is written: check them all
    // before writing anything. (Identifiers are checked as they are read:
    // a stored one that is not a canonical random UUID fails the query.)
    for case in &cases {
        let bad = |value: &str| {
            i18n.get_with(
                lang,
                "cli-export-bad-row",
                &[
                    ("id", case.id.to_string()),
                    ("value", printable_line(value)),
                ],
            )
        };
        for entry in case.entries(&mut conn)? {
            if EntryFile::new(i64::from(entry.position), entry.kind.as_str()).is_err() {
                bail!(bad(entry.kind.as_str()));
            }
        }
    }
    let refused = |e: files::FileError| {
        let (key, args) = super::decrypt::file_error_message(&e);
        anyhow::anyhow!(i18n.get_with(lang, key, &args))
    };
    files::top_folder(out).map_err(refused)?;
    for case in &cases {
        let row = case;
        let dir = out.join(row.id.as_str());
        files::private_folder(&dir).map_err(refused)?;
        let mut entries = Vec::new();
        for entry in case.entries(&mut conn)? {
            let file = EntryFile::new(i64::from(entry.position), entry.kind.as_str())
                .with_context(|| printable_line(entry.kind.as_str()))?
                .to_string();
            files::replace_private(&dir, &file, |f| Ok(f.write_all(&entry.ciphertext)?))?;
            entries.push(ExportedEntry {
                file,
                kind: entry.kind.as_str().to_string(),
                created_on: entry.created_on,
            });
        }
        let mut attachments = Vec::new();
        for (id, size) in Attachment::of_case(&mut conn, &row.id)? {
            let file = attachment_file(&id);
            files::replace_private(&dir, &file, |f| {
                for seq in 0..Attachment::chunk_count(&mut conn, &id)? {
                    let seq = i32::try_from(seq)?;
                    let chunk = Attachment::chunk(&mut conn, &id, seq)?.unwrap_or_default();
                    f.write_all(&chunk)?;
                }
                Ok(())
            })?;
            attachments.push(ExportedAttachment {
                id: id.to_string(),
                file,
                size,
            });
        }
        let meta = ExportedCase {
            id: row.id.to_string(),
            status: row.status.as_str().to_string(),
            closure_reason: row.closure_reason.map(|r| r.as_str().to_string()),
            received_on: row.received_on,
            ack_due: row.ack_due,
            acknowledged_on: row.acknowledged_on,
            feedback_due: row.feedback_due,
            closed_on: row.closed_on,
            on_hold: row.on_hold,
            reporter_recipient: row.reporter_recipient.clone(),
            readership: Some(row.readership.as_str().to_string()),
            entries,
            attachments,
        };
        let json = serde_json::to_vec_pretty(&meta)?;
        files::replace_private(&dir, METADATA, |f| Ok(f.write_all(&json)?))?;
        let now = chrono::Utc::now().timestamp();
        database.write(|conn| {
            Journal::record(
                conn,
                Some((&row.id, row.readership)),
                JournalAction::Exported,
                None,
                None,
                now,
            )
        })?;
    }
    println!(
        "{}",
        i18n.get_with(
            lang,
            "cli-exported",
            &[("count", cases.len().to_string()), ("dir", shown(out))]
        )
    );
    Ok(0)
}
