//! `vigie check`: validates the configuration, the keys, the data folder,
//! the database and the mail relay, one line a check.

use std::{fs, path::Path};

use crate::{
    config::Settings,
    crypto, db,
    i18n::{I18n, Lang},
};

/// The fields still to complete in the published texts, as served with
/// these settings: each page (`fr/privacy`…) and the setting it needs.
fn missing_fields(settings: &Settings, i18n: &I18n) -> Vec<(String, String)> {
    let content = crate::web::Content::load(&settings.content_dir);
    let publication = crate::web::Publication::from_settings(settings);
    let retention = settings
        .retention_days
        .max(crate::domain::RETENTION_FLOOR_DAYS);
    let mut out = Vec::new();
    for lang in Lang::ALL {
        for page in crate::web::PAGES {
            let Some(html) = content.get(lang, page) else {
                continue;
            };
            let filled = publication.fill(html, lang, i18n, retention);
            for marker in crate::web::MARKERS {
                for (at, _) in filled.match_indices(marker) {
                    let rest = &filled[at + marker.len()..];
                    let key = rest
                        .split(']')
                        .next()
                        .unwrap_or_default()
                        .trim_start_matches([' ', ':'])
                        .trim();
                    out.push((format!("{}/{page}", lang.code()), key.to_string()));
                }
            }
        }
    }
    out
}

