//! Matches started from the page: one game between two player specs on Go or Connect Four,
//! played on its own thread by `ember_run::matches::play_match` (the one match loop) and told
//! as events (`start`, `move` per move with the board and the mover's analysis, `end` or
//! `error`) into an [`EventLog`] that any number of clients follow.

use std::time::Duration;

use ember_envs::Game;
use ember_envs::games::ConnectFour;
use ember_envs::go::board::{MAX_SIZE, MIN_SIZE};
use ember_envs::go::{Color, GoState};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use ember_envs::player::{Analysis, Decision, GameEnd, Player, PlayerError};
use ember_run::matches::{MatchEvent, MatchOptions, go_record, play_match};
use ember_run::players::{MatchGame, make_player};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::{ApiError, ApiResult};
use crate::events::EventLog;
use crate::runs::RunsRoot;

/// The most milliseconds a match may wait after each move (for watching).
pub const MAX_DELAY_MS: u64 = 5000;

/// `POST /api/matches`'s body.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatchRequest {
    /// `go` or `connect_four`.
    pub game: String,
    /// Go's board size (5 to 19; default 9).
    #[serde(default)]
    pub size: Option<usize>,
    /// Go's komi (default 7.5).
    #[serde(default)]
    pub komi: Option<f32>,
    /// Go: the most moves before the game is scored as it stands (default 4·size², 0: none).
    #[serde(default)]
    pub max_moves: Option<u32>,
    /// The player specs: the first moves first (Black in Go).
    pub players: [String; 2],
    #[serde(default)]
    pub seed: u64,
    /// A pause after each move, for watching (at most [`MAX_DELAY_MS`]).
    #[serde(default)]
    pub delay_ms: u64,
}

/// A game the server can show: its board and its result as JSON, and its record file.
pub trait ServeGame: MatchGame {
    /// `{"rows", "cols", "cells": "…"}`: one character per cell, top row first (`.` empty,
    /// `X` first player, `O` second), plus the game's own fields.
    fn board_json(&self) -> Value;
    /// The result's fields: `result`, `winner` (seat or null), and the game's own (Go: `score`).
    fn end_json(&self, end: &GameEnd) -> Value;
    /// The game's fields in a match's `info`: `game`, `rows`, `cols`, and its own (Go: `size`,
    /// `komi`, `max_moves`).
    fn info_json(&self) -> Value;
    /// The game as a record file (Go: SGF), when the game has one.
    fn record(
        &self,
        _end: &GameEnd,
        _names: &[String; 2],
        _analyses: &[Option<Analysis>],
    ) -> Option<String> {
        None
    }
}

impl ServeGame for GoState {
    fn info_json(&self) -> Value {
        let n = self.size();
        json!({
            "game": "go", "size": n, "komi": self.komi(), "max_moves": self.max_moves(),
            "rows": n, "cols": n,
        })
    }
    fn board_json(&self) -> Value {
        let n = self.size();
        let b = self.board();
        let cells: String = (0..n * n)
            .map(|i| match b.stone(b.from_index(i)) {
                Some(Color::Black) => 'X',
                Some(Color::White) => 'O',
                None => '.',
            })
            .collect();
        json!({
            "rows": n, "cols": n, "cells": cells,
            "captures": [b.captures(Color::Black), b.captures(Color::White)],
            "komi": self.komi(),
            "passes": self.passes(),
        })
    }
    fn end_json(&self, end: &GameEnd) -> Value {
        let result = match end.resigned {
            Some(seat) => format!("{}+R", if seat == 0 { 'W' } else { 'B' }),
            None => self.result_string(),
        };
        json!({
            "result": result,
            "winner": end.winner(),
            "reason": if end.resigned.is_some() { "resignation" } else if self.hit_move_limit() { "move limit" } else { "two passes" },
            "score": self.score(),
            "area": self.board().area_score(),
        })
    }
    fn record(
        &self,
        end: &GameEnd,
        names: &[String; 2],
        analyses: &[Option<Analysis>],
    ) -> Option<String> {
        Some(go_record(self, end, names, analyses).to_sgf())
    }
}

