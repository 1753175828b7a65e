//! `ember serve`: a local web app to watch runs, matches and episodes in a browser.
//!
//! An axum router on tokio ([`router`]) serves a one-page app whose HTML, JavaScript and CSS are
//! embedded in the binary ([`assets`]; the vendored uPlot draws the charts, the page draws the
//! boards on a canvas), and a JSON API under `/api/` over the runner library: runs under `--runs`
//! ([`runs`]: config, status, summary, learning curves through the TensorBoard reader `ember
//! plot` uses), matches between two player specs ([`matches`], played by
//! `ember_run::matches::play_match`) and episodes of an agent in an environment ([`episodes`],
//! stepped by `ember_run::watch::Episode`). Live updates are Server-Sent Events: a match or
//! episode runs on its own OS thread and appends to an [`events::EventLog`], which each client
//! replays from its own cursor, so a client that disconnects costs nothing and a late one sees
//! everything. Jobs are kept in a bounded [`store::Store`]; a semaphore bounds how many run at
//! once (`--max-matches`).
//!
//! Safety: the server reads only under `--runs` (a run is named by its directory's name, checked
//! and resolved against the canonical root; player and agent specs that name runs are rewritten
//! through the same check) and writes nothing; external GTP engines and Python Gymnasium
//! environments can be started from the page only with `--allow-engines`; a non-loopback
//! `--host` requires the access token printed at start (header `Authorization: Bearer T`, or
//! `?token=T`); on loopback the `Host` header must name a loopback host (no DNS rebinding); every
//! bad request is a 4xx with `{"error": "…"}`.

pub mod api;
pub mod assets;
pub mod episodes;
pub mod error;
pub mod events;
pub mod matches;
pub mod runs;
pub mod store;

mod attach;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::Semaphore;

pub use api::router;
pub use attach::{Attached, attach};
pub use error::{ApiError, ServeError};

use crate::runs::RunsRoot;
use crate::store::Store;

/// How many finished matches (and, separately, episodes) are kept for viewing.
pub const KEPT_JOBS: usize = 64;

/// What `ember serve` was asked for.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// The runs directory (`--runs`): everything the server reads is under it.
    pub runs: PathBuf,
    /// The address to bind (`--host`; loopback by default).
    pub host: IpAddr,
    /// The port (`--port`; 0: any free one).
    pub port: u16,
    /// Whether player specs may start external GTP engines (`--allow-engines`).
    pub allow_engines: bool,
    /// The most matches and episodes running at once (`--max-matches`).
    pub max_matches: usize,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            runs: PathBuf::from("runs"),
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 8080,
            allow_engines: false,
            max_matches: 4,
        }
    }
}

/// What every request handler shares.
#[derive(Debug, Clone)]
pub struct AppState {
    pub runs: RunsRoot,
    pub allow_engines: bool,
    /// Required on every request when set.
    pub token: Option<String>,
    pub running: Arc<Semaphore>,
    pub matches: Arc<Store>,
    pub episodes: Arc<Store>,
}

impl AppState {
    /// The state of a server that `ember match --serve` starts: no runs directory, no engines
    /// from the page, the default running bound.
    pub fn without_runs(token: Option<String>) -> AppState {
        let max = ServeConfig::default().max_matches;
        AppState {
            runs: RunsRoot::none(),
            allow_engines: false,
            token,
            running: Arc::new(Semaphore::new(max)),
            matches: Arc::new(Store::new(KEPT_JOBS.max(max * 2))),
            episodes: Arc::new(Store::new(KEPT_JOBS.max(max * 2))),
        }
    }

    /// The state for `cfg` with access `token` (required when `Some`).
    pub fn new(cfg: &ServeConfig, token: Option<String>) -> Result<AppState, ServeError> {
        if cfg.max_matches == 0 {
            return Err(ServeError::MaxMatches);
        }
        let runs = RunsRoot::new(&cfg.runs).map_err(|e| ServeError::Runs {
            path: cfg.runs.display().to_string(),
            why: format!("{e} (the runs directory must exist)"),
        })?;
        Ok(AppState {
            runs,
            allow_engines: cfg.allow_engines,
            token,
            running: Arc::new(Semaphore::new(cfg.max_matches)),
            matches: Arc::new(Store::new(KEPT_JOBS.max(cfg.max_matches * 2))),
            episodes: Arc::new(Store::new(KEPT_JOBS.max(cfg.max_matches * 2))),
        })
    }
}

/// A fresh access token: 32 hex digits from the operating system's random source.
pub fn new_token() -> Result<String, ServeError> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(|e| ServeError::Token(e.to_string()))?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

/// A bound server, ready to run.
#[derive(Debug)]
pub struct Bound {
    listener: tokio::net::TcpListener,
    state: AppState,
    /// The address it listens on.
    pub addr: SocketAddr,
}

impl Bound {
    /// The page's URL (with `?token=` when a token is required).
    pub fn url(&self) -> String {
        let host = match self.addr.ip() {
            IpAddr::V6(ip) => format!("[{ip}]"),
            ip => ip.to_string(),
        };
        match &self.state.token {
            Some(t) => format!("http://{host}:{}/?token={t}", self.addr.port()),
            None => format!("http://{host}:{}/", self.addr.port()),
        }
    }

    /// The access token, when one is required.
    pub fn token(&self) -> Option<&str> {
        self.state.token.as_deref()
    }

    /// Serves until the process is interrupted (Ctrl-C).
    pub async fn run(self) -> Result<(), ServeError> {
        self.run_until(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
    }

    /// Serves until `stop` completes.
    pub async fn run_until(
        self,
        stop: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServeError> {
        let app = router(self.state);
        axum::serve(self.listener, app)
            .with_graceful_shutdown(stop)
            .await?;
        Ok(())
    }
}

/// A fresh access token for a non-loopback `host`, none for loopback.
fn token_for(host: IpAddr) -> Result<Option<String>, ServeError> {
    if host.is_loopback() {
        Ok(None)
    } else {
        new_token().map(Some)
    }
}

/// Checks `cfg` and binds its address; a non-loopback host gets a fresh access token.
pub async fn bind(cfg: &ServeConfig) -> Result<Bound, ServeError> {
    let state = AppState::new(cfg, token_for(cfg.host)?)?;
    bind_state(state, cfg.host, cfg.port).await
}

async fn bind_state(state: AppState, host: IpAddr, port: u16) -> Result<Bound, ServeError> {
    let addr = SocketAddr::new(host, port);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind {
            addr: addr.to_string(),
            source,
        })?;
    let addr = listener.local_addr()?;
    Ok(Bound {
        listener,
        state,
        addr,
    })
}

/// Binds, calls `ready` with the bound server (to print its URL), and serves until Ctrl-C, on
/// a tokio runtime of its own.
pub fn serve_blocking(cfg: &ServeConfig, ready: impl FnOnce(&Bound)) -> Result<(), ServeError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async {
        let bound = bind(cfg).await?;
        ready(&bound);
        bound.run().await
    })
}

/// Parses `--host`: an IP address, or `localhost`.
pub fn parse_host(s: &str) -> Result<IpAddr, ServeError> {
    if s.eq_ignore_ascii_case("localhost") {
        return Ok(IpAddr::V4(Ipv4Addr::LOCALHOST));
    }
    s.parse().map_err(|_| ServeError::Host {
        host: s.into(),
        why: "not an IP address (e.g. 127.0.0.1, ::1, 0.0.0.0) or `localhost`".into(),
    })
}
