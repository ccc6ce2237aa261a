//! Login by key possession: the login page, one-time challenges (with a
//! proof of work under flood), opening and closing a session.

use actix_web::{
    cookie::{Cookie, SameSite},
    http::{header, StatusCode},
    web, HttpRequest, HttpResponse,
};
use base64::Engine;
use serde::{Deserialize, Serialize};

use super::{
    error::{Refusal, WorkspaceError},
    read_json, Session, IDLE_SECS, MAX_SECS, SESSION_COOKIE,
};
use crate::{
    crypto::{self, Recipients},
    db::{Challenge, Journal, JournalAction, LoginProof, LoginSeed, SessionRow},
    domain::{ChallengeId, Reader},
    web::{
        pages::{self, Layout},
        request::{header_lang, lang_of},
        AppState,
    },
};

/// A challenge must be answered within this many seconds.
pub const CHALLENGE_SECS: i64 = 120;
/// Below this many challenges issued recently and not rightly answered
/// (unanswered, expired or answered wrongly), challenges are free; from it
/// on ("under flood"), each one needs a proof of work.
pub const FLOOD_THRESHOLD: i64 = 20;
/// How long an ended challenge still counts toward the flood, in seconds.
pub const FLOOD_KEEP_SECS: i64 = 10 * 60;
/// Most challenges kept; the oldest go first beyond it.
pub const CHALLENGE_CAP: i64 = 10_000;
/// Leading zero bits of the proof of work at the threshold: about 16,000
/// hashes, a fraction of a second with WebCrypto.
pub const POW_BITS: u32 = 14;
/// The ceiling when the backlog keeps doubling: about a million hashes,
/// seconds in a browser, so that a flood slows the Secretary but never
/// locks her out.
pub const POW_BITS_MAX: u32 = 20;

#[derive(askama::Template)]
#[template(path = "secretary/login.html")]
struct LoginPage<'a> {
    l: Layout<'a>,
    expired: bool,
}

