//! What hostile multipart bodies cost the server: time to the refusal and
//! the growth of the process's peak resident memory.
//!
//! Starts the real server on a fresh SQLite database and sends, through the
//! no-JavaScript report form: a 400 MiB part header that never ends, and
//! 700 MiB of empty parts. Each body is produced as it goes (never held
//! whole by the client). Prints the status, the time taken and the peak
//! memory after each; the server should refuse each one early and its
//! memory should stay where it was.
//!
//!     cargo run --release --example hostile_bench

#[path = "common/mod.rs"]
mod common;
use common::peak_rss_mb;

use std::{sync::Arc, time::Instant};

use futures_util::stream;
use vigie::{domain::SystemClock, startup::Application};

/// `head` once, then `unit` repeated until `total` bytes have gone.
fn body(head: &'static [u8], unit: &'static [u8], total: usize) -> reqwest::Body {
    let block: Vec<u8> = unit.repeat((64 * 1024 / unit.len()).max(1));
    let parts = stream::unfold((0usize, true), move |(sent, first)| {
        let block = block.clone();
        async move {
            if first {
                return Some((Ok::<_, std::io::Error>(head.to_vec()), (head.len(), false)));
            }
            (sent < total).then(|| (Ok(block.clone()), (sent + block.len(), false)))
        }
    });
    reqwest::Body::wrap_stream(parts)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let (mut settings, _) = common::settings(dir.path())?;
    settings.log = "error".into();
    let app = Application::build_with_clock(&settings, Arc::new(SystemClock))?;
    let url = format!("http://127.0.0.1:{}/fr/report", app.port());
    tokio::spawn(app.run_until_stopped());
    let client = reqwest::Client::new();
    // Warm up with one ordinary refused form, so that the figures below
    // show only what the hostile bodies add.
    let _ = client
        .post(&url)
        .header("Content-Type", "multipart/form-data; boundary=XyZ")
        .body("--XyZ--\r\n")
        .send()
        .await;
    let start = peak_rss_mb();
    println!("peak memory at start: {start:.1} MB");
    let cases: [(&str, &'static [u8], &'static [u8], usize); 2] = [
        (
            "400 MiB part header that never ends",
            b"--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\nX-Pad: ",
            b"aaaaaaaaaaaaaaaa",
            400 << 20,
        ),
        (
            "700 MiB of empty parts",
            b"",
            b"--XyZ\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\n\r\n",
            700 << 20,
        ),
    ];
    for (what, head, unit, total) in cases {
        let started = Instant::now();
        let outcome = client
            .post(&url)
            .header("Content-Type", "multipart/form-data; boundary=XyZ")
            .body(body(head, unit, total))
            .send()
            .await;
        let status = match outcome {
            Ok(res) => res.status().as_u16().to_string(),
            // The server answers and closes before the client has sent it all.
            Err(e) => format!("connection closed by the server ({e})"),
        };
        println!(
            "{what}: {status} after {:.2} s; peak memory {:.1} MB (+{:.1} MB)",
            started.elapsed().as_secs_f64(),
            peak_rss_mb(),
            peak_rss_mb() - start
        );
    }
    Ok(())
}
