//! The Go verbs of the built `ember` binary, end to end: `bench go --json` and `match go --json`
//! print the keys `docs/cli.md` lists as the last stdout line, matches write SGF files that
//! replay to their recorded result, `ember gtp` survives garbage input, and bad arguments are
//! errors that say what is accepted.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use ember_envs::go::sgf::GameRecord;

fn last_json(stdout: &[u8]) -> serde_json::Value {
    let text = String::from_utf8_lossy(stdout);
    let line = text.lines().last().expect("some stdout");
    serde_json::from_str(line).unwrap_or_else(|e| panic!("last line is not JSON ({e}): {line}"))
}

#[test]
fn bench_go_prints_the_contract_keys() {
    let Some(ember) = common::ember_bin() else {
        return;
    };
    let out = Command::new(&ember)
        .args(["bench", "go", "--size", "9", "--playouts", "300", "--json"])
        .output()
        .unwrap();
    common::assert_ok(&out);
    let j = last_json(&out.stdout);
    assert_eq!(j["size"], 9);
    assert_eq!(j["playouts"], 300);
    assert!(j["playouts_per_sec"].as_f64().unwrap() > 0.0);
    let m = j["mean_moves"].as_f64().unwrap();
    assert!((60.0..200.0).contains(&m), "mean moves {m}");
}

#[test]
fn match_go_reports_and_writes_replayable_sgf() {
    let Some(ember) = common::ember_bin() else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("ember-match-{}", std::process::id()));
    let out = Command::new(&ember)
        .args([
            "match", "go", "--black", "random", "--white", "random", "--size", "7",
        ])
        .args([
            "--games",
            "4",
            "--alternate",
            "--seed",
            "3",
            "--json",
            "--sgf-dir",
        ])
        .arg(&dir)
        .output()
        .unwrap();
    common::assert_ok(&out);
    let j = last_json(&out.stdout);
    let (w, l, d) = (
        j["wins"].as_u64().unwrap(),
        j["losses"].as_u64().unwrap(),
        j["draws"].as_u64().unwrap(),
    );
    assert_eq!(w + l + d, 4);
    let (e, lo, hi) = (
        j["elo"].as_f64().unwrap(),
        j["elo_low"].as_f64().unwrap(),
        j["elo_high"].as_f64().unwrap(),
    );
    assert!(lo <= e && e <= hi, "{j}");
    for g in 1..=4 {
        let f = dir.join(format!("game-{g:04}.sgf"));
        let rec = GameRecord::parse(&std::fs::read(&f).unwrap()).unwrap();
        let state = rec.to_state().unwrap();
        assert_eq!(
            rec.result.as_deref(),
            Some(state.result_string().as_str()),
            "{}",
            f.display()
        );
        assert_eq!(rec.size, 7);
        assert!(rec.black.is_some() && rec.white.is_some() && rec.date.is_some());
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_arguments_are_clear_errors() {
    let Some(ember) = common::ember_bin() else {
        return;
    };
    for (args, want) in [
        (
            vec!["match", "go", "--black", "alphago", "--white", "random"],
            "accepted forms",
        ),
        (vec!["bench", "go", "--size", "25"], "sizes 5 to 19"),
        (vec!["gtp", "--size", "3"], "sizes 5 to 19"),
        (
            vec![
                "match",
                "go",
                "--black",
                "az:runs/none",
                "--white",
                "random",
            ],
            "runs/none",
        ),
        (
            vec!["match", "go", "--black", "uct:0", "--white", "random"],
            "at least 1 simulation",
        ),
        (
            vec!["match", "go", "--black", "uct:lots", "--white", "random"],
            "not a number of simulations",
        ),
        (
            vec![
                "match",
                "connect_four",
                "--player1",
                "gtp:gnugo",
                "--player2",
                "random",
            ],
            "accepted forms: random, uct:SIMS",
        ),
        (vec!["gtp", "--player", "uct:x"], "--player"),
        (
            vec![
                "match",
                "go",
                "--black",
                "random",
                "--white",
                "random",
                "--move-time",
                "0",
            ],
            "--move-time is out of range",
        ),
        (
            vec![
                "match",
                "connect_four",
                "--player1",
                "random",
                "--player2",
                "random",
                "--move-time",
                "NaN",
            ],
            "--move-time is out of range",
        ),
    ] {
        let out = Command::new(&ember).args(&args).output().unwrap();
        assert!(!out.status.success(), "{args:?} succeeded");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(want), "{args:?}: {err}");
    }
}

