//! The `Secret` type: a credential that must never reach a log, a message or a response.
//!
//! Owns only the containment of the value (no `Display`, a redacting `Debug`, no `Serialize`) and
//! its comparison: `==` on two secrets takes time independent of where they differ (stored secrets
//! are checked against salted hashes by the store, which has its own constant-time check).

use std::fmt;

/// A secret string (user secret, organization secret, instance token, vendor credential).
///
/// Invariant: the value is only reachable through [`Secret::expose`], so every read is visible in
/// review. `Debug` prints `Secret(********)`.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value; the caller gives up the plain `String`.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The plain value, for hashing, encryption or sending to the vendor — never for logging.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether `presented` is this secret, compared in constant time as `==` compares.
    pub fn matches(&self, presented: &str) -> bool {
        let (a, b) = (self.0.as_bytes(), presented.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
    }
}

/// Constant-time equality: every byte is compared whatever the first difference (only the
/// lengths, which are not secret for generated tokens, can end it early).
impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        self.matches(&other.0)
    }
}

impl Eq for Secret {}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("Secret(********)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let secret = Secret::new("hunter2");
        assert_eq!(format!("{secret:?}"), "Secret(********)");
        assert_eq!(format!("{:?}", Some(secret.clone())), "Some(Secret(********))");
    }

    #[test]
    fn equality_compares_whole_values() {
        assert_eq!(Secret::new("abc"), Secret::new("abc"));
        assert_ne!(Secret::new("abc"), Secret::new("abd"));
        assert_ne!(Secret::new("abc"), Secret::new("abcd"));
        assert!(Secret::new("abc").matches("abc"));
        assert!(!Secret::new("abc").matches("abC") && !Secret::new("abc").matches("ab"));
    }

    #[test]
    fn expose_returns_the_value() {
        assert_eq!(Secret::new("abc").expose(), "abc");
    }
}
