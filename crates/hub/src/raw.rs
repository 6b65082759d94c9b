//! The raw passthrough: a vendor REST call with the session's credentials injected (refreshed,
//! rate-limited, retried like any call) and the vendor's answer returned as it came.
//!
//! Only paths under the vendor's REST base are forwarded: a path is plain segments of URL-safe
//! characters, so `..`, absolute URLs, other hosts and encoded tricks are refused before anything
//! is sent.

use bytes::Bytes;
use connector::reqwest::Method;
use connector::{VendorReply, VendorRequest};

use crate::{Hub, HubError, Session};

/// The longest vendor path forwarded.
const MAX_PATH_LEN: usize = 2048;

impl Hub {
    /// Forwards `method path?query` with `body` (of `content_type`, JSON when not given).
    pub async fn raw(
        &self,
        session: &Session<'_>,
        method: Method,
        path: &str,
        query: Vec<(String, String)>,
        body: Bytes,
        content_type: Option<String>,
    ) -> Result<VendorReply, HubError> {
        let request = VendorRequest {
            method,
            path: vendor_path(path)?,
            query,
            body: (!body.is_empty()).then_some(body),
            content_type: content_type.or_else(|| Some("application/json".into())),
        };
        Ok(self.vendor.send(&session.call, &request).await?)
    }
}

/// The vendor path, if it stays under the REST base.
fn vendor_path(path: &str) -> Result<String, HubError> {
    let refuse = |why: &str| HubError::BadRequest(format!("Invalid raw vendor path: {why}"));
    if path.is_empty() {
        return Err(refuse("it is empty"));
    }
    if path.len() > MAX_PATH_LEN {
        return Err(refuse("it is longer than 2048 characters"));
    }
    for (index, segment) in path.split('/').enumerate() {
        if segment.is_empty() || segment == "." || segment == ".." {
            return Err(refuse("empty, '.' and '..' segments are not allowed"));
        }
        let safe = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '~' | ':' | ',');
        if !segment.chars().all(safe) {
            return Err(refuse("only letters, digits and - _ . ~ : , are allowed in segments"));
        }
        if index == 0 && segment.contains(':') {
            return Err(refuse("it must be a path under the vendor's REST base, not a URL"));
        }
    }
    Ok(path.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_under_the_rest_base_pass_and_escapes_are_refused() {
        for good in ["v2/contacts", "v1/contacts/12", "v2/products/3:adjustInventory", "v2/tags/1/contacts:applyTags"] {
            assert_eq!(vendor_path(good).unwrap(), good);
        }
        for bad in [
            "",
            "../token",
            "v2/../../token",
            "v2//contacts",
            "http://evil.example/x",
            "https:evil",
            "v2/a b",
            "v2/%2e%2e",
            "v2/contacts?x=1",
            "v2/contacts#f",
            "//evil.example/x",
            "v2/a\\b",
            "v2/./x",
        ] {
            assert!(vendor_path(bad).is_err(), "{bad}");
        }
    }
}
