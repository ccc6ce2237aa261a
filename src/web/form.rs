//! Reading a request body within a limit, and strict URL-encoded form parsing
//! (invalid UTF-8 is an error, not silently replaced).

use actix_web::{http::header, web, HttpRequest};
use futures_util::StreamExt;
use zeroize::{Zeroize, Zeroizing};

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FormError {
    #[error("body over the configured limit")]
    TooLarge,
    #[error("body is not valid UTF-8 once decoded")]
    InvalidEncoding,
    #[error("not a URL-encoded form")]
    NotAForm,
    #[error("the body could not be read")]
    Broken,
    #[error("the body arrived too slowly")]
    TimedOut,
    #[error("the form has too many parts or files")]
    TooManyParts,
}

impl FormError {
    pub fn message_key(self) -> &'static str {
        match self {
            FormError::TooLarge => "error-body-too-large",
            FormError::InvalidEncoding => "error-invalid-encoding",
            FormError::NotAForm | FormError::Broken => "error-bad-form",
            FormError::TimedOut => "error-body-timeout",
            FormError::TooManyParts => "error-too-many-parts",
        }
    }
}

/// Reads the whole body into one zeroizing buffer, allocated once so that
/// no reallocation leaves a copy of the text behind.
pub async fn read_body(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<Zeroizing<Vec<u8>>, FormError> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(FormError::TooLarge);
    }
    let mut body = Zeroizing::new(Vec::with_capacity(declared.unwrap_or(limit).min(limit)));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| broken(req))?;
        if body.len() + chunk.len() > limit {
            return Err(FormError::TooLarge);
        }
        if body.capacity() < body.len() + chunk.len() {
            let mut bigger = Zeroizing::new(Vec::with_capacity(limit));
            bigger.extend_from_slice(&body);
            body = bigger;
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Why a body could not be read: too slow, or broken.
pub fn broken(req: &HttpRequest) -> FormError {
    if super::body::timed_out(req) {
        FormError::TimedOut
    } else {
        FormError::Broken
    }
}

/// True when the request says it carries `application/x-www-form-urlencoded`.
pub fn is_urlencoded(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

/// One decoded form field. Both parts are zeroized on drop.
pub struct Field {
    pub name: Zeroizing<String>,
    pub value: Zeroizing<String>,
}

fn decode(raw: &[u8]) -> Result<Zeroizing<String>, FormError> {
    let mut plus_as_space = Zeroizing::new(raw.to_vec());
    for b in plus_as_space.iter_mut() {
        if *b == b'+' {
            *b = b' ';
        }
    }
    // Decoding never lengthens the text: one allocation, no stray copies.
    let mut decoded = Vec::with_capacity(plus_as_space.len());
    decoded.extend(percent_encoding::percent_decode(&plus_as_space));
    match String::from_utf8(decoded) {
        Ok(s) => Ok(Zeroizing::new(s)),
        Err(e) => {
            let mut bytes = e.into_bytes();
            bytes.zeroize();
            Err(FormError::InvalidEncoding)
        }
    }
}

/// Parses `a=1&b=2`, refusing anything that does not decode to UTF-8.
pub fn parse_urlencoded(body: &[u8]) -> Result<Vec<Field>, FormError> {
    body.split(|b| *b == b'&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = match pair.iter().position(|b| *b == b'=') {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, &[][..]),
            };
            Ok(Field {
                name: decode(name)?,
                value: decode(value)?,
            })
        })
        .collect()
}

/// The first value of the field `name`, or an empty string.
pub fn take(fields: &[Field], name: &str) -> String {
    fields
        .iter()
        .find(|f| f.name.as_str() == name)
        .map(|f| f.value.to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_decode_plus_and_percent_escapes() {
        let parsed = parse_urlencoded(b"a=caf%C3%A9+cr%C3%A8me&b=&c&a=second");
        let fields = parsed.unwrap_or_default();
        assert_eq!(take(&fields, "a"), "café crème");
        assert_eq!(take(&fields, "b"), "");
        assert_eq!(take(&fields, "c"), "");
        assert_eq!(take(&fields, "missing"), "");
    }

    #[test]
    fn invalid_utf8_is_refused() {
        for body in [&b"a=%FF"[..], b"%C3=x", b"a=%C3%28"] {
            assert_eq!(
                parse_urlencoded(body).err(),
                Some(FormError::InvalidEncoding)
            );
        }
    }
}
