//! Logging. Nothing in the log may carry an address, a user agent, a
//! referrer, a query string, a token or any text a reporter wrote, nor the
//! precise time of a reporter's request: requests are not logged one by one
//! but counted, per method, route *pattern* and status, and the counts are
//! written once per interval (an hour by default). Log lines carry no
//! timestamp of their own.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use actix_web::{
    body::MessageBody,
    dev::{ServiceRequest, ServiceResponse},
    middleware::Next,
    web, Error,
};
use tracing_subscriber::{fmt, EnvFilter};

/// Installs the global subscriber (once per process; later calls do nothing).
pub fn init(filter: &str) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(false)
        .without_time()
        .with_writer(std::io::stdout)
        .try_init();
}

/// The causes under an error, in words, outermost first ("database query
/// failed: …"), for the log: never the `Debug` form, which says
/// `Pool(Error(None))` where a sentence is needed.
pub fn causes(error: &dyn std::error::Error) -> String {
    let mut words = Vec::new();
    let mut next = error.source();
    while let Some(cause) = next {
        let text = cause.to_string();
        // An error that shows its source in its own words already.
        if !words
            .last()
            .is_some_and(|outer: &String| outer.ends_with(&text))
        {
            words.push(text);
        }
        next = cause.source();
    }
    words.join(": ")
}

#[derive(Debug, Default, Clone, Copy)]
struct Tally {
    count: u64,
    total_ms: u64,
    max_ms: u64,
}

/// Request counts since the last summary.
#[derive(Debug, Default)]
pub struct AccessStats(Mutex<BTreeMap<(String, String, u16), Tally>>);

impl AccessStats {
    fn record(&self, method: &str, route: String, status: u16, ms: u64) {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let tally = map.entry((method.to_string(), route, status)).or_default();
        tally.count += 1;
        tally.total_ms += ms;
        tally.max_ms = tally.max_ms.max(ms);
    }

    /// Writes one line per (method, route, status) seen since the last call.
    pub fn flush(&self) {
        let drained = std::mem::take(&mut *self.0.lock().unwrap_or_else(|p| p.into_inner()));
        for ((method, route, status), t) in drained {
            tracing::info!(
                method = %method,
                route = %route,
                status,
                count = t.count,
                mean_ms = t.total_ms / t.count.max(1),
                max_ms = t.max_ms,
                "requests"
            );
        }
    }
}

/// Writes the request summary every `every`, for as long as the runtime runs.
pub fn spawn_access_summary(stats: Arc<AccessStats>, every: Duration) {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        ticks.tick().await;
        loop {
            ticks.tick().await;
            stats.flush();
        }
    });
}

/// The access log middleware: counts the request under its route pattern.
pub async fn access_log(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let method = req.method().clone();
    let route = req
        .match_pattern()
        .unwrap_or_else(|| "<unmatched>".to_string());
    let stats = req.app_data::<web::Data<AccessStats>>().cloned();
    let res = next.call(req).await?;
    if let Some(stats) = stats {
        stats.record(
            method.as_str(),
            route,
            res.status().as_u16(),
            started.elapsed().as_millis() as u64,
        );
    }
    Ok(res)
}
