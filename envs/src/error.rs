//! The one error type of the envs crate.

use thiserror::Error;

/// Everything that can go wrong when making, configuring or stepping an environment.
///
/// Every variant carries enough context to tell the user what to change: the bad value, and what
/// would have been accepted.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum EnvError {
    /// `make` was asked for an id that is not registered.
    #[error("unknown environment id `{id}`; known ids: {}", known.join(", "))]
    UnknownEnv { id: String, known: Vec<String> },

    /// An id was registered twice.
    #[error("environment id `{0}` is already registered")]
    DuplicateId(String),

    /// An option key the environment does not accept.
    #[error("unknown option `{key}` for {env}; accepted options: {}", if accepted.is_empty() { "(none)".to_string() } else { accepted.join(", ") })]
    UnknownOption {
        env: String,
        key: String,
        accepted: Vec<String>,
    },

    /// An option with a value of the wrong type or out of range.
    #[error("bad value `{value}` for option `{key}` of {env}: expected {expected}")]
    BadOptionValue {
        env: String,
        key: String,
        value: String,
        expected: String,
    },

    /// A `key=value` string without `=`.
    #[error("malformed option `{0}`: expected key=value")]
    MalformedOption(String),

    /// An action outside the action space.
    #[error("invalid action {action}: the action space is Discrete({n}), so actions are 0..={}", n.saturating_sub(1))]
    InvalidAction { action: usize, n: usize },

    /// An action inside the action space that the rules forbid right now (see `Env::action_mask`).
    #[error("illegal action {action}: {reason}")]
    IllegalAction { action: usize, reason: String },

    /// `step` was called after the episode terminated or was truncated, without a `reset`.
    #[error("step called after the episode ended (terminated or truncated); call reset first")]
    EpisodeOver,

    /// `step` was called before the first `reset`.
    #[error("step called before reset; call reset first")]
    NeedsReset,

    /// A batch of actions whose length does not match the number of environments.
    #[error("expected {expected} actions (one per environment), got {got}")]
    BatchSize { expected: usize, got: usize },

    /// Environments in one vector env disagree on their spaces.
    #[error("vector env members disagree: {0}")]
    Mismatch(String),

    /// Anything else an environment wants to report (e.g. a bridged Python env's exception).
    #[error("{0}")]
    Other(String),
}
