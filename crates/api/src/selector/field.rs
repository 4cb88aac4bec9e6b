//! Field selectors: `?fieldSelector=spec.nodeName=n1,status.phase!=Running`.
//!
//! A field selector is a comma-joined list of `field=value`, `field==value` or `field!=value`
//! terms, all of which must hold. Values may contain `,`, `=` and `\` escaped with a backslash
//! (`\,`, `\=`, `\\`); field names are taken literally up to the first operator. Which fields a
//! resource can be selected by, and how they are read from an object, is in
//! [`super::fields_by_kind`].

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde_json::Value;

use super::error::SelectorError;
use super::fields_by_kind;

/// How a [`FieldRequirement`] compares the field with its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldOperator {
    /// `field=value` or `field==value`.
    Equals,
    /// `field!=value`.
    NotEquals,
}

/// One term of a field selector.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FieldRequirement {
    field: String,
    operator: FieldOperator,
    value: String,
}

impl FieldRequirement {
    /// A term comparing `field` with `value` (unescaped).
    pub fn new(
        field: impl Into<String>,
        operator: FieldOperator,
        value: impl Into<String>,
    ) -> Self {
        FieldRequirement {
            field: field.into(),
            operator,
            value: value.into(),
        }
    }

    /// The field label, as written by the client (e.g. `spec.nodeName`).
    pub fn field(&self) -> &str {
        &self.field
    }

    /// The operator.
    pub fn operator(&self) -> FieldOperator {
        self.operator
    }

    /// The value, unescaped.
    pub fn value(&self) -> &str {
        &self.value
    }

    /// Whether a field whose value is `actual` satisfies this term.
    pub fn matches_value(&self, actual: &str) -> bool {
        match self.operator {
            FieldOperator::Equals => actual == self.value,
            FieldOperator::NotEquals => actual != self.value,
        }
    }
}

/// `field=value` or `field!=value`, with the value escaped.
impl fmt::Display for FieldRequirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let operator = match self.operator {
            FieldOperator::Equals => "=",
            FieldOperator::NotEquals => "!=",
        };
        write!(
            f,
            "{}{}{}",
            self.field,
            operator,
            escape_field_value(&self.value)
        )
    }
}

/// A field selector: terms that must all hold. The empty selector matches everything.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct FieldSelector {
    requirements: Vec<FieldRequirement>,
}

/// Parses a field selector string; see [`FieldSelector::parse`].
pub fn parse_field_selector(s: &str) -> Result<FieldSelector, SelectorError> {
    FieldSelector::parse(s)
}

