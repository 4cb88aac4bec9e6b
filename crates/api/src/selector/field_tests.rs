//! Tests of field selector parsing, escaping, errors, printing and matching. Expected messages
//! are upstream's (Kubernetes v1.33).

use std::collections::BTreeMap;

use super::label_tests::Rng;
use super::*;

/// `(field, operator, value)` of each term.
type Terms<'a> = &'a [(&'a str, FieldOperator, &'a str)];

fn terms(selector: &FieldSelector) -> Vec<(&str, FieldOperator, &str)> {
    selector
        .requirements()
        .iter()
        .map(|r| (r.field(), r.operator(), r.value()))
        .collect()
}

#[test]
fn parses_valid_selectors() {
    use FieldOperator::{Equals as Eq, NotEquals as Ne};
    let cases: &[(&str, Terms, &str)] = &[
        ("", &[], ""),
        (",,", &[], ""),
        ("=", &[], ""),
        ("==,!=", &[], ""),
        ("a=b", &[("a", Eq, "b")], "a=b"),
        ("a==b", &[("a", Eq, "b")], "a=b"),
        ("a!=b", &[("a", Ne, "b")], "a!=b"),
        ("a=", &[("a", Eq, "")], "a="),
        ("=b", &[("", Eq, "b")], "=b"),
        (
            "x=a,y=b,z=c",
            &[("x", Eq, "a"), ("y", Eq, "b"), ("z", Eq, "c")],
            "x=a,y=b,z=c",
        ),
        (
            "z=c,x!=a,,y==b",
            &[("x", Ne, "a"), ("y", Eq, "b"), ("z", Eq, "c")],
            "x!=a,y=b,z=c",
        ),
        (
            "spec.nodeName=n1,status.phase!=Running",
            &[("spec.nodeName", Eq, "n1"), ("status.phase", Ne, "Running")],
            "spec.nodeName=n1,status.phase!=Running",
        ),
        ("x=a\\,b", &[("x", Eq, "a,b")], "x=a\\,b"),
        ("x=a\\=b", &[("x", Eq, "a=b")], "x=a\\=b"),
        ("x=a\\\\b", &[("x", Eq, "a\\b")], "x=a\\\\b"),
        ("x=\\=", &[("x", Eq, "=")], "x=\\="),
        ("x!=\\,\\=\\\\", &[("x", Ne, ",=\\")], "x!=\\,\\=\\\\"),
        ("x= a b ", &[("x", Eq, " a b ")], "x= a b "),
        ("a b=c", &[("a b", Eq, "c")], "a b=c"),
        (
            "x=\u{e9}t\u{e9}",
            &[("x", Eq, "\u{e9}t\u{e9}")],
            "x=\u{e9}t\u{e9}",
        ),
        // The field is taken literally up to the first operator, escapes and all.
        ("a\\,b=c", &[("a\\,b", Eq, "c")], "a\\,b=c"),
        ("a\\=b", &[("a\\", Eq, "b")], "a\\=b"),
    ];
    for (input, expected, canonical) in cases {
        let selector = parse_field_selector(input)
            .unwrap_or_else(|e| panic!("{input:?} should parse, got {e}"));
        assert_eq!(terms(&selector), *expected, "terms of {input:?}");
        assert_eq!(
            selector.to_string(),
            *canonical,
            "canonical form of {input:?}"
        );
        assert_eq!(
            parse_field_selector(canonical).expect("canonical parses"),
            selector,
            "round trip of {input:?}"
        );
    }
}

#[test]
fn rejects_invalid_selectors_with_upstream_messages() {
    let cases: &[(&str, &str)] = &[
        ("a", "invalid selector: 'a'; can't understand 'a'"),
        ("x=a,b", "invalid selector: 'x=a,b'; can't understand 'b'"),
        ("x=a,,y", "invalid selector: 'x=a,,y'; can't understand 'y'"),
        ("a>b", "invalid selector: 'a>b'; can't understand 'a>b'"),
        (
            "x in (a)",
            "invalid selector: 'x in (a)'; can't understand 'x in (a)'",
        ),
        (
            "x=a||y=b",
            "invalid field selector: unescaped character in value: 61",
        ),
        (
            "x==a==b",
            "invalid field selector: unescaped character in value: 61",
        ),
        (
            "a!==b",
            "invalid field selector: unescaped character in value: 61",
        ),
        (
            "x=a\\b",
            "invalid field selector: invalid escape sequence: \\b",
        ),
        (
            "x=a\\",
            "invalid field selector: invalid escape sequence: \\",
        ),
        (
            "x=\\\u{e9}",
            "invalid field selector: invalid escape sequence: \\\u{e9}",
        ),
        // Terms are checked in sorted order, so the first bad one reported is the smallest.
        (
            "z=a\\q,a=b=c",
            "invalid field selector: unescaped character in value: 61",
        ),
    ];
    for (input, expected) in cases {
        let error = parse_field_selector(input).expect_err(input);
        assert!(
            matches!(error, SelectorError::InvalidFieldSelector(_)),
            "{input:?}"
        );
        assert_eq!(error.to_string(), *expected, "message for {input:?}");
    }
}

