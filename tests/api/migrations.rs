//! Every migration runs down as well as up: all up, all down in reverse
//! order, all up again, on a fresh database of the backend under test, and
//! the schema is back as it was and takes a report.

use diesel::{sql_types::Text, QueryableByName, RunQueryDsl};
use serde_json::json;
use vigie::db::{self, DbConnection};

use crate::helpers::{spawn_app_on, TestDb};

#[derive(QueryableByName)]
struct Line {
    #[diesel(sql_type = Text)]
    line: String,
}

/// Tables, columns, indexes, constraints and triggers, one per line, sorted.
fn schema_of(conn: &mut DbConnection) -> Vec<String> {
    let queries: &[&str] = match conn {
        DbConnection::Sqlite(_) => &[
            "SELECT type || ' ' || name || ': ' || coalesce(sql, '') AS line
             FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'",
        ],
        #[cfg(feature = "postgres")]
        DbConnection::Pg(_) => &[
            "SELECT table_name || '.' || column_name || ' ' || data_type || ' '
                    || is_nullable || ' ' || coalesce(column_default, '') AS line
             FROM information_schema.columns WHERE table_schema = 'public'",
            "SELECT conrelid::regclass::text || ' ' || conname || ' '
                    || pg_get_constraintdef(oid) AS line
             FROM pg_constraint WHERE connamespace = 'public'::regnamespace",
            "SELECT indexdef AS line FROM pg_indexes WHERE schemaname = 'public'",
            "SELECT tgrelid::regclass::text || ' ' || tgname AS line
             FROM pg_trigger WHERE NOT tgisinternal",
            "SELECT proname || ' ' || md5(prosrc) AS line FROM pg_proc
             WHERE pronamespace = 'public'::regnamespace",
        ],
    };
    let mut lines: Vec<String> = queries
        .iter()
        .flat_map(|q| {
            diesel::sql_query(*q)
                .load::<Line>(conn)
                .unwrap_or_else(|e| panic!("{q}: {e}"))
        })
        .map(|l| l.line)
        .collect();
    lines.sort();
    lines
}

/// The tables a database holds, apart from the migrations' own bookkeeping.
fn tables(conn: &mut DbConnection) -> Vec<String> {
    let query = match conn {
        DbConnection::Sqlite(_) => {
            "SELECT name AS line FROM sqlite_master WHERE type = 'table'
             AND name NOT LIKE 'sqlite_%' AND name <> '__diesel_schema_migrations'"
        }
        #[cfg(feature = "postgres")]
        DbConnection::Pg(_) => {
            "SELECT tablename AS line FROM pg_tables WHERE schemaname = 'public'
             AND tablename <> '__diesel_schema_migrations'"
        }
    };
    diesel::sql_query(query)
        .load::<Line>(conn)
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .map(|l| l.line)
        .collect()
}

#[tokio::test]
async fn every_migration_runs_down_in_reverse_and_up_again_and_the_schema_takes_a_report() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let test_db = TestDb::fresh(dir.path());
    let settings = vigie::config::Settings {
        database_url: Some(test_db.url().into()),
        ..Default::default()
    };
    let database = settings.database().unwrap_or_else(|e| panic!("{e}"));
    {
        // `connect` runs every migration up.
        let pool = db::connect(&database, 1).unwrap_or_else(|e| panic!("{e}"));
        let mut conn = pool.conn().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(db::pending_migrations(&mut conn).unwrap_or(usize::MAX), 0);
        let before = schema_of(&mut conn);
        assert!(!tables(&mut conn).is_empty());

        let reverted = db::revert_all_migrations(&mut conn).unwrap_or_else(|e| panic!("{e}"));
        assert!(reverted > 0);
        assert_eq!(
            db::pending_migrations(&mut conn).unwrap_or(0),
            reverted,
            "every migration is pending again"
        );
        assert_eq!(
            tables(&mut conn),
            Vec::<String>::new(),
            "the down migrations leave no table behind"
        );

        db::run_migrations(&mut conn).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(db::pending_migrations(&mut conn).unwrap_or(usize::MAX), 0);
        assert_eq!(schema_of(&mut conn), before, "the schema is back as it was");
    }

    // The schema takes a report, a login and a workflow step.
    let app = spawn_app_on(dir, test_db, |_| {}).await;
    let (case, _) = app.new_case().await;
    assert_eq!(app.case_count(), 1);
    let s = app.login().await;
    let (status, answer) = s
        .act(&case.id, "acknowledge", app.sealed_reply(&case, "reçu"))
        .await;
    assert_eq!(status, 204, "{answer}");
    let (status, _) = s.act(&case.id, "hold", json!({"on_hold": true})).await;
    assert_eq!(status, 204);
}

#[test]
fn every_sqlite_table_is_without_rowid_so_no_hidden_counter_follows_arrival() {
    // A rowid numbers a table's rows in the order they were inserted: the
    // order of reports, messages or forms sent, kept in the file.
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let database = vigie::config::DatabaseSetting::Sqlite(dir.path().join("rowid.sqlite3"));
    let pool = db::connect(&database, 1).unwrap_or_else(|e| panic!("{e}"));
    let mut conn = pool.conn().unwrap_or_else(|e| panic!("{e}"));
    let with_rowid: Vec<String> = diesel::sql_query(
        "SELECT name AS line FROM sqlite_master WHERE type = 'table'
         AND name NOT LIKE 'sqlite_%' AND name <> '__diesel_schema_migrations'
         AND upper(sql) NOT LIKE '%WITHOUT ROWID%'",
    )
    .load::<Line>(&mut *conn)
    .unwrap_or_else(|e| panic!("{e}"))
    .into_iter()
    .map(|l| l.line)
    .collect();
    assert!(
        tables(&mut conn).len() > 10,
        "the schema is there to be checked"
    );
    assert_eq!(with_rowid, Vec::<String>::new());
}
