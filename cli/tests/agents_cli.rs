//! `ember train` on every DQN and PPO experiment file (a few hundred steps each), resuming,
//! config errors that name the key, a diverging run, and `ember eval`/`watch --agent RUN_DIR`.

mod common;

use common::{ember, last_json, stderr};

use std::path::{Path, PathBuf};
use std::process::Output;

fn experiment(file: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../experiments")
        .join(file)
        .display()
        .to_string()
}

const GAMES: [&str; 6] = [
    "breakout",
    "space_invaders",
    "freeway",
    "asterix",
    "seaquest",
    "cartpole",
];

/// Short versions of an experiment: a few hundred steps, learning and checkpoints inside them.
fn short(kind: &str) -> Vec<&'static str> {
    match kind {
        "dqn" => vec![
            "train.total_steps=300",
            "train.learning_starts=100",
            "train.target_update_period=100",
            "train.checkpoint_every=200",
            "train.eval_every=200",
            "train.eval_episodes=2",
            "train.eval_max_steps=200",
            "train.buffer_size=1000",
        ],
        _ => vec![
            "train.num_envs=4",
            "train.num_steps=32",
            "train.num_minibatches=2",
            "train.update_epochs=2",
            "train.total_steps=384",
            "train.checkpoint_every=128",
            "train.eval_every=256",
            "train.eval_episodes=2",
            "train.eval_max_steps=200",
        ],
    }
}

fn train(file: &str, kind: &str, dir: &Path, extra: &[&str]) -> Output {
    let exp = experiment(file);
    let mut args = vec![
        "train",
        exp.as_str(),
        "--run-dir",
        dir.to_str().unwrap(),
        "--json",
    ];
    let sets: Vec<&str> = short(kind)
        .into_iter()
        .chain(extra.iter().copied())
        .collect();
    for s in &sets {
        args.push("--set");
        args.push(s);
    }
    ember(&args)
}

#[test]
fn every_experiment_file_trains_briefly_and_leaves_a_loadable_agent() {
    let tmp = tempfile::tempdir().unwrap();
    for (prefix, kind) in [("dqn", "dqn"), ("ppo", "ppo"), ("ppo_conv", "ppo")] {
        for game in GAMES {
            if prefix == "ppo_conv" && game == "cartpole" {
                continue;
            }
            let file = format!("{prefix}_{game}.toml");
            let dir = tmp.path().join(format!("{prefix}_{game}"));
            let v = last_json(&train(&file, kind, &dir, &[]));
            assert_eq!(v["kind"], kind, "{file}");
            assert!(v["eval_mean_return"].as_f64().is_some(), "{file}: {v}");
            assert!(v["steps"].as_u64().unwrap() >= 300, "{file}: {v}");
            assert!(v["updates"].as_u64().unwrap() > 0, "{file}: {v}");
            let summary: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap())
                    .unwrap();
            for k in ["eval_mean_return", "steps", "wall_seconds"] {
                assert!(
                    summary.get(k).is_some_and(|x| !x.is_null()),
                    "{file}: summary lacks {k}"
                );
            }
            assert!(dir.join("config.toml").is_file());
            let events = std::fs::read_dir(&dir)
                .unwrap()
                .flatten()
                .any(|e| e.file_name().to_string_lossy().contains("tfevents"));
            assert!(events, "{file}: no event file");
            // The checkpoint loads as an agent and plays: two episodes of `eval TARGET ARGS…`,
            // each cut at 300 steps (a greedy policy that is barely trained may never end an
            // episode; MinAtar's games have no time limit of their own).
            let env = v["env"].as_str().unwrap().to_string();
            let dir_s = dir.to_str().unwrap();
            let eval = |target: &str, more: &[&str]| {
                let mut args = vec!["eval", target, "--episodes", "2"];
                args.extend(["--set", "max_steps=300", "--json"]);
                args.extend(more);
                last_json(&ember(&args))
            };
            let e = eval(&env, &["--agent", dir_s]);
            assert_eq!(e["episodes"], 2, "{file}");
            assert_eq!(e["policy"], "greedy", "{file}");
            // PPO agents also act by sampling π; DQN agents ε-greedily, and refuse sampling.
            let (mode, policy): (&[&str], _) = match kind {
                "ppo" => (&["--stochastic"], "stochastic"),
                _ => (&["--epsilon", "0.05"], "epsilon=0.05"),
            };
            let e = eval(&env, &[&["--agent", dir_s], mode].concat());
            assert_eq!(e["policy"], policy, "{file}");
            // The run directory alone evaluates the agent on the env it trained on.
            if game == GAMES[0] {
                let e = eval(dir_s, &[]);
                assert_eq!(e["env"], env.as_str(), "{file}");
                assert_eq!(e["agent"], dir_s, "{file}");
                assert_eq!(e["episodes"], 2, "{file}");
                // `--agent random` plays the random baseline on that same env.
                let e = eval(dir_s, &["--agent", "random"]);
                assert_eq!(e["env"], env.as_str(), "{file}");
                assert_eq!(
                    (&e["agent"], &e["policy"]),
                    (&"random".into(), &"uniform".into())
                );
                // Another run as --agent is ambiguous, and refused.
                let o = ember(&["eval", dir_s, "--agent", dir_s]);
                assert!(
                    !o.status.success() && stderr(&o).contains("not both"),
                    "{}",
                    stderr(&o)
                );
            }
            if kind == "dqn" && game == GAMES[0] {
                let o = ember(&["eval", &env, "--agent", dir_s, "--stochastic"]);
                assert!(
                    !o.status.success() && stderr(&o).contains("no action distribution"),
                    "{}",
                    stderr(&o)
                );
            }
        }
    }
}

