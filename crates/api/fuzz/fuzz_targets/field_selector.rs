//! Field selector strings: parsing never panics, and a parsed selector prints to a string that
//! parses back to an equal selector, which prints the same again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rkube_api::selector::{FieldSelector, parse_field_selector};

fuzz_target!(|input: &str| {
    let Ok(selector) = parse_field_selector(input) else {
        return;
    };
    let printed = selector.to_string();
    let again: FieldSelector = match parse_field_selector(&printed) {
        Ok(again) => again,
        Err(e) => panic!("{printed:?} (printed from {input:?}) does not parse: {e}"),
    };
    assert_eq!(again, selector, "{input:?} printed as {printed:?}");
    assert_eq!(again.to_string(), printed);
    // Validation and matching against an object must not panic either.
    let pod = serde_json::json!({"metadata": {"name": input}, "spec": {"nodeName": input}});
    let _ = selector.validate_for("", "pods");
    let _ = selector.matches_object("", "pods", &pod);
});
