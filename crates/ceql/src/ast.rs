//! The syntax tree of a CEQL `where`: what the parser produces, `check` resolves and types, and the
//! evaluator and planner read. Every node, field reference and literal knows where it came from.

use crate::schema::FieldType;

/// A position in the query text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// Byte offset from the start of the text.
    pub offset: usize,
    /// 1-based column in characters, as shown in error messages.
    pub column: usize,
}

impl Span {
    /// The span of byte `offset` in `source` (clamped to the text's length).
    pub fn locate(source: &str, offset: usize) -> Span {
        let offset = offset.min(source.len());
        let before = source.get(..offset).unwrap_or(source);
        let line_start = before.rfind('\n').map_or(0, |at| at + 1);
        let column = before.get(line_start..).map_or(0, |line| line.chars().count()) + 1;
        Span { offset, column }
    }
}

/// A reference to a hub field.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldRef {
    /// The name as written by the parser; the canonical hub name once `check` has resolved it.
    pub name: String,
    pub span: Span,
    /// `None` from the parser; the field's type once `check` has resolved it. The evaluator compares
    /// as instants only when this is `Some(FieldType::DateTime)`.
    pub ty: Option<FieldType>,
}

/// A literal value as written in the query.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// A single-quoted string, with `''` already unescaped.
    Str(String),
    /// A finite number (integer or decimal, possibly negative).
    Num(f64),
    /// `true` or `false`, in any case.
    Bool(bool),
}

/// A literal with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct Lit {
    pub value: Literal,
    pub span: Span,
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// One node of the tree.
#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    /// `field <op> literal`.
    Compare { field: FieldRef, op: CmpOp, value: Lit },
    /// `field [NOT] LIKE 'pattern'`, `%` any run and `_` one character.
    Like { field: FieldRef, pattern: Lit, negated: bool },
    /// `field [NOT] IN (v1, v2, ...)`, never empty.
    In { field: FieldRef, values: Vec<Lit>, negated: bool },
    /// `field IS [NOT] NULL`.
    IsNull { field: FieldRef, negated: bool },
    /// `NOT operand`.
    Not(Box<Expr>),
    /// Two or more operands, all of which must hold.
    And(Vec<Expr>),
    /// Two or more operands, one of which must hold.
    Or(Vec<Expr>),
}

/// An expression with the position where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

impl Expr {
    /// The field a leaf condition reads; `None` for `NOT`, `AND`, `OR`.
    pub fn field(&self) -> Option<&FieldRef> {
        match &self.kind {
            ExprKind::Compare { field, .. }
            | ExprKind::Like { field, .. }
            | ExprKind::In { field, .. }
            | ExprKind::IsNull { field, .. } => Some(field),
            ExprKind::Not(_) | ExprKind::And(_) | ExprKind::Or(_) => None,
        }
    }
}
