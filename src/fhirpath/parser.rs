//! FHIRPath text → syntax tree: a small lexer and a precedence-climbing parser
//! (FHIRPath N1 grammar, operator precedence from the specification's §6 table).

use super::FhirPathError;

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// `{}`
    Empty,
    Bool(bool),
    Str(String),
    /// Number literal, kept as text so decimals keep their precision.
    Num(String),
    Quantity(String, String),
    Date(String),
    DateTime(String),
    Time(String),
    /// A name on the focus (`name`, or a type name at the root such as `Patient`).
    Ident(String),
    /// `%name` (environment variable or ViewDefinition constant).
    Var(String),
    This,
    Index,
    Total,
    Member(Box<Expr>, String),
    /// `f(args)` on an input (None = the focus).
    Call(Option<Box<Expr>>, String, Vec<Expr>),
    Indexer(Box<Expr>, Box<Expr>),
    Neg(Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    Is(Box<Expr>, String),
    As(Box<Expr>, String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Implies,
    Or,
    Xor,
    And,
    In,
    Contains,
    Eq,
    Equiv,
    Ne,
    NotEquiv,
    Lt,
    Gt,
    Le,
    Ge,
    Union,
    Add,
    Sub,
    Concat,
    Mul,
    Div,
    IntDiv,
    Mod,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    /// Backtick-delimited identifier: never a keyword.
    Quoted(String),
    Str(String),
    Num(String),
    Date(String),
    DateTime(String),
    Time(String),
    Var(String),
    Special(String),
    Sym(&'static str),
}

const SYMS: &[&str] = &[
    "<=", ">=", "!=", "!~", "(", ")", "[", "]", "{", "}", ".", ",", "=", "~", "<", ">", "|", "+",
    "-", "&", "*", "/",
];

fn err(msg: impl Into<String>) -> FhirPathError {
    FhirPathError::Syntax(msg.into())
}

fn lex(src: &str) -> Result<Vec<Tok>, FhirPathError> {
    let b: Vec<char> = src.chars().collect();
    let mut i = 0;
    let mut out = Vec::new();
    while i < b.len() {
        let c = b[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c == '/' && b.get(i + 1) == Some(&'/') {
            while i < b.len() && b[i] != '\n' {
                i += 1;
            }
            continue;
        }
        if c == '/' && b.get(i + 1) == Some(&'*') {
            i += 2;
            while i + 1 < b.len() && !(b[i] == '*' && b[i + 1] == '/') {
                i += 1;
            }
            if i + 1 >= b.len() {
                return Err(err("unterminated comment"));
            }
            i += 2;
            continue;
        }
        if c == '\'' || c == '`' {
            let (s, n) = quoted(&b[i..], c)?;
            i += n;
            out.push(if c == '\'' {
                Tok::Str(s)
            } else {
                Tok::Quoted(s)
            });
            continue;
        }
        if c.is_ascii_digit() {
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            if i + 1 < b.len() && b[i] == '.' && b[i + 1].is_ascii_digit() {
                i += 1;
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
            }
            out.push(Tok::Num(b[start..i].iter().collect()));
            continue;
        }
        if c == '@' {
            let start = i + 1;
            i += 1;
            while i < b.len() {
                let ok = b[i].is_ascii_digit()
                    || matches!(b[i], '-' | ':' | 'T' | 'Z')
                    || (b[i] == '.' && b.get(i + 1).is_some_and(|c| c.is_ascii_digit()))
                    || (b[i] == '+' && b[start..i].contains(&'T'));
                if !ok {
                    break;
                }
                i += 1;
            }
            let text: String = b[start..i].iter().collect();
            if text.is_empty() {
                return Err(err("`@` must start a date, dateTime or time literal"));
            }
            if let Some(t) = text.strip_prefix('T') {
                out.push(Tok::Time(t.to_owned()));
            } else if let Some(d) = text.strip_suffix('T') {
                out.push(Tok::DateTime(d.to_owned()));
            } else if text.contains('T') {
                out.push(Tok::DateTime(text));
            } else {
                out.push(Tok::Date(text));
            }
            continue;
        }
        if c == '%' {
            i += 1;
            if i < b.len() && (b[i] == '`' || b[i] == '\'') {
                let (s, n) = quoted(&b[i..], b[i])?;
                i += n;
                out.push(Tok::Var(s));
            } else {
                let start = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == '_' || b[i] == '-') {
                    i += 1;
                }
                if start == i {
                    return Err(err("`%` must be followed by a name"));
                }
                out.push(Tok::Var(b[start..i].iter().collect()));
            }
            continue;
        }
        if c == '$' {
            let start = i;
            i += 1;
            while i < b.len() && b[i].is_ascii_alphabetic() {
                i += 1;
            }
            out.push(Tok::Special(b[start..i].iter().collect()));
            continue;
        }
        if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < b.len() && (b[i].is_alphanumeric() || b[i] == '_') {
                i += 1;
            }
            out.push(Tok::Ident(b[start..i].iter().collect()));
            continue;
        }
        let rest: String = b[i..(i + 2).min(b.len())].iter().collect();
        match SYMS.iter().find(|s| rest.starts_with(**s)) {
            Some(s) => {
                out.push(Tok::Sym(s));
                i += s.chars().count();
            }
            None => return Err(err(format!("unexpected character `{c}`"))),
        }
    }
    Ok(out)
}

/// A quoted string or identifier with FHIRPath escapes; returns (text, chars consumed).
fn quoted(b: &[char], q: char) -> Result<(String, usize), FhirPathError> {
    let mut s = String::new();
    let mut i = 1;
    while i < b.len() {
        match b[i] {
            c if c == q => return Ok((s, i + 1)),
            '\\' => {
                i += 1;
                match b.get(i) {
                    Some('n') => s.push('\n'),
                    Some('r') => s.push('\r'),
                    Some('t') => s.push('\t'),
                    Some('f') => s.push('\u{c}'),
                    Some('u') => {
                        let hex: String = b.get(i + 1..i + 5).unwrap_or(&[]).iter().collect();
                        let cp = u32::from_str_radix(&hex, 16)
                            .ok()
                            .and_then(char::from_u32)
                            .ok_or_else(|| err("bad \\u escape"))?;
                        s.push(cp);
                        i += 4;
                    }
                    Some(c) => s.push(*c),
                    None => break,
                }
            }
            c => s.push(c),
        }
        i += 1;
    }
    Err(err("unterminated string"))
}

const CALENDAR_UNITS: &[&str] = &[
    "year",
    "years",
    "month",
    "months",
    "week",
    "weeks",
    "day",
    "days",
    "hour",
    "hours",
    "minute",
    "minutes",
    "second",
    "seconds",
    "millisecond",
    "milliseconds",
];

impl Expr {
    /// The names of every function the expression calls (for the portability listing of
    /// the SDTM views, README "Portable views").
    pub fn functions(&self, out: &mut std::collections::BTreeSet<String>) {
        match self {
            Expr::Call(input, name, args) => {
                out.insert(name.clone());
                if let Some(i) = input {
                    i.functions(out);
                }
                args.iter().for_each(|a| a.functions(out));
            }
            Expr::Member(e, _) | Expr::Neg(e) | Expr::Is(e, _) | Expr::As(e, _) => e.functions(out),
            Expr::Indexer(a, b) | Expr::Binary(_, a, b) => {
                a.functions(out);
                b.functions(out);
            }
            _ => {}
        }
    }
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

pub fn parse(src: &str) -> Result<Expr, FhirPathError> {
    let mut p = Parser {
        toks: lex(src)?,
        pos: 0,
    };
    if p.toks.is_empty() {
        return Err(err("empty expression"));
    }
    let e = p.expr(0)?;
    if p.pos < p.toks.len() {
        return Err(err(format!("unexpected {:?}", p.toks[p.pos])));
    }
    Ok(e)
}

fn binop(t: &Tok) -> Option<(BinOp, u8)> {
    use BinOp::*;
    Some(match t {
        Tok::Ident(s) => match s.as_str() {
            "implies" => (Implies, 1),
            "or" => (Or, 2),
            "xor" => (Xor, 2),
            "and" => (And, 3),
            "in" => (In, 4),
            "contains" => (Contains, 4),
            "div" => (IntDiv, 10),
            "mod" => (Mod, 10),
            _ => return None,
        },
        Tok::Sym(s) => match *s {
            "=" => (Eq, 5),
            "~" => (Equiv, 5),
            "!=" => (Ne, 5),
            "!~" => (NotEquiv, 5),
            "<" => (Lt, 6),
            ">" => (Gt, 6),
            "<=" => (Le, 6),
            ">=" => (Ge, 6),
            "|" => (Union, 7),
            "+" => (Add, 9),
            "-" => (Sub, 9),
            "&" => (Concat, 9),
            "*" => (Mul, 10),
            "/" => (Div, 10),
            _ => return None,
        },
        _ => return None,
    })
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }
    fn eat(&mut self, s: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Sym(x)) if *x == s) {
            self.pos += 1;
            true
        } else {
            false
        }
    }
    fn expect(&mut self, s: &str) -> Result<(), FhirPathError> {
        if self.eat(s) {
            Ok(())
        } else {
            Err(err(format!("expected `{s}`")))
        }
    }

    fn expr(&mut self, min: u8) -> Result<Expr, FhirPathError> {
        let mut lhs = self.unary()?;
        loop {
            // `is` / `as` (precedence 8) take a type specifier, not an expression.
            if let Some(Tok::Ident(k)) = self.peek() {
                if (k == "is" || k == "as") && 8 >= min {
                    let is = k == "is";
                    self.pos += 1;
                    let ty = self.type_spec()?;
                    lhs = if is {
                        Expr::Is(Box::new(lhs), ty)
                    } else {
                        Expr::As(Box::new(lhs), ty)
                    };
                    continue;
                }
            }
            let Some((op, prec)) = self.peek().and_then(binop) else {
                break;
            };
            if prec < min {
                break;
            }
            self.pos += 1;
            let rhs = self.expr(prec + 1)?;
            lhs = Expr::Binary(op, Box::new(lhs), Box::new(rhs));
        }
        Ok(lhs)
    }

    fn type_spec(&mut self) -> Result<String, FhirPathError> {
        let mut name = match self.toks.get(self.pos) {
            Some(Tok::Ident(s)) | Some(Tok::Quoted(s)) => s.clone(),
            _ => return Err(err("expected a type name")),
        };
        self.pos += 1;
        while matches!(self.peek(), Some(Tok::Sym("."))) {
            self.pos += 1;
            match self.toks.get(self.pos) {
                Some(Tok::Ident(s)) | Some(Tok::Quoted(s)) => {
                    name = format!("{name}.{s}");
                    self.pos += 1;
                }
                _ => return Err(err("expected a type name after `.`")),
            }
        }
        Ok(name)
    }

    fn unary(&mut self) -> Result<Expr, FhirPathError> {
        if self.eat("-") {
            let e = self.unary()?;
            return Ok(Expr::Neg(Box::new(e)));
        }
        if self.eat("+") {
            return self.unary();
        }
        let mut e = self.term()?;
        loop {
            if self.eat(".") {
                let name = match self.toks.get(self.pos) {
                    Some(Tok::Ident(s)) | Some(Tok::Quoted(s)) => s.clone(),
                    _ => return Err(err("expected a name after `.`")),
                };
                self.pos += 1;
                if self.eat("(") {
                    let args = self.args()?;
                    e = Expr::Call(Some(Box::new(e)), name, args);
                } else {
                    e = Expr::Member(Box::new(e), name);
                }
            } else if self.eat("[") {
                let idx = self.expr(0)?;
                self.expect("]")?;
                e = Expr::Indexer(Box::new(e), Box::new(idx));
            } else {
                break;
            }
        }
        Ok(e)
    }

    fn args(&mut self) -> Result<Vec<Expr>, FhirPathError> {
        let mut args = Vec::new();
        if self.eat(")") {
            return Ok(args);
        }
        loop {
            args.push(self.expr(0)?);
            if self.eat(")") {
                return Ok(args);
            }
            self.expect(",")?;
        }
    }

    fn term(&mut self) -> Result<Expr, FhirPathError> {
        let Some(t) = self.toks.get(self.pos).cloned() else {
            return Err(err("unexpected end of expression"));
        };
        self.pos += 1;
        Ok(match t {
            Tok::Str(s) => Expr::Str(s),
            Tok::Num(n) => match self.toks.get(self.pos) {
                Some(Tok::Str(u)) => {
                    let u = u.clone();
                    self.pos += 1;
                    Expr::Quantity(n, u)
                }
                Some(Tok::Ident(u)) if CALENDAR_UNITS.contains(&u.as_str()) => {
                    let u = u.clone();
                    self.pos += 1;
                    Expr::Quantity(n, u)
                }
                _ => Expr::Num(n),
            },
            Tok::Date(s) => Expr::Date(s),
            Tok::DateTime(s) => Expr::DateTime(s),
            Tok::Time(s) => Expr::Time(s),
            Tok::Var(v) => Expr::Var(v),
            Tok::Special(s) => match s.as_str() {
                "$this" => Expr::This,
                "$index" => Expr::Index,
                "$total" => Expr::Total,
                _ => return Err(err(format!("unknown special variable `{s}`"))),
            },
            Tok::Sym("(") => {
                let e = self.expr(0)?;
                self.expect(")")?;
                e
            }
            Tok::Sym("{") => {
                self.expect("}")?;
                Expr::Empty
            }
            Tok::Ident(s) if s == "true" => Expr::Bool(true),
            Tok::Ident(s) if s == "false" => Expr::Bool(false),
            Tok::Ident(s) | Tok::Quoted(s) => {
                if self.eat("(") {
                    let args = self.args()?;
                    Expr::Call(None, s, args)
                } else {
                    Expr::Ident(s)
                }
            }
            other => return Err(err(format!("unexpected {other:?}"))),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence_follows_the_specification() {
        let e = parse("a or b and c = 1 + 2 * 3").unwrap();
        let Expr::Binary(BinOp::Or, _, rhs) = e else {
            panic!("or is loosest")
        };
        let Expr::Binary(BinOp::And, _, rhs) = *rhs else {
            panic!()
        };
        assert!(matches!(*rhs, Expr::Binary(BinOp::Eq, _, _)));
    }

    #[test]
    fn literals_and_invocations() {
        assert_eq!(
            parse("4.50 'mg'").unwrap(),
            Expr::Quantity("4.50".into(), "mg".into())
        );
        assert_eq!(
            parse("@2015-02-04T14:34:28+09:00").unwrap(),
            Expr::DateTime("2015-02-04T14:34:28+09:00".into())
        );
        assert!(matches!(
            parse("name.where(use = 'official').given[0]").unwrap(),
            Expr::Indexer(_, _)
        ));
        assert!(parse("@@").is_err());
        assert!(parse("a.").is_err());
        assert!(parse("").is_err());
    }
}
