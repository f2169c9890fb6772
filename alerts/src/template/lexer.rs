//! Splits a Go template into text and the tokens inside `{{ }}`.

use super::TemplateError;

#[derive(Debug, Clone, PartialEq)]
pub enum Token {
    Text(String),
    Open,
    Close,
    Ident(String),
    /// `.Name`; `Dot` alone is the cursor.
    Field(String),
    Dot,
    /// `$name`, or `$` alone.
    Variable(String),
    Str(String),
    Number(String),
    Pipe,
    LParen,
    RParen,
    Declare,
    Assign,
    Comma,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Spanned {
    pub token: Token,
    pub line: usize,
}

pub fn lex(name: &str, src: &str) -> Result<Vec<Spanned>, TemplateError> {
    Lexer {
        name,
        src,
        pos: 0,
        line: 1,
        out: Vec::new(),
    }
    .run()
}

struct Lexer<'a> {
    name: &'a str,
    src: &'a str,
    pos: usize,
    line: usize,
    out: Vec<Spanned>,
}

impl Lexer<'_> {
    fn error(&self, msg: impl Into<String>) -> TemplateError {
        TemplateError::parse(self.name, self.line, msg)
    }

    fn push(&mut self, token: Token) {
        self.out.push(Spanned {
            token,
            line: self.line,
        });
    }

    fn run(mut self) -> Result<Vec<Spanned>, TemplateError> {
        let mut trim_next_text = false;
        while self.pos < self.src.len() {
            let rest = &self.src[self.pos..];
            let text_end = rest.find("{{").unwrap_or(rest.len());
            let mut text = &rest[..text_end];
            let open_trim = rest[text_end..].starts_with("{{- ")
                || rest[text_end..].starts_with("{{-\t")
                || rest[text_end..].starts_with("{{-\n");
            if trim_next_text {
                text = text.trim_start();
            }
            if open_trim {
                text = text.trim_end();
            }
            if !text.is_empty() {
                self.push(Token::Text(text.to_string()));
            }
            self.line += rest[..text_end].matches('\n').count();
            self.pos += text_end;
            if self.pos >= self.src.len() {
                break;
            }
            self.pos += if open_trim { 3 } else { 2 };
            trim_next_text = self.action()?;
        }
        Ok(self.out)
    }

    /// Lexes one action after `{{`; returns whether it ended with ` -}}`.
    fn action(&mut self) -> Result<bool, TemplateError> {
        let rest = &self.src[self.pos..];
        if rest.trim_start().starts_with("/*") {
            let end = rest
                .find("*/")
                .ok_or_else(|| self.error("unclosed comment"))?;
            let after = rest[end + 2..].trim_start();
            let trim = after.starts_with("-}}");
            let close = rest[end + 2..]
                .find("}}")
                .ok_or_else(|| self.error("comment ends before closing delimiter"))?;
            self.line += rest[..end + 2 + close].matches('\n').count();
            self.pos += end + 2 + close + 2;
            return Ok(trim);
        }
        self.push(Token::Open);
        loop {
            let bytes = self.src.as_bytes();
            let Some(&c) = bytes.get(self.pos) else {
                return Err(self.error("unclosed action"));
            };
            let rest = &self.src[self.pos..];
            if rest.starts_with(" -}}") || rest.starts_with("\t-}}") || rest.starts_with("\n-}}") {
                self.pos += 4;
                self.push(Token::Close);
                return Ok(true);
            }
            if rest.starts_with("}}") {
                self.pos += 2;
                self.push(Token::Close);
                return Ok(false);
            }
            match c {
                b'\n' => {
                    self.line += 1;
                    self.pos += 1;
                }
                b' ' | b'\t' | b'\r' => self.pos += 1,
                b'|' => self.single(Token::Pipe),
                b'(' => self.single(Token::LParen),
                b')' => self.single(Token::RParen),
                b',' => self.single(Token::Comma),
                b'=' => self.single(Token::Assign),
                b':' if rest.starts_with(":=") => {
                    self.pos += 2;
                    self.push(Token::Declare);
                }
                b'"' => self.quoted()?,
                b'`' => self.raw()?,
                b'$' => {
                    let len = 1 + ident_len(&rest[1..]);
                    self.push(Token::Variable(rest[..len].to_string()));
                    self.pos += len;
                }
                b'.' if rest.len() > 1 && is_ident_start(rest.as_bytes()[1]) => {
                    let len = 1 + ident_len(&rest[1..]);
                    self.push(Token::Field(rest[1..len].to_string()));
                    self.pos += len;
                }
                b'.' if !rest.as_bytes().get(1).is_some_and(u8::is_ascii_digit) => {
                    self.single(Token::Dot)
                }
                b'0'..=b'9' | b'-' | b'+' | b'.' => {
                    let len = rest
                        .find(|ch: char| {
                            !(ch.is_ascii_alphanumeric()
                                || ch == '.'
                                || ch == '_'
                                || ch == '+'
                                || ch == '-')
                        })
                        .unwrap_or(rest.len());
                    self.push(Token::Number(rest[..len].to_string()));
                    self.pos += len;
                }
                c if is_ident_start(c) => {
                    let len = ident_len(rest);
                    self.push(Token::Ident(rest[..len].to_string()));
                    self.pos += len;
                }
                _ => {
                    let ch = rest.chars().next().unwrap_or(' ');
                    return Err(self.error(format!("unexpected {ch:?} in command")));
                }
            }
        }
    }

    fn single(&mut self, token: Token) {
        self.pos += 1;
        self.push(token);
    }

    fn quoted(&mut self) -> Result<(), TemplateError> {
        let mut out = String::new();
        let mut chars = self.src[self.pos + 1..].char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    self.pos += i + 2;
                    self.push(Token::Str(out));
                    return Ok(());
                }
                '\n' => break,
                '\\' => {
                    let (_, esc) = chars
                        .next()
                        .ok_or_else(|| self.error("unterminated quoted string"))?;
                    out.push(match esc {
                        'n' => '\n',
                        't' => '\t',
                        'r' => '\r',
                        '\\' => '\\',
                        '"' => '"',
                        '\'' => '\'',
                        '0' => '\0',
                        other => {
                            return Err(
                                self.error(format!("invalid syntax: unknown escape \\{other}"))
                            )
                        }
                    });
                }
                c => out.push(c),
            }
        }
        Err(self.error("unterminated quoted string"))
    }

    fn raw(&mut self) -> Result<(), TemplateError> {
        let rest = &self.src[self.pos + 1..];
        let end = rest
            .find('`')
            .ok_or_else(|| self.error("unterminated raw quoted string"))?;
        let text = rest[..end].to_string();
        self.line += text.matches('\n').count();
        self.pos += end + 2;
        self.push(Token::Str(text));
        Ok(())
    }
}

fn is_ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_'
}

fn ident_len(s: &str) -> usize {
    s.find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(s.len())
}
