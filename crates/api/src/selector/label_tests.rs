//! Tests of label selector parsing, errors, matching, printing and `metav1.LabelSelector`
//! conversion. Expected messages are upstream's (Kubernetes v1.33).

use std::collections::{BTreeMap, HashMap};

use k8s_openapi::apimachinery::pkg::apis::meta::v1 as metav1;
use serde_json::json;

use super::*;

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

const NAME_RULE: &str = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const VALUE_RULE: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";

#[test]
fn parses_valid_selectors_to_canonical_form() {
    let cases: &[(&str, &str)] = &[
        ("", ""),
        ("x=a,y=b,z=c", "x=a,y=b,z=c"),
        ("z=c,x=a,y=b", "x=a,y=b,z=c"),
        ("x!=a,y=b", "x!=a,y=b"),
        ("x==a", "x==a"),
        ("x=", "x="),
        ("x= ", "x="),
        ("x=,z= ", "x=,z="),
        ("x= ,z= ", "x=,z="),
        ("!x", "!x"),
        ("x", "x"),
        ("x>1", "x>1"),
        ("x>1,z<5", "x>1,z<5"),
        ("x>007", "x>007"),
        ("x in (c,b,a)", "x in (a,b,c)"),
        ("x in (a,a,b)", "x in (a,b)"),
        ("x notin ( b , a )", "x notin (a,b)"),
        ("x in(a)", "x in (a)"),
        ("x in ()", "x in ()"),
        ("x in (,a)", "x in (,a)"),
        ("x in (a,)", "x in (,a)"),
        ("x in (a,,b)", "x in (,a,b)"),
        ("x in (,,a)", "x in (,a)"),
        ("x in (,)", "x in ()"),
        ("  x  ==  y  ", "x==y"),
        ("\tx\r\n=\ny", "x=y"),
        ("in in (in,notin)", "in in (in,notin)"),
        ("notin=in", "notin=in"),
        ("x=notin", "x=notin"),
        ("example.com/app=web", "example.com/app=web"),
        ("a.b-c/E.f-G_h=I.j-K_l", "a.b-c/E.f-G_h=I.j-K_l"),
        ("b,!a,c=1", "!a,b,c=1"),
        ("x=1,x!=2", "x=1,x!=2"),
        ("x!=2,x=1", "x!=2,x=1"),
        (
            "environment in (production, qa),tier notin (frontend,backend),partition,!canary",
            "!canary,environment in (production,qa),partition,tier notin (backend,frontend)",
        ),
        // A NUL byte where a token starts reads as the end of the input, as upstream's lexer.
        ("x=y \0garbage garbage", "x=y"),
        // Inside a word it ends the word, and lexing goes on after it.
        ("x=y\0,z", "x=y,z"),
    ];
    for (input, canonical) in cases {
        let selector = parse_label_selector(input)
            .unwrap_or_else(|e| panic!("{input:?} should parse, got {e}"));
        assert_eq!(
            selector.to_string(),
            *canonical,
            "canonical form of {input:?}"
        );
        let again: LabelSelector = canonical.parse().expect("canonical form parses");
        assert_eq!(again, selector, "round trip of {input:?}");
    }
}

#[test]
fn parsed_requirements_expose_key_operator_and_values() {
    let selector =
        parse_label_selector("b in (y,x),a,!c,d=1,e==2,f!=3,g>4,h<5,i notin (z)").expect("parses");
    let parts: Vec<(&str, Operator, Vec<&str>)> = selector
        .requirements()
        .iter()
        .map(|r| {
            (
                r.key(),
                r.operator(),
                r.values().iter().map(String::as_str).collect(),
            )
        })
        .collect();
    assert_eq!(
        parts,
        vec![
            ("a", Operator::Exists, vec![]),
            ("b", Operator::In, vec!["x", "y"]),
            ("c", Operator::DoesNotExist, vec![]),
            ("d", Operator::Equals, vec!["1"]),
            ("e", Operator::DoubleEquals, vec!["2"]),
            ("f", Operator::NotEquals, vec!["3"]),
            ("g", Operator::GreaterThan, vec!["4"]),
            ("h", Operator::LessThan, vec!["5"]),
            ("i", Operator::NotIn, vec!["z"]),
        ]
    );
    assert_eq!(Operator::GreaterThan.as_str(), "gt");
    assert_eq!(Operator::DoesNotExist.as_str(), "!");
}

