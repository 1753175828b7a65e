//! `VecEnv`: N environments stepped in lockstep, on one thread or several.
//!
//! Observations land in one preallocated `(N, obs_len)` array, rewards and flags in preallocated
//! slices: a step allocates nothing. One seed fans out to per-env seeds (`child_seed(seed, i)`).
//! Autoreset follows Gymnasium: `NextStep` (the default) resets an env on the step *after* its
//! episode ended, returning the reset observation with reward 0 and both flags false, and ignoring
//! that step's action; `SameStep` resets in the step that ended the episode, returning the reset
//! observation and keeping the last real one in `final_obs`; `Disabled` leaves finished envs
//! alone, and stepping one is an error.

use ndarray::{Array2, ArrayView2, ArrayViewD, IxDyn};
use rayon::prelude::*;

use crate::rng::child_seed;
use crate::{Env, EnvError, Info, Space};

/// When a finished member is reset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Autoreset {
    #[default]
    NextStep,
    SameStep,
    Disabled,
}

impl std::str::FromStr for Autoreset {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "next-step" | "next_step" | "NextStep" => Ok(Autoreset::NextStep),
            "same-step" | "same_step" | "SameStep" => Ok(Autoreset::SameStep),
            "disabled" | "Disabled" => Ok(Autoreset::Disabled),
            _ => Err(format!(
                "unknown autoreset mode `{s}`: expected next-step, same-step or disabled"
            )),
        }
    }
}

/// The batch returned by `VecEnv::step`, borrowed from the vector env's buffers.
#[derive(Debug, Clone, Copy)]
pub struct VecStep<'a> {
    /// `(N, obs_len)` observations (see `VecEnv::obs_nd` for the full shape).
    pub obs: ArrayView2<'a, f32>,
    pub rewards: &'a [f32],
    pub terminated: &'a [bool],
    pub truncated: &'a [bool],
    pub infos: &'a [Info],
    /// `SameStep` only: `has_final[i]` says env `i` finished this step and its last observation is
    /// row `i` of `final_obs`.
    pub has_final: &'a [bool],
    pub final_obs: ArrayView2<'a, f32>,
}

struct Member<E> {
    env: E,
    /// `NextStep`/`Disabled`: the episode ended on the last step.
    ended: bool,
}

/// N environments of the same spaces.
pub struct VecEnv<E: Env = Box<dyn Env>> {
    members: Vec<Member<E>>,
    mode: Autoreset,
    obs_space: Space,
    act_space: Space,
    obs: Array2<f32>,
    final_obs: Array2<f32>,
    rewards: Vec<f32>,
    terminated: Vec<bool>,
    truncated: Vec<bool>,
    infos: Vec<Info>,
    has_final: Vec<bool>,
    pool: Option<rayon::ThreadPool>,
    reset_done: bool,
}

impl VecEnv<Box<dyn Env>> {
    /// `n` instances of a registered id.
    pub fn make<K: AsRef<str>, V: AsRef<str>>(
        id: &str,
        options: &[(K, V)],
        n: usize,
        mode: Autoreset,
    ) -> Result<Self, EnvError> {
        let spec = crate::registry::spec(id)?;
        let envs = (0..n)
            .map(|_| spec.make(options))
            .collect::<Result<Vec<_>, _>>()?;
        VecEnv::new(envs, mode)
    }
}

impl<E: Env> VecEnv<E> {
    /// Wraps `envs` (at least one, all with the same spaces).
    pub fn new(envs: Vec<E>, mode: Autoreset) -> Result<Self, EnvError> {
        let first = envs
            .first()
            .ok_or_else(|| EnvError::Mismatch("a vector env needs at least one env".into()))?;
        let obs_space = first.observation_space().clone();
        let act_space = first.action_space().clone();
        if !matches!(act_space, Space::Discrete { .. }) {
            return Err(EnvError::Mismatch(format!(
                "action space must be Discrete, is {act_space}"
            )));
        }
        for (i, e) in envs.iter().enumerate() {
            if e.observation_space() != &obs_space || e.action_space() != &act_space {
                return Err(EnvError::Mismatch(format!(
                    "env {i} has different spaces from env 0"
                )));
            }
        }
        let (n, len) = (envs.len(), obs_space.flat_len());
        Ok(VecEnv {
            members: envs
                .into_iter()
                .map(|env| Member { env, ended: false })
                .collect(),
            mode,
            obs_space,
            act_space,
            obs: Array2::zeros((n, len)),
            final_obs: Array2::zeros((n, len)),
            rewards: vec![0.0; n],
            terminated: vec![false; n],
            truncated: vec![false; n],
            infos: vec![Info::default(); n],
            has_final: vec![false; n],
            pool: None,
            reset_done: false,
        })
    }

