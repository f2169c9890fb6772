//! Builds the template tree from tokens, checking at parse time what Go's
//! parser checks: undefined variables, unknown functions, unbalanced
//! `if`/`range`/`with`/`end`.

use super::lexer::{Spanned, Token};
use super::TemplateError;

#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Text(String),
    Action { line: usize, pipe: Pipeline },
    If(Branch),
    With(Branch),
    Range(Branch),
}

/// The shared shape of `if`, `with` and `range`.
#[derive(Debug, Clone, PartialEq)]
pub struct Branch {
    pub line: usize,
    pub pipe: Pipeline,
    pub body: Vec<Node>,
    pub otherwise: Vec<Node>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Pipeline {
    /// Variables declared (`:=`) or assigned (`=`) by this pipeline.
    pub vars: Vec<String>,
    pub declares: bool,
    pub commands: Vec<Command>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Command {
    pub args: Vec<Arg>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    /// `.A.B`; empty for `.` itself.
    Field(Vec<String>),
    Variable(String, Vec<String>),
    Function(String),
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Nil,
    Pipeline(Box<Pipeline>, Vec<String>),
}

/// What ended a list of nodes.
enum ListEnd {
    Eof,
    End,
    Else,
    ElseIf(usize, Pipeline),
}

pub struct Parser<'a> {
    name: &'a str,
    tokens: Vec<Spanned>,
    pos: usize,
    /// Variables in scope; each `if`/`range`/`with` restores the length.
    scope: Vec<String>,
    is_function: &'a dyn Fn(&str) -> bool,
}

impl<'a> Parser<'a> {
    pub fn new(name: &'a str, tokens: Vec<Spanned>, is_function: &'a dyn Fn(&str) -> bool) -> Self {
        Parser {
            name,
            tokens,
            pos: 0,
            scope: vec!["$".to_string()],
            is_function,
        }
    }

    /// Lets the text use variables it does not declare: those a prelude
    /// run before it declares.
    pub fn with_variables<'v>(mut self, names: impl IntoIterator<Item = &'v String>) -> Self {
        self.scope.extend(names.into_iter().cloned());
        self
    }

    pub fn parse(mut self) -> Result<Vec<Node>, TemplateError> {
        let (nodes, end) = self.list()?;
        match end {
            ListEnd::Eof => Ok(nodes),
            ListEnd::End => Err(self.error("unexpected {{end}}")),
            ListEnd::Else | ListEnd::ElseIf(..) => Err(self.error("unexpected {{else}}")),
        }
    }

    fn line(&self) -> usize {
        self.tokens
            .get(self.pos)
            .or(self.tokens.last())
            .map_or(1, |t| t.line)
    }

