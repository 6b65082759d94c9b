//! The rule for URLs Junction hands to someone else: absolute `http` or `https`, with a host and
//! no fragment (RFC 6749 §3.1.2 forbids fragments in redirect URIs).
//!
//! Owns only that check; it does not decide whether a host is trusted (see
//! [`crate::instance_config`] for the vendor-host guard).

use url::Url;

/// Parses `text` as an absolute http(s) URL, or says why it is not one (without echoing it).
pub(crate) fn parse_absolute_http_url(text: &str) -> Result<Url, String> {
    let url = Url::parse(text.trim()).map_err(|_| "must be an absolute http(s) URL".to_string())?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("must use the http or https scheme".into());
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("must name a host".into());
    }
    if url.fragment().is_some() {
        return Err("must not contain a fragment (#...)".into());
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_http_and_https_urls() {
        for text in ["https://www.mycoolapp.com/auth", "http://127.0.0.1:9000/cb?x=1", " https://a.b/ "] {
            assert!(parse_absolute_http_url(text).is_ok(), "{text}");
        }
    }

    #[test]
    fn rejects_relative_odd_scheme_and_fragment() {
        for text in
            ["", "/auth", "https;//mycoolapp.com", "ftp://x.y/", "javascript:alert(1)", "https://a.b/#f", "mailto:a@b"]
        {
            assert!(parse_absolute_http_url(text).is_err(), "{text}");
        }
    }
}
