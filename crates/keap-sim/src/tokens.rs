//! OAuth grant bookkeeping, without HTTP: authorization codes (single-use, short-lived, bound to a
//! client and redirect URI), access tokens (expiring) and refresh tokens (expiring and rotating: the
//! old one is retired the moment a new one is issued). A reused code revokes every token issued
//! from it, as RFC 6749 §4.1.2 recommends.

use rand::distr::{Alphanumeric, SampleString};
use std::collections::HashMap;

/// Who a grant speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub client_id: String,
    pub account: String,
    pub username: String,
}

#[derive(Debug)]
struct Code {
    principal: Principal,
    redirect_uri: String,
    expires_at: i64,
    used: bool,
    /// The grant family of the tokens issued from this code, once exchanged.
    family: Option<u64>,
}

#[derive(Debug)]
struct Access {
    principal: Principal,
    expires_at: i64,
    family: u64,
}

#[derive(Debug)]
struct Refresh {
    principal: Principal,
    expires_at: i64,
    retired: bool,
    family: u64,
}

/// A freshly issued token pair.
#[derive(Debug, Clone)]
pub struct IssuedTokens {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_in: i64,
    pub account: String,
}

/// Why a grant was refused; the text is the vendor's `error_description`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GrantError {
    InvalidGrant(&'static str),
}

/// Token lifetimes in seconds.
#[derive(Debug, Clone, Copy)]
pub struct Lifetimes {
    pub access: i64,
    pub refresh: i64,
    pub code: i64,
}

/// All grants of the simulator.
#[derive(Debug, Default)]
pub struct Grants {
    codes: HashMap<String, Code>,
    access: HashMap<String, Access>,
    refresh: HashMap<String, Refresh>,
    next_family: u64,
}

/// The result of checking a bearer token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BearerCheck {
    Valid(Principal),
    Expired,
    Unknown,
}

/// A random alphanumeric token of `len` characters (codes, tokens, API keys).
pub(crate) fn random_token(len: usize) -> String {
    Alphanumeric.sample_string(&mut rand::rng(), len)
}

impl Grants {
    /// Issues a code for `principal`, redeemable once at `redirect_uri` before it expires.
    pub fn issue_code(&mut self, principal: Principal, redirect_uri: &str, now: i64, life: Lifetimes) -> String {
        self.codes.retain(|_, c| c.expires_at > now - 3_600);
        let code = random_token(24);
        let grant = Code {
            principal,
            redirect_uri: redirect_uri.into(),
            expires_at: now + life.code,
            used: false,
            family: None,
        };
        self.codes.insert(code.clone(), grant);
        code
    }

    /// Exchanges a code. The client must be the one the code was issued to and the redirect URI
    /// must be the same string.
    pub fn redeem_code(
        &mut self,
        code: &str,
        client_id: &str,
        redirect_uri: &str,
        now: i64,
        life: Lifetimes,
    ) -> Result<IssuedTokens, GrantError> {
        let Some(grant) = self.codes.get_mut(code) else {
            return Err(GrantError::InvalidGrant("Invalid authorization code"));
        };
        if grant.principal.client_id != client_id {
            return Err(GrantError::InvalidGrant("Authorization code was issued to another client"));
        }
        if grant.used {
            let family = grant.family;
            if let Some(family) = family {
                self.revoke_family(family);
            }
            return Err(GrantError::InvalidGrant("Authorization code has already been used"));
        }
        if grant.expires_at <= now {
            return Err(GrantError::InvalidGrant("Authorization code has expired"));
        }
        if grant.redirect_uri != redirect_uri {
            return Err(GrantError::InvalidGrant("redirect_uri does not match the authorization request"));
        }
        grant.used = true;
        let principal = grant.principal.clone();
        let family = self.new_family();
        if let Some(grant) = self.codes.get_mut(code) {
            grant.family = Some(family);
        }
        Ok(self.issue_pair(principal, family, now, life))
    }

    /// Rotates a refresh token: returns a new pair and retires the presented token at once.
    pub fn refresh(
        &mut self,
        token: &str,
        client_id: &str,
        now: i64,
        life: Lifetimes,
    ) -> Result<IssuedTokens, GrantError> {
        let Some(grant) = self.refresh.get_mut(token) else {
            return Err(GrantError::InvalidGrant("Invalid refresh token"));
        };
        if grant.principal.client_id != client_id || grant.retired || grant.expires_at <= now {
            return Err(GrantError::InvalidGrant("Invalid refresh token"));
        }
        grant.retired = true;
        let (principal, family) = (grant.principal.clone(), grant.family);
        Ok(self.issue_pair(principal, family, now, life))
    }

