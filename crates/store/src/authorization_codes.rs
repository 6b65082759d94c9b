//! The registry of exchanged OAuth authorization codes: its values ([`CodeClaim`], [`ClaimedCode`])
//! and the SQL behind [`crate::CoordinationStore::claim_authorization_code`],
//! [`crate::InstanceStore::insert_instance_with_code`], [`crate::CoordinationStore::bind_authorization_code`] and
//! [`crate::CoordinationStore::release_authorization_code`].
//!
//! Why it exists: a code posted twice (a double-submitted callback, a browser retry) must reach the
//! vendor once. A second exchange of a used code makes the vendor revoke the tokens the first one
//! issued (RFC 6749 §4.1.2), killing the instance the first exchange created. So the platform claims
//! the code here *before* calling the vendor, and answers a replay without calling it.
//!
//! A code is one row of `authorization_codes`, found by the keyed hash of the code (never the code:
//! like an instance token, it is a credential while it lives). The row names the organization that
//! claimed the code, the instance it created once that exists, and a random ticket that proves which
//! claim is which, so a late caller whose claim expired can neither bind nor release a newer claim
//! of the same code. Claiming is one statement on both databases, an upsert that keeps an unexpired
//! row and takes over an expired one, so of any number of concurrent claimers, across nodes, exactly
//! one gets [`CodeClaim::Claimed`].
//!
//! Expiry is judged by the database's clock (`Dialect::now`), like `crate::leases`. Expired rows are
//! pruned by the next claim; no background job.
//!
//! `instance_id` has no foreign key: after the instance is deleted the row still names it (ids are
//! never reused), so a replay is still answered "already used to create instance N" rather than
//! looking like an exchange in progress. Rows go with their organization (`ON DELETE CASCADE`).
//!
//! What this module does not own: what the platform answers to a replay, and the vendor call.

use std::time::Duration;

use crate::records::{InstanceId, OrganizationId};
use crate::shared_sql::Dialect;

/// How long a claim is kept when the caller has no reason to choose otherwise: a day, far longer than
/// the vendor's codes live (10 minutes), so a code is recorded for all of its life.
pub const AUTHORIZATION_CODE_TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// What [`crate::CoordinationStore::claim_authorization_code`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CodeClaim {
    /// The caller holds the code now: exchange it, then bind the claim to the instance it created
    /// ([`crate::InstanceStore::insert_instance_with_code`] or
    /// [`crate::CoordinationStore::bind_authorization_code`]), or release it if the exchange failed
    /// ([`crate::CoordinationStore::release_authorization_code`]).
    Claimed(ClaimedCode),
    /// Another claim, unexpired, holds the code: it was (or is being) exchanged already. Do not call
    /// the vendor.
    Replayed {
        /// The organization whose claim holds the code.
        organization_id: OrganizationId,
        /// The instance that code created; `None` while its exchange is in flight, or when the
        /// claimant gave up without releasing it (e.g. its process died mid-exchange). The instance
        /// may since have been deleted.
        instance_id: Option<InstanceId>,
    },
}

/// Proof of one claim of one code, returned by [`crate::CoordinationStore::claim_authorization_code`] and
/// accepted only by the store that issued it (or another on the same database).
///
/// Holds the code's keyed hash and the claim's random ticket, never the code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClaimedCode {
    pub(crate) lookup: String,
    pub(crate) ticket: String,
    pub(crate) organization_id: OrganizationId,
}

impl ClaimedCode {
    /// The organization that holds this claim.
    pub fn organization_id(&self) -> OrganizationId {
        self.organization_id
    }
}

/// Removes every claim expired by the database's clock, bound or not.
pub(crate) fn prune_sql(dialect: &Dialect) -> String {
    format!("DELETE FROM authorization_codes WHERE expires_at <= {now}", now = dialect.now)
}

/// Claims code `$1` (its keyed hash) for organization `$2` under ticket `$3` until `$4` milliseconds
/// from now. One row always comes back: the caller's own when it took the code (its ticket is
/// `$3`), the holder's otherwise.
///
/// An unexpired row is kept as it is; an expired one is taken over column by column (a no-op update
/// otherwise, so that `RETURNING` reports the holder in the same statement). PostgreSQL orders
/// concurrent claimers on the primary key (a second inserter waits for the first to commit, then
/// updates its row); SQLite by its write lock.
pub(crate) fn claim_sql(dialect: &Dialect) -> String {
    let take = |column: &str| {
        format!(
            "{column} = CASE WHEN authorization_codes.expires_at <= {now} THEN excluded.{column} \
             ELSE authorization_codes.{column} END",
            now = dialect.now,
        )
    };
    format!(
        "INSERT INTO authorization_codes (code_lookup, organization_id, instance_id, claim_ticket, created_at, \
         expires_at) VALUES ($1, $2, NULL, $3, {now}, {until}) \
         ON CONFLICT (code_lookup) DO UPDATE SET {organization}, {instance}, {ticket}, {created}, {expires} \
         RETURNING organization_id, instance_id, claim_ticket",
        now = dialect.now,
        until = dialect.millis_from_now("$4"),
        organization = take("organization_id"),
        instance = take("instance_id"),
        ticket = take("claim_ticket"),
        created = take("created_at"),
        expires = take("expires_at"),
    )
}

/// Binds the claim of code `$2` under ticket `$3` held by organization `$4` to instance `$1`, if that
/// claim still holds the code and is not bound yet. Used inside the transaction that inserts the
/// instance.
pub(crate) const BIND_NEW_INSTANCE: &str = "UPDATE authorization_codes SET instance_id = $1 \
     WHERE code_lookup = $2 AND claim_ticket = $3 AND organization_id = $4 AND instance_id IS NULL";

/// Binds the claim of code `$2` under ticket `$3` to the existing instance `$1`, if that claim still
/// holds the code, is not bound yet, and the instance belongs to the claim's organization.
pub(crate) const BIND_EXISTING_INSTANCE: &str = "UPDATE authorization_codes SET instance_id = $1 \
     WHERE code_lookup = $2 AND claim_ticket = $3 AND instance_id IS NULL \
     AND EXISTS (SELECT 1 FROM instances \
     WHERE instances.id = $1 AND instances.organization_id = authorization_codes.organization_id)";

/// Removes the claim of code `$1` under ticket `$2` unless it is bound: a code that created an
/// instance stays recorded, and a claim another caller took over is not touched.
pub(crate) const RELEASE: &str =
    "DELETE FROM authorization_codes WHERE code_lookup = $1 AND claim_ticket = $2 AND instance_id IS NULL";
