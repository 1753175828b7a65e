//! The `dqn` and `ppo` experiment kinds (`[env]`, `[model]` as [`NetConfig`], `[train]` as the
//! algorithm's config, trained by `ember_agents::{dqn, ppo}::train`): what they share (the `[env]` table, the `[model]`
//! network table, logging to TensorBoard and the progress bar, `summary.json`). The algorithms
//! themselves live in `ember-agents`; this is the glue between them and the run directory.

use std::collections::BTreeMap;

use crate::error::{Context, Result, bail, invalid};
use ember_agents::common::{Logger, RunIo, TrainSummary};
use ember_agents::dqn::{self, DqnConfig};
use ember_agents::ppo::{self, PpoConfig};
use ember_agents::{AgentError, NetConfig};
use ember_envs::Env;
use ember_nets::DeviceChoice;
use ember_nets::tensorboard::EventWriter;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::config::Experiment;
use crate::env::make_env;
use crate::error::error_chain;
use crate::run_dir::{Progress, RunDir};

/// `[env]`: the environment id and its options (every other key, e.g. `sticky_action_prob`).
/// `gym = "ID"` is accepted in place of `id = "gym:ID"` (a Python Gymnasium environment).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(try_from = "RawEnvSection")]
pub struct EnvSection {
    /// A registry id (`ember envs`), or `gym:ID` for a Python Gymnasium env (`--features gym`).
    pub id: String,
    /// Options, as `--set` would give them to `ember eval`.
    #[serde(flatten)]
    pub options: BTreeMap<String, toml::Value>,
}

/// The `[env]` table of a DQN or PPO experiment.
pub fn env_section(exp: &Experiment) -> Result<EnvSection> {
    let table = exp.table.get("env").ok_or_else(|| {
        invalid!(
            "{}: a {} experiment needs an [env] table",
            exp.origin,
            exp.kind.name()
        )
    })?;
    table
        .clone()
        .try_into::<EnvSection>()
        .map_err(|e| invalid!("{}: [env]: {e}", exp.origin))
}

/// `[env]` as written: `id` or `gym`, and the options.
#[derive(Deserialize)]
struct RawEnvSection {
    id: Option<String>,
    gym: Option<String>,
    #[serde(flatten)]
    options: BTreeMap<String, toml::Value>,
}

impl TryFrom<RawEnvSection> for EnvSection {
    type Error = String;
    fn try_from(r: RawEnvSection) -> std::result::Result<Self, String> {
        let id = match (r.id, r.gym) {
            (Some(id), None) => id,
            (None, Some(gym)) => format!("gym:{gym}"),
            (Some(_), Some(_)) => {
                return Err(
                    "give `id` (an Ember env id) or `gym` (a Gymnasium id), not both".into(),
                );
            }
            (None, None) => {
                return Err("missing `id` (an Ember env id, see `ember envs`) or `gym` (a Python Gymnasium id)".into());
            }
        };
        Ok(EnvSection {
            id,
            options: r.options,
        })
    }
}

impl EnvSection {
    /// The options as `key=value` strings; nested values are refused, naming the key.
    pub fn sets(&self) -> Result<Vec<String>> {
        self.options
            .iter()
            .map(|(k, v)| {
                let v = match v {
                    toml::Value::String(s) => s.clone(),
                    toml::Value::Integer(i) => i.to_string(),
                    toml::Value::Float(f) => f.to_string(),
                    toml::Value::Boolean(b) => b.to_string(),
                    other => bail!(
                        "env.{k}: an environment option must be a string, number or boolean, got {}",
                        other.type_str()
                    ),
                };
                Ok(format!("{k}={v}"))
            })
            .collect()
    }

    /// Makes one environment (checked once before the run directory is created).
    pub fn make(&self) -> Result<Box<dyn Env>> {
        make_env(&self.id, &self.sets()?).with_context(|| format!("env.id = {:?}", self.id))
    }

