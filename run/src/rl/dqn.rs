//! `kind = "dqn"`: `[env]`, `[model]` ([`NetConfig`](ember_agents::NetConfig)) and `[train]`
//! ([`DqnConfig`]), trained by [`ember_agents::dqn::train`].

use crate::error::Result;
use ember_agents::dqn::{self, DqnConfig};
use ember_nets::DeviceChoice;

use super::{RlExperiment, TrainFn, run_training};
use crate::config::Experiment;
use crate::run_dir::RunDir;

/// A DQN experiment with every default filled in.
pub type DqnExperiment = RlExperiment<DqnConfig>;

/// Parses and checks a DQN experiment (and that its environment can be made).
pub fn parse(e: &Experiment) -> Result<DqnExperiment> {
    let x = DqnExperiment::from_experiment(e, dqn::KIND)?;
    x.train.validate("train.")?;
    x.env.make()?;
    Ok(x)
}

/// Trains (or continues) the run in `run`; returns `summary.json`'s contents.
pub fn train(
    x: &DqnExperiment,
    run: &RunDir,
    device: DeviceChoice,
    resume: bool,
) -> Result<serde_json::Value> {
    let algo: TrainFn<DqnConfig> = dqn::train::<Box<dyn ember_envs::Env>>;
    run_training(
        x,
        dqn::KIND,
        algo,
        x.train.total_steps,
        x.train.keep_checkpoints,
        run,
        device,
        resume,
    )
}