/// `GET /{lang}/secretary/login`.
pub async fn login_page(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WorkspaceError> {
    let lang = lang_of(&req).ok_or(WorkspaceError::NotFound)?;
    let expired = req.query_string().contains("expired=1");
    Ok(pages::render(
        StatusCode::OK,
        &LoginPage {
            l: Layout::secretary(&state, lang, "secretary/login"),
            expired,
        },
    ))
}

#[derive(Serialize)]
struct IssuedChallenge {
    id: ChallengeId,
    ciphertext: String,
    expires_in: i64,
}

/// `POST /api/v1/secretary/challenges`: JSON only (a cross-site form or a
/// "simple" request cannot burn the quota), with `{"proof": {"seed",
/// "nonce"}}` when the instance is under flood.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChallengeRequest {
    /// The reader's key (`age1…`, derived in the browser from the identity
    /// file): the challenge is sealed to it alone, so that the answer proves
    /// possession of that one key.
    #[serde(default)]
    recipient: Option<String>,
    #[serde(default)]
    proof: Option<Proof>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Proof {
    seed: String,
    nonce: String,
}

/// What the page must compute before it gets a challenge under flood.
#[derive(Serialize)]
struct ProofNeeded {
    error: &'static str,
    message: String,
    proof: Puzzle,
}

#[derive(Serialize)]
struct Puzzle {
    /// The current seed, in hexadecimal.
    seed: String,
    /// Leading zero bits SHA-256(domain ‖ seed ‖ nonce) must have.
    bits: u32,
    /// The domain-separation string that starts the hashed bytes.
    domain: &'static str,
}

enum Issue {
    Issued(crypto::IssuedChallenge),
    NeedProof { seed: Vec<u8>, bits: u32 },
}

/// The proof of work asked for, given how many challenges were issued
/// recently and not rightly answered: none below the threshold, then one
/// more bit each time the backlog doubles, up to a ceiling.
fn difficulty(backlog: i64) -> Option<u32> {
    if backlog < FLOOD_THRESHOLD {
        return None;
    }
    let doublings = (backlog / FLOOD_THRESHOLD).max(1).ilog2();
    Some((POW_BITS + doublings).min(POW_BITS_MAX))
}

pub async fn issue_challenge(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WorkspaceError> {
    let lang = header_lang(&req);
    let body: ChallengeRequest = read_json(&req, payload, &state).await?;
    let (role, key) = body
        .recipient
        .as_deref()
        .and_then(|r| state.readers.role_of(r.trim()))
        .ok_or(WorkspaceError::Refused(Refusal::UNKNOWN_KEY))?;
    let reader = Reader {
        role,
        key: crypto::key_fingerprint(&key.to_string()),
    };
    let now = state.clock.now();
    let id = ChallengeId::random();
    let stored_id = id.clone();
    let outcome = state
        .db
        .run_write(move |conn| -> Result<Issue, WorkspaceError> {
            let backlog = Challenge::sweep(conn, now, FLOOD_KEEP_SECS, CHALLENGE_CAP)?;
            if let Some(bits) = difficulty(backlog) {
                let minute = now.div_euclid(60);
                let (seed, previous) = LoginSeed::current(conn, minute, crypto::random_seed())?;
                let need = |seed: Vec<u8>| Ok(Issue::NeedProof { seed, bits });
                let Some(proof) = body.proof else {
                    return need(seed);
                };
                let given = hex::decode(&proof.seed).unwrap_or_default();
                // A seed is good for the rest of its minute and the next one.
                let until = if given == seed {
                    (minute + 2) * 60
                } else if previous.as_ref() == Some(&given) {
                    (minute + 1) * 60
                } else {
                    return need(seed);
                };
                let Some(hash) = crypto::proof_of_work(&given, &proof.nonce) else {
                    return need(seed);
                };
                if crypto::leading_zero_bits(&hash) < bits
                    || !LoginProof::spend(conn, &hash, now, until)?
                {
                    return need(seed);
                }
            }
            let issued = crypto::issue_challenge(&Recipients::new(vec![key]))
                .map_err(|_| WorkspaceError::unavailable("a challenge could not be sealed"))?;
            Challenge::insert(
                conn,
                &stored_id,
                &issued.digest,
                &reader,
                now + CHALLENGE_SECS,
            )?;
            Ok(Issue::Issued(issued))
        })
        .await?;
    Ok(match outcome {
        Issue::Issued(issued) => HttpResponse::Created()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(IssuedChallenge {
                id,
                ciphertext: base64::engine::general_purpose::STANDARD.encode(&issued.ciphertext),
                expires_in: CHALLENGE_SECS,
            }),
        Issue::NeedProof { seed, bits } => HttpResponse::TooManyRequests()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(ProofNeeded {
                error: "proof-of-work",
                message: state.i18n.get(lang, "api-error-proof-of-work"),
                proof: Puzzle {
                    seed: hex::encode(seed),
                    bits,
                    domain: crypto::POW_DOMAIN,
                },
            }),
    })
}

#[derive(Deserialize)]
struct Answer {
    id: String,
    response: secrecy::SecretString,
}

#[derive(Serialize)]
struct Opened {
    csrf: String,
    idle_seconds: i64,
}

fn session_cookie(value: String) -> Cookie<'static> {
    Cookie::build(SESSION_COOKIE, value)
        .path("/")
        .secure(true)
        .http_only(true)
        .same_site(SameSite::Strict)
        .finish()
}

/// `POST /api/v1/secretary/sessions`: the answer to a challenge opens a session.
pub async fn open_session(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WorkspaceError> {
    use secrecy::ExposeSecret;
    let answer: Answer = read_json(&req, payload, &state).await?;
    let now = state.clock.now();
    let outcome = state
        .db
        .run_write(move |conn| -> Result<_, WorkspaceError> {
            // Text that is no challenge identifier names no live challenge.
            let Some(id) = ChallengeId::parse(&answer.id) else {
                return Ok(Err(Refusal::CHALLENGE));
            };
            let Some((digest, reader)) = Challenge::take(conn, &id, now)? else {
                return Ok(Err(Refusal::CHALLENGE));
            };
            if !crypto::verify_challenge(&digest, answer.response.expose_secret()) {
                // The challenge stays, spent: a failure counts toward flood.
                return Ok(Err(Refusal::WRONG_KEY));
            }
            Challenge::answered(conn, &id)?;
            let (session, session_hash) = crypto::new_secret();
            let (csrf, csrf_hash) = crypto::new_secret();
            SessionRow::insert(conn, &session_hash, &csrf_hash, &reader, now)?;
            SessionRow::delete_expired(conn, now - IDLE_SECS, now - MAX_SECS)?;
            let by = Some(&reader);
            Journal::record(conn, None, JournalAction::LoggedIn, None, by, now)?;
            Ok(Ok((session.to_string(), csrf.to_string())))
        })
        .await?;
    // A refused answer is kept (the challenge is spent): commit, then refuse.
    let (session, csrf) = outcome.map_err(WorkspaceError::Refused)?;
    Ok(HttpResponse::Created()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .cookie(session_cookie(session))
        .json(Opened {
            csrf,
            idle_seconds: IDLE_SECS,
        }))
}

/// `POST /api/v1/secretary/logout`: the session is deleted, the cookie too.
pub async fn close_session(
    session: Session,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WorkspaceError> {
    let now = state.clock.now();
    let id_hash = session.id_hash().to_vec();
    let reader = session.reader().clone();
    state
        .db
        .run_write(move |conn| -> Result<(), WorkspaceError> {
            SessionRow::delete(conn, &id_hash)?;
            let by = Some(&reader);
            Journal::record(conn, None, JournalAction::LoggedOut, None, by, now)?;
            Ok(())
        })
        .await?;
    let mut gone = session_cookie(String::new());
    gone.make_removal();
    Ok(HttpResponse::NoContent()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .cookie(gone)
        .finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flood_guard_asks_more_work_as_the_backlog_doubles_up_to_a_ceiling() {
        let table = [
            (0, None),
            (19, None),
            (20, Some(14)),
            (39, Some(14)),
            (40, Some(15)),
            (80, Some(16)),
            (20 * 64, Some(20)),
            (CHALLENGE_CAP, Some(20)),
            (i64::MAX, Some(20)),
        ];
        for (backlog, bits) in table {
            assert_eq!(difficulty(backlog), bits, "{backlog}");
        }
    }
}
