//! The `where` grammar. Tokens come from [`crate::tokens`]; this module owns the structure
//! (precedence, nesting, the size and depth limits) and the wording of every syntax error.
//!
//! ```text
//! where     := or EOF
//! or        := and (OR and)*
//! and       := unary (AND unary)*
//! unary     := NOT unary | '(' or ')' | condition
//! condition := field ( cmp value | [NOT] LIKE string | [NOT] IN '(' value (',' value)* ')'
//!                    | IS [NOT] NULL )
//! cmp       := '=' | '!=' | '<>' | '<' | '<=' | '>' | '>='
//! value     := string | number | TRUE | FALSE
//! ```
//!
//! `AND` and `OR` chains are parsed in loops and stored flat, so only `(` and `NOT` recurse; the
//! depth is checked before each recursion, which bounds the stack for any input.

use crate::ast::{CmpOp, Expr, ExprKind, FieldRef, Lit, Literal, Span};
use crate::error::QueryError;
use crate::tokens::{field_name, keyword, number, quoted, skip_whitespace, symbol, word};
use winnow::error::ErrMode;
use winnow::prelude::*;

/// The longest query accepted, in bytes.
pub const MAX_QUERY_BYTES: usize = 65536;
/// The deepest nesting of parentheses and `NOT`s accepted.
pub const MAX_DEPTH: usize = 64;

/// Parses a `where` parameter.
pub fn parse(input: &str) -> Result<Expr, QueryError> {
    check_length(input)?;
    let mut cursor = Cursor::new(input);
    cursor.skip_whitespace();
    if cursor.at_end() {
        return Err(cursor.expected("a condition"));
    }
    let expr = cursor.or()?;
    cursor.skip_whitespace();
    if !cursor.at_end() {
        return Err(cursor.expected("end of query"));
    }
    Ok(expr)
}

/// Rejects inputs over [`MAX_QUERY_BYTES`]; shared with the `orderBy` and `fields` parsers.
pub(crate) fn check_length(input: &str) -> Result<(), QueryError> {
    if input.len() > MAX_QUERY_BYTES {
        return Err(QueryError::whole(format!("the query is longer than {MAX_QUERY_BYTES} bytes")));
    }
    Ok(())
}

