//! The `ember` binary end to end: the verbs of `docs/cli.md`, their JSON, and their errors.

mod common;

use common::{ember, last_json, stderr};

const GAMES: [(&str, usize); 5] = [
    ("Breakout-v0", 4),
    ("SpaceInvaders-v0", 6),
    ("Freeway-v0", 7),
    ("Asterix-v0", 4),
    ("Seaquest-v0", 10),
];

#[test]
fn envs_json_lists_every_contract_id() {
    let v = last_json(&ember(&["envs", "--json"]));
    let envs = v["envs"].as_array().unwrap();
    let find = |id: &str| {
        envs.iter()
            .find(|e| e["id"] == id)
            .unwrap_or_else(|| panic!("{id} missing from ember envs"))
    };
    for (id, c) in GAMES {
        let e = find(id);
        assert_eq!(
            e["observation_shape"],
            serde_json::json!([c, 10, 10]),
            "{id}"
        );
        assert_eq!(e["actions"], 6, "{id}");
        let opts: Vec<&str> = e["options"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["name"].as_str().unwrap())
            .collect();
        for o in [
            "sticky_action_prob",
            "difficulty_ramping",
            "minimal_actions",
            "max_steps",
        ] {
            assert!(opts.contains(&o), "{id} lacks option {o}");
        }
    }
    let cp = find("CartPole-v1");
    assert_eq!(cp["observation_shape"], serde_json::json!([4]));
    assert_eq!(cp["actions"], 2);
    // The table form names them too.
    let table = String::from_utf8_lossy(&ember(&["envs"]).stdout).into_owned();
    assert!(
        table.contains("Breakout-v0") && table.contains("[4x10x10]"),
        "{table}"
    );
}

#[test]
fn eval_random_json_has_contract_keys_and_is_seeded() {
    let args = [
        "eval",
        "Breakout-v0",
        "--agent",
        "random",
        "--episodes",
        "50",
        "--seed",
        "3",
        "--json",
    ];
    let v = last_json(&ember(&args));
    for k in [
        "env",
        "episodes",
        "mean_return",
        "std_return",
        "mean_length",
        "std_length",
    ] {
        assert!(v.get(k).is_some(), "missing {k} in {v}");
    }
    assert_eq!(v["episodes"], 50);
    assert_eq!(v["truncated_episodes"], 0);
    assert!(v["mean_length"].as_f64().unwrap() > 1.0);
    assert_eq!(v, last_json(&ember(&args)), "same seed, same result");
}

#[test]
fn eval_caps_episodes_that_never_end() {
    // Freeway lasts 2501 steps: a cap of 100 cuts every episode, as truncated.
    let args = [
        "eval",
        "Freeway-v0",
        "--episodes",
        "3",
        "--max-episode-steps",
        "100",
        "--json",
    ];
    let v = last_json(&ember(&args));
    assert_eq!(v["mean_length"], 100.0);
    assert_eq!(v["truncated_episodes"], 3);
}

#[test]
fn bench_env_json() {
    let v = last_json(&ember(&[
        "bench",
        "env",
        "Freeway-v0",
        "--steps",
        "20000",
        "--json",
    ]));
    assert_eq!(v["env"], "Freeway-v0");
    assert_eq!(v["steps"], 20000);
    assert!(v["steps_per_sec"].as_f64().unwrap() > 1000.0);
}

