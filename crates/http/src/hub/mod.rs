//! The hub API: the instance's vendor data under the platforms' object and field names
//! (`/hubs/{hub}/contacts`, `FirstName`, ...), the object catalog, a raw passthrough and a ping.
//! The hub segment is not checked: the instance token decides the element (SPEC "Hub API").
//!
//! - [`objects`]: `GET /hubs/{hub}/objects` and `/objects/{object}/metadata`;
//! - [`records`]: create, read, update and delete of one record, and child objects;
//! - [`list`]: listing with CEQL (`where`), ordering, fields and paging;
//! - [`cursor`]: the signed `nextPage` cursors;
//! - [`inventory`]: `GET|PATCH /products/{id}/inventory`;
//! - [`raw`]: `ANY /hubs/{hub}/raw/{vendor path}`;
//! - [`ping`]: `GET /hubs/{hub}/ping`;
//! - [`vendor`]: the one way a hub call reaches the vendor (tokens, rate limits, retries, errors);
//! - [`response`]: what every hub answer carries (`elements-element-instance-id`, null filtering).

pub mod cursor;
pub mod inventory;
pub mod list;
pub mod objects;
pub mod ping;
pub mod raw;
pub mod records;
pub mod response;
pub mod vendor;

use axum::routing::{any, get};
use axum::Router;

use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/hubs/{hub}/objects", get(objects::list_objects))
        .route("/hubs/{hub}/objects/{object}/metadata", get(objects::metadata))
        .route("/hubs/{hub}/ping", get(ping::ping))
        .route("/hubs/{hub}/raw/{*path}", any(raw::passthrough))
        .route("/hubs/{hub}/products/{id}/inventory", get(inventory::show).patch(inventory::adjust))
        .route("/hubs/{hub}/{object}", get(list::list).post(records::create))
        .route(
            "/hubs/{hub}/{object}/{id}",
            get(records::read).patch(records::update).put(records::update).delete(records::delete),
        )
        .route("/hubs/{hub}/{object}/{id}/{child}", get(list::list_children).post(records::create_child))
        .route("/hubs/{hub}/{object}/{id}/{child}/{child_id}", get(records::read_child).delete(records::delete_child))
}