/// The parse position in one query, plus the current nesting depth.
pub(crate) struct Cursor<'a> {
    source: &'a str,
    pub(crate) rest: &'a str,
    depth: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(source: &'a str) -> Self {
        Cursor { source, rest: source, depth: 0 }
    }

    pub(crate) fn span(&self) -> Span {
        Span::locate(self.source, self.source.len() - self.rest.len())
    }

    pub(crate) fn expected(&self, what: &str) -> QueryError {
        QueryError::expected(what, self.span().column)
    }

    pub(crate) fn skip_whitespace(&mut self) {
        skip_whitespace(&mut self.rest);
    }

    pub(crate) fn at_end(&self) -> bool {
        self.rest.is_empty()
    }

    /// Whitespace, then `keyword` if it is next.
    pub(crate) fn keyword(&mut self, word: &str) -> bool {
        self.skip_whitespace();
        keyword(&mut self.rest, word)
    }

    /// Whitespace, then `text` if it is next.
    pub(crate) fn symbol(&mut self, text: &str) -> bool {
        self.skip_whitespace();
        symbol(&mut self.rest, text)
    }

    /// Whitespace, then a field name (bare or back-quoted).
    pub(crate) fn field_name(&mut self) -> Result<(String, Span), QueryError> {
        self.skip_whitespace();
        let span = self.span();
        match field_name(&mut self.rest) {
            Ok(name) if !name.is_empty() => Ok((name, span)),
            Ok(_) | Err(ErrMode::Backtrack(_)) => Err(QueryError::expected("field name", span.column)),
            Err(_) => Err(self.expected("closing backquote")),
        }
    }

    fn or(&mut self) -> Result<Expr, QueryError> {
        let first = self.and()?;
        let span = first.span;
        let mut operands = vec![first];
        while self.keyword("OR") {
            operands.push(self.and()?);
        }
        Ok(combine(operands, span, ExprKind::Or))
    }

    fn and(&mut self) -> Result<Expr, QueryError> {
        let first = self.unary()?;
        let span = first.span;
        let mut operands = vec![first];
        while self.keyword("AND") {
            operands.push(self.unary()?);
        }
        Ok(combine(operands, span, ExprKind::And))
    }

    fn unary(&mut self) -> Result<Expr, QueryError> {
        self.skip_whitespace();
        let span = self.span();
        if self.keyword("NOT") {
            let operand = self.nested(span, Self::unary)?;
            return Ok(Expr { kind: ExprKind::Not(Box::new(operand)), span });
        }
        if self.symbol("(") {
            let inner = self.nested(span, Self::or)?;
            if !self.symbol(")") {
                return Err(self.expected("')'"));
            }
            return Ok(inner);
        }
        if self.at_end() || !self.starts_field() {
            return Err(self.expected("a condition"));
        }
        self.condition()
    }

    /// Runs `inner` one level deeper, refusing to go past [`MAX_DEPTH`] before recursing.
    fn nested(
        &mut self,
        opened_at: Span,
        inner: fn(&mut Self) -> Result<Expr, QueryError>,
    ) -> Result<Expr, QueryError> {
        if self.depth >= MAX_DEPTH {
            return Err(QueryError::at(format!("nesting deeper than {MAX_DEPTH} levels"), opened_at.column));
        }
        self.depth += 1;
        let result = inner(self);
        self.depth -= 1;
        result
    }

    /// A back-quoted name, or a bare word other than the reserved `AND` and `OR` (`NOT` is taken
    /// before this is asked). Such a field can still be written back-quoted.
    fn starts_field(&self) -> bool {
        if self.rest.starts_with('`') {
            return true;
        }
        let mut probe = self.rest;
        let reserved = keyword(&mut probe, "AND") || keyword(&mut probe, "OR");
        !reserved && word.parse_next(&mut probe).is_ok()
    }

    fn condition(&mut self) -> Result<Expr, QueryError> {
        let (name, span) = self.field_name()?;
        let field = FieldRef { name, span, ty: None };
        let kind = self.condition_tail(field)?;
        Ok(Expr { kind, span })
    }

    fn condition_tail(&mut self, field: FieldRef) -> Result<ExprKind, QueryError> {
        if let Some(op) = self.comparison_operator() {
            let value = self.value()?;
            return Ok(ExprKind::Compare { field, op, value });
        }
        if self.keyword("IS") {
            let negated = self.keyword("NOT");
            if !self.keyword("NULL") {
                return Err(self.expected(if negated { "NULL" } else { "NULL or NOT NULL" }));
            }
            return Ok(ExprKind::IsNull { field, negated });
        }
        let negated = self.keyword("NOT");
        if self.keyword("LIKE") {
            let pattern = self.pattern()?;
            return Ok(ExprKind::Like { field, pattern, negated });
        }
        if self.keyword("IN") {
            let values = self.value_list()?;
            return Ok(ExprKind::In { field, values, negated });
        }
        Err(self.expected(if negated { "LIKE or IN" } else { "operator" }))
    }

    fn comparison_operator(&mut self) -> Option<CmpOp> {
        const OPERATORS: [(&str, CmpOp); 7] = [
            ("!=", CmpOp::Ne),
            ("<>", CmpOp::Ne),
            ("<=", CmpOp::Le),
            (">=", CmpOp::Ge),
            ("=", CmpOp::Eq),
            ("<", CmpOp::Lt),
            (">", CmpOp::Gt),
        ];
        self.skip_whitespace();
        OPERATORS.iter().find(|(text, _)| symbol(&mut self.rest, text)).map(|(_, op)| *op)
    }

    fn pattern(&mut self) -> Result<Lit, QueryError> {
        self.skip_whitespace();
        let span = self.span();
        match self.string()? {
            Some(text) => Ok(Lit { value: Literal::Str(text), span }),
            None => Err(self.expected("a quoted pattern")),
        }
    }

    fn value_list(&mut self) -> Result<Vec<Lit>, QueryError> {
        if !self.symbol("(") {
            return Err(self.expected("'('"));
        }
        let mut values = vec![self.value()?];
        while self.symbol(",") {
            values.push(self.value()?);
        }
        if !self.symbol(")") {
            return Err(self.expected("',' or ')'"));
        }
        Ok(values)
    }

    fn value(&mut self) -> Result<Lit, QueryError> {
        self.skip_whitespace();
        let span = self.span();
        if let Some(text) = self.string()? {
            return Ok(Lit { value: Literal::Str(text), span });
        }
        if let Some(value) = self.number()? {
            return Ok(Lit { value: Literal::Num(value), span });
        }
        if self.keyword("true") {
            return Ok(Lit { value: Literal::Bool(true), span });
        }
        if self.keyword("false") {
            return Ok(Lit { value: Literal::Bool(false), span });
        }
        Err(self.expected("value"))
    }

    /// A single-quoted string if one starts here.
    fn string(&mut self) -> Result<Option<String>, QueryError> {
        match quoted(&mut self.rest, '\'') {
            Ok(text) => Ok(Some(text)),
            Err(ErrMode::Backtrack(_)) => Ok(None),
            Err(_) => Err(self.expected("closing quote")),
        }
    }

    /// A number if one starts here; digits too many for a finite `f64` are an error.
    fn number(&mut self) -> Result<Option<f64>, QueryError> {
        let span = self.span();
        // winnow does not rewind a failed sequence, so a lone `-` is read from a copy.
        let mut probe = self.rest;
        let Ok(text) = number.parse_next(&mut probe) else { return Ok(None) };
        self.rest = probe;
        match text.parse::<f64>() {
            Ok(value) if value.is_finite() => Ok(Some(value)),
            _ => Err(QueryError::at("number out of range", span.column)),
        }
    }
}

/// One operand stays itself; several become an `AND` or `OR` node.
fn combine(mut operands: Vec<Expr>, span: Span, node: fn(Vec<Expr>) -> ExprKind) -> Expr {
    if operands.len() == 1 {
        if let Some(only) = operands.pop() {
            return only;
        }
    }
    Expr { kind: node(operands), span }
}
