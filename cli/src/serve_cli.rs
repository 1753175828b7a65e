//! `ember serve`: arguments and the start-up lines; the server is `ember_serve`.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// The runs directory: the page lists the runs under it; the server reads nothing outside it.
    #[arg(long, default_value = "runs")]
    pub runs: PathBuf,
    /// The address to listen on. Anything but loopback (127.0.0.1, ::1, localhost) requires the
    /// access token printed at start.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// The port (0: any free one).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Let the page start external GTP engines (gtp:"COMMAND" players) and Python Gymnasium
    /// environments (gym:ID).
    #[arg(long)]
    pub allow_engines: bool,
    /// The most matches and episodes running at once.
    #[arg(long, default_value_t = 4)]
    pub max_matches: usize,
}

/// `ember serve`: binds, prints the page's URL (with the token when one is needed), serves until
/// Ctrl-C.
pub fn serve(a: &ServeArgs) -> Result<()> {
    let cfg = ember_serve::ServeConfig {
        runs: a.runs.clone(),
        host: ember_serve::parse_host(&a.host)?,
        port: a.port,
        allow_engines: a.allow_engines,
        max_matches: a.max_matches,
    };
    ember_serve::serve_blocking(&cfg, |bound| {
        eprintln!("ember serve: runs under {}", a.runs.display());
        if let Some(t) = bound.token() {
            eprintln!(
                "access token: {t} (required on every request: header `Authorization: Bearer {t}` or `?token={t}`)"
            );
        }
        if a.allow_engines {
            eprintln!(
                "--allow-engines: the page may start external GTP engines and Python environments"
            );
        }
        // The URL on stdout, alone on its line, for scripts and tests to read.
        println!("{}", bound.url());
    })?;
    Ok(())
}
