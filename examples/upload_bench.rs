//! Upload throughput and the server's peak memory for a report with files.
//!
//! Starts the real server on a fresh SQLite database and sends reports
//! through the no-JavaScript form with files streamed from a generator
//! (multipart/form-data): first 10 MB, then 100 MB (4 files of 25 MB). The
//! server encrypts each file as it streams in and stores it in 1 MiB chunks.
//! Prints throughput and the process's peak resident memory after each, so
//! that one can see it does not grow with the size of the files.
//!
//!     cargo run --release --example upload_bench

#[path = "common/mod.rs"]
mod common;
use common::peak_rss_mb;

use std::{sync::Arc, time::Instant};

use futures_util::stream;
use vigie::{domain::SystemClock, startup::Application};

/// A multipart body: the text fields, then `files` files of `size` bytes,
/// produced 64 KiB at a time as the upload goes (never held whole).
fn body(boundary: &'static str, files: usize, size: usize) -> reqwest::Body {
    enum Step {
        Head,
        FileHead(usize),
        Data(usize, usize),
        FileEnd(usize),
        Tail,
        Done,
    }
    let block = 64 * 1024;
    let parts = stream::unfold(Step::Head, move |step| async move {
        let (bytes, next) = match step {
            Step::Head => (
                format!("--{boundary}\r\nContent-Disposition: form-data; name=\"category\"\r\n\r\nfunds\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"description\"\r\n\r\nBanc d'essai des pieces jointes\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"privacy_ack\"\r\n\r\nyes\r\n").into_bytes(),
                if files > 0 { Step::FileHead(0) } else { Step::Tail },
            ),
            Step::FileHead(f) => (
                format!("--{boundary}\r\nContent-Disposition: form-data; name=\"attachments\"; filename=\"piece-{f}.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n").into_bytes(),
                Step::Data(f, size),
            ),
            Step::Data(f, left) => {
                let n = left.min(block);
                let next = if left > n { Step::Data(f, left - n) } else { Step::FileEnd(f) };
                (vec![0x5au8; n], next)
            }
            Step::FileEnd(f) => (
                b"\r\n".to_vec(),
                if f + 1 < files { Step::FileHead(f + 1) } else { Step::Tail },
            ),
            Step::Tail => (format!("--{boundary}--\r\n").into_bytes(), Step::Done),
            Step::Done => return None,
        };
        Some((Ok::<_, std::io::Error>(bytes), next))
    });
    reqwest::Body::wrap_stream(parts)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let (settings, _) = common::settings(dir.path())?;
    let app = Application::build_with_clock(&settings, Arc::new(SystemClock))?;
    let url = format!("http://127.0.0.1:{}/fr/report", app.port());
    tokio::spawn(app.run_until_stopped());
    let client = reqwest::Client::new();
    println!("peak memory at start : {:.1} MB", peak_rss_mb());
    for (files, size) in [(1usize, 10_000_000usize), (4, 25_000_000)] {
        let total = files * size;
        let started = Instant::now();
        let res = client
            .post(&url)
            .header("Content-Type", "multipart/form-data; boundary=vigiebench")
            .body(body("vigiebench", files, size))
            .send()
            .await?;
        let ok = res.status().is_success() && res.text().await?.contains("follow-up-token");
        let secs = started.elapsed().as_secs_f64();
        if !ok {
            anyhow::bail!("the report with {total} bytes of files was refused");
        }
        println!(
            "{:>4} MB of files : {:.1} s, {:.1} MB/s; peak memory so far {:.1} MB",
            total / 1_000_000,
            secs,
            total as f64 / 1e6 / secs,
            peak_rss_mb()
        );
    }
    Ok(())
}
