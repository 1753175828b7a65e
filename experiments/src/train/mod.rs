//! The experiment runner behind `ember train`: pieces every experiment kind shares (the TOML
//! file with `--set` overrides, the run directory with its resolved `config.toml`, TensorBoard
//! events, checkpoints and `summary.json`, the progress display), and one module per kind.
//! Today's kind is `classifier`; DQN, PPO and AlphaZero plug in beside it with their own tables
//! and training loops, reusing [`config`] and [`run`] unchanged.

pub mod classifier;
pub mod config;
pub mod rl;
pub mod run;

use std::path::Path;

use anyhow::{Result, bail};
use ember_nets::DeviceChoice;

use config::{Experiment, Kind};
use run::RunDir;

/// Starts a new run of the experiment file `path` (with `--set` overrides) in `run_dir` (or the
/// default `runs/<name>__<seed>__<timestamp>/`). Returns the run directory and its summary.
pub fn start(
    path: &Path,
    sets: &[String],
    run_dir: Option<&Path>,
    device: DeviceChoice,
) -> Result<(RunDir, serde_json::Value)> {
    let exp = Experiment::load(path, sets)?;
    device.device()?; // a missing GPU backend is an error before anything is written
    match exp.kind {
        Kind::Classifier => {
            let x = classifier::ClassifierExperiment::from_experiment(&exp)?;
            let data = classifier::load_data(&x)?;
            x.net(data.train.shape, data.train.num_classes).validate()?;
            let run = RunDir::create(run_dir, &exp)?;
            run.write_config(&x.to_toml()?)?;
            eprintln!("run directory: {}", run.path().display());
            let summary = classifier::train(&x, &data, &run, device, false)?;
            Ok((run, summary))
        }
        Kind::Dqn => {
            let x = rl::dqn::parse(&exp)?;
            let run = RunDir::create(run_dir, &exp)?;
            run.write_config(&x.to_toml()?)?;
            eprintln!("run directory: {}", run.path().display());
            let summary = rl::dqn::train(&x, &run, device, false)?;
            Ok((run, summary))
        }
        Kind::Ppo => {
            let x = rl::ppo::parse(&exp)?;
            let run = RunDir::create(run_dir, &exp)?;
            run.write_config(&x.to_toml()?)?;
            eprintln!("run directory: {}", run.path().display());
            let summary = rl::ppo::train(&x, &run, device, false)?;
            Ok((run, summary))
        }
    }
}

/// Continues the run in `dir` from its newest checkpoint, with the config it was started with.
pub fn resume(dir: &Path, device: DeviceChoice) -> Result<(RunDir, serde_json::Value)> {
    let run = RunDir::open(dir)?;
    let exp = Experiment::load(&run.config_path(), &[])?;
    device.device()?;
    match exp.kind {
        Kind::Classifier => {
            let x = classifier::ClassifierExperiment::from_experiment(&exp)?;
            let data = classifier::load_data(&x)?;
            let summary = classifier::train(&x, &data, &run, device, true)?;
            Ok((run, summary))
        }
        Kind::Dqn => {
            let x = rl::dqn::parse(&exp)?;
            let summary = rl::dqn::train(&x, &run, device, true)?;
            Ok((run, summary))
        }
        Kind::Ppo => {
            let x = rl::ppo::parse(&exp)?;
            let summary = rl::ppo::train(&x, &run, device, true)?;
            Ok((run, summary))
        }
    }
}

/// The kind and parsed experiment of a run directory.
pub fn open_run(dir: &Path) -> Result<(RunDir, Experiment)> {
    let run = RunDir::open(dir)?;
    let exp = Experiment::load(&run.config_path(), &[])?;
    if exp.kind != Kind::Classifier {
        bail!("evaluating a {} run is not supported yet", exp.kind.name());
    }
    Ok((run, exp))
}
