//! The lexical pieces shared by the `where`, `orderBy` and `fields` grammars, written as winnow
//! parsers over `&str`: whitespace, bare and back-quoted names, keywords, quoted strings, numbers.
//! Each returns a backtrack error when its token does not start here and a cut error when it starts
//! but is malformed (an unclosed quote), so callers can tell "not this token" from "broken token".

use winnow::ascii::{digit1, multispace0};
use winnow::combinator::opt;
use winnow::error::{ContextError, ErrMode};
use winnow::prelude::*;
use winnow::token::{one_of, take_till, take_while};

/// Skips spaces, tabs and line breaks.
pub(crate) fn skip_whitespace(input: &mut &str) {
    let skipped: ModalResult<&str> = multispace0.parse_next(input);
    debug_assert!(skipped.is_ok(), "multispace0 accepts the empty string");
}

/// A bare word: `[A-Za-z_][A-Za-z0-9_.]*`. Field names and keywords are both words.
pub(crate) fn word<'a>(input: &mut &'a str) -> ModalResult<&'a str> {
    (one_of(|c: char| c.is_ascii_alphabetic() || c == '_'), take_while(0.., is_word_char)).take().parse_next(input)
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '.'
}

/// Consumes `keyword` (ASCII case-insensitive) when it is the whole next word.
pub(crate) fn keyword(input: &mut &str, keyword: &str) -> bool {
    let mut probe = *input;
    match word.parse_next(&mut probe) {
        Ok(found) if found.eq_ignore_ascii_case(keyword) => {
            *input = probe;
            true
        }
        _ => false,
    }
}

/// Consumes `symbol` when the input starts with it.
pub(crate) fn symbol(input: &mut &str, symbol: &str) -> bool {
    match input.strip_prefix(symbol) {
        Some(rest) => {
            *input = rest;
            true
        }
        None => false,
    }
}

/// Text between `quote` characters, a doubled quote standing for one. Backtracks when the input does
/// not start with `quote`; cuts when the closing quote is missing.
pub(crate) fn quoted(input: &mut &str, quote: char) -> ModalResult<String> {
    let mut text = String::new();
    one_of(quote).parse_next(input)?;
    loop {
        let run: &str = take_till(0.., quote).parse_next(input)?;
        text.push_str(run);
        if one_of::<_, _, ContextError>(quote).parse_next(input).is_err() {
            return Err(ErrMode::Cut(ContextError::new()));
        }
        if one_of::<_, _, ContextError>(quote).parse_next(input).is_err() {
            return Ok(text);
        }
        text.push(quote);
    }
}

/// A number as written: `-?[0-9]+(\.[0-9]+)?`.
pub(crate) fn number<'a>(input: &mut &'a str) -> ModalResult<&'a str> {
    (opt('-'), digit1, opt(('.', digit1))).take().parse_next(input)
}

/// A field name: a bare word or a back-quoted name (``` `a b` ```, a doubled backquote for one).
/// Backtracks when no name starts here; cuts on an unclosed backquote.
pub(crate) fn field_name(input: &mut &str) -> ModalResult<String> {
    if input.starts_with('`') {
        return quoted(input, '`');
    }
    word.map(str::to_string).parse_next(input)
}
