//! Matches between two players of any [`Game`]: colours alternated, results counted for the
//! first player named, Elo with a 95% interval; for Go, SGF with the players' analysis.
//!
//! [`play_match`] is the one match loop (`ember match go`, `ember match connect_four`, and the
//! evaluation ladders of training runs use it). It tells its caller what happens through
//! [`MatchEvent`]s, so a terminal viewer, an SGF writer or a web page can follow a match without
//! the loop knowing about any of them. Seeding: before game `g` the first player is re-seeded
//! with `child_seed(seed, 2 + 2g)` and the second with `child_seed(seed, 3 + 2g)`, and both are
//! told a new game starts (searches drop their trees), so a match is reproducible game by game.

use ember_envs::Game;
use ember_envs::go::sgf::{GameRecord, today};
use ember_envs::go::{Color, GoState, Move};
use ember_envs::player::{Analysis, GameEnd, Player, PlayerError, elo, play_game};
use ember_envs::rng::child_seed;
use serde::Serialize;

/// How a match is played.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MatchOptions {
    pub games: u64,
    /// Swap seats every other game (results stay those of the first player named).
    pub alternate: bool,
    pub seed: u64,
    /// Seconds each player may think per move ([`Player::set_time_budget`] before every
    /// decision; searches stop early, players that cannot hurry ignore it). `None`: no limit,
    /// and budgets are left alone.
    pub move_time: Option<f64>,
}

/// What a match tells its caller as it goes.
#[derive(Debug)]
pub enum MatchEvent<'a, G> {
    /// Game `game` (from 0) starts; `names[seat]` plays seat 0 (moves first) and 1.
    /// `swapped`: the first player named sits in seat 1.
    GameStart {
        game: u64,
        names: &'a [String; 2],
        swapped: bool,
    },
    /// `seat` chose an action; `state` is the position after it.
    Move {
        game: u64,
        state: &'a G,
        seat: usize,
        analysis: Option<&'a Analysis>,
    },
    /// Game `game` ended. `swapped`: the first player named sat in seat 1.
    GameEnd {
        game: u64,
        state: &'a G,
        end: &'a GameEnd,
        names: &'a [String; 2],
        swapped: bool,
        /// The analysis behind each move, in order (`None` for players that do not search).
        analyses: &'a [Option<Analysis>],
    },
}

/// A match's result, counted for the first player named.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MatchReport {
    /// The two players' names as they play (`Player::name`: a spec with its options resolved,
    /// e.g. the score utility an `az:` player took from its run), the first named first.
    pub names: [String; 2],
    pub games: u64,
    pub wins: u64,
    pub losses: u64,
    pub draws: u64,
    /// `(wins + draws / 2) / games`.
    pub score: f64,
    /// Wins by the player who moved first, and by the one who moved second.
    pub seat_wins: [u64; 2],
    /// The first-named player's wins when it moved first, and when it moved second (with
    /// `--alternate`, where its losses are: Black's or White's games, the first or second
    /// mover's).
    pub wins_by_seat: [u64; 2],
    /// The games the first-named player moved first in, and second.
    pub games_by_seat: [u64; 2],
    pub elo: f64,
    pub elo_low: f64,
    pub elo_high: f64,
    /// How long each player thought, the first named first. Wall-clock time, so it is the one
    /// part of a report that differs between two runs of the same match.
    pub clock: [PlayerClock; 2],
}

/// What one player spent on its decisions over a match.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct PlayerClock {
    /// Decisions made.
    pub decisions: u64,
    /// Wall-clock seconds inside those decisions, in all.
    pub seconds: f64,
    /// Root visits behind the decisions that came with an analysis (tree reuse included), in
    /// all, and how many decisions came with one (0 for players that do not search).
    pub visits: u64,
    pub analysed: u64,
}

impl PlayerClock {
    /// Mean seconds per decision.
    pub fn seconds_per_move(&self) -> f64 {
        self.seconds / self.decisions.max(1) as f64
    }

    /// Mean root visits per analysed decision; `None` when no decision came with an analysis.
    pub fn visits_per_move(&self) -> Option<f64> {
        (self.analysed > 0).then(|| self.visits as f64 / self.analysed as f64)
    }
}

/// A player with a clock: sets the match's per-move budget before each decision and counts the
/// time the decision took.
struct Clocked<'p, G: Game> {
    inner: &'p mut dyn Player<G>,
    move_time: Option<f64>,
    clock: PlayerClock,
}

