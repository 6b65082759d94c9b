//! The vendor's addresses: the authorize page, the token endpoint and the REST API base. They come
//! from configuration, never from a request, so no user input can point Junction's outbound calls
//! at another host.

use url::Url;

/// Where the vendor's OAuth and REST endpoints are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VendorEndpoints {
    /// The authorize page users are sent to.
    pub authorize: Url,
    /// The token endpoint (code exchange and refresh).
    pub token: Url,
    /// The REST base, ending in `/crm/rest/` (v1 and v2 paths are joined to it).
    pub api_base: Url,
}

impl VendorEndpoints {
    /// The real Infusionsoft: `accounts.infusionsoft.com` for consent, `api.infusionsoft.com` for
    /// tokens and REST (FACTS.md §1.1, §1.2, §2.1).
    pub fn infusionsoft() -> Self {
        VendorEndpoints {
            authorize: fixed("https://accounts.infusionsoft.com/app/oauth/authorize"),
            token: fixed("https://api.infusionsoft.com/token"),
            api_base: fixed("https://api.infusionsoft.com/crm/rest/"),
        }
    }

    /// The simulator at `base` (e.g. `http://127.0.0.1:8091`), which serves every endpoint.
    pub fn simulator(base: &Url) -> Result<Self, url::ParseError> {
        Ok(VendorEndpoints {
            authorize: base.join("/app/oauth/authorize")?,
            token: base.join("/token")?,
            api_base: base.join("/crm/rest/")?,
        })
    }
}

fn fixed(url: &str) -> Url {
    Url::parse(url).unwrap_or_else(|e| unreachable!("built-in vendor URL {url} is valid: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simulator_endpoints_hang_off_its_base() {
        let endpoints = VendorEndpoints::simulator(&Url::parse("http://127.0.0.1:8091").unwrap()).unwrap();
        assert_eq!(endpoints.token.as_str(), "http://127.0.0.1:8091/token");
        assert_eq!(
            endpoints.api_base.join("v2/contacts").unwrap().as_str(),
            "http://127.0.0.1:8091/crm/rest/v2/contacts"
        );
        assert_eq!(VendorEndpoints::infusionsoft().token.host_str(), Some("api.infusionsoft.com"));
    }
}
