//! The Python consumer check of exported files (`tests/consumers/check_exports.py`, which
//! loads them with Hugging Face `datasets`), shared by the export tests. The venv is
//! `.loupe/venv-datasets`, installed by `scripts/datasets-venv.sh` (scripts/test.sh runs it;
//! this runs it when missing). Only with the venv absent and `LOUPE_SKIP_PYTHON=1` is there
//! no Python to check with.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The venv's Python, installing the venv when missing; `None` only when it is missing and
/// `LOUPE_SKIP_PYTHON=1`.
pub fn python() -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let py = root.join(".loupe/venv-datasets/bin/python");
    if py.exists() {
        return Some(py);
    }
    if std::env::var("LOUPE_SKIP_PYTHON").is_ok_and(|v| v == "1") {
        return None;
    }
    let install = Command::new(root.join("scripts/datasets-venv.sh"))
        .output()
        .expect("run scripts/datasets-venv.sh");
    assert!(
        install.status.success(),
        "scripts/datasets-venv.sh failed (set LOUPE_SKIP_PYTHON=1 to skip this test on a \
         machine without PyPI):\n{}",
        String::from_utf8_lossy(&install.stderr)
    );
    Some(py)
}

/// Runs the checker on every export in `dir`, offline, with its cache in `cache`.
pub fn check(py: &Path, cache: &Path, dir: &Path) -> std::process::Output {
    Command::new(py)
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/consumers/check_exports.py"))
        .arg(dir)
        .env("HF_HOME", cache)
        .env("HF_DATASETS_CACHE", cache)
        .env("HF_HUB_OFFLINE", "1")
        .env("HF_DATASETS_OFFLINE", "1")
        .output()
        .expect("run check_exports.py")
}
