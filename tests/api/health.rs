//! Liveness and readiness: `/readyz` says whether a report sent now would
//! be stored (the database commits a write, the data folder has room, the
//! recipients are loaded) and whether mail is stuck, in a small JSON body
//! with no case data; `/livez` only says the process serves.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use serde_json::Value;

use crate::helpers::{spawn_app, spawn_app_on, TestApp, TestDb};

/// Readiness answers again for a few seconds rather than probing again:
/// a test that changed something waits for a fresh look.
async fn fresh_readiness(app: &TestApp) -> (u16, Value) {
    tokio::time::sleep(std::time::Duration::from_millis(5100)).await;
    readiness(app).await
}

async fn readiness(app: &TestApp) -> (u16, Value) {
    let res = app.get("/readyz").await;
    let status = res.status().as_u16();
    assert_eq!(
        res.headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    let body: Value = res.json().await.unwrap_or_else(|e| panic!("{e}"));
    (status, body)
}

#[tokio::test]
async fn a_ready_service_says_so_in_a_small_body_that_counts_nothing() {
    let app = spawn_app().await;
    for i in 0..3 {
        app.submit_report(
            "fr",
            &[("category", "funds"), ("description", &format!("fait {i}"))],
        )
        .await;
    }
    let (status, body) = readiness(&app).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["ready"], true);
    assert_eq!(body["database"], "ok");
    assert_eq!(body["disk"], "ok");
    assert_eq!(body["recipients"], "ok");
    assert_eq!(body["mail"], "ok");
    let keys: Vec<&str> = body
        .as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default();
    let mut sorted = keys.clone();
    sorted.sort_unstable();
    assert_eq!(
        sorted,
        [
            "bureau",
            "database",
            "demo_key",
            "disk",
            "mail",
            "ready",
            "recipients"
        ],
        "states only: no count of reports, messages or emails, no free space"
    );
    assert!(body.to_string().len() < 300, "{body}");
    assert_eq!(app.get("/livez").await.status().as_u16(), 200);
}

#[tokio::test]
async fn a_database_that_answers_but_cannot_store_is_not_ready_though_it_is_alive() {
    use diesel::RunQueryDsl;
    let app = spawn_app().await;
    diesel::sql_query("ALTER TABLE notify_state RENAME TO notify_state_gone")
        .execute(&mut app.conn())
        .unwrap_or_else(|e| panic!("{e}"));
    let (status, body) = readiness(&app).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["ready"], false);
    assert_eq!(body["database"], "refuses-writes");
    assert_eq!(app.get("/livez").await.status().as_u16(), 200, "alive");
    assert_eq!(
        app.get("/healthz").await.status().as_u16(),
        200,
        "/healthz keeps its meaning: the database answers"
    );
    diesel::sql_query("ALTER TABLE notify_state_gone RENAME TO notify_state")
        .execute(&mut app.conn())
        .unwrap_or_else(|e| panic!("{e}"));
    let (status, body) = fresh_readiness(&app).await;
    assert_eq!((status, body["ready"].clone()), (200, Value::Bool(true)));
}

/// A small file system of its own, unmounted when dropped.
struct SmallDisk {
    path: PathBuf,
    _parent: tempfile::TempDir,
}

impl SmallDisk {
    /// `None` where this process may not mount one (not root, or not
    /// Linux); in CI it must.
    fn mount(mib: u32) -> Option<SmallDisk> {
        let parent = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = parent.path().join("disk");
        std::fs::create_dir(&path).unwrap_or_else(|e| panic!("{e}"));
        let mounted = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={mib}m,mode=0700"),
                "tmpfs",
            ])
            .arg(&path)
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        if !mounted {
            if std::env::var_os("CI").is_some() {
                panic!("CI must be able to mount a small tmpfs (root)");
            }
            eprintln!("SKIPPED: mounting a small disk needs root");
            return None;
        }
        Some(SmallDisk {
            path,
            _parent: parent,
        })
    }

    /// Fills the disk to the last byte; returns the filler's path.
    fn fill(&self) -> PathBuf {
        use std::io::Write;
        let filler = self.path.join("filler");
        let mut file = std::fs::File::create(&filler).unwrap_or_else(|e| panic!("{e}"));
        let block = vec![0u8; 64 * 1024];
        while file.write_all(&block).is_ok() {}
        for size in [4096usize, 512, 1] {
            while file.write_all(&block[..size]).is_ok() {}
        }
        let _ = file.sync_all();
        filler
    }

    fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

#[tokio::test]
async fn a_full_disk_makes_the_service_not_ready_while_health_still_says_200_and_a_report_gets_a_clear_503(
) {
    let Some(disk) = SmallDisk::mount(24) else {
        return;
    };
    let dir = tempfile::tempdir_in(disk.path()).unwrap_or_else(|e| panic!("{e}"));
    let test_db = TestDb::fresh(dir.path());
    let sqlite = test_db.sqlite_path().is_some();
    let app = spawn_app_on(dir, test_db, |s| s.ready_min_free_mib = 2).await;
    app.submit_report("fr", &[("category", "funds"), ("description", "avant")])
        .await;
    let (status, body) = readiness(&app).await;
    assert_eq!(status, 200, "{body}");

    let filler = disk.fill();
    let (status, body) = fresh_readiness(&app).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["disk"], "low", "{body}");
    assert_eq!(app.get("/livez").await.status().as_u16(), 200);

    // A report now gets a calm refusal, its text kept, never a 500.
    let words = "Texte-Disque-Plein-7731";
    let res = app
        .post_form(
            "/fr/report",
            &[("category", "funds"), ("description", words)],
        )
        .await;
    let status = res.status().as_u16();
    let page = res.text().await.unwrap_or_default();
    // On PostgreSQL the database has its own disk: the report is stored.
    assert!(status == 503 || status == 200, "{status}");
    if status == 503 {
        assert!(page.contains(words), "the text is kept");
    }
    if sqlite {
        assert_eq!(status, 503);
        assert!(
            !page.contains("maybe-token"),
            "SQLite refused the commit: the page says nothing was stored, not \"maybe\""
        );
    }

    std::fs::remove_file(filler).unwrap_or_else(|e| panic!("{e}"));
    let (status, body) = fresh_readiness(&app).await;
    assert_eq!(status, 200, "ready again once there is room: {body}");
    app.submit_report("fr", &[("category", "funds"), ("description", "après")])
        .await;
}
