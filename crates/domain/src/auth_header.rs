//! The tolerant parser of the platform's `Authorization` header.
//!
//! Owns the syntax only: `User <secret>`, `Organization <secret>`, `Element <token>` in any order,
//! separated by any ASCII whitespace and/or commas, part names case-insensitive, with an optional
//! colon after the name (`Element: <token>`, `User:<secret>`) as some old clients send. It does not
//! decide whether the secrets are right (the store compares them in constant time) nor which parts
//! a route needs beyond the [`Credentials::require`] helper.
//!
//! Values are single tokens of visible ASCII without commas: user and organization secrets and
//! instance tokens never contain spaces or commas. A token that is itself a part name (`User`,
//! `element:`) always starts a new part, so `User Organization x` is a missing user secret.
//! Errors never echo a value: an unknown part is named only when it looks like a scheme name.

use crate::secret::Secret;
use std::fmt;

/// The longest header accepted, in bytes; longer input is rejected before any parsing.
pub const MAX_HEADER_LEN: usize = 8 * 1024;

/// Longest text shown back in an [`AuthHeaderError::UnknownPart`]; longer ones are not echoed.
const MAX_ECHOED_NAME_LEN: usize = 16;

/// One named part of the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    User,
    Organization,
    Element,
}

impl Part {
    fn from_name(name: &str) -> Option<Part> {
        [Part::User, Part::Organization, Part::Element].into_iter().find(|part| part.name().eq_ignore_ascii_case(name))
    }

    /// The canonical spelling, as in `User`.
    pub fn name(self) -> &'static str {
        match self {
            Part::User => "User",
            Part::Organization => "Organization",
            Part::Element => "Element",
        }
    }
}

impl fmt::Display for Part {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.name())
    }
}

/// What is wrong with a header. The text names the part or the cause, never a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthHeaderError {
    /// No header, or only whitespace and commas.
    #[error("the header is empty")]
    Empty,
    /// Longer than [`MAX_HEADER_LEN`].
    #[error("the header is longer than {MAX_HEADER_LEN} bytes")]
    TooLong,
    /// A control character or a non-ASCII character outside the separators.
    #[error("the header contains a character that is not visible ASCII")]
    InvalidCharacter,
    /// A token where a part name was expected; `Some(name)` only when safe to echo.
    #[error("unknown part {}: expected User, Organization or Element", .0.as_deref().unwrap_or("(not shown)"))]
    UnknownPart(Option<String>),
    /// The same part twice.
    #[error("the {0} part appears more than once")]
    DuplicatePart(Part),
    /// A part name with no value after it.
    #[error("the {0} part has no value")]
    MissingValue(Part),
    /// A part the call needs is absent (see [`Credentials::require`]).
    #[error("the {0} part is required")]
    MissingPart(Part),
}

/// The parts found in a header. Invariant: at least one part is present.
#[derive(Debug, Clone, Default)]
pub struct Credentials {
    pub user: Option<Secret>,
    pub organization: Option<Secret>,
    pub element: Option<Secret>,
}

impl Credentials {
    /// The value of `part`, or [`AuthHeaderError::MissingPart`].
    pub fn require(&self, part: Part) -> Result<&Secret, AuthHeaderError> {
        self.get(part).ok_or(AuthHeaderError::MissingPart(part))
    }

    /// The value of `part`, if present.
    pub fn get(&self, part: Part) -> Option<&Secret> {
        match part {
            Part::User => self.user.as_ref(),
            Part::Organization => self.organization.as_ref(),
            Part::Element => self.element.as_ref(),
        }
    }

    fn slot(&mut self, part: Part) -> &mut Option<Secret> {
        match part {
            Part::User => &mut self.user,
            Part::Organization => &mut self.organization,
            Part::Element => &mut self.element,
        }
    }
}

/// Parses an `Authorization` header value. Never panics, whatever the input.
pub fn parse(header: &str) -> Result<Credentials, AuthHeaderError> {
    if header.len() > MAX_HEADER_LEN {
        return Err(AuthHeaderError::TooLong);
    }
    let tokens = tokenize(header)?;
    if tokens.is_empty() {
        return Err(AuthHeaderError::Empty);
    }
    let mut credentials = Credentials::default();
    let mut rest = tokens.as_slice();
    while let Some((first, tail)) = rest.split_first() {
        let (part, attached) = part_name(first).ok_or_else(|| unknown_part(first))?;
        let (value, tail) = take_value(part, attached, tail)?;
        let slot = credentials.slot(part);
        if slot.is_some() {
            return Err(AuthHeaderError::DuplicatePart(part));
        }
        *slot = Some(Secret::new(value));
        rest = tail;
    }
    Ok(credentials)
}

fn is_separator(byte: u8) -> bool {
    byte == b',' || byte.is_ascii_whitespace()
}

