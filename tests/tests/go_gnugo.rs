//! Ember's Go rules against GNU Go 3.8 (`gnugo --mode gtp --chinese-rules --positional-superko`).
//!
//! 1. `rules_agree_with_gnugo`: random games on several sizes are sent move by move to GNU Go and
//!    to Ember's GTP engine (in process); after every move `list_stones` and `all_legal` must agree
//!    for both colours, and so must `captures`. Some turns try an illegal move instead (occupied,
//!    suicide, ko, superko): both engines must refuse it and stay unchanged.
//! 2. `ember_gtp_plays_gnugo_to_a_correct_final_score`: the built `ember gtp` binary plays a whole
//!    9x9 game against GNU Go through the protocol; at the end both agree on the stones, Ember's
//!    `final_score` equals the area count of the final position, and GNU Go's own `final_score`
//!    agrees (no dead stones are left when the random player has filled everything it can).
//!
//! Without GNU Go these tests skip with a note, or fail when `EMBER_REQUIRE_REFERENCES=1`.

mod common;

use std::collections::BTreeSet;

use ember_envs::go::board::{Color, EMPTY, Illegal};
use ember_envs::go::gtp::GtpEngine;
use ember_envs::go::player::{GtpPlayer, RandomPlayer};
use ember_envs::go::state::Move;
use ember_envs::rng::Rng;

const GNUGO_ARGS: &str = "--mode gtp --chinese-rules --positional-superko --level 1";
/// For the full game: GNU Go also captures every dead stone before passing, so the final
/// position holds no dead stones and its area count is the score GNU Go estimates too.
const GNUGO_GAME_ARGS: &str =
    "--mode gtp --chinese-rules --positional-superko --level 1 --capture-all-dead";