    /// A factory for the agents (`make(i)` for environment `i`).
    pub fn factory(
        &self,
    ) -> Result<impl FnMut(usize) -> ember_agents::Result<Box<dyn Env>> + use<>> {
        let sets = self.sets()?;
        let id = self.id.clone();
        Ok(move |_i: usize| {
            make_env(&id, &sets).map_err(|e| AgentError::Unsupported(error_chain(&e)))
        })
    }
}

/// An RL experiment: the header, `[env]`, `[model]` and the algorithm's `[train]` table, every
/// default filled in (what `config.toml` holds).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RlExperiment<T> {
    /// Names the run directory.
    pub name: String,
    /// "dqn" or "ppo".
    pub kind: String,
    /// Seeds the network, the environments and every random choice of the agent.
    pub seed: u64,
    /// `[env]`.
    pub env: EnvSection,
    /// `[model]`.
    pub model: NetConfig,
    /// `[train]`: the algorithm's hyperparameters.
    pub train: T,
}

impl<T: DeserializeOwned + Serialize> RlExperiment<T> {
    /// The typed experiment; errors name the bad key.
    pub fn from_experiment(e: &Experiment, kind: &str) -> Result<Self> {
        e.only_sections(&["env", "model", "train"])?;
        if !e.table.contains_key("env") {
            bail!(
                "{}: a {kind} experiment needs an [env] table with an `id`",
                e.origin
            );
        }
        Ok(RlExperiment {
            name: e.name.clone(),
            kind: kind.to_string(),
            seed: e.seed,
            env: e.section("env")?,
            model: e.section("model")?,
            train: e.section("train")?,
        })
    }

    /// The resolved config as TOML.
    pub fn to_toml(&self) -> Result<String> {
        crate::config::to_toml(self)
    }
}

/// TensorBoard events and the progress bar, as the agents' [`Logger`].
pub struct RunLogger {
    events: EventWriter,
    progress: Progress,
}

impl RunLogger {
    /// Logs into `run`'s event file, with a bar of `total` steps.
    pub fn new(run: &RunDir, total: u64) -> Result<Self> {
        Ok(RunLogger {
            events: run.events()?,
            progress: Progress::new(total, 0, "steps"),
        })
    }

    /// Removes the bar.
    pub fn finish(&mut self) {
        self.progress.finish();
    }
}

fn log_err(e: ember_nets::NetsError) -> AgentError {
    AgentError::Log(e.to_string())
}

impl Logger for RunLogger {
    fn scalar(&mut self, tag: &str, step: u64, value: f64) -> ember_agents::Result<()> {
        self.events.scalar(tag, step, value as f32).map_err(log_err)
    }
    fn progress(&mut self, step: u64, status: &str) {
        self.progress.set(step);
        self.progress.message(status.to_string());
    }
    fn line(&mut self, text: &str) {
        self.progress.log(text.to_string());
    }
    fn flush(&mut self) -> ember_agents::Result<()> {
        self.events.flush().map_err(log_err)
    }
    fn session_start(&mut self, step: u64) -> ember_agents::Result<()> {
        self.progress.set(step);
        self.events.session_start(step).map_err(log_err)
    }
}

/// The signature the algorithms' `train` functions share (`ember_agents::{dqn, ppo}::train`).
pub type TrainFn<C> = fn(
    &C,
    &NetConfig,
    u64,
    &mut dyn FnMut(usize) -> ember_agents::Result<Box<dyn Env>>,
    DeviceChoice,
    RunIo<'_>,
) -> ember_agents::Result<TrainSummary>;

/// An algorithm's `[train]` table, and what the runner needs to know of it. The `dqn` and `ppo`
/// kinds are this trait's two implementations; everything else about them is shared.
pub trait Algorithm: Serialize + DeserializeOwned {
    /// The experiment kind, also the model kind of its checkpoints.
    const KIND: &'static str;
    /// The algorithm's training loop.
    const TRAIN: TrainFn<Self>;
    /// Checks every value; errors name the key under `prefix`.
    fn validate(&self, prefix: &str) -> ember_agents::Result<()>;
    /// Environment steps to train for.
    fn total_steps(&self) -> u64;
    /// Checkpoints kept.
    fn keep_checkpoints(&self) -> usize;
}

