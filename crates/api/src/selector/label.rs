//! Label selectors: requirements on an object's labels, ANDed together.
//!
//! The string form is what `?labelSelector=` and `kubectl -l` carry (`app=web,tier in (a,b),!old`);
//! the structured form is `metav1.LabelSelector` (matchLabels + matchExpressions) as found in
//! Deployments, ReplicaSets, Services' pod selectors and so on. Both turn into a
//! [`LabelSelector`], which matches label maps and prints back to the canonical string.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::hash::BuildHasher;
use std::str::FromStr;

use k8s_openapi::apimachinery::pkg::apis::meta::v1 as metav1;
use serde_json::Value;

use super::error::SelectorError;
use super::label_parser;
use super::validation::{aggregate, go_quote, invalid_value, label_key_errors, label_value_errors};

/// How a [`Requirement`] relates a label key to its values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operator {
    /// `key in (a,b)`: the label exists and its value is one of the values.
    In,
    /// `key notin (a,b)`: the label is absent, or its value is none of the values.
    NotIn,
    /// `key=a`: the label exists and equals the value.
    Equals,
    /// `key==a`: the same as [`Operator::Equals`], kept apart so it prints back as written.
    DoubleEquals,
    /// `key!=a`: the label is absent, or differs from the value.
    NotEquals,
    /// `key`: the label exists.
    Exists,
    /// `!key`: the label does not exist.
    DoesNotExist,
    /// `key>5`: the label exists, is an integer, and is greater than the value.
    GreaterThan,
    /// `key<5`: the label exists, is an integer, and is less than the value.
    LessThan,
}

impl Operator {
    /// Upstream's name for the operator (`selection.Operator`): `in`, `notin`, `=`, `==`, `!=`,
    /// `exists`, `!`, `gt`, `lt`.
    pub fn as_str(self) -> &'static str {
        match self {
            Operator::In => "in",
            Operator::NotIn => "notin",
            Operator::Equals => "=",
            Operator::DoubleEquals => "==",
            Operator::NotEquals => "!=",
            Operator::Exists => "exists",
            Operator::DoesNotExist => "!",
            Operator::GreaterThan => "gt",
            Operator::LessThan => "lt",
        }
    }
}

/// Read access to a set of labels, so selectors can match maps of any kind.
pub trait Labels {
    /// The value of label `key`, if the label is present.
    fn label(&self, key: &str) -> Option<&str>;
}

impl Labels for BTreeMap<String, String> {
    fn label(&self, key: &str) -> Option<&str> {
        self.get(key).map(String::as_str)
    }
}

impl<S: BuildHasher> Labels for HashMap<String, String, S> {
    fn label(&self, key: &str) -> Option<&str> {
        self.get(key).map(String::as_str)
    }
}

/// A JSON object used as a label map (`metadata.labels`); non-string values count as absent.
impl Labels for serde_json::Map<String, Value> {
    fn label(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(Value::as_str)
    }
}

/// A string list as Go's `json.Marshal` renders it in error messages: `null` when empty (upstream
/// passes a nil slice), HTML-sensitive characters escaped.
fn go_json_strings(values: &[String]) -> String {
    if values.is_empty() {
        return "null".to_string();
    }
    let json = serde_json::to_string(values).unwrap_or_else(|_| "null".to_string());
    json.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

/// One condition of a label selector: a key, an operator and its values.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Requirement {
    key: String,
    operator: Operator,
    values: Vec<String>,
}

impl Requirement {
    /// A validated requirement (upstream's `labels.NewRequirement`): the key must be a valid
    /// label key; `In`/`NotIn` need at least one value; the equality operators exactly one;
    /// `Exists`/`DoesNotExist` none; `GreaterThan`/`LessThan` exactly one integer; every value
    /// must be a valid label value. The error lists every problem, worded as upstream's.
    /// The values are kept sorted and without duplicates (matching treats them as a set).
    pub fn new(
        key: impl Into<String>,
        operator: Operator,
        values: Vec<String>,
    ) -> Result<Self, SelectorError> {
        let key = key.into();
        let mut errors = Vec::new();
        let key_errors = label_key_errors(&key);
        if !key_errors.is_empty() {
            errors.push(invalid_value(
                "key",
                &go_quote(&key),
                &key_errors.join("; "),
            ));
        }
        let values_json = || go_json_strings(&values);
        match operator {
            Operator::In | Operator::NotIn if values.is_empty() => errors.push(invalid_value(
                "values",
                &values_json(),
                "for 'in', 'notin' operators, values set can't be empty",
            )),
            Operator::Equals | Operator::DoubleEquals | Operator::NotEquals
                if values.len() != 1 =>
            {
                errors.push(invalid_value(
                    "values",
                    &values_json(),
                    "exact-match compatibility requires one single value",
                ))
            }
            Operator::Exists | Operator::DoesNotExist if !values.is_empty() => {
                errors.push(invalid_value(
                    "values",
                    &values_json(),
                    "values set must be empty for exists and does not exist",
                ))
            }
            Operator::GreaterThan | Operator::LessThan => {
                if values.len() != 1 {
                    errors.push(invalid_value(
                        "values",
                        &values_json(),
                        "for 'Gt', 'Lt' operators, exactly one value is required",
                    ));
                }
                for (i, value) in values.iter().enumerate() {
                    if value.parse::<i64>().is_err() {
                        errors.push(invalid_value(
                            &format!("values[{i}]"),
                            &go_quote(value),
                            "for 'Gt', 'Lt' operators, the value must be an integer",
                        ));
                    }
                }
            }
            _ => {}
        }
        for (i, value) in values.iter().enumerate() {
            let value_errors = label_value_errors(value);
            if !value_errors.is_empty() {
                errors.push(invalid_value(
                    &format!("values[{i}][{key}]"),
                    &go_quote(value),
                    &value_errors.join("; "),
                ));
            }
        }
        if let Some(message) = aggregate(errors) {
            return Err(SelectorError::InvalidLabelSelector(message));
        }
        let mut values = values;
        values.sort_unstable();
        values.dedup();
        Ok(Requirement {
            key,
            operator,
            values,
        })
    }

