//! Where a passphrase comes from: `VIGIE_PASSPHRASE`, or the terminal.

use std::io::IsTerminal;

use secrecy::SecretString;

pub(super) fn passphrase_from_env() -> Option<SecretString> {
    std::env::var("VIGIE_PASSPHRASE")
        .ok()
        .map(SecretString::from)
}

pub(super) fn prompt(text: &str) -> Option<SecretString> {
    if !std::io::stdin().is_terminal() {
        return None;
    }
    rpassword::prompt_password(format!("{text} "))
        .ok()
        .map(SecretString::from)
}