impl<G: Game> Player<G> for Clocked<'_, G> {
    fn name(&self) -> String {
        self.inner.name()
    }
    fn decide(&mut self, state: &G) -> Result<ember_envs::player::Decision, PlayerError> {
        if self.move_time.is_some() {
            self.inner.set_time_budget(self.move_time);
        }
        let t = std::time::Instant::now();
        let d = self.inner.decide(state);
        self.clock.seconds += t.elapsed().as_secs_f64();
        self.clock.decisions += 1;
        if let Some(a) = self.inner.analysis() {
            self.clock.visits += u64::from(a.visits);
            self.clock.analysed += 1;
        }
        d
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
    fn set_time_budget(&mut self, seconds: Option<f64>) {
        self.inner.set_time_budget(seconds)
    }
    fn analyze_step(&mut self, state: &G, seconds: f64) -> Option<Analysis> {
        self.inner.analyze_step(state, seconds)
    }
}

/// Plays `opts.games` games between `a` and `b` from positions `new_state` makes.
pub fn play_match<G: Game>(
    new_state: &mut dyn FnMut() -> G,
    a: &mut dyn Player<G>,
    b: &mut dyn Player<G>,
    opts: &MatchOptions,
    on_event: &mut dyn FnMut(MatchEvent<'_, G>),
) -> Result<MatchReport, PlayerError> {
    let (mut wins, mut losses, mut draws) = (0u64, 0u64, 0u64);
    let mut seat_wins = [0u64; 2];
    let mut wins_by_seat = [0u64; 2];
    let mut games_by_seat = [0u64; 2];
    let mut analyses: Vec<Option<Analysis>> = Vec::new();
    let mut a = Clocked {
        inner: a,
        move_time: opts.move_time,
        clock: PlayerClock::default(),
    };
    let mut b = Clocked {
        inner: b,
        move_time: opts.move_time,
        clock: PlayerClock::default(),
    };
    for g in 0..opts.games {
        a.seed(child_seed(opts.seed, 2 + 2 * g));
        b.seed(child_seed(opts.seed, 3 + 2 * g));
        a.new_game();
        b.new_game();
        let swapped = opts.alternate && g % 2 == 1;
        let names = if swapped {
            [b.name(), a.name()]
        } else {
            [a.name(), b.name()]
        };
        on_event(MatchEvent::GameStart {
            game: g,
            names: &names,
            swapped,
        });
        let mut state = new_state();
        analyses.clear();
        let players: [&mut dyn Player<G>; 2] = if swapped {
            [&mut b, &mut a]
        } else {
            [&mut a, &mut b]
        };
        let end = play_game(&mut state, players, &mut |s, seat, p| {
            let an = p.analysis();
            analyses.push(an.cloned());
            on_event(MatchEvent::Move {
                game: g,
                state: s,
                seat,
                analysis: an,
            });
        })?;
        let a_seat = swapped as usize;
        games_by_seat[a_seat] += 1;
        match end.winner() {
            Some(w) => {
                seat_wins[w] += 1;
                if w == a_seat {
                    wins += 1;
                    wins_by_seat[a_seat] += 1;
                } else {
                    losses += 1;
                }
            }
            None => draws += 1,
        }
        on_event(MatchEvent::GameEnd {
            game: g,
            state: &state,
            end: &end,
            names: &names,
            swapped,
            analyses: &analyses,
        });
    }
    let n = opts.games.max(1) as f64;
    let (e, lo, hi) = elo(wins, losses, draws);
    Ok(MatchReport {
        names: [a.name(), b.name()],
        games: opts.games,
        wins,
        losses,
        draws,
        score: (wins as f64 + 0.5 * draws as f64) / n,
        seat_wins,
        wins_by_seat,
        games_by_seat,
        elo: e,
        elo_low: lo,
        elo_high: hi,
        clock: [a.clock, b.clock],
    })
}

/// One line about an analysis: the value for the player to move and the top candidates with
/// visits, value and prior (`D4 612 v+0.41 p0.08`), named by `state`'s action names.
pub fn describe_analysis<G: Game>(state: &G, a: &Analysis, top: usize) -> String {
    let mut s = format!(
        "value {:+.2} for the player to move ({:.0}% to win), {} visits",
        a.value,
        50.0 * (a.value + 1.0),
        a.visits
    );
    for c in a.candidates.iter().take(top) {
        s.push_str(&format!(
            "; {} {} v{:+.2} p{:.2}",
            state.action_name(c.action),
            c.visits,
            c.value,
            c.prior
        ));
        if c.pv.len() > 1 {
            let pv: Vec<String> = c.pv.iter().take(6).map(|&m| state.action_name(m)).collect();
            s.push_str(&format!(" [{}]", pv.join(" ")));
        }
    }
    s
}

/// An analysis' expected ownership as text, one row per board row, from the first player's view:
/// `X`/`x` the first player's (sure / likely), `O`/`o` the second's, `.` undecided.
pub fn ownership_map(own: &[f32], player: usize, h: usize, w: usize) -> String {
    let mut s = String::from("expected ownership (X first player, O second):\n");
    for row in own.chunks(w).take(h) {
        let line: Vec<&str> = row
            .iter()
            .map(|&v| {
                let v = if player == 0 { v } else { -v };
                match v {
                    v if v > 0.6 => "X",
                    v if v > 0.2 => "x",
                    v if v < -0.6 => "O",
                    v if v < -0.2 => "o",
                    _ => ".",
                }
            })
            .collect();
        s.push_str(&line.join(" "));
        s.push('\n');
    }
    s
}

/// A finished Go game as an SGF record: players, date, result (a resignation included), and per
/// move the player's analysis as a comment with Black's win rate in Sabaki's `SBKV`.
pub fn go_record(
    state: &GoState,
    end: &GameEnd,
    names: &[String; 2],
    analyses: &[Option<Analysis>],
) -> GameRecord {
    let mut st = state.clone();
    if let Some(seat) = end.resigned {
        let c = if seat == 0 {
            Color::Black
        } else {
            Color::White
        };
        let _ = st.play(c, Move::Resign);
    }
    let mut rec = GameRecord::from_state(&st);
    rec.black = Some(names[0].clone());
    rec.white = Some(names[1].clone());
    rec.date = Some(today());
    rec.result = Some(st.result_string());
    // Replay to name each move from the position it was played in.
    let mut replay = GoState::new(state.size(), state.komi())
        .expect("a valid size")
        .with_superko(state.superko());
    for &(c, p) in state.setup() {
        let _ = replay.add_setup(c, p);
    }
    for (i, m) in rec.moves.iter_mut().enumerate() {
        if let Some(Some(a)) = analyses.get(i) {
            let black_value = if a.player == 0 { a.value } else { -a.value };
            m.win_rate = Some(50.0 * (black_value + 1.0));
            m.comment = Some(describe_analysis(&replay, a, 5));
        }
        if let Some(action) = state.action_at(i) {
            let _ = replay.apply(action);
        }
    }
    rec
}

/// What [`bench_search`] measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SearchBench {
    pub game: String,
    pub selection: String,
    pub evaluator: String,
    pub moves: u64,
    pub simulations: u64,
    pub seconds: f64,
    pub simulations_per_sec: f64,
    /// Tree nodes at the last move (arena size, reuse included).
    pub last_tree_nodes: usize,
}