    /// A requirement taken as given, for inputs that were validated elsewhere.
    pub(crate) fn new_unchecked(key: String, operator: Operator, values: Vec<String>) -> Self {
        Requirement {
            key,
            operator,
            values,
        }
    }

    /// The label key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The operator.
    pub fn operator(&self) -> Operator {
        self.operator
    }

    /// The values, sorted (empty for `Exists` and `DoesNotExist`).
    pub fn values(&self) -> &[String] {
        &self.values
    }

    fn has_value(&self, value: &str) -> bool {
        self.values.iter().any(|v| v == value)
    }

    /// Whether `labels` satisfy this requirement. `NotIn`, `!=` and `DoesNotExist` match a
    /// missing label; `>`/`<` never match a missing or non-integer label.
    pub fn matches<L: Labels + ?Sized>(&self, labels: &L) -> bool {
        let value = labels.label(&self.key);
        match self.operator {
            Operator::In | Operator::Equals | Operator::DoubleEquals => {
                value.is_some_and(|v| self.has_value(v))
            }
            Operator::NotIn | Operator::NotEquals => value.is_none_or(|v| !self.has_value(v)),
            Operator::Exists => value.is_some(),
            Operator::DoesNotExist => value.is_none(),
            Operator::GreaterThan | Operator::LessThan => {
                let (Some(actual), [wanted]) = (value, self.values.as_slice()) else {
                    return false;
                };
                let (Ok(actual), Ok(wanted)) = (actual.parse::<i64>(), wanted.parse::<i64>())
                else {
                    return false;
                };
                if self.operator == Operator::GreaterThan {
                    actual > wanted
                } else {
                    actual < wanted
                }
            }
        }
    }
}

/// The canonical text of the requirement: `!key`, `key`, `key=v`, `key in (a,b)` with the values
/// sorted, as upstream prints it.
impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.operator == Operator::DoesNotExist {
            f.write_str("!")?;
        }
        f.write_str(&self.key)?;
        let (before, after) = match self.operator {
            Operator::Exists | Operator::DoesNotExist => return Ok(()),
            Operator::In => (" in (", ")"),
            Operator::NotIn => (" notin (", ")"),
            Operator::Equals => ("=", ""),
            Operator::DoubleEquals => ("==", ""),
            Operator::NotEquals => ("!=", ""),
            Operator::GreaterThan => (">", ""),
            Operator::LessThan => ("<", ""),
        };
        f.write_str(before)?;
        let mut sorted: Vec<&str> = self.values.iter().map(String::as_str).collect();
        sorted.sort_unstable();
        f.write_str(&sorted.join(","))?;
        f.write_str(after)
    }
}

/// A label selector: requirements that must all hold, or the special "nothing" selector.
///
/// [`LabelSelector::everything`] (no requirements, the empty string) matches every label set;
/// [`LabelSelector::nothing`] matches none. The latter is what an absent (`None`)
/// `metav1.LabelSelector` means, while an empty one means everything; see
/// [`LabelSelector::from_meta_option`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct LabelSelector {
    requirements: Vec<Requirement>,
    nothing: bool,
}

/// Parses the string form of a label selector (`?labelSelector=`); see [`LabelSelector::parse`].
pub fn parse_label_selector(s: &str) -> Result<LabelSelector, SelectorError> {
    LabelSelector::parse(s)
}

impl LabelSelector {
    /// The selector that matches every label set (no requirements).
    pub fn everything() -> Self {
        LabelSelector::default()
    }

    /// The selector that matches no label set at all. It prints as the empty string.
    pub fn nothing() -> Self {
        LabelSelector {
            requirements: Vec::new(),
            nothing: true,
        }
    }

