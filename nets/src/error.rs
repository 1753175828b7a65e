//! `NetsError`: everything in `nets` that can go wrong on bad input.

use std::path::PathBuf;

use crate::checkpoint::CheckpointError;

/// The crate's error type. Bad configs, bad data and bad checkpoints are errors, never panics.
#[derive(Debug, thiserror::Error)]
pub enum NetsError {
    /// A network config that cannot be built (zero sizes, even kernels, an impossible pool).
    #[error("invalid network config: {0}")]
    Config(String),
    /// A tensor of the wrong shape was handed to a network or a training step.
    #[error("shape mismatch: {0}")]
    Shape(String),
    /// A dataset file is missing; the message says how to get it.
    #[error("dataset file {path} not found: {hint}")]
    DatasetMissing { path: PathBuf, hint: String },
    /// A dataset file exists but is not what it should be.
    #[error("bad dataset file {path}: {reason}")]
    DatasetFormat { path: PathBuf, reason: String },
    /// `--device gpu` on a binary built without a GPU backend.
    #[error(
        "no GPU backend in this build: rebuild with `--features wgpu` (any GPU through wgpu, \
         e.g. `cargo build --release -p ember --features wgpu`) or `--features cuda` (NVIDIA; its \
         build downloads an LLVM bundle from GitHub, so it needs internet access)"
    )]
    GpuNotBuilt,
    /// `--device gpu` on a GPU build, but no adapter could be opened.
    #[error(
        "no GPU adapter could be opened: {0}. wgpu needs a Vulkan (or OpenGL) driver; without a \
         GPU, Mesa's software Vulkan device runs it on the CPU (Debian: `apt install \
         mesa-vulkan-drivers`)"
    )]
    GpuUnavailable(String),
    /// An unknown `--device` value.
    #[error("unknown device {0:?}: expected `cpu` or `gpu`")]
    UnknownDevice(String),
    /// A checkpoint could not be written or read.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// A TensorBoard event file (or directory of them) that cannot be read.
    #[error("{path}: {reason}")]
    EventFile { path: PathBuf, reason: String },
    /// Reading data from the backend failed.
    #[error("backend error: {0}")]
    Backend(String),
    /// A file system error, with the path it concerned.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl NetsError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        NetsError::Io {
            path: path.into(),
            source,
        }
    }
}

/// `Result` with [`NetsError`].
pub type Result<T, E = NetsError> = std::result::Result<T, E>;
