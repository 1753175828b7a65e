//! Helpers shared by the cross-crate tests.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

/// The repository root.
pub fn repo_root() -> PathBuf {
    // Cargo sets the variable when it runs a test too. The value compiled in is the fallback (a
    // test binary run by hand); it is stale when two checkouts share one target directory and
    // cargo reuses a binary built in the other.
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// Whether missing reference tools (Python packages, GNU Go) fail the tests instead of skipping
/// them. `.ci/run` sets `EMBER_REQUIRE_REFERENCES=1`, after installing them.
pub fn references_required() -> bool {
    std::env::var("EMBER_REQUIRE_REFERENCES").is_ok_and(|v| v == "1")
}

/// A Python interpreter that can `import module`: `$EMBER_PYTHON`, else `.venv/bin/python` in the
/// repository, else `python3`. `None` (with a note on stderr) when none can, unless references
/// are required, in which case this panics with instructions.
pub fn python_with(module: &str) -> Option<PathBuf> {
    let mut cands: Vec<PathBuf> = Vec::new();
    if let Ok(p) = std::env::var("EMBER_PYTHON") {
        cands.push(p.into());
    }
    cands.push(repo_root().join(".venv/bin/python"));
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
        "SKIPPED: no Python with `{module}`; run .ci/run (or set EMBER_PYTHON) to include this check"
    );
    None
}

/// Mean and sample standard deviation.
pub fn mean_std(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let m = xs.iter().sum::<f64>() / n;
    let v = xs.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1.0).max(1.0);
    (m, v.sqrt())
}

/// Welch's z statistic for the difference of two sample means.
pub fn z_score(a: &[f64], b: &[f64]) -> f64 {
    let (ma, sa) = mean_std(a);
    let (mb, sb) = mean_std(b);
    let se = (sa * sa / a.len() as f64 + sb * sb / b.len() as f64).sqrt();
    if se == 0.0 {
        if ma == mb { 0.0 } else { f64::INFINITY }
    } else {
        (ma - mb) / se
    }
}

/// The `ember` binary next to this test's executable (`cargo test --workspace` builds it there), or
/// `$EMBER_BIN`; `None` (skip, with a note) when it is not built, unless references are required.
pub fn ember_bin() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("EMBER_BIN") {
        return Some(p.into());
    }
    let exe = std::env::current_exe().ok()?;
    let bin = exe
        .parent()?
        .parent()?
        .join(if cfg!(windows) { "ember.exe" } else { "ember" });
    if bin.exists() {
        return Some(bin);
    }
    if references_required() {
        panic!(
            "the ember binary was not found at {}: run `cargo build -p ember` or `cargo test --workspace`",
            bin.display()
        );
    }
    eprintln!("SKIPPED: the ember binary is not built (cargo build -p ember)");
    None
}

/// Runs `ember gtp ARGS` on `input` (its whole stdin) and returns the answers, trimmed, one per
/// command that got one.
pub fn gtp_session(ember: &std::path::Path, args: &[&str], input: &str) -> Vec<String> {
    use std::io::Write;
    let mut child = Command::new(ember)
        .arg("gtp")
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("ember gtp starts");
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(input.as_bytes())
        .expect("ember gtp reads its input");
    let out = child.wait_with_output().expect("ember gtp ends");
    let text = String::from_utf8_lossy(&out.stdout);
    text.split("\n\n")
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(str::to_string)
        .collect()
}

/// Panics with the command's stderr unless it succeeded.
pub fn assert_ok(out: &std::process::Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
