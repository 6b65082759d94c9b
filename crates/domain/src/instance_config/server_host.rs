//! The SSRF guard on `infusionsoft.server`: the account host Junction will call with the
//! instance's credentials.
//!
//! Owns the accepted spellings (`dt123.infusionsoft.com`, `https://dt123.infusionsoft.com`, a
//! trailing slash) and the normalized form (the bare, lower-case host). Only a host name under one
//! of [`VENDOR_DOMAINS`], or exactly the configured sandbox host, is accepted: no port, no user
//! information, no path, query or fragment, no IP address, no non-ASCII (IDN look-alikes). It does
//! not resolve names; the connector decides how a normalized host maps to a base URL.

/// The vendor's domains; an account host must be a subdomain of one of them.
pub const VENDOR_DOMAINS: [&str; 2] = ["infusionsoft.com", "keap.com"];

/// The longest DNS name (RFC 1035).
const MAX_HOST_LEN: usize = 253;
/// The longest DNS label (RFC 1035).
const MAX_LABEL_LEN: usize = 63;

/// Which account hosts an instance may name.
///
/// Invariant: `sandbox_host`, when set, is stored trimmed and lower-case, so comparison with a
/// normalized host is exact.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerPolicy {
    sandbox_host: Option<String>,
}

impl ServerPolicy {
    /// Only hosts under [`VENDOR_DOMAINS`] (production).
    pub fn vendor_only() -> Self {
        Self::default()
    }

    /// Also the simulator's host, e.g. `127.0.0.1:8091` under `--sandbox`. It is trusted as
    /// configured (it may carry a port), because the operator chose it, not the API client.
    pub fn with_sandbox_host(host: &str) -> Self {
        Self { sandbox_host: Some(host.trim().trim_end_matches('/').to_ascii_lowercase()) }
    }

    /// Normalizes `raw` to the bare lower-case host, or says why it is not allowed.
    pub fn normalize(&self, raw: &str) -> Result<String, String> {
        let host = strip_scheme(raw.trim())?;
        let host = host.strip_suffix('/').unwrap_or(host).to_ascii_lowercase();
        if self.sandbox_host.as_deref() == Some(host.as_str()) {
            return Ok(host);
        }
        check_host_syntax(&host)?;
        check_vendor_domain(&host)?;
        Ok(host)
    }
}

fn strip_scheme(text: &str) -> Result<&str, String> {
    let Some((scheme, rest)) = text.split_once("://") else {
        return Ok(text);
    };
    if scheme.eq_ignore_ascii_case("https") || scheme.eq_ignore_ascii_case("http") {
        Ok(rest)
    } else {
        Err("must be a host name or an https:// URL".into())
    }
}

fn check_host_syntax(host: &str) -> Result<(), String> {
    if host.is_empty() {
        return Err("must name a host".into());
    }
    if host.contains('@') {
        return Err("must not contain user information".into());
    }
    if host.contains(':') || host.contains('[') {
        return Err("must be a host name without a port".into());
    }
    if host.contains(['/', '?', '#', '\\']) {
        return Err("must be a host name without a path".into());
    }
    if host.len() > MAX_HOST_LEN || !host.split('.').all(is_dns_label) {
        return Err("must be a valid host name".into());
    }
    if host.split('.').all(|label| label.bytes().all(|b| b.is_ascii_digit())) {
        return Err("must be a host name, not an IP address".into());
    }
    Ok(())
}

fn is_dns_label(label: &str) -> bool {
    let bytes = label.as_bytes();
    (1..=MAX_LABEL_LEN).contains(&bytes.len())
        && bytes.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'-')
        && !label.starts_with('-')
        && !label.ends_with('-')
}

