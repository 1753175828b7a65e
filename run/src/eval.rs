//! Evaluation: an agent playing an environment, or a trained run on what it was trained for.
//!
//! One rule for every return Ember reports (`ember eval ENV`, `ember eval RUN_DIR` and the
//! in-training `eval/mean_return`): [`ember_agents::common::evaluate`], episode `i` seeded with
//! `child_seed(seed, i)`, so the three numbers are comparable.

use ember_agents::common::EvalResult;
use ember_agents::policy::ActMode;
use ember_nets::DeviceChoice;
use ember_nets::data::FASHION_MNIST_CLASSES;
use ember_nets::train::Evaluation;
use serde_json::{Value, json};

use crate::agent::{Agent, is_run_dir, mode_name};
use crate::classifier::{self, ClassifierExperiment};
use crate::config::{Experiment, Kind};
use crate::env::make_env;
use crate::error::{Result, bail};
use crate::run_dir::RunDir;

/// What to evaluate.
#[derive(Debug, Clone)]
pub struct EvalRequest {
    /// An environment id (`gym:ID` included), or a run directory: a classifier run is evaluated
    /// on its test set, a DQN/PPO run's agent on the environment (and options) it trained on.
    pub target: String,
    /// Who acts: `random` or a DQN/PPO run directory. `None`: `random` for an environment, the
    /// run's own agent for a run directory (where `random` plays the baseline on its env).
    pub agent: Option<String>,
    /// Episodes to play (at least 1).
    pub episodes: usize,
    /// Episode `i` is seeded with `child_seed(seed, i)`; the agent's own draws derive from it too.
    pub seed: u64,
    /// Cut an episode (as truncated) after this many steps; 0: no cap.
    pub max_episode_steps: u64,
    /// How a trained agent acts.
    pub mode: ActMode,
    /// Environment options (`key=value`), after a run's own.
    pub sets: Vec<String>,
}

impl EvalRequest {
    /// `target` with the defaults of `ember eval`: 100 episodes, seed 0, episodes cut at 100,000
    /// steps, greedy.
    pub fn new(target: impl Into<String>) -> Self {
        EvalRequest {
            target: target.into(),
            agent: None,
            episodes: 100,
            seed: 0,
            max_episode_steps: 100_000,
            mode: ActMode::Greedy,
            sets: Vec::new(),
        }
    }
}

/// An agent's returns on an environment.
#[derive(Debug, Clone)]
pub struct AgentEval {
    /// The environment id.
    pub env: String,
    /// `random` or the run directory.
    pub agent: String,
    /// The seed of the episodes.
    pub seed: u64,
    /// `uniform` (random), `greedy`, `stochastic` or `epsilon=E`.
    pub policy: String,
    /// Returns and lengths.
    pub result: EvalResult,
}

impl AgentEval {
    /// `ember eval --json`'s object.
    pub fn to_json(&self) -> Value {
        let r = &self.result;
        json!({"env": self.env, "agent": self.agent, "seed": self.seed, "episodes": r.episodes,
               "policy": self.policy,
               "mean_return": r.mean_return, "std_return": r.std_return,
               "mean_length": r.mean_length, "std_length": r.std_length,
               "truncated_episodes": r.truncated})
    }
}

/// A classifier run on its test split.
#[derive(Debug, Clone)]
pub struct ClassifierEval {
    /// The run directory.
    pub run: String,
    /// Accuracy, loss, confusion matrix.
    pub evaluation: Evaluation,
    /// Class names, in label order.
    pub classes: Vec<String>,
}

impl ClassifierEval {
    /// `ember eval RUN_DIR --json`'s object.
    pub fn to_json(&self) -> Value {
        let ev = &self.evaluation;
        json!({
            "run": self.run,
            "test_accuracy": ev.accuracy,
            "test_loss": ev.loss,
            "examples": ev.examples,
            "classes": self.classes,
            "confusion": ev.confusion,
        })
    }
}

/// What [`evaluate`] measured.
#[derive(Debug, Clone)]
pub enum EvalReport {
    /// An agent on an environment.
    Agent(AgentEval),
    /// A classifier run on its test set.
    Classifier(ClassifierEval),
}

impl EvalReport {
    /// The `--json` object.
    pub fn to_json(&self) -> Value {
        match self {
            EvalReport::Agent(a) => a.to_json(),
            EvalReport::Classifier(c) => c.to_json(),
        }
    }
}

/// Evaluates `req` (see [`EvalRequest`]).
pub fn evaluate(req: &EvalRequest) -> Result<EvalReport> {
    if !is_run_dir(&req.target) {
        let agent = req.agent.as_deref().unwrap_or("random");
        return Ok(EvalReport::Agent(evaluate_agent(
            &req.target,
            &req.sets,
            agent,
            req,
        )?));
    }
    let dir = std::path::Path::new(&req.target);
    let run = RunDir::open(dir)?;
    let exp = Experiment::load(&run.config_path(), &[])?;
    match exp.kind {
        Kind::Classifier => {
            if let Some(agent) = &req.agent {
                bail!(
                    "{} is a classifier run: it is evaluated on its test set, without --agent (got --agent {agent})",
                    req.target
                );
            }
            let x = ClassifierExperiment::from_experiment(&exp)?;
            let evaluation = classifier::eval_run(&x, &run, DeviceChoice::Cpu)?;
            Ok(EvalReport::Classifier(ClassifierEval {
                run: req.target.clone(),
                evaluation,
                classes: FASHION_MNIST_CLASSES
                    .iter()
                    .map(|s| s.to_string())
                    .collect(),
            }))
        }
        Kind::AlphaZero => bail!(
            "{} is an AlphaZero run: it plays matches (ember match go|connect_four --black az:{0} ...), not env episodes",
            req.target
        ),
        Kind::Dqn | Kind::Ppo => {
            let agent = match req.agent.as_deref() {
                None => req.target.as_str(),
                Some("random") => "random",
                Some(other) => bail!(
                    "give the run directory either in place of ENV or as --agent, not both (got {} and --agent {other}); --agent random plays the random baseline on the run's environment",
                    req.target
                ),
            };
            let env = crate::rl::env_section(&exp)?;
            let mut sets = env.sets()?;
            sets.extend(req.sets.iter().cloned());
            Ok(EvalReport::Agent(evaluate_agent(
                &env.id, &sets, agent, req,
            )?))
        }
    }
}

/// `agent` on environment `id` with options `sets`, by the one evaluation rule.
fn evaluate_agent(id: &str, sets: &[String], agent: &str, req: &EvalRequest) -> Result<AgentEval> {
    if req.episodes == 0 {
        bail!("--episodes must be at least 1");
    }
    let mut env = make_env(id, sets)?;
    let mut actor = Agent::for_env(agent, &*env, req.seed, req.mode)?;
    let result = ember_agents::common::evaluate(
        &mut *env,
        req.episodes,
        req.seed,
        req.max_episode_steps,
        &mut |env| actor.act(env),
    )?;
    let policy = match actor {
        Agent::Random(_) => "uniform".to_string(),
        Agent::Trained(_) => mode_name(req.mode),
        Agent::Go(p) => p.name(),
    };
    Ok(AgentEval {
        env: id.to_string(),
        agent: agent.to_string(),
        seed: req.seed,
        policy,
        result,
    })
}
