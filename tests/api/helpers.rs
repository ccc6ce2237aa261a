use std::{
    path::{Path, PathBuf},
    sync::Arc,
};

use chrono::NaiveDate;
use tempfile::TempDir;
use vigie::{
    config::Settings,
    crypto,
    db::{self, Db},
    domain::ManualClock,
    startup::Application,
};

/// The day every test app believes it is.
pub fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 30).unwrap_or_default()
}

/// A fresh database for one test.
pub enum TestDb {
    Sqlite(PathBuf),
    #[cfg(feature = "postgres")]
    Postgres {
        admin_url: String,
        name: String,
        url: String,
    },
}

impl TestDb {
    /// SQLite in the test's folder, unless VIGIE_TEST_DATABASE_URL names a
    /// PostgreSQL server: then a new database on it.
    pub fn fresh(dir: &Path) -> TestDb {
        let server = std::env::var("VIGIE_TEST_DATABASE_URL").unwrap_or_default();
        if server.starts_with("postgres") {
            #[cfg(feature = "postgres")]
            return TestDb::create_postgres(&server);
            #[cfg(not(feature = "postgres"))]
            panic!("VIGIE_TEST_DATABASE_URL is a PostgreSQL URL but the tests were built without --features postgres");
        }
        TestDb::Sqlite(dir.join("vigie.sqlite3"))
    }

