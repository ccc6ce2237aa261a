//! Request bodies under a deadline: a sender that stalls, trickles or never
//! finishes gets a 408 and its connection is closed, instead of holding a
//! connection (and its file descriptor) for ever.
//!
//! Three rules, all from the settings: no silence longer than the idle
//! time-out between two pieces of the body; after that same grace period,
//! an average rate of at least `body_min_bytes_per_sec`; the whole body
//! within `body_timeout_secs`. The wrapper sits under every route, so a
//! handler that reads its body needs nothing of its own: it sees a read
//! error, and [`timed_out`] tells it why.

use std::{
    cell::Cell,
    io,
    rc::Rc,
    time::{Duration, Instant},
};

use actix_web::{
    body::MessageBody,
    dev::{self, ServiceRequest, ServiceResponse},
    error::PayloadError,
    http::StatusCode,
    middleware::Next,
    web, Error, HttpMessage, HttpRequest,
};
use futures_util::StreamExt;

/// The deadlines of a request body.
#[derive(Debug, Clone, Copy)]
pub struct BodyDeadline {
    pub idle: Duration,
    pub min_bytes_per_sec: u64,
    pub total: Duration,
}

impl BodyDeadline {
    /// How long to wait for the next piece, given what arrived so far;
    /// `None` when a rule is already broken.
    fn wait(&self, started: Instant, now: Instant, received: u64) -> Option<Duration> {
        let elapsed = now.saturating_duration_since(started);
        let mut until = self.total.checked_sub(elapsed)?;
        until = until.min(self.idle);
        if self.min_bytes_per_sec > 0 {
            // received >= rate * (elapsed - grace): broken at
            // elapsed = grace + received / rate.
            let earned =
                Duration::try_from_secs_f64(received as f64 / self.min_bytes_per_sec as f64)
                    .unwrap_or(Duration::MAX);
            let allowed = self.idle.saturating_add(earned);
            until = until.min(allowed.checked_sub(elapsed)?);
        }
        (!until.is_zero()).then_some(until)
    }
}

/// Set in the request's extensions when its body missed a deadline.
#[derive(Clone, Default)]
struct Expired(Rc<Cell<bool>>);

/// Whether this request's body was cut off by a deadline.
pub fn timed_out(req: &HttpRequest) -> bool {
    req.extensions().get::<Expired>().is_some_and(|e| e.0.get())
}

struct Reading {
    inner: dev::Payload,
    deadline: BodyDeadline,
    started: Instant,
    received: u64,
    expired: Expired,
    done: bool,
}

fn expired_error() -> PayloadError {
    PayloadError::Io(io::Error::new(
        io::ErrorKind::TimedOut,
        "request body too slow",
    ))
}

/// Middleware: puts the body of every request under the deadlines given in
/// the app data, and answers 408 with `Connection: close` when one is missed.
pub async fn deadline(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let Some(limits) = req
        .app_data::<web::Data<BodyDeadline>>()
        .map(|d| *d.get_ref())
    else {
        return next.call(req).await;
    };
    let expired = Expired::default();
    req.extensions_mut().insert(expired.clone());
    let reading = Reading {
        inner: req.take_payload(),
        deadline: limits,
        started: Instant::now(),
        received: 0,
        expired: expired.clone(),
        done: false,
    };
    let stream = futures_util::stream::unfold(reading, |mut r| async move {
        if r.done {
            return None;
        }
        let Some(wait) = r.deadline.wait(r.started, Instant::now(), r.received) else {
            r.done = true;
            r.expired.0.set(true);
            return Some((Err(expired_error()), r));
        };
        match tokio::time::timeout(wait, r.inner.next()).await {
            Ok(Some(Ok(bytes))) => {
                r.received += bytes.len() as u64;
                Some((Ok(bytes), r))
            }
            Ok(Some(Err(e))) => {
                r.done = true;
                Some((Err(e), r))
            }
            Ok(None) => None,
            Err(_) => {
                r.done = true;
                r.expired.0.set(true);
                Some((Err(expired_error()), r))
            }
        }
    })
    .fuse();
    req.set_payload(dev::Payload::Stream {
        payload: Box::pin(stream),
    });
    let mut res = next.call(req).await?;
    if expired.0.get() {
        *res.response_mut().status_mut() = StatusCode::REQUEST_TIMEOUT;
        res.response_mut()
            .head_mut()
            .set_connection_type(actix_web::http::ConnectionType::Close);
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULES: BodyDeadline = BodyDeadline {
        idle: Duration::from_secs(10),
        min_bytes_per_sec: 1000,
        total: Duration::from_secs(100),
    };

    #[test]
    fn a_body_may_wait_up_to_the_idle_time_out_at_first() {
        let t = Instant::now();
        assert_eq!(RULES.wait(t, t, 0), Some(Duration::from_secs(10)));
    }

    #[test]
    fn a_trickling_body_runs_out_of_time_once_below_the_minimum_rate() {
        let t = Instant::now();
        // 5 bytes in 12 s: owed 2,000 bytes after the grace period.
        assert_eq!(RULES.wait(t, t + Duration::from_secs(12), 5), None);
        // 20,000 bytes in 12 s: fine for a while yet.
        let left = RULES.wait(t, t + Duration::from_secs(12), 20_000);
        assert_eq!(left, Some(Duration::from_secs(10)));
    }

    #[test]
    fn no_body_outlives_the_total_deadline_however_fast_it_arrives() {
        let t = Instant::now();
        assert_eq!(
            RULES.wait(t, t + Duration::from_secs(95), u64::MAX / 4),
            Some(Duration::from_secs(5))
        );
        assert_eq!(
            RULES.wait(t, t + Duration::from_secs(100), u64::MAX / 4),
            None
        );
    }
}