impl ServeGame for ConnectFour {
    fn info_json(&self) -> Value {
        json!({ "game": "connect_four", "rows": 6, "cols": 7 })
    }
    fn board_json(&self) -> Value {
        let (rows, cols) = (6, 7);
        let cells: String = (0..rows * cols)
            .map(|i| match self.at(i / cols, i % cols) {
                Some(0) => 'X',
                Some(_) => 'O',
                None => '.',
            })
            .collect();
        json!({ "rows": rows, "cols": cols, "cells": cells })
    }
    fn end_json(&self, end: &GameEnd) -> Value {
        let result = match (end.resigned, end.winner()) {
            (Some(seat), _) => format!("player {} resigned", seat + 1),
            (None, Some(w)) => format!("player {} connects four", w + 1),
            (None, None) => "draw (board full)".into(),
        };
        json!({
            "result": result,
            "winner": end.winner(),
            "reason": if end.resigned.is_some() { "resignation" } else if end.winner().is_some() { "four in a row" } else { "board full" },
        })
    }
}

/// An analysis as JSON, with action names and the first player's win rate.
pub fn analysis_json<G: Game>(state: &G, a: &Analysis) -> Value {
    let first_value = if a.player == 0 { a.value } else { -a.value };
    let candidates: Vec<Value> = a
        .candidates
        .iter()
        .take(20)
        .map(|c| {
            json!({
                "action": c.action,
                "name": state.action_name(c.action),
                "visits": c.visits,
                "value": c.value,
                "winrate": 50.0 * (c.value + 1.0),
                "prior": c.prior,
                "pv": c.pv.iter().take(10).map(|&m| state.action_name(m)).collect::<Vec<_>>(),
            })
        })
        .collect();
    // Ownership from the first player's view, two decimals.
    let ownership = a.ownership.as_ref().map(|o| {
        o.iter()
            .map(|&v| {
                let v = if a.player == 0 { v } else { -v };
                (v * 100.0).round() / 100.0
            })
            .collect::<Vec<f32>>()
    });
    json!({
        "player": a.player,
        "value": a.value,
        "visits": a.visits,
        "first_winrate": 50.0 * (first_value + 1.0),
        "candidates": candidates,
        "ownership": ownership,
    })
}

/// A spec as `make_player` will take it: `az:NAME…` names a run under `--runs` (resolved to
/// its path there; nothing outside is reachable), `gtp:…` needs `--allow-engines`.
pub fn check_spec(spec: &str, runs: &RunsRoot, allow_engines: bool) -> ApiResult<String> {
    let s = spec.trim();
    if s.is_empty() {
        return Err(ApiError::bad_request(
            "an empty player spec; accepted: random, uct:SIMS, az:RUN[:SIMS][:explore] (RUN: a run under --runs), gtp:\"COMMAND\" (Go, with --allow-engines)",
        ));
    }
    if s.starts_with("gtp:") && !allow_engines {
        return Err(ApiError::forbidden(format!(
            "player `{s}`: external GTP engines can be started from the page only when the server runs with --allow-engines"
        )));
    }
    if let Some(rest) = s.strip_prefix("az:") {
        let (rest, explore) = match rest.strip_suffix(":explore") {
            Some(r) => (r, ":explore"),
            None => (rest, ""),
        };
        let (name, sims) = match rest.rsplit_once(':') {
            Some((d, n)) if !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()) => {
                (d, format!(":{n}"))
            }
            _ => (rest, String::new()),
        };
        let dir = runs
            .resolve(name)
            .map_err(|e| ApiError::new(e.status, format!("player `{s}`: {}", e.message)))?;
        return Ok(format!("az:{}{sims}{explore}", dir.display()));
    }
    Ok(s.to_string())
}

/// Plays a prepared game into an event log, leaving the record file (SGF) in the mutex; the
/// flag stops it before the next move.
pub type PlayFn =
    Box<dyn FnOnce(&EventLog, &std::sync::Mutex<Option<String>>, Arc<AtomicBool>) + Send>;