#[test]
fn resume_continues_the_step_count_and_reproduces_the_run() {
    let tmp = tempfile::tempdir().unwrap();
    for (file, kind) in [("dqn_breakout.toml", "dqn"), ("ppo_cartpole.toml", "ppo")] {
        let full = tmp.path().join(format!("{kind}_full"));
        let cut = tmp.path().join(format!("{kind}_cut"));
        let a = last_json(&train(file, kind, &full, &[]));
        last_json(&train(file, kind, &cut, &[]));
        // Simulate a kill after the first checkpoint: drop the end (newest checkpoint, summary).
        let ck = cut.join("checkpoints");
        let mut files: Vec<PathBuf> = std::fs::read_dir(&ck)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .collect();
        files.sort();
        let newest = files
            .iter()
            .rfind(|p| p.to_string_lossy().ends_with(".ember"))
            .unwrap()
            .clone();
        let step = newest
            .file_stem()
            .unwrap()
            .to_string_lossy()
            .trim_start_matches("ckpt-")
            .to_string();
        for f in &files {
            if f.to_string_lossy().contains(&step) {
                std::fs::remove_file(f).unwrap();
            }
        }
        std::fs::remove_file(cut.join("summary.json")).unwrap();
        let o = ember(&["train", "--resume", cut.to_str().unwrap(), "--json"]);
        assert!(stderr(&o).contains("resuming from step"), "{}", stderr(&o));
        let b = last_json(&o);
        for k in [
            "steps",
            "updates",
            "episodes",
            "eval_mean_return",
            "weights_fingerprint",
        ] {
            assert_eq!(a[k], b[k], "{file}: {k} differs after resuming");
        }
    }
}

