//! Ember's experiment runner as a library: what `ember train`, `eval`, `watch`, `bench env` and
//! `plot` do, callable from any Rust program.
//!
//! An experiment is a TOML file with a header (`name`, `kind`, `seed`) and the tables of its kind
//! ([`config`]); `--set key=value` overrides reach into it by dotted key. A run lives in a
//! directory ([`run_dir`]): the resolved `config.toml`, TensorBoard events, atomic checkpoints
//! under `checkpoints/` and `summary.json`. Each kind is one module: [`classifier`] (an image
//! classifier on Fashion-MNIST) and [`rl`] (DQN and PPO from `ember-agents` on any registered
//! environment, custom ones included). Around them: [`env`] (making an environment from an id and
//! `key=value` options, `gym:ID` included), [`agent`] (who acts: random or a trained run),
//! [`eval`] (the one evaluation rule), [`watch`] (an episode step by step, for a viewer to draw),
//! [`bench`] (stepping speed) and [`plot`] (learning curves as PNG).
//!
//! The three entry points:
//!
//! ```no_run
//! # fn main() -> ember_run::Result<()> {
//! use std::path::Path;
//! let exp = ember_run::Experiment::load(Path::new("experiments/ppo_cartpole.toml"), &[])?;
//! let summary = ember_run::train(&exp, &ember_run::TrainOptions::default())?;
//! let again = ember_run::resume(&summary.run_dir, ember_run::DeviceChoice::Cpu)?;
//! let ev = ember_run::evaluate(&ember_run::EvalRequest::new(summary.run_dir.display().to_string()))?;
//! # Ok(()) }
//! ```
//!
//! Human-readable progress (the progress bar, "run directory: …", warnings about skipped
//! checkpoints) goes to stderr; everything a caller needs comes back as values.

pub mod agent;
pub mod alphazero;
pub mod bench;
pub mod classifier;
pub mod config;
pub mod env;
pub mod error;
pub mod eval;
pub mod matches;
pub mod players;
pub mod plot;
pub mod rl;
pub mod run_dir;
pub mod watch;

use std::path::{Path, PathBuf};

use ember_agents::dqn::DqnConfig;
use ember_agents::ppo::PpoConfig;

pub use config::{Experiment, Kind};
pub use ember_agents::policy::ActMode;
pub use ember_nets::DeviceChoice;
pub use error::{Result, RunError};
pub use eval::{EvalReport, EvalRequest, evaluate};
pub use run_dir::RunDir;

/// Where and on what a new run trains.
#[derive(Debug, Clone, Default)]
pub struct TrainOptions {
    /// The run directory; `None`: `runs/<name>__<seed>__<UTC timestamp>/`.
    pub run_dir: Option<PathBuf>,
    /// `cpu` (default) or `gpu` (a build with the `wgpu` or `cuda` feature).
    pub device: DeviceChoice,
}

/// A finished (or resumed and finished) run: its directory and `summary.json`'s contents.
#[derive(Debug, Clone)]
pub struct RunSummary {
    /// The run directory.
    pub run_dir: PathBuf,
    /// What `summary.json` holds: `experiment`, `kind`, `seed`, `steps`, `wall_seconds`, … and
    /// per kind `eval_mean_return` (DQN/PPO) or `test_accuracy` (classifier).
    pub summary: serde_json::Value,
}

impl RunSummary {
    /// The final evaluation's mean return (DQN/PPO runs).
    pub fn eval_mean_return(&self) -> Option<f64> {
        self.summary
            .get("eval_mean_return")
            .and_then(|v| v.as_f64())
    }

    /// The test accuracy (classifier runs).
    pub fn test_accuracy(&self) -> Option<f64> {
        self.summary.get("test_accuracy").and_then(|v| v.as_f64())
    }
}

