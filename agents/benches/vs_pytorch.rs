//! Training speed against PyTorch on CPU, in one run: DQN gradient updates per second and PPO
//! environment steps per second on MinAtar Breakout, Ember's real training loops
//! ([`ember_agents::dqn::train`], [`ember_agents::ppo::train`]) first, then the same algorithms
//! written in PyTorch (`agents/peers/torch_agents.py`, CleanRL's `dqn.py`/`ppo.py` style) stepping
//! the same Rust environments through Ember's Python bindings. Prints one JSON line with both sides,
//! every run's wall time and the ratios (Ember ÷ PyTorch; above 1 means Ember is faster).
//!
//! Settings are read from `experiments/dqn_breakout.toml` and `experiments/ppo_breakout.toml`
//! (`[model]` and `[train]`) and handed to the peer as JSON, so both sides run the same
//! hyperparameters and networks. PPO also runs MinAtar's conv network (conv 16 3x3, 256 hidden
//! units, shared by both heads) when the experiment's network is another one (since 3e68867 it is
//! an MLP of 256 units on the flattened planes, then 256 hidden). Changed for timing only: DQN's ε
//! is held at its final value (0.1, the steady state of a 5M-step run, where 90% of steps run the
//! Q-net to act), learning starts after 1000 steps, and the clock runs over `--dqn-updates`
//! updates after 250 warm-up ones (train frequency 1: per step one update, one env step, one
//! replay sample; a target copy every 1000); PPO's clock runs over `--ppo-rollouts` iterations
//! (rollout of 64 envs x 128 steps, GAE, 4 epochs x 8 minibatches) after one warm-up iteration.
//! Evaluation and checkpoints fall outside the clocks. `--only dqn|ppo_breakout.toml|minatar_conv`
//! runs one part of Ember's side alone (for `perf record`).
//!
//! ```sh
//! apt-get install python3-torch libopenblas0-pthread python3-venv
//! python3 -m venv --system-site-packages /work/venv-torch         # Debian's torch 1.13, numpy 1.24
//! /work/venv-torch/bin/pip install --no-deps gymnasium cloudpickle farama-notifications
//! (cd python && maturin build --release -i /usr/bin/python3 -o /tmp/ember-wheels)
//! /work/venv-torch/bin/pip install --no-deps /tmp/ember-wheels/ember_rl-*.whl
//! cargo bench -p ember-agents --bench vs_pytorch -- --python /work/venv-torch/bin/python --threads 2,1
//! ```
//!
//! The peer runs once per entry of `--threads`, with `torch.set_num_threads(N)` and
//! `OPENBLAS_NUM_THREADS=N` (see `nets/benches/vs_pytorch.rs`: on 2 shared cores PyTorch's OpenMP
//! and OpenBLAS threads oversubscribe, and 1 thread can beat 2). Ember's threads are rayon's
//! (`RAYON_NUM_THREADS`, default one per CPU).
//!
//! Run by `cargo test` (no `--bench` argument), it only smoke-tests both loops on tiny settings.

// The allocator the `ember` binary uses (see cli/src/main.rs), so both measure the same.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use ember_agents::dqn::DqnConfig;
use ember_agents::ppo::PpoConfig;
use ember_agents::{Logger, NetConfig, Result, RunIo};
use ember_nets::DeviceChoice;
use serde_json::{Map, Value, json};

const ENV: &str = "Breakout-v0";
const SEED: u64 = 1;

fn arg(name: &str) -> Option<String> {
    let a: Vec<String> = std::env::args().collect();
    a.iter()
        .position(|x| x == name)
        .and_then(|i| a.get(i + 1).cloned())
}

/// The `key = value` lines of one `[section]` of an experiment file, as JSON values (the files
/// hold only numbers, booleans, strings and flat arrays there; `_` digit separators allowed).
fn toml_section(path: &Path, section: &str) -> Map<String, Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let mut out = Map::new();
    let mut current = String::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        if let Some(s) = line.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
            current = s.trim().to_string();
        } else if current == section
            && let Some((k, v)) = line.split_once('=')
        {
            let v = v.trim();
            let v = if v.starts_with('"') {
                v.to_string()
            } else {
                v.replace('_', "")
            };
            let value: Value = serde_json::from_str(&v)
                .unwrap_or_else(|e| panic!("{path:?} [{section}] {k}: {v}: {e}"));
            out.insert(k.trim().to_string(), value);
        }
    }
    out
}

