//! Static assets embedded in the binary, served under content-hashed names
//! with long-lived immutable caching, referenced with Subresource Integrity,
//! and compressed once (gzip and brotli) on first request.

use std::{io::Write, sync::OnceLock};

use actix_web::{http::header, web, HttpRequest, HttpResponse};
use base64::Engine;

use super::AppState;

const CSS: &[u8] = include_bytes!("../../static/css/vigie.css");
const ICON: &[u8] = include_bytes!("../../static/favicon.svg");
const AGE_JS: &[u8] = include_bytes!("../../static/vendor/age.js");
const PROTOCOL_JS: &[u8] = include_bytes!("../../static/js/protocol.js");
const REPORT_JS: &[u8] = include_bytes!("../../static/js/report.js");
const SECRETARY_JS: &[u8] = include_bytes!("../../static/js/secretary.js");
const FOLLOWUP_JS: &[u8] = include_bytes!("../../static/js/followup.js");
const THREAD_JS: &[u8] = include_bytes!("../../static/js/thread.js");
const METADATA_JS: &[u8] = include_bytes!("../../static/js/metadata.js");
const FILES_JS: &[u8] = include_bytes!("../../static/js/files.js");

/// A script or stylesheet as a page references it.
#[derive(Debug, Clone)]
pub struct AssetRef {
    pub url: String,
    pub sri: String,
}

/// One embedded file under its content-hashed name.
#[derive(Debug)]
struct Asset {
    name: String,
    content_type: &'static str,
    bytes: Vec<u8>,
    gzip: OnceLock<Vec<u8>>,
    brotli: OnceLock<Vec<u8>>,
}

impl Asset {
    fn new(stem: &str, ext: &str, content_type: &'static str, bytes: Vec<u8>) -> Self {
        Asset {
            name: format!("{stem}.{}.{ext}", crate::crypto::fingerprint(&bytes)),
            content_type,
            bytes,
            gzip: OnceLock::new(),
            brotli: OnceLock::new(),
        }
    }

    fn url(&self) -> String {
        format!("/static/{}", self.name)
    }

    fn reference(&self) -> AssetRef {
        let digest = crate::crypto::sha384(&self.bytes);
        AssetRef {
            url: self.url(),
            sri: format!(
                "sha384-{}",
                base64::engine::general_purpose::STANDARD.encode(digest)
            ),
        }
    }

    fn gzip(&self) -> &[u8] {
        self.gzip.get_or_init(|| {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
            let _ = e.write_all(&self.bytes);
            e.finish().unwrap_or_default()
        })
    }

    fn brotli(&self) -> &[u8] {
        self.brotli.get_or_init(|| {
            let mut out = Vec::new();
            {
                let mut w = brotli::CompressorWriter::new(&mut out, 4096, 11, 22);
                let _ = w.write_all(&self.bytes);
            }
            out
        })
    }
}

/// A module's source with its relative imports pointed at hashed URLs.
fn relink(source: &[u8], links: &[(&str, &Asset)]) -> Vec<u8> {
    let mut text = String::from_utf8_lossy(source).into_owned();
    for (from, to) in links {
        text = text.replace(&format!("'{from}'"), &format!("'{}'", to.url()));
    }
    text.into_bytes()
}

/// The embedded assets and their content-hashed URLs.
#[derive(Debug)]
pub struct Assets {
    pub css: AssetRef,
    pub icon_url: String,
    /// The report page's entry module. The modules it imports are named by
    /// their content hash; a `modulepreload` with SRI for them would make
    /// browsers with JavaScript off start downloading them for nothing.
    pub report_js: AssetRef,
    /// The Secretary's workspace entry module.
    pub secretary_js: AssetRef,
    /// The follow-up pages' entry module.
    pub followup_js: AssetRef,
    files: Vec<Asset>,
}

impl Assets {
    pub fn new() -> Self {
        let css = Asset::new("vigie", "css", "text/css; charset=utf-8", CSS.to_vec());
        let icon = Asset::new("favicon", "svg", "image/svg+xml", ICON.to_vec());
        let js = "text/javascript; charset=utf-8";
        // Imports name hashed files, so each importer is hashed after what it imports.
        let age = Asset::new("age", "js", js, AGE_JS.to_vec());
        let thread = Asset::new("thread", "js", js, THREAD_JS.to_vec());
        let metadata = Asset::new("metadata", "js", js, METADATA_JS.to_vec());
        let protocol = Asset::new(
            "protocol",
            "js",
            js,
            relink(PROTOCOL_JS, &[("../vendor/age.js", &age)]),
        );
        let files = Asset::new(
            "files",
            "js",
            js,
            relink(
                FILES_JS,
                &[("./protocol.js", &protocol), ("./metadata.js", &metadata)],
            ),
        );
        let links = [
            ("../vendor/age.js", &age),
            ("./protocol.js", &protocol),
            ("./thread.js", &thread),
            ("./metadata.js", &metadata),
            ("./files.js", &files),
        ];
        let report = Asset::new("report", "js", js, relink(REPORT_JS, &links));
        let followup = Asset::new("followup", "js", js, relink(FOLLOWUP_JS, &links));
        let secretary = Asset::new("secretary", "js", js, relink(SECRETARY_JS, &links));
        Assets {
            css: css.reference(),
            icon_url: icon.url(),
            report_js: report.reference(),
            secretary_js: secretary.reference(),
            followup_js: followup.reference(),
            files: vec![
                css, icon, age, thread, metadata, files, protocol, report, followup, secretary,
            ],
        }
    }
}

impl Default for Assets {
    fn default() -> Self {
        Self::new()
    }
}

fn accepts(req: &HttpRequest, encoding: &str) -> bool {
    req.headers()
        .get_all(header::ACCEPT_ENCODING)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|e| {
            let mut parts = e.split(';');
            let name = parts.next().unwrap_or_default().trim();
            let refused = parts.any(|p| p.trim().replace(' ', "") == "q=0");
            name.eq_ignore_ascii_case(encoding) && !refused
        })
}

pub async fn serve(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let name = req.match_info().get("name").unwrap_or_default();
    let Some(asset) = state.assets.files.iter().find(|a| a.name == name) else {
        return super::request::not_found(req, state).await;
    };
    let mut res = HttpResponse::Ok();
    res.content_type(asset.content_type)
        .insert_header((header::CACHE_CONTROL, "public, max-age=31536000, immutable"))
        .insert_header((header::VARY, "Accept-Encoding"));
    if accepts(&req, "br") {
        res.insert_header((header::CONTENT_ENCODING, "br"))
            .body(asset.brotli().to_vec())
    } else if accepts(&req, "gzip") {
        res.insert_header((header::CONTENT_ENCODING, "gzip"))
            .body(asset.gzip().to_vec())
    } else {
        res.insert_header(header::ContentEncoding::Identity)
            .body(asset.bytes.clone())
    }
}
