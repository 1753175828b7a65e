//! Wrappers: an `Env` around an `Env`, each changing one thing, as in Gymnasium.
//!
//! All are generic over the inner env (`Box<dyn Env>` included) and allocate nothing per step.

use crate::rng::{Rng, child_seed};
use crate::{Env, EnvError, EpisodeStats, LegendEntry, RgbFrame, Space, Step};

/// Forwards the parts of `Env` a wrapper does not change.
macro_rules! forward_env {
    () => {
        fn id(&self) -> &str {
            self.inner.id()
        }
        fn action_space(&self) -> &Space {
            self.inner.action_space()
        }
        fn action_mask(&self) -> Option<&[bool]> {
            self.inner.action_mask()
        }
        fn render_text(&self) -> String {
            self.inner.render_text()
        }
        fn render_rgb(&self) -> RgbFrame {
            self.inner.render_rgb()
        }
        fn legend(&self) -> Vec<LegendEntry> {
            self.inner.legend()
        }
    };
}

/// Truncates episodes after `max_steps` steps (Gymnasium's `TimeLimit`). A step that terminates
/// on the limit is reported as terminated, not truncated.
pub struct TimeLimit<E> {
    inner: E,
    max_steps: u64,
    t: u64,
    over: bool,
}

impl<E: Env> TimeLimit<E> {
    pub fn new(inner: E, max_steps: u64) -> Self {
        TimeLimit {
            inner,
            max_steps,
            t: 0,
            over: false,
        }
    }
    pub fn into_inner(self) -> E {
        self.inner
    }
    /// Steps taken in the current episode.
    pub fn elapsed(&self) -> u64 {
        self.t
    }
}

impl<E: Env> Env for TimeLimit<E> {
    forward_env!();
    fn observation_space(&self) -> &Space {
        self.inner.observation_space()
    }
    fn reset(&mut self, seed: Option<u64>) -> &[f32] {
        self.t = 0;
        self.over = false;
        self.inner.reset(seed)
    }
    fn step(&mut self, action: usize) -> Result<Step<'_>, EnvError> {
        if self.over {
            return Err(EnvError::EpisodeOver);
        }
        let mut s = self.inner.step(action)?;
        self.t += 1;
        if !s.terminated && self.t >= self.max_steps {
            s.truncated = true;
        }
        self.over = s.done();
        Ok(s)
    }
    fn obs(&self) -> &[f32] {
        self.inner.obs()
    }
}

/// Records each episode's return and length and reports them in `Info::episode` on its last step
/// (Gymnasium's `RecordEpisodeStatistics`).
pub struct EpisodeStatistics<E> {
    inner: E,
    ret: f64,
    len: u64,
    last: Option<EpisodeStats>,
}

impl<E: Env> EpisodeStatistics<E> {
    pub fn new(inner: E) -> Self {
        EpisodeStatistics {
            inner,
            ret: 0.0,
            len: 0,
            last: None,
        }
    }
    /// The statistics of the most recently finished episode.
    pub fn last_episode(&self) -> Option<EpisodeStats> {
        self.last
    }
    pub fn into_inner(self) -> E {
        self.inner
    }
}

impl<E: Env> Env for EpisodeStatistics<E> {
    forward_env!();
    fn observation_space(&self) -> &Space {
        self.inner.observation_space()
    }
    fn reset(&mut self, seed: Option<u64>) -> &[f32] {
        self.ret = 0.0;
        self.len = 0;
        self.inner.reset(seed)
    }
    fn step(&mut self, action: usize) -> Result<Step<'_>, EnvError> {
        let mut s = self.inner.step(action)?;
        self.ret += s.reward as f64;
        self.len += 1;
        if s.done() {
            let e = EpisodeStats {
                ret: self.ret,
                len: self.len,
            };
            s.info.episode = Some(e);
            self.last = Some(e);
        }
        Ok(s)
    }
    fn obs(&self) -> &[f32] {
        self.inner.obs()
    }
}

/// Stacks the last `k` observations into one of shape `[k, ...inner shape]`, oldest first;
/// after a reset the stack is filled with the first observation (Gymnasium's
/// `FrameStackObservation` with `padding_type="reset"`). For `[C,H,W]` planes the flat layout is
/// that of `[k*C,H,W]`, ready for a conv net.
pub struct FrameStack<E> {
    inner: E,
    k: usize,
    len: usize,
    /// Ring of the last `k` frames; `head` is the slot of the oldest.
    ring: Vec<f32>,
    head: usize,
    out: Vec<f32>,
    space: Space,
}

impl<E: Env> FrameStack<E> {
    /// `k >= 1` frames; the inner observation space must be a box.
    pub fn new(inner: E, k: usize) -> Result<Self, EnvError> {
        let Space::Box { shape, low, high } = inner.observation_space().clone() else {
            return Err(EnvError::Other(
                "FrameStack needs a Box observation space".into(),
            ));
        };
        if k == 0 {
            return Err(EnvError::Other("FrameStack needs k >= 1 frames".into()));
        }
        let len = low.len();
        let mut new_shape = vec![k];
        new_shape.extend_from_slice(&shape);
        let space = Space::boxed(&new_shape, low.repeat(k), high.repeat(k));
        Ok(FrameStack {
            inner,
            k,
            len,
            ring: vec![0.0; k * len],
            head: 0,
            out: vec![0.0; k * len],
            space,
        })
    }
    pub fn into_inner(self) -> E {
        self.inner
    }