    fn error(&self, msg: impl Into<String>) -> TemplateError {
        TemplateError::parse(self.name, self.line(), msg)
    }

    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos).map(|t| &t.token)
    }

    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.pos).map(|t| t.token.clone());
        self.pos += 1;
        token
    }

    fn expect_close(&mut self, context: &str) -> Result<(), TemplateError> {
        match self.next() {
            Some(Token::Close) => Ok(()),
            _ => Err(self.error(format!("unexpected token in {context}"))),
        }
    }

    fn list(&mut self) -> Result<(Vec<Node>, ListEnd), TemplateError> {
        let mut nodes = Vec::new();
        loop {
            match self.next() {
                None => return Ok((nodes, ListEnd::Eof)),
                Some(Token::Text(t)) => nodes.push(Node::Text(t)),
                Some(Token::Open) => {
                    let line = self.line();
                    match self.peek() {
                        Some(Token::Ident(k)) if k == "end" => {
                            self.pos += 1;
                            self.expect_close("end")?;
                            return Ok((nodes, ListEnd::End));
                        }
                        Some(Token::Ident(k)) if k == "else" => {
                            self.pos += 1;
                            if matches!(self.peek(), Some(Token::Ident(k)) if k == "if") {
                                self.pos += 1;
                                let pipe = self.pipeline("if")?;
                                return Ok((nodes, ListEnd::ElseIf(line, pipe)));
                            }
                            self.expect_close("else")?;
                            return Ok((nodes, ListEnd::Else));
                        }
                        Some(Token::Ident(k)) if k == "if" || k == "with" || k == "range" => {
                            let keyword = k.clone();
                            self.pos += 1;
                            nodes.push(self.branch(&keyword, line)?);
                        }
                        Some(Token::Ident(k))
                            if matches!(
                                k.as_str(),
                                "define" | "template" | "block" | "break" | "continue"
                            ) =>
                        {
                            return Err(self.error(format!(
                                "{{{{{k}}}}} is not supported in alert templates"
                            )));
                        }
                        _ => {
                            let pipe = self.pipeline("command")?;
                            nodes.push(Node::Action { line, pipe });
                        }
                    }
                }
                Some(other) => return Err(self.error(format!("unexpected {other:?}"))),
            }
        }
    }

    fn branch(&mut self, keyword: &str, line: usize) -> Result<Node, TemplateError> {
        let scope_len = self.scope.len();
        let pipe = self.pipeline(keyword)?;
        let (body, end) = self.list()?;
        let otherwise = match end {
            ListEnd::Eof => return Err(self.error(format!("unexpected EOF in {keyword}"))),
            ListEnd::End => Vec::new(),
            ListEnd::Else => {
                self.scope.truncate(scope_len);
                let (otherwise, end) = self.list()?;
                if !matches!(end, ListEnd::End) {
                    return Err(self.error(format!("expected end; found {keyword} else")));
                }
                otherwise
            }
            ListEnd::ElseIf(else_line, else_pipe) if keyword == "if" => {
                // `{{else if x}}` is an `if` nested in the else branch that
                // shares this branch's `{{end}}`.
                self.scope.truncate(scope_len);
                vec![self.branch_from(else_line, else_pipe)?]
            }
            ListEnd::ElseIf(..) => return Err(self.error(format!("else if in {keyword}"))),
        };
        self.scope.truncate(scope_len);
        let branch = Branch {
            line,
            pipe,
            body,
            otherwise,
        };
        Ok(match keyword {
            "if" => Node::If(branch),
            "with" => Node::With(branch),
            _ => Node::Range(branch),
        })
    }

    fn branch_from(&mut self, line: usize, pipe: Pipeline) -> Result<Node, TemplateError> {
        let scope_len = self.scope.len();
        let (body, end) = self.list()?;
        let otherwise = match end {
            ListEnd::End => Vec::new(),
            ListEnd::Else => {
                self.scope.truncate(scope_len);
                let (otherwise, end) = self.list()?;
                if !matches!(end, ListEnd::End) {
                    return Err(self.error("expected end; found else"));
                }
                otherwise
            }
            ListEnd::ElseIf(l, p) => vec![self.branch_from(l, p)?],
            ListEnd::Eof => return Err(self.error("unexpected EOF in if")),
        };
        self.scope.truncate(scope_len);
        Ok(Node::If(Branch {
            line,
            pipe,
            body,
            otherwise,
        }))
    }

    /// A pipeline up to and including the closing `}}` (or `)` when nested).
    fn pipeline(&mut self, context: &str) -> Result<Pipeline, TemplateError> {
        let mut vars = Vec::new();
        let mut declares = false;
        // Look ahead for `$x :=`, `$x =` or `$i, $e :=`.
        let start = self.pos;
        loop {
            match (
                self.tokens.get(self.pos).map(|t| &t.token),
                self.tokens.get(self.pos + 1).map(|t| &t.token),
            ) {
                (Some(Token::Variable(v)), Some(Token::Declare | Token::Assign)) => {
                    declares = matches!(self.tokens[self.pos + 1].token, Token::Declare);
                    vars.push(v.clone());
                    self.pos += 2;
                    break;
                }
                (Some(Token::Variable(v)), Some(Token::Comma))
                    if context == "range" && vars.is_empty() =>
                {
                    vars.push(v.clone());
                    self.pos += 2;
                }
                _ => {
                    vars.clear();
                    self.pos = start;
                    break;
                }
            }
        }
        if !declares {
            for v in &vars {
                if !self.scope.contains(v) {
                    return Err(self.error(format!("undefined variable {v:?}")));
                }
            }
        }
        let mut commands = Vec::new();
        loop {
            let command = self.command()?;
            if command.args.is_empty() {
                return Err(self.error(format!("missing value for {context}")));
            }
            commands.push(command);
            match self.next() {
                Some(Token::Pipe) => continue,
                Some(Token::Close) | Some(Token::RParen) => break,
                Some(other) => return Err(self.error(format!("unexpected {other:?} in {context}"))),
                None => return Err(self.error(format!("unclosed action in {context}"))),
            }
        }
        if declares {
            self.scope.extend(vars.iter().cloned());
        }
        Ok(Pipeline {
            vars,
            declares,
            commands,
        })
    }

    fn command(&mut self) -> Result<Command, TemplateError> {
        let mut args = Vec::new();
        while let Some(token) = self.peek().cloned() {
            let arg = match token {
                Token::Close | Token::RParen | Token::Pipe => break,
                Token::Field(f) => {
                    self.pos += 1;
                    let mut chain = vec![f];
                    chain.extend(self.field_chain());
                    Arg::Field(chain)
                }
                Token::Dot => {
                    self.pos += 1;
                    Arg::Field(Vec::new())
                }
                Token::Variable(v) => {
                    self.pos += 1;
                    if !self.scope.contains(&v) {
                        return Err(self.error(format!("undefined variable {v:?}")));
                    }
                    Arg::Variable(v, self.field_chain())
                }
                Token::Str(s) => {
                    self.pos += 1;
                    Arg::Str(s)
                }
                Token::Number(n) => {
                    self.pos += 1;
                    parse_number(&n)
                        .ok_or_else(|| self.error(format!("bad number syntax: {n:?}")))?
                }
                Token::Ident(name) => {
                    self.pos += 1;
                    match name.as_str() {
                        "true" => Arg::Bool(true),
                        "false" => Arg::Bool(false),
                        "nil" => Arg::Nil,
                        _ if (self.is_function)(&name) => Arg::Function(name),
                        _ => return Err(self.error(format!("function {name:?} not defined"))),
                    }
                }
                Token::LParen => {
                    self.pos += 1;
                    let inner = self.pipeline("parenthesized pipeline")?;
                    Arg::Pipeline(Box::new(inner), self.field_chain())
                }
                other => return Err(self.error(format!("unexpected {other:?} in operand"))),
            };
            args.push(arg);
        }
        Ok(Command { args })
    }

    fn field_chain(&mut self) -> Vec<String> {
        let mut chain = Vec::new();
        while let Some(Token::Field(f)) = self.peek() {
            chain.push(f.clone());
            self.pos += 1;
        }
        chain
    }
}

fn parse_number(text: &str) -> Option<Arg> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let sign = if negative { -1 } else { 1 };
    let int = if let Some(hex) = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        i64::from_str_radix(&hex.replace('_', ""), 16).ok()
    } else if digits.bytes().all(|b| b.is_ascii_digit() || b == b'_') {
        digits.replace('_', "").parse::<i64>().ok()
    } else {
        None
    };
    if let Some(i) = int {
        return Some(Arg::Int(sign * i));
    }
    digits
        .replace('_', "")
        .parse::<f64>()
        .ok()
        .filter(|f| f.is_finite())
        .map(|f| Arg::Float(sign as f64 * f))
}
