//! Integration tests against the real application: a real HTTP server on a
//! free loopback port and a fresh database for every test (SQLite by default;
//! PostgreSQL when VIGIE_TEST_DATABASE_URL names a server and the crate is
//! built with `--features postgres`).

mod attachments;
mod bureau;
mod cli;
mod feedback;
mod followup;
mod handover;
mod health;
mod helpers;
mod hostile;
mod logs;
mod mail;
mod migrations;
mod outage;
mod report;
mod resend;
mod retention;
mod retention_boundary;
mod routes;
mod scrub;
mod security;
mod storage;
mod stored_names;
mod texts;
mod upload;
mod vectors;
mod workspace;
