//! Liveness and readiness, for monitoring and the service manager.
//!
//! `/livez` answers as long as the process serves requests, without
//! touching the database: whether to restart the process. `/readyz` says
//! whether a report sent now would be stored: the database answers and
//! commits a write, the data folder has room, the recipients are loaded;
//! and whether mail is stuck. Its small JSON body holds states and the free
//! space, never a count of reports, messages or pending emails, nor any
//! case data: the address may be reachable by anyone (see the threat model).
//! `/healthz` keeps its meaning (the database answers).

use std::path::PathBuf;

use actix_web::{http::header, web, HttpResponse};
use serde::Serialize;

use super::AppState;
use crate::{
    db::{self, Outbox},
    domain::Role,
};

/// What readiness looks at besides the database.
#[derive(Debug, Clone)]
pub struct Readiness {
    pub data_dir: PathBuf,
    pub min_free_bytes: u64,
}

#[derive(Debug, Serialize, PartialEq, Eq, Clone, Copy)]
#[serde(rename_all = "kebab-case")]
enum DatabaseState {
    /// It answers and committed the probe write.
    Ok,
    /// No connection within the pool's wait.
    Unreachable,
    /// It answers, but the probe write failed (a full disk, a read-only
    /// file system, a lost table).
    RefusesWrites,
}

#[derive(Debug, Serialize)]
struct Report {
    ready: bool,
    database: DatabaseState,
    /// `ok`, or `low` below `ready_min_free_mib`, or `unknown`.
    disk: &'static str,
    /// Free space in the data folder, in MiB, when it can be read.
    free_mib: Option<u64>,
    /// `ok` once the Secretary's recipients are loaded.
    recipients: &'static str,
    demo_key: bool,
    bureau: bool,
    /// `ok`, or `stuck` when an email has been due for longer than
    /// `notify_stale_secs`, or `unknown` while the database fails.
    mail: &'static str,
    /// An email the relay accepted waits to be recorded as sent.
    mail_awaiting_record: bool,
}

pub async fn livez() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .content_type("text/plain; charset=utf-8")
        .body("ok")
}

pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let st = state.clone();
    let looked = crate::blocking::run(move || look(&st)).await;
    let report = looked.unwrap_or(Report {
        ready: false,
        database: DatabaseState::Unreachable,
        disk: "unknown",
        free_mib: None,
        recipients: "unknown",
        demo_key: state.demo,
        bureau: false,
        mail: "unknown",
        mail_awaiting_record: false,
    });
    let mut builder = if report.ready {
        HttpResponse::Ok()
    } else {
        HttpResponse::ServiceUnavailable()
    };
    builder
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(report)
}

fn look(state: &AppState) -> Report {
    let database = match state.db.conn() {
        Err(_) => DatabaseState::Unreachable,
        Ok(conn) => {
            drop(conn);
            match state.db.write(db::probe_write) {
                Ok(()) => DatabaseState::Ok,
                Err(_) => DatabaseState::RefusesWrites,
            }
        }
    };
    let free = free_bytes(&state.readiness.data_dir);
    let disk = match free {
        Some(n) if n >= state.readiness.min_free_bytes => "ok",
        Some(_) => "low",
        None => "unknown",
    };
    let recipients = if state.readers.secretary.is_empty() {
        "missing"
    } else {
        "ok"
    };
    let mail = if database == DatabaseState::Unreachable {
        "unknown"
    } else {
        let now = state.clock.now();
        let stuck = state.db.conn().ok().and_then(|mut conn| {
            let mut stuck = false;
            for role in Role::ALL {
                stuck |= Outbox::backlog(&mut conn, role, now, state.notify_stale_secs)
                    .ok()?
                    .stale
                    > 0;
            }
            Some(stuck)
        });
        match stuck {
            Some(true) => "stuck",
            Some(false) => "ok",
            None => "unknown",
        }
    };
    let awaiting =
        crate::notify::HandOffs::new(state.readiness.data_dir.join(crate::notify::HANDOFF_FOLDER))
            .map(|h| h.count() > 0)
            .unwrap_or(false);
    Report {
        ready: database == DatabaseState::Ok && disk != "low" && recipients == "ok",
        database,
        disk,
        free_mib: free.map(|n| n / (1024 * 1024)),
        recipients,
        demo_key: state.demo,
        bureau: !state.readers.bureau.is_empty(),
        mail,
        mail_awaiting_record: awaiting,
    }
}

/// Space an unprivileged writer may still use in `dir`.
fn free_bytes(dir: &std::path::Path) -> Option<u64> {
    let stat = rustix::fs::statvfs(dir).ok()?;
    Some(stat.f_bavail.saturating_mul(stat.f_frsize))
}
