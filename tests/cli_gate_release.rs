//! A release says exactly what was frozen, or is not recorded: when the candidate's template
//! version is not in the store, `loupe gate` refuses to record a release without it.

#![allow(clippy::unwrap_used)]

mod common;

use std::process::Command;

use loupe::eval::spec::CheckResult;
use loupe::store::Store;

const LOUPE: &str = env!("CARGO_BIN_EXE_loupe");

#[test]
fn a_release_without_its_template_content_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let session_path = common::rating::write_session(dir.path(), 30, 1, &[]);
    let session = loupe::session::load(&session_path).unwrap();
    let store_dir = dir.path().join("store");
    let run_id = {
        let store = Store::open(&store_dir).unwrap();
        let mut plan = common::planned::plan(&session, &store);
        // The run names a template version the store does not hold.
        for v in &mut plan.run.variants {
            if v.name == "plain" {
                v.template_version = "0".repeat(64);
            }
        }
        let run = common::planned::complete(&store, &plan, |cell| {
            let pass = cell.key.variant == "plain";
            let check = CheckResult {
                name: "contains".into(),
                pass,
                score: None,
                reason: String::new(),
            };
            common::planned::answer(cell, "answer".into(), vec![check])
        });
        run.id
    };
    let out = Command::new(LOUPE)
        .arg("--store")
        .arg(&store_dir)
        .args([
            "gate",
            &run_id,
            "--candidate",
            "plain",
            "--baseline",
            "grounded",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{err}\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(err.contains("is not in the store"), "{err}");
    assert!(err.contains("nothing recorded"), "{err}");
    let list = Command::new(LOUPE)
        .arg("--store")
        .arg(&store_dir)
        .args(["gate", "--list", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&list.stdout).trim(), "[]");
}
