//! The vendor authorize URL of `GET|POST /elements/{keyOrId}/oauth/url`.
//!
//! Owns the request's validation (`apiKey`, `apiSecret`, `callbackUrl` required; `callbackUrl` an
//! absolute http(s) URL) and the URL's query: `scope`, `response_type=code`, `redirect_uri`,
//! `state`, `client_id`, in the order of the vendor documentation's example, each form-URL-encoded.
//! It does not own which authorize endpoint is used (configuration: the real vendor or the
//! simulator) nor signing the console's `state`.
//!
//! `apiSecret` is required by the wire contract but never placed in the URL. `siteAddress` is
//! accepted and ignored: Infusionsoft's consent page chooses the account, not the URL.

use crate::absolute_url::parse_absolute_http_url;
use crate::elements::Element;
use crate::error::DomainError;
use serde::{Deserialize, Serialize};
use url::Url;

/// The scope requested when the client names none; Infusionsoft knows only `full`.
pub const DEFAULT_SCOPE: &str = "full";

/// The parameters of the request, from the query string (GET) or the JSON body (POST).
///
/// Every field is optional here so that a missing one is reported by name by [`build`] rather
/// than as a deserialization error. Unknown fields (`callbackProxy`, `requestToken`, ...) are
/// ignored, as the platforms did for elements that do not use them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OAuthUrlRequest {
    pub api_key: Option<String>,
    pub api_secret: Option<String>,
    pub callback_url: Option<String>,
    pub state: Option<String>,
    pub scope: Option<String>,
    pub site_address: Option<String>,
}

/// The response body: `{"oauthUrl": "...", "element": "<key>"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OAuthRedirect {
    pub oauth_url: String,
    pub element: String,
}

/// Builds the authorize URL for `element` on `authorize_endpoint` (any query it already has is
/// kept). `state` defaults to the element key, `scope` to [`DEFAULT_SCOPE`]; blank counts as absent.
pub fn build(
    element: &Element,
    request: &OAuthUrlRequest,
    authorize_endpoint: &Url,
) -> Result<OAuthRedirect, DomainError> {
    let client_id = required(&request.api_key, "apiKey")?;
    required(&request.api_secret, "apiSecret")?;
    let callback = required(&request.callback_url, "callbackUrl")?;
    // Sent as given, not re-serialized: the token exchange must repeat it byte for byte.
    parse_absolute_http_url(callback)
        .map_err(|reason| DomainError::InvalidParameter { name: "callbackUrl".into(), reason })?;
    let scope = optional(&request.scope).unwrap_or(DEFAULT_SCOPE);
    let state = optional(&request.state).unwrap_or(&element.key);

    let mut url = authorize_endpoint.clone();
    url.query_pairs_mut()
        .append_pair("scope", scope)
        .append_pair("response_type", "code")
        .append_pair("redirect_uri", callback)
        .append_pair("state", state)
        .append_pair("client_id", client_id);
    Ok(OAuthRedirect { oauth_url: url.into(), element: element.key.clone() })
}

fn optional(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|value| !value.is_empty())
}