/// Times a UCT search with random playouts over the first `moves` moves of a game it plays
/// against itself from `start` (tree reuse on): simulations per second, on one thread or, with
/// `threads > 1`, batches of leaves under virtual loss whose playouts run on `threads` threads.
pub fn bench_search<G: Game>(
    start: &G,
    sims: u32,
    moves: u64,
    threads: usize,
    seed: u64,
) -> SearchBench {
    use ember_agents::mcts::{Evaluator, RolloutEvaluator, Search, SearchConfig, Selection};
    let cfg = SearchConfig::new(sims.max(1), Selection::uct());
    let mut search: Search<G> = Search::new(cfg, seed);
    let mut ev = RolloutEvaluator::with_threads(1, seed ^ 1, threads);
    let batch = if threads > 1 {
        crate::players::LEAVES_PER_THREAD * threads
    } else {
        1
    };
    let mut priors = Vec::new();
    let mut state = start.clone();
    let t0 = std::time::Instant::now();
    let mut played = 0;
    while played < moves && !state.is_terminal() {
        search.set_root(&state);
        search.run_batched(&mut ev, &mut priors, batch, None);
        let a = search.best_action(0.0);
        state.apply(a).expect("the search plays legal actions");
        played += 1;
    }
    let seconds = t0.elapsed().as_secs_f64();
    let simulations = played * sims.max(1) as u64;
    SearchBench {
        game: start.name(),
        selection: "uct".into(),
        evaluator: Evaluator::<G>::name(&ev),
        moves: played,
        simulations,
        seconds,
        simulations_per_sec: simulations as f64 / seconds.max(1e-12),
        last_tree_nodes: search.tree().len(),
    }
}