/// This crate's directory. Cargo sets the variable when it runs a bench too; the value compiled
/// in is the fallback (a binary run by hand), stale when two checkouts share one target directory
/// and cargo reuses a binary built in the other.
fn manifest_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
}

fn experiment<T: serde::de::DeserializeOwned>(file: &str, section: &str) -> T {
    let path = manifest_dir().join("../experiments").join(file);
    serde_json::from_value(Value::Object(toml_section(&path, section)))
        .unwrap_or_else(|e| panic!("{file} [{section}]: {e}"))
}

/// A logger that notes when each progress line comes (DQN: every `log_every` steps; PPO: after
/// every iteration) and drops everything else.
#[derive(Default)]
struct Clock {
    marks: Vec<(u64, Instant)>,
}

impl Logger for Clock {
    fn scalar(&mut self, _tag: &str, _step: u64, _value: f64) -> Result<()> {
        Ok(())
    }
    fn progress(&mut self, step: u64, _status: &str) {
        self.marks.push((step, Instant::now()));
    }
}

impl Clock {
    fn at(&self, step: u64) -> Instant {
        self.marks
            .iter()
            .find(|(s, _)| *s == step)
            .unwrap_or_else(|| panic!("no progress mark at step {step}"))
            .1
    }
}

fn make(_i: usize) -> Result<Box<dyn ember_envs::Env>> {
    Ok(ember_envs::make::<&str, &str>(ENV, &[])?)
}

fn io(clock: &mut Clock) -> RunIo<'_> {
    RunIo {
        logger: clock,
        checkpoints: None,
        resume: false,
        stop_after: None,
    }
}