/// A player that refuses to move once `stop` is set, so that a stop request ends the match
/// through the match loop's own error path (the player's current decision is not interrupted).
struct Stoppable<G: Game> {
    inner: Box<dyn Player<G>>,
    stop: Arc<AtomicBool>,
}

impl<G: Game> Player<G> for Stoppable<G> {
    fn name(&self) -> String {
        self.inner.name()
    }
    fn decide(&mut self, state: &G) -> Result<Decision, PlayerError> {
        if self.stop.load(Ordering::Relaxed) {
            return Err(PlayerError::Failed {
                player: self.inner.name(),
                msg: "stopped by a request".into(),
            });
        }
        self.inner.decide(state)
    }
    fn analysis(&self) -> Option<&Analysis> {
        self.inner.analysis()
    }
    fn seed(&mut self, seed: u64) {
        self.inner.seed(seed)
    }
    fn new_game(&mut self) {
        self.inner.new_game()
    }
}

/// A match checked and ready to play: the players made, the first position, the options.
pub struct Prepared {
    pub info: Value,
    pub run: PlayFn,
}

fn make_players<G: MatchGame>(
    specs: &[String; 2],
    example: &G,
    seed: u64,
) -> ApiResult<[Box<dyn Player<G>>; 2]> {
    let mk = |i: usize| {
        make_player(&specs[i], example, seed)
            .map_err(|e| ApiError::bad_request(format!("player {}: {e}", i + 1)))
    };
    Ok([mk(0)?, mk(1)?])
}

/// A game ready to play from `fresh` between `players`.
fn ready<G: ServeGame>(
    fresh: G,
    players: [Box<dyn Player<G>>; 2],
    seed: u64,
    delay: Duration,
    info: Value,
) -> Prepared {
    Prepared {
        info: info.clone(),
        run: Box::new(
            move |log: &EventLog, record: &std::sync::Mutex<Option<String>>, stop| {
                let ctx = PlayContext {
                    seed,
                    delay,
                    info,
                    log,
                    record,
                    stop,
                };
                play(fresh, players, ctx)
            },
        ),
    }
}

/// A page-started match's `info`: the game's fields, the players as given, the seed and delay.
fn page_info<G: ServeGame>(fresh: &G, players: [String; 2], req: &MatchRequest) -> Value {
    let mut info = fresh.info_json();
    info["players"] = json!(players);
    info["seed"] = json!(req.seed);
    info["delay_ms"] = json!(req.delay_ms);
    info
}

/// Checks the request and makes the players (this may start engines or load networks: call it
/// off the async threads). The returned closure plays the game into the log.
pub fn prepare(req: &MatchRequest, runs: &RunsRoot, allow_engines: bool) -> ApiResult<Prepared> {
    let specs = [
        check_spec(&req.players[0], runs, allow_engines)?,
        check_spec(&req.players[1], runs, allow_engines)?,
    ];
    if req.delay_ms > MAX_DELAY_MS {
        return Err(ApiError::bad_request(format!(
            "delay_ms {} is too long: at most {MAX_DELAY_MS}",
            req.delay_ms
        )));
    }
    let delay = Duration::from_millis(req.delay_ms);
    let seed = req.seed;
    let shown = [
        req.players[0].trim().to_string(),
        req.players[1].trim().to_string(),
    ];
    match req.game.as_str() {
        "go" => {
            let size = req.size.unwrap_or(9);
            if !(MIN_SIZE..=MAX_SIZE).contains(&size) {
                return Err(ApiError::bad_request(format!(
                    "board size {size} is not supported: sizes {MIN_SIZE} to {MAX_SIZE} are"
                )));
            }
            let komi = req.komi.unwrap_or(7.5);
            if !komi.is_finite() || komi.abs() > 1000.0 {
                return Err(ApiError::bad_request(format!(
                    "komi {komi} is not a usable komi"
                )));
            }
            let cap = req.max_moves.unwrap_or(4 * (size * size) as u32);
            let fresh = GoState::new(size, komi)
                .map_err(ApiError::bad_request)?
                .with_max_moves(cap);
            let players = make_players(&specs, &fresh, seed)?;
            let info = page_info(&fresh, shown, req);
            Ok(ready(fresh, players, seed, delay, info))
        }
        "connect_four" | "connect-four" => {
            if req.size.is_some() || req.komi.is_some() || req.max_moves.is_some() {
                return Err(ApiError::bad_request(
                    "Connect Four takes no size, komi or max_moves (it is 6x7)",
                ));
            }
            let fresh = ConnectFour::new();
            let players = make_players(&specs, &fresh, seed)?;
            let info = page_info(&fresh, shown, req);
            Ok(ready(fresh, players, seed, delay, info))
        }
        other => Err(ApiError::bad_request(format!(
            "unknown game `{other}`: accepted games are go and connect_four"
        ))),
    }
}

