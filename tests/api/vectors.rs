//! Protocol v1 known-answer vectors (the same file the browser code checks).

use secrecy::ExposeSecret;
use vigie::crypto::{self, Token};

#[derive(serde::Deserialize)]
struct File {
    protocol: String,
    vectors: Vec<Vector>,
}

#[derive(serde::Deserialize)]
struct Vector {
    token_hex: String,
    display: String,
    lookup_hex: String,
    locator_sha256_hex: String,
    reply_key_hex: String,
    reply_identity: String,
    reply_recipient: String,
}

fn vectors() -> File {
    let raw = include_str!("../data/protocol-v1-vectors.json");
    serde_json::from_str(raw).unwrap_or_else(|e| panic!("vectors file: {e}"))
}

#[test]
fn every_known_answer_vector_derives_the_same_display_l_k_and_r() {
    let file = vectors();
    assert_eq!(file.protocol, "vigie/v1");
    assert!(file.vectors.len() >= 8);
    for v in &file.vectors {
        let bytes: [u8; 16] = hex::decode(&v.token_hex)
            .ok()
            .and_then(|b| b.try_into().ok())
            .unwrap_or_else(|| panic!("bad token_hex"));
        let token = Token::from_bytes(bytes);
        assert_eq!(
            token.display().expose_secret(),
            &v.display,
            "display of {}",
            v.token_hex
        );
        let derived = crypto::derive_from_token(&token);
        assert_eq!(
            hex::encode(*derived.lookup),
            v.lookup_hex,
            "L of {}",
            v.token_hex
        );
        assert_eq!(
            hex::encode(derived.locator.as_bytes()),
            v.locator_sha256_hex,
            "SHA-256(L) of {}",
            v.token_hex
        );
        assert_eq!(
            hex::encode(*crypto::reply_key_bytes(&token)),
            v.reply_key_hex,
            "K of {}",
            v.token_hex
        );
        assert_eq!(
            derived.reply_identity().to_string().expose_secret(),
            &v.reply_identity,
            "identity of {}",
            v.token_hex
        );
        assert_eq!(
            derived.reply_recipient.to_string(),
            v.reply_recipient,
            "R of {}",
            v.token_hex
        );
    }
}

#[test]
fn every_vector_display_form_parses_back_to_its_token_however_it_is_typed() {
    for v in vectors().vectors {
        for typed in [
            v.display.clone(),
            v.display.to_lowercase(),
            v.display.replace('-', ""),
            v.display.replace('-', " "),
            v.display.replace('0', "O").replace('1', "I"),
            v.display.to_lowercase().replace('1', "l"),
        ] {
            let parsed = Token::parse(&typed).map(|t| hex::encode(t.as_bytes()));
            assert_eq!(parsed.as_deref(), Ok(v.token_hex.as_str()), "{typed}");
        }
    }
}