#[test]
fn escaping_round_trips() {
    for value in [
        "",
        "plain",
        "a,b",
        "a=b",
        "a\\b",
        "\\,=",
        ",,==\\\\",
        "\u{e9}=\u{e9}",
    ] {
        let escaped = escape_field_value(value);
        assert_eq!(unescape_field_value(&escaped).expect("unescapes"), value);
        let selector = FieldSelector::from_requirements(vec![FieldRequirement::new(
            "f",
            FieldOperator::Equals,
            value,
        )]);
        let printed = selector.to_string();
        assert_eq!(
            parse_field_selector(&printed).expect("parses"),
            selector,
            "{value:?} via {printed:?}"
        );
    }
    assert_eq!(escape_field_value("a,b=c\\d"), "a\\,b\\=c\\\\d");
    assert_eq!(
        unescape_field_value("a,b")
            .expect_err("bare comma")
            .to_string(),
        "invalid field selector: unescaped character in value: 44"
    );
}

#[test]
fn matches_field_maps() {
    let fields: BTreeMap<String, String> = [("a", "1"), ("b", "2"), ("empty", "")]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let cases: &[(&str, bool)] = &[
        ("", true),
        ("a=1", true),
        ("a==1", true),
        ("a=1,b=2", true),
        ("a!=2", true),
        ("missing=", true),
        ("missing!=x", true),
        ("empty=", true),
        ("a=2", false),
        ("a=1,b=3", false),
        ("a!=1", false),
        ("missing=x", false),
        ("missing!=", false),
    ];
    for (selector, expected) in cases {
        let parsed = parse_field_selector(selector).expect(selector);
        assert_eq!(parsed.matches(&fields), *expected, "{selector:?}");
        assert_eq!(
            parsed.matches_with(|f| fields.get(f).cloned()),
            *expected,
            "{selector:?} with a lookup"
        );
    }
    assert!(FieldSelector::everything().is_empty());
    assert!(FieldSelector::everything().matches(&BTreeMap::new()));
}

#[test]
fn requires_exact_match() {
    let selector = parse_field_selector("metadata.name=x,spec.nodeName!=n,b==2").expect("parses");
    assert_eq!(selector.requires_exact_match("metadata.name"), Some("x"));
    assert_eq!(selector.requires_exact_match("b"), Some("2"));
    assert_eq!(selector.requires_exact_match("spec.nodeName"), None);
    assert_eq!(selector.requires_exact_match("other"), None);
}

#[test]
fn from_map_and_from_str() {
    let map: BTreeMap<String, String> = [("b", "x,y"), ("a", "1")]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let selector = FieldSelector::from_map(&map);
    assert_eq!(selector.to_string(), "a=1,b=x\\,y");
    let parsed: FieldSelector = "b=x\\,y,a=1".parse().expect("parses");
    assert_eq!(parsed, selector);
}

#[test]
fn parsing_random_input_never_panics_and_round_trips() {
    let alphabet = [
        "a",
        "b",
        "x",
        ".",
        "=",
        "==",
        "!",
        "!=",
        ",",
        "\\",
        "\\,",
        "\\=",
        "\\\\",
        " ",
        "\u{e9}",
        "\0",
        "spec.nodeName",
        "(",
        "<",
    ];
    let mut rng = Rng::new(0xf1e1d5);
    let mut parsed = 0;
    for _ in 0..30_000 {
        let input = rng.string(&alphabet, 12);
        if let Ok(selector) = parse_field_selector(&input) {
            parsed += 1;
            let printed = selector.to_string();
            let again = parse_field_selector(&printed)
                .unwrap_or_else(|e| panic!("{printed:?} (from {input:?}) does not parse: {e}"));
            assert_eq!(again, selector, "round trip of {input:?} via {printed:?}");
            assert_eq!(again.to_string(), printed);
        }
    }
    assert!(parsed > 1_000, "only {parsed} random inputs parsed");
}
