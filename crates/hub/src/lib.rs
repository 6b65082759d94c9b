//! The hub engine: the vendor's data under the platforms' object and field names, with no HTTP
//! server and no database. The HTTP API, the console, background jobs and the SQL driver all call
//! it; none of them talks to the vendor another way.
//!
//! An operation takes a [`Session`] (which instance, which element, the call context that carries
//! its token source and rate-limit priority) and an object name, resolves the object in the
//! catalog, maps the request to vendor calls through [`connector::VendorClient`], and maps the
//! answers back. Names resolve in the built-in catalog, then among the session's common resources
//! ([`objects`]); below that the engine works on a borrowed `&ObjectDef`, the same for both (a
//! common resource is an element object composed with the organization's mapping), and presents
//! records in the common shape at the end.
//!
//! - [`objects`]: resolving object and child names (built-in, then common resources), which
//!   operations they allow, their metadata;
//! - [`records`]: get, create, update and delete of one record, and of child records; a record read
//!   alone written as JSON straight from the vendor's (`record_json`);
//! - [`list`]: listing with CEQL (`where`), ordering, fields, paging and counts;
//! - [`scan`]: whole objects page by page, resumable from a [`Position`] (bulk, polling, SQL);
//! - [`cursor`]: where a page starts, and the signed `nextPage` cursors;
//! - [`inventory`], [`raw`], [`ping`]: the product stock, the vendor passthrough, the ping;
//! - [`shape`]: records as the instance wants them (null fields dropped, chosen fields);
//! - [`error`]: [`HubError`], typed; the HTTP layer turns it into statuses.

pub mod cursor;
pub mod error;
pub mod inventory;
pub mod list;
pub mod objects;
pub mod ping;
pub mod raw;
mod record_json;
pub mod records;
pub mod scan;
pub mod shape;

use std::sync::Arc;

use connector::{CallContext, VendorClient};
use domain::InstanceId;
use mapping::common::CommonObjects;

pub use cursor::{CursorSigner, Position};
pub use error::HubError;
pub use list::{ListPage, ListParams};
pub use records::Target;
pub use scan::{ScanPage, ScanQuery};

/// One caller's view of the vendor: an instance (or a connection string's authorization).
#[derive(Debug, Clone, Copy)]
pub struct Session<'a> {
    /// Binds cursors to the instance that asked for them; `None` for a caller with no instance (a
    /// connection string's authorization), whose cursors are bound to instance number 0.
    pub instance_id: Option<InstanceId>,
    /// The element whose catalog names the objects (`infusionsoftcrm`, `infusionsofterp`).
    pub element_key: &'a str,
    /// `filter.response.nulls`: drop null fields from records.
    pub drop_nulls: bool,
    /// The instance's common resources (`None`: only the element's objects).
    pub common: Option<&'a CommonObjects>,
    /// Who makes the vendor calls, with which token, how patiently.
    pub call: CallContext<'a>,
}

/// The engine: the vendor client and the key that signs cursors. Cheap to clone.
#[derive(Clone)]
pub struct Hub {
    vendor: Arc<VendorClient>,
    signer: Arc<dyn CursorSigner>,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub").field("vendor", &self.vendor).finish_non_exhaustive()
    }
}

impl Hub {
    pub fn new(vendor: Arc<VendorClient>, signer: Arc<dyn CursorSigner>) -> Self {
        Hub { vendor, signer }
    }

    /// The vendor client the engine calls through.
    pub fn vendor(&self) -> &VendorClient {
        &self.vendor
    }
}