#[test]
fn gtp_answers_every_line_and_survives_garbage() {
    let Some(ember) = common::ember_bin() else {
        return;
    };
    let mut child = Command::new(&ember)
        .args(["gtp", "--size", "9"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input: Vec<u8> = Vec::new();
    let mut expected = Vec::new();
    let mut line = |bytes: &[u8], answer: Option<&str>| {
        input.extend_from_slice(bytes);
        input.push(b'\n');
        expected.push(answer.map(str::to_string));
    };
    line(b"1 boardsize 9", Some("=1"));
    line(b"2 play black D4", Some("=2"));
    line(b"3 play black D4", Some("?3 illegal move"));
    line(b"4 play white Z99", Some("?4 invalid coordinate"));
    line(b"5 gnugo_please_crash", Some("?5 unknown command"));
    line(b"\xff\xfe\x00\x07 junk \x1b[2J", Some("? unknown command"));
    line(&[b'x'; 100_000], Some("? line too long"));
    line(b"# a comment line", None);
    line(b"", None);
    line(b"6 play purple A1", Some("?6 invalid color"));
    line(
        b"7 boardsize 1000000000000000000000",
        Some("?7 syntax error"),
    );
    line(b"8 komi nan", Some("?8 syntax error"));
    line(
        b"9 loadsgf /definitely/not/here.sgf",
        Some("?9 file access is disabled"),
    );
    line(b"10 list_stones black", Some("=10 D4"));
    line(b"11 genmove white", Some("=11 "));
    line(b"12 undo", Some("=12"));
    line(b"13 quit", Some("=13"));
    child.stdin.take().unwrap().write_all(&input).unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    for want in expected.into_iter().flatten() {
        let mut got = String::new();
        out.read_line(&mut got).unwrap();
        assert!(got.starts_with(&want), "expected `{want}`, got `{got}`");
        let mut blank = String::new();
        if !got.trim_end().is_empty() {
            out.read_line(&mut blank).unwrap();
            assert_eq!(blank, "\n", "answers end with a blank line (after `{got}`)");
        }
    }
    assert!(child.wait().unwrap().success());
}

#[test]
fn match_connect_four_runs_through_the_generic_match() {
    let Some(ember) = common::ember_bin() else {
        return;
    };
    let out = Command::new(&ember)
        .args([
            "match",
            "connect_four",
            "--player1",
            "uct:100",
            "--player2",
            "random",
        ])
        .args(["--games", "4", "--alternate", "--seed", "2", "--json"])
        .args(["--move-time", "5"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let j = last_json(&out.stdout);
    for k in [
        "move_time",
        "seconds_per_move",
        "visits_per_move",
        "player1",
        "player2",
        "games",
        "alternate",
        "wins",
        "losses",
        "draws",
        "score",
        "first_wins",
        "second_wins",
        "wins_as_first",
        "wins_as_second",
        "elo",
        "elo_low",
        "elo_high",
    ] {
        assert!(j.get(k).is_some(), "missing {k}: {j}");
    }
    assert_eq!(j["games"], 4);
    assert!(j["wins"].as_u64().unwrap() >= 3, "{j}");
    // player1's wins split by the seat it had (first in games 1 and 3, second in 2 and 4).
    let (w1, w2) = (
        j["wins_as_first"].as_u64().unwrap(),
        j["wins_as_second"].as_u64().unwrap(),
    );
    assert_eq!(w1 + w2, j["wins"].as_u64().unwrap(), "{j}");
    assert!(w1 <= 2 && w2 <= 2, "{j}");
    assert!(
        err.contains(&format!(
            "uct:100: {w1} of 2 games won moving first, {w2} of 2 moving second"
        )),
        "{err}"
    );
    assert!(err.contains("(first random, second uct:100)"), "{err}");
    // The clock: the budget as given; uct's root visits (at least its 100 a move, tree reuse
    // added), none for random.
    assert_eq!(j["move_time"], 5.0, "{j}");
    let v = j["visits_per_move"].as_array().unwrap();
    assert!(v[0].as_f64().unwrap() >= 100.0 && v[1].is_null(), "{j}");
    let s = j["seconds_per_move"].as_array().unwrap();
    assert!(s.iter().all(|x| x.as_f64().unwrap() >= 0.0), "{j}");
    assert!(
        err.contains("uct:100: ") && err.contains("s a move over"),
        "{err}"
    );
}

#[test]
fn uct_plays_go_matches_with_analysis_in_the_sgf_and_answers_gtp() {
    let Some(ember) = common::ember_bin() else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("ember-uct-{}", std::process::id()));
    let out = Command::new(&ember)
        .args([
            "match", "go", "--black", "uct:300", "--white", "random", "--size", "7",
        ])
        .args(["--games", "2", "--alternate", "--json", "--sgf-dir"])
        .arg(&dir)
        .output()
        .unwrap();
    common::assert_ok(&out);
    let j = last_json(&out.stdout);
    assert_eq!(j["wins"], 2, "{j}");
    // One game with each colour, both won.
    assert_eq!(
        (&j["wins_as_black"], &j["wins_as_white"]),
        (&1.into(), &1.into()),
        "{j}"
    );
    for g in 1..=2 {
        let f = dir.join(format!("game-{g:04}.sgf"));
        let text = std::fs::read_to_string(&f).unwrap();
        let rec = GameRecord::parse(text.as_bytes()).unwrap();
        let state = rec.to_state().unwrap();
        assert_eq!(rec.result.as_deref(), Some(state.result_string().as_str()));
        // The searching player's moves carry its analysis and Black's win rate.
        let seat = g - 1;
        let m = &rec.moves[seat];
        assert!(
            m.win_rate.is_some_and(|w| (0.0..=100.0).contains(&w)),
            "{text}"
        );
        assert!(
            m.comment.as_deref().is_some_and(|c| c.contains("visits")),
            "{text}"
        );
        assert!(rec.moves[1 - seat].comment.is_none());
        // GNU Go loads it too.
        if std::path::Path::new("/usr/games/gnugo").exists() {
            let gg = Command::new("/usr/games/gnugo")
                .args(["--mode", "gtp", "--chinese-rules"])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .unwrap();
            let mut gg = gg;
            writeln!(gg.stdin.as_mut().unwrap(), "loadsgf {}\nquit", f.display()).unwrap();
            let o = gg.wait_with_output().unwrap();
            let text = String::from_utf8_lossy(&o.stdout);
            assert!(text.starts_with("= "), "GNU Go: {text}");
        } else if common::references_required() {
            panic!("GNU Go not found");
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();

    // White's four stones in atari: Black captures at F5.
    let mut input = String::from("boardsize 7\nclear_board\n");
    for (c, v) in [
        ("b", "B6"),
        ("w", "B5"),
        ("b", "C6"),
        ("w", "C5"),
        ("b", "D6"),
        ("w", "D5"),
        ("b", "E6"),
        ("w", "E5"),
        ("b", "A5"),
        ("w", "G1"),
        ("b", "B4"),
        ("w", "G2"),
        ("b", "C4"),
        ("w", "G3"),
        ("b", "D4"),
        ("w", "A1"),
        ("b", "E4"),
        ("w", "A2"),
    ] {
        input.push_str(&format!("play {c} {v}\n"));
    }
    input.push_str("genmove b\nquit\n");
    let answers = common::gtp_session(&ember, &["--size", "7", "--player", "uct:200"], &input);
    assert!(answers.iter().all(|a| a.starts_with('=')), "{answers:?}");
    assert_eq!(answers[answers.len() - 2], "= F5", "{answers:?}");
}

#[test]
fn lz_analyze_streams_candidates_until_the_next_command() {
    let Some(ember) = common::ember_bin() else {
        return;
    };
    let mut child = Command::new(&ember)
        .args(["gtp", "--size", "9", "--player", "uct:200"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"play b E5\n7 lz-analyze w 5\n").unwrap();
    stdin.flush().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(400));
    stdin
        .write_all(b"8 name\nkata-analyze b interval 5 ownership true\n")
        .unwrap();
    stdin.flush().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    stdin.write_all(b"quit\n").unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let blocks: Vec<&str> = text.split("\n\n").collect();
    assert!(blocks[0].starts_with('='), "{text}");
    let lz = blocks[1];
    assert!(lz.starts_with("=7\ninfo move "), "{text}");
    let line = lz.lines().nth(1).unwrap();
    // Leela Zero's fields, win rates in 1/10000, a legal move first (not E5, which is taken).
    for f in [
        " visits ",
        " winrate ",
        " prior ",
        " lcb ",
        " order 0 ",
        " pv ",
    ] {
        assert!(line.contains(f), "{f}: {line}");
    }
    assert!(!line.starts_with("info move E5 "), "{line}");
    assert_eq!(blocks[2], "=8 Ember", "{text}");
    let kata = blocks[3];
    assert!(kata.starts_with("=\ninfo move "), "{text}");
    assert!(kata.contains("winrate 0."), "{kata}");
    // A player that does not search says so.
    let out = Command::new(&ember)
        .args(["gtp", "--size", "9"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            c.stdin
                .take()
                .unwrap()
                .write_all(b"lz-analyze 10\nquit\n")?;
            c.wait_with_output()
        })
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("? this player does not analyse"), "{text}");
}
