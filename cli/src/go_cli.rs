//! The two-player verbs: `ember gtp`, `ember match go`, `ember match connect_four`, `ember bench go`.
//!
//! Thin layers over `ember_run::matches` and `ember_run::players` (player specs, the one match
//! loop, SGF with analysis) and `ember_envs::go` (the GTP engine, playouts): argument parsing,
//! terminal drawing, files and the one-line JSON summaries `docs/cli.md` lists.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use ember_envs::Game;
use ember_envs::games::ConnectFour;
use ember_envs::go::board::{MAX_SIZE, MIN_SIZE};
use ember_envs::go::gtp::GtpEngine;
use ember_envs::go::playout;
use ember_envs::go::state::GoState;
use ember_envs::player::Player;
use ember_envs::rng::child_seed;
use ember_run::matches::{
    MatchEvent, MatchOptions, MatchReport, describe_analysis, go_record, play_match,
};
use ember_run::players::make_player;
use ember_serve::matches::ServeGame;
use serde_json::json;

fn check_size(n: usize) -> Result<usize> {
    if !(MIN_SIZE..=MAX_SIZE).contains(&n) {
        bail!("board size {n} is not supported: sizes {MIN_SIZE} to {MAX_SIZE} are");
    }
    Ok(n)
}

#[derive(Args, Debug)]
pub struct GtpArgs {
    /// Initial board size (controllers usually send `boardsize` anyway).
    #[arg(long, default_value_t = 19)]
    pub size: usize,
    /// Who answers `genmove`: random, uct:SIMS, or gtp:"COMMAND LINE" (relaying to another
    /// engine).
    #[arg(long, default_value = "random")]
    pub player: String,
    /// Seed of the player's randomness.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Allow `loadsgf FILE` and `printsgf FILE` inside DIR only (no `..`, no symlink out of it,
    /// regular files only). Without it they are refused (`printsgf` with no file still works).
    #[arg(long, value_name = "DIR")]
    pub sgf_dir: Option<PathBuf>,
}

/// `ember gtp`: a GTP v2 engine on stdin/stdout.
pub fn gtp(a: &GtpArgs) -> Result<()> {
    let size = check_size(a.size)?;
    // The player is made for the starting size (an AlphaZero network for another size is
    // refused here; a later `boardsize` it cannot play gets an error answer to `genmove`).
    let example = GoState::new(size, 7.5).map_err(anyhow::Error::msg)?;
    let player = make_player(&a.player, &example, a.seed).context("--player")?;
    let mut engine = GtpEngine::new(size, player).map_err(anyhow::Error::msg)?;
    if let Some(dir) = &a.sgf_dir {
        engine = engine
            .with_sgf_dir(dir)
            .map_err(anyhow::Error::msg)
            .context("--sgf-dir")?;
    }
    let stdout = std::io::stdout();
    engine
        .run(std::io::BufReader::new(std::io::stdin()), stdout.lock())
        .context("GTP input/output")?;
    Ok(())
}

#[derive(Subcommand, Debug)]
pub enum MatchCmd {
    /// Play Go games between two players and report the result with an Elo estimate.
    Go(MatchGoArgs),
    /// Play Connect Four games between two players and report the result with an Elo estimate.
    #[command(name = "connect_four", alias = "connect-four")]
    ConnectFour(MatchC4Args),
}

/// The longest `--move-time`, in seconds (an hour).
const MAX_MOVE_TIME: f64 = 3600.0;

