//! `/hubs/{hub}/bulk/...`: the platforms' bulk jobs. Until they are built, every bulk path and
//! method is a 501 that says so, rather than falling into the object routes (`bulk` is not an
//! object: `hub::objects::RESERVED_NAMES`).

use crate::auth::HubAuth;
use crate::error::ApiError;

use super::response::HubResponse;

pub async fn not_available(HubAuth { instance }: HubAuth) -> HubResponse {
    let message = "Bulk jobs (/hubs/{hub}/bulk/...) are not available on this Junction server yet; read with \
                   paged GET /hubs/{hub}/{object} (nextPage) and write record by record meanwhile";
    HubResponse::new(&instance, Err(ApiError::NotImplemented(message.into())))
}
