//! Where a page starts ([`Position`]: which vendor query of the plan, the vendor page token that
//! reads the current vendor page, how many of its rows are already served), and the `nextPage`
//! cursors that carry it: bound to the query that issued them and signed with a key every node
//! holds ([`CursorSigner`]). A forged cursor, or one replayed on another query or instance, is
//! refused.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use crate::HubError;

/// The longest cursor accepted (a vendor token plus a few numbers is far shorter).
const MAX_CURSOR_LEN: usize = 4096;

/// Signs cursors with a key shared by every node that may be asked for the next page (the
/// platform uses the store's keyed hash).
pub trait CursorSigner: Send + Sync {
    /// A keyed hash of `text`, as text.
    fn sign(&self, text: &str) -> String;
}

/// Where a page, or a scan, starts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    /// Index of the plan's vendor query being read.
    #[serde(rename = "q")]
    pub query: usize,
    /// The vendor page token of the vendor page being read (`None`: its first page).
    #[serde(rename = "t", default, skip_serializing_if = "Option::is_none")]
    pub vendor_token: Option<String>,
    /// Rows of that vendor page already served.
    #[serde(rename = "s", default)]
    pub skip: usize,
}

/// The cursor for `position` of the query identified by `fingerprint`.
pub fn issue(signer: &dyn CursorSigner, fingerprint: &str, position: &Position) -> String {
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(position).unwrap_or_default());
    let signature = signer.sign(&format!("{fingerprint}\n{payload}"));
    format!("{payload}.{signature}")
}

/// The position a cursor stands for, if it was issued with this key for this query.
pub fn open(signer: &dyn CursorSigner, fingerprint: &str, cursor: &str) -> Result<Position, HubError> {
    let invalid = || HubError::BadRequest("Invalid parameter 'nextPage': not a cursor issued for this query".into());
    let cursor = cursor.trim();
    if cursor.len() > MAX_CURSOR_LEN {
        return Err(invalid());
    }
    let (payload, signature) = cursor.split_once('.').ok_or_else(invalid)?;
    let expected = signer.sign(&format!("{fingerprint}\n{payload}"));
    if !bool::from(expected.as_bytes().ct_eq(signature.as_bytes())) {
        return Err(invalid());
    }
    let json = URL_SAFE_NO_PAD.decode(payload).map_err(|_| invalid())?;
    serde_json::from_slice(&json).map_err(|_| invalid())
}
