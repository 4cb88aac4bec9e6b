//! Lexer and recursive-descent parser for the label selector string syntax.
//!
//! It follows upstream's grammar and quirks so that every input is accepted or rejected exactly
//! as by the Kubernetes apiserver, with the same messages:
//!
//! ```text
//! selector    ::= requirement | requirement "," selector
//! requirement ::= [ "!" ] KEY [ ( "in" | "notin" ) "(" values ")" | ( "=" | "==" | "!=" | ">" | "<" ) VALUE ]
//! values      ::= VALUE | VALUE "," values        (VALUE may be empty)
//! ```
//!
//! Bytes are scanned one at a time; a NUL byte reads like the end of the input (upstream's
//! sentinel), and `in`/`notin` are keywords only where an operator is expected.

use std::collections::BTreeSet;

use super::label::{Operator, Requirement};
use super::validation::{go_quote, invalid_value, label_key_errors};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    EndOfString,
    ClosedParen,
    Comma,
    DoesNotExist,
    DoubleEquals,
    Equals,
    GreaterThan,
    Identifier,
    In,
    LessThan,
    NotEquals,
    NotIn,
    OpenParen,
}

/// The operators upstream lists when it expected one (`selection` operator names).
const BINARY_OPERATORS: &str = "in, notin, =, ==, !=, gt, lt";

fn is_whitespace(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_special(b: u8) -> bool {
    matches!(b, b'=' | b'!' | b'(' | b')' | b',' | b'>' | b'<')
}

fn symbol_token(symbol: &str) -> Option<Token> {
    Some(match symbol {
        ")" => Token::ClosedParen,
        "," => Token::Comma,
        "!" => Token::DoesNotExist,
        "==" => Token::DoubleEquals,
        "=" => Token::Equals,
        ">" => Token::GreaterThan,
        "<" => Token::LessThan,
        "!=" => Token::NotEquals,
        "(" => Token::OpenParen,
        _ => return None,
    })
}

struct Lexer<'a> {
    input: &'a str,
    pos: usize,
}

impl<'a> Lexer<'a> {
    /// The next byte, or 0 at the end. A NUL byte in the input is consumed and also reads as 0.
    fn read(&mut self) -> u8 {
        match self.input.as_bytes().get(self.pos) {
            Some(&b) => {
                self.pos += 1;
                b
            }
            None => 0,
        }
    }

    /// Steps back over the byte just read (only ever called after a non-zero byte).
    fn unread(&mut self) {
        self.pos = self.pos.saturating_sub(1);
    }

    fn next_token(&mut self) -> (Token, &'a str) {
        let mut b = self.read();
        while is_whitespace(b) {
            b = self.read();
        }
        if b == 0 {
            return (Token::EndOfString, "");
        }
        self.unread();
        if is_special(b) {
            self.symbol()
        } else {
            self.word()
        }
    }

    /// The longest run of special bytes that is still a token (`!=`, `==`, or one byte).
    fn symbol(&mut self) -> (Token, &'a str) {
        let start = self.pos;
        let mut found = None;
        loop {
            let b = self.read();
            if b == 0 {
                break;
            }
            if !is_special(b) {
                self.unread();
                break;
            }
            let candidate = &self.input[start..self.pos];
            match symbol_token(candidate) {
                Some(token) => found = Some((token, candidate)),
                None if found.is_some() => {
                    self.unread();
                    break;
                }
                None => {}
            }
        }
        // Every single special byte is a token, so `found` is always set.
        found.unwrap_or((Token::EndOfString, ""))
    }

    /// An identifier or keyword: everything up to whitespace, a special byte or the end.
    fn word(&mut self) -> (Token, &'a str) {
        let start = self.pos;
        let mut end;
        loop {
            end = self.pos;
            let b = self.read();
            if b == 0 {
                break;
            }
            if is_special(b) || is_whitespace(b) {
                self.unread();
                break;
            }
        }
        let word = &self.input[start..end];
        let token = match word {
            "in" => Token::In,
            "notin" => Token::NotIn,
            _ => Token::Identifier,
        };
        (token, word)
    }
}

/// Where the parser is: after a key an `in`/`notin` is an operator, elsewhere just a word.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Context {
    KeyAndOperator,
    Values,
}

struct Parser<'a> {
    items: Vec<(Token, &'a str)>,
    position: usize,
}

type ParseResult<T> = Result<T, String>;

impl<'a> Parser<'a> {
    fn item(&self, index: usize, context: Context) -> (Token, &'a str) {
        let (token, literal) = self
            .items
            .get(index)
            .copied()
            .unwrap_or((Token::EndOfString, ""));
        match token {
            Token::In | Token::NotIn if context == Context::Values => (Token::Identifier, literal),
            _ => (token, literal),
        }
    }

    fn lookahead(&self, context: Context) -> (Token, &'a str) {
        self.item(self.position, context)
    }

    fn consume(&mut self, context: Context) -> (Token, &'a str) {
        let item = self.item(self.position, context);
        self.position += 1;
        item
    }

    fn parse(&mut self) -> ParseResult<Vec<Requirement>> {
        let mut requirements = Vec::new();
        loop {
            let (token, literal) = self.lookahead(Context::Values);
            match token {
                Token::Identifier | Token::DoesNotExist => {
                    let requirement = self
                        .requirement()
                        .map_err(|e| format!("unable to parse requirement: {e}"))?;
                    requirements.push(requirement);
                    let (token, literal) = self.consume(Context::Values);
                    match token {
                        Token::EndOfString => return Ok(requirements),
                        Token::Comma => {
                            let (next, next_literal) = self.lookahead(Context::Values);
                            if next != Token::Identifier && next != Token::DoesNotExist {
                                return Err(format!(
                                    "found '{next_literal}', expected: identifier after ','"
                                ));
                            }
                        }
                        _ => {
                            return Err(format!(
                                "found '{literal}', expected: ',' or 'end of string'"
                            ));
                        }
                    }
                }
                Token::EndOfString => return Ok(requirements),
                _ => {
                    return Err(format!(
                        "found '{literal}', expected: !, identifier, or 'end of string'"
                    ));
                }
            }
        }
    }

