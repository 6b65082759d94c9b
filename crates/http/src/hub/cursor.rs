//! `nextPage` cursors: where the next hub page starts (which vendor query of the plan, the vendor
//! page token that reads the current vendor page, how many of its rows are already served), bound
//! to the query that issued it and signed with the key every node sharing the database holds. A
//! forged cursor, or one replayed on another query or instance, is a 400.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use store::Store;
use subtle::ConstantTimeEq;

use crate::error::ApiError;

const PURPOSE: &str = "hub-cursor";
/// The longest cursor accepted (a vendor token plus a few numbers is far shorter).
const MAX_CURSOR_LEN: usize = 4096;

/// Where a hub page starts.
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
pub fn issue(store: &dyn Store, fingerprint: &str, position: &Position) -> String {
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(position).unwrap_or_default());
    let signature = store.keyed_hash(PURPOSE, &format!("{fingerprint}\n{payload}"));
    format!("{payload}.{signature}")
}

/// The position a cursor stands for, if this store issued it for this query.
pub fn open(store: &dyn Store, fingerprint: &str, cursor: &str) -> Result<Position, ApiError> {
    let invalid = || ApiError::BadRequest("Invalid parameter 'nextPage': not a cursor issued for this query".into());
    let cursor = cursor.trim();
    if cursor.len() > MAX_CURSOR_LEN {
        return Err(invalid());
    }
    let (payload, signature) = cursor.split_once('.').ok_or_else(invalid)?;
    let expected = store.keyed_hash(PURPOSE, &format!("{fingerprint}\n{payload}"));
    if !bool::from(expected.as_bytes().ct_eq(signature.as_bytes())) {
        return Err(invalid());
    }
    let json = URL_SAFE_NO_PAD.decode(payload).map_err(|_| invalid())?;
    serde_json::from_slice(&json).map_err(|_| invalid())
}