fn check_vendor_domain(host: &str) -> Result<(), String> {
    let under_vendor = VENDOR_DOMAINS
        .iter()
        .any(|domain| host.strip_suffix(domain).is_some_and(|prefix| prefix.len() > 1 && prefix.ends_with('.')));
    if under_vendor {
        Ok(())
    } else {
        Err(format!("must be a host under {}", VENDOR_DOMAINS.join(" or ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vendor(raw: &str) -> Result<String, String> {
        ServerPolicy::vendor_only().normalize(raw)
    }

    #[test]
    fn documented_spellings_normalize_to_the_bare_host() {
        for raw in [
            "dt123.infusionsoft.com",
            "https://dt123.infusionsoft.com",
            "https://dt123.infusionsoft.com/",
            "HTTPS://DT123.Infusionsoft.COM/",
            "http://dt123.infusionsoft.com",
            "  dt123.infusionsoft.com/  ",
        ] {
            assert_eq!(vendor(raw).as_deref(), Ok("dt123.infusionsoft.com"), "{raw}");
        }
    }

    #[test]
    fn keap_hosts_and_deeper_subdomains_are_accepted() {
        assert_eq!(vendor("ab123.keap.com").as_deref(), Ok("ab123.keap.com"));
        assert_eq!(vendor("sandbox.infusionsoft.com").as_deref(), Ok("sandbox.infusionsoft.com"));
        assert_eq!(vendor("a.b.infusionsoft.com").as_deref(), Ok("a.b.infusionsoft.com"));
    }

    #[test]
    fn hosts_outside_the_vendor_domains_are_refused() {
        for raw in [
            "evil.com",
            "infusionsoft.com",
            "keap.com",
            "evilinfusionsoft.com",
            "dt123.infusionsoft.com.evil.com",
            "dt123.infusionsoft.co",
            "localhost",
            "dt123.infusionsoft.com.",
        ] {
            assert!(vendor(raw).is_err(), "{raw}");
        }
    }

    #[test]
    fn ports_userinfo_paths_and_ips_are_refused() {
        let cases = [
            ("dt123.infusionsoft.com:8443", "port"),
            ("https://dt123.infusionsoft.com:443/", "port"),
            ("https://user:pw@dt123.infusionsoft.com", "user information"),
            ("evil.com@dt123.infusionsoft.com", "user information"),
            ("dt123.infusionsoft.com/api", "path"),
            ("https://dt123.infusionsoft.com//", "path"),
            ("dt123.infusionsoft.com?x=1", "path"),
            ("dt123.infusionsoft.com#x", "path"),
            ("dt123.infusionsoft.com\\x", "path"),
            ("127.0.0.1", "IP address"),
            ("[::1]", "port"),
            ("http://169.254.169.254/", "IP address"),
            ("ftp://dt123.infusionsoft.com", "https://"),
            ("", "host"),
            ("https://", "host"),
        ];
        for (raw, reason) in cases {
            let error = vendor(raw).expect_err(raw);
            assert!(error.contains(reason), "{raw}: {error}");
        }
    }

    #[test]
    fn malformed_labels_and_unicode_are_refused() {
        for raw in [
            "dt_123.infusionsoft.com",
            "-dt.infusionsoft.com",
            "dt-.infusionsoft.com",
            "dt..infusionsoft.com",
            "dt 123.infusionsoft.com",
            "dt123.infusionsoft.com\u{0}",
            "dt123.іnfusionsoft.com",
            "ｄｔ.infusionsoft.com",
        ] {
            assert!(vendor(raw).is_err(), "{raw:?}");
        }
        let long_label = format!("{}.infusionsoft.com", "a".repeat(64));
        assert!(vendor(&long_label).is_err());
        let long_host = format!("{}infusionsoft.com", "a.".repeat(130));
        assert!(vendor(&long_host).is_err());
    }

    #[test]
    fn configured_sandbox_host_is_accepted_exactly() {
        let policy = ServerPolicy::with_sandbox_host("127.0.0.1:8091");
        assert_eq!(policy.normalize("http://127.0.0.1:8091/").as_deref(), Ok("127.0.0.1:8091"));
        assert_eq!(policy.normalize("dt123.infusionsoft.com").as_deref(), Ok("dt123.infusionsoft.com"));
        assert!(policy.normalize("127.0.0.1:8092").is_err());
        assert!(policy.normalize("127.0.0.1").is_err());
    }
}
