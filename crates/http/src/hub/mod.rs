//! The hub API over HTTP: the instance's vendor data under the platforms' object and field names
//! (`/hubs/{hub}/contacts`, `FirstName`, ...), the object catalog, a raw passthrough and a ping.
//! The hub segment is not checked: the instance token decides the element (SPEC "Hub API").
//!
//! Each handler authenticates the caller ([`HubAuth`](crate::auth::HubAuth)), calls one operation
//! of the `hub` engine with the instance's session, and writes the answer; the engine does the
//! rest. Its errors become statuses in [`crate::error`].
//!
//! - [`dispatch`]: the object routes, each method checked against the object (405 with `Allow`);
//! - [`objects`]: `GET /hubs/{hub}/objects` and `/objects/{object}/metadata` (also at the API root);
//! - [`records`]: create, read, update and delete of one record, and child objects;
//! - [`list`]: listing (`where`, `orderBy`, `fields`, paging headers);
//! - [`inventory`]: `GET|PATCH /products/{id}/inventory`;
//! - [`raw`]: `ANY /hubs/{hub}/raw/{vendor path}`;
//! - [`ping`]: `GET /hubs/{hub}/ping`;
//! - [`bulk`]: `/hubs/{hub}/bulk/...`, the bulk jobs (exports and uploads);
//! - [`response`]: what every hub answer carries (`elements-element-instance-id`);
//! - [`request_triggers`]: the layer that starts the formula runs a hub request triggers.

pub mod bulk;
pub mod dispatch;
pub mod inventory;
pub mod list;
pub mod objects;
pub mod ping;
pub mod raw;
pub mod records;
pub mod request_triggers;
pub mod response;

use axum::extract::DefaultBodyLimit;
use axum::routing::{any, get, post, put};
use axum::Router;

use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(api!("/hubs/{hub}/bulk/query"), post(bulk::create_query))
        .route(api!("/hubs/{hub}/bulk/jobs"), get(bulk::list_jobs))
        .route(api!("/hubs/{hub}/bulk/{object}"), post(bulk::upload).layer(DefaultBodyLimit::disable()))
        .route(api!("/hubs/{hub}/bulk/{id}/status"), get(bulk::status))
        .route(api!("/hubs/{hub}/bulk/{id}/cancel"), put(bulk::cancel))
        .route(api!("/hubs/{hub}/bulk/{id}/errors"), get(bulk::errors))
        .route(api!("/hubs/{hub}/bulk/{id}/{object}"), get(bulk::result))
        .route(api!("/hubs/{hub}/bulk"), any(bulk::unknown))
        .route(api!("/objects"), get(objects::list_objects))
        .route(api!("/objects/{object}/metadata"), get(objects::root_metadata))
        .route(api!("/hubs/{hub}/objects"), get(objects::list_objects))
        .route(api!("/hubs/{hub}/objects/{object}/metadata"), get(objects::metadata))
        .route(api!("/hubs/{hub}/ping"), get(ping::ping))
        .route(api!("/hubs/{hub}/raw/{*path}"), any(raw::passthrough))
        .route(api!("/hubs/{hub}/products/{id}/inventory"), get(inventory::show).patch(inventory::adjust))
        .route(api!("/hubs/{hub}/{object}"), any(dispatch::collection))
        .route(api!("/hubs/{hub}/{object}/{id}"), any(dispatch::record))
        .route(api!("/hubs/{hub}/{object}/{id}/{child}"), any(dispatch::children))
        .route(api!("/hubs/{hub}/{object}/{id}/{child}/{child_id}"), any(dispatch::child_record))
}