#[test]
fn config_errors_name_the_key() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("x");
    let cases: [(&[&str], &[&str]); 6] = [
        (&["train.lrr=1"], &["lrr", "expected one of"]),
        (&["train.lr=fast"], &["train.lr", "fast"]),
        (&["train.gamma=2"], &["train.gamma"]),
        (&["model.widht=3"], &["widht"]),
        (&["env.id=Nope-v0"], &["Nope-v0"]),
        (&["env.sticky_action_prob=7"], &["sticky_action_prob"]),
    ];
    for (sets, needles) in cases {
        let o = train("dqn_breakout.toml", "dqn", &d, sets);
        assert!(!o.status.success(), "{sets:?} was accepted");
        let e = stderr(&o);
        for n in needles {
            assert!(e.contains(n), "{sets:?}: {e}");
        }
        assert!(
            !d.join("config.toml").exists(),
            "{sets:?} left a run behind"
        );
    }
    let bad = tmp.path().join("bad.toml");
    std::fs::write(&bad, "name = \"b\"\nkind = \"ppo\"\n[env\nid = 1\n").unwrap();
    let o = ember(&["train", bad.to_str().unwrap()]);
    assert!(
        !o.status.success() && stderr(&o).contains("malformed TOML"),
        "{}",
        stderr(&o)
    );
    std::fs::write(
        &bad,
        "name = \"b\"\nkind = \"ppo\"\n[env]\nid = \"CartPole-v1\"\n[train]\nnum_envs = \"four\"\n",
    )
    .unwrap();
    let o = ember(&["train", bad.to_str().unwrap()]);
    assert!(
        !o.status.success() && stderr(&o).contains("train.num_envs"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_nan_loss_stops_the_run_and_keeps_the_last_good_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("nan");
    let o = train(
        "dqn_cartpole.toml",
        "dqn",
        &d,
        &[
            "train.lr=1e30",
            "train.total_steps=2000",
            "train.learning_starts=200",
            "train.eval_every=0",
        ],
    );
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(
        e.contains("TD loss") && e.contains("last good checkpoint is kept (step 200)"),
        "{e}"
    );
    assert!(d.join("checkpoints/ckpt-000000000200.ember").is_file());
    assert!(!d.join("summary.json").exists());
    // The kept checkpoint still loads as an agent.
    let o = ember(&[
        "eval",
        "CartPole-v1",
        "--agent",
        d.to_str().unwrap(),
        "--episodes",
        "1",
        "--json",
    ]);
    last_json(&o);
}

#[test]
fn keep_best_keeps_the_best_evaluated_network_and_eval_plays_it() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("best");
    // dqn_cartpole.toml keeps its best network (train.keep_best = true).
    let o = train(
        "dqn_cartpole.toml",
        "dqn",
        &d,
        &[
            "train.total_steps=1200",
            "train.learning_starts=100",
            "train.train_frequency=16",
            "train.gradient_steps=8",
            "train.eval_every=200",
            "train.eval_episodes=3",
        ],
    );
    let s = last_json(&o);
    let step = s["best_eval_step"].as_u64().expect("a best evaluation");
    let best = s["best_eval_mean_return"].as_f64().unwrap();
    assert!(best >= s["eval_mean_return"].as_f64().unwrap(), "{s}");
    assert_eq!(s["best_eval_episodes"], 3, "{s}");
    assert_eq!(step % 200, 0, "{s}");
    // Every evaluation the run printed is at most the kept one, and the kept one is among them.
    let e = stderr(&o);
    let evals: Vec<f64> = e
        .lines()
        .filter_map(|l| {
            l.split("eval return ")
                .nth(1)?
                .split(' ')
                .next()?
                .parse()
                .ok()
        })
        .collect();
    assert!(!evals.is_empty(), "{e}");
    assert!(evals.iter().all(|&v| v <= best + 1e-9), "{e}");
    assert!(e.contains("kept as best.ember"), "{e}");
    assert!(d.join("checkpoints/best.ember").is_file());
    // `ember eval RUN_DIR` plays that network and says so.
    let o = ember(&["eval", d.to_str().unwrap(), "--episodes", "2", "--json"]);
    last_json(&o);
    let e = stderr(&o);
    assert!(
        e.contains(&format!("its best evaluated network of step {step}")),
        "{e}"
    );
    // Without the file it falls back to the newest checkpoint.
    std::fs::remove_file(d.join("checkpoints/best.ember")).unwrap();
    let o = ember(&["eval", d.to_str().unwrap(), "--episodes", "1", "--json"]);
    last_json(&o);
    assert!(
        stderr(&o).contains("checkpoint of step 1200"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn watch_a_trained_agent_and_refuse_a_mismatched_env() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("ppo");
    last_json(&train("ppo_cartpole.toml", "ppo", &d, &[]));
    let gif = tmp.path().join("cp.gif");
    let o = ember(&[
        "watch",
        "CartPole-v1",
        "--agent",
        d.to_str().unwrap(),
        "--gif",
        gif.to_str().unwrap(),
        "--max-steps",
        "50",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(&std::fs::read(&gif).unwrap()[..6], b"GIF89a");
    let o = ember(&[
        "eval",
        "Breakout-v0",
        "--agent",
        d.to_str().unwrap(),
        "--episodes",
        "1",
    ]);
    assert!(
        !o.status.success() && stderr(&o).contains("trained on observations of 4 values"),
        "{}",
        stderr(&o)
    );
    let o = ember(&["eval", "CartPole-v1", "--agent", "no/such/run"]);
    assert!(
        !o.status.success() && stderr(&o).contains("unknown agent"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn plot_overlays_runs_from_their_event_files() {
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("ppo_seed1");
    let b = tmp.path().join("ppo_seed2");
    last_json(&train("ppo_cartpole.toml", "ppo", &a, &[]));
    last_json(&train("ppo_cartpole.toml", "ppo", &b, &["seed=2"]));
    let out = tmp.path().join("plots/curves.png");
    let o = ember(&[
        "plot",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--json",
    ]);
    let j = last_json(&o);
    assert_eq!(j["tags"][0], "eval/mean_return", "{j}");
    assert_eq!(j["tags"][1], "charts/episodic_return", "{j}");
    let runs = j["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[1]["label"], "ppo_seed2");
    let ret = &runs[0]["tags"]["charts/episodic_return"];
    assert!(ret["points"].as_u64().unwrap() > 5, "{j}");
    assert_eq!(ret["last_step"].as_u64().unwrap() % 4, 0, "{j}");
    // A real PNG of the default size: 960 wide, two panels of 420.
    let png = std::fs::read(&out).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(png[20..24].try_into().unwrap());
    assert_eq!((width, height), (960, 840));

    // One chosen tag, and errors that name the problem.
    let one = tmp.path().join("loss.png");
    let o = ember(&[
        "plot",
        a.to_str().unwrap(),
        "--tag",
        "losses/value_loss",
        "--out",
        one.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = ember(&[
        "plot",
        a.to_str().unwrap(),
        "--tag",
        "nope",
        "--out",
        one.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("no run logged the tag \"nope\"") && stderr(&o).contains("charts/SPS"),
        "{}",
        stderr(&o)
    );
    let o = ember(&[
        "plot",
        tmp.path().to_str().unwrap(),
        "--out",
        one.to_str().unwrap(),
    ]);
    assert!(
        stderr(&o).contains("no TensorBoard event files"),
        "{}",
        stderr(&o)
    );
    let o = ember(&["plot", a.to_str().unwrap(), "--out", "curves.jpg"]);
    assert!(stderr(&o).contains("only PNG"), "{}", stderr(&o));
}