fn gnugo() -> Option<String> {
    let found = ["/usr/games/gnugo", "/usr/bin/gnugo", "/usr/local/bin/gnugo"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .map(str::to_string);
    if found.is_none() {
        if common::references_required() {
            panic!(
                "GNU Go not found: install it (`apt-get install gnugo`) or unset EMBER_REQUIRE_REFERENCES"
            );
        }
        eprintln!(
            "SKIPPED: GNU Go not found (apt-get install gnugo) - the Go cross-check did not run"
        );
    }
    found
}

fn ask_ember(e: &mut GtpEngine, cmd: &str) -> Result<String, String> {
    let a = e.handle(cmd).expect("a command gets an answer");
    let body = a.trim_end().to_string();
    match body.chars().next() {
        Some('=') => Ok(body[1..].trim().to_string()),
        _ => Err(body[1..].trim().to_string()),
    }
}

fn set(s: &str) -> BTreeSet<String> {
    s.split_whitespace()
        .map(|v| v.to_ascii_uppercase())
        .collect()
}

#[test]
fn rules_agree_with_gnugo() {
    let Some(gnugo) = gnugo() else { return };
    let mut gg = GtpPlayer::spawn(&format!("{gnugo} {GNUGO_ARGS}")).expect("GNU Go starts");
    let mut rng = Rng::new(2026);
    let mut refused = [0usize; 4]; // occupied, suicide, ko, superko
    let mut compared = 0usize;
    for (size, games) in [(5, 6), (7, 4), (9, 3), (13, 1), (19, 1)] {
        for game in 0..games {
            let mut ours = GtpEngine::new(size, Box::new(RandomPlayer::new(0))).unwrap();
            for cmd in [
                format!("boardsize {size}"),
                "clear_board".into(),
                "komi 7.5".into(),
            ] {
                gg.command(&cmd).unwrap();
                ask_ember(&mut ours, &cmd).unwrap();
            }
            let mut buf = Vec::new();
            let mut draw_buf = Vec::new();
            let mut passes = 0;
            let cap = 3 * size * size;
            for turn in 0..cap {
                let s = ours.state();
                let color = s.to_play();
                let cname = if color == Color::Black {
                    "black"
                } else {
                    "white"
                };
                // Now and then, try a move our rules refuse: both engines must refuse it.
                if rng.below(4) == 0 {
                    let b = s.board();
                    let bad: Vec<(u16, Illegal)> = b
                        .points()
                        .filter_map(|p| s.check(color, p).err().map(|e| (p, e)))
                        .filter(|(_, e)| *e != Illegal::Occupied || rng.below(8) == 0)
                        .collect();
                    // Prefer the rare refusals: a ko or superko point, then suicide.
                    let rare: Vec<(u16, Illegal)> = bad
                        .iter()
                        .copied()
                        .filter(|(_, e)| matches!(e, Illegal::Ko | Illegal::Superko))
                        .collect();
                    let suicide: Vec<(u16, Illegal)> = bad
                        .iter()
                        .copied()
                        .filter(|(_, e)| *e == Illegal::Suicide)
                        .collect();
                    let pool = if !rare.is_empty() {
                        rare
                    } else if !suicide.is_empty() && rng.below(2) == 0 {
                        suicide
                    } else {
                        bad
                    };
                    if !pool.is_empty() {
                        let (p, why) = pool[rng.below(pool.len())];
                        let v = s.move_name(Move::Play(p));
                        let cmd = format!("play {cname} {v}");
                        let g = gg.command(&cmd);
                        let o = ask_ember(&mut ours, &cmd);
                        assert!(
                            g.is_err() && o.is_err(),
                            "{size}x{size} game {game} turn {turn}: `{cmd}` ({why}) - GNU Go: {g:?}, Ember: {o:?}\n{}",
                            ours.state().render_board()
                        );
                        refused[match why {
                            Illegal::Occupied => 0,
                            Illegal::Suicide => 1,
                            Illegal::Ko => 2,
                            Illegal::Superko => 3,
                            Illegal::OffBoard | Illegal::SetupCapture => unreachable!(),
                        }] += 1;
                    }
                }
                let s = ours.state();
                // Mostly the playout policy; sometimes any legal move (eyes too), so big groups die.
                let mv = if rng.below(5) == 0 {
                    s.legal_points(color, &mut buf);
                    if buf.is_empty() {
                        Move::Pass
                    } else {
                        Move::Play(buf[rng.below(buf.len())])
                    }
                } else {
                    s.random_move(&mut rng, &mut draw_buf)
                };
                let cmd = format!("play {cname} {}", s.move_name(mv));
                gg.command(&cmd).unwrap_or_else(|e| {
                    panic!(
                        "{size}x{size} turn {turn}: GNU Go refused `{cmd}`: {e}\n{}",
                        s.render_board()
                    )
                });
                ask_ember(&mut ours, &cmd).unwrap();
                passes = if mv == Move::Pass { passes + 1 } else { 0 };
                for c in ["black", "white"] {
                    for q in ["list_stones", "all_legal", "captures"] {
                        let cmd = format!("{q} {c}");
                        let g = gg.command(&cmd).unwrap();
                        let o = ask_ember(&mut ours, &cmd).unwrap();
                        assert_eq!(
                            set(&g),
                            set(&o),
                            "{size}x{size} game {game} after turn {turn} (`{}`): `{cmd}` differs\n{}",
                            cmd,
                            ours.state().render_board()
                        );
                        compared += 1;
                    }
                }
                if passes >= 2 {
                    break;
                }
            }
        }
    }
    eprintln!(
        "compared {compared} answers; refused by both: {} occupied, {} suicide, {} ko, {} superko",
        refused[0], refused[1], refused[2], refused[3]
    );
    assert!(
        refused[1] > 0 && refused[2] > 0,
        "the games should have tried suicides and kos: {refused:?}"
    );
}

#[test]
fn ember_gtp_plays_gnugo_to_a_correct_final_score() {
    let Some(gnugo) = gnugo() else { return };
    let Some(ember) = common::ember_bin() else {
        return;
    };
    let mut gg = GtpPlayer::spawn(&format!("{gnugo} {GNUGO_GAME_ARGS}")).expect("GNU Go starts");
    let mut em = GtpPlayer::spawn(&format!(
        "{} gtp --size 9 --player random --seed 7",
        ember.display()
    ))
    .expect("ember gtp starts");
    assert_eq!(em.command("protocol_version").unwrap(), "2");
    assert_eq!(em.command("name").unwrap(), "Ember");
    assert!(
        em.command("frobnicate")
            .unwrap_err()
            .to_string()
            .contains("unknown command")
    );
    assert!(
        em.command("play black Z9")
            .unwrap_err()
            .to_string()
            .contains("invalid coordinate")
    );
    for cmd in ["boardsize 9", "clear_board", "komi 7.5"] {
        gg.command(cmd).unwrap();
        em.command(cmd).unwrap();
    }
    // Ember (random) is Black, GNU Go White.
    let mut passes = 0;
    let mut moves = 0;
    let mut last = String::new();
    while passes < 2 && moves < 600 {
        let black = moves % 2 == 0;
        let (mover, other, c) = if black {
            (&mut em, &mut gg, "black")
        } else {
            (&mut gg, &mut em, "white")
        };
        let mv = mover.command(&format!("genmove {c}")).unwrap();
        moves += 1;
        if mv.eq_ignore_ascii_case("resign") {
            last = format!("{c} resigned");
            break;
        }
        other
            .command(&format!("play {c} {mv}"))
            .unwrap_or_else(|e| panic!("move {moves}: `{c} {mv}` refused: {e}"));
        passes = if mv.eq_ignore_ascii_case("pass") {
            passes + 1
        } else {
            0
        };
    }
    assert!(
        passes >= 2 || last.contains("resigned"),
        "the game did not end in 600 moves"
    );
    for c in ["black", "white"] {
        let cmd = format!("list_stones {c}");
        assert_eq!(
            set(&gg.command(&cmd).unwrap()),
            set(&em.command(&cmd).unwrap()),
            "{cmd}"
        );
    }
    if passes >= 2 {
        // Recount the final position with the library: Ember's answer must be that count.
        let sgf = em.command("printsgf").unwrap();
        let rec = ember_envs::go::sgf::GameRecord::parse(sgf.as_bytes()).unwrap();
        let state = rec.to_state().unwrap();
        let b = state.board();
        let black = b
            .points()
            .filter(|&p| b.stone(p) == Some(Color::Black))
            .count();
        let white = b
            .points()
            .filter(|&p| b.stone(p) == Some(Color::White))
            .count();
        let empty = b.points().filter(|&p| b.at(p) == EMPTY).count();
        assert_eq!(black + white + empty, 81);
        let ours = em.command("final_score").unwrap();
        assert_eq!(ours, state.result_string());
        let theirs = gg.command("final_score").unwrap();
        eprintln!(
            "{moves} moves; final_score: Ember {ours}, GNU Go {theirs}\n{}",
            state.render_board()
        );
        assert_eq!(ours, theirs, "final scores differ");
    }
    em.command("quit").unwrap();
}

#[test]
fn env_plays_against_gnugo() {
    // `Go9x9-v0` with GNU Go as the opponent: a random agent plays whole episodes through the
    // Env API; every mask entry is a move both engines accept (GNU Go is told each move).
    let Some(gnugo) = gnugo() else { return };
    let spec = format!("gtp:{gnugo} {GNUGO_GAME_ARGS}");
    let mut env = ember_envs::make(
        "Go9x9-v0",
        &[("opponent", spec.as_str()), ("color", "white")],
    )
    .unwrap();
    let mut rng = Rng::new(4);
    for episode in 0..2 {
        env.reset(Some(episode));
        let mut steps = 0;
        loop {
            let mask = env.action_mask().unwrap().to_vec();
            let legal: Vec<usize> = (0..mask.len()).filter(|&a| mask[a]).collect();
            // Pass rarely, so that the game is played out.
            let a = if legal.len() > 1 && rng.below(30) != 0 {
                legal[rng.below(legal.len() - 1)]
            } else {
                legal[legal.len() - 1]
            };
            let s = env.step(a).unwrap();
            steps += 1;
            if s.done() {
                assert!(
                    s.terminated,
                    "episode {episode} was truncated after {steps} steps"
                );
                assert!(s.reward == 1.0 || s.reward == -1.0 || s.reward == 0.0);
                break;
            }
        }
    }
}