fn required<'a>(value: &'a Option<String>, name: &str) -> Result<&'a str, DomainError> {
    optional(value).ok_or_else(|| DomainError::MissingParameter(name.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::elements::Catalog;

    /// A change made to a complete request.
    type Edit = fn(&mut OAuthUrlRequest);

    const VENDOR_AUTHORIZE: &str = "https://signin.infusionsoft.com/app/oauth/authorize";

    fn element(key: &str) -> &'static Element {
        Catalog::builtin().get(key).expect("element")
    }

    fn request(api_key: &str, callback_url: &str) -> OAuthUrlRequest {
        OAuthUrlRequest {
            api_key: Some(api_key.into()),
            api_secret: Some("fake_api_secret".into()),
            callback_url: Some(callback_url.into()),
            ..OAuthUrlRequest::default()
        }
    }

    fn build_on_vendor(key: &str, request: &OAuthUrlRequest) -> Result<OAuthRedirect, DomainError> {
        build(element(key), request, &Url::parse(VENDOR_AUTHORIZE).expect("url"))
    }

    #[test]
    fn crm_seed_example_is_reproduced_exactly() {
        let redirect =
            build_on_vendor("infusionsoftcrm", &request("4ynetc9z7v6vajwvkwvxvgxj", "https://httpbin.org/get"));
        let expected = "https://signin.infusionsoft.com/app/oauth/authorize?scope=full&response_type=code\
                        &redirect_uri=https%3A%2F%2Fhttpbin.org%2Fget&state=infusionsoftcrm&client_id=4ynetc9z7v6vajwvkwvxvgxj";
        assert_eq!(redirect, Ok(OAuthRedirect { oauth_url: expected.into(), element: "infusionsoftcrm".into() }));
    }

    #[test]
    fn erp_seed_example_is_reproduced_exactly() {
        let redirect = build_on_vendor(
            "infusionsofterp",
            &request("82hiop09e7uev42hjkf82qyuc", "https://auth.cloudelements.io/oauth"),
        );
        let expected = "https://signin.infusionsoft.com/app/oauth/authorize?scope=full&response_type=code\
                        &redirect_uri=https%3A%2F%2Fauth.cloudelements.io%2Foauth&state=infusionsofterp&client_id=82hiop09e7uev42hjkf82qyuc";
        assert_eq!(redirect.expect("builds").oauth_url, expected);
    }

    #[test]
    fn callback_is_sent_exactly_as_given() {
        let redirect = build_on_vendor("infusionsoftcrm", &request("id", "https://Www.MyCoolApp.com")).expect("builds");
        assert!(redirect.oauth_url.contains("redirect_uri=https%3A%2F%2FWww.MyCoolApp.com&"), "{}", redirect.oauth_url);
    }

    #[test]
    fn response_uses_the_wire_names() {
        let redirect = build_on_vendor("infusionsoftcrm", &request("id", "https://a.b/")).expect("builds");
        let wire = serde_json::to_value(&redirect).expect("serializes");
        assert_eq!(wire["element"], "infusionsoftcrm");
        assert!(wire["oauthUrl"].is_string());
    }

    #[test]
    fn state_and_scope_are_encoded_when_given() {
        let mut given = request("id&x=1", "https://app.example/cb?next=/home&lang=en");
        given.state = Some("a b&c=d/é".into());
        given.scope = Some("full extra".into());
        let url = Url::parse(&build_on_vendor("infusionsoftcrm", &given).expect("builds").oauth_url).expect("url");
        let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        let get = |name: &str| pairs.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str());
        assert_eq!(get("state"), Some("a b&c=d/é"));
        assert_eq!(get("scope"), Some("full extra"));
        assert_eq!(get("client_id"), Some("id&x=1"));
        assert_eq!(get("redirect_uri"), Some("https://app.example/cb?next=/home&lang=en"));
        assert_eq!(pairs.len(), 5, "no parameter leaks out of its value");
    }

    #[test]
    fn blank_state_and_scope_take_the_defaults() {
        let mut given = request("id", "https://a.b/cb");
        given.state = Some("  ".into());
        given.scope = Some(String::new());
        let oauth_url = build_on_vendor("infusionsofterp", &given).expect("builds").oauth_url;
        assert!(oauth_url.contains("scope=full&") && oauth_url.contains("state=infusionsofterp&"), "{oauth_url}");
    }

    #[test]
    fn api_secret_never_appears_in_the_url() {
        let mut given = request("id", "https://a.b/cb");
        given.api_secret = Some("very-secret-value".into());
        let oauth_url = build_on_vendor("infusionsoftcrm", &given).expect("builds").oauth_url;
        assert!(!oauth_url.contains("very-secret-value"));
    }

    #[test]
    fn each_missing_parameter_is_named() {
        let complete = request("id", "https://a.b/cb");
        let cases: [(&str, Edit); 3] = [
            ("apiKey", |request| request.api_key = None),
            ("apiSecret", |request| request.api_secret = Some(" ".into())),
            ("callbackUrl", |request| request.callback_url = None),
        ];
        for (name, remove) in cases {
            let mut given = complete.clone();
            remove(&mut given);
            assert_eq!(build_on_vendor("infusionsoftcrm", &given), Err(DomainError::MissingParameter(name.into())));
        }
    }

    #[test]
    fn callback_must_be_an_absolute_http_url() {
        for callback in ["/relative", "https;//mycoolapp.com", "ftp://a.b/", "https://a.b/#frag"] {
            let error = build_on_vendor("infusionsoftcrm", &request("id", callback)).unwrap_err();
            assert!(
                matches!(error, DomainError::InvalidParameter { ref name, .. } if name == "callbackUrl"),
                "{callback}"
            );
        }
    }

    #[test]
    fn sandbox_endpoint_with_its_own_query_is_kept() {
        let endpoint = Url::parse("http://127.0.0.1:8091/app/oauth/authorize?tenant=x").expect("url");
        let redirect =
            build(element("infusionsoftcrm"), &request("id", "http://localhost/cb"), &endpoint).expect("builds");
        assert!(redirect.oauth_url.starts_with("http://127.0.0.1:8091/app/oauth/authorize?tenant=x&scope=full&"));
    }

    #[test]
    fn request_deserializes_from_the_camel_case_body() {
        let body =
            r#"{"apiKey":"k","apiSecret":"s","callbackUrl":"https://a.b/","siteAddress":"x","callbackProxy":true}"#;
        let parsed: OAuthUrlRequest = serde_json::from_str(body).expect("parses");
        assert_eq!(parsed.api_key.as_deref(), Some("k"));
        assert_eq!(parsed.site_address.as_deref(), Some("x"));
    }
}