/// What every match verb shares.
#[derive(Args, Debug)]
pub struct MatchCommon {
    #[arg(long, default_value_t = 1)]
    pub games: u64,
    /// Swap seats every other game (results stay those of the first player named).
    #[arg(long)]
    pub alternate: bool,
    /// Draw the board in the terminal after every move, with the searching player's analysis.
    #[arg(long)]
    pub watch: bool,
    /// Pause between moves when watching, in milliseconds.
    #[arg(long, default_value_t = 150)]
    pub delay_ms: u64,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Seconds each player may think per move: searches stop at it (after at least 8
    /// simulations), with their simulations as a cap; random and GTP engines ignore it.
    #[arg(long, value_name = "SECONDS")]
    pub move_time: Option<f64>,
    /// Print one JSON object as the last line of stdout.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub serve: crate::serve_cli::MatchServeArgs,
}

#[derive(Args, Debug)]
pub struct MatchGoArgs {
    /// Black's player: random, uct:SIMS, gtp:"COMMAND LINE".
    #[arg(long)]
    pub black: String,
    /// White's player. Games end after two passes and are scored by area with every stone on the
    /// board counted, so give GNU Go `--capture-all-dead` (it otherwise passes with dead stones
    /// still on the board).
    #[arg(long)]
    pub white: String,
    #[arg(long, default_value_t = 9)]
    pub size: usize,
    #[arg(long, default_value_t = 7.5, allow_hyphen_values = true)]
    pub komi: f32,
    /// Moves after which a game is stopped and scored by area (0: no limit; default 4·N·N).
    #[arg(long)]
    pub max_moves: Option<u32>,
    /// Write each game as DIR/game-NNNN.sgf (search players' analysis in the move comments, and
    /// Black's win rate as Sabaki's SBKV).
    #[arg(long)]
    pub sgf_dir: Option<PathBuf>,
    #[command(flatten)]
    pub common: MatchCommon,
}

#[derive(Args, Debug)]
pub struct MatchC4Args {
    /// The first player named (results are counted for it): random, uct:SIMS.
    #[arg(long)]
    pub player1: String,
    /// The second player.
    #[arg(long)]
    pub player2: String,
    #[command(flatten)]
    pub common: MatchCommon,
}

/// Plays the match and draws it (and, with `--serve`, tells it to the page); returns the report
/// and the server, which the caller keeps up after printing the result
/// ([`crate::serve_cli::linger`]).
fn run_match<G: ServeGame>(
    new_state: &mut dyn FnMut() -> G,
    specs: [&str; 2],
    flags: [&'static str; 2],
    c: &MatchCommon,
    on_end: &mut dyn FnMut(MatchEvent<'_, G>) -> Result<()>,
) -> Result<(MatchReport, Option<ember_serve::Attached>)> {
    if c.games == 0 {
        bail!("--games must be at least 1");
    }
    if let Some(t) = c.move_time
        && !(t.is_finite() && t > 0.0 && t <= MAX_MOVE_TIME)
    {
        bail!(
            "--move-time is out of range: a number of seconds above 0 and at most {MAX_MOVE_TIME}"
        );
    }
    let example = new_state();
    let mut pa = make_player(specs[0], &example, child_seed(c.seed, 0)).context(flags[0])?;
    let mut pb = make_player(specs[1], &example, child_seed(c.seed, 1)).context(flags[1])?;
    let served = crate::serve_cli::attach(&c.serve)?;
    let mut feed = served.as_ref().map(|s| {
        s.feed(
            example.clone(),
            [specs[0].to_string(), specs[1].to_string()],
            c.games,
            json!({ "seed": c.seed, "alternate": c.alternate, "delay_ms": c.delay_ms }),
        )
    });
    let serving = served.is_some();
    let tty = std::io::stderr().is_terminal();
    let delay = Duration::from_millis(c.delay_ms);
    let mut failure = None;
    let mut current: [String; 2] = Default::default();
    let report = play_match(
        new_state,
        pa.as_mut() as &mut dyn Player<G>,
        pb.as_mut(),
        &MatchOptions {
            games: c.games,
            alternate: c.alternate,
            seed: c.seed,
            move_time: c.move_time,
        },
        &mut |e| {
            if let Some(f) = feed.as_mut() {
                f.event(&e);
            }
            match e {
                MatchEvent::GameStart { names, .. } => current = names.clone(),
                MatchEvent::Move {
                    game,
                    state,
                    seat,
                    analysis,
                } => {
                    if c.watch {
                        let mut err = std::io::stderr().lock();
                        if tty {
                            let _ = write!(err, "\x1b[H\x1b[2J");
                        }
                        let _ = writeln!(
                            err,
                            "game {}/{}  first: {}  second: {}\n{}",
                            game + 1,
                            c.games,
                            current[0],
                            current[1],
                            state.render()
                        );
                        if let (Some(a), Some(last)) =
                            (analysis, state.history_len().checked_sub(1))
                        {
                            // The analysis is of the position before the move.
                            let mut before = state.clone();
                            if before.undo().is_ok() {
                                let _ = writeln!(
                                    err,
                                    "{} ({}) played {}: {}",
                                    current[seat],
                                    seat + 1,
                                    before.action_name(state.action_at(last).unwrap_or(usize::MAX)),
                                    describe_analysis(&before, a, 3)
                                );
                                if let Some(own) = &a.ownership {
                                    let [_, h, w] = before.observation_shape();
                                    let _ = write!(
                                        err,
                                        "{}",
                                        ember_run::matches::ownership_map(own, a.player, h, w)
                                    );
                                }
                            }
                        }
                    }
                    if c.watch || serving {
                        std::thread::sleep(delay);
                    }
                }
                MatchEvent::GameEnd { .. } => {
                    if failure.is_none()
                        && let Err(err) = on_end(e)
                    {
                        failure = Some(err);
                    }
                }
            }
        },
    );
    let report = match report {
        Ok(r) => r,
        Err(e) => {
            if let Some(f) = feed.as_mut() {
                f.fail(&e.to_string());
            }
            return Err(e.into());
        }
    };
    if let Some(e) = failure {
        return Err(e);
    }
    eprintln!(
        "{} vs {}: {} wins, {} losses, {} draws (score {:.3}); Elo difference {:+.0} [{:+.0}, {:+.0}] (95%)",
        specs[0],
        specs[1],
        report.wins,
        report.losses,
        report.draws,
        report.score,
        report.elo,
        report.elo_low,
        report.elo_high
    );
    for (spec, clock) in specs.iter().zip(&report.clock) {
        let visits = match clock.visits_per_move() {
            Some(v) => format!(", {v:.0} root visits"),
            None => String::new(),
        };
        eprintln!(
            "{spec}: {:.3} s a move over {} moves{visits}",
            clock.seconds_per_move(),
            clock.decisions
        );
    }
    if c.alternate && report.games > 1 {
        // Where the first player's wins came from: the first move is Black's in Go.
        let ([w1, w2], [g1, g2]) = (report.wins_by_seat, report.games_by_seat);
        eprintln!(
            "{}: {w1} of {g1} games won moving first, {w2} of {g2} moving second",
            specs[0]
        );
    }
    Ok((report, served))
}

/// Creates `--sgf-dir` and checks that files can be written in it, so that a directory that
/// cannot hold the records fails before the first game rather than after it.
fn writable_dir(d: &std::path::Path) -> Result<()> {
    std::fs::create_dir_all(d).with_context(|| format!("--sgf-dir: creating {}", d.display()))?;
    let probe = d.join(format!(".ember-write-check-{}", std::process::id()));
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .with_context(|| format!("--sgf-dir: {} is not writable", d.display()))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// Reports a finished Go game and writes its SGF (with the players' analysis) into `sgf_dir`.
fn go_game_end(e: MatchEvent<'_, GoState>, sgf_dir: Option<&std::path::Path>) -> Result<()> {
    let MatchEvent::GameEnd {
        game,
        state,
        end,
        names,
        analyses,
        ..
    } = e
    else {
        return Ok(());
    };
    let rec = go_record(state, end, names, analyses);
    let capped = if state.hit_move_limit() && state.passes() < 2 && end.resigned.is_none() {
        " (move limit)"
    } else {
        ""
    };
    eprintln!(
        "game {}: {}{capped} in {} moves (black {}, white {})",
        game + 1,
        rec.result.as_deref().unwrap_or("?"),
        state.move_count(),
        names[0],
        names[1]
    );
    if let Some(d) = sgf_dir {
        let path = d.join(format!("game-{:04}.sgf", game + 1));
        std::fs::write(&path, rec.to_sgf())
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// Reports a finished Connect Four game.
fn c4_game_end(e: MatchEvent<'_, ConnectFour>) -> Result<()> {
    if let MatchEvent::GameEnd {
        game,
        state,
        end,
        names,
        ..
    } = e
    {
        let result = match (end.winner(), end.resigned) {
            (Some(w), Some(_)) => format!("{} wins by resignation", names[w]),
            (Some(w), None) => format!("{} wins", names[w]),
            (None, _) => "draw".into(),
        };
        eprintln!(
            "game {}: {result} in {} moves (first {}, second {})",
            game + 1,
            state.history_len(),
            names[0],
            names[1]
        );
    }
    Ok(())
}

#[derive(Args, Debug)]
pub struct SelfplayArgs {
    /// An AlphaZero run directory.
    pub run: PathBuf,
    /// Simulations per move (default: the run's eval_simulations).
    #[arg(long)]
    pub sims: Option<u32>,
    /// Write Go games as DIR/game-NNNN.sgf with the analysis of every move.
    #[arg(long)]
    pub sgf_dir: Option<PathBuf>,
    /// Search with the training's exploration noise (Gumbel or Dirichlet), so games differ;
    /// without it the network plays its best move and games can repeat.
    #[arg(long)]
    pub explore: bool,
    #[command(flatten)]
    pub common: MatchCommon,
}

/// `ember selfplay RUN_DIR`: the run's newest network against itself.
pub fn selfplay(a: &SelfplayArgs) -> Result<()> {
    let game = ember_run::alphazero::game_of(&a.run)?;
    let mut spec = match a.sims {
        Some(n) => format!("az:{}:{n}", a.run.display()),
        None => format!("az:{}", a.run.display()),
    };
    if a.explore {
        spec.push_str(":explore");
    }
    let (report, served) = match game.name.as_str() {
        "go" => {
            if let Some(d) = &a.sgf_dir {
                writable_dir(d)?;
            }
            let fresh = game.go()?;
            run_match(
                &mut || fresh.clone(),
                [&spec, &spec],
                ["the run", "the run"],
                &a.common,
                &mut |e| go_game_end(e, a.sgf_dir.as_deref()),
            )?
        }
        _ => {
            if a.sgf_dir.is_some() {
                bail!(
                    "--sgf-dir: SGF records Go games; this run plays {}",
                    game.name
                );
            }
            run_match(
                &mut ConnectFour::new,
                [&spec, &spec],
                ["the run", "the run"],
                &a.common,
                &mut c4_game_end,
            )?
        }
    };
    if a.common.json {
        println!(
            "{}",
            json!({
                "run": a.run.display().to_string(),
                "game": game.name,
                "games": report.games,
                "first_wins": report.seat_wins[0],
                "second_wins": report.seat_wins[1],
                "draws": report.draws,
            })
        );
    }
    crate::serve_cli::linger(served, &a.common.serve)
}

/// `ember match go`.
pub fn match_go(a: &MatchGoArgs) -> Result<()> {
    let size = check_size(a.size)?;
    if !a.komi.is_finite() || a.komi.abs() > 1000.0 {
        bail!("--komi is out of range: komi is a number of points from -1000 to 1000");
    }
    if let Some(d) = &a.sgf_dir {
        writable_dir(d)?;
    }
    let cap = a.max_moves.unwrap_or((4 * size * size) as u32);
    let fresh = GoState::new(size, a.komi)
        .map_err(anyhow::Error::msg)?
        .with_max_moves(cap);
    let (report, served) = run_match(
        &mut || fresh.clone(),
        [&a.black, &a.white],
        ["--black", "--white"],
        &a.common,
        &mut |e| go_game_end(e, a.sgf_dir.as_deref()),
    )?;
    if a.common.json {
        let head = json!({"black": a.black, "white": a.white, "size": size, "komi": a.komi});
        println!(
            "{}",
            match_json(
                head,
                &a.common,
                &report,
                ["black_wins", "white_wins"],
                ["wins_as_black", "wins_as_white"]
            )
        );
    }
    crate::serve_cli::linger(served, &a.common.serve)
}

/// A match's `--json` object: `head` (the players and the game) and the result, with the wins by
/// seat under `seat_keys` and the first-named player's wins by its seat under `own_keys`.
fn match_json(
    mut head: serde_json::Value,
    c: &MatchCommon,
    r: &MatchReport,
    seat_keys: [&str; 2],
    own_keys: [&str; 2],
) -> serde_json::Value {
    let fields = [
        ("names", json!(r.names)),
        ("games", json!(c.games)),
        ("alternate", json!(c.alternate)),
        ("wins", json!(r.wins)),
        ("losses", json!(r.losses)),
        ("draws", json!(r.draws)),
        ("score", json!(r.score)),
        (seat_keys[0], json!(r.seat_wins[0])),
        (seat_keys[1], json!(r.seat_wins[1])),
        (own_keys[0], json!(r.wins_by_seat[0])),
        (own_keys[1], json!(r.wins_by_seat[1])),
        ("elo", json!(r.elo)),
        ("elo_low", json!(r.elo_low)),
        ("elo_high", json!(r.elo_high)),
        ("move_time", json!(c.move_time)),
        (
            "seconds_per_move",
            json!(r.clock.map(|k| k.seconds_per_move())),
        ),
        (
            "visits_per_move",
            json!(r.clock.map(|k| k.visits_per_move())),
        ),
    ];
    for (k, v) in fields {
        head[k] = v;
    }
    head
}

/// `ember match connect_four`.
pub fn match_connect_four(a: &MatchC4Args) -> Result<()> {
    let (report, served) = run_match(
        &mut ConnectFour::new,
        [&a.player1, &a.player2],
        ["--player1", "--player2"],
        &a.common,
        &mut c4_game_end,
    )?;
    if a.common.json {
        let head = json!({"player1": a.player1, "player2": a.player2});
        println!(
            "{}",
            match_json(
                head,
                &a.common,
                &report,
                ["first_wins", "second_wins"],
                ["wins_as_first", "wins_as_second"]
            )
        );
    }
    crate::serve_cli::linger(served, &a.common.serve)
}

#[derive(Args, Debug)]
pub struct BenchSearchArgs {
    /// `go` or `connect_four`.
    #[arg(long, default_value = "go")]
    pub game: String,
    /// Board size for Go.
    #[arg(long, default_value_t = 9)]
    pub size: usize,
    /// UCT simulations per move.
    #[arg(long, default_value_t = 1000)]
    pub sims: u32,
    /// Moves of the self-play game to time.
    #[arg(long, default_value_t = 20)]
    pub moves: u64,
    /// Time Gumbel searches guided by a fresh policy-value net of WIDTHxDEPTH residual blocks
    /// instead (e.g. 32x3): evaluations/s one search at a time and --games searches at once.
    #[arg(long, value_name = "WIDTHxDEPTH")]
    pub net: Option<String>,
    /// Searches in lockstep with --net.
    #[arg(long, default_value_t = 64)]
    pub games: usize,
    /// UCT: run the playouts of batches of 8·T leaves (chosen under virtual loss) on T threads.
    /// With --net: the searches in lockstep run on T threads (one search at a time runs on one).
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Seconds of timing with --net (half single, half batched).
    #[arg(long, default_value_t = 10.0)]
    pub seconds: f64,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Print one JSON object as the last line of stdout.
    #[arg(long)]
    pub json: bool,
}

/// `ember bench search`: UCT simulations per second (one thread, or batches on several).
pub fn bench_search(a: &BenchSearchArgs) -> Result<()> {
    if a.sims == 0 || a.moves == 0 {
        bail!("--sims and --moves must be at least 1");
    }
    if a.threads == 0 || a.threads > ember_run::players::MAX_THREADS {
        bail!("--threads must be 1 to {}", ember_run::players::MAX_THREADS);
    }
    if let Some(net) = &a.net {
        let (w, d) = net
            .split_once('x')
            .and_then(|(w, d)| Some((w.parse::<usize>().ok()?, d.parse::<usize>().ok()?)))
            .filter(|&(w, d)| (1..=512).contains(&w) && (1..=40).contains(&d))
            .with_context(|| {
                format!("--net {net}: expected WIDTHxDEPTH, e.g. 32x3 (width 1-512, depth 1-40)")
            })?;
        if a.games == 0 || a.games > 4096 || !(a.seconds > 0.0 && a.seconds <= 3600.0) {
            bail!("--games must be 1 to 4096 and --seconds in (0, 3600]");
        }
        let r = match a.game.as_str() {
            "go" => {
                let s = GoState::new(check_size(a.size)?, 7.5).map_err(anyhow::Error::msg)?;
                ember_run::matches::bench_net_search(
                    &s, w, d, a.sims, a.games, a.threads, a.seconds,
                )?
            }
            "connect_four" => ember_run::matches::bench_net_search(
                &ConnectFour::new(),
                w,
                d,
                a.sims,
                a.games,
                a.threads,
                a.seconds,
            )?,
            g => bail!("unknown game `{g}`: go or connect_four"),
        };
        eprintln!(
            "{}: a {w}x{d} net ({} parameters), Gumbel {} simulations: {:.0} evaluations/s one search at a time (1 thread), {:.0}/s with {} searches in lockstep ({} thread(s), mean batch {:.1}, {:.1}% of the time outside the net)",
            r.game,
            r.parameters,
            r.simulations,
            r.single_evals_per_sec,
            r.batched_evals_per_sec,
            r.games,
            r.threads,
            r.batched_mean_batch,
            100.0 * r.batched_outside_net
        );
        if a.json {
            println!("{}", serde_json::to_string(&r)?);
        }
        return Ok(());
    }
    let r = match a.game.as_str() {
        "go" => {
            let s = GoState::new(check_size(a.size)?, 7.5).map_err(anyhow::Error::msg)?;
            ember_run::matches::bench_search(&s, a.sims, a.moves, a.threads, a.seed)
        }
        "connect_four" => ember_run::matches::bench_search(
            &ConnectFour::new(),
            a.sims,
            a.moves,
            a.threads,
            a.seed,
        ),
        g => bail!("unknown game `{g}`: go or connect_four"),
    };
    eprintln!(
        "{}: {} UCT simulations ({} moves of self-play, {} per move) in {:.2} s = {:.0} simulations/s ({}); {} tree nodes at the last move",
        r.game,
        r.simulations,
        r.moves,
        a.sims,
        r.seconds,
        r.simulations_per_sec,
        r.evaluator,
        r.last_tree_nodes
    );
    if a.json {
        println!("{}", serde_json::to_string(&r)?);
    }
    Ok(())
}

#[derive(Args, Debug)]
pub struct BenchGoArgs {
    #[arg(long, default_value_t = 9)]
    pub size: usize,
    #[arg(long, default_value_t = 100_000)]
    pub playouts: u64,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Print one JSON object as the last line of stdout.
    #[arg(long)]
    pub json: bool,
}

/// `ember bench go`: single-thread random playouts from the empty board.
pub fn bench_go(a: &BenchGoArgs) -> Result<()> {
    let size = check_size(a.size)?;
    if a.playouts == 0 {
        bail!("--playouts must be at least 1");
    }
    // A short warm-up so that the timing does not include page faults and frequency ramp-up.
    playout::bench(size, (a.playouts / 20).clamp(1, 2000), a.seed ^ 1)
        .map_err(anyhow::Error::msg)?;
    let r = playout::bench(size, a.playouts, a.seed).map_err(anyhow::Error::msg)?;
    eprintln!(
        "Go {size}x{size}: {} playouts in {:.2} s = {:.0} playouts/s (one thread), {:.1} moves per playout, Black wins {:.1}% at komi 7.5, {} hit the move cap",
        r.playouts,
        r.seconds,
        r.playouts_per_sec,
        r.mean_moves,
        100.0 * r.black_win_rate,
        r.capped
    );
    if a.json {
        println!(
            "{}",
            json!({
                "size": size,
                "playouts": r.playouts,
                "playouts_per_sec": r.playouts_per_sec,
                "mean_moves": r.mean_moves,
                "seconds": r.seconds,
                "black_win_rate": r.black_win_rate,
                "capped": r.capped,
                "threads": 1,
            })
        );
    }
    Ok(())
}
