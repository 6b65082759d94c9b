//! Splitting SQL text into its `;`-separated statements, as SQLite's lexer sees them: a `;` inside
//! a string (`'…'`), a quoted identifier (`"…"`, `` `…` ``, `[…]`) or a comment (`-- …`, `/* … */`)
//! does not end a statement.
//!
//! `junction sql` runs a script one statement at a time (rather than with the driver's
//! `run_script`) so that each statement's result is printed as soon as it is known, the results
//! before a failing statement are not lost, `--explain` reports each statement, and an error can
//! say which statement failed. The shell uses the same lexer to tell a finished statement from one
//! that goes on over the next line. Not handled: `CREATE TRIGGER … BEGIN …; END`, whose body holds
//! `;` (triggers cannot be put on the driver's virtual tables anyway).

/// One statement of a script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// The statement without its `;`, from its first token (leading comments and blanks dropped).
    pub text: String,
    /// The 1-based line of the script on which it starts.
    pub line: usize,
}

/// A script cut into statements.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Split {
    /// The statements ended by a `;`, in order.
    pub statements: Vec<Statement>,
    /// The statement after the last `;`, if the text holds more than blanks and comments there: in
    /// a script the last statement may go without `;`; in the shell it is still being typed.
    pub unterminated: Option<Statement>,
}

impl Split {
    /// Every statement, the unterminated one last.
    pub fn into_statements(self) -> Vec<Statement> {
        self.statements.into_iter().chain(self.unterminated).collect()
    }
}

/// Where the lexer is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Code,
    /// Inside a quoted string or identifier, ended by this character (a doubled one is an escape,
    /// which the lexer sees as leaving and entering again).
    Quoted(char),
    LineComment,
    BlockComment,
}

/// Cuts `sql` into statements.
pub fn split(sql: &str) -> Split {
    let mut split = Split::default();
    let mut state = State::Code;
    // The byte offset and line of the current statement's first token, once it has one.
    let mut start: Option<(usize, usize)> = None;
    let mut line = 1;
    let mut chars = sql.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        let next = chars.peek().map(|&(_, next)| next);
        match state {
            State::Code => match c {
                ';' => {
                    if let Some((from, first_line)) = start.take() {
                        split
                            .statements
                            .push(Statement { text: sql[from..at].trim_end().to_string(), line: first_line });
                    }
                }
                '-' if next == Some('-') => state = State::LineComment,
                '/' if next == Some('*') => {
                    chars.next();
                    state = State::BlockComment;
                }
                c if c.is_whitespace() => {}
                c => {
                    start.get_or_insert((at, line));
                    match c {
                        '\'' | '"' | '`' => state = State::Quoted(c),
                        '[' => state = State::Quoted(']'),
                        _ => {}
                    }
                }
            },
            State::Quoted(end) if c == end => state = State::Code,
            State::LineComment if c == '\n' => state = State::Code,
            State::BlockComment if c == '*' && next == Some('/') => {
                chars.next();
                state = State::Code;
            }
            _ => {}
        }
        if c == '\n' {
            line += 1;
        }
    }
    if let Some((from, first_line)) = start {
        split.unterminated = Some(Statement { text: sql[from..].trim_end().to_string(), line: first_line });
    }
    split
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(sql: &str) -> Vec<String> {
        split(sql).into_statements().into_iter().map(|statement| statement.text).collect()
    }

    #[test]
    fn cuts_at_semicolons_outside_strings_identifiers_and_comments() {
        let sql = "select 'a;b', \"c;d\", [e;f], `g;h` from t; -- x; y\nselect 2 /* ; */ ;\n\n  select 3";
        assert_eq!(texts(sql), ["select 'a;b', \"c;d\", [e;f], `g;h` from t", "select 2 /* ; */", "select 3"]);
    }

    #[test]
    fn doubled_quotes_are_escapes() {
        assert_eq!(texts("select 'it''s; fine'; select 1"), ["select 'it''s; fine'", "select 1"]);
    }

    #[test]
    fn statements_know_their_line_and_drop_leading_comments() {
        let split = split("-- header\nselect 1;\n\n/* two */ select\n  2;");
        assert_eq!(
            split.statements,
            [Statement { text: "select 1".into(), line: 2 }, Statement { text: "select\n  2".into(), line: 4 }]
        );
        assert_eq!(split.unterminated, None);
    }

    #[test]
    fn blank_and_comment_only_text_has_no_statement() {
        assert_eq!(split("  ;\n -- nothing\n ; /* still nothing */ "), Split::default());
    }

    #[test]
    fn an_open_string_or_a_missing_semicolon_leaves_the_statement_unterminated() {
        assert_eq!(split("select 'a;\nb").unterminated.map(|s| s.text), Some("select 'a;\nb".into()));
        assert_eq!(split("select 1; select").unterminated.map(|s| s.text), Some("select".into()));
        assert_eq!(split("select 1; -- done").unterminated, None);
    }
}
