//! Static assets embedded in the binary, served under content-hashed names
//! with long-lived immutable caching.

use actix_web::{http::header, web, HttpRequest, HttpResponse};
use base64::Engine;

use super::AppState;

const CSS: &[u8] = include_bytes!("../../static/css/vigie.css");
const ICON: &[u8] = include_bytes!("../../static/favicon.svg");

/// One embedded file under its content-hashed name.
#[derive(Debug, Clone)]
struct Asset {
    name: String,
    content_type: &'static str,
    bytes: &'static [u8],
}

impl Asset {
    fn new(stem: &str, ext: &str, content_type: &'static str, bytes: &'static [u8]) -> Self {
        Asset {
            name: format!("{stem}.{}.{ext}", crate::crypto::fingerprint(bytes)),
            content_type,
            bytes,
        }
    }
}

/// The embedded assets and their content-hashed URLs.
#[derive(Debug, Clone)]
pub struct Assets {
    pub css_url: String,
    pub css_sri: String,
    pub icon_url: String,
    files: Vec<Asset>,
}

impl Assets {
    pub fn new() -> Self {
        let css = Asset::new("vigie", "css", "text/css; charset=utf-8", CSS);
        let icon = Asset::new("favicon", "svg", "image/svg+xml", ICON);
        let digest = {
            use sha2::Digest;
            sha2::Sha384::digest(CSS)
        };
        Assets {
            css_url: format!("/static/{}", css.name),
            css_sri: format!(
                "sha384-{}",
                base64::engine::general_purpose::STANDARD.encode(digest)
            ),
            icon_url: format!("/static/{}", icon.name),
            files: vec![css, icon],
        }
    }
}

impl Default for Assets {
    fn default() -> Self {
        Self::new()
    }
}

pub async fn serve(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let name = req.match_info().get("name").unwrap_or_default();
    if let Some(asset) = state.assets.files.iter().find(|a| a.name == name) {
        return HttpResponse::Ok()
            .content_type(asset.content_type)
            .insert_header((header::CACHE_CONTROL, "public, max-age=31536000, immutable"))
            .body(asset.bytes);
    }
    super::reporter::not_found(req, state).await
}