#[test]
fn rejects_invalid_syntax_with_upstream_messages() {
    let cases: &[(&str, &str)] = &[
        ("x=a b", "found 'b', expected: ',' or 'end of string'"),
        ("x==a==b", "found '==', expected: ',' or 'end of string'"),
        ("!x=a", "found '=', expected: ',' or 'end of string'"),
        ("x=a,", "found '', expected: identifier after ','"),
        ("x=a,,y=b", "found ',', expected: identifier after ','"),
        ("x=a,=b", "found '=', expected: identifier after ','"),
        (
            "=a",
            "found '=', expected: !, identifier, or 'end of string'",
        ),
        (
            ",",
            "found ',', expected: !, identifier, or 'end of string'",
        ),
        (
            "(x)",
            "found '(', expected: !, identifier, or 'end of string'",
        ),
        (
            "!=x",
            "found '!=', expected: !, identifier, or 'end of string'",
        ),
        (
            "a b",
            "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt",
        ),
        (
            "x (a)",
            "unable to parse requirement: found '(', expected: in, notin, =, ==, !=, gt, lt",
        ),
        (
            "!",
            "unable to parse requirement: found '', expected: identifier",
        ),
        (
            "!!x",
            "unable to parse requirement: found '!', expected: identifier",
        ),
        (
            "x in a",
            "unable to parse requirement: found 'a' expected: '('",
        ),
        (
            "x in",
            "unable to parse requirement: found '' expected: '('",
        ),
        (
            "x in (",
            "unable to parse requirement: found '', expected: ',', ')' or identifier",
        ),
        (
            "x in (=)",
            "unable to parse requirement: found '=', expected: ',', ')' or identifier",
        ),
        (
            "x in (a b)",
            "unable to parse requirement: found 'b', expected: ',' or ')'",
        ),
        (
            "x in (a",
            "unable to parse requirement: found '', expected: ',' or ')'",
        ),
        (
            "x in (a,,)",
            "unable to parse requirement: found ')', expected: ',', or identifier",
        ),
        (
            "x in (a,=)",
            "unable to parse requirement: found '=', expected: ',', or identifier",
        ),
        (
            "x=(",
            "unable to parse requirement: found '(', expected: identifier",
        ),
        (
            "x!=!",
            "unable to parse requirement: found '!', expected: identifier",
        ),
        (
            "x<a",
            "unable to parse requirement: values[0]: Invalid value: \"a\": for 'Gt', 'Lt' operators, the value must be an integer",
        ),
        (
            "x>",
            "unable to parse requirement: values[0]: Invalid value: \"\": for 'Gt', 'Lt' operators, the value must be an integer",
        ),
        (
            "x>99999999999999999999",
            "unable to parse requirement: values[0]: Invalid value: \"99999999999999999999\": for 'Gt', 'Lt' operators, the value must be an integer",
        ),
    ];
    for (input, expected) in cases {
        let error = parse_label_selector(input).expect_err(input);
        assert!(
            matches!(error, SelectorError::InvalidLabelSelector(_)),
            "{input:?}"
        );
        assert_eq!(error.to_string(), *expected, "message for {input:?}");
    }
}

