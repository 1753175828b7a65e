//! Ember's agents: DQN and PPO, generic over [`ember_envs::Env`].
//!
//! Each algorithm is one file that reads top to bottom like a CleanRL script: its config (every
//! hyperparameter with a documented default), its network, then its training loop. What both
//! share is factored out once: [`envs`] (a batch of seeded environments whose state can be
//! checkpointed and replayed), [`replay`] (a compact replay buffer, observations stored as bits
//! when they are 0/1 planes, and an n-step accumulator), [`common`] (schedules, network configs,
//! logging, evaluation, tensors), [`trainer`] (the bookkeeping around each loop: resume, save,
//! periodic evaluation and checkpoints, the summary), [`policy`] (trained agents as action pickers
//! for `eval`/`watch`).
//!
//! Algorithms never name a game: they see `Env`s from a factory, pick a conv trunk for `[C,H,W]`
//! observations and an MLP for vectors, and need a discrete action space. Runs are deterministic
//! on CPU: every random choice comes from a stream derived from the seed and the step, so a run
//! resumed from a checkpoint continues exactly as the uninterrupted one would have (environments
//! are restored by replaying the actions of their current episode from its seed).

pub mod alphazero;
pub mod common;
pub mod dqn;
pub mod envs;
pub mod error;
pub mod mcts;
pub mod policy;
pub mod ppo;
pub mod replay;
pub mod trainer;

pub use common::{Logger, NetConfig, NoLog, RunIo};
pub use error::{AgentError, Result};
pub use policy::Policy;
