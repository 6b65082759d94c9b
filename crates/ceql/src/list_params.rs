//! The `orderBy` (`Field [asc|desc], ...`) and `fields` (`Field, ...`) parameters: comma-separated
//! field names, bare or back-quoted, with the same tokens and error wording as `where`.

use crate::ast::Span;
use crate::error::QueryError;
use crate::parser::{check_length, Cursor};

/// One `orderBy` term.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderTerm {
    /// The field name as written (not resolved against a schema).
    pub field: String,
    /// `desc`; the default is ascending.
    pub descending: bool,
    pub span: Span,
}

/// Parses `orderBy`, e.g. ``LastName desc, `First Name` ``.
pub fn parse_order_by(input: &str) -> Result<Vec<OrderTerm>, QueryError> {
    parse_list(input, |cursor| {
        let (field, span) = cursor.field_name()?;
        let descending = if cursor.keyword("desc") {
            true
        } else {
            let _ = cursor.keyword("asc");
            false
        };
        Ok(OrderTerm { field, descending, span })
    })
}

/// Parses `fields`, e.g. ``Id, Email, `First Name` ``.
pub fn parse_fields(input: &str) -> Result<Vec<String>, QueryError> {
    parse_list(input, |cursor| cursor.field_name().map(|(name, _)| name))
}

/// Items separated by commas, at least one, then the end of the input.
fn parse_list<T>(input: &str, item: impl Fn(&mut Cursor) -> Result<T, QueryError>) -> Result<Vec<T>, QueryError> {
    check_length(input)?;
    let mut cursor = Cursor::new(input);
    let mut items = vec![item(&mut cursor)?];
    while cursor.symbol(",") {
        items.push(item(&mut cursor)?);
    }
    cursor.skip_whitespace();
    if !cursor.at_end() {
        return Err(cursor.expected("',' or end of list"));
    }
    Ok(items)
}
