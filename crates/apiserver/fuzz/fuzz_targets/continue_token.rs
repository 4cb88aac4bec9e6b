//! List pagination: any `continue` token, `limit`, `resourceVersion` and
//! `resourceVersionMatch` given to the registry's list (and a resourceVersion to its watch)
//! is answered or refused with a `Status`, never a panic; and a page's own continue token
//! leads through the rest of the list without repeating or skipping an object.
//!
//! Input: up to five lines: the continue token, the limit, resourceVersion,
//! resourceVersionMatch, and the namespace (empty: all namespaces).
#![no_main]

use libfuzzer_sys::fuzz_target;
use rkube_apiserver::registry::{ListOptions, WatchOptions, parse_resource_version};
use rkube_apiserver_fuzz::harness;

fuzz_target!(|input: &[u8]| {
    let input = String::from_utf8_lossy(input);
    let mut fields = input.split('\n');
    let mut next = || fields.next().map(String::from);
    let (token, limit, rv, rv_match, ns) = (next(), next(), next(), next(), next());
    let limit = limit
        .as_deref()
        .and_then(|l| l.parse::<i64>().ok())
        .unwrap_or(0);
    let ns = ns.filter(|n| !n.is_empty());
    for s in [&token, &rv].into_iter().flatten() {
        if let Ok(r) = parse_resource_version(s) {
            assert!(r >= 0, "{s:?} parsed as {r}");
        }
    }
    let pods = rkube_api::resources::find("", "v1", "pods").expect("pods are built in");
    let h = harness();
    h.reset();
    let registry = h.registry();
    h.block_on(async {
        let opts = ListOptions {
            filter: None,
            limit: limit.max(0),
            continue_token: token.clone().filter(|t| !t.is_empty()),
            resource_version: rv.clone(),
            resource_version_match: rv_match,
        };
        if let Ok(page) = registry.list(pods, ns.as_deref(), &opts).await {
            assert!(opts.limit == 0 || page.items.len() as i64 <= opts.limit);
            // Follow the tokens the server hands out: each object at most once.
            let key = |o: &serde_json::Value| {
                format!("{}/{}", o["metadata"]["namespace"], o["metadata"]["name"])
            };
            let mut seen: Vec<String> = page.items.iter().map(key).collect();
            let mut token = page.continue_token;
            let mut pages = 0;
            while let Some(t) = token.take() {
                pages += 1;
                assert!(pages < 100, "continue tokens do not end");
                let next = ListOptions {
                    continue_token: Some(t.clone()),
                    resource_version: None,
                    ..opts.clone()
                };
                let page = match registry.list(pods, ns.as_deref(), &next).await {
                    Ok(page) => page,
                    Err(e) => panic!("the server's own continue token {t:?} failed: {e:?}"),
                };
                seen.extend(page.items.iter().map(key));
                token = page.continue_token;
            }
            let unique: std::collections::HashSet<&String> = seen.iter().collect();
            assert_eq!(unique.len(), seen.len(), "pages repeat objects: {seen:?}");
        }
        let watch = WatchOptions {
            resource_version: rv,
            ..Default::default()
        };
        drop(registry.watch(pods, ns.as_deref(), watch).await);
    });
});
