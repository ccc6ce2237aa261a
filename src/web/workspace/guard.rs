//! The guard in front of every workspace route but the login ones: a live
//! session for every call, its CSRF token for every change. Handlers take a
//! [`Session`]; a route registered in the guarded scopes is protected
//! without writing anything.

use std::future::{ready, Ready};

use actix_web::{
    body::{EitherBody, MessageBody},
    dev::{Payload, ServiceRequest, ServiceResponse},
    http::Method,
    middleware::Next,
    web, FromRequest, HttpMessage, HttpRequest,
};

use super::{error::WorkspaceError, IDLE_SECS, MAX_SECS, SESSION_COOKIE};
use crate::{
    crypto,
    db::SessionRow,
    domain::{Reader, Role},
    web::AppState,
};

/// The logged-in reader's session, put in the request by [`require_session`].
#[derive(Debug, Clone)]
pub struct Session {
    id_hash: Vec<u8>,
    reader: Reader,
}

impl Session {
    /// The SHA-256 of the session identifier, as stored.
    pub fn id_hash(&self) -> &[u8] {
        &self.id_hash
    }

    /// Who logged in: the role and the short fingerprint of the key that
    /// answered the login challenge.
    pub fn reader(&self) -> &Reader {
        &self.reader
    }

    pub fn role(&self) -> Role {
        self.reader.role
    }
}

/// Outside the guard there is no session: a handler that takes one there
/// refuses every request rather than answer without one.
impl FromRequest for Session {
    type Error = WorkspaceError;
    type Future = Ready<Result<Session, WorkspaceError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(
            req.extensions()
                .get::<Session>()
                .cloned()
                .ok_or(WorkspaceError::Unauthorized { expired: false }),
        )
    }
}

/// Middleware: a live session (its idle timer moved on), and for anything
/// but GET and HEAD the session's CSRF token in `X-CSRF-Token`.
pub async fn require_session(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let checked = match authenticate(req.request()).await {
        Ok(row) => {
            let reads = matches!(*req.method(), Method::GET | Method::HEAD);
            if reads || csrf_ok(req.request(), &row) {
                Ok(row)
            } else {
                Err(WorkspaceError::Forbidden)
            }
        }
        Err(e) => Err(e),
    };
    match checked {
        Ok(row) => {
            req.extensions_mut().insert(Session {
                id_hash: row.id_hash,
                reader: Reader {
                    role: row.role,
                    key: row.key_fingerprint,
                },
            });
            Ok(next.call(req).await?.map_into_left_body())
        }
        Err(refused) => {
            refused.log();
            let answer = refused.respond_to(req.request());
            Ok(req.into_response(answer).map_into_right_body())
        }
    }
}

/// The session named by the cookie, if it is live; refreshes its idle timer.
async fn authenticate(req: &HttpRequest) -> Result<SessionRow, WorkspaceError> {
    if !super::error::is_api(req.path()) && crate::web::request::lang_of(req).is_none() {
        return Err(WorkspaceError::NotFound);
    }
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| WorkspaceError::unavailable("no application state"))?
        .clone();
    let hash = req
        .cookie(SESSION_COOKIE)
        .and_then(|c| crypto::hash_secret(c.value()))
        .ok_or(WorkspaceError::Unauthorized { expired: false })?;
    let now = state.clock.now();
    // A write: the idle timer moves on.
    let outcome = state
        .db
        .run_write(move |conn| -> Result<_, WorkspaceError> {
            let Some(row) = SessionRow::find(conn, &hash)? else {
                return Ok(Err(WorkspaceError::Unauthorized { expired: false }));
            };
            if now - row.last_seen > IDLE_SECS || now - row.created_at > MAX_SECS {
                SessionRow::delete(conn, &row.id_hash)?;
                // Keep the deletion: this is an answer, not a failure.
                return Ok(Err(WorkspaceError::Unauthorized { expired: true }));
            }
            SessionRow::touch(conn, &row.id_hash, now)?;
            Ok(Ok(row))
        })
        .await?;
    outcome
}

fn csrf_ok(req: &HttpRequest, session: &SessionRow) -> bool {
    req.headers()
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .and_then(crypto::hash_secret)
        .is_some_and(|h| crypto::constant_time_eq(&h, &session.csrf_hash))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[actix_web::test]
    async fn a_handler_that_takes_a_session_outside_the_guard_refuses_every_request() {
        let req = actix_web::test::TestRequest::default()
            .cookie(actix_web::cookie::Cookie::new(SESSION_COOKIE, "anything"))
            .to_http_request();
        let got = Session::extract(&req).await;
        assert!(matches!(
            got,
            Err(WorkspaceError::Unauthorized { expired: false })
        ));
    }
}