/// Starts a new run of `exp`: checks the experiment (and that its environment or dataset can be
/// had) before anything is written, creates the run directory, trains, writes `summary.json`.
pub fn train(exp: &Experiment, opts: &TrainOptions) -> Result<RunSummary> {
    let device = opts.device;
    // A missing GPU backend or adapter is an error before anything is written.
    let adapter = open_device(device)?;
    let adapter = adapter.as_ref();
    let run_dir = opts.run_dir.as_deref();
    let (run, summary) = match exp.kind {
        Kind::Classifier => {
            let x = classifier::ClassifierExperiment::from_experiment(exp)?;
            let data = classifier::load_data(&x)?;
            x.net(data.train.shape, data.train.num_classes).validate()?;
            let run = RunDir::create(run_dir, exp)?.with_adapter(adapter);
            run.write_config(&x.to_toml()?)?;
            eprintln!("run directory: {}", run.path().display());
            let summary = classifier::train(&x, &data, &run, device, false)?;
            (run, summary)
        }
        Kind::Dqn => start_rl(&rl::parse::<DqnConfig>(exp)?, exp, run_dir, device, adapter)?,
        Kind::Ppo => start_rl(&rl::parse::<PpoConfig>(exp)?, exp, run_dir, device, adapter)?,
        Kind::AlphaZero => {
            let x = alphazero::AzExperiment::from_experiment(exp)?;
            let run = RunDir::create(run_dir, exp)?.with_adapter(adapter);
            run.write_config(&x.to_toml()?)?;
            eprintln!("run directory: {}", run.path().display());
            let summary = alphazero::train(&x, &run, device, false)?;
            (run, summary)
        }
    };
    Ok(RunSummary {
        run_dir: run.path().to_path_buf(),
        summary: run.stamped(&summary),
    })
}

/// Continues the run in `dir` from its newest checkpoint, with the config it was started with.
pub fn resume(dir: &Path, device: DeviceChoice) -> Result<RunSummary> {
    let run = RunDir::open(dir)?;
    let exp = Experiment::load(&run.config_path(), &[])?;
    let run = run.with_adapter(open_device(device)?.as_ref());
    let summary = match exp.kind {
        Kind::Classifier => {
            let x = classifier::ClassifierExperiment::from_experiment(&exp)?;
            let data = classifier::load_data(&x)?;
            classifier::train(&x, &data, &run, device, true)?
        }
        Kind::Dqn => rl::train(&rl::parse::<DqnConfig>(&exp)?, &run, device, true)?,
        Kind::Ppo => rl::train(&rl::parse::<PpoConfig>(&exp)?, &run, device, true)?,
        Kind::AlphaZero => alphazero::train(
            &alphazero::AzExperiment::from_experiment(&exp)?,
            &run,
            device,
            true,
        )?,
    };
    Ok(RunSummary {
        run_dir: run.path().to_path_buf(),
        summary: run.stamped(&summary),
    })
}

/// Opens `device` and, for a GPU, says on stderr which adapter the run trains on (a software
/// device on the CPU, as lavapipe, is named as one). Returns that adapter; `None` on the CPU.
fn open_device(device: DeviceChoice) -> Result<Option<ember_nets::device::GpuAdapter>> {
    device.device()?;
    let adapter = device.adapter()?;
    if let Some(a) = &adapter {
        eprintln!("device: gpu ({}): {a}", device.backend_name());
    }
    Ok(adapter)
}

/// A new DQN or PPO run of the parsed experiment `x`.
fn start_rl<A: rl::Algorithm>(
    x: &rl::RlExperiment<A>,
    exp: &Experiment,
    run_dir: Option<&Path>,
    device: DeviceChoice,
    adapter: Option<&ember_nets::device::GpuAdapter>,
) -> Result<(RunDir, serde_json::Value)> {
    let run = RunDir::create(run_dir, exp)?.with_adapter(adapter);
    run.write_config(&x.to_toml()?)?;
    eprintln!("run directory: {}", run.path().display());
    let summary = rl::train(x, &run, device, false)?;
    Ok((run, summary))
}
