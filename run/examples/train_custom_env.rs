//! Training PPO on your own environment through the library, with the run directory, TensorBoard
//! tags (`charts/episodic_return`, `losses/*`, `eval/mean_return`), checkpoints, `--resume` and
//! `summary.json` of `ember train`.
//!
//! The environment is `Corridor-v0` from `envs/examples/custom_env.rs`, registered with one call;
//! from then on `ember_run` finds it by id like any built-in one. The experiment is a TOML file
//! (the first argument) or, without one, [`CORRIDOR_PPO`] below; `--set key=value` overrides it,
//! `--run-dir DIR` picks the run directory.
//!
//! ```sh
//! cargo run --release -p ember-run --example train_custom_env
//! cargo run --release -p ember-run --example train_custom_env -- my_corridor.toml --set seed=2
//! ```
//!
//! A binary of your own needs three lines of it: register the env, load the experiment, train.

#[path = "../../envs/examples/custom_env.rs"]
mod custom_env;

use std::path::{Path, PathBuf};

use ember_run::{Experiment, RunSummary, TrainOptions};

/// PPO on a 6-cell corridor: a small MLP learns to walk right in a few thousand steps.
pub const CORRIDOR_PPO: &str = r#"
name = "ppo_corridor"
kind = "ppo"
seed = 1

[env]
id = "Corridor-v0"
length = 6
step_cost = 0.05

[model]
mlp = [32]
hidden = 32

[train]
total_steps = 8_192
num_envs = 4
num_steps = 64
lr = 1e-3
gamma = 0.95
num_minibatches = 2
update_epochs = 4
eval_every = 2_048
eval_episodes = 10
eval_max_steps = 200
checkpoint_every = 2_048
"#;

/// Registers `Corridor-v0` (once per process) and trains the experiment the arguments name.
pub fn run(args: &[String]) -> Result<RunSummary, Box<dyn std::error::Error>> {
    if !ember_envs::registry::ids()
        .iter()
        .any(|id| id == "Corridor-v0")
    {
        custom_env::register_corridor()?;
    }
    let (mut file, mut sets, mut run_dir) = (None, Vec::new(), None);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--set" => sets.push(it.next().ok_or("--set needs KEY=VALUE")?.clone()),
            "--run-dir" => run_dir = Some(PathBuf::from(it.next().ok_or("--run-dir needs DIR")?)),
            path => file = Some(path.to_string()),
        }
    }
    let exp = match file {
        Some(path) => Experiment::load(Path::new(&path), &sets)?,
        None => Experiment::parse(CORRIDOR_PPO, "the built-in corridor experiment", &sets)?,
    };
    let opts = TrainOptions {
        run_dir,
        ..TrainOptions::default()
    };
    Ok(ember_run::train(&exp, &opts)?)
}

#[allow(dead_code)]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let done = run(&args)?;
    println!(
        "eval return {:.2}; run in {}",
        done.eval_mean_return().unwrap_or(f64::NAN),
        done.run_dir.display()
    );
    Ok(())
}
