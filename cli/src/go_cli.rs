//! The Go verbs: `ember gtp`, `ember match go`, `ember bench go`.
//!
//! Thin layers over `ember_envs::go`: argument parsing, player specs, terminal drawing, files and
//! the one-line JSON summaries `docs/cli.md` lists. Players are made by [`make_player`], the
//! one place where search agents (`uct:SIMS`, `az:RUN_DIR`) will be added.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use ember_envs::go::board::{Color, MAX_SIZE, MIN_SIZE};
use ember_envs::go::gtp::GtpEngine;
use ember_envs::go::player::{GoPlayer, elo, parse_player, play_game};
use ember_envs::go::playout;
use ember_envs::go::sgf::{GameRecord, today};
use ember_envs::go::state::GoState;
use ember_envs::rng::child_seed;
use serde_json::json;

fn check_size(n: usize) -> Result<usize> {
    if !(MIN_SIZE..=MAX_SIZE).contains(&n) {
        bail!("board size {n} is not supported: sizes {MIN_SIZE} to {MAX_SIZE} are");
    }
    Ok(n)
}

/// Makes a player from its spec (`random`, `gtp:"COMMAND LINE"`; search players later).
pub fn make_player(spec: &str, seed: u64) -> Result<Box<dyn GoPlayer>> {
    Ok(parse_player(spec, seed)?)
}