#[test]
fn rejects_invalid_keys_and_values_with_upstream_messages() {
    let long_value = "z".repeat(64);
    let long_name = "n".repeat(64);
    let long_prefix = format!("{}/a", "p".repeat(254));
    let cases: Vec<(String, String)> = vec![
        (
            "app:monolith".into(),
            format!(
                "unable to parse requirement: <nil>: Invalid value: \"app:monolith\": {NAME_RULE}"
            ),
        ),
        (
            "*bar".into(),
            format!("unable to parse requirement: <nil>: Invalid value: \"*bar\": {NAME_RULE}"),
        ),
        (
            "a/b/c ?=? def".into(),
            "unable to parse requirement: <nil>: Invalid value: \"a/b/c\": a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')".into(),
        ),
        (
            "app.kubernetes_io/name=vault".into(),
            "unable to parse requirement: <nil>: Invalid value: \"app.kubernetes_io/name\": prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')".into(),
        ),
        (
            "/a".into(),
            "unable to parse requirement: <nil>: Invalid value: \"/a\": prefix part must be non-empty".into(),
        ),
        (
            "a/".into(),
            format!(
                "unable to parse requirement: <nil>: Invalid value: \"a/\": name part must be non-empty; {NAME_RULE}"
            ),
        ),
        (
            long_name.clone(),
            format!(
                "unable to parse requirement: <nil>: Invalid value: \"{long_name}\": name part must be no more than 63 characters"
            ),
        ),
        (
            long_prefix.clone(),
            format!(
                "unable to parse requirement: <nil>: Invalid value: \"{long_prefix}\": prefix part must be no more than 253 characters"
            ),
        ),
        (
            format!("good-key={long_value}"),
            format!(
                "unable to parse requirement: values[0][good-key]: Invalid value: \"{long_value}\": must be no more than 63 characters"
            ),
        ),
        (
            "a=-x".into(),
            format!("unable to parse requirement: values[0][a]: Invalid value: \"-x\": {VALUE_RULE}"),
        ),
        (
            "x=a||y=b".into(),
            format!("unable to parse requirement: values[0][x]: Invalid value: \"a||y\": {VALUE_RULE}"),
        ),
        (
            "a in (ok,b@d,c@e)".into(),
            format!(
                "unable to parse requirement: [values[0][a]: Invalid value: \"b@d\": {VALUE_RULE}, values[1][a]: Invalid value: \"c@e\": {VALUE_RULE}]"
            ),
        ),
        (
            "x>-1".into(),
            format!("unable to parse requirement: values[0][x]: Invalid value: \"-1\": {VALUE_RULE}"),
        ),
        (
            "x>a@".into(),
            format!(
                "unable to parse requirement: [values[0]: Invalid value: \"a@\": for 'Gt', 'Lt' operators, the value must be an integer, values[0][x]: Invalid value: \"a@\": {VALUE_RULE}]"
            ),
        ),
        (
            "caf\u{e9}".into(),
            format!("unable to parse requirement: <nil>: Invalid value: \"caf\u{e9}\": {NAME_RULE}"),
        ),
        (
            "a\"b".into(),
            format!("unable to parse requirement: <nil>: Invalid value: \"a\\\"b\": {NAME_RULE}"),
        ),
        (
            "a\u{1}b".into(),
            format!("unable to parse requirement: <nil>: Invalid value: \"a\\x01b\": {NAME_RULE}"),
        ),
    ];
    for (input, expected) in cases {
        let error = parse_label_selector(&input).expect_err(&input);
        assert_eq!(error.to_string(), expected, "message for {input:?}");
    }
}

/// A label set as `(key, value)` pairs.
type Pairs<'a> = &'a [(&'a str, &'a str)];

#[test]
fn matches_label_sets() {
    let cases: &[(&str, Pairs, bool)] = &[
        ("", &[("x", "y")], true),
        ("", &[], true),
        ("x=y", &[("x", "y")], true),
        ("x==y", &[("x", "y")], true),
        ("x=y,z=w", &[("x", "y"), ("z", "w")], true),
        ("x!=y,z!=w", &[("x", "z"), ("z", "a")], true),
        ("notin=in", &[("notin", "in")], true),
        ("x", &[("x", "z")], true),
        ("!x", &[("y", "z")], true),
        ("x>1", &[("x", "2")], true),
        ("x<1", &[("x", "0")], true),
        ("x<1", &[("x", "-3")], true),
        ("x>1", &[("x", "+2")], true),
        ("x in (a,b)", &[("x", "b")], true),
        ("x notin (a,b)", &[("x", "c")], true),
        ("x notin (a,b)", &[], true),
        ("x!=y", &[], true),
        ("x=", &[("x", "")], true),
        ("x in ()", &[("x", "")], true),
        ("x=z", &[], false),
        ("x=y", &[("x", "z")], false),
        ("x=y,z=w", &[("x", "w"), ("z", "w")], false),
        ("x!=y,z!=w", &[("x", "z"), ("z", "w")], false),
        ("x", &[("y", "z")], false),
        ("!x", &[("x", "z")], false),
        ("x>1", &[("x", "0")], false),
        ("x>1", &[("x", "1")], false),
        ("x<1", &[("x", "2")], false),
        ("x>1", &[], false),
        ("x>1", &[("x", "two")], false),
        ("x in (a,b)", &[("x", "c")], false),
        ("x in (a,b)", &[], false),
        ("x notin (a,b)", &[("x", "a")], false),
        ("x=", &[], false),
    ];
    for (selector, set, expected) in cases {
        let parsed = parse_label_selector(selector).expect(selector);
        let set = labels(set);
        assert_eq!(parsed.matches(&set), *expected, "{selector:?} on {set:?}");
        let hashed: HashMap<String, String> = set.clone().into_iter().collect();
        assert_eq!(
            parsed.matches(&hashed),
            *expected,
            "{selector:?} on HashMap"
        );
    }
}

