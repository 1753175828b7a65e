//! Who acts in `eval`, `watch` and the benchmarks: `random` (uniform over the legal actions), a
//! trained DQN/PPO run directory (its newest checkpoint, acting as an [`ActMode`] says), or, in
//! the Go environments, any Go player of [`crate::players`] (`uct:SIMS`, `az:RUN_DIR[:SIMS]`,
//! `gtp:"COMMAND"`), which reads the environment's game rather than its observation.

use std::path::Path;

use ember_agents::Policy;
use ember_agents::common::random_legal;
use ember_agents::policy::ActMode;
use ember_agents::trainer::BestEval;
use ember_envs::Env;
use ember_envs::go::player::genmove;
use ember_envs::go::{GoState, Move};
use ember_envs::player::{Analysis, Player};
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
    /// A Go player (a search, an AlphaZero network, an external engine) in a Go environment.
    Go(Box<dyn Player<GoState>>),
}

impl std::fmt::Debug for Agent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Agent::Random(_) => f.write_str("Agent::Random"),
            Agent::Trained(_) => f.write_str("Agent::Trained"),
            Agent::Go(p) => write!(f, "Agent::Go({})", p.name()),
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

    /// As [`Agent::parse`], and in a Go environment also the Go players (`uct:SIMS`,
    /// `az:RUN_DIR[:SIMS]`, `gtp:"COMMAND"`), made for `env`'s board.
    pub fn for_env(spec: &str, env: &dyn Env, seed: u64, mode: ActMode) -> Result<Agent> {
        let s = spec.trim();
        let game_player =
            crate::env::is_runner_player(s) || (s.starts_with("gtp:") && !is_run_dir(spec));
        if !game_player {
            return Agent::parse(spec, seed, mode);
        }
        let Some(go) = crate::env::go_env(env) else {
            bail!(
                "the agent `{spec}` plays only in the Go environments ({} is not one); elsewhere the agents are `random` and trained DQN/PPO run directories",
                env.id()
            );
        };
        Ok(Agent::Go(crate::players::make_player(
            spec,
            go.state(),
            child_seed(seed, 0x60),
        )?))
    }

    /// What the agent's last decision found, for players that search.
    pub fn analysis(&self) -> Option<&Analysis> {
        match self {
            Agent::Go(p) => p.analysis(),
            _ => None,
        }
    }

    /// The action for `env`'s current state.
    pub fn act(&mut self, env: &dyn Env) -> Result<usize> {
        let n = env.action_space().n().unwrap_or(1);
        match self {
            Agent::Go(player) => {
                let Some(go) = crate::env::go_env(env) else {
                    bail!(
                        "the agent `{}` plays only in the Go environments",
                        player.name()
                    );
                };
                let state = go.state();
                match genmove(&mut **player, state)? {
                    Move::Resign => bail!(
                        "the agent `{}` resigned; the Go environments have no resignation action",
                        player.name()
                    ),
                    mv => state.action_of(mv).with_context(|| {
                        format!("the agent `{}` chose no board move", player.name())
                    }),
                }
            }
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

impl Agent {
    /// What the trained agent's network said for the last action's observation (Q-values or
    /// action probabilities); `None` for the random agent and before the first action.
    pub fn last_outputs(&self) -> Option<ember_agents::policy::PolicyOutputs> {
        match self {
            Agent::Random(_) | Agent::Go(_) => None,
            Agent::Trained(p) => p.last_outputs(),
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

/// The policy of a trained DQN or PPO run, on the CPU: its best evaluated network when the run
/// keeps one (`train.keep_best`, `checkpoints/best.ember`), else its newest checkpoint that loads.
pub fn load_policy(dir: &Path, mode: ActMode, seed: u64) -> Result<Box<dyn Policy>> {
    let run = RunDir::open(dir)?;
    let exp = Experiment::load(&run.config_path(), &[])?;
    let kind = exp.kind.name();
    if !["dqn", "ppo"].contains(&kind) {
        bail!("{} is a {kind} run, not a DQN or PPO agent", dir.display());
    }
    let ckpts = run.checkpoints(usize::MAX);
    let best = ckpts.path().join(ember_agents::trainer::BEST_FILE);
    let keeps_best = exp
        .table
        .get("train")
        .and_then(|t| t.get("keep_best"))
        .and_then(|v| v.as_bool())
        == Some(true);
    let (ck, which) = if keeps_best && best.exists() {
        /// The part of a checkpoint's state that says which evaluation it won.
        #[derive(serde::Deserialize)]
        struct Kept {
            best_eval: Option<BestEval>,
        }
        let ck = ember_nets::Checkpoint::load(&best)?;
        let at = ck
            .state::<Kept>()
            .ok()
            .and_then(|k| k.best_eval)
            .map_or(String::new(), |b| {
                format!(
                    " of step {}, evaluated {:.2} over {} episodes in the run",
                    b.step, b.eval.mean_return, b.eval.episodes
                )
            });
        (
            ck,
            format!("its best evaluated network{at}: train.keep_best"),
        )
    } else {
        let (found, skipped) = ckpts.latest()?;
        let damaged = skipped.len();
        for e in skipped {
            eprintln!("warning: skipping a damaged checkpoint: {e}");
        }
        let (step, ck) = found.with_context(|| match damaged {
            0 => format!("{} has no checkpoint yet", dir.display()),
            n => format!(
                "{} has no usable checkpoint: all {n} found are damaged (see the warnings above)",
                dir.display()
            ),
        })?;
        (ck, format!("checkpoint of step {step}"))
    };
    if ck.kind() != kind {
        bail!(
            "{}: config.toml says kind = \"{kind}\" but its checkpoint holds a {:?} model; the run's files do not belong together",
            dir.display(),
            ck.kind()
        );
    }
    eprintln!("agent: {} ({kind}, {which})", dir.display());
    Ok(ember_agents::policy::from_checkpoint(
        &ck,
        &DeviceChoice::Cpu.device()?,
        mode,
        seed,
    )?)
}
