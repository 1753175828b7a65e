//! AlphaZero end to end through the built `ember` binary: a tiny run trains for a few updates on
//! Connect Four and on 5x5 Go, writes TensorBoard events, checkpoints and `summary.json`, resumes,
//! and its network plays through `ember match` and `ember gtp --player az:…`; mismatched and
//! missing checkpoints are clear errors.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

const TINY: &[&str] = &[
    "train.total_updates=6",
    "train.parallel_games=8",
    "train.simulations=8",
    "train.cheap_simulations=2",
    "train.min_replay=64",
    "train.batch_size=16",
    "train.replay_capacity=2000",
    "train.checkpoint_every=3",
    "train.eval_every=6",
    "train.eval_games=2",
    "train.eval_simulations=4",
    "train.eval_uct_simulations=20",
    "model.width=8",
    "model.depth=1",
    "model.value_hidden=8",
];

fn train(ember: &Path, file: &str, dir: &Path, extra: &[&str]) -> serde_json::Value {
    let mut cmd = Command::new(ember);
    cmd.arg("train")
        .arg(common::repo_root().join("experiments").join(file))
        .arg("--run-dir")
        .arg(dir)
        .arg("--json");
    for s in TINY.iter().chain(extra) {
        cmd.args(["--set", s]);
    }
    let out = cmd.output().unwrap();
    common::assert_ok(&out);
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.lines().last().unwrap()).unwrap()
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ember-az-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

