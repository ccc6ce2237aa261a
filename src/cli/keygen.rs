//! `vigie keygen`: a new Secretary identity, plain or passphrase-protected.

use std::path::Path;

use anyhow::{bail, Context};
use secrecy::ExposeSecret;

use super::passphrase::{passphrase_from_env, prompt};
use crate::{
    crypto,
    i18n::{I18n, Lang},
};

pub(super) fn keygen(i18n: &I18n, lang: Lang, out: &Path, protect: bool) -> anyhow::Result<i32> {
    let passphrase = if protect {
        let first = passphrase_from_env()
            .or_else(|| prompt(&i18n.get(lang, "cli-passphrase-prompt")))
            .context("no passphrase: set VIGIE_PASSPHRASE or run on a terminal")?;
        if passphrase_from_env().is_none() {
            let again = prompt(&i18n.get(lang, "cli-passphrase-again")).unwrap_or_default();
            if again.expose_secret() != first.expose_secret() {
                bail!(i18n.get(lang, "cli-passphrase-mismatch"));
            }
        }
        if first.expose_secret().chars().count() < 10 {
            bail!(i18n.get(lang, "cli-passphrase-short"));
        }
        Some(first)
    } else {
        None
    };
    let identity = crypto::generate_identity();
    crypto::write_identity_file(out, &identity, passphrase.as_ref())
        .with_context(|| out.display().to_string())?;
    eprintln!(
        "{}",
        i18n.get_with(
            lang,
            "cli-keygen-done",
            &[("file", out.display().to_string())]
        )
    );
    if passphrase.is_none() {
        eprintln!("{}", i18n.get(lang, "cli-keygen-plain-warning"));
    }
    println!("{}", identity.to_public());
    Ok(0)
}