/// Escapes `\`, `,` and `=` in a value so it can stand in a field selector string.
pub fn escape_field_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if matches!(c, '\\' | ',' | '=') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Reverses [`escape_field_value`]; an unknown escape, a trailing `\`, or a bare `,` or `=` is
/// an error worded as upstream's.
pub fn unescape_field_value(raw: &str) -> Result<String, SelectorError> {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(escaped @ ('\\' | ',' | '=')) => out.push(escaped),
                Some(other) => {
                    return Err(SelectorError::InvalidFieldSelector(format!(
                        "invalid field selector: invalid escape sequence: \\{other}"
                    )));
                }
                None => {
                    return Err(SelectorError::InvalidFieldSelector(
                        "invalid field selector: invalid escape sequence: \\".to_string(),
                    ));
                }
            },
            // Upstream prints the rune with %v, i.e. as its code point number.
            ',' | '=' => {
                return Err(SelectorError::InvalidFieldSelector(format!(
                    "invalid field selector: unescaped character in value: {}",
                    c as u32
                )));
            }
            c => out.push(c),
        }
    }
    Ok(out)
}

/// Splits at commas not escaped by a backslash; the pieces keep their escapes.
fn split_terms(selector: &str) -> Vec<&str> {
    if selector.is_empty() {
        return Vec::new();
    }
    let mut terms = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    for (i, c) in selector.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == ',' {
            terms.push(&selector[start..i]);
            start = i + 1;
        }
    }
    terms.push(&selector[start..]);
    terms
}

/// Splits a term at the first operator: `!=` before `==` before `=` at each position.
fn split_term(term: &str) -> Option<(&str, FieldOperator, &str)> {
    for (i, _) in term.char_indices() {
        let rest = &term[i..];
        for (symbol, operator) in [
            ("!=", FieldOperator::NotEquals),
            ("==", FieldOperator::Equals),
            ("=", FieldOperator::Equals),
        ] {
            if let Some(value) = rest.strip_prefix(symbol) {
                return Some((&term[..i], operator, value));
            }
        }
    }
    None
}

impl FieldSelector {
    /// The selector that matches everything.
    pub fn everything() -> Self {
        FieldSelector::default()
    }

    /// A selector of the given terms (kept in canonical order).
    pub fn from_requirements(mut requirements: Vec<FieldRequirement>) -> Self {
        requirements.sort_by_cached_key(ToString::to_string);
        FieldSelector { requirements }
    }

    /// Parses the string syntax as upstream's `fields.ParseSelector`: terms split at unescaped
    /// commas, empty terms skipped, each term split at its first `!=`, `==` or `=`, the value
    /// unescaped. A term with neither field nor value (`=`) is dropped. Errors read e.g.
    /// `invalid selector: 'a'; can't understand 'a'`. Terms are kept in canonical order (sorted
    /// by their printed form), which is upstream's order for canonical input.
    pub fn parse(selector: &str) -> Result<Self, SelectorError> {
        let mut terms = split_terms(selector);
        terms.sort_unstable();
        let mut requirements = Vec::with_capacity(terms.len());
        for term in terms {
            if term.is_empty() {
                continue;
            }
            let Some((field, operator, raw_value)) = split_term(term) else {
                return Err(SelectorError::InvalidFieldSelector(format!(
                    "invalid selector: '{selector}'; can't understand '{term}'"
                )));
            };
            let value = unescape_field_value(raw_value)?;
            if field.is_empty() && value.is_empty() {
                continue;
            }
            requirements.push(FieldRequirement::new(field, operator, value));
        }
        Ok(Self::from_requirements(requirements))
    }

    /// A selector requiring `field=value` for each entry of `fields`.
    pub fn from_map(fields: &BTreeMap<String, String>) -> Self {
        Self::from_requirements(
            fields
                .iter()
                .map(|(f, v)| FieldRequirement::new(f.clone(), FieldOperator::Equals, v.clone()))
                .collect(),
        )
    }

    /// Whether the selector places no restriction.
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// The terms, in canonical order.
    pub fn requirements(&self) -> &[FieldRequirement] {
        &self.requirements
    }

    /// The value `field` must equal, if a `field=value` term pins it (upstream's
    /// `RequiresExactMatch`), e.g. to serve `metadata.name=x` or `spec.nodeName=n` from an index.
    pub fn requires_exact_match(&self, field: &str) -> Option<&str> {
        self.requirements
            .iter()
            .find(|r| r.field == field && r.operator == FieldOperator::Equals)
            .map(|r| r.value.as_str())
    }

    /// Whether every term holds, reading fields with `get`; a field it does not know (`None`)
    /// compares as the empty string, as upstream's `fields.Set`.
    pub fn matches_with<F>(&self, mut get: F) -> bool
    where
        F: FnMut(&str) -> Option<String>,
    {
        self.requirements
            .iter()
            .all(|r| r.matches_value(get(&r.field).as_deref().unwrap_or("")))
    }

    /// Whether every term holds against a map of field values (missing fields are empty).
    pub fn matches(&self, fields: &BTreeMap<String, String>) -> bool {
        self.requirements
            .iter()
            .all(|r| r.matches_value(fields.get(&r.field).map(String::as_str).unwrap_or("")))
    }

    /// Checks that every field label is supported by the resource (`group` is `""` for the core
    /// group, `resource` the plural, e.g. `("", "pods")`); the error is upstream's for that
    /// resource, e.g. `field label not supported: spec.foo`.
    pub fn validate_for(&self, group: &str, resource: &str) -> Result<(), SelectorError> {
        self.canonicalize_for(group, resource).map(drop)
    }

    /// Like [`FieldSelector::validate_for`], and renames the labels to the fields they select
    /// (upstream's field label conversion), e.g. a pod's legacy `spec.host` becomes
    /// `spec.nodeName`, events.k8s.io's `regarding.name` becomes `involvedObject.name`.
    pub fn canonicalize_for(&self, group: &str, resource: &str) -> Result<Self, SelectorError> {
        let mut requirements = Vec::with_capacity(self.requirements.len());
        for r in &self.requirements {
            let field = fields_by_kind::convert_field_label(group, resource, &r.field)?;
            requirements.push(FieldRequirement::new(field, r.operator, r.value.clone()));
        }
        Ok(Self::from_requirements(requirements))
    }

    /// Whether the object (JSON, in the group's own form) satisfies every term, reading each
    /// field as the resource's upstream `GetAttrs` would. Fields the resource does not support
    /// compare as the empty string: call [`FieldSelector::validate_for`] first to reject them.
    pub fn matches_object(&self, group: &str, resource: &str, object: &Value) -> bool {
        self.matches_with(|field| fields_by_kind::field_value(group, resource, object, field))
    }
}

/// The canonical string: terms joined by `,`, values escaped, `==` written as `=`.
impl fmt::Display for FieldSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, requirement) in self.requirements.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{requirement}")?;
        }
        Ok(())
    }
}

impl FromStr for FieldSelector {
    type Err = SelectorError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}
