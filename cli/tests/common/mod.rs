//! Helpers shared by the `ember` binary's end-to-end tests.
#![allow(dead_code)]

use std::process::{Command, Output};

/// Runs the built `ember` with `args`.
pub fn ember(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ember"))
        .args(args)
        .output()
        .expect("run ember")
}

/// The last stdout line parsed as JSON (the contract for `--json`); the command must have succeeded.
pub fn last_json(o: &Output) -> serde_json::Value {
    assert!(
        o.status.success(),
        "ember failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let out = String::from_utf8_lossy(&o.stdout);
    let last = out.lines().last().expect("some stdout");
    serde_json::from_str(last).unwrap_or_else(|e| panic!("last line is not JSON ({e}): {last}"))
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
