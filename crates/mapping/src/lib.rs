//! Hub objects as data, and the one engine that applies them.
//!
//! A hub object ([`ObjectDef`]) is a vendor resource and, per hub field, its type, its path in the
//! vendor's JSON ([`VendorPath`]), whether it is writable, which vendor filters a condition on it
//! pushes down to, and how the vendor sorts by it. [`read::to_hub`] turns vendor records into hub
//! records; [`write::to_vendor`] turns hub writes into vendor bodies. Nothing here knows HTTP, the
//! element catalog or the store: user-defined common resources reuse the same definitions and
//! engine.
//!
//! - [`path`]: the vendor path syntax (`email_addresses[field=EMAIL1].email`), read and write;
//! - [`definition`]: the definition types and their validation;
//! - [`catalog`]: the built-in objects of each element (`objects/*.json`);
//! - [`read`], [`write`]: the two directions of the mapping;
//! - [`money`]: amounts in currency units on the hub, converted exactly to the vendor's cents;
//! - [`conversion`]: a common field's values from and to the hub field under it (types, and
//!   [`date_format`]s: ISO 8601, epoch numbers, Java date patterns);
//! - `schema`: a definition as CEQL's [`ceql::Schema`] (field types and push-downs).

pub mod catalog;
pub mod common;
pub mod conversion;
pub mod date_format;
pub mod definition;
pub mod money;
pub mod path;
pub mod read;
mod schema;
pub mod write;

pub use catalog::ObjectCatalog;
pub use conversion::Conversion;
pub use date_format::DateFormat;
pub use definition::{Accepts, FieldDef, FieldType, FilterDef, ObjectDef, Operation, VendorLookup, VendorType};
pub use money::{AmountUnit, Money};
pub use path::VendorPath;
pub use read::to_hub;
pub use write::{needs_current, to_vendor, VendorWrite, WriteError, WriteMode};
