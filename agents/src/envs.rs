//! A batch of environments stepped together, each episode seeded explicitly, so that the state
//! of every environment is a pure function of `(seed, env index, episode number, actions so
//! far)`. That is what a checkpoint records ([`EnvsState`]); [`Envs::restore`] replays it.
//!
//! Autoreset is "same step": when an episode ends, its final observation is kept in
//! [`Transition::final_obs`] and the environment is reset at once, so [`Envs::obs`] always holds
//! the observations the next actions are chosen from.

use ember_envs::Env;
use ember_envs::rng::child_seed;
use serde::{Deserialize, Serialize};

use crate::error::{AgentError, Result};

/// What one batched step returned, per environment.
#[derive(Debug, Clone, Default)]
pub struct Transition {
    /// Rewards `[n]`.
    pub rewards: Vec<f32>,
    /// The task ended `[n]`.
    pub terminated: Vec<bool>,
    /// Cut short from outside (a time limit) `[n]`.
    pub truncated: Vec<bool>,
    /// Observations reached by the actions, `[n, obs_len]`: for an environment whose episode
    /// ended, its final observation (not the reset one).
    pub final_obs: Vec<f32>,
    /// Finished episodes: (env index, return, length).
    pub finished: Vec<(usize, f64, u64)>,
    /// For environments with action masks, the legal actions of `final_obs`, `[n, actions]`
    /// (empty otherwise).
    pub final_masks: Vec<bool>,
}

/// The replayable state of an [`Envs`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnvsState {
    /// Episode number of each environment.
    pub episode: Vec<u64>,
    /// Actions taken in each environment's current episode.
    pub actions: Vec<Vec<u16>>,
}

/// See the module docs.
pub struct Envs<E: Env> {
    envs: Vec<E>,
    seed: u64,
    obs_len: usize,
    num_actions: usize,
    obs: Vec<f32>,
    episode: Vec<u64>,
    actions: Vec<Vec<u16>>,
    ret: Vec<f64>,
    len: Vec<u64>,
}

impl<E: Env> std::fmt::Debug for Envs<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Envs")
            .field("n", &self.envs.len())
            .field("seed", &self.seed)
            .field("episode", &self.episode)
            .finish()
    }
}

impl<E: Env> Envs<E> {
    /// `n` environments from `make(i)`, reset to their first episode. They must agree on their
    /// spaces, and actions must fit in `u16`.
    pub fn new(n: usize, seed: u64, mut make: impl FnMut(usize) -> Result<E>) -> Result<Self> {
        if n == 0 {
            return Err(crate::error::config("num_envs must be at least 1"));
        }
        let envs: Vec<E> = (0..n).map(&mut make).collect::<Result<_>>()?;
        let (shape, actions) = crate::common::spaces(&envs[0])?;
        if actions > u16::MAX as usize {
            return Err(AgentError::Unsupported(format!(
                "{actions} actions (at most 65535)"
            )));
        }
        for e in &envs[1..] {
            if crate::common::spaces(e)? != (shape.clone(), actions) {
                return Err(AgentError::Unsupported(
                    "the environments of a batch have different spaces".into(),
                ));
            }
        }
        let obs_len = shape.iter().product();
        let mut me = Envs {
            obs: vec![0.0; n * obs_len],
            envs,
            seed,
            obs_len,
            num_actions: actions,
            episode: vec![0; n],
            actions: vec![Vec::new(); n],
            ret: vec![0.0; n],
            len: vec![0; n],
        };
        for i in 0..n {
            me.reset_env(i);
        }
        Ok(me)
    }

    /// Number of environments.
    pub fn len(&self) -> usize {
        self.envs.len()
    }

    /// Whether there are none (never: `new` refuses 0).
    pub fn is_empty(&self) -> bool {
        self.envs.is_empty()
    }

    /// Flat observation length.
    pub fn obs_len(&self) -> usize {
        self.obs_len
    }

