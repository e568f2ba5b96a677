//! JSON Lines files (case files, export rows): one JSON value a line.

#![allow(dead_code, clippy::unwrap_used)]

use std::path::Path;

use serde_json::Value;

/// The values of the JSON Lines file at `path`.
pub fn read(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Writes `rows` to `path`, one a line.
pub fn write(path: &Path, rows: impl IntoIterator<Item = Value>) {
    let mut text = String::new();
    for row in rows {
        text.push_str(&row.to_string());
        text.push('\n');
    }
    std::fs::write(path, text).unwrap();
}