#[test]
fn matches_object_metadata_labels() {
    let selector = parse_label_selector("app=web,!canary").expect("parses");
    let pod = json!({"metadata": {"name": "p", "labels": {"app": "web", "tier": "x"}}});
    assert!(selector.matches_object(&pod));
    let canary = json!({"metadata": {"labels": {"app": "web", "canary": "true"}}});
    assert!(!selector.matches_object(&canary));
    let unlabelled = json!({"metadata": {"name": "p"}});
    assert!(!selector.matches_object(&unlabelled));
    assert!(LabelSelector::everything().matches_object(&unlabelled));
    assert!(
        parse_label_selector("!app")
            .expect("parses")
            .matches_object(&json!({}))
    );
    // A non-string label value counts as absent.
    let odd = json!({"metadata": {"labels": {"app": 1}}});
    assert!(
        !parse_label_selector("app")
            .expect("parses")
            .matches_object(&odd)
    );
}

#[test]
fn everything_and_nothing() {
    let everything = LabelSelector::everything();
    assert!(everything.is_everything());
    assert!(!everything.is_nothing());
    assert!(everything.matches(&labels(&[("a", "b")])));
    assert_eq!(everything, parse_label_selector("").expect("parses"));
    assert_eq!(everything, parse_label_selector("  \t ").expect("parses"));

    let nothing = LabelSelector::nothing();
    assert!(nothing.is_nothing());
    assert!(!nothing.is_everything());
    assert!(!nothing.matches(&labels(&[])));
    assert!(!nothing.matches_object(&json!({"metadata": {"labels": {"a": "b"}}})));
    assert_eq!(nothing.to_string(), "");
}

#[test]
fn requires_exact_match() {
    let selector = parse_label_selector("a=1,b==2,c in (3),d in (4,5),e!=6,f").expect("parses");
    assert_eq!(selector.requires_exact_match("a"), Some("1"));
    assert_eq!(selector.requires_exact_match("b"), Some("2"));
    assert_eq!(selector.requires_exact_match("c"), Some("3"));
    assert_eq!(selector.requires_exact_match("d"), None);
    assert_eq!(selector.requires_exact_match("e"), None);
    assert_eq!(selector.requires_exact_match("f"), None);
    assert_eq!(selector.requires_exact_match("g"), None);
}

#[test]
fn from_map_selects_every_pair() {
    let selector = LabelSelector::from_map(&labels(&[("b", "2"), ("a", "1")]));
    assert_eq!(selector.to_string(), "a=1,b=2");
    assert!(selector.matches(&labels(&[("a", "1"), ("b", "2"), ("c", "3")])));
    assert!(!selector.matches(&labels(&[("a", "1")])));
    assert!(LabelSelector::from_map(&BTreeMap::new()).is_everything());
}

fn expression(
    key: &str,
    operator: &str,
    values: Option<&[&str]>,
) -> metav1::LabelSelectorRequirement {
    metav1::LabelSelectorRequirement {
        key: key.to_string(),
        operator: operator.to_string(),
        values: values.map(|v| v.iter().map(|s| s.to_string()).collect()),
    }
}