    /// Parses the string syntax, as upstream's `labels.Parse`:
    /// `a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x,y)`, `a`, `!a`, `a>1`, `a<1`, joined by
    /// commas (AND), with spaces, tabs, CR and LF allowed between tokens. The empty string is
    /// [`LabelSelector::everything`]. Keys and values are validated; errors carry upstream's
    /// message, e.g. `unable to parse requirement: <nil>: Invalid value: "a b": ...`.
    pub fn parse(s: &str) -> Result<Self, SelectorError> {
        let requirements = label_parser::parse(s).map_err(SelectorError::InvalidLabelSelector)?;
        Ok(Self::from_requirements(requirements))
    }

    /// A selector of the given requirements, ordered by key (stable for equal keys).
    pub fn from_requirements(mut requirements: Vec<Requirement>) -> Self {
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        LabelSelector {
            requirements,
            nothing: false,
        }
    }

    /// A selector requiring each `key=value` of `labels` (upstream's `SelectorFromSet`), as used
    /// for ReplicationController and Service selectors. An empty map selects everything. The
    /// keys and values are not validated.
    pub fn from_map(labels: &BTreeMap<String, String>) -> Self {
        let requirements = labels
            .iter()
            .map(|(k, v)| Requirement::new_unchecked(k.clone(), Operator::Equals, vec![v.clone()]))
            .collect();
        Self::from_requirements(requirements)
    }

    /// Converts a `metav1.LabelSelector` (upstream's `LabelSelectorAsSelector`): matchLabels
    /// become `key=value`, matchExpressions `In`/`NotIn`/`Exists`/`DoesNotExist`. A selector
    /// with neither matches everything. Invalid keys, values or operators are errors.
    pub fn from_meta(selector: &metav1::LabelSelector) -> Result<Self, SelectorError> {
        let match_labels = selector.match_labels.as_ref();
        let expressions = selector.match_expressions.as_deref().unwrap_or_default();
        let mut requirements = Vec::new();
        for (key, value) in match_labels.into_iter().flatten() {
            requirements.push(Requirement::new(
                key.clone(),
                Operator::Equals,
                vec![value.clone()],
            )?);
        }
        for expression in expressions {
            let operator = match expression.operator.as_str() {
                "In" => Operator::In,
                "NotIn" => Operator::NotIn,
                "Exists" => Operator::Exists,
                "DoesNotExist" => Operator::DoesNotExist,
                other => {
                    return Err(SelectorError::InvalidLabelSelector(format!(
                        "{} is not a valid label selector operator",
                        go_quote(other)
                    )));
                }
            };
            requirements.push(Requirement::new(
                expression.key.clone(),
                operator,
                expression.values.clone().unwrap_or_default(),
            )?);
        }
        Ok(Self::from_requirements(requirements))
    }

    /// Like [`LabelSelector::from_meta`], but an absent selector (`None`) matches nothing, as
    /// upstream treats a nil `*metav1.LabelSelector`.
    pub fn from_meta_option(
        selector: Option<&metav1::LabelSelector>,
    ) -> Result<Self, SelectorError> {
        match selector {
            Some(selector) => Self::from_meta(selector),
            None => Ok(Self::nothing()),
        }
    }

    /// Whether this selector places no restriction (it matches every label set).
    pub fn is_everything(&self) -> bool {
        !self.nothing && self.requirements.is_empty()
    }

    /// Whether this is the selector that matches nothing.
    pub fn is_nothing(&self) -> bool {
        self.nothing
    }

    /// The requirements, ordered by key.
    pub fn requirements(&self) -> &[Requirement] {
        &self.requirements
    }

    /// Whether the labels satisfy every requirement.
    pub fn matches<L: Labels + ?Sized>(&self, labels: &L) -> bool {
        !self.nothing && self.requirements.iter().all(|r| r.matches(labels))
    }

    /// Whether the object's `metadata.labels` satisfy every requirement (an object without
    /// labels has an empty label set).
    pub fn matches_object(&self, object: &Value) -> bool {
        static EMPTY: std::sync::OnceLock<serde_json::Map<String, Value>> =
            std::sync::OnceLock::new();
        let labels = object
            .get("metadata")
            .and_then(|m| m.get("labels"))
            .and_then(Value::as_object)
            .unwrap_or_else(|| EMPTY.get_or_init(serde_json::Map::new));
        self.matches(labels)
    }

    /// The value label `key` must have, if the selector pins it to exactly one (`key=v`,
    /// `key==v` or `key in (v)`), as upstream's `RequiresExactMatch`.
    pub fn requires_exact_match(&self, key: &str) -> Option<&str> {
        let requirement = self.requirements.iter().find(|r| r.key == key)?;
        match (requirement.operator, requirement.values.as_slice()) {
            (Operator::Equals | Operator::DoubleEquals | Operator::In, [value]) => Some(value),
            _ => None,
        }
    }
}

/// The canonical string: requirements joined by `,`, ordered by key. Parsing it gives back an
/// equal selector (except for [`LabelSelector::nothing`], which prints as the empty string).
impl fmt::Display for LabelSelector {
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

impl FromStr for LabelSelector {
    type Err = SelectorError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}
