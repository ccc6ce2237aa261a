//! Without JavaScript, pictures lose their hidden information on the server
//! before they are sealed (`domain::scrub`), unless the reporter asks to
//! keep them as they are; the receipt says what was removed.

use serde_json::Value;
use vigie::crypto::{self, Token};

use crate::helpers::{spawn_app, token_of, TestApp};

fn jpeg_segment(marker: u8, data: &[u8]) -> Vec<u8> {
    let mut s = vec![0xff, marker];
    s.extend_from_slice(&u16::try_from(data.len() + 2).unwrap_or(0).to_be_bytes());
    s.extend_from_slice(data);
    s
}

/// A tiny JPEG whose EXIF names a GPS position and a camera, with a
/// comment; and the same picture without them.
fn photo_with_gps() -> (Vec<u8>, Vec<u8>) {
    let mut exif = b"Exif\0\0II*\0\x08\0\0\0\x02\0".to_vec();
    for tag in [0x8825u16, 0x010f] {
        exif.extend_from_slice(&tag.to_le_bytes());
        exif.extend_from_slice(&[2, 0, 1, 0, 0, 0, 0, 0, 0, 0]);
    }
    exif.extend_from_slice(&[0, 0, 0, 0]);
    let hidden = [
        jpeg_segment(0xe1, &exif),
        jpeg_segment(0xfe, b"Photo de Jean Dupont, bureau 12"),
    ];
    let kept = [
        jpeg_segment(0xe0, b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0"),
        jpeg_segment(0xdb, &[1u8; 65]),
        jpeg_segment(0xc0, &[8, 0, 1, 0, 1, 1, 1, 0x11, 0]),
        jpeg_segment(0xda, &[1, 1, 0, 0, 0x3f, 0]),
    ];
    let (mut with, mut without) = (vec![0xff, 0xd8], vec![0xff, 0xd8]);
    with.extend(hidden.concat());
    for part in kept {
        with.extend_from_slice(&part);
        without.extend_from_slice(&part);
    }
    for part in [&[0x12, 0xff, 0x00, 0x34][..], &[0xff, 0xd9]] {
        with.extend_from_slice(part);
        without.extend_from_slice(part);
    }
    (with, without)
}

/// Sends the photo without JavaScript; returns the receipt and the picture
/// as the Secretary opens it.
async fn send_photo(app: &TestApp, photo: &[u8], keep: bool) -> (String, Vec<u8>) {
    let mut fields = vec![
        ("category", "funds"),
        ("description", "La photo du chantier"),
        ("privacy_ack", "yes"),
    ];
    if keep {
        fields.push(("keep_metadata", "yes"));
    }
    let (kind, body) =
        crate::helpers::multipart_report(&fields, "chantier.jpg", "image/jpeg", photo);
    let res = app.post_raw("/fr/report", &kind, body).await;
    assert_eq!(res.status().as_u16(), 200);
    let receipt = res.text().await.unwrap_or_default();
    let token = Token::parse(&token_of(&receipt)).unwrap_or_else(|e| panic!("{e}"));
    let case = app.look_up(&token).unwrap_or_else(|| panic!("the case"));
    let entries = case.entries(&mut app.conn()).unwrap_or_default();
    let report = crypto::decrypt(&app.identities[..1], &entries[0].ciphertext)
        .unwrap_or_else(|e| panic!("{e}"));
    let report: Value = serde_json::from_slice(report.trim_ascii_end()).unwrap_or_default();
    let file = &report["attachments"][0];
    let id = file["id"].as_str().unwrap_or_default();
    let s = app.login().await;
    let res = s
        .page(&format!(
            "/api/v1/secretary/cases/{}/attachments/{id}",
            case.id
        ))
        .await;
    let sealed = res.bytes().await.map(|b| b.to_vec()).unwrap_or_default();
    let opened = crypto::decrypt(&app.identities[..1], &sealed).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(file["size"].as_u64(), Some(opened.len() as u64));
    (receipt, opened.to_vec())
}

#[tokio::test]
async fn without_javascript_a_photo_loses_its_gps_and_camera_before_it_is_sealed_and_the_receipt_says_so(
) {
    let app = spawn_app().await;
    let (photo, clean) = photo_with_gps();
    let (receipt, opened) = send_photo(&app, &photo, false).await;
    assert!(receipt.contains("id=\"file-notes\""), "{receipt}");
    assert!(receipt.contains("chantier.jpg"));
    for kind in ["position GPS", "appareil photo", "commentaire"] {
        assert!(receipt.contains(kind), "the receipt names {kind}");
    }
    assert_eq!(opened, clean);
    assert!(!opened.windows(6).any(|w| w == b"Exif\0\0"));
}

#[tokio::test]
async fn a_reporter_who_asks_to_keep_a_photo_as_it_is_gets_it_sealed_untouched() {
    let app = spawn_app().await;
    let (photo, _) = photo_with_gps();
    let (receipt, opened) = send_photo(&app, &photo, true).await;
    assert_eq!(opened, photo);
    assert!(!receipt.contains("id=\"file-notes\""));
}