/// `vigie check`: prints one line a check, returns the exit code.
pub(super) fn check(i18n: &I18n, lang: Lang, config: Option<&Path>) -> i32 {
    let ok = i18n.get(lang, "cli-check-ok");
    let bad = i18n.get(lang, "cli-check-problem");
    let mut problems = 0usize;
    let mut report = |passed: bool, line: String| {
        if passed {
            println!("{ok:>9}  {line}");
        } else {
            problems += 1;
            println!("{bad:>9}  {line}");
        }
    };
    let attention = i18n.get(lang, "cli-check-warning");
    // A warning: printed, never a failure.
    let warn = |line: String| println!("{attention:>9}  {line}");
    let settings = match Settings::load(config) {
        Ok(s) => {
            report(true, i18n.get(lang, "cli-check-config"));
            s
        }
        Err(e) => {
            report(false, e.to_string());
            println!(
                "{}",
                i18n.get_with(lang, "cli-check-failed", &[("count", "1".into())])
            );
            return 1;
        }
    };
    let file = settings.recipients_file.display().to_string();
    let secretary = crypto::load_recipients(&settings.recipients_file);
    // Without a Secretary recipient this is a demo installation.
    let demo = secretary.as_ref().map_or(true, |r| r.is_empty());
    match &secretary {
        Ok(r) if r.is_empty() => report(
            false,
            i18n.get_with(lang, "cli-check-no-recipient", &[("file", file)]),
        ),
        Ok(r) => {
            report(
                true,
                i18n.get_with(
                    lang,
                    "cli-check-recipients",
                    &[("count", r.len().to_string()), ("file", file)],
                ),
            );
            if r.len() == 1 {
                warn(i18n.get_with(
                    lang,
                    "cli-check-single-key",
                    &[("role", "secretary".into())],
                ));
            }
        }
        Err(e) => report(false, e.to_string()),
    }
    // The Bureau's keys: optional, but never shared with the Secretary, and
    // its notifications need addresses of their own.
    let bureau_file = settings.bureau_recipients_file.display().to_string();
    match crypto::load_recipients(&settings.bureau_recipients_file) {
        Ok(b) if b.is_empty() => report(
            true,
            i18n.get_with(lang, "cli-check-no-bureau", &[("file", bureau_file)]),
        ),
        Ok(b) => {
            let count = b.len();
            if count == 1 {
                warn(i18n.get_with(lang, "cli-check-single-key", &[("role", "bureau".into())]));
            }
            match crypto::Readers::new(secretary.unwrap_or_default(), b) {
                Ok(_) => report(
                    true,
                    i18n.get_with(
                        lang,
                        "cli-check-bureau",
                        &[("count", count.to_string()), ("file", bureau_file)],
                    ),
                ),
                Err(shared) => report(
                    false,
                    i18n.get_with(lang, "cli-check-shared-key", &[("key", shared.fingerprint)]),
                ),
            }
            if settings.check_bureau_mail(true).is_err() {
                report(false, i18n.get(lang, "cli-check-bureau-mail-to"));
            }
        }
        Err(e) => report(false, e.to_string()),
    }
    // The published texts: every field the secretariat must supply is
    // filled in, outside demo mode.
    let missing = missing_fields(&settings, i18n);
    if missing.is_empty() {
        report(true, i18n.get(lang, "cli-check-texts"));
    } else {
        for (page, key) in missing {
            let line = i18n.get_with(
                lang,
                "cli-check-text-field",
                &[("page", page), ("key", key)],
            );
            // In demo mode the texts may stay unfinished: said, not failed.
            report(demo, line);
        }
    }
    let dir = &settings.data_dir;
    let probe = dir.join(".vigie-check");
    let writable = fs::create_dir_all(dir).is_ok()
        && fs::write(&probe, b"").is_ok()
        && fs::remove_file(&probe).is_ok();
    report(
        writable,
        i18n.get_with(
            lang,
            "cli-check-data-dir",
            &[("dir", dir.display().to_string())],
        ),
    );
    match settings.database() {
        Ok(database) => {
            let checked = db::connect_without_migrations(&database).and_then(|pool| {
                let mut conn = pool.get()?;
                db::ping(&mut conn)?;
                db::pending_migrations(&mut conn)
            });
            match checked {
                Ok(pending) => {
                    report(
                        true,
                        i18n.get_with(lang, "cli-check-database", &[("db", database.describe())]),
                    );
                    if pending > 0 {
                        println!(
                            "{:>9}  {}",
                            "",
                            i18n.get_with(
                                lang,
                                "cli-check-pending",
                                &[("count", pending.to_string())]
                            )
                        );
                    }
                }
                Err(e) => report(false, format!("{} — {e}", database.describe())),
            }
        }
        Err(e) => report(false, e.to_string()),
    }
    match crate::notify::Notifier::from_settings(&settings) {
        Ok(notifier) => match notifier.mail_folder() {
            Some(dir) => report(
                true,
                i18n.get_with(
                    lang,
                    "cli-check-mail-files",
                    &[("dir", dir.display().to_string())],
                ),
            ),
            None => {
                let port = match settings.mail() {
                    Ok(crate::config::MailSetting::Smtp { port, .. }) => port,
                    _ => 0,
                };
                let relay = format!(
                    "{}:{port} ({})",
                    settings.smtp_host.clone().unwrap_or_default(),
                    settings.smtp_security
                );
                match notifier.test_connection() {
                    Ok(()) => report(
                        true,
                        i18n.get_with(lang, "cli-check-mail-relay", &[("relay", relay)]),
                    ),
                    Err(e) => report(
                        false,
                        format!("{relay}: {}", i18n.get(lang, &e.message_key())),
                    ),
                }
            }
        },
        Err(e) => report(false, e.to_string()),
    }
    if let Ok(database) = settings.database() {
        let backlogs = db::connect_without_migrations(&database).and_then(|pool| {
            let mut conn = pool.get()?;
            let now = chrono::Utc::now().timestamp();
            let stale = i64::try_from(settings.notify_stale_secs).unwrap_or(i64::MAX);
            let mut all = Vec::new();
            for role in crate::domain::Role::ALL {
                all.push(crate::db::Outbox::backlog(&mut conn, role, now, stale)?);
            }
            Ok(all)
        });
        for backlog in backlogs.into_iter().flatten() {
            if backlog.stale > 0 {
                let reason = crate::notify::describe_backlog(i18n, lang, &backlog);
                report(
                    false,
                    i18n.get_with(
                        lang,
                        "cli-check-mail-backlog",
                        &[("count", backlog.stale.to_string()), ("reason", reason)],
                    ),
                );
            }
        }
    }
    if problems > 0 {
        println!(
            "{}",
            i18n.get_with(lang, "cli-check-failed", &[("count", problems.to_string())])
        );
        1
    } else {
        println!("{}", i18n.get(lang, "cli-check-passed"));
        0
    }
}