#[test]
fn converts_meta_label_selectors() {
    let selector = metav1::LabelSelector {
        match_labels: Some(labels(&[("tier", "db"), ("app", "mysql")])),
        match_expressions: Some(vec![
            expression("env", "In", Some(&["qa", "prod"])),
            expression("zone", "NotIn", Some(&["b"])),
            expression("owner", "Exists", None),
            expression("legacy", "DoesNotExist", Some(&[])),
        ]),
    };
    let converted = LabelSelector::from_meta(&selector).expect("valid");
    assert_eq!(
        converted.to_string(),
        "app=mysql,env in (prod,qa),!legacy,owner,tier=db,zone notin (b)"
    );
    assert_eq!(
        parse_label_selector(&converted.to_string()).expect("round trip"),
        converted
    );
    assert!(converted.matches(&labels(&[
        ("app", "mysql"),
        ("tier", "db"),
        ("env", "qa"),
        ("owner", "me")
    ])));
    assert!(!converted.matches(&labels(&[
        ("app", "mysql"),
        ("tier", "db"),
        ("env", "qa"),
        ("owner", "me"),
        ("zone", "b")
    ])));

    let empty = metav1::LabelSelector::default();
    assert!(
        LabelSelector::from_meta(&empty)
            .expect("valid")
            .is_everything()
    );
    let empty_lists = metav1::LabelSelector {
        match_labels: Some(BTreeMap::new()),
        match_expressions: Some(vec![]),
    };
    assert!(
        LabelSelector::from_meta_option(Some(&empty_lists))
            .expect("valid")
            .matches(&labels(&[]))
    );
    let absent = LabelSelector::from_meta_option(None).expect("valid");
    assert!(absent.is_nothing());
    assert!(!absent.matches(&labels(&[])));
}

#[test]
fn rejects_invalid_meta_label_selectors() {
    let with = |match_labels: &[(&str, &str)],
                expressions: Vec<metav1::LabelSelectorRequirement>| {
        metav1::LabelSelector {
            match_labels: Some(labels(match_labels)),
            match_expressions: Some(expressions),
        }
    };
    let cases: Vec<(metav1::LabelSelector, String)> = vec![
        (
            with(&[], vec![expression("a", "Foo", None)]),
            "\"Foo\" is not a valid label selector operator".into(),
        ),
        (
            with(&[], vec![expression("a", "In", None)]),
            "values: Invalid value: null: for 'in', 'notin' operators, values set can't be empty".into(),
        ),
        (
            with(&[], vec![expression("a", "NotIn", Some(&[]))]),
            "values: Invalid value: null: for 'in', 'notin' operators, values set can't be empty".into(),
        ),
        (
            with(&[], vec![expression("a", "Exists", Some(&["x"]))]),
            "values: Invalid value: [\"x\"]: values set must be empty for exists and does not exist".into(),
        ),
        (
            with(&[("a b", "c")], vec![]),
            format!("key: Invalid value: \"a b\": {NAME_RULE}"),
        ),
        (
            with(&[("a", "b c")], vec![]),
            format!("values[0][a]: Invalid value: \"b c\": {VALUE_RULE}"),
        ),
        (
            with(&[], vec![expression("a", "In", Some(&["ok", "b@d"]))]),
            format!("values[1][a]: Invalid value: \"b@d\": {VALUE_RULE}"),
        ),
        (
            with(&[], vec![expression("k", "DoesNotExist", Some(&["<a>"]))]),
            format!(
                "[values: Invalid value: [\"\\u003ca\\u003e\"]: values set must be empty for exists and does not exist, values[0][k]: Invalid value: \"<a>\": {VALUE_RULE}]"
            ),
        ),
        (
            with(&[], vec![expression("", "Exists", None)]),
            format!("key: Invalid value: \"\": name part must be non-empty; {NAME_RULE}"),
        ),
        (
            with(&[], vec![expression("a@", "In", None)]),
            format!(
                "[key: Invalid value: \"a@\": {NAME_RULE}, values: Invalid value: null: for 'in', 'notin' operators, values set can't be empty]"
            ),
        ),
    ];
    for (selector, expected) in cases {
        let error = LabelSelector::from_meta(&selector).expect_err(&expected);
        assert_eq!(error, SelectorError::InvalidLabelSelector(expected));
    }
}