/// Where and how a game is played: its seed, the pause after each move, the `start` event's
/// fields, the log, where its record goes, and the stop flag.
struct PlayContext<'a> {
    seed: u64,
    delay: Duration,
    info: Value,
    log: &'a EventLog,
    record: &'a std::sync::Mutex<Option<String>>,
    stop: Arc<AtomicBool>,
}

/// Tells a game's [`MatchEvent`]s as the page's events: `start` (the `info` fields, the names,
/// the first board), a `move` per move (board, the move's name, whose turn, the mover's
/// analysis) and `end` (the result; the record file goes to the job's mutex). Page-started
/// matches and those `ember match --serve` plays tell theirs through it, so the page sees the
/// same events from both.
struct Teller<G> {
    fresh: G,
    /// The game so far, replayed to name each move from the position it was played in.
    replay: G,
}

impl<G: ServeGame> Teller<G> {
    fn new(fresh: G) -> Teller<G> {
        Teller {
            replay: fresh.clone(),
            fresh,
        }
    }

    /// Tells `ev` into `log`; a `start` event carries `info`'s fields.
    fn tell(
        &mut self,
        ev: &MatchEvent<'_, G>,
        info: &Value,
        log: &EventLog,
        record: &std::sync::Mutex<Option<String>>,
    ) {
        match ev {
            MatchEvent::GameStart { names, .. } => {
                self.replay = self.fresh.clone();
                let mut data = info.clone();
                data["names"] = json!(names);
                data["board"] = self.fresh.board_json();
                data["to_play"] = json!(self.fresh.current_player());
                log.push("start", data);
            }
            MatchEvent::Move {
                state,
                seat,
                analysis,
                ..
            } => {
                let n = state.history_len();
                let action = n.checked_sub(1).and_then(|i| state.action_at(i));
                log.push(
                    "move",
                    json!({
                        "n": n,
                        "seat": seat,
                        "action": action,
                        "name": action.map(|a| self.replay.action_name(a)),
                        "board": state.board_json(),
                        "to_play": (!state.is_terminal()).then(|| state.current_player()),
                        "analysis": analysis.map(|a| analysis_json(&self.replay, a)),
                    }),
                );
                if let Some(a) = action {
                    let _ = self.replay.apply(a);
                }
            }
            MatchEvent::GameEnd {
                state,
                end,
                names,
                analyses,
                ..
            } => {
                let rec = state.record(end, names, analyses);
                let mut data = state.end_json(end);
                data["moves"] = json!(state.history_len());
                data["has_record"] = json!(rec.is_some());
                if let Ok(mut r) = record.lock() {
                    *r = rec;
                }
                log.push("end", data);
            }
        }
    }
}

/// Plays one game into `log`: `start`, a `move` per move, then `end` (or `failed`).
fn play<G: ServeGame>(fresh: G, players: [Box<dyn Player<G>>; 2], ctx: PlayContext<'_>) {
    let PlayContext {
        seed,
        delay,
        info,
        log,
        record,
        stop,
    } = ctx;
    let [mut a, mut b] = players.map(|inner| Stoppable {
        inner,
        stop: stop.clone(),
    });
    let opts = MatchOptions {
        games: 1,
        alternate: false,
        seed,
        move_time: None,
    };
    let mut teller = Teller::new(fresh.clone());
    let mut on_event = |ev: MatchEvent<'_, G>| {
        teller.tell(&ev, &info, log, record);
        if let MatchEvent::Move { state, .. } = ev
            && !delay.is_zero()
            && !state.is_terminal()
        {
            std::thread::sleep(delay);
        }
    };
    let new_state = fresh.clone();
    if let Err(e) = play_match(
        &mut || new_state.clone(),
        &mut a,
        &mut b,
        &opts,
        &mut on_event,
    ) {
        log.push("failed", json!({ "error": e.to_string() }));
    }
}

