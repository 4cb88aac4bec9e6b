//! Label selector strings: parsing never panics, and a parsed selector prints to a string that
//! parses back to an equal selector, which prints the same again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rkube_api::selector::{LabelSelector, parse_label_selector};

fuzz_target!(|input: &str| {
    let Ok(selector) = parse_label_selector(input) else {
        return;
    };
    let printed = selector.to_string();
    let again: LabelSelector = match parse_label_selector(&printed) {
        Ok(again) => again,
        Err(e) => panic!("{printed:?} (printed from {input:?}) does not parse: {e}"),
    };
    assert_eq!(again, selector, "{input:?} printed as {printed:?}");
    assert_eq!(again.to_string(), printed);
    // Matching must not panic either, whatever the labels.
    let labels: std::collections::BTreeMap<String, String> = selector
        .requirements()
        .iter()
        .map(|r| (r.key().to_string(), input.to_string()))
        .collect();
    let _ = selector.matches(&labels);
});