#[test]
fn requirement_new_validates_operator_arity() {
    let one = || vec!["1".to_string()];
    assert!(Requirement::new("a", Operator::Equals, one()).is_ok());
    assert!(Requirement::new("a", Operator::GreaterThan, one()).is_ok());
    let error = Requirement::new("a", Operator::Equals, vec![]).expect_err("no value");
    assert_eq!(
        error.to_string(),
        "values: Invalid value: null: exact-match compatibility requires one single value"
    );
    let error = Requirement::new("a", Operator::LessThan, vec!["1".into(), "2".into()])
        .expect_err("two values");
    assert_eq!(
        error.to_string(),
        "values: Invalid value: [\"1\",\"2\"]: for 'Gt', 'Lt' operators, exactly one value is required"
    );
    let requirement =
        Requirement::new("a", Operator::NotIn, vec!["b".into(), "a".into()]).expect("valid");
    assert_eq!(requirement.to_string(), "a notin (a,b)");
    assert!(requirement.matches(&labels(&[("a", "c")])));
}

#[test]
fn label_key_and_value_checks() {
    for key in [
        "a",
        "A1",
        "a.b_c-d",
        "example.com/a",
        "a-b.c/X",
        &"k".repeat(63),
    ] {
        assert!(is_valid_label_key(key), "{key:?}");
    }
    for key in [
        "",
        "-a",
        "a-",
        "a/b/c",
        "Example.com/a",
        "/a",
        "a/",
        &"k".repeat(64),
    ] {
        assert!(!is_valid_label_key(key), "{key:?}");
    }
    for value in ["", "a", "a.b_c-D", &"v".repeat(63)] {
        assert!(is_valid_label_value(value), "{value:?}");
    }
    for value in ["-", "a b", "a/b", "_a", &"v".repeat(64)] {
        assert!(!is_valid_label_value(value), "{value:?}");
    }
    assert_eq!(label_value_errors("a b").len(), 1);
    assert_eq!(label_value_errors(&"-".repeat(64)).len(), 2);
    assert!(label_key_errors("ok").is_empty());
}

/// A small deterministic generator (xorshift), so the property checks need no extra crates.
pub(super) struct Rng(u64);

impl Rng {
    pub(super) fn new(seed: u64) -> Self {
        Rng(seed | 1)
    }

    pub(super) fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    pub(super) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// A string of up to `max_pieces` pieces drawn from `alphabet`.
    pub(super) fn string(&mut self, alphabet: &[&str], max_pieces: usize) -> String {
        let len = self.below(max_pieces + 1);
        (0..len)
            .map(|_| alphabet[self.below(alphabet.len())])
            .collect()
    }
}

#[test]
fn parsing_random_input_never_panics_and_round_trips() {
    let alphabet = [
        "a",
        "b",
        "x",
        "1",
        "0",
        "9",
        "=",
        "==",
        "!",
        "!=",
        "(",
        ")",
        ",",
        ">",
        "<",
        " ",
        "\t",
        "\n",
        "-",
        ".",
        "/",
        "_",
        "in",
        "notin",
        " in ",
        "\\",
        "\0",
        "\u{e9}",
        "Z",
        "example.com/",
        "@",
        "\"",
    ];
    let mut rng = Rng::new(0x5eed_1abe1);
    let mut parsed = 0;
    for _ in 0..30_000 {
        let input = rng.string(&alphabet, 14);
        if let Ok(selector) = parse_label_selector(&input) {
            parsed += 1;
            let printed = selector.to_string();
            let again = parse_label_selector(&printed)
                .unwrap_or_else(|e| panic!("{printed:?} (from {input:?}) does not parse: {e}"));
            assert_eq!(again, selector, "round trip of {input:?} via {printed:?}");
            assert_eq!(again.to_string(), printed);
        }
    }
    assert!(parsed > 1_000, "only {parsed} random inputs parsed");
}