impl Algorithm for DqnConfig {
    const KIND: &'static str = dqn::KIND;
    const TRAIN: TrainFn<Self> = dqn::train::<Box<dyn Env>>;
    fn validate(&self, prefix: &str) -> ember_agents::Result<()> {
        DqnConfig::validate(self, prefix)
    }
    fn total_steps(&self) -> u64 {
        self.total_steps
    }
    fn keep_checkpoints(&self) -> usize {
        self.keep_checkpoints
    }
}

impl Algorithm for PpoConfig {
    const KIND: &'static str = ppo::KIND;
    const TRAIN: TrainFn<Self> = ppo::train::<Box<dyn Env>>;
    fn validate(&self, prefix: &str) -> ember_agents::Result<()> {
        PpoConfig::validate(self, prefix)
    }
    fn total_steps(&self) -> u64 {
        self.total_steps
    }
    fn keep_checkpoints(&self) -> usize {
        self.keep_checkpoints
    }
}

/// Parses and checks an experiment of algorithm `A` (and that its environment can be made).
pub fn parse<A: Algorithm>(e: &Experiment) -> Result<RlExperiment<A>> {
    let x = RlExperiment::<A>::from_experiment(e, A::KIND)?;
    x.train.validate("train.")?;
    let env = x.env.make()?;
    let (shape, _) = ember_agents::common::spaces(&*env)?;
    x.model.check(&shape)?;
    Ok(x)
}

/// Trains (or, with `resume`, continues) experiment `x` in `run`: TensorBoard logging,
/// checkpoints and the summary are the same for every algorithm. Returns `summary.json`'s contents.
pub fn train<A: Algorithm>(
    x: &RlExperiment<A>,
    run: &RunDir,
    device: DeviceChoice,
    resume: bool,
) -> Result<serde_json::Value> {
    let mut logger = RunLogger::new(run, x.train.total_steps())?;
    let ckpts = run.checkpoints(x.train.keep_checkpoints());
    let mut make = x.env.factory()?;
    let io = RunIo {
        logger: &mut logger,
        checkpoints: Some(&ckpts),
        resume,
        stop_after: None,
    };
    let s = A::TRAIN(&x.train, &x.model, x.seed, &mut make, device, io);
    logger.finish();
    let summary = summary_json(&x.name, A::KIND, x.seed, &x.env.id, &s?, device);
    run.write_summary(&summary)?;
    Ok(summary)
}

/// `summary.json` for an RL run.
pub fn summary_json(
    name: &str,
    kind: &str,
    seed: u64,
    env: &str,
    s: &TrainSummary,
    device: DeviceChoice,
) -> serde_json::Value {
    let ev = s.eval.as_ref();
    serde_json::json!({
        "experiment": name,
        "kind": kind,
        "seed": seed,
        "env": env,
        "eval_mean_return": ev.map(|e| e.mean_return),
        "eval_std_return": ev.map(|e| e.std_return),
        "eval_mean_length": ev.map(|e| e.mean_length),
        "eval_episodes": ev.map(|e| e.episodes),
        "best_eval_step": s.best_eval.map(|b| b.step),
        "best_eval_mean_return": s.best_eval.map(|b| b.eval.mean_return),
        "best_eval_std_return": s.best_eval.map(|b| b.eval.std_return),
        "best_eval_episodes": s.best_eval.map(|b| b.eval.episodes),
        "recent_mean_return": if s.recent_mean_return.is_finite() { Some(s.recent_mean_return) } else { None },
        "steps": s.steps,
        "updates": s.updates,
        "episodes": s.episodes,
        "wall_seconds": s.wall_seconds,
        "steps_per_sec": s.steps_per_sec,
        "parameters": s.parameters,
        "weights_fingerprint": format!("{:08x}", s.weights_fingerprint),
        "device": device.to_string(),
        "backend": device.backend_name(),
    })
}
