//! `LIKE` patterns: matching (`%` any run, `_` one character, ASCII case-insensitive) and
//! recognising the literal-prefix shape `abc%` the vendor can serve as `abc*`.

/// Whether `text` matches `pattern`, ignoring ASCII case.
///
/// Greedy matching that remembers only the last `%`, so the cost is at most
/// `O(len(text) * len(pattern))` whatever the pattern.
pub fn like_matches(text: &str, pattern: &str) -> bool {
    let text: Vec<char> = text.chars().collect();
    let pattern: Vec<char> = pattern.chars().collect();
    let (mut t, mut p) = (0, 0);
    let mut last_star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some('%') => {
                last_star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == '_' || c.eq_ignore_ascii_case(&text[t]) => {
                p += 1;
                t += 1;
            }
            _ => {
                let Some((star_p, star_t)) = last_star else { return false };
                p = star_p + 1;
                t = star_t + 1;
                last_star = Some((star_p, star_t + 1));
            }
        }
    }
    pattern.iter().skip(p).all(|&c| c == '%')
}

/// The literal text of a pattern without wildcards, e.g. `abc` for `abc`.
pub fn exact_text(pattern: &str) -> Option<&str> {
    (!pattern.contains(['%', '_'])).then_some(pattern)
}

/// The prefix of a pattern of the form `abc%` (one trailing `%`, no other wildcard).
pub fn literal_prefix(pattern: &str) -> Option<&str> {
    let prefix = pattern.strip_suffix('%')?;
    exact_text(prefix)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_runs_and_single_characters() {
        assert!(like_matches("Dijkstra", "Dij%"));
        assert!(like_matches("Dijkstra", "dIJ%"));
        assert!(like_matches("Dijkstra", "%kst%"));
        assert!(like_matches("Dijkstra", "D_jkstra"));
        assert!(like_matches("", "%"));
        assert!(like_matches("abc", "a%c"));
        assert!(like_matches("abcbc", "a%bc"));
        assert!(!like_matches("abcbd", "a%bc"));
        assert!(!like_matches("Dijkstra", "D_j"));
        assert!(!like_matches("ab", "a_b"));
        assert!(like_matches("é", "_"));
        assert!(!like_matches("É", "é"));
    }

    #[test]
    fn prefixes_are_recognised_only_in_the_plain_shape() {
        assert_eq!(literal_prefix("abc%"), Some("abc"));
        assert_eq!(literal_prefix("%"), Some(""));
        assert_eq!(literal_prefix("a_c%"), None);
        assert_eq!(literal_prefix("a%c%"), None);
        assert_eq!(literal_prefix("abc"), None);
        assert_eq!(exact_text("abc"), Some("abc"));
        assert_eq!(exact_text("a%"), None);
    }

    #[test]
    fn pathological_patterns_finish() {
        let text = "a".repeat(5000);
        assert!(!like_matches(&text, &format!("{}b", "%a".repeat(200))));
    }
}
