//! Static assets embedded in the binary, served under content-hashed names
//! with long-lived immutable caching.

use actix_web::{http::header, web, HttpRequest, HttpResponse};
use base64::Engine;

use super::AppState;

const CSS: &[u8] = include_bytes!("../../static/css/vigie.css");

/// The embedded assets and their content-hashed URLs.
#[derive(Debug, Clone)]
pub struct Assets {
    pub css_url: String,
    pub css_sri: String,
    css_name: String,
}

impl Assets {
    pub fn new() -> Self {
        let css_name = format!("vigie.{}.css", crate::crypto::fingerprint(CSS));
        let digest = {
            use sha2::Digest;
            sha2::Sha384::digest(CSS)
        };
        Assets {
            css_url: format!("/static/{css_name}"),
            css_sri: format!(
                "sha384-{}",
                base64::engine::general_purpose::STANDARD.encode(digest)
            ),
            css_name,
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
    if name == state.assets.css_name {
        return HttpResponse::Ok()
            .content_type("text/css; charset=utf-8")
            .insert_header((header::CACHE_CONTROL, "public, max-age=31536000, immutable"))
            .body(CSS);
    }
    super::reporter::not_found(req, state).await
}