#[test]
fn a_tiny_connect_four_run_trains_resumes_and_plays() {
    let Some(ember) = common::ember_bin() else {
        return;
    };
    let dir = tmp("c4");
    let s = train(
        &ember,
        "az_connect_four.toml",
        &dir,
        &["train.eval_every=3"],
    );
    assert_eq!(s["kind"], "alphazero");
    assert_eq!(s["game"], "connect_four");
    assert_eq!(s["updates"], 6);
    assert!(s["selfplay_games"].as_u64().unwrap() > 0, "{s}");
    assert!(s["eval_score"]["random"].as_f64().is_some(), "{s}");
    // The second evaluation also plays the network of the first.
    assert!(s["eval_score"]["previous"].as_f64().is_some(), "{s}");
    let elo = s["eval_elo"]["uct20"]
        .as_array()
        .expect("an Elo interval per anchor");
    let (lo, e, hi) = (
        elo[0].as_f64().unwrap(),
        elo[1].as_f64().unwrap(),
        elo[2].as_f64().unwrap(),
    );
    assert!(lo <= e && e <= hi, "{s}");
    for f in ["summary.json", "config.toml"] {
        assert!(dir.join(f).exists(), "{f}");
    }
    let ckpts: Vec<_> = std::fs::read_dir(dir.join("checkpoints"))
        .unwrap()
        .collect();
    assert!(!ckpts.is_empty());
    let events = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .any(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("events.out.tfevents")
        });
    assert!(events, "no TensorBoard event file in {}", dir.display());

    // Resume: with the newest checkpoint (update 6) gone, the run continues from update 3.
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("checkpoints"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    std::fs::remove_file(files.last().unwrap()).unwrap();
    let out = Command::new(&ember)
        .args(["train", "--resume"])
        .arg(&dir)
        .arg("--json")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("resumed at update 3"), "{err}");
    let text = String::from_utf8_lossy(&out.stdout);
    let r: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(r["updates"], 6, "{r}");

    // The network plays matches.
    let spec = format!("az:{}:4", dir.display());
    let out = Command::new(&ember)
        .args([
            "match",
            "connect_four",
            "--player1",
            &spec,
            "--player2",
            "random",
        ])
        .args(["--games", "2", "--alternate", "--json"])
        .output()
        .unwrap();
    common::assert_ok(&out);
    // The Gumbel-trained network plays with PUCT when told to.
    let out = Command::new(&ember)
        .args(["match", "connect_four", "--player1"])
        .arg(format!("{spec}:rule=puct"))
        .args(["--player2", "random", "--games", "2", "--json"])
        .output()
        .unwrap();
    common::assert_ok(&out);
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        r["player1"].as_str().unwrap().ends_with(":4:rule=puct"),
        "{r}"
    );
    // Without an ownership head there is no score to weigh.
    let out = Command::new(&ember)
        .args(["match", "connect_four", "--player1"])
        .arg(format!("{spec}:score=0.5"))
        .args(["--player2", "random"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("ownership head"),
        "{err}"
    );
    // A Connect Four network cannot play Go.
    let out = Command::new(&ember)
        .args([
            "match", "go", "--size", "5", "--black", &spec, "--white", "random",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("connect_four"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_tiny_go_run_plays_through_gtp() {
    let Some(ember) = common::ember_bin() else {
        return;
    };
    let dir = tmp("go5");
    let s = train(
        &ember,
        "az_go5.toml",
        &dir,
        &[
            "model.ownership=true",
            "model.global_pooling=true",
            // Self-play and evaluation search with the score utility.
            "train.score_utility=0.3",
        ],
    );
    assert_eq!(s["game"], "go5x5");
    let acc = s["ownership_accuracy"]
        .as_f64()
        .expect("an ownership head reports its accuracy");
    assert!((0.0..=1.0).contains(&acc), "{s}");
    // Connect Four has no ownership to learn.
    let c4 = tmp("c4-own");
    let out = Command::new(&ember)
        .arg("train")
        .arg(common::repo_root().join("experiments/az_connect_four.toml"))
        .arg("--run-dir")
        .arg(&c4)
        .args(["--set", "model.ownership=true"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("ownership"), "{err}");
    let _ = std::fs::remove_dir_all(&c4);
    let spec = format!("az:{}:8", dir.display());
    let answers = common::gtp_session(
        &ember,
        &["--size", "5", "--player", &spec],
        "boardsize 5\nclear_board\nplay b C3\ngenmove w\ngenmove b\nquit\n",
    );
    assert_eq!(answers.len(), 6, "{answers:?}");
    assert!(answers.iter().all(|a| a.starts_with('=')), "{answers:?}");
    assert!(answers[3].len() > 2 && answers[4].len() > 2, "{answers:?}");
    // The run's score utility is its players' default, and a spec can set another; `mix=L`
    // mixes playouts into the leaf values.
    for (player, name) in [
        (spec.clone(), format!("{spec}:score=0.3")),
        (format!("{spec}:score=0.8"), format!("{spec}:score=0.8")),
        (format!("{spec}:score=0"), spec.clone()),
        // Playouts mixed into the leaf values (AlphaGo's evaluation), in the name after score.
        (
            format!("{spec}:mix=0.5:score=0.8"),
            format!("{spec}:score=0.8:mix=0.5"),
        ),
    ] {
        let out = Command::new(&ember)
            .args(["match", "go", "--size", "5", "--black", &player])
            .args(["--white", "random", "--games", "1", "--json"])
            .output()
            .unwrap();
        common::assert_ok(&out);
        let text = String::from_utf8_lossy(&out.stderr); // the per-game lines
        assert!(text.contains(&format!("black {name},")), "{player}: {text}");
        // `--json` gives the spec as typed and the names as resolved.
        let j: serde_json::Value =
            serde_json::from_str(String::from_utf8_lossy(&out.stdout).lines().last().unwrap())
                .unwrap();
        assert_eq!(j["black"], player.as_str(), "{j}");
        assert_eq!(j["names"], serde_json::json!([name, "random"]), "{j}");
    }
    // Self-play games of the checkpoint, as SGF with the analysis of every move.
    let sgf = tmp("selfplay-sgf");
    let out = Command::new(&ember)
        .arg("selfplay")
        .arg(&dir)
        .args([
            "--games",
            "2",
            "--sims",
            "8",
            "--explore",
            "--json",
            "--sgf-dir",
        ])
        .arg(&sgf)
        .output()
        .unwrap();
    common::assert_ok(&out);
    let rec =
        ember_envs::go::sgf::GameRecord::parse(&std::fs::read(sgf.join("game-0001.sgf")).unwrap())
            .unwrap();
    assert!(
        rec.moves
            .iter()
            .all(|m| m.comment.is_some() && m.win_rate.is_some())
    );
    rec.to_state().unwrap();
    // With the training's noise the two games differ.
    let second = std::fs::read_to_string(sgf.join("game-0002.sgf")).unwrap();
    let first = std::fs::read_to_string(sgf.join("game-0001.sgf")).unwrap();
    let moves = |t: &str| {
        t.split(';')
            .skip(2)
            .map(|m| m[..5.min(m.len())].to_string())
            .collect::<Vec<_>>()
    };
    assert_ne!(moves(&first), moves(&second));
    std::fs::remove_dir_all(&sgf).unwrap();
    // The network is a Go environment's agent in `ember watch`, shown with its analysis and
    // ownership, and a Go environment's opponent.
    let out = Command::new(&ember)
        .args(["watch", "Go5x5-v0", "--fps", "0", "--agent", &spec])
        .args(["--set", "opponent=uct:20"])
        .output()
        .unwrap();
    common::assert_ok(&out);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("agent's last move: value") && text.contains("expected ownership"),
        "{text}"
    );
    assert!(text.contains("opponent: uct:20"), "{text}");
    assert!(text.contains("episode terminated"), "{text}");
    // A 5x5 network asked to play 7x7 is refused, naming both.
    let out = Command::new(&ember)
        .args([
            "match", "go", "--size", "7", "--black", &spec, "--white", "random",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("go7x7"), "{err}");
    // A run without checkpoints, and a directory that is no run.
    let empty = tmp("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let out = Command::new(&ember)
        .args(["match", "go", "--size", "5", "--white", "random", "--black"])
        .arg(format!("az:{}", empty.display()))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains(&empty.display().to_string()));
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::remove_dir_all(&empty).unwrap();
}

#[test]
fn search_players_act_and_oppose_in_the_go_environments() {
    let Some(ember) = common::ember_bin() else {
        return;
    };
    // UCT with 300 playouts against the random opponent on 5x5: it wins every episode.
    let out = Command::new(&ember)
        .args(["eval", "Go5x5-v0", "--agent", "uct:300", "--episodes", "4"])
        .args(["--seed", "3", "--json"])
        .output()
        .unwrap();
    common::assert_ok(&out);
    let text = String::from_utf8_lossy(&out.stdout);
    let r: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(r["policy"], "uct:300", "{r}");
    assert_eq!(r["mean_return"], 1.0, "{r}");
    // The other way round: random against a UCT opponent loses every episode.
    let out = Command::new(&ember)
        .args(["eval", "Go5x5-v0", "--episodes", "3", "--json"])
        .args(["--set", "opponent=uct:300", "--set", "color=white"])
        .output()
        .unwrap();
    common::assert_ok(&out);
    let text = String::from_utf8_lossy(&out.stdout);
    let r: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(r["mean_return"], -1.0, "{r}");
    // Watching: the board after every step with the search's candidates.
    let out = Command::new(&ember)
        .args(["watch", "Go9x9-v0", "--agent", "uct:50", "--fps", "0"])
        .args(["--max-steps", "3"])
        .output()
        .unwrap();
    common::assert_ok(&out);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        text.matches("agent's last move: value").count(),
        3,
        "{text}"
    );
    // Search players outside Go, and bad specs, are clear errors.
    for (args, needle) in [
        (
            vec!["watch", "Breakout-v0", "--agent", "uct:10"],
            "Go environments",
        ),
        (vec!["watch", "Go9x9-v0", "--agent", "uct:x"], "uct:x"),
        (
            vec!["eval", "Go9x9-v0", "--set", "opponent=uct:0"],
            "opponent",
        ),
        (
            vec!["eval", "Breakout-v0", "--set", "opponent=uct:5"],
            "opponent",
        ),
    ] {
        let out = Command::new(&ember).args(&args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && err.contains(needle),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn the_net_search_bench_times_fresh_searches() {
    let Some(ember) = common::ember_bin() else {
        return;
    };
    let out = Command::new(&ember)
        .args(["bench", "search", "--game", "connect_four", "--net", "8x1"])
        .args(["--sims", "16", "--games", "4", "--threads", "2"])
        .args(["--seconds", "0.6", "--json"])
        .output()
        .unwrap();
    common::assert_ok(&out);
    let text = String::from_utf8_lossy(&out.stdout);
    let r: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(r["threads"], 2, "{r}");
    assert!(r["single_evals_per_sec"].as_f64().unwrap() > 0.0, "{r}");
    assert!(r["batched_evals_per_sec"].as_f64().unwrap() > 0.0, "{r}");
    // Each timed search starts from a fresh tree: 16 simulations from the empty board never
    // reach a finished game, so every one evaluates a leaf (plus the root). A tree kept between
    // searches of the same position would deepen until most walks end in finished games.
    let per = r["single_evals_per_search"].as_f64().unwrap();
    assert!((16.0..=17.0).contains(&per), "{r}");
}

#[test]
fn the_learning_rate_decays_to_its_final_fraction_and_bad_fractions_are_refused() {
    let Some(ember) = common::ember_bin() else {
        return;
    };
    let dir = tmp("lr");
    train(
        &ember,
        "az_connect_four.toml",
        &dir,
        &["train.lr=0.002", "train.lr_final_fraction=0.1"],
    );
    let scalars = ember_nets::tensorboard::read_scalars(&dir).unwrap();
    let lr = &scalars["charts/learning_rate"];
    let last = lr.last().unwrap();
    assert_eq!(last.step, 6);
    // The cosine ends at lr · fraction on the last update.
    assert!((last.value - 0.0002).abs() < 1e-9, "{lr:?}");
    let _ = std::fs::remove_dir_all(&dir);

    let out = Command::new(&ember)
        .arg("train")
        .arg(common::repo_root().join("experiments/az_connect_four.toml"))
        .args(["--set", "train.lr_final_fraction=2"])
        .arg("--run-dir")
        .arg(tmp("lr-bad"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("lr_final_fraction") && err.contains("[0, 1]"),
        "{err}"
    );
}