/// A match that another part of the process plays (`ember match … --serve`), told into the
/// server's store: each game becomes a match job of its own, whose `info` has the game's fields
/// (as for a page-started match), the players in seat order and `"attached": {"game": K,
/// "games": N}` (K from 1); a game's job points to the next one's (`next` in its brief) once
/// that starts. Feed it every [`MatchEvent`] of the match with [`MatchFeed::event`]; the page
/// then shows each game live exactly as a page-started match. Such jobs cannot be stopped from
/// the page (the terminal that plays them can). Dropping the feed while a game is still being
/// told ends that game with a `failed` event.
pub struct MatchFeed<G> {
    store: Arc<crate::store::Store>,
    teller: Teller<G>,
    /// Every game's `info` but the players and `attached`.
    base: Value,
    specs: [String; 2],
    games: u64,
    current: Option<Arc<crate::store::Job>>,
}

impl<G: ServeGame> MatchFeed<G> {
    /// A feed into `store` for a match of `games` games from `fresh` between the players
    /// `specs` (the first named first), with the extra `info` fields (e.g. the seed).
    pub fn new(
        store: Arc<crate::store::Store>,
        fresh: G,
        specs: [String; 2],
        games: u64,
        info: Value,
    ) -> MatchFeed<G> {
        let mut base = fresh.info_json();
        if let (Some(b), Value::Object(extra)) = (base.as_object_mut(), info) {
            b.extend(extra);
        }
        MatchFeed {
            store,
            teller: Teller::new(fresh),
            base,
            specs,
            games,
            current: None,
        }
    }

    /// The job of the game being told (or the last one told), if any.
    pub fn current(&self) -> Option<u64> {
        self.current.as_ref().map(|j| j.id)
    }

    /// Tells one event of the match.
    pub fn event(&mut self, ev: &MatchEvent<'_, G>) {
        if let MatchEvent::GameStart { game, swapped, .. } = ev {
            self.end_current("the game ended without a result");
            let players = if *swapped {
                [self.specs[1].clone(), self.specs[0].clone()]
            } else {
                self.specs.clone()
            };
            let mut info = self.base.clone();
            info["players"] = json!(players);
            info["attached"] = json!({ "game": game + 1, "games": self.games });
            // The store refuses a job only when every kept one still runs; then this game is
            // not shown (the match itself goes on).
            let job = self.store.insert(info);
            if let (Some(prev), Some(job)) = (&self.current, &job) {
                let _ = prev.next.set(job.id);
            }
            if job.is_some() {
                self.current = job;
            }
        }
        let Some(job) = &self.current else {
            return;
        };
        if job.log.is_done() {
            return;
        }
        self.teller.tell(ev, &job.info, &job.log, &job.record);
        if matches!(ev, MatchEvent::GameEnd { .. }) {
            job.log.finish();
        }
    }

    /// Ends the game being told with a `failed` event saying `why` (the match stopped on an
    /// error).
    pub fn fail(&mut self, why: &str) {
        self.end_current(why);
    }

    fn end_current(&mut self, why: &str) {
        if let Some(job) = &self.current
            && !job.log.is_done()
        {
            job.log.push("failed", json!({ "error": why }));
            job.log.finish();
        }
    }
}

impl<G> Drop for MatchFeed<G> {
    fn drop(&mut self) {
        if let Some(job) = &self.current
            && !job.log.is_done()
        {
            job.log.push(
                "failed",
                json!({ "error": "the match stopped before this game ended" }),
            );
            job.log.finish();
        }
    }
}
