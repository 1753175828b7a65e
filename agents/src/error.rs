//! `AgentError`: everything in `agents` that can go wrong.

use std::path::PathBuf;

/// The crate's error type. Bad configs, unsupported environments and diverging runs are errors,
/// never panics.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// A config value that cannot work; the message names the key.
    #[error("invalid config: {0}")]
    Config(String),
    /// The environment does not fit the algorithm (e.g. a continuous action space).
    #[error("unsupported environment: {0}")]
    Unsupported(String),
    /// An environment error (bad action, stepping a finished episode, bad options).
    #[error(transparent)]
    Env(#[from] ember_envs::EnvError),
    /// A network, backend or checkpoint error.
    #[error(transparent)]
    Nets(#[from] ember_nets::NetsError),
    /// A checkpoint could not be written or read.
    #[error(transparent)]
    Checkpoint(#[from] ember_nets::CheckpointError),
    /// A loss became NaN or infinite: the run stops, its last good checkpoint is kept.
    #[error(
        "{what} is {value} at step {step}: training stopped (lower the learning rate or clip \
         gradients); the last good checkpoint is kept{}",
        match last_checkpoint { Some(s) => format!(" (step {s})"), None => " (none was written yet)".to_string() }
    )]
    NonFinite {
        what: String,
        value: f32,
        step: u64,
        last_checkpoint: Option<u64>,
    },
    /// A saved replay buffer or run state that does not fit.
    #[error("bad saved state {path}: {reason}")]
    BadState { path: PathBuf, reason: String },
    /// A file system error.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A logger failed (e.g. the event file could not be written).
    #[error("logging: {0}")]
    Log(String),
}

/// `Result` with [`AgentError`].
pub type Result<T, E = AgentError> = std::result::Result<T, E>;

pub(crate) fn config(msg: impl Into<String>) -> AgentError {
    AgentError::Config(msg.into())
}
