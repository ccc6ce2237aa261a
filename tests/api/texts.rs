//! The published texts state the numbers that apply: the retention from
//! the configuration (the floor while a shorter one is not confirmed) and
//! the law's deadlines.

use crate::helpers::spawn_app_with;

const PAGES: [&str; 4] = ["procedure", "privacy", "channels", "advice"];

#[tokio::test]
async fn the_texts_state_the_retention_that_applies_and_no_placeholder_is_left() {
    let table = [(45, "45"), (60, "60"), (0, "30"), (12, "30")];
    for (configured, shown) in table {
        let app = spawn_app_with(|s| s.retention_days = configured).await;
        let privacy = app
            .get("/fr/privacy")
            .await
            .text()
            .await
            .unwrap_or_default();
        assert!(
            privacy.contains(&format!("conservé {shown} jours pleins")),
            "retention {configured}: {privacy}"
        );
        let procedure = app
            .get("/en/procedure")
            .await
            .text()
            .await
            .unwrap_or_default();
        assert!(procedure.contains(&format!("kept for {shown} full days")));
        assert!(procedure.contains("within 7 days"));
        assert!(procedure.contains("within 3 months of the acknowledgement"));
        for lang in ["fr", "en"] {
            for page in PAGES {
                let html = app
                    .get(&format!("/{lang}/{page}"))
                    .await
                    .text()
                    .await
                    .unwrap_or_default();
                assert!(!html.contains("{{"), "/{lang}/{page} keeps a placeholder");
            }
        }
    }
}
