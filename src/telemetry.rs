//! Logging. Request lines carry the method, the route pattern, the status and
//! the duration: never an address, a user agent, a referrer, a query string,
//! a token or any text a reporter wrote.

use std::time::Instant;

use actix_web::{
    body::MessageBody,
    dev::{ServiceRequest, ServiceResponse},
    middleware::Next,
    Error,
};
use tracing_subscriber::{fmt, EnvFilter};

/// Installs the global subscriber (once per process; later calls do nothing).
pub fn init(filter: &str) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(false)
        .with_writer(std::io::stdout)
        .try_init();
}

/// The access log: one line a request, with the route *pattern* only.
pub async fn access_log(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let method = req.method().clone();
    let route = req.match_pattern().unwrap_or_else(|| "<unmatched>".to_string());
    let res = next.call(req).await?;
    tracing::info!(
        method = %method,
        route = %route,
        status = res.status().as_u16(),
        duration_ms = started.elapsed().as_millis() as u64,
        "request"
    );
    Ok(res)
}