#[test]
fn watch_writes_an_animated_gif() {
    let dir = std::env::temp_dir().join(format!("ember-watch-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("breakout.gif");
    let o = ember(&[
        "watch",
        "Breakout-v0",
        "--gif",
        path.to_str().unwrap(),
        "--seed",
        "1",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(&bytes[..6], b"GIF89a");
    let mut dec = gif::DecodeOptions::new();
    dec.set_color_output(gif::ColorOutput::RGBA);
    let mut d = dec.read_info(std::io::Cursor::new(&bytes)).unwrap();
    assert_eq!((d.width(), d.height()), (200, 200));
    let mut frames = 0;
    while d.read_next_frame().unwrap().is_some() {
        frames += 1;
    }
    assert!(
        frames >= 2,
        "an episode has at least two frames, got {frames}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn watch_in_a_pipe_prints_text_frames_and_the_outcome() {
    let o = ember(&["watch", "Breakout-v0", "--fps", "0", "--seed", "2"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("legend: p paddle, b ball, t trail, B brick"),
        "{out}"
    );
    assert!(out.contains("episode terminated after"), "{out}");
}

#[test]
fn bad_input_gives_clear_errors() {
    let o = ember(&["eval", "Breakout-v9"]);
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(
        e.contains("unknown environment id `Breakout-v9`") && e.contains("Breakout-v0"),
        "{e}"
    );

    let e = stderr(&ember(&[
        "eval",
        "Breakout-v0",
        "--set",
        "sticky_action_prob=2",
    ]));
    assert!(
        e.contains("sticky_action_prob") && e.contains("[0, 1]"),
        "{e}"
    );
    let e = stderr(&ember(&["eval", "Breakout-v0", "--set", "speed=3"]));
    assert!(
        e.contains("unknown option `speed`") && e.contains("minimal_actions"),
        "{e}"
    );
    let e = stderr(&ember(&["eval", "Breakout-v0", "--set", "minimal_actions"]));
    assert!(e.contains("key=value"), "{e}");
    let e = stderr(&ember(&["eval", "Breakout-v0", "--agent", "genius"]));
    assert!(e.contains("unknown agent `genius`"), "{e}");
    let o = ember(&["bench", "env", "Breakout-v0", "--steps", "0"]);
    assert!(!o.status.success() && stderr(&o).contains("--steps"));
    // Nothing panics.
    for o in [ember(&["eval", "Breakout-v9"]), ember(&["watch", "Nope"])] {
        assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
    }
}

#[test]
fn every_verb_has_help() {
    for verb in [&["envs"][..], &["eval"], &["watch"], &["bench", "env"]] {
        let mut args = verb.to_vec();
        args.push("--help");
        let o = ember(&args);
        assert!(o.status.success(), "{verb:?} --help failed");
        assert!(
            String::from_utf8_lossy(&o.stdout).contains("Usage"),
            "{verb:?}"
        );
    }
}

/// Python Gymnasium envs through the `gym` feature: `ember eval gym:CartPole-v1`.
#[cfg(feature = "gym")]
#[test]
fn eval_a_python_gymnasium_env() {
    let v = last_json(&ember(&[
        "eval",
        "gym:CartPole-v1",
        "--episodes",
        "20",
        "--seed",
        "1",
        "--json",
    ]));
    assert_eq!(v["env"], "gym:CartPole-v1");
    let mean = v["mean_length"].as_f64().unwrap();
    assert!(
        (8.0..60.0).contains(&mean),
        "random CartPole lasts ~22 steps, got {mean}"
    );
    let e = stderr(&ember(&["eval", "gym:NoSuchEnv-v0"]));
    assert!(e.contains("NoSuchEnv-v0"), "{e}");
}

/// `ember train` on a Python Gymnasium env: `[env] gym = "CartPole-v1"`.
#[cfg(feature = "gym")]
#[test]
fn train_ppo_on_a_python_gymnasium_env() {
    let dir = std::env::temp_dir().join(format!("ember-gym-train-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let base = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../experiments/ppo_cartpole.toml"
    ))
    .unwrap();
    let toml = base.replace("id = \"CartPole-v1\"", "gym = \"CartPole-v1\"");
    assert_ne!(
        toml, base,
        "ppo_cartpole.toml names its env with `id = \"CartPole-v1\"`"
    );
    let file = dir.join("gym_cartpole.toml");
    std::fs::write(&file, toml).unwrap();
    let run = dir.join("run");
    let o = ember(&[
        "train",
        file.to_str().unwrap(),
        "--run-dir",
        run.to_str().unwrap(),
        "--set",
        "train.total_steps=512",
        "--set",
        "train.eval_every=0",
        "--json",
    ]);
    let v = last_json(&o);
    assert!(v["steps"].as_u64().unwrap() >= 512, "{v}");
    let cfg = std::fs::read_to_string(run.join("config.toml")).unwrap();
    assert!(cfg.contains("gym:CartPole-v1"), "{cfg}");
    std::fs::remove_dir_all(&dir).ok();
}

#[cfg(not(feature = "gym"))]
#[test]
fn gym_ids_without_the_feature_say_how_to_get_it() {
    let e = stderr(&ember(&["eval", "gym:CartPole-v1"]));
    assert!(e.contains("--features gym"), "{e}");
}
