//! The one error type of the domain layer.
//!
//! Owns the *meaning* of every rule violation the domain can detect. It does not own HTTP status
//! codes or the JSON error body: the HTTP layer maps each variant once. Every message names the
//! field or cause and never contains a secret value (values are not echoed, only keys and reasons).

use crate::auth_header::AuthHeaderError;

/// A domain rule was violated. Messages are safe to show to API clients and to log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// No element has this key or numeric id.
    #[error("No element found with key or id '{0}'")]
    ElementNotFound(String),

    /// A required configuration key is absent, null or blank.
    #[error("Missing required configuration '{0}'")]
    MissingConfiguration(String),

    /// Configuration keys the element does not declare (sorted, deduplicated).
    #[error("Unknown configuration {}: not declared by this element", quoted(.0))]
    UnknownConfiguration(Vec<String>),

    /// A configuration value does not satisfy its key's rule; `reason` never repeats a secret value.
    #[error("Invalid configuration '{key}': {reason}")]
    InvalidConfiguration { key: String, reason: String },

    /// A required request parameter (query or body field) is absent or blank.
    #[error("Missing required parameter '{0}'")]
    MissingParameter(String),

    /// A request parameter is present but unusable.
    #[error("Invalid parameter '{name}': {reason}")]
    InvalidParameter { name: String, reason: String },

    /// The `Authorization` header is malformed or lacks a part the call needs.
    #[error("Invalid Authorization header: {0}")]
    BadAuthorization(#[from] AuthHeaderError),
}

fn quoted(keys: &[String]) -> String {
    keys.iter().map(|key| format!("'{key}'")).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_configuration_lists_every_key() {
        let error = DomainError::UnknownConfiguration(vec!["a.b".into(), "c".into()]);
        assert_eq!(error.to_string(), "Unknown configuration 'a.b', 'c': not declared by this element");
    }

    #[test]
    fn invalid_configuration_names_key_and_reason() {
        let error = DomainError::InvalidConfiguration { key: "k".into(), reason: "must be a number".into() };
        assert_eq!(error.to_string(), "Invalid configuration 'k': must be a number");
    }
}
