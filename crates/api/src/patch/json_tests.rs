//! RFC 6902 behaviour: the examples of its appendix A and upstream's error cases.

use serde_json::{Value, json};

use super::PatchError;
use super::json::{JsonPatch, MAX_OPERATIONS};

fn run(doc: Value, patch: Value) -> Result<Value, PatchError> {
    JsonPatch::parse(&patch)?.apply(&doc)
}

#[test]
fn operations_apply_in_order() {
    let cases = [
        // (document, patch, expected)
        (
            json!({"foo": "bar"}),
            json!([{"op": "add", "path": "/baz", "value": "qux"}]),
            json!({"foo": "bar", "baz": "qux"}),
        ),
        (
            json!({"foo": ["bar", "baz"]}),
            json!([{"op": "add", "path": "/foo/1", "value": "qux"}]),
            json!({"foo": ["bar", "qux", "baz"]}),
        ),
        (
            json!({"foo": ["bar"]}),
            json!([{"op": "add", "path": "/foo/-", "value": "end"}]),
            json!({"foo": ["bar", "end"]}),
        ),
        (
            json!({"baz": "qux", "foo": "bar"}),
            json!([{"op": "remove", "path": "/baz"}]),
            json!({"foo": "bar"}),
        ),
        (
            json!({"foo": ["bar", "qux", "baz"]}),
            json!([{"op": "remove", "path": "/foo/1"}]),
            json!({"foo": ["bar", "baz"]}),
        ),
        (
            json!({"baz": "qux", "foo": "bar"}),
            json!([{"op": "replace", "path": "/baz", "value": "boo"}]),
            json!({"baz": "boo", "foo": "bar"}),
        ),
        (
            json!({"foo": {"bar": "baz", "waldo": "fred"}, "qux": {"corge": "grault"}}),
            json!([{"op": "move", "from": "/foo/waldo", "path": "/qux/thud"}]),
            json!({"foo": {"bar": "baz"}, "qux": {"corge": "grault", "thud": "fred"}}),
        ),
        (
            json!({"foo": ["all", "grass", "cows", "eat"]}),
            json!([{"op": "move", "from": "/foo/1", "path": "/foo/3"}]),
            json!({"foo": ["all", "cows", "eat", "grass"]}),
        ),
        (
            json!({"a": {"b": 1}}),
            json!([{"op": "copy", "from": "/a", "path": "/c"}]),
            json!({"a": {"b": 1}, "c": {"b": 1}}),
        ),
        (
            json!({"baz": "qux", "foo": ["a", 2, "c"]}),
            json!([{"op": "test", "path": "/baz", "value": "qux"},
                {"op": "test", "path": "/foo/1", "value": 2.0}]),
            json!({"baz": "qux", "foo": ["a", 2, "c"]}),
        ),
        // `~1` is `/` and `~0` is `~` in a path.
        (
            json!({"metadata": {"labels": {}}}),
            json!([{"op": "add", "path": "/metadata/labels/app.kubernetes.io~1name", "value": "x"},
                {"op": "add", "path": "/metadata/labels/a~0b", "value": "y"}]),
            json!({"metadata": {"labels": {"app.kubernetes.io/name": "x", "a~b": "y"}}}),
        ),
        // The empty path is the whole document.
        (
            json!({"a": 1}),
            json!([{"op": "replace", "path": "", "value": {"b": 2}}]),
            json!({"b": 2}),
        ),
        (
            json!({"a": [1, 2, 3]}),
            json!([{"op": "remove", "path": "/a/-1"}]),
            json!({"a": [1, 2]}),
        ),
        (json!({"a": 1}), json!([]), json!({"a": 1})),
    ];
    for (doc, patch, want) in cases {
        assert_eq!(
            run(doc.clone(), patch.clone()).unwrap(),
            want,
            "{doc} + {patch}"
        );
    }
}

#[test]
fn failures_say_why_and_change_nothing() {
    let doc = json!({"foo": "bar", "list": [1]});
    let cases = [
        (
            json!([{"op": "test", "path": "/foo", "value": "x"}]),
            "testing value /foo failed",
        ),
        (
            json!([{"op": "remove", "path": "/nope"}]),
            "Unable to remove nonexistent key: /nope",
        ),
        (
            json!([{"op": "replace", "path": "/nope", "value": 1}]),
            "doc is missing key: /nope",
        ),
        (
            json!([{"op": "add", "path": "/a/b", "value": 1}]),
            "doc is missing path",
        ),
        (
            json!([{"op": "add", "path": "/list/5", "value": 1}]),
            "invalid index: 5",
        ),
        (
            json!([{"op": "move", "from": "/nope", "path": "/x"}]),
            "missing from path: /nope",
        ),
        (
            json!([{"op": "move", "from": "/list", "path": "/list/0"}]),
            "is a prefix of path",
        ),
        (
            json!([{"op": "copy", "from": "/nope", "path": "/x"}]),
            "missing from path: /nope",
        ),
        (
            json!([{"op": "frobnicate", "path": "/foo"}]),
            "Unexpected kind: frobnicate",
        ),
        (json!([{"op": "add", "value": 1}]), "missing path"),
        // The first operation applied, then the second failed: nothing is kept.
        (
            json!([{"op": "add", "path": "/x", "value": 1}, {"op": "remove", "path": "/y"}]),
            "nonexistent key: /y",
        ),
    ];
    for (patch, want) in cases {
        match run(doc.clone(), patch.clone()) {
            Err(PatchError::DoesNotApply(msg)) => assert!(msg.contains(want), "{patch}: {msg}"),
            other => panic!("{patch}: {other:?}"),
        }
    }
}

#[test]
fn malformed_documents() {
    for patch in [json!({"op": "add"}), json!("x"), json!([1]), json!([[]])] {
        assert!(
            matches!(JsonPatch::parse(&patch), Err(PatchError::Malformed(_))),
            "{patch}"
        );
    }
    let many = Value::Array(vec![json!({"op": "test", "path": ""}); MAX_OPERATIONS + 1]);
    assert_eq!(
        JsonPatch::parse(&many),
        Err(PatchError::TooManyOperations {
            max: MAX_OPERATIONS,
            got: MAX_OPERATIONS + 1
        })
    );
}
