//! The `Env` contract.

use crate::{EnvError, Space};

/// Statistics of a finished episode, reported by the `EpisodeStatistics` wrapper (Gymnasium's
/// `info["episode"]`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EpisodeStats {
    /// Sum of rewards over the episode (unclipped, as seen by the wrapper).
    pub ret: f64,
    /// Number of steps in the episode.
    pub len: u64,
}

/// Extra information returned with a step. Small and `Copy`, so stepping never allocates.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Info {
    /// Set on the last step of an episode by `EpisodeStatistics`.
    pub episode: Option<EpisodeStats>,
}

/// The result of one `step`. The observation borrows the environment's own buffer: copy it if you
/// need it after the next call.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Step<'a> {
    /// The observation after the action, flat in row-major order of `observation_space().shape()`.
    pub obs: &'a [f32],
    pub reward: f32,
    /// The episode reached a terminal state of the task (a loss, a win, the game's own end).
    pub terminated: bool,
    /// The episode was cut short from outside the task (a time limit).
    pub truncated: bool,
    pub info: Info,
}

impl Step<'_> {
    /// `terminated || truncated`.
    pub fn done(&self) -> bool {
        self.terminated || self.truncated
    }
}

/// An RGB image, row-major, 3 bytes per pixel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RgbFrame {
    pub width: usize,
    pub height: usize,
    pub data: Vec<u8>,
}

impl RgbFrame {
    pub fn new(width: usize, height: usize) -> RgbFrame {
        RgbFrame {
            width,
            height,
            data: vec![0; width * height * 3],
        }
    }
    pub fn pixel(&self, x: usize, y: usize) -> [u8; 3] {
        let i = (y * self.width + x) * 3;
        [self.data[i], self.data[i + 1], self.data[i + 2]]
    }
    pub fn set(&mut self, x: usize, y: usize, c: [u8; 3]) {
        let i = (y * self.width + x) * 3;
        self.data[i..i + 3].copy_from_slice(&c);
    }
    /// Nearest-neighbour upscaling by an integer factor.
    pub fn scaled(&self, k: usize) -> RgbFrame {
        let mut out = RgbFrame::new(self.width * k, self.height * k);
        for y in 0..out.height {
            for x in 0..out.width {
                out.set(x, y, self.pixel(x / k, y / k));
            }
        }
        out
    }
}

/// One entry of a render legend: what a colour means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegendEntry {
    pub name: String,
    pub rgb: [u8; 3],
}

/// A reinforcement-learning environment, with Gymnasium's semantics.
///
/// - `reset(Some(seed))` re-seeds the environment's own random generator, so the same seed and the
///   same actions give the same episode, whatever happened before. `reset(None)` continues the
///   generator (a fresh environment starts from seed 0: there is no hidden randomness).
/// - `step` returns `terminated` and `truncated` separately. Stepping a finished episode, stepping
///   before the first reset, or an action outside the space (or masked out) is an `Err`; the
///   environment is left unchanged by a rejected action.
/// - Observations are `f32`, flat, in row-major order of `observation_space().shape()`, written
///   into a buffer the environment owns: stepping allocates nothing.
pub trait Env: Send {
    /// The registry id (or any name) of this environment, for messages.
    fn id(&self) -> &str;
    fn observation_space(&self) -> &Space;
    fn action_space(&self) -> &Space;
    /// Starts a new episode and returns its first observation.
    fn reset(&mut self, seed: Option<u64>) -> &[f32];
    /// Advances the episode by one action.
    fn step(&mut self, action: usize) -> Result<Step<'_>, EnvError>;
    /// The current observation (the one last returned by `reset` or `step`).
    fn obs(&self) -> &[f32];
    /// Which actions are legal now, when the environment restricts them (board games); `None`
    /// means every action of the space is legal.
    fn action_mask(&self) -> Option<&[bool]> {
        None
    }
    /// A plain-text picture of the current state (no escape codes).
    fn render_text(&self) -> String;
    /// A colour picture of the current state.
    fn render_rgb(&self) -> RgbFrame;
    /// What the colours of `render_rgb` mean, when they mean something (e.g. one colour per
    /// observation channel).
    fn legend(&self) -> Vec<LegendEntry> {
        Vec::new()
    }
    /// The environment as [`std::any::Any`], so a caller that knows its concrete type can reach
    /// its own methods (as Gymnasium's `env.unwrapped`): the runner reads a Go environment's game
    /// so that a search can play in it. `None` by default, and through wrappers.
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        None
    }
    /// [`Env::as_any`], mutably.
    fn as_any_mut(&mut self) -> Option<&mut dyn std::any::Any> {
        None
    }
}

impl<E: Env + ?Sized> Env for Box<E> {
    fn id(&self) -> &str {
        (**self).id()
    }
    fn observation_space(&self) -> &Space {
        (**self).observation_space()
    }
    fn action_space(&self) -> &Space {
        (**self).action_space()
    }
    fn reset(&mut self, seed: Option<u64>) -> &[f32] {
        (**self).reset(seed)
    }
    fn step(&mut self, action: usize) -> Result<Step<'_>, EnvError> {
        (**self).step(action)
    }
    fn obs(&self) -> &[f32] {
        (**self).obs()
    }
    fn action_mask(&self) -> Option<&[bool]> {
        (**self).action_mask()
    }
    fn render_text(&self) -> String {
        (**self).render_text()
    }
    fn render_rgb(&self) -> RgbFrame {
        (**self).render_rgb()
    }
    fn legend(&self) -> Vec<LegendEntry> {
        (**self).legend()
    }
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        (**self).as_any()
    }
    fn as_any_mut(&mut self) -> Option<&mut dyn std::any::Any> {
        (**self).as_any_mut()
    }
}

/// Where an environment stands between `reset` and the end of an episode. Environments keep one
/// and call `check_action` at the top of `step`, so the contract's errors are the same everywhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Phase {
    /// Never reset.
    #[default]
    Fresh,
    Running,
    /// Terminated or truncated; only `reset` is allowed.
    Over,
}

impl Phase {
    /// The error for stepping in this phase with `action` from `Discrete(n)`, if any.
    pub fn check_action(self, action: usize, n: usize) -> Result<(), EnvError> {
        match self {
            Phase::Fresh => Err(EnvError::NeedsReset),
            Phase::Over => Err(EnvError::EpisodeOver),
            Phase::Running if action >= n => Err(EnvError::InvalidAction { action, n }),
            Phase::Running => Ok(()),
        }
    }
}