    /// Steps the members on `threads` worker threads (`0` or `1`: the calling thread only).
    pub fn threaded(mut self, threads: usize) -> Result<Self, EnvError> {
        self.pool = if threads > 1 {
            Some(
                rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .thread_name(|i| format!("ember-vecenv-{i}"))
                    .build()
                    .map_err(|e| EnvError::Other(format!("cannot start {threads} threads: {e}")))?,
            )
        } else {
            None
        };
        Ok(self)
    }

    pub fn num_envs(&self) -> usize {
        self.members.len()
    }
    pub fn autoreset(&self) -> Autoreset {
        self.mode
    }
    /// The observation space of one member.
    pub fn single_observation_space(&self) -> &Space {
        &self.obs_space
    }
    /// The action space of one member.
    pub fn single_action_space(&self) -> &Space {
        &self.act_space
    }
    pub fn envs(&self) -> impl Iterator<Item = &E> {
        self.members.iter().map(|m| &m.env)
    }
    pub fn env_mut(&mut self, i: usize) -> &mut E {
        &mut self.members[i].env
    }

    /// The current batch of observations, `(N, obs_len)`.
    pub fn obs(&self) -> ArrayView2<'_, f32> {
        self.obs.view()
    }

    /// The current batch with its full shape `(N, ...single shape)`.
    pub fn obs_nd(&self) -> ArrayViewD<'_, f32> {
        let mut shape = vec![self.members.len()];
        shape.extend_from_slice(self.obs_space.shape());
        self.obs
            .view()
            .into_shape_with_order(IxDyn(&shape))
            .expect("the batch has N * obs_len elements")
    }

    /// Resets every member: with `Some(seed)`, member `i` gets `child_seed(seed, i)`; with `None`,
    /// each continues its own generator (a vector env never reset before uses seed 0).
    pub fn reset(&mut self, seed: Option<u64>) -> ArrayView2<'_, f32> {
        let seed = match (seed, self.reset_done) {
            (Some(s), _) => Some(s),
            (None, false) => Some(0),
            (None, true) => None,
        };
        self.reset_done = true;
        for (i, (m, mut row)) in self.members.iter_mut().zip(self.obs.rows_mut()).enumerate() {
            let o = m.env.reset(seed.map(|s| child_seed(s, i as u64)));
            row.as_slice_mut()
                .expect("rows are contiguous")
                .copy_from_slice(o);
            m.ended = false;
        }
        self.clear_outputs();
        self.obs.view()
    }

    /// Resets member `i` with `seeds[i]` (`None`: continue its generator), e.g. for Gymnasium's
    /// `reset(seed=[...])`.
    pub fn reset_each(&mut self, seeds: &[Option<u64>]) -> Result<ArrayView2<'_, f32>, EnvError> {
        if seeds.len() != self.members.len() {
            return Err(EnvError::BatchSize {
                expected: self.members.len(),
                got: seeds.len(),
            });
        }
        self.reset_done = true;
        for ((m, mut row), &seed) in self.members.iter_mut().zip(self.obs.rows_mut()).zip(seeds) {
            row.as_slice_mut()
                .expect("rows are contiguous")
                .copy_from_slice(m.env.reset(seed));
            m.ended = false;
        }
        self.clear_outputs();
        Ok(self.obs.view())
    }

    fn clear_outputs(&mut self) {
        self.rewards.fill(0.0);
        self.terminated.fill(false);
        self.truncated.fill(false);
        self.has_final.fill(false);
        self.infos.fill(Info::default());
    }

    /// The buffers as the last `step` (or `reset`) left them.
    pub fn last(&self) -> VecStep<'_> {
        VecStep {
            obs: self.obs.view(),
            rewards: &self.rewards,
            terminated: &self.terminated,
            truncated: &self.truncated,
            infos: &self.infos,
            has_final: &self.has_final,
            final_obs: self.final_obs.view(),
        }
    }

    /// Steps every member with its action. Actions are validated (space and mask) before any
    /// member moves, so a bad batch changes nothing.
    pub fn step(&mut self, actions: &[usize]) -> Result<VecStep<'_>, EnvError> {
        let n = self.members.len();
        if actions.len() != n {
            return Err(EnvError::BatchSize {
                expected: n,
                got: actions.len(),
            });
        }
        if !self.reset_done {
            return Err(EnvError::NeedsReset);
        }
        let na = self.act_space.n().unwrap_or(0);
        for (m, &a) in self.members.iter().zip(actions) {
            let skipped = m.ended && self.mode == Autoreset::NextStep;
            if skipped {
                continue;
            }
            if m.ended {
                return Err(EnvError::EpisodeOver);
            }
            if a >= na {
                return Err(EnvError::InvalidAction { action: a, n: na });
            }
            if let Some(mask) = m.env.action_mask()
                && !mask[a]
            {
                return Err(EnvError::IllegalAction {
                    action: a,
                    reason: "masked out by the env's action mask".into(),
                });
            }
        }
        let len = self.obs_space.flat_len();
        let mode = self.mode;
        let chunk = match &self.pool {
            Some(p) => n.div_ceil(p.current_num_threads()),
            None => n,
        };
        // One chunk of every per-env buffer, zipped: the tuple is the shape of the zip.
        #[allow(clippy::type_complexity)]
        let run = move |(ms, acts, obs, fin, rew, term, trunc, info, hf): (
            &mut [Member<E>],
            &[usize],
            &mut [f32],
            &mut [f32],
            &mut [f32],
            &mut [bool],
            &mut [bool],
            &mut [Info],
            &mut [bool],
        )|
              -> Result<(), EnvError> {
            for j in 0..ms.len() {
                let m = &mut ms[j];
                let row = &mut obs[j * len..(j + 1) * len];
                hf[j] = false;
                if m.ended && mode == Autoreset::NextStep {
                    row.copy_from_slice(m.env.reset(None));
                    m.ended = false;
                    (rew[j], term[j], trunc[j], info[j]) = (0.0, false, false, Info::default());
                    continue;
                }
                let s = m.env.step(acts[j])?;
                (rew[j], term[j], trunc[j], info[j]) =
                    (s.reward, s.terminated, s.truncated, s.info);
                if s.done() && mode == Autoreset::SameStep {
                    fin[j * len..(j + 1) * len].copy_from_slice(s.obs);
                    hf[j] = true;
                    row.copy_from_slice(m.env.reset(None));
                } else {
                    let done = s.done();
                    row.copy_from_slice(s.obs);
                    m.ended = done;
                }
            }
            Ok(())
        };
        let obs = self.obs.as_slice_mut().expect("standard layout");
        let fin = self.final_obs.as_slice_mut().expect("standard layout");
        match &self.pool {
            Some(p) => p.install(|| {
                (
                    self.members.par_chunks_mut(chunk),
                    actions.par_chunks(chunk),
                    obs.par_chunks_mut(chunk * len),
                    fin.par_chunks_mut(chunk * len),
                    self.rewards.par_chunks_mut(chunk),
                    self.terminated.par_chunks_mut(chunk),
                    self.truncated.par_chunks_mut(chunk),
                    self.infos.par_chunks_mut(chunk),
                    self.has_final.par_chunks_mut(chunk),
                )
                    .into_par_iter()
                    .try_for_each(run)
            })?,
            None => run((
                &mut self.members,
                actions,
                obs,
                fin,
                &mut self.rewards,
                &mut self.terminated,
                &mut self.truncated,
                &mut self.infos,
                &mut self.has_final,
            ))?,
        }
        Ok(self.last())
    }
}
