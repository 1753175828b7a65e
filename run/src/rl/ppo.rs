//! `kind = "ppo"`: `[env]`, `[model]` ([`NetConfig`](ember_agents::NetConfig)) and `[train]`
//! ([`PpoConfig`]), trained by [`ember_agents::ppo::train`].

use crate::error::Result;
use ember_agents::ppo::{self, PpoConfig};
use ember_nets::DeviceChoice;

use super::{RlExperiment, TrainFn, run_training};
use crate::config::Experiment;
use crate::run_dir::RunDir;

/// A PPO experiment with every default filled in.
pub type PpoExperiment = RlExperiment<PpoConfig>;

/// Parses and checks a PPO experiment (and that its environment can be made).
pub fn parse(e: &Experiment) -> Result<PpoExperiment> {
    let x = PpoExperiment::from_experiment(e, ppo::KIND)?;
    x.train.validate("train.")?;
    x.env.make()?;
    Ok(x)
}

/// Trains (or continues) the run in `run`; returns `summary.json`'s contents.
pub fn train(
    x: &PpoExperiment,
    run: &RunDir,
    device: DeviceChoice,
    resume: bool,
) -> Result<serde_json::Value> {
    let algo: TrainFn<PpoConfig> = ppo::train::<Box<dyn ember_envs::Env>>;
    run_training(
        x,
        ppo::KIND,
        algo,
        x.train.total_steps,
        x.train.keep_checkpoints,
        run,
        device,
        resume,
    )
}
