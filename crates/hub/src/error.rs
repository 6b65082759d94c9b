//! The engine's one error type. Messages name the field, parameter or object at fault and never
//! a secret; the HTTP layer decides the status of each variant.

use connector::VendorError;

#[derive(Debug, thiserror::Error)]
pub enum HubError {
    /// Bad input: a query that does not parse or check, an unknown field, a bad id or body.
    #[error("{0}")]
    BadRequest(String),
    /// No such object or child object for the element.
    #[error("{0}")]
    NotFound(String),
    /// The object does not support the operation.
    #[error("{0}")]
    NotAllowed(String),
    /// The vendor refused a create that left out a field it requires: `message` names the field
    /// and what to send, `provider_message` is the vendor's own text.
    #[error("{message}")]
    Incomplete { message: String, provider_message: Option<String> },
    /// The vendor gave no usable answer.
    #[error(transparent)]
    Vendor(#[from] VendorError),
}
