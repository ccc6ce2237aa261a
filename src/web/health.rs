//! Liveness and readiness, for monitoring and the service manager.
//!
//! `/livez` answers as long as the process serves requests, without
//! touching the database: whether to restart the process. `/readyz` says
//! whether a report sent now would be stored: the database answers and
//! commits a write, the data folder has room, the recipients are loaded;
//! and whether mail is stuck. Its small JSON body holds states, not the free
//! space, never a count of reports, messages or pending emails, nor any
//! case data: the address may be reachable by anyone (see the threat model).
//! `/healthz` keeps its meaning (the database answers).

use std::{
    path::PathBuf,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use actix_web::{http::header, web, HttpResponse};
use serde::Serialize;

use super::AppState;
use crate::{
    db::{self, Outbox},
    domain::Role,
};

/// What readiness looks at besides the database, and its latest answer.
#[derive(Debug, Clone)]
pub struct Readiness {
    pub data_dir: PathBuf,
    pub min_free_bytes: u64,
    /// Readiness is looked at once in [`FRESH`] at most, however often it
    /// is asked: its probe is a durable write, which a flood of requests
    /// must not turn into a queue in front of the reports.
    pub latest: Arc<Mutex<Option<(Instant, Report)>>>,
}

impl Readiness {
    pub fn new(data_dir: PathBuf, min_free_bytes: u64) -> Self {
        Readiness {
            data_dir,
            min_free_bytes,
            latest: Arc::default(),
        }
    }
}

/// How long an answer of `/readyz` is served again.
const FRESH: Duration = Duration::from_secs(5);

/// An email accepted by the relay whose rows wait longer than this to be
/// deleted counts as stuck mail (a normal send deletes them at once).
const HANDOFF_STUCK: Duration = Duration::from_secs(60);

#[derive(Debug, Serialize, PartialEq, Eq, Clone, Copy)]
#[serde(rename_all = "kebab-case")]
pub enum DatabaseState {
    /// It answers and committed the probe write.
    Ok,
    /// No connection within the pool's wait.
    Unreachable,
    /// It answers, but the probe write failed (a full disk, a read-only
    /// file system, a lost table).
    RefusesWrites,
}

#[derive(Debug, Serialize, Clone)]
pub struct Report {
    ready: bool,
    database: DatabaseState,
    /// `ok`, or `low` below `ready_min_free_mib`, or `unknown`. Not the
    /// free space itself: its changes would show uploads as they happen.
    disk: &'static str,
    /// `ok` once the Secretary's recipients are loaded.
    recipients: &'static str,
    demo_key: bool,
    bureau: bool,
    /// `ok`, or `stuck` when an email has been due for longer than
    /// `notify_stale_secs` or an accepted one has waited a minute to be
    /// recorded, or `unknown` while the database fails.
    mail: &'static str,
}

pub async fn livez() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .content_type("text/plain; charset=utf-8")
        .body("ok")
}

pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let st = state.clone();
    // One thread looks at a time; the others wait for its answer.
    let looked = crate::blocking::run(move || {
        let mut latest = st
            .readiness
            .latest
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        match &*latest {
            Some((at, report)) if at.elapsed() < FRESH => report.clone(),
            _ => {
                let report = look(&st);
                *latest = Some((Instant::now(), report.clone()));
                report
            }
        }
    })
    .await;
    let report = looked.unwrap_or(Report {
        ready: false,
        database: DatabaseState::Unreachable,
        disk: "unknown",
        recipients: "unknown",
        demo_key: state.demo,
        bureau: false,
        mail: "unknown",
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
    let database = match state.db.write(db::probe_write) {
        Ok(()) => DatabaseState::Ok,
        Err(db::DbError::Pool(_)) => DatabaseState::Unreachable,
        Err(_) => DatabaseState::RefusesWrites,
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
    let handed_off_long_ago =
        crate::notify::HandOffs::new(state.readiness.data_dir.join(crate::notify::HANDOFF_FOLDER))
            .map(|h| h.waiting_longer_than(HANDOFF_STUCK))
            .unwrap_or(false);
    Report {
        ready: database == DatabaseState::Ok && disk != "low" && recipients == "ok",
        database,
        disk,
        recipients,
        demo_key: state.demo,
        bureau: !state.readers.bureau.is_empty(),
        mail: if handed_off_long_ago { "stuck" } else { mail },
    }
}

/// Space an unprivileged writer may still use in `dir`.
fn free_bytes(dir: &std::path::Path) -> Option<u64> {
    let stat = rustix::fs::statvfs(dir).ok()?;
    Some(stat.f_bavail.saturating_mul(stat.f_frsize))
}
