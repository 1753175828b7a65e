//! With the `gym` feature the binary embeds CPython: record where `libpython` lives (pyenv and
//! venv Pythons keep it outside the loader's default path) so `ember` starts without
//! `LD_LIBRARY_PATH`. The interpreter is the one pyo3 builds against: `$PYO3_PYTHON`, else
//! `python3`.
fn main() {
    println!("cargo:rerun-if-env-changed=PYO3_PYTHON");
    if std::env::var_os("CARGO_FEATURE_GYM").is_none() {
        return;
    }
    let python = std::env::var("PYO3_PYTHON").unwrap_or_else(|_| "python3".into());
    let out = std::process::Command::new(&python)
        .args([
            "-c",
            "import sysconfig; print(sysconfig.get_config_var('LIBDIR') or '')",
        ])
        .output();
    match out {
        Ok(o) if o.status.success() => {
            let dir = String::from_utf8_lossy(&o.stdout).trim().to_string();
            if !dir.is_empty() {
                println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
            }
        }
        _ => println!(
            "cargo:warning=could not ask {python} for its LIBDIR; ember may need LD_LIBRARY_PATH to find libpython"
        ),
    }
}