/// The words between separators, or [`AuthHeaderError::InvalidCharacter`] for a byte that is
/// neither a separator nor visible ASCII. One plain pass over the bytes (every hub call parses a
/// header; a chained iterator per byte and a second pass for the check cost 1,000 instructions more
/// a call): a separator is ASCII, so it never falls inside a character and each word is a whole
/// `str`.
fn tokenize(header: &str) -> Result<Vec<&str>, AuthHeaderError> {
    let bytes = header.as_bytes();
    let mut tokens = Vec::with_capacity(6);
    let mut start = 0;
    for (at, &byte) in bytes.iter().enumerate() {
        if is_separator(byte) {
            if at > start {
                tokens.push(&header[start..at]);
            }
            start = at + 1;
        } else if !byte.is_ascii_graphic() {
            return Err(AuthHeaderError::InvalidCharacter);
        }
    }
    if bytes.len() > start {
        tokens.push(&header[start..]);
    }
    Ok(tokens)
}

/// Recognizes `Name`, `Name:` and `Name:value`; returns the part and any value glued to it.
fn part_name(token: &str) -> Option<(Part, Option<&str>)> {
    let (name, attached) = match token.split_once(':') {
        Some((name, value)) => (name, Some(value).filter(|value| !value.is_empty())),
        None => (token, None),
    };
    Part::from_name(name).map(|part| (part, attached))
}

