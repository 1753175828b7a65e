//! A server beside a match the process plays itself (`ember match … --serve`): the same page and
//! API as `ember serve`, with no runs directory, whose match store the match is told into
//! through a [`MatchFeed`], so the page shows it live as it shows a match started from the page.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::oneshot;

use crate::error::ServeError;
use crate::matches::{MatchFeed, ServeGame};
use crate::store::Store;
use crate::{AppState, bind_state, token_for};

/// A server running on threads of its own until [`Attached::linger`] ends or it is dropped.
#[derive(Debug)]
pub struct Attached {
    rt: Option<tokio::runtime::Runtime>,
    matches: Arc<Store>,
    base_url: String,
    token: Option<String>,
    stop: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<Result<(), ServeError>>>,
}

/// Binds `host:port` (loopback needs no token; any other host gets a fresh one, required on
/// every request, as for `ember serve`) and starts serving in the background.
pub fn attach(host: IpAddr, port: u16) -> Result<Attached, ServeError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let state = AppState::without_runs(token_for(host)?);
    let matches = state.matches.clone();
    let bound = rt.block_on(bind_state(state, host, port))?;
    let base_url = bound.url();
    let token = bound.token().map(String::from);
    let (tx, rx) = oneshot::channel::<()>();
    let server = rt.spawn(bound.run_until(async {
        let _ = rx.await;
    }));
    Ok(Attached {
        rt: Some(rt),
        matches,
        base_url,
        token,
        stop: Some(tx),
        server: Some(server),
    })
}

impl Attached {
    /// The page at the attached match: `#/matches/attached` opens the game being played (the
    /// newest game of the match) and follows the match from game to game.
    pub fn url(&self) -> String {
        format!("{}#/matches/attached", self.base_url)
    }

    /// The access token, when one is required.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// A feed for a match of `games` games from `fresh` between `specs` (the first named
    /// first); `info`'s fields (an object, e.g. the seed) are added to every game's.
    pub fn feed<G: ServeGame>(
        &self,
        fresh: G,
        specs: [String; 2],
        games: u64,
        info: Value,
    ) -> MatchFeed<G> {
        MatchFeed::new(self.matches.clone(), fresh, specs, games, info)
    }

    /// Keeps serving for `linger` (`None`: until Ctrl-C; Ctrl-C also cuts a linger short), then
    /// stops the server.
    pub fn linger(mut self, linger: Option<Duration>) -> Result<(), ServeError> {
        if let Some(rt) = &self.rt {
            rt.block_on(async {
                match linger {
                    Some(d) => {
                        tokio::select! {
                            _ = tokio::time::sleep(d) => {}
                            _ = tokio::signal::ctrl_c() => {}
                        }
                    }
                    None => {
                        let _ = tokio::signal::ctrl_c().await;
                    }
                }
            });
        }
        self.shutdown()
    }

    /// Stops accepting, gives open requests (a live stream of a match started from the page) a
    /// second to end, and stops the runtime.
    fn shutdown(&mut self) -> Result<(), ServeError> {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        let mut result = Ok(());
        if let (Some(rt), Some(h)) = (&self.rt, self.server.take())
            && let Ok(Ok(r)) =
                rt.block_on(async { tokio::time::timeout(Duration::from_secs(1), h).await })
        {
            result = r;
        }
        if let Some(rt) = self.rt.take() {
            rt.shutdown_timeout(Duration::from_secs(1));
        }
        result
    }
}

impl Drop for Attached {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}