    fn requirement(&mut self) -> ParseResult<Requirement> {
        let (key, inferred) = self.key_and_inferred_operator()?;
        if let Some(operator) = inferred {
            return Requirement::new(key, operator, Vec::new()).map_err(|e| e.to_string());
        }
        let operator = self.operator()?;
        let values = match operator {
            Operator::In | Operator::NotIn => self.value_set()?,
            _ => self.exact_value()?,
        };
        Requirement::new(key, operator, values.into_iter().collect()).map_err(|e| e.to_string())
    }

    /// The key, and `Exists`/`DoesNotExist` when no binary operator can follow.
    fn key_and_inferred_operator(&mut self) -> ParseResult<(String, Option<Operator>)> {
        let mut operator = None;
        let (mut token, mut literal) = self.consume(Context::Values);
        if token == Token::DoesNotExist {
            operator = Some(Operator::DoesNotExist);
            (token, literal) = self.consume(Context::Values);
        }
        if token != Token::Identifier {
            return Err(format!("found '{literal}', expected: identifier"));
        }
        let key_errors = label_key_errors(literal);
        if !key_errors.is_empty() {
            return Err(invalid_value(
                "<nil>",
                &go_quote(literal),
                &key_errors.join("; "),
            ));
        }
        let (next, _) = self.lookahead(Context::Values);
        if matches!(next, Token::EndOfString | Token::Comma) && operator.is_none() {
            operator = Some(Operator::Exists);
        }
        Ok((literal.to_string(), operator))
    }

    fn operator(&mut self) -> ParseResult<Operator> {
        let (token, literal) = self.consume(Context::KeyAndOperator);
        Ok(match token {
            Token::In => Operator::In,
            Token::Equals => Operator::Equals,
            Token::DoubleEquals => Operator::DoubleEquals,
            Token::GreaterThan => Operator::GreaterThan,
            Token::LessThan => Operator::LessThan,
            Token::NotIn => Operator::NotIn,
            Token::NotEquals => Operator::NotEquals,
            _ => return Err(format!("found '{literal}', expected: {BINARY_OPERATORS}")),
        })
    }

    /// `( v1, v2, ... )`, where empty entries stand for the empty value.
    fn value_set(&mut self) -> ParseResult<BTreeSet<String>> {
        let (token, literal) = self.consume(Context::Values);
        if token != Token::OpenParen {
            return Err(format!("found '{literal}' expected: '('"));
        }
        let (token, literal) = self.lookahead(Context::Values);
        match token {
            Token::Identifier | Token::Comma => {
                let values = self.value_list()?;
                let (token, _) = self.consume(Context::Values);
                if token != Token::ClosedParen {
                    return Err(format!("found '{literal}', expected: ')'"));
                }
                Ok(values)
            }
            Token::ClosedParen => {
                self.consume(Context::Values);
                Ok(BTreeSet::from([String::new()]))
            }
            _ => Err(format!(
                "found '{literal}', expected: ',', ')' or identifier"
            )),
        }
    }

    /// The comma-separated entries of a value set, stopping before the `)`.
    fn value_list(&mut self) -> ParseResult<BTreeSet<String>> {
        let mut values = BTreeSet::new();
        loop {
            let (token, literal) = self.consume(Context::Values);
            match token {
                Token::Identifier => {
                    values.insert(literal.to_string());
                    let (next, next_literal) = self.lookahead(Context::Values);
                    match next {
                        Token::Comma => continue,
                        Token::ClosedParen => return Ok(values),
                        _ => {
                            return Err(format!("found '{next_literal}', expected: ',' or ')'"));
                        }
                    }
                }
                Token::Comma => {
                    if values.is_empty() {
                        values.insert(String::new());
                    }
                    let (next, _) = self.lookahead(Context::Values);
                    if next == Token::ClosedParen {
                        values.insert(String::new());
                        return Ok(values);
                    }
                    if next == Token::Comma {
                        self.consume(Context::Values);
                        values.insert(String::new());
                    }
                }
                _ => return Err(format!("found '{literal}', expected: ',', or identifier")),
            }
        }
    }

    /// The single value after `=`, `==`, `!=`, `>` or `<` (empty when nothing follows).
    fn exact_value(&mut self) -> ParseResult<BTreeSet<String>> {
        let (token, _) = self.lookahead(Context::Values);
        if matches!(token, Token::EndOfString | Token::Comma) {
            return Ok(BTreeSet::from([String::new()]));
        }
        let (token, literal) = self.consume(Context::Values);
        if token == Token::Identifier {
            Ok(BTreeSet::from([literal.to_string()]))
        } else {
            Err(format!("found '{literal}', expected: identifier"))
        }
    }
}

/// Parses a label selector string into its requirements (not yet sorted), or upstream's message.
pub(crate) fn parse(input: &str) -> Result<Vec<Requirement>, String> {
    let mut lexer = Lexer { input, pos: 0 };
    let mut items = Vec::new();
    loop {
        let item = lexer.next_token();
        items.push(item);
        if item.0 == Token::EndOfString {
            break;
        }
    }
    Parser { items, position: 0 }.parse()
}
