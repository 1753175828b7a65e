//! Helpers for nets' tests (the same Python lookup as `tests/tests/common`).
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

/// Whether missing reference tools fail the tests instead of skipping them (`.ci/run` sets
/// `EMBER_REQUIRE_REFERENCES=1` after installing them).
pub fn references_required() -> bool {
    std::env::var("EMBER_REQUIRE_REFERENCES").is_ok_and(|v| v == "1")
}

/// A Python that can `import module`: `$EMBER_PYTHON`, else the repository's `.venv`, else
/// `python3`. `None` with a note when none can, unless references are required (then a panic).
pub fn python_with(module: &str) -> Option<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("nets/ has a parent")
        .to_path_buf();
    let mut cands: Vec<PathBuf> = Vec::new();
    if let Ok(p) = std::env::var("EMBER_PYTHON") {
        cands.push(p.into());
    }
    cands.push(root.join(".venv/bin/python"));
    cands.push("python3".into());
    for c in cands {
        let ok = Command::new(&c)
            .args(["-c", &format!("import {module}")])
            .output()
            .is_ok_and(|o| o.status.success());
        if ok {
            return Some(c);
        }
    }
    if references_required() {
        panic!(
            "no Python with `{module}` found (set EMBER_PYTHON, or run .ci/run which installs it)"
        );
    }
    eprintln!(
        "SKIPPED: no Python with `{module}`; set EMBER_PYTHON to a Python with it to include this check"
    );
    None
}