    fn push(ring: &mut [f32], head: &mut usize, k: usize, frame: &[f32]) {
        let n = frame.len();
        ring[*head * n..(*head + 1) * n].copy_from_slice(frame);
        *head = (*head + 1) % k;
    }

    fn assemble(&mut self) {
        let n = self.len;
        for i in 0..self.k {
            let slot = (self.head + i) % self.k;
            self.out[i * n..(i + 1) * n].copy_from_slice(&self.ring[slot * n..(slot + 1) * n]);
        }
    }
}

impl<E: Env> Env for FrameStack<E> {
    forward_env!();
    fn observation_space(&self) -> &Space {
        &self.space
    }
    fn reset(&mut self, seed: Option<u64>) -> &[f32] {
        let first = self.inner.reset(seed);
        for i in 0..self.k {
            self.ring[i * self.len..(i + 1) * self.len].copy_from_slice(first);
        }
        self.head = 0;
        self.assemble();
        &self.out
    }
    fn step(&mut self, action: usize) -> Result<Step<'_>, EnvError> {
        let s = self.inner.step(action)?;
        Self::push(&mut self.ring, &mut self.head, self.k, s.obs);
        let (reward, terminated, truncated, info) = (s.reward, s.terminated, s.truncated, s.info);
        self.assemble();
        Ok(Step {
            obs: &self.out,
            reward,
            terminated,
            truncated,
            info,
        })
    }
    fn obs(&self) -> &[f32] {
        &self.out
    }
}

/// With probability `p`, repeats the previous action instead of the chosen one (Machado et al.
/// 2018; Gymnasium's `StickyAction`). Its generator is seeded from the reset seed. The first step
/// of an episode always takes the chosen action.
pub struct StickyActions<E> {
    inner: E,
    p: f64,
    rng: Rng,
    last: Option<usize>,
}

impl<E: Env> StickyActions<E> {
    pub fn new(inner: E, p: f64) -> Result<Self, EnvError> {
        if !(0.0..=1.0).contains(&p) {
            return Err(EnvError::Other(format!(
                "sticky action probability {p} is outside [0, 1]"
            )));
        }
        Ok(StickyActions {
            inner,
            p,
            rng: Rng::new(child_seed(0, 0x571C)),
            last: None,
        })
    }
    pub fn into_inner(self) -> E {
        self.inner
    }
}

impl<E: Env> Env for StickyActions<E> {
    forward_env!();
    fn observation_space(&self) -> &Space {
        self.inner.observation_space()
    }
    fn reset(&mut self, seed: Option<u64>) -> &[f32] {
        if let Some(s) = seed {
            self.rng = Rng::new(child_seed(s, 0x571C));
        }
        self.last = None;
        self.inner.reset(seed)
    }
    fn step(&mut self, action: usize) -> Result<Step<'_>, EnvError> {
        // Validate the chosen action first, so a bad action is an error even when it would have
        // been replaced, and the generator does not advance on a rejected step.
        if !self.inner.action_space().contains_action(action) {
            let n = self.inner.action_space().n().unwrap_or(0);
            return Err(EnvError::InvalidAction { action, n });
        }
        let a = match self.last {
            Some(prev) if self.rng.chance(self.p) => prev,
            _ => action,
        };
        let s = self.inner.step(a)?;
        self.last = Some(a);
        Ok(s)
    }
    fn obs(&self) -> &[f32] {
        self.inner.obs()
    }
}

/// Clips rewards: either to `[min, max]` (Gymnasium's `ClipReward`) or to their sign (the Atari
/// DQN convention).
pub struct ClipReward<E> {
    inner: E,
    mode: Clip,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Clip {
    Bounds(f32, f32),
    Sign,
}

impl<E: Env> ClipReward<E> {
    pub fn bounds(inner: E, min: f32, max: f32) -> Result<Self, EnvError> {
        if min.is_nan() || max.is_nan() || min > max {
            return Err(EnvError::Other(format!(
                "reward clip bounds [{min}, {max}] are not an interval"
            )));
        }
        Ok(ClipReward {
            inner,
            mode: Clip::Bounds(min, max),
        })
    }
    pub fn sign(inner: E) -> Self {
        ClipReward {
            inner,
            mode: Clip::Sign,
        }
    }
    pub fn into_inner(self) -> E {
        self.inner
    }
}

impl<E: Env> Env for ClipReward<E> {
    forward_env!();
    fn observation_space(&self) -> &Space {
        self.inner.observation_space()
    }
    fn reset(&mut self, seed: Option<u64>) -> &[f32] {
        self.inner.reset(seed)
    }
    fn step(&mut self, action: usize) -> Result<Step<'_>, EnvError> {
        let mode = self.mode;
        let mut s = self.inner.step(action)?;
        s.reward = match mode {
            Clip::Bounds(lo, hi) => s.reward.clamp(lo, hi),
            Clip::Sign if s.reward > 0.0 => 1.0,
            Clip::Sign if s.reward < 0.0 => -1.0,
            Clip::Sign => 0.0,
        };
        Ok(s)
    }
    fn obs(&self) -> &[f32] {
        self.inner.obs()
    }
}
