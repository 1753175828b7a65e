//! Episodes started from the page: an agent (`random` or a trained DQN/PPO run under `--runs`)
//! plays one episode of an environment, stepped by `ember_run::watch::Episode` on its own
//! thread; each step is an event with the frame (`Env::render_rgb`, one colour per channel for
//! plane environments, whose legend the `start` event carries), the action, the reward, the
//! running return and what the agent's network said (Q-values or action probabilities).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use ember_agents::policy::{ActMode, PolicyOutputs};
use ember_run::watch::Episode;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::{ApiError, ApiResult};
use crate::events::EventLog;
use crate::runs::RunsRoot;

/// The most steps an episode from the page may take.
pub const MAX_STEPS: usize = 10_000;
/// The most milliseconds an episode may wait after each step.
pub const MAX_DELAY_MS: u64 = 2000;

/// `POST /api/episodes`'s body.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EpisodeRequest {
    /// An environment id (`ember envs`), e.g. `Breakout-v0`, `CartPole-v1`.
    pub env: String,
    /// `random` (default) or the name of a DQN/PPO run under `--runs`.
    #[serde(default = "random")]
    pub agent: String,
    /// Environment options, `key=value`.
    #[serde(default)]
    pub options: Vec<String>,
    #[serde(default)]
    pub seed: u64,
    /// Stop after this many steps (default 1000, at most [`MAX_STEPS`]).
    #[serde(default)]
    pub max_steps: Option<usize>,
    /// A pause after each step, for watching (at most [`MAX_DELAY_MS`]).
    #[serde(default)]
    pub delay_ms: u64,
    /// A PPO agent samples from its policy instead of taking the most probable action.
    #[serde(default)]
    pub stochastic: bool,
}

fn random() -> String {
    "random".into()
}

/// Standard base64 of `bytes` (the frames' RGB bytes).
pub fn base64(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for c in bytes.chunks(3) {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        for k in 0..4 {
            if k <= c.len() {
                s.push(T[((n >> (18 - 6 * k)) & 63) as usize] as char);
            } else {
                s.push('=');
            }
        }
    }
    s
}

fn frame(ep: &Episode) -> Value {
    let f = ep.env().render_rgb();
    json!({ "width": f.width, "height": f.height, "rgb": base64(&f.data) })
}

fn outputs(ep: &Episode) -> Value {
    match ep.agent().last_outputs() {
        Some(PolicyOutputs::QValues(v)) => json!({ "kind": "q_values", "values": v }),
        Some(PolicyOutputs::Probabilities(v)) => json!({ "kind": "probabilities", "values": v }),
        None => Value::Null,
    }
}

/// An episode checked and started (environment made and reset, agent loaded), ready to step.
pub struct Prepared {
    pub info: Value,
    episode: Episode,
    max_steps: usize,
    delay: Duration,
}

/// Checks the request, makes the environment and loads the agent (call it off the async
/// threads: loading a network takes a moment).
pub fn prepare(req: &EpisodeRequest, runs: &RunsRoot, allow_engines: bool) -> ApiResult<Prepared> {
    if req.env.trim_start().starts_with("gym:") && !allow_engines {
        return Err(ApiError::forbidden(format!(
            "`{}`: Python Gymnasium environments can be started from the page only when the server runs with --allow-engines",
            req.env
        )));
    }
    let max_steps = req.max_steps.unwrap_or(1000);
    if max_steps == 0 || max_steps > MAX_STEPS {
        return Err(ApiError::bad_request(format!(
            "max_steps {max_steps}: give 1 to {MAX_STEPS}"
        )));
    }
    if req.delay_ms > MAX_DELAY_MS {
        return Err(ApiError::bad_request(format!(
            "delay_ms {} is too long: at most {MAX_DELAY_MS}",
            req.delay_ms
        )));
    }
    let agent = match req.agent.trim() {
        "random" => "random".to_string(),
        name => runs
            .resolve(name)
            .map_err(|e| ApiError::new(e.status, format!("agent `{name}`: {}", e.message)))?
            .display()
            .to_string(),
    };
    let mode = if req.stochastic {
        ActMode::Sample
    } else {
        ActMode::Greedy
    };
    let episode = Episode::start(&req.env, &req.options, &agent, req.seed, mode)
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let legend: Vec<Value> = episode
        .env()
        .legend()
        .into_iter()
        .map(|l| json!({ "name": l.name, "rgb": l.rgb }))
        .collect();
    let actions = episode.env().action_space().n();
    let info = json!({
        "env": req.env, "agent": req.agent.trim(), "options": req.options, "seed": req.seed,
        "max_steps": max_steps, "delay_ms": req.delay_ms, "stochastic": req.stochastic,
        "actions": actions, "legend": legend,
    });
    Ok(Prepared {
        info,
        episode,
        max_steps,
        delay: Duration::from_millis(req.delay_ms),
    })
}

impl Prepared {
    /// Plays the episode into `log`: `start` (with the first frame), a `step` per step, then
    /// `end` (or `error`).
    pub fn play(mut self, log: &EventLog, stop: &AtomicBool) {
        let mut start = self.info.clone();
        start["frame"] = frame(&self.episode);
        log.push("start", start);
        loop {
            if stop.load(Ordering::Relaxed) {
                log.push("failed", json!({ "error": "stopped by a request" }));
                return;
            }
            let s = match self.episode.step() {
                Ok(s) => s,
                Err(e) => {
                    log.push("failed", json!({ "error": e.to_string() }));
                    return;
                }
            };
            log.push(
                "step",
                json!({
                    "t": self.episode.steps(),
                    "action": s.action,
                    "reward": s.reward,
                    "return": self.episode.ret(),
                    "outputs": outputs(&self.episode),
                    "frame": frame(&self.episode),
                }),
            );
            let end = match s.end {
                Some(e) => Some(e.name()),
                None if self.episode.steps() >= self.max_steps => Some("max_steps"),
                None => None,
            };
            if let Some(end) = end {
                log.push(
                    "end",
                    json!({ "end": end, "steps": self.episode.steps(), "return": self.episode.ret() }),
                );
                return;
            }
            if !self.delay.is_zero() {
                std::thread::sleep(self.delay);
            }
        }
    }
}
