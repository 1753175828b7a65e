//! `kind = "ppo"`: `[env]`, `[model]` ([`NetConfig`](ember_agents::NetConfig)) and `[train]`
//! ([`PpoConfig`]), trained by [`ember_agents::ppo::train`].

use anyhow::Result;
use ember_agents::common::RunIo;
use ember_agents::ppo::{self, PpoConfig};
use ember_nets::DeviceChoice;

use super::{RlExperiment, RunLogger, summary_json};
use crate::train::config::Experiment;
use crate::train::run::RunDir;

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
    let mut logger = RunLogger::new(run, x.train.total_steps)?;
    let ckpts = run.checkpoints(x.train.keep_checkpoints);
    let mut make = x.env.factory()?;
    let io = RunIo {
        logger: &mut logger,
        checkpoints: Some(&ckpts),
        resume,
        stop_after: None,
    };
    let s = ppo::train(&x.train, &x.model, x.seed, &mut make, device, io);
    logger.finish();
    let summary = summary_json(&x.name, ppo::KIND, x.seed, &x.env.id, &s?, device);
    run.write_summary(&summary)?;
    Ok(summary)
}