    #[cfg(feature = "postgres")]
    fn create_postgres(admin_url: &str) -> TestDb {
        use diesel::{connection::SimpleConnection, Connection};
        let name = format!("vigie_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = diesel::PgConnection::establish(admin_url)
            .unwrap_or_else(|e| panic!("cannot reach the test PostgreSQL server: {e}"));
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap_or_else(|e| panic!("cannot create a test database: {e}"));
        let (path, query) = admin_url.split_once('?').unwrap_or((admin_url, ""));
        let (base, _) = path.rsplit_once('/').unwrap_or((path, ""));
        let url = if query.is_empty() {
            format!("{base}/{name}")
        } else {
            format!("{base}/{name}?{query}")
        };
        TestDb::Postgres {
            admin_url: admin_url.to_string(),
            name,
            url,
        }
    }

    pub fn url(&self) -> String {
        match self {
            TestDb::Sqlite(path) => format!("sqlite://{}", path.display()),
            #[cfg(feature = "postgres")]
            TestDb::Postgres { url, .. } => url.clone(),
        }
    }

    pub fn sqlite_path(&self) -> Option<&Path> {
        match self {
            TestDb::Sqlite(path) => Some(path),
            #[cfg(feature = "postgres")]
            TestDb::Postgres { .. } => None,
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        #[cfg(feature = "postgres")]
        if let TestDb::Postgres {
            admin_url, name, ..
        } = self
        {
            use diesel::{connection::SimpleConnection, Connection};
            if let Ok(mut admin) = diesel::PgConnection::establish(admin_url) {
                let _ =
                    admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
            }
        }
    }
}

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub settings: Settings,
    pub identity_path: PathBuf,
    pub identities: Vec<age::x25519::Identity>,
    pub recipients: Vec<age::x25519::Recipient>,
    pub pool: Db,
    pub db: TestDb,
    pub clock: Arc<ManualClock>,
    pub dir: TempDir,
}

/// Settings for a test app in `dir`, with two Secretary recipients (the
/// Secretary's key and a sealed backup key), the first one's identity on disk.
pub fn test_settings(dir: &Path, db: &TestDb) -> (Settings, PathBuf, Vec<age::x25519::Identity>) {
    let identity = crypto::generate_identity();
    let backup = crypto::generate_identity();
    let identity_path = dir.join("secretary.key");
    crypto::write_identity_file(&identity_path, &identity, None).unwrap_or_else(|e| panic!("{e}"));
    let recipients_file = dir.join("recipients.txt");
    std::fs::write(
        &recipients_file,
        format!(
            "# test Secretary\n{}\n# sealed backup\n{}\n",
            identity.to_public(),
            backup.to_public()
        ),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let settings = Settings {
        listen: "127.0.0.1:0".into(),
        data_dir: dir.join("data"),
        recipients_file,
        database_url: Some(db.url().into()),
        database_pool_size: 4,
        log: "warn".into(),
        ..Default::default()
    };
    (settings, identity_path, vec![identity, backup])
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(change: impl FnOnce(&mut Settings)) -> TestApp {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let db = TestDb::fresh(dir.path());
    let (mut settings, identity_path, identities) = test_settings(dir.path(), &db);
    change(&mut settings);
    let clock = Arc::new(ManualClock::at(
        today()
            .and_hms_opt(9, 0, 0)
            .map(|t| t.and_utc().timestamp())
            .unwrap_or_default(),
    ));
    let app = Application::build_with_clock(&settings, clock.clone())
        .unwrap_or_else(|e| panic!("the app did not start: {e:#}"));
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    let database = settings.database().unwrap_or_else(|e| panic!("{e}"));
    let pool = db::connect(&database, 2).unwrap_or_else(|e| panic!("{e}"));
    let recipients = identities.iter().map(|i| i.to_public()).collect();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    TestApp {
        address,
        client,
        settings,
        identity_path,
        identities,
        recipients,
        pool,
        db,
        clock,
        dir,
    }
}

/// A form a reporter would send, as `application/x-www-form-urlencoded`.
pub fn encode_form(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

impl TestApp {
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{}", self.address, path))
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }

    /// Posts a form; a report form confirms the privacy notice unless the
    /// test says otherwise by naming `privacy_ack` itself.
    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let mut fields = fields.to_vec();
        if path.ends_with("/report") && !fields.iter().any(|(k, _)| *k == "privacy_ack") {
            fields.push(("privacy_ack", "yes"));
        }
        self.post_raw(
            path,
            "application/x-www-form-urlencoded",
            encode_form(&fields).into_bytes(),
        )
        .await
    }

    pub async fn post_raw(
        &self,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> reqwest::Response {
        self.client
            .post(format!("{}{}", self.address, path))
            .header("Content-Type", content_type)
            .body(body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {path}: {e}"))
    }

    /// Submits a report through the no-JavaScript form; returns the receipt page.
    pub async fn submit_report(&self, lang: &str, fields: &[(&str, &str)]) -> String {
        let res = self.post_form(&format!("/{lang}/report"), fields).await;
        assert_eq!(res.status().as_u16(), 200, "the report was not accepted");
        res.text().await.unwrap_or_default()
    }

    pub fn conn(&self) -> db::PooledConnection {
        self.pool.conn().unwrap_or_else(|e| panic!("{e}"))
    }

    pub fn case_count(&self) -> i64 {
        db::Case::count(&mut self.conn()).unwrap_or_else(|e| panic!("{e}"))
    }
}

/// The text of the element with `id="…"` in a page (first text node).
pub fn element_text(html: &str, id: &str) -> Option<String> {
    let marker = format!("id=\"{id}\"");
    let start = html.find(&marker)?;
    let after = &html[start..];
    let open_end = after.find('>')? + 1;
    let close = after[open_end..].find('<')?;
    Some(after[open_end..open_end + close].trim().to_string())
}

pub fn token_of(receipt: &str) -> String {
    element_text(receipt, "follow-up-token").unwrap_or_else(|| panic!("no token on the receipt"))
}

/// The stanza types in an age file's header, in order.
pub fn stanza_types(ciphertext: &[u8]) -> Vec<String> {
    let end = ciphertext
        .windows(4)
        .position(|w| w == b"\n---")
        .unwrap_or(ciphertext.len());
    String::from_utf8_lossy(&ciphertext[..end])
        .lines()
        .filter_map(|l| l.strip_prefix("-> "))
        .map(|l| l.split(' ').next().unwrap_or_default().to_string())
        .collect()
}
