//! Throughput, latency and server CPU of a report, end to end, on either
//! path and either backend.
//!
//! The server runs in a process of its own (this program started again with
//! `--serve`), so that its CPU time, read from `/proc`, is the server's
//! alone: the client's HTTP and, on the JSON path, its encryption are not
//! counted. The client submits N reports at concurrency C after a warm-up,
//! then checks that every acknowledged report is stored and decrypts with
//! the Secretary's key.
//!
//!     cargo run --release --example submit_bench -- [N] [C] [form|json]
//!     VIGIE_BENCH_DATABASE_URL=postgres://user@127.0.0.1/db \
//!         cargo run --release --features postgres --example submit_bench -- [N] [C] [form|json]
//!
//! `form` (the default) is the path without JavaScript: `POST /fr/report`,
//! the server encrypts. `json` is the page's path: `POST /api/v1/reports`
//! with a ciphertext sealed by the client. SQLite (durable commits: WAL,
//! `synchronous = FULL`) unless `VIGIE_BENCH_DATABASE_URL` names a
//! PostgreSQL database, which should be empty. Defaults: N = 5000, C = 32.
//! Targets (docs/architecture.md, "Performance"): without JavaScript on
//! SQLite, p99 under 50 ms at 32 clients and under 0.6 ms of server CPU a
//! report.

#[path = "common/mod.rs"]
mod common;

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    sync::Arc,
    time::{Duration, Instant},
};

use base64::Engine;
use vigie::{
    config::Settings,
    crypto::{self, Recipients},
    db::{self, Case},
    domain::SystemClock,
    startup::Application,
};
use zeroize::Zeroizing;

const WARM_UP: usize = 200;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--serve") {
        return serve(&args[1..]);
    }
    let total: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(5000);
    let concurrency: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(32);
    let json = args.get(2).map(String::as_str) == Some("json");
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(bench(total, concurrency, json))
}

/// The server side: settings from the arguments, the port on stdout, then
/// serve until killed.
fn serve(args: &[String]) -> anyhow::Result<()> {
    let [data_dir, recipients, database] = args else {
        anyhow::bail!("--serve DATA_DIR RECIPIENTS DATABASE_URL|-");
    };
    let settings = Settings {
        listen: "127.0.0.1:0".into(),
        data_dir: data_dir.into(),
        recipients_file: recipients.into(),
        database_url: (database != "-").then(|| database.clone().into()),
        log: "warn".into(),
        ..Default::default()
    };
    actix_web::rt::System::new().block_on(async move {
        let app = Application::build_with_clock(&settings, Arc::new(SystemClock))?;
        println!("PORT {}", app.port());
        app.run_until_stopped().await?;
        Ok::<_, anyhow::Error>(())
    })
}

/// User and system CPU time of a process so far.
fn cpu_of(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command name, which is in parentheses.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime and stime are fields 14 and 15 of the file, 12 and 13 here.
    let hz = rustix::param::clock_ticks_per_second().max(1);
    Duration::from_secs_f64((ticks(11) + ticks(12)) as f64 / hz as f64)
}

/// One request body of the chosen path, and its content type.
fn body(i: usize, json: bool, secretary: &Recipients) -> anyhow::Result<(String, &'static str)> {
    if !json {
        return Ok((
            format!(
                "category=funds&description=Rapport+de+banc+d%27essai+num%C3%A9ro+{i}&place=Si%C3%A8ge&privacy_ack=yes"
            ),
            "application/x-www-form-urlencoded",
        ));
    }
    let token = crypto::Token::generate();
    let derived = crypto::derive_from_token(&token);
    let plain = crypto::pad(Zeroizing::new(
        serde_json::json!({
            "v": 1, "type": "report", "lang": "fr", "category": "funds",
            "description": format!("Rapport de banc d'essai numéro {i}"), "place": "Siège",
        })
        .to_string()
        .into_bytes(),
    ));
    let sealed = crypto::encrypt_for_case(secretary, &derived.reply_recipient, &plain)?;
    Ok((
        serde_json::json!({
            "ciphertext": base64::engine::general_purpose::STANDARD.encode(sealed.as_bytes()),
            "lookup": hex::encode(*derived.lookup),
            "recipient": derived.reply_recipient.to_string(),
            "privacy_acknowledged": true,
        })
        .to_string(),
        "application/json",
    ))
}

