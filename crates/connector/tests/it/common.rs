//! What the tests share: the sandbox client's credentials and the demo user's consent on the
//! simulator's authorize form.

use connector::endpoints::VendorEndpoints;
use connector::oauth::{ClientCredentials, OAuthClient};
use domain::Secret;
use keap_sim::RunningSim;

pub const CLIENT_ID: &str = "sandbox-client-id";
pub const CLIENT_SECRET: &str = "sandbox-client-secret";
pub const REDIRECT: &str = "https://app.example.com/callback";

/// The simulator's sandbox OAuth application.
pub fn sandbox_client() -> ClientCredentials {
    ClientCredentials { client_id: CLIENT_ID.into(), client_secret: Secret::new(CLIENT_SECRET) }
}

/// A token-endpoint client of the simulator at `base` (`http://127.0.0.1:PORT`).
pub fn oauth_client(base: &str) -> OAuthClient {
    let endpoints = VendorEndpoints::simulator(&url::Url::parse(base).unwrap()).unwrap();
    OAuthClient::new(endpoints).expect("the token client builds")
}

/// Consents on the simulator's form as the demo user and returns the code.
pub async fn consent(sim: &RunningSim) -> Secret {
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let form = [
        ("client_id", CLIENT_ID),
        ("redirect_uri", REDIRECT),
        ("response_type", "code"),
        ("username", "demo@example.com"),
        ("password", "demo"),
        ("decision", "allow"),
    ];
    let answer = http.post(format!("{}/app/oauth/authorize", sim.url())).form(&form).send().await.unwrap();
    let location = url::Url::parse(answer.headers()["location"].to_str().unwrap()).unwrap();
    Secret::new(location.query_pairs().find(|(k, _)| k == "code").expect("a code").1.into_owned())
}
