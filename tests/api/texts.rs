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

#[tokio::test]
async fn the_privacy_notice_states_the_controller_the_dpo_and_follows_the_legal_basis() {
    let page = |app: &crate::helpers::TestApp, path: &'static str| {
        let app = app.client.get(format!("{}{path}", app.address));
        async move {
            app.send()
                .await
                .unwrap_or_else(|e| panic!("{e}"))
                .text()
                .await
                .unwrap_or_default()
        }
    };
    let app = spawn_app_with(|s| {
        s.controller_address = "9 rue des Halles, 75001 Paris".into();
        s.controller_contact = "<script>x</script>".into();
        s.dpo_contact = "dpo@aimf.example".into();
        s.backup_retention_days = Some(35);
    })
    .await;
    let fr = page(&app, "/fr/privacy").await;
    for expected in [
        "Association internationale des maires francophones (AIMF)",
        "9 rue des Halles, 75001 Paris",
        "dpo@aimf.example",
        "article 6.1.c du RGPD",
        "le droit d'opposition ne s'applique pas",
        "Aucune donnée n'est transférée hors de l'Union européenne.",
        "Aucune décision n'est prise de manière automatisée",
        "tous les autres champs sont facultatifs",
        "au plus tard un mois",
        "sont conservées 35 jours",
        "référent désigné par le Bureau",
    ] {
        assert!(fr.contains(expected), "«{expected}» missing");
    }
    assert!(!fr.contains("<script>x"), "settings are escaped");
    assert!(fr.contains("&lt;script&gt;x"));
    assert!(!fr.contains("[à compléter"));

    let chosen = spawn_app_with(|s| {
        s.legal_basis = "legitimate_interest".into();
        s.transfers = "Hébergement au Canada (décision d'adéquation).".into();
    })
    .await;
    let fr = page(&chosen, "/fr/privacy").await;
    assert!(fr.contains("article 6.1.f du RGPD"));
    assert!(fr.contains("vous pouvez vous y opposer"));
    assert!(!fr.contains("le droit d'opposition ne s'applique pas"));
    assert!(fr.contains("Hébergement au Canada"));
    // What the secretariat has not supplied is marked, never invented.
    assert!(fr.contains("[à compléter : dpo_contact]"));
    let en = page(&chosen, "/en/privacy").await;
    assert!(en.contains("article 6.1.f GDPR"));
    assert!(en.contains("[to be completed: dpo_contact]"));
}

#[test]
fn a_legal_basis_the_notice_cannot_state_is_refused() {
    let settings = vigie::config::Settings {
        legal_basis: "consent".into(),
        ..Default::default()
    };
    assert!(settings.validate().is_err());
}

#[tokio::test]
async fn the_procedure_says_who_may_report_what_the_law_protects_and_what_is_excluded() {
    let app = spawn_app_with(|_| {}).await;
    let text = |path: &'static str| {
        let req = app.client.get(format!("{}{path}", app.address));
        async move {
            req.send()
                .await
                .unwrap_or_else(|e| panic!("{e}"))
                .text()
                .await
                .unwrap_or_default()
        }
    };
    let procedure = text("/fr/procedure").await;
    for expected in [
        "article 8 de la loi Sapin II",
        "anciens membres",
        "postulé",
        "Assemblée générale de l'AIMF",
        "membres du Bureau de l'AIMF",
        "collaborateurs extérieurs et occasionnels",
        "cocontractants et sous-traitants",
        "ne couvrent pas tout manquement à la Charte",
        "secret de la défense nationale",
        "secret médical",
        "secret des délibérations judiciaires",
        "secret professionnel de l'avocat",
        "nulle de plein droit",
        "provision pour frais",
        "Défenseur des droits peut rendre un avis",
        "syndicats",
        "devoir de réserve",
        "référent désigné par le Bureau",
    ] {
        assert!(procedure.contains(expected), "«{expected}» missing");
    }
    let english = text("/en/procedure").await;
    for expected in [
        "AIMF General Assembly",
        "lawyer–client privilege",
        "null and void",
        "trade unions",
    ] {
        assert!(english.contains(expected), "«{expected}» missing");
    }
    let home = text("/fr/").await;
    assert!(home.contains("Assemblée générale ou du Bureau"));
    assert!(home.contains("prestataire"));
    let form = text("/fr/report").await;
    assert!(form.contains("id=\"report-factual\""));
    assert!(form.contains("Restez factuel"));
}

#[tokio::test]
async fn the_external_channels_page_is_dated_and_names_only_channels_for_facts_at_the_aimf() {
    let app = spawn_app_with(|_| {}).await;
    for (path, present, absent) in [
        (
            "/fr/channels",
            [
                "À jour au 1er décembre 2026",
                "Direction générale du travail",
                "seulement pour ce que l'annexe lui confie",
                "défense et de la sécurité nationales",
            ],
            ["HATVP", "Médiateur européen"],
        ),
        (
            "/en/channels",
            [
                "Up to date on 1 December 2026",
                "Direction générale du travail",
                "only for what the annex gives it",
                "national defence and security",
            ],
            ["HATVP", "European Ombudsman"],
        ),
    ] {
        let page = app.get(path).await.text().await.unwrap_or_default();
        for expected in present {
            assert!(page.contains(expected), "{path}: «{expected}» missing");
        }
        for dropped in absent {
            assert!(
                !page.contains(dropped),
                "{path}: «{dropped}» is no channel here"
            );
        }
        for kept in ["OLAF", "Défenseur des droits", "CNIL"] {
            assert!(page.contains(kept), "{path}: «{kept}»");
        }
    }
}

#[tokio::test]
async fn the_forms_state_the_attachment_limits_that_are_set() {
    let app = spawn_app_with(|s| {
        s.max_attachment_bytes = 5_000_000;
        s.max_attachments_total_bytes = 12_000_000;
    })
    .await;
    let fr = app.get("/fr/report").await.text().await.unwrap_or_default();
    assert!(fr.contains("à 5 Mo par fichier et 12 Mo au total."), "{fr}");
    let en = app.get("/en/report").await.text().await.unwrap_or_default();
    assert!(en.contains("Up to 5 MB a file and 12 MB in all."));
}