async fn bench(total: usize, concurrency: usize, json: bool) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let (mut settings, identity) = common::settings(dir.path())?;
    let database = std::env::var("VIGIE_BENCH_DATABASE_URL").ok();
    settings.database_url = database.clone().map(Into::into);
    let secretary = Recipients::new(vec![identity.to_public()]);

    let mut child = Command::new(std::env::current_exe()?)
        .arg("--serve")
        .arg(&settings.data_dir)
        .arg(&settings.recipients_file)
        .arg(database.as_deref().unwrap_or("-"))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()?;
    let pid = child.id();
    let mut first = String::new();
    if let Some(out) = child.stdout.take() {
        BufReader::new(out).read_line(&mut first)?;
    }
    let port: u16 = first
        .trim()
        .strip_prefix("PORT ")
        .and_then(|p| p.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("the server did not start: {first:?}"))?;
    let url = format!(
        "http://127.0.0.1:{port}/{}",
        if json { "api/v1/reports" } else { "fr/report" }
    );

    // Bodies are made before the clock starts (on the JSON path the client
    // encrypts, as the page does).
    let bodies = Arc::new(
        (0..WARM_UP + total)
            .map(|i| body(i, json, &secretary))
            .collect::<anyhow::Result<Vec<_>>>()?,
    );
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()?;
    let send = move |client: reqwest::Client,
                     url: String,
                     bodies: Arc<Vec<(String, &'static str)>>,
                     i: usize| async move {
        let (body, kind) = &bodies[i];
        let res = client
            .post(&url)
            .header("Content-Type", *kind)
            .body(body.clone())
            .send()
            .await;
        match res {
            Ok(r) if r.status().is_success() => r
                .text()
                .await
                .map(|t| json || t.contains("follow-up-token"))
                .unwrap_or(false),
            _ => false,
        }
    };
    for i in 0..WARM_UP {
        anyhow::ensure!(
            send(client.clone(), url.clone(), bodies.clone(), i).await,
            "warm-up failed"
        );
    }

    let next = Arc::new(std::sync::atomic::AtomicUsize::new(WARM_UP));
    let cpu_before = cpu_of(pid);
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let (client, next, url, bodies) =
            (client.clone(), next.clone(), url.clone(), bodies.clone());
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0usize;
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= WARM_UP + total {
                    break;
                }
                let t = Instant::now();
                let ok = send(client.clone(), url.clone(), bodies.clone(), i).await;
                latencies.push(t.elapsed());
                if !ok {
                    errors += 1;
                }
            }
            (latencies, errors)
        }));
    }
    let mut latencies: Vec<Duration> = Vec::with_capacity(total);
    let mut errors = 0;
    for w in workers {
        let (l, e) = w.await?;
        latencies.extend(l);
        errors += e;
    }
    let elapsed = started.elapsed();
    let cpu = cpu_of(pid).saturating_sub(cpu_before);
    let _ = child.kill();
    let _ = child.wait();
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];

    // Every acknowledged report is stored and opens with the Secretary's key.
    let pool = db::connect(&settings.database()?, 1)?;
    let mut conn = pool.conn()?;
    let cases = Case::all(&mut conn)?;
    let mut readable = 0usize;
    for case in &cases {
        for entry in case.entries(&mut conn)? {
            let plain = crypto::decrypt(std::slice::from_ref(&identity), &entry.ciphertext)?;
            if String::from_utf8_lossy(&plain).contains("Rapport de banc d'essai") {
                readable += 1;
            }
        }
    }

    let backend = if database.is_some() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    let path = if json {
        "JSON (client encrypts)"
    } else {
        "form, no JavaScript"
    };
    println!("path, backend     : {path}, {backend}");
    println!(
        "reports submitted : {total} at concurrency {concurrency} (after {WARM_UP} to warm up)"
    );
    println!("errors            : {errors}");
    println!("elapsed           : {:.2} s", elapsed.as_secs_f64());
    println!(
        "throughput        : {:.0} reports/s",
        total as f64 / elapsed.as_secs_f64()
    );
    println!(
        "latency p50       : {:.1} ms",
        pct(0.50).as_secs_f64() * 1000.0
    );
    println!(
        "latency p99       : {:.1} ms",
        pct(0.99).as_secs_f64() * 1000.0
    );
    println!(
        "server CPU        : {:.3} ms a report ({:.2} s in all)",
        cpu.as_secs_f64() * 1000.0 / total as f64,
        cpu.as_secs_f64()
    );
    println!(
        "stored, decrypted : {} of {}",
        readable,
        WARM_UP + total - errors
    );
    if readable != WARM_UP + total - errors {
        anyhow::bail!("some acknowledged reports are not stored or not readable");
    }
    Ok(())
}
