//! `vigie purge`: deletes closed cases past their retention period (not
//! those on hold), or only lists them with `--dry-run`.

use std::path::Path;

use crate::{
    config::Settings,
    db,
    i18n::{I18n, Lang},
};

pub(super) fn purge(
    i18n: &I18n,
    lang: Lang,
    config: Option<&Path>,
    dry_run: bool,
) -> anyhow::Result<i32> {
    let settings = Settings::load(config)?;
    let database = db::connect(&settings.database()?, 2)?;
    let today = chrono::Utc::now().date_naive();
    let now = chrono::Utc::now().timestamp();
    let due = db::Retention::due(&mut *database.conn()?, today, settings.retention_days)?;
    for row in &due {
        let closed = row
            .closed_on
            .map(|d| i18n.date(lang, d))
            .unwrap_or_default();
        println!(
            "{}",
            i18n.get_with(
                lang,
                "cli-purge-line",
                &[("id", row.id.to_string()), ("closed", closed)]
            )
        );
    }
    if dry_run {
        println!(
            "{}",
            i18n.get_with(lang, "cli-purge-would", &[("count", due.len().to_string())])
        );
        return Ok(0);
    }
    let purged =
        database.write(|conn| db::Retention::purge(conn, today, settings.retention_days, now))?;
    println!(
        "{}",
        i18n.get_with(lang, "cli-purge-done", &[("count", purged.to_string())])
    );
    Ok(0)
}
