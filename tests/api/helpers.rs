use std::{
    io::Write,
    path::{Path, PathBuf},
    sync::Arc,
};

use base64::Engine;
use chrono::NaiveDate;
use serde_json::{json, Value};
use tempfile::TempDir;
use vigie::{
    config::Settings,
    crypto::{self, Recipients, Token},
    db::{self, Case, Db},
    domain::ManualClock,
    startup::Application,
};
use zeroize::Zeroizing;

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

/// A test server on a thread and runtime of its own. Dropping it stops the
/// server and waits until its workers, its mail worker and its jobs are gone,
/// with every database connection they held: no thread of a finished test
/// still holds a connection when the test process exits (libpq's exit
/// handlers then ran under live connections, and the process crashed after
/// its tests had passed).
pub struct Running {
    handle: actix_web::dev::ServerHandle,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Running {
    /// Builds and starts the service; returns its port.
    pub fn start(settings: &Settings, clock: Arc<ManualClock>) -> (u16, Running) {
        let settings = settings.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap_or_else(|e| panic!("{e}"));
            runtime.block_on(async move {
                let app = match Application::build_with_clock(&settings, clock) {
                    Ok(app) => app,
                    Err(e) => {
                        let _ = tx.send(Err(format!("{e:#}")));
                        return;
                    }
                };
                let _ = tx.send(Ok((app.port(), app.handle())));
                let _ = app.run_until_stopped().await;
            });
        });
        let (port, handle) = rx
            .recv()
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|e| panic!("the app did not start: {e}"));
        (
            port,
            Running {
                handle,
                thread: Some(thread),
            },
        )
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // The command is sent at once; the server's own thread carries it
        // out, and finishes once every worker has stopped.
        drop(self.handle.stop(true));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    /// Declared after the client and before the test's own pool and
    /// database, so it stops in between.
    pub _server: Running,
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

