//! The one error type of CEQL: every parse, lookup and type problem, with the column it points at.
//! It owns the user-facing wording (`Error parsing query: ... at column N`); mapping it to an HTTP
//! status is the HTTP layer's business.

use std::fmt;

/// A problem with a `where`, `orderBy` or `fields` parameter.
///
/// Invariant: `message` is a short phrase without the `Error parsing query:` prefix; `column`, when
/// present, is 1-based and counts characters (not bytes) from the start of the line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryError {
    /// What is wrong, e.g. `expected closing quote` or `unknown field 'Foo'`.
    pub message: String,
    /// Where it is wrong; `None` for problems with the whole query (its length).
    pub column: Option<usize>,
}

impl QueryError {
    /// An error pointing at `column`.
    pub fn at(message: impl Into<String>, column: usize) -> Self {
        QueryError { message: message.into(), column: Some(column) }
    }

    /// An `expected <what>` error pointing at `column`.
    pub fn expected(what: &str, column: usize) -> Self {
        Self::at(format!("expected {what}"), column)
    }

    /// An error about the query as a whole.
    pub fn whole(message: impl Into<String>) -> Self {
        QueryError { message: message.into(), column: None }
    }
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.column {
            Some(column) => write!(f, "Error parsing query: {} at column {column}", self.message),
            None => write!(f, "Error parsing query: {}", self.message),
        }
    }
}

impl std::error::Error for QueryError {}
