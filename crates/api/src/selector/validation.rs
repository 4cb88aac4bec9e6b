//! Label key and label value syntax, and upstream's wording for field errors.
//!
//! The messages reproduce Kubernetes v1.33 (`k8s.io/apimachinery/pkg/util/validation`), which
//! kubectl users see verbatim, e.g. `name part must consist of alphanumeric characters, ...`.

/// Longest allowed name part of a label key (the part after the optional `prefix/`).
pub const LABEL_KEY_NAME_MAX_LENGTH: usize = 63;
/// Longest allowed label value.
pub const LABEL_VALUE_MAX_LENGTH: usize = 63;
/// Longest allowed DNS (RFC 1123) subdomain, used for label key prefixes.
const DNS1123_SUBDOMAIN_MAX_LENGTH: usize = 253;

const NAME_REGEX: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const NAME_MESSAGE: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const VALUE_REGEX: &str = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?";
const VALUE_MESSAGE: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const SUBDOMAIN_REGEX: &str = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
const SUBDOMAIN_MESSAGE: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";

/// Upstream's "does not match the pattern" sentence, with its examples (and its double spaces).
fn regex_error(message: &str, regex: &str, examples: &[&str]) -> String {
    let mut out = String::from(message);
    if !examples.is_empty() {
        out.push_str(" (e.g. ");
        for (i, example) in examples.iter().enumerate() {
            if i > 0 {
                out.push_str(" or ");
            }
            out.push('\'');
            out.push_str(example);
            out.push_str("', ");
        }
        out.push_str("regex used for validation is '");
    } else {
        out.push_str(" (regex used for validation is '");
    }
    out.push_str(regex);
    out.push_str("')");
    out
}

fn max_len_error(max: usize) -> String {
    format!("must be no more than {max} characters")
}

fn name_regex_error() -> String {
    regex_error(NAME_MESSAGE, NAME_REGEX, &["MyName", "my.name", "123-abc"])
}

/// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`, without a length limit.
fn is_name_like(s: &str) -> bool {
    let bytes = s.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(first), Some(last)) => {
            first.is_ascii_alphanumeric()
                && last.is_ascii_alphanumeric()
                && bytes
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        }
        _ => false,
    }
}

/// One DNS label of a subdomain: `[a-z0-9]([-a-z0-9]*[a-z0-9])?`.
fn is_subdomain_label(s: &str) -> bool {
    let bytes = s.as_bytes();
    let alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    match (bytes.first(), bytes.last()) {
        (Some(first), Some(last)) => {
            alnum(first) && alnum(last) && bytes.iter().all(|b| alnum(b) || *b == b'-')
        }
        _ => false,
    }
}

fn dns1123_subdomain_errors(value: &str) -> Vec<String> {
    let mut errors = Vec::new();
    if value.len() > DNS1123_SUBDOMAIN_MAX_LENGTH {
        errors.push(max_len_error(DNS1123_SUBDOMAIN_MAX_LENGTH));
    }
    if !value.split('.').all(is_subdomain_label) {
        errors.push(regex_error(
            SUBDOMAIN_MESSAGE,
            SUBDOMAIN_REGEX,
            &["example.com"],
        ));
    }
    errors
}

/// Every reason `key` is not a valid label key (a "qualified name": an optional DNS subdomain
/// prefix and `/`, then a name part of at most 63 characters). Empty when the key is valid.
pub fn label_key_errors(key: &str) -> Vec<String> {
    let parts: Vec<&str> = key.split('/').collect();
    let mut errors = Vec::new();
    let name = match parts.as_slice() {
        [name] => *name,
        [prefix, name] => {
            if prefix.is_empty() {
                errors.push("prefix part must be non-empty".to_string());
            } else {
                errors.extend(
                    dns1123_subdomain_errors(prefix)
                        .into_iter()
                        .map(|e| format!("prefix part {e}")),
                );
            }
            *name
        }
        _ => {
            return vec![format!(
                "a qualified name {} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
                name_regex_error()
            )];
        }
    };
    if name.is_empty() {
        errors.push("name part must be non-empty".to_string());
    } else if name.len() > LABEL_KEY_NAME_MAX_LENGTH {
        errors.push(format!(
            "name part {}",
            max_len_error(LABEL_KEY_NAME_MAX_LENGTH)
        ));
    }
    if !is_name_like(name) {
        errors.push(format!("name part {}", name_regex_error()));
    }
    errors
}

/// Every reason `value` is not a valid label value (empty, or at most 63 characters of
/// `[-A-Za-z0-9_.]` starting and ending with an alphanumeric). Empty when the value is valid.
pub fn label_value_errors(value: &str) -> Vec<String> {
    let mut errors = Vec::new();
    if value.len() > LABEL_VALUE_MAX_LENGTH {
        errors.push(max_len_error(LABEL_VALUE_MAX_LENGTH));
    }
    if !value.is_empty() && !is_name_like(value) {
        errors.push(regex_error(
            VALUE_MESSAGE,
            VALUE_REGEX,
            &["MyValue", "my_value", "12345"],
        ));
    }
    errors
}

/// Whether `key` is a valid label key.
pub fn is_valid_label_key(key: &str) -> bool {
    label_key_errors(key).is_empty()
}

/// Whether `value` is a valid label value.
pub fn is_valid_label_value(value: &str) -> bool {
    label_value_errors(value).is_empty()
}

/// Go's `%q` (`strconv.Quote`): a double-quoted string with Go escapes. Non-ASCII characters are
/// kept unless they are control, format or space characters (an approximation of Go's
/// `unicode.IsPrint` that needs no Unicode tables).
pub(crate) fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            ' '..='~' => out.push(c),
            c if (c as u32) < 0x80 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if c.is_control() || c.is_whitespace() || is_format_char(c) => {
                if (c as u32) < 0x10000 {
                    out.push_str(&format!("\\u{:04x}", c as u32));
                } else {
                    out.push_str(&format!("\\U{:08x}", c as u32));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The common invisible format characters (Unicode category Cf) that Go escapes.
fn is_format_char(c: char) -> bool {
    matches!(
        c as u32,
        0xad | 0x600..=0x605 | 0x61c | 0x6dd | 0x70f | 0x180e | 0x200b..=0x200f
            | 0x202a..=0x202e | 0x2060..=0x2064 | 0x2066..=0x206f | 0xfeff | 0xfff9..=0xfffb
    )
}

/// Upstream's `field.Invalid(path, value, detail).Error()`: `<path>: Invalid value: <value>: <detail>`,
/// where `rendered_value` is already rendered (quoted string, JSON list, ...).
pub(crate) fn invalid_value(path: &str, rendered_value: &str, detail: &str) -> String {
    if detail.is_empty() {
        format!("{path}: Invalid value: {rendered_value}")
    } else {
        format!("{path}: Invalid value: {rendered_value}: {detail}")
    }
}

/// Upstream's aggregate of several errors: duplicates dropped, one error as itself, several as
/// `[first, second]`. `None` when there is no error.
pub(crate) fn aggregate(messages: Vec<String>) -> Option<String> {
    let mut unique: Vec<String> = Vec::with_capacity(messages.len());
    for message in messages {
        if !unique.contains(&message) {
            unique.push(message);
        }
    }
    match unique.len() {
        0 => None,
        1 => unique.pop(),
        _ => Some(format!("[{}]", unique.join(", "))),
    }
}
