//! [`SqlError`]: why the driver could not connect or run a statement. Messages name what to fix
//! and never hold a secret; `junction sql` prints them as they are.

use crate::connection_string::ConnectionStringError;

/// Why opening a connection or running a statement failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SqlError {
    /// The connection string is malformed or incomplete.
    #[error("connection string: {0}")]
    ConnectionString(#[from] ConnectionStringError),
    /// Signing in to the vendor (or to Junction) failed.
    #[error("sign-in: {0}")]
    SignIn(String),
    /// SQLite refused the statement (syntax, a table or column that does not exist, a constraint),
    /// or a table refused a read or a write; `position` is the byte offset of the offending token
    /// when SQLite knows it.
    #[error("{message}{}", position.map(|at| format!(" (at character {})", at + 1)).unwrap_or_default())]
    Statement { message: String, position: Option<usize> },
    /// The vendor (or Junction, in instance mode) failed or refused a call.
    #[error("{0}")]
    Source(String),
    /// The driver could not start (its runtime, its HTTP client).
    #[error("the driver could not start: {0}")]
    Startup(String),
}

impl From<rusqlite::Error> for SqlError {
    fn from(error: rusqlite::Error) -> Self {
        match error {
            rusqlite::Error::SqlInputError { msg, offset, sql, .. } => {
                // SQLite counts bytes; the message counts characters.
                let position =
                    usize::try_from(offset).ok().and_then(|at| sql.get(..at)).map(|head| head.chars().count());
                SqlError::Statement { message: msg, position }
            }
            rusqlite::Error::SqliteFailure(_, Some(message)) => SqlError::Statement { message, position: None },
            rusqlite::Error::ModuleError(message) => SqlError::Statement { message, position: None },
            other => SqlError::Statement { message: other.to_string(), position: None },
        }
    }
}