/// A Bureau recipients file in `dir` with one new key; its path and the
/// key's identity.
pub fn bureau_file(dir: &Path) -> (PathBuf, age::x25519::Identity) {
    let bureau = crypto::generate_identity();
    let file = dir.join("bureau.txt");
    std::fs::write(
        &file,
        format!("# the Bureau's referent\n{}\n", bureau.to_public()),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    (file, bureau)
}

/// A test app whose Bureau has one key (written to `bureau.txt` beside the
/// Secretary's recipients), and that key's identity.
pub async fn spawn_app_with_bureau(
    change: impl FnOnce(&mut Settings),
) -> (TestApp, age::x25519::Identity) {
    let mut identity = None;
    let app = spawn_app_with(|s| {
        let (file, bureau) = bureau_file(s.data_dir.parent().unwrap_or(Path::new(".")));
        identity = Some(bureau);
        s.bureau_recipients_file = file;
        change(s);
    })
    .await;
    let bureau = identity.unwrap_or_else(|| panic!("no Bureau key"));
    (app, bureau)
}

pub async fn spawn_app_with(change: impl FnOnce(&mut Settings)) -> TestApp {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let db = TestDb::fresh(dir.path());
    spawn_app_on(dir, db, change).await
}

/// A test app on a database the test prepared itself, in `dir`.
pub async fn spawn_app_on(dir: TempDir, db: TestDb, change: impl FnOnce(&mut Settings)) -> TestApp {
    let (mut settings, identity_path, identities) = test_settings(dir.path(), &db);
    change(&mut settings);
    let clock = Arc::new(ManualClock::at(
        today()
            .and_hms_opt(9, 0, 0)
            .map(|t| t.and_utc().timestamp())
            .unwrap_or_default(),
    ));
    let (port, server) = Running::start(&settings, clock.clone());
    let address = format!("http://127.0.0.1:{port}");
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
        _server: server,
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
        let route = path.split('?').next().unwrap_or(path);
        if route.ends_with("/report") && !fields.iter().any(|(k, _)| *k == "privacy_ack") {
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

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// The status and the JSON body of an answer (`Null` when it is not JSON).
pub async fn status_and_json(res: reqwest::Response) -> (u16, Value) {
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// What a reporter's browser does: the requests of the report and follow-up
/// pages, sealed as `static/js` seals them.
impl TestApp {
    /// Posts `body` as `application/json`, with a session cookie and a CSRF
    /// token when `auth` names them; the raw answer. A login challenge names
    /// the Secretary's first key unless the test names a `recipient` itself.
    pub async fn send_json(
        &self,
        path: &str,
        body: &Value,
        auth: Option<(&str, &str)>,
    ) -> reqwest::Response {
        let mut body = body.clone();
        if path == "/api/v1/secretary/challenges" {
            if let Some(fields) = body.as_object_mut() {
                fields
                    .entry("recipient")
                    .or_insert_with(|| json!(self.recipients[0].to_string()));
            }
        }
        let mut req = self
            .client
            .post(format!("{}{}", self.address, path))
            .header("Content-Type", "application/json")
            .body(body.to_string());
        if let Some((cookie, csrf)) = auth {
            req = req.header("Cookie", cookie).header("X-CSRF-Token", csrf);
        }
        req.send()
            .await
            .unwrap_or_else(|e| panic!("POST {path}: {e}"))
    }

    /// Posts `body` as JSON without a session: the status and the JSON answer.
    pub async fn post_json(&self, path: &str, body: &Value) -> (u16, Value) {
        status_and_json(self.send_json(path, body, None).await).await
    }

    /// Sends a report sealed in the browser (`POST /api/v1/reports`).
    pub async fn submit_report_js(&self, body: &Value) -> (u16, Value) {
        self.post_json("/api/v1/reports", body).await
    }

    /// Streams an attachment (`POST /api/v1/attachments`).
    pub async fn upload(&self, content_type: &str, body: Vec<u8>) -> (u16, Value) {
        status_and_json(
            self.post_raw("/api/v1/attachments", content_type, body)
                .await,
        )
        .await
    }

    /// The case a token leads to, read straight from the database.
    pub fn look_up(&self, token: &Token) -> Option<Case> {
        let locator = crypto::derive_from_token(token).locator;
        Case::find_by_locator(&mut self.conn(), &locator).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Submits a report without JavaScript and returns its case and token.
    pub async fn new_case(&self) -> (Case, Token) {
        let html = self
            .submit_report(
                "fr",
                &[
                    ("category", "funds"),
                    ("description", "Des fonds détournés"),
                ],
            )
            .await;
        let token = Token::parse(&token_of(&html)).unwrap_or_else(|e| panic!("{e}"));
        let case = self
            .look_up(&token)
            .unwrap_or_else(|| panic!("the report was not stored"));
        (case, token)
    }

    /// The case as the database holds it now.
    pub fn reload(&self, case: &Case) -> Case {
        Case::find(&mut self.conn(), &case.id)
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|| panic!("the case is gone"))
    }

    /// A follow-up message sealed as the reporter's browser would (base64).
    pub fn sealed_message(&self, token: &Token, body: &str) -> String {
        let r = crypto::derive_from_token(token).reply_recipient;
        let plain = crypto::pad(Zeroizing::new(
            json!({"v": 1, "type": "message", "lang": "fr", "body": body})
                .to_string()
                .into_bytes(),
        ));
        let sealed =
            crypto::encrypt_for_case(&Recipients::new(self.recipients.clone()), &r, &plain)
                .unwrap_or_else(|e| panic!("{e}"));
        B64.encode(sealed.as_bytes())
    }

    /// A Secretary's reply sealed as the workspace would, as the JSON body
    /// of the `reply` action.
    pub fn sealed_reply(&self, case: &Case, body: &str) -> Value {
        self.sealed_reply_to(&self.recipients, case, body)
    }

    /// A reply sealed to `readers` and the case's `R`, as the JSON body of a
    /// workflow action.
    pub fn sealed_reply_to(
        &self,
        readers: &[age::x25519::Recipient],
        case: &Case,
        body: &str,
    ) -> Value {
        let reporter: age::x25519::Recipient = case
            .reporter_recipient
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        let plain = crypto::pad(Zeroizing::new(
            json!({"v": 1, "type": "reply", "lang": "fr", "body": body})
                .to_string()
                .into_bytes(),
        ));
        let sealed =
            crypto::encrypt_for_case(&Recipients::new(readers.to_vec()), &reporter, &plain)
                .unwrap_or_else(|e| panic!("{e}"));
        json!({"ciphertext": B64.encode(sealed.as_bytes())})
    }
}

/// A logged-in Secretary: the session cookie, the CSRF token, and the app
/// they are logged into.
pub struct Secretary {
    pub cookie: String,
    pub csrf: String,
    client: reqwest::Client,
    address: String,
}

/// What the Secretary's browser does: the login by key possession.
impl TestApp {
    /// A challenge asked with `body`, decrypted and answered as the browser
    /// does: the id and the answer's digest.
    pub async fn challenge_with(&self, body: Value) -> (String, String) {
        self.challenge_as(&self.identities[0], body).await
    }

    /// A challenge for `identity`'s key (unless `body` names another),
    /// decrypted with that identity and answered.
    pub async fn challenge_as(
        &self,
        identity: &age::x25519::Identity,
        mut body: Value,
    ) -> (String, String) {
        if let Some(fields) = body.as_object_mut() {
            fields
                .entry("recipient")
                .or_insert_with(|| json!(identity.to_public().to_string()));
        }
        let res = self
            .send_json("/api/v1/secretary/challenges", &body, None)
            .await;
        assert_eq!(res.status().as_u16(), 201);
        let c: Value = res.json().await.unwrap_or(Value::Null);
        let ciphertext = B64
            .decode(c["ciphertext"].as_str().unwrap_or_default())
            .unwrap_or_default();
        let plain = crypto::decrypt(std::slice::from_ref(identity), &ciphertext)
            .unwrap_or_else(|e| panic!("{e}"));
        let answer = crypto::answer_challenge(&plain).unwrap_or_else(|| panic!("not a challenge"));
        (c["id"].as_str().unwrap_or_default().to_string(), answer)
    }

    pub async fn challenge(&self) -> (String, String) {
        self.challenge_with(json!({})).await
    }

    /// Opens a session with an answered challenge; the raw answer.
    pub async fn open_session(&self, id: &str, answer: &str) -> reqwest::Response {
        self.send_json(
            "/api/v1/secretary/sessions",
            &json!({"id": id, "response": answer}),
            None,
        )
        .await
    }

    /// Logs in as the Secretary, checking the session cookie's attributes.
    pub async fn login(&self) -> Secretary {
        self.login_as(&self.identities[0]).await
    }

    /// Logs in with `identity`'s key (the Secretary's or the Bureau's).
    pub async fn login_as(&self, identity: &age::x25519::Identity) -> Secretary {
        let (id, answer) = self.challenge_as(identity, json!({})).await;
        let res = self.open_session(&id, &answer).await;
        assert_eq!(res.status().as_u16(), 201);
        let set_cookie = res
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        assert!(
            set_cookie.starts_with("__Host-vigie_session="),
            "{set_cookie}"
        );
        for attribute in ["Secure", "HttpOnly", "SameSite=Strict", "Path=/"] {
            assert!(
                set_cookie.contains(attribute),
                "the session cookie lacks {attribute}: {set_cookie}"
            );
        }
        assert!(
            !set_cookie.to_ascii_lowercase().contains("domain"),
            "a __Host- cookie has no Domain: {set_cookie}"
        );
        let cookie = set_cookie.split(';').next().unwrap_or_default().to_string();
        let opened: Value = res.json().await.unwrap_or(Value::Null);
        Secretary {
            cookie,
            csrf: opened["csrf"].as_str().unwrap_or_default().to_string(),
            client: self.client.clone(),
            address: self.address.clone(),
        }
    }

    /// A page as the Secretary sees it when logged in, or as anyone sees it.
    pub async fn page(&self, s: Option<&Secretary>, path: &str) -> reqwest::Response {
        match s {
            Some(s) => s.page(path).await,
            None => self.get(path).await,
        }
    }
}

impl Secretary {
    /// The text of the page at `path`, with the session cookie.
    pub async fn text(&self, path: &str) -> String {
        self.page(path).await.text().await.unwrap_or_default()
    }

    /// `GET path` with the session cookie.
    pub async fn page(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{}", self.address, path))
            .header("Cookie", &self.cookie)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }

    /// A workflow action on a case (`POST /api/v1/secretary/cases/{case}/{action}`)
    /// with the session cookie and the CSRF token.
    pub async fn act(
        &self,
        case: impl std::fmt::Display,
        action: &str,
        body: Value,
    ) -> (u16, Value) {
        let path = format!("/api/v1/secretary/cases/{case}/{action}");
        let res = self
            .client
            .post(format!("{}{}", self.address, path))
            .header("Content-Type", "application/json")
            .header("Cookie", &self.cookie)
            .header("X-CSRF-Token", &self.csrf)
            .body(body.to_string())
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {path}: {e}"));
        status_and_json(res).await
    }
}

/// An attachment sealed as the reporter's browser would, to the Secretary's
/// recipients and the reporter's own.
pub fn seal_file(
    recipients: &[age::x25519::Recipient],
    reporter: &age::x25519::Recipient,
    bytes: &[u8],
) -> Vec<u8> {
    let mut all: Vec<&dyn age::Recipient> = recipients
        .iter()
        .map(|r| r as &dyn age::Recipient)
        .collect();
    all.push(reporter);
    let encryptor =
        age::Encryptor::with_recipients(all.into_iter()).unwrap_or_else(|e| panic!("{e}"));
    let mut out = Vec::new();
    let mut w = encryptor
        .wrap_output(&mut out)
        .unwrap_or_else(|e| panic!("{e}"));
    w.write_all(bytes).unwrap_or_else(|e| panic!("{e}"));
    w.finish().unwrap_or_else(|e| panic!("{e}"));
    out
}

impl TestApp {
    /// The JSON body of a report naming attachments (id, name, size), sealed
    /// as the browser would.
    pub fn report_with_attachments(
        &self,
        token: &Token,
        attachments: &[(String, &str, usize)],
    ) -> Value {
        let derived = crypto::derive_from_token(token);
        let listed: Vec<Value> = attachments
            .iter()
            .map(|(id, name, size)| json!({"id": id, "name": name, "type": "application/pdf", "size": size}))
            .collect();
        let plain = json!({"v": 1, "type": "report", "lang": "fr", "category": "funds", "description": "Voir les pièces jointes", "attachments": listed});
        let padded = crypto::pad(Zeroizing::new(plain.to_string().into_bytes()));
        let sealed = crypto::encrypt_for_case(
            &Recipients::new(self.recipients.clone()),
            &derived.reply_recipient,
            &padded,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        json!({
            "ciphertext": B64.encode(sealed.as_bytes()),
            "lookup": hex::encode(*derived.lookup),
            "recipient": derived.reply_recipient.to_string(),
            "privacy_acknowledged": true,
            "attachments": attachments.iter().map(|a| a.0.clone()).collect::<Vec<_>>(),
        })
    }
}

/// Whether a stock tool or service a test needs is here: `age` (the stock
/// command, for interoperability) or `aiosmtpd` (the SMTP test server). When
/// it is missing the test fails if the `CI` variable is set, and otherwise
/// prints a SKIPPED line and gets `false`, so that it can return early.
pub fn require_tool(tool: &str) -> bool {
    let (program, args, install): (&str, &[&str], &str) = match tool {
        "age" => ("age", &["--version"], "Debian package `age`"),
        "aiosmtpd" => (
            "python3",
            &["-c", "import aiosmtpd"],
            "python3 -m pip install aiosmtpd",
        ),
        other => panic!("require_tool does not know how to look for {other}"),
    };
    let found = std::process::Command::new(program)
        .args(args)
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        if std::env::var_os("CI").is_some() {
            panic!("{tool} is required in CI ({install})");
        }
        eprintln!("SKIPPED: {tool} is not installed here ({install})");
    }
    found
}

/// The real `vigie serve` binary, started on a free port, with its log
/// (stdout and stderr) collected line by line. Killed when dropped.
pub struct ServerProcess {
    pub address: String,
    pub port: u16,
    child: std::process::Child,
    log: Arc<std::sync::Mutex<String>>,
    readers: Vec<std::thread::JoinHandle<()>>,
}

impl ServerProcess {
    /// Starts `vigie serve` with the settings' folders and recipients, the
    /// test database and the log level given; returns once it listens.
    pub fn start(settings: &Settings, db: &TestDb, level: &str) -> ServerProcess {
        ServerProcess::start_with(settings, db, level, &[])
    }

    /// The same, with more environment variables (`VIGIE_…` settings,
    /// `RUST_LOG`). No other `VIGIE_` variable of the test's own is passed on.
    pub fn start_with(
        settings: &Settings,
        db: &TestDb,
        level: &str,
        env: &[(&str, &str)],
    ) -> ServerProcess {
        use std::io::BufRead;
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_vigie"));
        for (key, _) in std::env::vars() {
            if key.starts_with("VIGIE_") {
                cmd.env_remove(key);
            }
        }
        let mut child = cmd
            .arg("serve")
            .env("VIGIE_LISTEN", "127.0.0.1:0")
            .env("VIGIE_DATA_DIR", &settings.data_dir)
            .env("VIGIE_RECIPIENTS_FILE", &settings.recipients_file)
            .env("VIGIE_DATABASE_URL", db.url())
            .env("VIGIE_LOG", level)
            .envs(env.iter().copied())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{e}"));
        let log = Arc::new(std::sync::Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel::<u16>();
        let streams = [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
        ];
        let mut readers = Vec::new();
        for stream in streams.into_iter().flatten() {
            let (log, tx) = (log.clone(), tx.clone());
            readers.push(std::thread::spawn(move || {
                for line in std::io::BufReader::new(stream)
                    .lines()
                    .map_while(Result::ok)
                {
                    if let Some(port) = line
                        .split("port=")
                        .nth(1)
                        .and_then(|p| p.split_whitespace().next())
                        .and_then(|p| p.parse::<u16>().ok())
                    {
                        let _ = tx.send(port);
                    }
                    if let Ok(mut log) = log.lock() {
                        log.push_str(&line);
                        log.push('\n');
                    }
                }
            }));
        }
        let port = rx.recv_timeout(std::time::Duration::from_secs(30));
        let mut server = ServerProcess {
            address: String::new(),
            port: 0,
            child,
            log,
            readers,
        };
        match port {
            Ok(port) => {
                server.address = format!("http://127.0.0.1:{port}");
                server.port = port;
                server
            }
            Err(_) => panic!("the server did not start:\n{}", server.stop()),
        }
    }

    /// What the server has logged so far.
    pub fn log(&self) -> String {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Kills the server and returns everything it logged.
    pub fn stop(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        for reader in std::mem::take(&mut self.readers) {
            let _ = reader.join();
        }
        self.log()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A report form without JavaScript with one file (multipart), as
/// (content type, body): the text fields first, then the file.
pub fn multipart_report(
    fields: &[(&str, &str)],
    file_name: &str,
    file_type: &str,
    file: &[u8],
) -> (String, Vec<u8>) {
    let b = "vigietestboundary";
    let mut body = Vec::new();
    for (field, value) in fields {
        body.extend_from_slice(
            format!("--{b}\r\nContent-Disposition: form-data; name=\"{field}\"\r\n\r\n{value}\r\n")
                .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!("--{b}\r\nContent-Disposition: form-data; name=\"attachments\"; filename=\"{file_name}\"\r\nContent-Type: {file_type}\r\n\r\n")
            .as_bytes(),
    );
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{b}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={b}"), body)
}
