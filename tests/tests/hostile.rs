//! The reliability suite: what a hostile but realistic user does to `ember` (issue 16), each case
//! kept as a regression test through the built binary. A GTP engine behind a server (file
//! access, line lengths, engines that never answer), files that are not files (`/dev/zero`,
//! FIFOs), closed pipes and full disks, sizes that would exhaust memory, a checkpoint directory
//! with junk in it, TensorBoard logs after a resume, and the validation of flags.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A fresh scratch directory for one test.
fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ember-hostile-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Runs `ember ARGS` with `envs` set, killing it (and failing) after `limit`.
fn run(ember: &Path, args: &[&str], envs: &[(&str, &str)], limit: Duration) -> Output {
    let mut cmd = Command::new(ember);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "`ember {}` did not end within {limit:?}; stderr: {}",
                args.join(" "),
                text(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Asserts a failure with status 1, one `error:` message containing every needle, no panic.
fn assert_error(out: &Output, needles: &[&str]) {
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    for n in needles {
        assert!(err.contains(n), "expected `{n}` in: {err}");
    }
}

const SHORT_PPO: [&str; 10] = [
    "train.num_envs=4",
    "train.num_steps=32",
    "train.num_minibatches=2",
    "train.update_epochs=2",
    "train.total_steps=640",
    "train.checkpoint_every=128",
    "train.eval_every=128",
    "train.eval_episodes=2",
    "train.eval_max_steps=200",
    "train.keep_checkpoints=3",
];

/// `ember train` of a short PPO CartPole run into `dir`, with more `--set`s (later ones win).
fn train_args(dir: &Path, extra: &[&str]) -> Vec<String> {
    let exp = common::repo_root().join("experiments/ppo_cartpole.toml");
    let mut args = vec![
        "train".to_string(),
        exp.display().to_string(),
        "--run-dir".into(),
        dir.display().to_string(),
    ];
    for s in SHORT_PPO.iter().chain(extra) {
        args.push("--set".into());
        args.push(s.to_string());
    }
    args
}

/// Trains a short PPO CartPole run into `dir` (a few seconds).
fn train_short(ember: &Path, dir: &Path, extra: &[&str]) -> Output {
    let args = train_args(dir, extra);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run(ember, &args, &[], Duration::from_secs(300))
}

fn checkpoints(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir.join("checkpoints"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with(".ember"))
        .collect();
    v.sort();
    v
}

fn mkfifo(p: &Path) {
    assert!(Command::new("mkfifo").arg(p).status().unwrap().success());
}

#[test]
fn gtp_touches_no_file_by_default_and_only_its_sgf_dir_with_one() {
    let Some(ember) = common::ember_bin() else {
        return;
    };
    let root = scratch("gtp-files");
    let dir = root.join("sgf");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(root.join("secret.sgf"), "(;GM[1]SZ[9];B[ee])").unwrap();
    std::os::unix::fs::symlink(root.join("secret.sgf"), dir.join("link.sgf")).unwrap();
    mkfifo(&dir.join("fifo.sgf"));
    let outside = root.join("written.sgf");
    let input = format!(
        "1 loadsgf /etc/passwd\n2 printsgf {}\n3 printsgf\n",
        outside.display()
    );
    let a = common::gtp_session(&ember, &["--size", "9"], &input);
    assert!(a[0].starts_with("?1 file access is disabled"), "{a:?}");
    assert!(a[1].starts_with("?2 file access is disabled"), "{a:?}");
    assert!(a[2].starts_with("=3\n(;GM[1]"), "{a:?}");
    assert!(!outside.exists());
    let input = format!(
        "1 loadsgf ../secret.sgf\n2 loadsgf link.sgf\n3 printsgf {}\n4 loadsgf fifo.sgf\n\
         5 loadsgf /dev/zero\n6 play b E5\n7 printsgf game.sgf\n8 clear_board\n9 loadsgf game.sgf\n\
         10 list_stones b\n",
        outside.display()
    );
    let d = dir.display().to_string();
    let a = common::gtp_session(&ember, &["--size", "9", "--sgf-dir", &d], &input);
    assert!(a[0].starts_with("?1 '../secret.sgf' is outside"), "{a:?}");
    assert!(a[1].starts_with("?2 'link.sgf' is outside"), "{a:?}");
    assert!(
        a[2].starts_with("?3 ") && a[2].contains("is outside"),
        "{a:?}"
    );
    assert!(
        a[3].starts_with("?4 cannot open 'fifo.sgf': not a regular file (a FIFO)"),
        "{a:?}"
    );
    assert!(a[4].starts_with("?5 '/dev/zero' is outside"), "{a:?}");
    assert_eq!(&a[5..], ["=6", "=7", "=8", "=9 white", "=10 E5"]);
    assert!(!outside.exists());
    // A directory that does not exist is an error at start.
    let out = run(
        &ember,
        &["gtp", "--sgf-dir", root.join("nope").to_str().unwrap()],
        &[],
        Duration::from_secs(20),
    );
    assert_error(&out, &["--sgf-dir"]);
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn gtp_lines_are_bounded_and_bad_clock_values_are_errors() {
    let Some(ember) = common::ember_bin() else {
        return;
    };
    let mut child = Command::new(&ember)
        .args(["gtp", "--size", "9"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // 8 MiB without a newline, written while the engine answers: it must neither buffer it all
    // nor stop answering.
    let writer = std::thread::spawn(move || {
        stdin.write_all(b"1 name\n2 boardsize ").unwrap();
        let chunk = vec![b'9'; 1 << 20];
        for _ in 0..8 {
            stdin.write_all(&chunk).unwrap();
        }
        stdin
            .write_all(b"\n3 time_left b abc def\n4 time_left b 10 x\n5 name\n6 quit\n")
            .unwrap();
    });
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut answers = Vec::new();
    let mut line = String::new();
    while out.read_line(&mut line).unwrap() > 0 {
        if !line.trim().is_empty() {
            answers.push(line.trim().to_string());
        }
        line.clear();
    }
    writer.join().unwrap();
    assert!(child.wait().unwrap().success());
    assert_eq!(
        answers,
        [
            "=1 Ember",
            "?2 line too long (the limit is 64 KiB)",
            "?3 syntax error",
            "?4 syntax error",
            "=5 Ember",
            "=6"
        ]
    );
}

#[test]
fn external_engines_that_never_answer_time_out() {
    let Some(ember) = common::ember_bin() else {
        return;
    };
    let root = scratch("gtp-timeouts");
    // Engines written as shell scripts: one that reads commands and never answers any, and one
    // that answers the handshake and every setup command, then never answers `genmove`.
    let mute = root.join("mute.sh");
    std::fs::write(&mute, "while read l; do :; done\n").unwrap();
    let slow = root.join("slow.sh");
    std::fs::write(
        &slow,
        "while read l; do case $l in genmove*) ;; *) printf '=\\n\\n';; esac; done\n",
    )
    .unwrap();
    let mute = format!("gtp:sh {}", mute.display());
    let slow = format!("gtp:sh {}", slow.display());
    let handshake = ("EMBER_GTP_HANDSHAKE_TIMEOUT", "1");
    let per_move = ("EMBER_GTP_MOVE_TIMEOUT", "1");
    let vs_random = |black: &str| -> Vec<String> {
        [
            "match", "go", "--size", "9", "--black", black, "--white", "random",
        ]
        .map(String::from)
        .to_vec()
    };
    let eval_vs = |engine: &str| -> Vec<String> {
        let opponent = format!("opponent={engine}");
        ["eval", "Go5x5-v0", "--episodes", "1", "--set", &opponent]
            .map(String::from)
            .to_vec()
    };
    let gtp_player =
        |engine: &str| -> Vec<String> { ["gtp", "--player", engine].map(String::from).to_vec() };
    // (arguments, an environment variable, what the error must say)
    type Case<'a> = (Vec<String>, (&'a str, &'a str), Vec<&'a str>);
    let cases: Vec<Case> = vec![
        (
            vs_random("gtp:/bin/cat"),
            handshake,
            vec![
                "--black",
                "no answer to `protocol_version` within 1 s, the handshake timeout",
                "EMBER_GTP_HANDSHAKE_TIMEOUT",
            ],
        ),
        (
            vs_random(&mute),
            handshake,
            vec!["no answer to `protocol_version`", "handshake timeout"],
        ),
        (
            gtp_player("gtp:/bin/cat"),
            handshake,
            vec!["--player", "no answer to `protocol_version`"],
        ),
        (
            eval_vs("gtp:/bin/cat"),
            handshake,
            vec!["no answer to `protocol_version`"],
        ),
        // The handshake passes; the first move does not come.
        (
            vs_random(&slow),
            per_move,
            vec![
                "no answer to `genmove B` within 1 s, the per-move timeout",
                "EMBER_GTP_MOVE_TIMEOUT",
            ],
        ),
        (
            eval_vs(&slow),
            per_move,
            vec!["no answer to `genmove W`", "per-move timeout"],
        ),
        // EMBER_GTP_TIMEOUT sets both.
        (
            vs_random(&slow),
            ("EMBER_GTP_TIMEOUT", "1"),
            vec!["no answer to `genmove B` within 1 s"],
        ),
        (
            vs_random("gtp:/bin/cat"),
            ("EMBER_GTP_TIMEOUT", "soon"),
            vec!["EMBER_GTP_TIMEOUT=soon", "seconds"],
        ),
        (
            vs_random(&slow),
            ("EMBER_GTP_MOVE_TIMEOUT", "0"),
            vec!["EMBER_GTP_MOVE_TIMEOUT=0", "seconds"],
        ),
    ];
    for (args, var, needles) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = run(&ember, &args, &[var], Duration::from_secs(30));
        assert_error(&out, &needles);
    }
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn files_that_are_not_regular_files_are_refused_at_once() {
    let Some(ember) = common::ember_bin() else {
        return;
    };
    let root = scratch("not-files");
    let limit = Duration::from_secs(30);
    // An experiment that is a device or a FIFO: an error, not a hang or a growing read.
    let fifo = root.join("exp.toml");
    mkfifo(&fifo);
    let out = run(&ember, &["train", "/dev/zero"], &[], limit);
    assert_error(
        &out,
        &["/dev/zero", "not a regular file (a character device)"],
    );
    let out = run(&ember, &["train", fifo.to_str().unwrap()], &[], limit);
    assert_error(&out, &["exp.toml", "not a regular file (a FIFO)"]);
    // An event file that is a FIFO, and one that is a symlink to /dev/zero.
    for (name, make) in [
        ("fifo", &mkfifo as &dyn Fn(&Path)),
        ("zero", &|p: &Path| {
            std::os::unix::fs::symlink("/dev/zero", p).unwrap()
        }),
    ] {
        let dir = root.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        make(&dir.join("events.out.tfevents.1.host.1.0"));
        let png = root.join("p.png");
        let out = run(
            &ember,
            &[
                "plot",
                dir.to_str().unwrap(),
                "--out",
                png.to_str().unwrap(),
            ],
            &[],
            limit,
        );
        assert_error(&out, &["events.out.tfevents", "not a regular file"]);
    }
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn closed_pipes_end_quietly_and_full_disks_are_errors() {
    let Some(ember) = common::ember_bin() else {
        return;
    };
    // The reader goes away before anything is written: SIGPIPE's status, nothing on stderr.
    let mut child = Command::new(&ember)
        .args(["envs", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(141), "{}", text(&out.stderr));
    assert_eq!(text(&out.stderr), "");
    // A full disk: an error, status 1.
    let cases: [&[&str]; 3] = [
        &["envs"],
        &["envs", "--json"],
        &["bench", "go", "--playouts", "10", "--json"],
    ];
    for args in cases {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let out = Command::new(&ember)
            .args(args)
            .stdout(full)
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        assert_error(&out, &["No space left on device"]);
    }
    let out = run(
        &ember,
        &[
            "watch",
            "Breakout-v0",
            "--gif",
            "/dev/full",
            "--max-steps",
            "3",
        ],
        &[],
        Duration::from_secs(60),
    );
    assert_error(&out, &["/dev/full", "No space left on device"]);
}

#[test]
fn sizes_that_would_exhaust_memory_are_config_errors() {
    let Some(ember) = common::ember_bin() else {
        return;
    };
    let root = scratch("sizes");
    let dir = root.join("run");
    let limit = Duration::from_secs(60);
    let cases: [(&str, &[&str]); 8] = [
        ("train.num_envs=100000000", &["train.num_envs", "too large"]),
        ("model.mlp=[100000000]", &["[model]", "parameters"]),
        ("model.hidden=100000000", &["model.hidden", "too large"]),
        (
            "train.num_steps=100000000",
            &["train.num_steps", "too large"],
        ),
        ("model.mlp=[0]", &["model"]),
        ("model.hidden=0", &["model.hidden"]),
        (
            "train.max_grad_norm=-1",
            &["train.max_grad_norm", "at least 0"],
        ),
        ("train.gamma=1e308", &["train.gamma", "got 1e308"]),
    ];
    for (set, needles) in cases {
        let out = train_short(&ember, &dir, &[set]);
        assert_error(&out, needles);
        let err = text(&out.stderr);
        assert!(
            !err.contains("179769313486"),
            "{set}: f64::MAX in full: {err}"
        );
        assert!(
            !dir.exists(),
            "{set} created the run directory before failing"
        );
    }
    let events = root.join("events");
    std::fs::create_dir_all(&events).unwrap();
    let mut w = ember_nets::tensorboard::EventWriter::create(&events).unwrap();
    for tag in ["a", "b"] {
        w.scalar(tag, 1, 1.0).unwrap();
    }
    drop(w);
    let png = root.join("p.png");
    let png = png.to_str().unwrap();
    let cases: [&[&str]; 3] = [
        &["--panel-height", "4000000000"],
        &["--width", "100000", "--panel-height", "100000"],
        &[
            "--width",
            "16384",
            "--panel-height",
            "16384",
            "--tag",
            "a",
            "--tag",
            "b",
        ],
    ];
    for flags in cases {
        let mut args = vec!["plot", events.to_str().unwrap(), "--out", png];
        args.extend_from_slice(flags);
        let out = run(&ember, &args, &[], limit);
        assert_error(&out, &["pixels"]);
    }
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn flags_are_validated_with_readable_messages() {
    let Some(ember) = common::ember_bin() else {
        return;
    };
    let root = scratch("flags");
    let limit = Duration::from_secs(60);
    let cases: [(&[&str], &[&str]); 4] = [
        (
            &["eval", "CartPole-v1", "--epsilon", "NaN"],
            &["--epsilon", "[0, 1]"],
        ),
        (&["eval", "CartPole-v1", "--epsilon", "2"], &["--epsilon"]),
        (
            &["eval", "CartPole-v1", "--stochastic"],
            &["--stochastic", "random agent"],
        ),
        (
            &[
                "match", "go", "--black", "random", "--white", "random", "--komi", "1e308",
            ],
            &["--komi", "out of range"],
        ),
    ];
    for (args, needles) in cases {
        let out = run(&ember, args, &[], limit);
        assert_error(&out, needles);
    }
    // Two acting modes at once: a usage error naming both (clap's status 2), for a trained agent
    // too, where neither would be ignored otherwise.
    for verb in ["eval", "watch"] {
        let out = run(
            &ember,
            &[
                verb,
                "CartPole-v1",
                "--agent",
                root.to_str().unwrap(),
                "--stochastic",
                "--epsilon",
                "0.1",
            ],
            &[],
            limit,
        );
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(
            err.contains("'--stochastic' cannot be used with '--epsilon <EPS>'"),
            "{err}"
        );
    }
    // An SGF directory that cannot be written fails before the first game (whoever runs it).
    let file = root.join("a-file");
    std::fs::write(&file, "").unwrap();
    let sub = file.join("games");
    let out = run(
        &ember,
        &[
            "match",
            "go",
            "--size",
            "5",
            "--black",
            "random",
            "--white",
            "random",
            "--sgf-dir",
            sub.to_str().unwrap(),
        ],
        &[],
        limit,
    );
    assert_error(&out, &["--sgf-dir"]);
    assert!(
        !text(&out.stderr).contains("game 1"),
        "{}",
        text(&out.stderr)
    );
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn checkpoint_directory_holds_only_what_the_runner_wrote() {
    let Some(ember) = common::ember_bin() else {
        return;
    };
    let root = scratch("ckdir");
    let dir = root.join("run");
    common::assert_ok(&train_short(&ember, &dir, &[]));
    let good = checkpoints(&dir);
    assert_eq!(good.len(), 3, "{good:?}");
    let ck = dir.join("checkpoints");
    // Pretend the run was killed after its second checkpoint, with a write in flight and junk
    // from elsewhere under a checkpoint's name.
    std::fs::remove_file(&good[2]).unwrap();
    std::fs::remove_file(dir.join("summary.json")).unwrap();
    let junk = ck.join("ckpt-999999999999.ember");
    std::fs::write(&junk, b"not a checkpoint").unwrap();
    // No process has pid 4194305 (above Linux's largest pid_max).
    let stale = ck.join(".ckpt-000000000640.ember.tmp-4194305");
    std::fs::write(&stale, b"half written").unwrap();
    let out = run(
        &ember,
        &["train", "--resume", dir.to_str().unwrap()],
        &[],
        Duration::from_secs(300),
    );
    common::assert_ok(&out);
    let err = text(&out.stderr);
    assert!(err.contains("skipping a damaged checkpoint"), "{err}");
    assert!(err.contains("resuming from step"), "{err}");
    assert!(!stale.exists(), "the stale temp file is still there");
    assert!(junk.exists(), "junk is not the runner's to delete");
    // keep_checkpoints = 3 good ones, the junk not counted.
    let now: Vec<String> = checkpoints(&dir)
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        now,
        [
            "ckpt-000000000384.ember",
            "ckpt-000000000512.ember",
            "ckpt-000000000640.ember",
            "ckpt-999999999999.ember"
        ]
    );

    // A checkpoint that is a symlink to /dev/zero, or a FIFO: refused at once.
    let eval = |e: &Path| {
        run(
            &ember,
            &["eval", e.to_str().unwrap(), "--episodes", "1"],
            &[],
            Duration::from_secs(60),
        )
    };
    std::fs::remove_file(&junk).unwrap();
    let newest = checkpoints(&dir).pop().unwrap();
    std::fs::remove_file(&newest).unwrap();
    std::os::unix::fs::symlink("/dev/zero", &newest).unwrap();
    let out = eval(&dir);
    common::assert_ok(&out);
    assert!(
        text(&out.stderr).contains("not a regular file (a character device)"),
        "{}",
        text(&out.stderr)
    );
    std::fs::remove_file(&newest).unwrap();
    mkfifo(&newest);
    let out = eval(&dir);
    common::assert_ok(&out);
    assert!(
        text(&out.stderr).contains("not a regular file (a FIFO)"),
        "{}",
        text(&out.stderr)
    );
    // Every checkpoint damaged: the message says so.
    for p in checkpoints(&dir) {
        if p != newest {
            std::fs::write(&p, b"EMBERCKP damaged").unwrap();
        }
    }
    let out = eval(&dir);
    assert_error(&out, &["no usable checkpoint", "damaged"]);
    let out = run(
        &ember,
        &["train", "--resume", dir.to_str().unwrap()],
        &[],
        Duration::from_secs(300),
    );
    common::assert_ok(&out);
    assert!(
        text(&out.stderr).contains("no usable checkpoint: the 3 found were damaged"),
        "{}",
        text(&out.stderr)
    );

    // config.toml edited to another kind: refused, naming both.
    let config = dir.join("config.toml");
    let edited = std::fs::read_to_string(&config)
        .unwrap()
        .replace("kind = \"ppo\"", "kind = \"dqn\"");
    std::fs::write(&config, edited).unwrap();
    let out = eval(&dir);
    assert_error(&out, &["kind = \"dqn\"", "\"ppo\""]);
    // ... and so is resuming it: PPO's [train] is not DQN's (and a checkpoint of another kind
    // would be refused by the trainer's own kind check).
    let out = run(
        &ember,
        &["train", "--resume", dir.to_str().unwrap()],
        &[],
        Duration::from_secs(60),
    );
    assert_error(&out, &["config.toml", "unknown field"]);

    // An I/O error prints its cause once.
    std::fs::remove_dir_all(&ck).unwrap();
    std::fs::write(&ck, "").unwrap();
    let out = eval(&dir);
    let err = text(&out.stderr);
    assert_eq!(err.matches("Not a directory").count(), 1, "{err}");
    std::fs::remove_dir_all(&root).unwrap();
}

/// Sets `ckpt`'s CRC-32C (its last four bytes) to match the rest, as a crafted file would.
fn fix_crc(ckpt: &mut [u8]) {
    let n = ckpt.len() - 4;
    let crc = ember_nets::crc::crc32c(&ckpt[..n]);
    ckpt[n..].copy_from_slice(&crc.to_le_bytes());
}

#[test]
fn a_crafted_checkpoint_record_is_an_error_not_a_panic() {
    let Some(ember) = common::ember_bin() else {
        return;
    };
    let root = scratch("crafted");
    let dir = root.join("run");
    common::assert_ok(&train_short(&ember, &dir, &[]));
    std::fs::remove_file(dir.join("summary.json")).unwrap();
    // Found by fuzzing (.ci/fuzz.sh, target `checkpoint`): an optimizer record whose tensors
    // lost their parameter id (one byte of the burnpack metadata: `param_id` -> `parai_id`)
    // made burn panic while resuming. With a correct CRC it passes every file check.
    let newest = checkpoints(&dir).pop().unwrap();
    let mut bytes = std::fs::read(&newest).unwrap();
    let sections = |b: &[u8]| {
        let mut at = 12;
        let mut out = Vec::new();
        for _ in 0..3 {
            let n = u64::from_le_bytes(b[at..at + 8].try_into().unwrap()) as usize;
            out.push(at + 8..at + 8 + n);
            at += 8 + n;
        }
        out
    };
    let optimizer = sections(&bytes)[2].clone();
    let key = optimizer.start
        + bytes[optimizer]
            .windows(8)
            .position(|w| w == b"param_id")
            .expect("the optimizer record names parameter ids");
    bytes[key..key + 8].copy_from_slice(b"parai_id");
    fix_crc(&mut bytes);
    std::fs::write(&newest, &bytes).unwrap();
    let out = run(
        &ember,
        &["train", "--resume", dir.to_str().unwrap()],
        &[],
        Duration::from_secs(120),
    );
    assert_error(&out, &["the optimizer record is inconsistent"]);
    std::fs::remove_dir_all(&root).unwrap();
}

/// The scalars of `dir` through `ember plot`'s reader, without the tags that measure speed.
fn scalars(dir: &Path) -> std::collections::BTreeMap<String, Vec<(u64, f32)>> {
    ember_nets::tensorboard::read_scalars(dir)
        .unwrap()
        .into_iter()
        .filter(|(tag, _)| tag != "charts/SPS")
        .map(|(tag, s)| (tag, s.into_iter().map(|e| (e.step, e.value)).collect()))
        .collect()
}

#[test]
fn a_killed_and_resumed_run_logs_what_an_uninterrupted_one_does() {
    let Some(ember) = common::ember_bin() else {
        return;
    };
    let root = scratch("tb-resume");
    let full = root.join("full");
    common::assert_ok(&train_short(&ember, &full, &[]));
    let want = scalars(&full);
    assert_eq!(want["eval/mean_return"].len(), 5, "{want:?}");
    let resume = |dir: &Path| {
        let out = run(
            &ember,
            &["train", "--resume", dir.to_str().unwrap()],
            &[],
            Duration::from_secs(300),
        );
        common::assert_ok(&out);
        text(&out.stderr)
    };
    // Killed after the checkpoint of step 384: what it logged later (up to the end) is in its
    // event file; the checkpoints after it and the summary are not.
    let cut = root.join("cut");
    common::assert_ok(&train_short(&ember, &cut, &[]));
    for p in checkpoints(&cut) {
        if !p.ends_with("ckpt-000000000384.ember") {
            std::fs::remove_file(p).unwrap();
        }
    }
    std::fs::remove_file(cut.join("summary.json")).unwrap();
    std::thread::sleep(Duration::from_millis(1100));
    assert!(resume(&cut).contains("resuming from step 384"));
    let got = scalars(&cut);
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>()
    );
    for (tag, series) in &want {
        assert_eq!(&got[tag], series, "{tag} differs after resuming");
    }
    // Killed before its first checkpoint: the resume starts over, and the first attempt's
    // events must not count twice.
    let over = root.join("over");
    common::assert_ok(&train_short(&ember, &over, &[]));
    std::fs::remove_dir_all(over.join("checkpoints")).unwrap();
    std::fs::remove_file(over.join("summary.json")).unwrap();
    // Event files are ordered by their creation second.
    std::thread::sleep(Duration::from_millis(1100));
    assert!(resume(&over).contains("no checkpoint yet"));
    let got = scalars(&over);
    for (tag, series) in &want {
        assert_eq!(&got[tag], series, "{tag} differs after starting over");
    }
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn a_run_killed_with_sigkill_resumes_to_the_uninterrupted_logs() {
    let Some(ember) = common::ember_bin() else {
        return;
    };
    let root = scratch("sigkill");
    let longer = ["train.total_steps=12800", "train.checkpoint_every=640"];
    let full = root.join("full");
    common::assert_ok(&train_short(&ember, &full, &longer));
    let want = scalars(&full);
    // The same run, killed (SIGKILL: no clean-up) once it has written two checkpoints: wherever
    // that lands (mid-step, mid-event, mid-checkpoint), resuming must give the same logs.
    let cut = root.join("cut");
    let mut child = Command::new(&ember)
        .args(train_args(&cut, &longer))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while cut.join("checkpoints").read_dir().map_or(0, |d| d.count()) < 2 {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before it could be killed"
        );
        assert!(start.elapsed() < Duration::from_secs(300));
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        !cut.join("summary.json").exists(),
        "the run finished before the kill"
    );
    std::thread::sleep(Duration::from_millis(1100));
    let out = run(
        &ember,
        &["train", "--resume", cut.to_str().unwrap()],
        &[],
        Duration::from_secs(300),
    );
    common::assert_ok(&out);
    let got = scalars(&cut);
    for (tag, series) in &want {
        assert_eq!(
            &got[tag], series,
            "{tag} differs after a SIGKILL and --resume"
        );
    }
    std::fs::remove_dir_all(&root).unwrap();
}
