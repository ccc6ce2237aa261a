//! Where rows sit in the database files. Rows are keyed by random UUIDs,
//! but storage engines append: SQLite allocates overflow pages (every
//! encrypted entry spills into one) in arrival order, PostgreSQL appends heap
//! tuples and TOAST chunks, stamps each row with the transaction id that
//! wrote it, and numbers TOASTed values from a counter. A copy of the files
//! would give the order in which reports arrived.
//!
//! The daily rewrite removes that: the data is laid out again in key order,
//! which is random, and the old copy goes from the files.
//!
//! - SQLite: `VACUUM` (tables are `WITHOUT ROWID`, keyed by the UUID, so
//!   VACUUM copies them in key order, overflow pages included, and leaves
//!   no free page), its temporary copy kept in memory, then a `TRUNCATE`
//!   checkpoint that empties the WAL file. Writers queue behind it (the
//!   pool's write lock); readers go on reading the previous snapshot.
//! - PostgreSQL: one transaction writes a new version of every row of the
//!   tables that hold reporter-originated rows, walking each table in key
//!   order and storing large values anew (new TOAST value ids, in key
//!   order): every row then carries that one transaction id. Then `CLUSTER`
//!   on each primary key rewrites each table, its TOAST table and its
//!   indexes into new files in key order. Writers to those tables wait for
//!   the first transaction; readers and writers of a table wait while it is
//!   clustered (an ACCESS EXCLUSIVE lock). A lock that cannot be had within
//!   `LOCK_TIMEOUT` fails the rewrite, which runs again the next day.

use std::time::{Duration, Instant};

use chrono::{Datelike, NaiveDate};
use diesel::{
    connection::SimpleConnection,
    prelude::*,
    sql_types::{BigInt, Integer},
};

use super::{schema::notify_state, Db, DbConnection, DbError};

/// The tables whose rows a reporter's action creates, with the columns of
/// their primary key and their one large column, if any.
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
const REWRITTEN: &[(&str, &str, Option<&str>)] = &[
    ("cases", "id", None),
    ("entries", "id", Some("ciphertext")),
    ("attachments", "id", None),
    ("attachment_chunks", "attachment_id, seq", Some("bytes")),
    ("outbox", "id", None),
];

/// How long the PostgreSQL rewrite waits for a table lock before giving up
/// for the day.
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
const LOCK_TIMEOUT: &str = "5s";

#[derive(QueryableByName)]
struct Checkpoint {
    #[diesel(sql_type = Integer)]
    busy: i32,
    #[diesel(sql_type = BigInt)]
    log: i64,
    #[diesel(sql_type = BigInt)]
    checkpointed: i64,
}

pub struct Layout;

impl Layout {
    /// Runs the rewrite at most once a day, whatever the number of
    /// instances; returns how long it took, or `None` if another pass or
    /// instance already did it today.
    pub fn rewrite_once_a_day(db: &Db, today: NaiveDate) -> Result<Option<Duration>, DbError> {
        let day = i64::from(today.num_days_from_ce());
        let won = db.write(|conn| {
            diesel::update(
                notify_state::table
                    .find("rewrite_day")
                    .filter(notify_state::value.lt(day)),
            )
            .set(notify_state::value.eq(day))
            .execute(conn)
        })?;
        if won == 0 {
            return Ok(None);
        }
        let started = Instant::now();
        Self::rewrite(db)?;
        Ok(Some(started.elapsed()))
    }

    /// Lays every table out again in key order and leaves no old copy in
    /// the database files (see the module's documentation).
    pub fn rewrite(db: &Db) -> Result<(), DbError> {
        // On SQLite, the application's writers queue here meanwhile.
        let _turn = db.sqlite_turn();
        let mut conn = db.conn()?;
        match &mut *conn {
            DbConnection::Sqlite(c) => rewrite_sqlite(c),
            #[cfg(feature = "postgres")]
            DbConnection::Pg(c) => rewrite_postgres(c),
        }
    }
}

fn rewrite_sqlite(conn: &mut diesel::SqliteConnection) -> Result<(), DbError> {
    // VACUUM builds its copy in a temporary database: in memory (every
    // connection keeps temporary data there, `SQLITE_PRAGMAS`), not in a
    // file under the system's temporary folder that would be deleted but
    // not overwritten.
    conn.batch_execute("VACUUM")?;
    // The WAL now holds the rewritten pages, and may still hold older frames
    // written in arrival order: copy everything into the file, then cut the
    // WAL to zero bytes.
    let done: Vec<Checkpoint> = diesel::sql_query("PRAGMA wal_checkpoint(TRUNCATE)").load(conn)?;
    if let Some(c) = done.first() {
        if c.busy != 0 {
            tracing::warn!(
                frames = c.log,
                copied = c.checkpointed,
                "the WAL could not be emptied after the storage rewrite: a reader held it"
            );
        }
    }
    Ok(())
}

#[cfg(feature = "postgres")]
fn rewrite_postgres(conn: &mut diesel::PgConnection) -> Result<(), DbError> {
    // 1. One transaction: a new version of every row, written in key order,
    //    large values stored anew so that their TOAST value ids follow the
    //    key, not the arrival. Every row's xmin becomes this transaction's.
    let mut renew = format!(
        "BEGIN;
SET LOCAL lock_timeout = '{LOCK_TIMEOUT}';
LOCK TABLE {} IN SHARE ROW EXCLUSIVE MODE;
DO $rewrite$ DECLARE r record; BEGIN\n",
        REWRITTEN
            .iter()
            .map(|(t, _, _)| *t)
            .collect::<Vec<_>>()
            .join(", ")
    );
    for (table, key, large) in REWRITTEN {
        let column = large.unwrap_or(match *table {
            "cases" => "on_hold",
            "attachments" => "size",
            _ => "attempts",
        });
        let value = match large {
            Some(c) => format!("{c} || '\\x'::bytea"),
            None => column.to_string(),
        };
        let matches = key
            .split(", ")
            .map(|k| format!("{k} = r.{k}"))
            .collect::<Vec<_>>()
            .join(" AND ");
        renew.push_str(&format!(
            "FOR r IN SELECT {key} FROM {table} ORDER BY {key} LOOP
    UPDATE {table} SET {column} = {value} WHERE {matches};
END LOOP;\n"
        ));
    }
    renew.push_str("END $rewrite$;\nCOMMIT;");
    if let Err(e) = conn.batch_execute(&renew) {
        let _ = conn.batch_execute("ROLLBACK");
        return Err(e.into());
    }
    // 2. Each table, its TOAST table and its indexes copied into new files
    //    in key order; the old files are unlinked.
    conn.batch_execute(&format!("SET lock_timeout = '{LOCK_TIMEOUT}'"))?;
    let mut result = Ok(());
    for (table, _, _) in REWRITTEN {
        result = conn.batch_execute(&format!("CLUSTER {table} USING {table}_pkey"));
        if result.is_err() {
            break;
        }
    }
    let reset = conn.batch_execute("RESET lock_timeout");
    result?;
    reset?;
    conn.batch_execute(&format!(
        "ANALYZE {}",
        REWRITTEN
            .iter()
            .map(|(t, _, _)| *t)
            .collect::<Vec<_>>()
            .join(", ")
    ))?;
    Ok(())
}
