//! The ids of the platform's tenants and their instances: [`OrganizationId`], [`UserId`] and
//! [`InstanceId`].
//!
//! All three are database-assigned integers, as on the wire (`"id": 12345` in the seeds), never
//! reused after a delete. They are distinct types so that one cannot be passed where another is
//! meant (`get_instance(organization_id, instance_id)` with the arguments swapped does not compile).
//! On the wire they stay plain numbers (`#[serde(transparent)]`), and [`std::fmt::Display`] prints
//! the number alone, so URLs, pages and messages read as before.
//!
//! What this module does not own: how ids are assigned (the store's database) or stored (the store
//! binds [`OrganizationId::get`] and wraps what it reads with [`OrganizationId::new`]: sqlx's traits
//! cannot be implemented for these types outside this crate, and this crate has no SQL).

/// Defines one id newtype over `i64`.
macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(i64);

        impl $name {
            /// The id with this number (as the database assigned it, or as a caller wrote it).
            pub const fn new(id: i64) -> Self {
                Self(id)
            }

            /// The number, for storage, logs and headers.
            pub const fn get(self) -> i64 {
                self.0
            }

            /// The id written in `text` (a path segment, a form field): a positive decimal number,
            /// since the database assigns ids from 1. `None` for anything else.
            pub fn parse(text: &str) -> Option<Self> {
                text.parse::<i64>().ok().filter(|id| *id > 0).map(Self)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                std::fmt::Display::fmt(&self.0, f)
            }
        }
    };
}

id_type!(
    /// An organization (a tenant): every user and instance belongs to exactly one.
    OrganizationId
);

id_type!(
    /// A user of one organization.
    UserId
);

id_type!(
    /// A connector instance of one organization.
    InstanceId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_plain_numbers_on_the_wire_and_in_text() {
        let id = InstanceId::new(12345);
        assert_eq!(serde_json::to_string(&id).unwrap(), "12345");
        assert_eq!(serde_json::from_str::<InstanceId>("12345").unwrap(), id);
        assert_eq!(id.to_string(), "12345");
        assert_eq!(format!("/instances/{}", OrganizationId::new(7)), "/instances/7");
        assert_eq!(UserId::new(-1).get(), -1);
    }

    #[test]
    fn a_written_id_is_a_positive_number() {
        assert_eq!(InstanceId::parse("42"), Some(InstanceId::new(42)));
        for text in ["0", "-3", "", " 1", "1.0", "abc", "99999999999999999999"] {
            assert_eq!(InstanceId::parse(text), None, "{text:?}");
        }
    }
}
