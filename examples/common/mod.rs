//! What the benchmarks share: a fresh Secretary key and settings for a
//! server on a free loopback port, and the process's peak memory.

#![allow(dead_code)]

use std::path::Path;

use vigie::{config::Settings, crypto};

/// Settings for a benchmark server in `dir` (SQLite under `dir/data`,
/// unless the caller changes it), with a new Secretary key as the only
/// recipient; the key is returned to decrypt what was stored.
pub fn settings(dir: &Path) -> anyhow::Result<(Settings, age::x25519::Identity)> {
    let identity = crypto::generate_identity();
    let recipients = dir.join("recipients.txt");
    std::fs::write(&recipients, format!("{}\n", identity.to_public()))?;
    let settings = Settings {
        listen: "127.0.0.1:0".into(),
        data_dir: dir.join("data"),
        recipients_file: recipients,
        log: "warn".into(),
        ..Default::default()
    };
    Ok((settings, identity))
}

/// The peak resident memory of this process so far, in MB.
pub fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|v| v.parse::<f64>().ok())
            })
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}
