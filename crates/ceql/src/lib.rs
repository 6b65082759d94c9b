//! CEQL, the hub's query language (the `where`, `orderBy` and `fields` parameters).
//!
//! The pipeline: [`parse`] text into an [`Expr`] (positions on every node), [`check`] it against a
//! [`Schema`] (which resolves field names and types), then [`plan`] the vendor queries and keep the
//! rows for which [`matches`] holds. Every failure is a [`QueryError`] with a column.
//!
//! ```
//! use ceql::{check, matches, parse, plan, FieldInfo, FieldType, PushKind, Pushdown};
//! use std::collections::BTreeMap;
//!
//! let mut schema = BTreeMap::new();
//! let email = Pushdown { filter: "email".into(), kind: PushKind::Prefix };
//! schema.insert("Email".to_string(), FieldInfo { ty: FieldType::String, pushdowns: vec![email] });
//! schema.insert("Score".to_string(), FieldInfo { ty: FieldType::Number, pushdowns: vec![] });
//!
//! let expr = check(&parse("email LIKE 'ada%' AND Score > 3").unwrap(), &schema).unwrap();
//! assert_eq!(plan(Some(&expr), &schema).queries[0].filter_string(), "email==ada*");
//! let row = serde_json::json!({"Email": "Ada@example.com", "Score": 4});
//! assert!(matches(&expr, row.as_object().unwrap()));
//! assert_eq!(
//!     parse("Email = 'x").unwrap_err().to_string(),
//!     "Error parsing query: expected closing quote at column 11"
//! );
//! ```

pub mod ast;
pub mod check;
pub mod error;
pub mod eval;
pub mod instant;
pub mod like;
pub mod list_params;
pub mod parser;
pub mod plan;
pub mod pushdown;
pub mod schema;
mod tokens;

pub use ast::{CmpOp, Expr, ExprKind, FieldRef, Lit, Literal, Span};
pub use check::check;
pub use error::QueryError;
pub use eval::matches;
pub use list_params::{parse_fields, parse_order_by, OrderTerm};
pub use parser::{parse, MAX_DEPTH, MAX_QUERY_BYTES};
pub use plan::{plan, Plan, VendorQuery, MAX_QUERIES};
pub use pushdown::VendorFilter;
pub use schema::{resolve, FieldInfo, FieldType, PushKind, Pushdown, Schema};