#[derive(Args, Debug)]
pub struct GtpArgs {
    /// Initial board size (controllers usually send `boardsize` anyway).
    #[arg(long, default_value_t = 19)]
    pub size: usize,
    /// Who answers `genmove`: random, or gtp:"COMMAND LINE" (relaying to another engine).
    #[arg(long, default_value = "random")]
    pub player: String,
    /// Seed of the player's randomness.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

/// `ember gtp`: a GTP v2 engine on stdin/stdout.
pub fn gtp(a: &GtpArgs) -> Result<()> {
    let player = make_player(&a.player, a.seed)?;
    let mut engine = GtpEngine::new(check_size(a.size)?, player).map_err(anyhow::Error::msg)?;
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    engine
        .run(stdin.lock(), stdout.lock())
        .context("GTP input/output")?;
    Ok(())
}

#[derive(Subcommand, Debug)]
pub enum MatchCmd {
    /// Play Go games between two players and report the result with an Elo estimate.
    Go(MatchGoArgs),
}

#[derive(Args, Debug)]
pub struct MatchGoArgs {
    /// Black's player: random, gtp:"COMMAND LINE".
    #[arg(long)]
    pub black: String,
    /// White's player. Games end after two passes and are scored by area with every stone on the
    /// board counted, so give GNU Go `--capture-all-dead` (it otherwise passes with dead stones
    /// still on the board).
    #[arg(long)]
    pub white: String,
    #[arg(long, default_value_t = 9)]
    pub size: usize,
    #[arg(long, default_value_t = 1)]
    pub games: u64,
    #[arg(long, default_value_t = 7.5, allow_hyphen_values = true)]
    pub komi: f32,
    /// Swap colours every other game (results stay those of the `--black` player).
    #[arg(long)]
    pub alternate: bool,
    /// Moves after which a game is stopped and scored by area (0: no limit; default 4·N·N).
    #[arg(long)]
    pub max_moves: Option<u32>,
    /// Write each game as DIR/game-NNNN.sgf.
    #[arg(long)]
    pub sgf_dir: Option<PathBuf>,
    /// Draw the board in the terminal after every move.
    #[arg(long)]
    pub watch: bool,
    /// Pause between moves when watching, in milliseconds.
    #[arg(long, default_value_t = 150)]
    pub delay_ms: u64,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Print one JSON object as the last line of stdout.
    #[arg(long)]
    pub json: bool,
}

/// `ember match go`.
pub fn match_go(a: &MatchGoArgs) -> Result<()> {
    let size = check_size(a.size)?;
    if a.games == 0 {
        bail!("--games must be at least 1");
    }
    if !a.komi.is_finite() {
        bail!("--komi must be a number");
    }
    let mut pa = make_player(&a.black, child_seed(a.seed, 0)).context("--black")?;
    let mut pb = make_player(&a.white, child_seed(a.seed, 1)).context("--white")?;
    if let Some(d) = &a.sgf_dir {
        std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
    }
    let cap = a.max_moves.unwrap_or((4 * size * size) as u32);
    let (mut wins, mut losses, mut draws, mut black_wins, mut white_wins) = (0u64, 0, 0, 0, 0);
    let tty = std::io::stderr().is_terminal();
    for g in 0..a.games {
        pa.seed(child_seed(a.seed, 2 + 2 * g));
        pb.seed(child_seed(a.seed, 3 + 2 * g));
        let swapped = a.alternate && g % 2 == 1;
        let (black, white): (&mut dyn GoPlayer, &mut dyn GoPlayer) = if swapped {
            (pb.as_mut(), pa.as_mut())
        } else {
            (pa.as_mut(), pb.as_mut())
        };
        let (bname, wname) = (black.name(), white.name());
        let mut state = GoState::new(size, a.komi)
            .map_err(anyhow::Error::msg)?
            .with_max_moves(cap);
        let watch = a.watch;
        let delay = Duration::from_millis(a.delay_ms);
        let mut draw = |s: &GoState| {
            if watch {
                let mut e = std::io::stderr().lock();
                if tty {
                    let _ = write!(e, "\x1b[H\x1b[2J");
                }
                let _ = writeln!(
                    e,
                    "game {}/{}  black: {bname}  white: {wname}\n{}",
                    g + 1,
                    a.games,
                    s.render_board()
                );
                std::thread::sleep(delay);
            }
        };
        play_game(&mut state, black, white, &mut draw)
            .with_context(|| format!("game {}", g + 1))?;
        let result = state.result_string();
        let winner = state.winner();
        match winner {
            Some(Color::Black) => black_wins += 1,
            Some(Color::White) => white_wins += 1,
            None => {}
        }
        let a_color = if swapped { Color::White } else { Color::Black };
        match winner {
            Some(c) if c == a_color => wins += 1,
            Some(_) => losses += 1,
            None => draws += 1,
        }
        let capped = if state.hit_move_limit() && state.passes() < 2 && state.resigned().is_none() {
            " (move limit)"
        } else {
            ""
        };
        eprintln!(
            "game {}: {result}{capped} in {} moves (black {bname}, white {wname})",
            g + 1,
            state.move_count()
        );
        if let Some(d) = &a.sgf_dir {
            let mut rec = GameRecord::from_state(&state);
            rec.black = Some(bname.clone());
            rec.white = Some(wname.clone());
            rec.date = Some(today());
            rec.result = Some(result.clone());
            let path = d.join(format!("game-{:04}.sgf", g + 1));
            std::fs::write(&path, rec.to_sgf())
                .with_context(|| format!("writing {}", path.display()))?;
        }
    }
    let n = a.games as f64;
    let score = (wins as f64 + 0.5 * draws as f64) / n;
    let (e, lo, hi) = elo(wins, losses, draws);
    eprintln!(
        "{} vs {}: {wins} wins, {losses} losses, {draws} draws (score {score:.3}); Elo difference {e:+.0} [{lo:+.0}, {hi:+.0}] (95%)",
        a.black, a.white
    );
    if a.json {
        println!(
            "{}",
            json!({
                "black": a.black,
                "white": a.white,
                "size": size,
                "komi": a.komi,
                "games": a.games,
                "alternate": a.alternate,
                "wins": wins,
                "losses": losses,
                "draws": draws,
                "score": score,
                "black_wins": black_wins,
                "white_wins": white_wins,
                "elo": e,
                "elo_low": lo,
                "elo_high": hi,
            })
        );
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
