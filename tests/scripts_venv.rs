//! The setup scripts on a machine whose Python lacks the venv module (stock Debian splits
//! it into `python3-venv`): they stop at once and say exactly what to install.

#![allow(clippy::unwrap_used)]

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

/// A `python3` that, like Debian's without `python3-venv`, cannot import `venv`/`ensurepip`.
fn python_without_venv(dir: &Path) -> std::path::PathBuf {
    let py = dir.join("python3");
    std::fs::write(
        &py,
        "#!/bin/sh\necho \"ModuleNotFoundError: No module named 'ensurepip'\" >&2\nexit 1\n",
    )
    .unwrap();
    std::fs::set_permissions(&py, std::fs::Permissions::from_mode(0o755)).unwrap();
    py
}

fn run_copy(script: &str) -> std::process::Output {
    // A copy (with the shell library it sources) in a repository of its own, so the real
    // .loupe/ is never touched.
    let repo = tempfile::tempdir().unwrap();
    let scripts = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts");
    std::fs::create_dir_all(repo.path().join("scripts/lib")).unwrap();
    for entry in std::fs::read_dir(scripts.join("lib")).unwrap() {
        let name = entry.unwrap().file_name();
        std::fs::copy(
            scripts.join("lib").join(&name),
            repo.path().join("scripts/lib").join(&name),
        )
        .unwrap();
    }
    let copy = repo.path().join("scripts").join(script);
    std::fs::copy(scripts.join(script), &copy).unwrap();
    let py = python_without_venv(repo.path());
    let out = Command::new("bash")
        .arg(&copy)
        .args(if script.ends_with("-venv.sh") {
            &[][..]
        } else {
            &["install"][..]
        })
        .env("LOUPE_PYTHON", &py)
        .output()
        .unwrap();
    for venv in ["venv", "embed-venv", "venv-datasets"] {
        assert!(
            !repo
                .path()
                .join(".loupe")
                .join(venv)
                .join("bin/python")
                .exists()
        );
    }
    out
}

/// SCRIPT stops with exit 1 and says which Debian package brings the venv module.
fn names_python3_venv(script: &str) {
    let out = run_copy(script);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("has no venv module"), "{err}");
    assert!(err.contains("sudo apt-get install python3-venv"), "{err}");
}

#[test]
fn model_sh_names_the_package_to_install() {
    names_python3_venv("model.sh");
}

#[test]
fn datasets_venv_sh_names_the_package_to_install() {
    names_python3_venv("datasets-venv.sh");
}

#[test]
fn embed_sh_names_the_package_to_install() {
    names_python3_venv("embed.sh");
}