    /// Checks a bearer access token at `now`.
    pub fn check_bearer(&self, token: &str, now: i64) -> BearerCheck {
        match self.access.get(token) {
            None => BearerCheck::Unknown,
            Some(a) if a.expires_at <= now => BearerCheck::Expired,
            Some(a) => BearerCheck::Valid(a.principal.clone()),
        }
    }

    /// Counts of live grants (for `/__sim/stats`).
    pub fn counts(&self, now: i64) -> serde_json::Value {
        serde_json::json!({
            "access_tokens_live": self.access.values().filter(|a| a.expires_at > now).count(),
            "refresh_tokens_live": self.refresh.values().filter(|r| !r.retired && r.expires_at > now).count(),
        })
    }

    fn new_family(&mut self) -> u64 {
        self.next_family += 1;
        self.next_family
    }

    fn issue_pair(&mut self, principal: Principal, family: u64, now: i64, life: Lifetimes) -> IssuedTokens {
        // Tokens a week past expiry are forgotten so a long-running sandbox does not grow without
        // bound; until then an expired token still gets the vendor's "expired" answer.
        self.access.retain(|_, a| a.expires_at > now - 7 * 86_400);
        self.refresh.retain(|_, r| r.expires_at > now - 7 * 86_400);
        let access_token = random_token(28);
        let refresh_token = random_token(32);
        let account = principal.account.clone();
        self.access.insert(
            access_token.clone(),
            Access { principal: principal.clone(), expires_at: now + life.access, family },
        );
        self.refresh.insert(
            refresh_token.clone(),
            Refresh { principal, expires_at: now + life.refresh, retired: false, family },
        );
        IssuedTokens { access_token, refresh_token, expires_in: life.access, account }
    }

    fn revoke_family(&mut self, family: u64) {
        self.access.retain(|_, a| a.family != family);
        self.refresh.retain(|_, r| r.family != family);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIFE: Lifetimes = Lifetimes { access: 100, refresh: 1000, code: 10 };

    fn who() -> Principal {
        Principal { client_id: "c".into(), account: "a.infusionsoft.com".into(), username: "u".into() }
    }

    #[test]
    fn refresh_token_rotates_and_the_old_one_is_retired() {
        let mut grants = Grants::default();
        let code = grants.issue_code(who(), "https://x/cb", 0, LIFE);
        let first = grants.redeem_code(&code, "c", "https://x/cb", 1, LIFE).unwrap();
        let second = grants.refresh(&first.refresh_token, "c", 2, LIFE).unwrap();
        assert_ne!(first.refresh_token, second.refresh_token);
        assert!(grants.refresh(&first.refresh_token, "c", 3, LIFE).is_err());
        assert!(grants.refresh(&second.refresh_token, "other", 3, LIFE).is_err());
        assert!(grants.refresh(&second.refresh_token, "c", 3, LIFE).is_ok());
    }

    #[test]
    fn reused_code_fails_and_revokes_its_tokens() {
        let mut grants = Grants::default();
        let code = grants.issue_code(who(), "https://x/cb", 0, LIFE);
        let issued = grants.redeem_code(&code, "c", "https://x/cb", 1, LIFE).unwrap();
        assert!(grants.redeem_code(&code, "c", "https://x/cb", 2, LIFE).is_err());
        assert_eq!(grants.check_bearer(&issued.access_token, 2), BearerCheck::Unknown);
    }

    #[test]
    fn code_expires_and_access_token_expires() {
        let mut grants = Grants::default();
        let code = grants.issue_code(who(), "https://x/cb", 0, LIFE);
        assert!(grants.redeem_code(&code, "c", "https://x/cb", 10, LIFE).is_err());
        let code = grants.issue_code(who(), "https://x/cb", 0, LIFE);
        let issued = grants.redeem_code(&code, "c", "https://x/cb", 0, LIFE).unwrap();
        assert!(matches!(grants.check_bearer(&issued.access_token, 99), BearerCheck::Valid(_)));
        assert_eq!(grants.check_bearer(&issued.access_token, 100), BearerCheck::Expired);
    }
}