fn main() {
    ember_nets::alloc::keep_freed_memory();
    let benching = std::env::args().any(|a| a == "--bench");
    let num = |name: &str, default: u64| -> u64 {
        arg(name)
            .and_then(|s| s.parse().ok())
            .unwrap_or(default)
            .max(1)
    };
    let bench_start = Instant::now();
    // `--only dqn|ppo_breakout.toml|minatar_conv` runs one part, without the peer (for profiling).
    let only = arg("--only");
    let wanted = |part: &str| only.as_deref().is_none_or(|o| o == part);

    // ---- DQN: updates/s over a window of steps after learning starts ----------------------
    let dqn_net: NetConfig = experiment("dqn_breakout.toml", "model");
    let mut dqn: DqnConfig = experiment("dqn_breakout.toml", "train");
    let (learning_starts, warmup, updates) = if benching {
        (1000, 250, num("--dqn-updates", 2000).div_ceil(250) * 250)
    } else {
        (64, 16, 16)
    };
    dqn.learning_starts = learning_starts;
    dqn.start_epsilon = dqn.end_epsilon;
    dqn.log_every = if benching { 250 } else { 16 };
    dqn.total_steps = learning_starts + warmup + updates;
    dqn.eval_every = 0;
    dqn.eval_episodes = 1;
    dqn.eval_max_steps = 100;
    let dqn_window = [learning_starts + warmup, learning_starts + warmup + updates];
    let (dqn_ups, dqn_json) = if wanted("dqn") {
        let mut clock = Clock::default();
        let t = Instant::now();
        let s = ember_agents::dqn::train(
            &dqn,
            &dqn_net,
            SEED,
            &mut make,
            DeviceChoice::Cpu,
            io(&mut clock),
        )
        .expect("DQN run");
        let dqn_wall = t.elapsed().as_secs_f64();
        assert_eq!(s.updates, warmup + updates);
        let dqn_secs = clock
            .at(dqn_window[1])
            .duration_since(clock.at(dqn_window[0]))
            .as_secs_f64();
        let ups = updates as f64 / dqn_secs;
        let j = json!({
            "updates": updates,
            "seconds": dqn_secs,
            "updates_per_sec": ups,
            "run_wall_seconds": dqn_wall,
        });
        (ups, j)
    } else {
        (f64::NAN, Value::Null)
    };

    // ---- PPO: env steps/s over whole iterations, for the experiment's network and, when that
    // is not it, MinAtar's conv network (conv 16 3x3, 256 hidden units) ------------------------
    let exp_net: NetConfig = experiment("ppo_breakout.toml", "model");
    let conv_net: NetConfig = serde_json::from_value(
        json!({"conv_width": 16, "conv_depth": 1, "kernel_size": 3, "hidden": 256}),
    )
    .expect("net config");
    let mut ppo_nets = vec![("ppo_breakout.toml", exp_net.clone())];
    if exp_net != conv_net {
        ppo_nets.push(("minatar_conv", conv_net));
    }
    let mut ppo: PpoConfig = experiment("ppo_breakout.toml", "train");
    if !benching {
        (
            ppo.num_envs,
            ppo.num_steps,
            ppo.num_minibatches,
            ppo.update_epochs,
        ) = (4, 8, 2, 1);
    }
    let rollouts = if benching {
        num("--ppo-rollouts", 3)
    } else {
        1
    };
    let batch = (ppo.num_envs * ppo.num_steps) as u64;
    ppo.total_steps = (1 + rollouts) * batch;
    ppo.eval_every = 0;
    ppo.eval_episodes = 1;
    ppo.eval_max_steps = 100;
    let ppo_window = [1, 1 + rollouts]; // iterations
    let mut ember_ppo = Vec::new();
    ppo_nets.retain(|(label, _)| wanted(label));
    for (label, net) in &ppo_nets {
        let mut clock = Clock::default();
        let t = Instant::now();
        let s = ember_agents::ppo::train(
            &ppo,
            net,
            SEED,
            &mut make,
            DeviceChoice::Cpu,
            io(&mut clock),
        )
        .expect("PPO run");
        let wall = t.elapsed().as_secs_f64();
        assert_eq!(s.steps, ppo.total_steps);
        let secs = clock
            .at(ppo_window[1] * batch)
            .duration_since(clock.at(ppo_window[0] * batch))
            .as_secs_f64();
        ember_ppo.push(json!({
            "net": label,
            "parameters": s.parameters,
            "steps": rollouts * batch,
            "seconds": secs,
            "steps_per_sec": (rollouts * batch) as f64 / secs,
            "run_wall_seconds": wall,
        }));
    }

    let config = json!({
        "env": ENV,
        "seed": SEED,
        "dqn": dqn,
        "dqn_net": dqn_net,
        "dqn_window": dqn_window,
        "ppo": ppo,
        "ppo_nets": ppo_nets.iter().map(|(l, n)| json!({"label": l, "net": n})).collect::<Vec<_>>(),
        "ppo_window": ppo_window,
    });
    let mut out = json!({
        "ember": {
            "backend": "flex",
            // rayon's pool: RAYON_NUM_THREADS when set, else one thread per CPU.
            "threads": std::env::var("RAYON_NUM_THREADS").ok().and_then(|v| v.parse::<usize>().ok())
                .unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)),
            "dqn": dqn_json,
            "ppo": ember_ppo,
        },
    });
    if benching
        && only.is_none()
        && let Some(py) = arg("--python")
    {
        let script = manifest_dir().join("peers/torch_agents.py");
        let threads = arg("--threads").unwrap_or_else(|| "2,1".into());
        let mut peers = Vec::new();
        for th in threads.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let t = Instant::now();
            let o = Command::new(&py)
                .arg(&script)
                .args(["--threads", th, "--config", &config.to_string()])
                .output()
                .expect("run the PyTorch peer");
            let wall = t.elapsed().as_secs_f64();
            if !o.status.success() {
                eprintln!("{}", String::from_utf8_lossy(&o.stderr));
                std::process::exit(1);
            }
            let mut p: Value = serde_json::from_str(
                String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .last()
                    .unwrap_or(""),
            )
            .expect("peer JSON");
            p["process_wall_seconds"] = wall.into();
            // Ember ÷ PyTorch at this thread count.
            let f = |v: &Value| v.as_f64().unwrap_or(f64::NAN);
            p["ratio_dqn"] = (dqn_ups / f(&p["dqn"]["updates_per_sec"])).into();
            let r: Vec<f64> = (0..ppo_nets.len())
                .map(|i| {
                    f(&out["ember"]["ppo"][i]["steps_per_sec"]) / f(&p["ppo"][i]["steps_per_sec"])
                })
                .collect();
            p["ratio_ppo"] = r.into();
            peers.push(p);
        }
        out["pytorch"] = peers.into();
    }
    out["bench_wall_seconds"] = bench_start.elapsed().as_secs_f64().into();
    if benching {
        out["config"] = config;
    }
    println!("{out}");
}
