//! The crate's one integration-test binary (one link on two cores).

mod script;
mod template;
