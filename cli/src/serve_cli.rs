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

/// `--serve` and its options, shared by `ember match go`, `ember match connect_four` and
/// `ember selfplay`.
#[derive(Args, Debug)]
pub struct MatchServeArgs {
    /// Show the match live in a browser: starts `ember serve`'s page in this process (no runs
    /// directory) and prints its URL, which opens the game being played and follows the match
    /// game by game. Moves are paced by --delay-ms as with --watch. After the last game the page
    /// stays up for review until Ctrl-C (see --serve-linger).
    #[arg(long)]
    pub serve: bool,
    /// With --serve: the address to listen on (default 127.0.0.1). Anything but loopback
    /// requires the access token printed at start.
    #[arg(long, requires = "serve")]
    pub host: Option<String>,
    /// With --serve: the port (default 8080; 0: any free one).
    #[arg(long, requires = "serve")]
    pub port: Option<u16>,
    /// With --serve: after the last game keep serving this many seconds, then exit (0: exit at
    /// once). Without it the page stays up until Ctrl-C.
    #[arg(long, value_name = "SECONDS", requires = "serve")]
    pub serve_linger: Option<f64>,
}

/// With `--serve`: starts the server, prints the page's URL (on stdout, alone on its line) and
/// the token when one is needed.
pub fn attach(a: &MatchServeArgs) -> Result<Option<ember_serve::Attached>> {
    if !a.serve {
        return Ok(None);
    }
    if let Some(s) = a.serve_linger
        && !(s.is_finite() && (0.0..=1e9).contains(&s))
    {
        anyhow::bail!("--serve-linger must be a number of seconds, 0 or more");
    }
    let host = ember_serve::parse_host(a.host.as_deref().unwrap_or("127.0.0.1"))?;
    let served = ember_serve::attach(host, a.port.unwrap_or(8080))?;
    if let Some(t) = served.token() {
        eprintln!(
            "access token: {t} (required on every request: header `Authorization: Bearer {t}` or `?token={t}`)"
        );
    }
    eprintln!("--serve: the match is shown at {}", served.url());
    println!("{}", served.url());
    Ok(Some(served))
}

/// With `--serve`, once the match is over: keeps the page up for review for `--serve-linger`
/// seconds, or until Ctrl-C.
pub fn linger(served: Option<ember_serve::Attached>, a: &MatchServeArgs) -> Result<()> {
    let Some(served) = served else {
        return Ok(());
    };
    match a.serve_linger {
        Some(s) if s > 0.0 => eprintln!(
            "the match is over; its page stays up {s} s more (--serve-linger) at {}",
            served.url()
        ),
        Some(_) => {}
        None => eprintln!(
            "the match is over; its page stays up for review at {} until Ctrl-C",
            served.url()
        ),
    }
    served.linger(a.serve_linger.map(std::time::Duration::from_secs_f64))?;
    Ok(())
}
