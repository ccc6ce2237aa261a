//! Builds the actix application from settings, binds, and runs.

use std::{net::TcpListener, path::Path, sync::Arc, time::Duration};

use actix_web::{dev::Server, middleware, web, App, HttpServer};
use anyhow::Context;

use crate::{
    config::Settings,
    crypto::{self, Recipients},
    db,
    domain::{Categories, Clock, SystemClock},
    i18n::I18n,
    notify::{self, Notifier},
    telemetry,
    web::{
        body::{self, BodyDeadline},
        routes, security_headers, AppState, Assets, Limits,
    },
};

/// The file name of the demo Secretary identity under the data folder.
pub const DEMO_IDENTITY_FILE: &str = "demo-secretary.key";

/// Recipients from the recipients file, or, when it lists none, a demo
/// identity kept under the data folder (created on first use).
pub fn recipients_or_demo(settings: &Settings) -> anyhow::Result<(Recipients, bool)> {
    let recipients = crypto::load_recipients(&settings.recipients_file)?;
    crate::private_fs::create_dir(&settings.data_dir)
        .with_context(|| format!("cannot create {}", settings.data_dir.display()))?;
    if !recipients.is_empty() {
        return Ok((recipients, false));
    }
    let path = settings.data_dir.join(DEMO_IDENTITY_FILE);
    if !path.exists() {
        let identity = crypto::generate_identity();
        crypto::write_identity_file(&path, &identity, None)
            .with_context(|| format!("cannot write the demo identity {}", path.display()))?;
    }
    let identities = crypto::read_identity_file(&path, || None)
        .with_context(|| format!("cannot read the demo identity {}", path.display()))?;
    let list = identities.iter().map(|i| i.to_public()).collect();
    announce_demo(&path);
    Ok((Recipients::new(list), true))
}

fn announce_demo(path: &Path) {
    let line = "!".repeat(72);
    let message = format!(
        "\n{line}\n  DEMO KEY / CLÉ DE DÉMONSTRATION\n  {} lists no recipient, so Vigie uses the demo identity\n  {}. Anyone who can read that file can read every report.\n  Do not use this installation for real reports: make a real key with\n  `vigie keygen --out secretary.key.age --passphrase` and put its\n  recipient in the recipients file.\n{line}\n",
        "The recipients file",
        path.display()
    );
    eprintln!("{message}");
    tracing::warn!("running with a DEMO Secretary key: not for real reports");
}

pub struct Application {
    port: u16,
    server: Server,
}

impl Application {
    pub fn build(settings: &Settings) -> anyhow::Result<Self> {
        Self::build_with_clock(settings, Arc::new(SystemClock))
    }

    pub fn build_with_clock(settings: &Settings, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        telemetry::init(&settings.log);
        let (recipients, demo) = recipients_or_demo(settings)?;
        let bureau = crypto::load_recipients(&settings.bureau_recipients_file)?;
        let readers = crypto::Readers::new(recipients, bureau)?;
        settings.check_bureau_mail(readers.has_bureau())?;
        let database = settings.database()?;
        tracing::info!(database = %database.describe(), recipients = readers.secretary.len(), bureau = readers.bureau.len(), "starting");
        let db = db::connect(&database, settings.database_pool_size)
            .with_context(|| format!("cannot open the database ({})", database.describe()))?;
        let notifier =
            Arc::new(Notifier::from_settings(settings).context("cannot set up notifications")?);
        if let Some(dir) = notifier.mail_folder() {
            let line = format!(
                "No SMTP relay configured: notification emails are written as .eml files under {}",
                dir.display()
            );
            eprintln!("{line}");
            tracing::info!("{line}");
        }
        let every = Duration::from_millis(settings.notify_poll_millis);
        notify::spawn_worker(db.clone(), notifier, clock.clone(), every);
        crate::jobs::spawn(db.clone(), clock.clone(), every, settings.retention_days);
        let state = web::Data::new(AppState {
            db,
            i18n: I18n::load()?,
            readers,
            categories: Categories::new(settings.categories.clone()),
            clock,
            limits: Limits {
                body_bytes: settings.max_body_bytes,
                description_chars: settings.max_description_chars,
                field_chars: settings.max_field_chars,
                ciphertext_bytes: settings.max_ciphertext_bytes,
                attachment_bytes: settings.max_attachment_bytes,
                attachments_total_bytes: settings.max_attachments_total_bytes,
                attachment_pending_secs: i64::try_from(settings.attachment_pending_secs)
                    .unwrap_or(i64::MAX),
            },
            demo,
            assets: Assets::new(),
            content: crate::web::Content::load(&settings.content_dir),
            lookup_failures: Default::default(),
            case_lookups: Default::default(),
            case_messages: Default::default(),
            notify_max_delay: settings.notify_max_delay_secs,
            notify_stale_secs: i64::try_from(settings.notify_stale_secs).unwrap_or(i64::MAX),
            retention_days: settings.retention_days,
            publication: crate::web::Publication::from_settings(settings),
            readiness: crate::web::health::Readiness::new(
                settings.data_dir.clone(),
                settings.ready_min_free_mib.saturating_mul(1024 * 1024),
            ),
        });
        let listener = TcpListener::bind(settings.listen_addr()?)
            .with_context(|| format!("cannot listen on {}", settings.listen))?;
        let port = listener.local_addr()?.port();
        let hsts = settings.hsts;
        let stats = web::Data::new(telemetry::AccessStats::default());
        telemetry::spawn_access_summary(
            stats.clone().into_inner(),
            Duration::from_secs(settings.access_log_interval_secs),
        );
        let deadline = web::Data::new(BodyDeadline {
            idle: Duration::from_secs(settings.body_idle_timeout_secs),
            min_bytes_per_sec: settings.body_min_bytes_per_sec,
            total: Duration::from_secs(settings.body_timeout_secs),
        });
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .app_data(stats.clone())
                .app_data(deadline.clone())
                .wrap(middleware::from_fn(body::deadline))
                .wrap(middleware::from_fn(telemetry::access_log))
                .wrap(security_headers(hsts))
                .configure(routes)
        })
        // The head of a request must arrive within its time-out; a client
        // that stops reading its answer is dropped after two seconds; an
        // idle kept-alive connection is closed after the body idle time-out.
        .client_request_timeout(Duration::from_secs(settings.request_head_timeout_secs))
        .client_disconnect_timeout(Duration::from_secs(2))
        .keep_alive(Duration::from_secs(settings.body_idle_timeout_secs))
        .listen(listener)?
        .run();
        tracing::info!(port, "listening");
        Ok(Application { port, server })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// What stops the server from another task or thread.
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}
