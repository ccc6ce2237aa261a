//! Throughput of the no-JavaScript report path, end to end.
//!
//! Starts the real server on a fresh SQLite database (durable commits: WAL,
//! `synchronous = FULL`), submits N reports through `POST /fr/report` at
//! concurrency C, then checks that every acknowledged report is stored and
//! decrypts with the Secretary's key. Prints reports per second and p50/p99.
//!
//!     cargo run --release --example submit_bench -- [N] [C]
//!
//! Defaults: N = 5000, C = 32. Target on a 2-core machine: at least 1,000
//! reports per second with p99 under 50 ms and no error.

#[path = "common/mod.rs"]
mod common;

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use vigie::{
    crypto,
    db::{self, Case},
    domain::SystemClock,
    startup::Application,
};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let total: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(5000);
    let concurrency: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(32);

    let dir = tempfile::tempdir()?;
    let (settings, identity) = common::settings(dir.path())?;
    let app = Application::build_with_clock(&settings, Arc::new(SystemClock))?;
    let base = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());

    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()?;
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let client = client.clone();
        let next = next.clone();
        let url = format!("{base}/fr/report");
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0usize;
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= total {
                    break;
                }
                let body = format!(
                    "category=funds&description=Rapport+de+banc+d%27essai+num%C3%A9ro+{i}&place=Si%C3%A8ge&privacy_ack=yes"
                );
                let t = Instant::now();
                let res = client
                    .post(&url)
                    .header("Content-Type", "application/x-www-form-urlencoded")
                    .body(body)
                    .send()
                    .await;
                let ok = match res {
                    Ok(r) if r.status().is_success() => {
                        r.text().await.map(|t| t.contains("follow-up-token")).unwrap_or(false)
                    }
                    _ => false,
                };
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

    println!("reports submitted : {total} at concurrency {concurrency}");
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
    println!("stored, decrypted : {} of {}", readable, total - errors);
    if readable != total - errors {
        anyhow::bail!("some acknowledged reports are not stored or not readable");
    }
    Ok(())
}
