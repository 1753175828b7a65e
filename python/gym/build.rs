//! Embedding CPython: make test binaries find `libpython` at run time (pyenv and venv Pythons
//! keep it outside the loader's default path).
fn main() {
    let cfg = pyo3_build_config::get();
    if let Some(dir) = cfg.lib_dir() {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
    }
}
