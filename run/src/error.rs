//! `RunError`: everything in `ember-run` that can go wrong. Bad experiment files, bad options and
//! bad arguments are errors whose message names the problem, never panics.

/// The crate's error type.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Input that cannot work (an experiment key, an option, an argument); the message names it
    /// and what is accepted.
    #[error("{0}")]
    Invalid(String),
    /// What was being done when `source` happened (`reading experiment x.toml`, `--set k=v`).
    #[error("{context}")]
    Context {
        context: String,
        #[source]
        source: Box<RunError>,
    },
    /// An environment error (unknown id, bad option, bad action).
    #[error(transparent)]
    Env(#[from] ember_envs::EnvError),
    /// An agent error (bad `[train]` value, diverging run, unsupported env).
    #[error(transparent)]
    Agent(#[from] ember_agents::AgentError),
    /// A player that cannot be made or that failed in a game.
    #[error(transparent)]
    Player(#[from] ember_envs::PlayerError),
    /// A network, device, dataset or event-file error.
    #[error(transparent)]
    Nets(#[from] ember_nets::NetsError),
    /// A checkpoint that cannot be written, read or applied.
    #[error(transparent)]
    Checkpoint(#[from] ember_nets::CheckpointError),
    /// A file system or process error.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// `summary.json` could not be written.
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    /// A resolved config could not be written as TOML.
    #[error(transparent)]
    Toml(#[from] toml::ser::Error),
    /// A picture could not be written.
    #[error(transparent)]
    Image(#[from] image::ImageError),
}

/// `Result` with [`RunError`].
pub type Result<T, E = RunError> = std::result::Result<T, E>;

/// Returns early with [`RunError::Invalid`] and a formatted message.
macro_rules! bail {
    ($($t:tt)*) => {
        return Err($crate::error::RunError::Invalid(format!($($t)*)))
    };
}
pub(crate) use bail;

/// A [`RunError::Invalid`] with a formatted message.
macro_rules! invalid {
    ($($t:tt)*) => {
        $crate::error::RunError::Invalid(format!($($t)*))
    };
}
pub(crate) use invalid;

/// Adds what was being done to an error (as [`RunError::Context`]).
pub trait Context<T> {
    /// `context` is computed only on error.
    fn with_context<C: Into<String>>(self, context: impl FnOnce() -> C) -> Result<T>;
    /// A fixed context.
    fn context(self, context: &str) -> Result<T>;
}

impl<T, E: Into<RunError>> Context<T> for std::result::Result<T, E> {
    fn with_context<C: Into<String>>(self, context: impl FnOnce() -> C) -> Result<T> {
        self.map_err(|e| RunError::Context {
            context: context().into(),
            source: Box::new(e.into()),
        })
    }
    fn context(self, context: &str) -> Result<T> {
        self.with_context(|| context)
    }
}

impl<T> Context<T> for Option<T> {
    fn with_context<C: Into<String>>(self, context: impl FnOnce() -> C) -> Result<T> {
        self.ok_or_else(|| RunError::Invalid(context().into()))
    }
    fn context(self, context: &str) -> Result<T> {
        self.with_context(|| context)
    }
}

/// `err` and its sources, joined by `: ` (what `{:#}` prints for an `anyhow` error), each once: a
/// source whose text the message already holds (a `{path}: {source}` error that also reports
/// `source` as its cause) is not repeated.
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut s = err.to_string();
    let mut next = err.source();
    while let Some(e) = next {
        let text = e.to_string();
        if !s.contains(&text) {
            s.push_str(": ");
            s.push_str(&text);
        }
        next = e.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causes_are_printed_once() {
        let io = std::io::Error::from(std::io::ErrorKind::IsADirectory);
        let e = RunError::from(ember_nets::CheckpointError::Io {
            path: "runs/x".into(),
            source: io,
        });
        let e = Err::<(), _>(e).context("resuming").unwrap_err();
        let text = error_chain(&e);
        assert_eq!(text.matches("directory").count(), 1, "{text}");
        assert!(text.starts_with("resuming: runs/x: "), "{text}");
    }
}
