//! Expected values computed by the reference implementations the Python generators in
//! `tests/reference/` call (scipy, statsmodels, sacreBLEU, ...), checked in as JSON.

#![allow(dead_code)]

use serde_json::Value;

/// The checked-in fixture file `tests/reference/NAME`.
pub fn fixtures(name: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/reference")
        .join(name);
    let text = std::fs::read_to_string(&path).expect("fixture file is checked in");
    serde_json::from_str(&text).expect("fixture file is JSON")
}
