//! CORS for the API under `/elements/api-v2`, for browser applications that call the platform
//! directly. Off unless the operator names the origins allowed (`--cors-origins`): a server that
//! sets nothing answers exactly as before. Preflights are answered for the allowed origins; the
//! `Elements-*` headers clients read are exposed. Credentials travel in the `Authorization`
//! header, never in cookies, so no origin is ever allowed credentials.

use axum::http::{header, HeaderName, HeaderValue, Method};
use tower_http::cors::{AllowOrigin, CorsLayer};

/// The response headers a browser client may read.
const EXPOSED: [&str; 5] = [
    "elements-next-page-token",
    "elements-returned-count",
    "elements-total-count",
    "elements-request-id",
    "elements-element-instance-id",
];

/// How long a browser may cache a preflight's answer.
const MAX_AGE: std::time::Duration = std::time::Duration::from_secs(600);

/// Which origins may call the API from a browser.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum CorsOrigins {
    /// None (the default): no CORS headers at all.
    #[default]
    None,
    /// Any origin (`*`).
    Any,
    /// These origins exactly (`https://app.example.com`).
    List(Vec<HeaderValue>),
}

impl CorsOrigins {
    /// Parses `--cors-origins`: origins separated by commas (scheme, host and port only), or `*`.
    /// An empty list is [`CorsOrigins::None`].
    pub fn parse(text: &str) -> Result<Self, String> {
        let items: Vec<&str> = text.split(',').map(str::trim).filter(|item| !item.is_empty()).collect();
        if items.is_empty() {
            return Ok(CorsOrigins::None);
        }
        if items == ["*"] {
            return Ok(CorsOrigins::Any);
        }
        items.into_iter().map(origin).collect::<Result<_, _>>().map(CorsOrigins::List)
    }

    /// The layer that answers for these origins, if any are allowed.
    pub fn layer(&self) -> Option<CorsLayer> {
        let allow = match self {
            CorsOrigins::None => return None,
            CorsOrigins::Any => AllowOrigin::any(),
            CorsOrigins::List(origins) => AllowOrigin::list(origins.iter().cloned()),
        };
        Some(
            CorsLayer::new()
                .allow_origin(allow)
                .allow_methods([Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE])
                .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE, header::ACCEPT])
                .expose_headers(EXPOSED.map(HeaderName::from_static))
                .max_age(MAX_AGE),
        )
    }
}

/// One origin as browsers send it in `Origin`: `scheme://host[:port]`, nothing more.
fn origin(text: &str) -> Result<HeaderValue, String> {
    let refuse = || format!("'{text}' is not an origin (scheme://host[:port], e.g. https://app.example.com)");
    let url = url::Url::parse(text).map_err(|_| refuse())?;
    let bare = url.path() == "/" && url.query().is_none() && url.fragment().is_none() && url.username().is_empty();
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() || !bare || text.ends_with('/') {
        return Err(refuse());
    }
    HeaderValue::from_str(&url.origin().ascii_serialization()).map_err(|_| refuse())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_parsed_strictly() {
        assert_eq!(CorsOrigins::parse("").unwrap(), CorsOrigins::None);
        assert_eq!(CorsOrigins::parse(" * ").unwrap(), CorsOrigins::Any);
        let parsed = CorsOrigins::parse("https://app.example.com, http://localhost:3000").unwrap();
        assert_eq!(
            parsed,
            CorsOrigins::List(vec![
                HeaderValue::from_static("https://app.example.com"),
                HeaderValue::from_static("http://localhost:3000")
            ])
        );
        for bad in ["app.example.com", "https://app.example.com/path", "ftp://x", "https://a.example/", "*,https://a.b"]
        {
            assert!(CorsOrigins::parse(bad).is_err(), "{bad}");
        }
    }
}
