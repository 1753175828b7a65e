//! Who acts in `eval`, `watch` and the benchmarks: `random` (uniform over the legal actions) or a
//! trained DQN/PPO run directory (its newest checkpoint, acting as an [`ActMode`] says).

use std::path::Path;

use ember_agents::Policy;
use ember_agents::common::random_legal;
use ember_agents::policy::ActMode;
use ember_envs::Env;
use ember_envs::rng::{Rng, child_seed};
use ember_nets::DeviceChoice;

use crate::config::Experiment;
use crate::error::{Context, Result, bail};
use crate::run_dir::RunDir;

/// Picks actions: uniformly at random, or with a trained agent's policy.
pub enum Agent {
    /// Uniform over the legal actions.
    Random(Rng),
    /// A trained DQN or PPO agent.
    Trained(Box<dyn Policy>),
}

impl std::fmt::Debug for Agent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Agent::Random(_) => f.write_str("Agent::Random"),
            Agent::Trained(_) => f.write_str("Agent::Trained"),
        }
    }
}

/// Whether `spec` names a run directory (one with a `config.toml`).
pub fn is_run_dir(spec: &str) -> bool {
    Path::new(spec).join("config.toml").is_file()
}

impl Agent {
    /// `random` or a trained run's directory; `seed` seeds the agent's own draws.
    pub fn parse(spec: &str, seed: u64, mode: ActMode) -> Result<Agent> {
        match spec {
            "random" => Ok(Agent::Random(Rng::new(child_seed(seed, 0xA6E7)))),
            dir if is_run_dir(dir) => Ok(Agent::Trained(load_policy(Path::new(dir), mode, seed)?)),
            other => bail!(
                "unknown agent `{other}`: accepted agents are `random` and the run directory of a trained DQN or PPO agent (one with a config.toml)"
            ),
        }
    }

    /// The action for `env`'s current state.
    pub fn act(&mut self, env: &dyn Env) -> Result<usize> {
        let n = env.action_space().n().unwrap_or(1);
        match self {
            Agent::Random(rng) => Ok(random_legal(rng, n, env.action_mask())),
            Agent::Trained(policy) => {
                let obs = env.obs();
                if obs.len() != policy.obs_len() || n != policy.num_actions() {
                    bail!(
                        "the agent was trained on observations of {} values and {} actions; {} has {} and {n}",
                        policy.obs_len(),
                        policy.num_actions(),
                        env.id(),
                        obs.len()
                    );
                }
                Ok(policy.act(obs, env.action_mask())?)
            }
        }
    }
}

/// How an [`ActMode`] is named in reports: `greedy`, `stochastic` or `epsilon=E`.
pub fn mode_name(mode: ActMode) -> String {
    match mode {
        ActMode::Greedy => "greedy".into(),
        ActMode::Sample => "stochastic".into(),
        ActMode::EpsilonGreedy(e) => format!("epsilon={e}"),
    }
}

/// The policy of a trained DQN or PPO run (its newest checkpoint that loads), on the CPU.
pub fn load_policy(dir: &Path, mode: ActMode, seed: u64) -> Result<Box<dyn Policy>> {
    let run = RunDir::open(dir)?;
    let exp = Experiment::load(&run.config_path(), &[])?;
    let kind = exp.kind.name();
    if !["dqn", "ppo"].contains(&kind) {
        bail!("{} is a {kind} run, not a DQN or PPO agent", dir.display());
    }
    let (found, skipped) = run.checkpoints(usize::MAX).latest()?;
    for e in skipped {
        eprintln!("warning: skipping a damaged checkpoint: {e}");
    }
    let (step, ck) = found.with_context(|| format!("{} has no checkpoint yet", dir.display()))?;
    eprintln!(
        "agent: {} ({kind}, checkpoint of step {step})",
        dir.display()
    );
    Ok(ember_agents::policy::from_checkpoint(
        &ck,
        &DeviceChoice::Cpu.device()?,
        mode,
        seed,
    )?)
}
