//! SGF interoperability: files written by GNU Go 3.8 (`tests/data/sgf/`, from `printsgf` — a
//! position as AB/AW/PL — and from `--benchmark -o` — a game with moves, comments, passes and
//! RE) are read, replayed and written back; with GNU Go present, the same files and Ember's own
//! output are loaded into both engines (`loadsgf`) and the stones must agree. A triple ko set up
//! by SGF checks that both engines refuse the superko repetition.

mod common;

use std::collections::BTreeSet;

use ember_envs::go::board::Color;
use ember_envs::go::gtp::GtpEngine;
use ember_envs::go::player::{GtpPlayer, RandomPlayer};
use ember_envs::go::sgf::GameRecord;

fn data_files() -> Vec<std::path::PathBuf> {
    let dir = common::repo_root().join("tests/data/sgf");
    let mut v: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "sgf"))
        .collect();
    v.sort();
    assert!(
        v.len() >= 4,
        "expected GNU Go's SGF files in {}",
        dir.display()
    );
    v
}

fn gnugo() -> Option<GtpPlayer> {
    let path = "/usr/games/gnugo";
    if !std::path::Path::new(path).exists() {
        if common::references_required() {
            panic!("GNU Go not found at {path}: apt-get install gnugo");
        }
        eprintln!("SKIPPED: GNU Go not found; SGF files were not cross-loaded");
        return None;
    }
    Some(
        GtpPlayer::spawn(&format!(
            "{path} --mode gtp --chinese-rules --positional-superko"
        ))
        .unwrap(),
    )
}

fn ember_answer(e: &mut GtpEngine, cmd: &str) -> String {
    let a = e.handle(cmd).unwrap();
    assert!(a.starts_with('='), "`{cmd}`: {a}");
    a[1..].trim().to_string()
}

fn set(s: &str) -> BTreeSet<String> {
    s.split_whitespace()
        .map(|v| v.to_ascii_uppercase())
        .collect()
}

#[test]
fn gnugo_files_read_replay_and_round_trip() {
    let mut saw_moves = false;
    let mut saw_setup = false;
    for f in data_files() {
        let text = std::fs::read(&f).unwrap();
        let rec = GameRecord::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        let state = rec
            .to_state()
            .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        saw_moves |= !rec.moves.is_empty();
        saw_setup |= !rec.setup.is_empty();
        assert!(state.board().stone_count() > 0, "{}", f.display());
        state.board().validate().unwrap();
        // Setup order carries no meaning (GNU Go writes AW first, Ember AB first).
        let sorted = |mut r: GameRecord| {
            r.setup.sort_by_key(|&(c, xy)| (c as u8, xy));
            r
        };
        let again = GameRecord::parse(rec.to_sgf().as_bytes()).unwrap();
        assert_eq!(sorted(again), sorted(rec.clone()), "{}", f.display());
        if let Some(re) = &rec.result {
            assert!(re.starts_with("B+") || re.starts_with("W+"), "{re}");
        }
    }
    assert!(saw_moves && saw_setup);
}

#[test]
fn gnugo_and_ember_load_the_same_positions() {
    let Some(mut gg) = gnugo() else { return };
    let dir = std::env::temp_dir().join(format!("ember-sgf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut files = data_files();
    // Ember's own output too: a random game written by `printsgf`.
    let mut e = GtpEngine::new(9, Box::new(RandomPlayer::new(3)))
        .unwrap()
        .with_sgf_dir(&dir)
        .unwrap();
    for i in 0..120 {
        let c = if i % 2 == 0 { "b" } else { "w" };
        ember_answer(&mut e, &format!("genmove {c}"));
    }
    let ours = dir.join("ember-random.sgf");
    ember_answer(&mut e, &format!("printsgf {}", ours.display()));
    files.push(ours);
    for f in &files {
        // Files are read only inside the engine's SGF directory: the file's own.
        let mut em = GtpEngine::new(19, Box::new(RandomPlayer::new(0)))
            .unwrap()
            .with_sgf_dir(f.parent().unwrap())
            .unwrap();
        let cmd = format!("loadsgf {}", f.display());
        let to_play_g = gg.command(&cmd).unwrap();
        let to_play_e = ember_answer(&mut em, &cmd);
        assert_eq!(to_play_g, to_play_e, "{}: colour to play", f.display());
        for c in ["black", "white"] {
            for q in ["list_stones", "all_legal"] {
                let cmd = format!("{q} {c}");
                assert_eq!(
                    set(&gg.command(&cmd).unwrap()),
                    set(&ember_answer(&mut em, &cmd)),
                    "{}: {cmd}",
                    f.display()
                );
            }
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn triple_ko_superko_agrees_with_gnugo() {
    // Three kos on 9x9 (see the state tests): the sixth capture recreates the first position.
    let sgf = "(;GM[1]FF[4]SZ[9]KM[0.5]RU[Chinese]\
               AB[aa][fa][ha][bb][gb][bh][ai]AW[ba][da][ia][cb][hb][ch][bi][di]PL[B])";
    let dir = std::env::temp_dir().join(format!("ember-triple-ko-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("triple-ko.sgf");
    std::fs::write(&f, sgf).unwrap();
    let mut em = GtpEngine::new(9, Box::new(RandomPlayer::new(0)))
        .unwrap()
        .with_sgf_dir(&dir)
        .unwrap();
    assert_eq!(
        ember_answer(&mut em, &format!("loadsgf {}", f.display())),
        "black"
    );
    let cycle = [
        ("b", "C9"),
        ("w", "G9"),
        ("b", "C1"),
        ("w", "B9"),
        ("b", "H9"),
    ];
    for (c, v) in cycle {
        ember_answer(&mut em, &format!("play {c} {v}"));
    }
    assert_eq!(ember_answer(&mut em, "is_legal w B1"), "0");
    assert!(
        em.handle("play w B1")
            .unwrap()
            .starts_with("? illegal move")
    );
    assert_eq!(em.state().board().captures(Color::Black), 3);
    if let Some(mut gg) = gnugo() {
        assert_eq!(
            gg.command(&format!("loadsgf {}", f.display())).unwrap(),
            "black"
        );
        for (c, v) in cycle {
            gg.command(&format!("play {c} {v}")).unwrap();
        }
        assert!(
            gg.command("play w B1").is_err(),
            "GNU Go allowed the superko repetition"
        );
        for c in ["black", "white"] {
            let cmd = format!("list_stones {c}");
            assert_eq!(
                set(&gg.command(&cmd).unwrap()),
                set(&ember_answer(&mut em, &cmd))
            );
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