/// What [`bench_net_search`] measured: the same network evaluating leaves of one search at a
/// time, and of `games` searches in lockstep.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NetSearchBench {
    pub game: String,
    pub parameters: usize,
    pub simulations: u32,
    /// One search, one leaf per network call, on a one-thread pool (as `az:` players search).
    pub single_evals_per_sec: f64,
    /// Evaluations per search one at a time (the simulations, plus the root's, less those that
    /// ended in finished games).
    pub single_evals_per_search: f64,
    /// `games` searches in lockstep, on a pool of `threads` threads.
    pub games: usize,
    pub threads: usize,
    pub batched_evals_per_sec: f64,
    pub batched_mean_batch: f64,
    /// Fraction of the batched search's time spent outside the network's forward passes.
    pub batched_outside_net: f64,
}

/// Times Gumbel searches of `sims` simulations guided by a freshly initialised policy-value net
/// (`width` channels, `depth` residual blocks) from `start`: one at a time on one thread, then
/// `games` at once on `threads` threads. Each part runs inside a rayon pool of its own, so the
/// kernels' parallel loops never hand work from an outside thread to the global pool.
pub fn bench_net_search<G: Game>(
    start: &G,
    width: usize,
    depth: usize,
    sims: u32,
    games: usize,
    threads: usize,
    seconds: f64,
) -> crate::Result<NetSearchBench> {
    use ember_agents::mcts::{
        BatchScratch, Evaluator, NetEvaluator, Search, SearchConfig, Selection, search_batch,
    };
    let dev = ember_nets::DeviceChoice::Cpu.device()?;
    let trunk = ember_nets::ConvTrunkConfig::new(start.observation_shape(), width, depth)
        .with_block(ember_nets::BlockKind::Residual);
    let cfg = ember_agents::alphazero::net_config(start, trunk, 64);
    dev.seed(0); // the same network, so the same searches, in every run
    let net = cfg.init(&dev)?;
    let parameters = ember_nets::train::num_params(&net);
    let scfg = SearchConfig::new(sims, Selection::gumbel(16, 1.0));
    struct Timed {
        inner: NetEvaluator,
        net_seconds: f64,
    }
    impl<G: Game> Evaluator<G> for Timed {
        fn evaluate(&mut self, states: &[&G], priors: &mut [f32], values: &mut [f32]) {
            let t = std::time::Instant::now();
            self.inner.evaluate(states, priors, values);
            self.net_seconds += t.elapsed().as_secs_f64();
        }
        fn name(&self) -> String {
            "net".into()
        }
    }
    let mut ev = Timed {
        inner: NetEvaluator::new(net, &cfg, dev),
        net_seconds: 0.0,
    };
    let pool = |n: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n.max(1))
            .build()
            .map_err(|e| crate::RunError::Invalid(format!("could not start {n} thread(s): {e}")))
    };
    // One search at a time.
    let mut one: Search<G> = Search::new(scfg, 0);
    let mut priors = Vec::new();
    let before = ev.inner.positions;
    let t0 = std::time::Instant::now();
    let (st, e, p) = (start.clone(), &mut ev, &mut priors);
    let mut searches = 0u64;
    let n = &mut searches;
    pool(1)?.install(move || {
        while t0.elapsed().as_secs_f64() < seconds / 2.0 {
            *n += 1;
            // A fresh tree each time: a Gumbel search keeps its tree for the same position, so
            // searching `start` again would grow one tree whose deepening walks end more and more
            // often in finished games that need no evaluation.
            one.clear();
            one.set_root(&st);
            one.run(e, p);
        }
    });
    let single = (ev.inner.positions - before) as f64 / t0.elapsed().as_secs_f64();
    let per_search = (ev.inner.positions - before) as f64 / searches.max(1) as f64;
    // `games` at once.
    let mut many: Vec<Search<G>> = (0..games.max(1))
        .map(|i| Search::new(scfg, i as u64))
        .collect();
    let mut scratch = BatchScratch::default();
    let (p0, c0) = (ev.inner.positions, ev.inner.calls);
    ev.net_seconds = 0.0;
    let t1 = std::time::Instant::now();
    let (st, e) = (start.clone(), &mut ev);
    pool(threads)?.install(move || {
        while t1.elapsed().as_secs_f64() < seconds / 2.0 {
            for s in many.iter_mut() {
                s.clear();
                s.set_root(&st);
            }
            search_batch(&mut many, e, &mut scratch);
        }
    });
    let elapsed = t1.elapsed().as_secs_f64();
    let positions = ev.inner.positions - p0;
    Ok(NetSearchBench {
        game: start.name(),
        parameters,
        simulations: sims,
        single_evals_per_sec: single,
        single_evals_per_search: per_search,
        games: games.max(1),
        threads: threads.max(1),
        batched_evals_per_sec: positions as f64 / elapsed,
        batched_mean_batch: positions as f64 / (ev.inner.calls - c0).max(1) as f64,
        batched_outside_net: 1.0 - ev.net_seconds / elapsed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::players::make_player;
    use ember_envs::games::ConnectFour;

    #[test]
    fn connect_four_matches_alternate_and_count_for_the_first_player() {
        let c4 = ConnectFour::new();
        let mut a = make_player("uct:100", &c4, 0).unwrap();
        let mut b = make_player("random", &c4, 0).unwrap();
        let opts = MatchOptions {
            games: 4,
            alternate: true,
            seed: 1,
            move_time: None,
        };
        let mut seats = Vec::new();
        let r = play_match(
            &mut ConnectFour::new,
            a.as_mut(),
            b.as_mut(),
            &opts,
            &mut |e| {
                if let MatchEvent::GameEnd { names, .. } = e {
                    seats.push(names[0].clone());
                }
            },
        )
        .unwrap();
        assert_eq!(seats, ["uct:100", "random", "uct:100", "random"]);
        assert_eq!(r.wins + r.losses + r.draws, 4);
        assert_eq!(r.seat_wins[0] + r.seat_wins[1] + r.draws, 4);
        assert!(r.wins >= 3, "{r:?}");
        // Same seed, same games.
        let again = play_match(
            &mut ConnectFour::new,
            a.as_mut(),
            b.as_mut(),
            &opts,
            &mut |_| {},
        )
        .unwrap();
        // Same seed, same games; only the clock (wall time) differs.
        assert_eq!(
            r,
            MatchReport {
                clock: r.clock,
                ..again.clone()
            }
        );
        let uct = &r.clock[0];
        assert!(
            uct.decisions >= 16 && uct.analysed == uct.decisions,
            "{uct:?}"
        );
        assert!(uct.visits_per_move().unwrap() >= 100.0, "{uct:?}");
        assert_eq!(r.clock[1].analysed, 0);
        assert!(r.clock[1].visits_per_move().is_none());
    }

    #[test]
    fn a_move_time_stops_every_search_at_its_budget() {
        // A million simulations a move would take minutes; 20 ms a move stops them early.
        let c4 = ConnectFour::new();
        let mut a = make_player("uct:1000000", &c4, 0).unwrap();
        let mut b = make_player("uct:1000000", &c4, 1).unwrap();
        let r = play_match(
            &mut ConnectFour::new,
            a.as_mut(),
            b.as_mut(),
            &MatchOptions {
                games: 1,
                alternate: false,
                seed: 3,
                move_time: Some(0.02),
            },
            &mut |_| {},
        )
        .unwrap();
        for c in &r.clock {
            assert!(c.decisions > 0 && c.analysed == c.decisions, "{c:?}");
            assert!(c.seconds_per_move() < 0.5, "{c:?}");
            assert!(c.visits_per_move().unwrap() < 500_000.0, "{c:?}");
        }
    }

    #[test]
    fn go_records_carry_the_analysis_and_read_back() {
        let go = GoState::new(5, 0.5).unwrap().with_max_moves(60);
        let mut a = make_player("uct:50", &go, 0).unwrap();
        let mut b = make_player("random", &go, 0).unwrap();
        let mut sgf = String::new();
        play_match(
            &mut || go.clone(),
            a.as_mut(),
            b.as_mut(),
            &MatchOptions {
                games: 1,
                alternate: false,
                seed: 0,
                move_time: None,
            },
            &mut |e| {
                if let MatchEvent::GameEnd {
                    state,
                    end,
                    names,
                    analyses,
                    ..
                } = e
                {
                    sgf = go_record(state, end, names, analyses).to_sgf();
                }
            },
        )
        .unwrap();
        assert!(sgf.contains("SBKV[") && sgf.contains("visits"), "{sgf}");
        let rec = GameRecord::parse(sgf.as_bytes()).unwrap();
        assert!(rec.moves[0].win_rate.is_some() && rec.moves[0].comment.is_some());
        assert!(rec.moves[1].win_rate.is_none());
        rec.to_state().unwrap();
    }
}