fn take_value<'a>(
    part: Part,
    attached: Option<&'a str>,
    tail: &'a [&'a str],
) -> Result<(&'a str, &'a [&'a str]), AuthHeaderError> {
    if let Some(value) = attached {
        return Ok((value, tail));
    }
    let tail = skip_lone_colon(tail);
    match tail.split_first() {
        Some((value, rest)) if part_name(value).is_none() => Ok((strip_leading_colon(value), rest)),
        _ => Err(AuthHeaderError::MissingValue(part)),
    }
}

/// `Element : token` — a colon separated from the name by whitespace.
fn skip_lone_colon<'a>(tail: &'a [&'a str]) -> &'a [&'a str] {
    match tail.split_first() {
        Some((&":", rest)) => rest,
        _ => tail,
    }
}

fn strip_leading_colon(value: &str) -> &str {
    match value.strip_prefix(':') {
        Some(stripped) if !stripped.is_empty() => stripped,
        _ => value,
    }
}

/// The name of an unknown part is echoed only when the client wrote it as a name (`Foo:` or the
/// usual `Bearer`/`Basic` schemes): a bare word could be a secret whose part name was forgotten
/// (`User u, myorgsecret`), and must not reach a response or a log.
fn unknown_part(token: &str) -> AuthHeaderError {
    let (name, colon) = match token.split_once(':') {
        Some((name, _)) => (name, true),
        None => (token, false),
    };
    let well_known = ["bearer", "basic", "token"].iter().any(|scheme| name.eq_ignore_ascii_case(scheme));
    let safe = (colon || well_known)
        && name.len() <= MAX_ECHOED_NAME_LEN
        && !name.is_empty()
        && name.bytes().all(|b| b.is_ascii_alphabetic());
    AuthHeaderError::UnknownPart(safe.then(|| name.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(header: &str) -> (Option<String>, Option<String>, Option<String>) {
        let credentials = parse(header).expect("header parses");
        let value = |secret: Option<Secret>| secret.map(|secret| secret.expose().to_string());
        (value(credentials.user), value(credentials.organization), value(credentials.element))
    }

    fn some(value: &str) -> Option<String> {
        Some(value.to_string())
    }

    #[test]
    fn a_bare_word_that_may_be_a_forgotten_secret_is_never_echoed() {
        assert_eq!(parse("User u, myorgsecret").unwrap_err(), AuthHeaderError::UnknownPart(None));
        assert_eq!(parse("Bearer abc").unwrap_err(), AuthHeaderError::UnknownPart(Some("Bearer".into())));
    }

    #[test]
    fn platform_header_as_documented() {
        assert_eq!(parts("User abc, Organization def"), (some("abc"), some("def"), None));
    }

    #[test]
    fn hub_header_as_documented() {
        assert_eq!(parts("User abc, Element ABC/D+x="), (some("abc"), None, some("ABC/D+x=")));
    }

    #[test]
    fn three_parts_in_any_order() {
        let expected = (some("u"), some("o"), some("t"));
        for header in [
            "User u, Organization o, Element t",
            "Organization o, User u, Element t",
            "Element t, User u, Organization o",
            "Element t, Organization o, User u",
        ] {
            assert_eq!(parts(header), expected, "{header}");
        }
    }

    #[test]
    fn commas_and_whitespace_are_interchangeable() {
        let expected = (some("u"), some("o"), None);
        for header in [
            "User u Organization o",
            "User u,Organization o",
            "  User\tu ,, Organization   o  ",
            ",User u,\r\n Organization o,",
            "User u\nOrganization o",
        ] {
            assert_eq!(parts(header), expected, "{header:?}");
        }
    }

    #[test]
    fn part_names_are_case_insensitive() {
        assert_eq!(parts("user u, ORGANIZATION o, eLeMeNt t"), (some("u"), some("o"), some("t")));
    }

    #[test]
    fn colon_after_the_name_is_tolerated() {
        let expected = (some("u"), None, some("t"));
        for header in ["User: u, Element: t", "User:u, Element:t", "User : u, Element : t", "user:u element :t"] {
            assert_eq!(parts(header), expected, "{header}");
        }
    }

    #[test]
    fn value_may_contain_colons_after_the_first() {
        assert_eq!(parts("Element a:b:c").2, some("a:b:c"));
        assert_eq!(parts("Element: a:b").2, some("a:b"));
    }

    #[test]
    fn empty_header_is_rejected() {
        for header in ["", "   ", ",,, ,", "\t\r\n"] {
            assert_eq!(parse(header).unwrap_err(), AuthHeaderError::Empty, "{header:?}");
        }
    }

    #[test]
    fn unknown_scheme_is_named() {
        assert_eq!(parse("Bearer xyz").unwrap_err(), AuthHeaderError::UnknownPart(Some("Bearer".into())));
        assert_eq!(parse("Basic: xyz").unwrap_err(), AuthHeaderError::UnknownPart(Some("Basic".into())));
    }

    #[test]
    fn unknown_part_that_may_be_a_secret_is_not_echoed() {
        let error = parse("User abc s3cr3t-part-2").unwrap_err();
        assert_eq!(error, AuthHeaderError::UnknownPart(None));
        assert!(!error.to_string().contains("s3cr3t"));
        let long = parse("User abc abcdefghijklmnopqrstuvwxyz").unwrap_err();
        assert_eq!(long, AuthHeaderError::UnknownPart(None));
    }

    #[test]
    fn duplicate_part_is_rejected() {
        assert_eq!(parse("User a, User b").unwrap_err(), AuthHeaderError::DuplicatePart(Part::User));
        assert_eq!(parse("Element a element: a").unwrap_err(), AuthHeaderError::DuplicatePart(Part::Element));
    }

    #[test]
    fn missing_value_is_named() {
        for (header, part) in [
            ("User", Part::User),
            ("User,", Part::User),
            ("User:", Part::User),
            ("User : ", Part::User),
            ("User, Organization o", Part::User),
            ("Organization o, Element", Part::Element),
            ("User Element: t", Part::User),
        ] {
            assert_eq!(parse(header).unwrap_err(), AuthHeaderError::MissingValue(part), "{header}");
        }
    }

    #[test]
    fn require_names_the_absent_part() {
        let credentials = parse("User u").expect("parses");
        assert_eq!(credentials.require(Part::User).map(Secret::expose), Ok("u"));
        assert_eq!(credentials.require(Part::Element).unwrap_err(), AuthHeaderError::MissingPart(Part::Element));
    }

    #[test]
    fn control_characters_are_rejected() {
        for header in ["User a\u{0}b", "User a\u{7f}", "User \u{1b}[31m", "Organization o\u{8}"] {
            assert_eq!(parse(header).unwrap_err(), AuthHeaderError::InvalidCharacter, "{header:?}");
        }
    }

    #[test]
    fn unicode_is_rejected_without_panicking() {
        for header in
            ["User é", "Üser a", "User a\u{a0}Organization b", "User 🔑", "Element\u{3000}t", "User a，Organization b"]
        {
            assert_eq!(parse(header).unwrap_err(), AuthHeaderError::InvalidCharacter, "{header:?}");
        }
    }

    #[test]
    fn huge_header_is_rejected_before_parsing() {
        let huge = format!("User {}", "a".repeat(MAX_HEADER_LEN));
        assert_eq!(parse(&huge).unwrap_err(), AuthHeaderError::TooLong);
        let many_parts = "User a ".repeat(2000);
        assert_eq!(parse(&many_parts).unwrap_err(), AuthHeaderError::TooLong);
    }

    #[test]
    fn header_at_the_limit_is_accepted() {
        let value = "a".repeat(MAX_HEADER_LEN - "User ".len());
        assert_eq!(parts(&format!("User {value}")).0, Some(value));
    }

    #[test]
    fn hostile_inputs_never_panic() {
        let inputs = [":", "::", ": :", "User::", ":User a", "User :", "User ::", ",:,", "Element:::::", "a:b:c"];
        for input in inputs {
            let _ = parse(input);
        }
        for byte in 0u8..=255 {
            let _ = parse(&format!("User a{}b", char::from(byte)));
        }
    }

    #[test]
    fn debug_of_credentials_hides_values() {
        let credentials = parse("User visible-user, Element visible-token").expect("parses");
        let debug = format!("{credentials:?}");
        assert!(!debug.contains("visible"), "{debug}");
    }

    #[test]
    fn error_messages_name_the_problem() {
        assert_eq!(AuthHeaderError::MissingValue(Part::Organization).to_string(), "the Organization part has no value");
        assert_eq!(
            AuthHeaderError::UnknownPart(None).to_string(),
            "unknown part (not shown): expected User, Organization or Element"
        );
    }
}