    /// Current observations `[n, obs_len]`.
    pub fn obs(&self) -> &[f32] {
        &self.obs
    }

    /// The first environment (for its spaces).
    pub fn first(&self) -> &E {
        &self.envs[0]
    }

    /// The legal actions of environment `i` now (`None`: every action is legal).
    pub fn mask(&self, i: usize) -> Option<&[bool]> {
        self.envs[i].action_mask()
    }

    fn episode_seed(&self, i: usize) -> u64 {
        child_seed(child_seed(self.seed, i as u64), self.episode[i])
    }

    fn reset_env(&mut self, i: usize) {
        let s = self.episode_seed(i);
        let o = self.envs[i].reset(Some(s));
        self.obs[i * self.obs_len..(i + 1) * self.obs_len].copy_from_slice(o);
        self.actions[i].clear();
        self.ret[i] = 0.0;
        self.len[i] = 0;
    }

    /// Steps environment `i` with `actions[i]`, resetting those whose episode ends.
    pub fn step(&mut self, actions: &[usize], out: &mut Transition) -> Result<()> {
        let n = self.envs.len();
        if actions.len() != n {
            return Err(AgentError::Unsupported(format!(
                "{} actions for {n} environments",
                actions.len()
            )));
        }
        let l = self.obs_len;
        out.rewards.resize(n, 0.0);
        out.terminated.resize(n, false);
        out.truncated.resize(n, false);
        out.final_obs.resize(n * l, 0.0);
        out.finished.clear();
        let masked = self.envs[0].action_mask().is_some();
        let k = self.num_actions;
        out.final_masks.resize(if masked { n * k } else { 0 }, true);
        for (i, &a) in actions.iter().enumerate() {
            let s = self.envs[i].step(a)?;
            out.rewards[i] = s.reward;
            out.terminated[i] = s.terminated;
            out.truncated[i] = s.truncated;
            out.final_obs[i * l..(i + 1) * l].copy_from_slice(s.obs);
            let done = s.done();
            self.ret[i] += s.reward as f64;
            self.len[i] += 1;
            if masked {
                let dst = &mut out.final_masks[i * k..(i + 1) * k];
                match self.envs[i].action_mask() {
                    Some(m) if m.len() == k => dst.copy_from_slice(m),
                    _ => dst.fill(true),
                }
            }
            if done {
                out.finished.push((i, self.ret[i], self.len[i]));
                self.episode[i] += 1;
                self.reset_env(i);
            } else {
                self.actions[i].push(a as u16);
                self.obs[i * l..(i + 1) * l].copy_from_slice(&out.final_obs[i * l..(i + 1) * l]);
            }
        }
        Ok(())
    }

    /// The state to checkpoint.
    pub fn state(&self) -> EnvsState {
        EnvsState {
            episode: self.episode.clone(),
            actions: self.actions.clone(),
        }
    }

    /// Brings every environment to `state` by resetting it with its episode's seed and replaying
    /// the episode's actions.
    pub fn restore(&mut self, state: &EnvsState) -> Result<()> {
        let n = self.envs.len();
        if state.episode.len() != n || state.actions.len() != n {
            return Err(AgentError::Unsupported(format!(
                "saved state is for {} environments, this run has {n}",
                state.episode.len()
            )));
        }
        let l = self.obs_len;
        for i in 0..n {
            self.episode[i] = state.episode[i];
            self.reset_env(i);
            for &a in &state.actions[i] {
                let s = self.envs[i].step(a as usize)?;
                if s.done() {
                    return Err(AgentError::Unsupported(
                        "replaying a saved episode ended it early: the environment is not \
                         deterministic under its seed"
                            .into(),
                    ));
                }
                self.ret[i] += s.reward as f64;
                self.len[i] += 1;
                self.obs[i * l..(i + 1) * l].copy_from_slice(s.obs);
            }
            self.actions[i] = state.actions[i].clone();
        }
        Ok(())
    }
}
