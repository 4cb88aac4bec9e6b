//! Patch decoders and appliers: for any document and patch (JSON, split at the first newline;
//! the first byte picks JSON patch or strategic merge patch and the definition), applying never
//! panics, a refused patch says which kind of refusal, and a JSON patch that applied can be
//! verified with a `test` of the whole result.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rkube_api::patch::json::JsonPatch;
use rkube_api::patch::strategic;
use serde_json::{Value, json};

const DEFINITIONS: [&str; 4] = [
    "io.k8s.api.core.v1.Pod",
    "io.k8s.api.apps.v1.Deployment",
    "io.k8s.api.core.v1.Service",
    "io.example.v1.Unknown",
];

fuzz_target!(|input: &[u8]| {
    let Some((&selector, rest)) = input.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let (doc, patch) = text.split_once('\n').unwrap_or((&text, "{}"));
    let (Ok(doc), Ok(patch)) = (
        serde_json::from_str::<Value>(doc),
        serde_json::from_str::<Value>(patch),
    ) else {
        return;
    };
    if selector & 1 == 0 {
        let Ok(ops) = JsonPatch::parse(&patch) else {
            return;
        };
        if let Ok(out) = ops.apply(&doc) {
            let check = json!([{"op": "test", "path": "", "value": out}]);
            let check = JsonPatch::parse(&check).expect("a test operation parses");
            assert_eq!(check.apply(&out).ok(), Some(out.clone()));
        }
    } else {
        let definition = DEFINITIONS[usize::from(selector >> 1) % DEFINITIONS.len()];
        if let Ok(out) = strategic::apply(&doc, &patch, definition) {
            assert!(out.is_object());
        }
        // An empty patch changes nothing.
        if doc.is_object() {
            assert_eq!(
                strategic::apply(&doc, &json!({}), definition).ok(),
                Some(doc)
            );
        }
    }
});
