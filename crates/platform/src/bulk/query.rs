//! The `q` of a query job: `select <fields> from <object> [where <CEQL>] [order by <terms>]`.
//! Keywords match ignoring case, outside quoted text only; the `where` and `order by` texts are
//! handed to the hub engine as they are (it checks them against the object), the fields must be
//! the object's.

/// A parsed `q`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BulkQuery {
    /// `None` for `*`.
    pub fields: Option<Vec<String>>,
    pub object: String,
    pub where_: Option<String>,
    pub order_by: Option<String>,
}

/// The longest `q` accepted.
pub const MAX_QUERY_LENGTH: usize = 16 * 1024;

/// Parses `q`; the error names what is missing or wrong.
pub fn parse(q: &str) -> Result<BulkQuery, String> {
    let q = q.trim();
    if q.is_empty() {
        return Err("Invalid parameter 'q': a bulk query needs `select <fields> from <object>`".into());
    }
    if q.len() > MAX_QUERY_LENGTH {
        return Err(format!("Invalid parameter 'q': longer than {MAX_QUERY_LENGTH} bytes"));
    }
    let select = keyword_at(q, 0, "select")
        .ok_or("Invalid parameter 'q': a bulk query starts with `select` (select * from contacts where ...)")?;
    let from = find_keyword(q, select, "from").ok_or("Invalid parameter 'q': `from <object>` is missing")?;
    let fields_text = q[select..from.0].trim();
    let after_from = from.1;
    let where_at = find_keyword(q, after_from, "where");
    let order_at = find_keyword(q, where_at.map_or(after_from, |at| at.1), "order");
    let object_end = where_at.or(order_at).map_or(q.len(), |at| at.0);
    let object = q[after_from..object_end].trim();
    if object.is_empty() || object.contains(char::is_whitespace) {
        return Err("Invalid parameter 'q': `from` names one object (select * from contacts)".into());
    }
    let where_ = where_at.map(|at| q[at.1..order_at.map_or(q.len(), |order| order.0)].trim().to_string());
    if where_.as_deref() == Some("") {
        return Err("Invalid parameter 'q': `where` is followed by no condition".into());
    }
    let order_by = match order_at {
        None => None,
        Some(at) => {
            let by =
                keyword_at(q, skip_space(q, at.1), "by").ok_or("Invalid parameter 'q': `order` must be `order by`")?;
            let terms = q[by..].trim();
            if terms.is_empty() {
                return Err("Invalid parameter 'q': `order by` names no field".into());
            }
            Some(terms.to_string())
        }
    };
    let fields = match fields_text {
        "" => return Err("Invalid parameter 'q': `select` names no fields (use * for all)".into()),
        "*" => None,
        text => {
            let names: Vec<String> = text.split(',').map(|name| name.trim().to_string()).collect();
            if names.iter().any(|name| name.is_empty() || name.contains(char::is_whitespace)) {
                return Err("Invalid parameter 'q': the select list is field names separated by commas".into());
            }
            Some(names)
        }
    };
    Ok(BulkQuery { fields, object: object.to_string(), where_, order_by })
}

/// The end of `word` when `text` has it at `at` as a whole word (ignoring case).
fn keyword_at(text: &str, at: usize, word: &str) -> Option<usize> {
    let end = at + word.len();
    let candidate = text.get(at..end)?;
    let bounded = text[end..].chars().next().is_none_or(|c| !is_word(c));
    (candidate.eq_ignore_ascii_case(word) && bounded).then_some(end)
}

/// The first whole-word `word` at or after `from`, outside quoted text: its start and end.
fn find_keyword(text: &str, from: usize, word: &str) -> Option<(usize, usize)> {
    let mut quote: Option<char> = None;
    let mut previous: Option<char> = text[..from].chars().next_back();
    for (offset, c) in text[from..].char_indices() {
        let at = from + offset;
        match quote {
            Some(open) if c == open => quote = None,
            Some(_) => {}
            None if c == '\'' || c == '"' || c == '`' => quote = Some(c),
            None if previous.is_none_or(|p| !is_word(p)) => {
                if let Some(end) = keyword_at(text, at, word) {
                    return Some((at, end));
                }
            }
            None => {}
        }
        previous = Some(c);
    }
    None
}

fn skip_space(text: &str, at: usize) -> usize {
    at + text[at..].len() - text[at..].trim_start().len()
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '.'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_query_splits_into_its_parts() {
        let parsed = parse("SELECT Id, Email FROM contacts WHERE Email like '%from x%' ORDER BY Id desc").unwrap();
        assert_eq!(parsed.fields, Some(vec!["Id".to_string(), "Email".to_string()]));
        assert_eq!(parsed.object, "contacts");
        assert_eq!(parsed.where_.as_deref(), Some("Email like '%from x%'"));
        assert_eq!(parsed.order_by.as_deref(), Some("Id desc"));
    }

    #[test]
    fn star_and_no_where_mean_every_field_of_every_record() {
        let parsed = parse("select * from contacts").unwrap();
        assert_eq!((parsed.fields, parsed.where_, parsed.order_by), (None, None, None));
    }

    #[test]
    fn keywords_inside_quotes_or_names_are_not_keywords() {
        let parsed = parse("select * from contacts where FirstName = 'order by where' and Informed = true").unwrap();
        assert_eq!(parsed.where_.as_deref(), Some("FirstName = 'order by where' and Informed = true"));
        assert_eq!(parse("select fromage from contacts").unwrap().fields, Some(vec!["fromage".to_string()]));
    }

    #[test]
    fn malformed_queries_say_what_is_wrong() {
        for (q, wanted) in [
            ("", "needs"),
            ("delete from contacts", "starts with `select`"),
            ("select *", "`from <object>` is missing"),
            ("select * from", "names one object"),
            ("select * from contacts accounts", "names one object"),
            ("select * from contacts where", "no condition"),
            ("select * from contacts order Id", "`order by`"),
            ("select from contacts", "names no fields"),
            ("select Id,,Email from contacts", "separated by commas"),
        ] {
            let error = parse(q).unwrap_err();
            assert!(error.contains(wanted), "{q}: {error}");
        }
        assert!(parse(&"x".repeat(MAX_QUERY_LENGTH + 1)).unwrap_err().contains("longer"));
    }
}
