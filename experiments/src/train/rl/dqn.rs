//! `kind = "dqn"`: `[env]`, `[model]` ([`NetConfig`](ember_agents::NetConfig)) and `[train]`
//! ([`DqnConfig`]), trained by [`ember_agents::dqn::train`].

use anyhow::Result;
use ember_agents::common::RunIo;
use ember_agents::dqn::{self, DqnConfig};
use ember_nets::DeviceChoice;

use super::{RlExperiment, RunLogger, summary_json};
use crate::train::config::Experiment;
use crate::train::run::RunDir;

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
    let mut logger = RunLogger::new(run, x.train.total_steps)?;
    let ckpts = run.checkpoints(x.train.keep_checkpoints);
    let mut make = x.env.factory()?;
    let io = RunIo {
        logger: &mut logger,
        checkpoints: Some(&ckpts),
        resume,
        stop_after: None,
    };
    let s = dqn::train(&x.train, &x.model, x.seed, &mut make, device, io);
    logger.finish();
    let summary = summary_json(&x.name, dqn::KIND, x.seed, &x.env.id, &s?, device);
    run.write_summary(&summary)?;
    Ok(summary)
}
