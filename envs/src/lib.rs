//! Ember's environments: the `Env` contract and everything that stands on it.
//!
//! Design. An environment is a plain Rust value implementing [`Env`], with Gymnasium's semantics:
//! `reset(seed)` makes episodes reproducible, `step` returns `terminated` and `truncated`
//! separately, and misuse (a bad action, stepping a finished episode) is an `Err`, never a panic.
//! Observations are flat `f32` slices borrowed from a buffer the environment owns, so stepping
//! allocates nothing and a vector env copies each observation exactly once, into its batch.
//! Environments are found by id in a [`registry`] that also declares and validates their typed
//! `key=value` options; the CLI, experiments and Python bindings all go through it, and users add
//! their own environments with one [`register`] call. [`wrappers`] change one thing each,
//! [`VecEnv`] steps many environments in lockstep (optionally on threads), and [`check_env`] turns
//! the contract into a test. This crate never depends on `burn`: its tests build in seconds.

pub mod check;
pub mod classic;
mod env;
mod error;
pub mod files;
pub mod game;
pub mod games;
pub mod go;
pub mod minatar;
mod options;
pub mod player;
pub mod registry;
pub mod render;
pub mod rng;
pub mod vector;
pub mod wrappers;

pub use check::{CheckConfig, CheckError, CheckReport, check_env, check_env_with};
pub use env::{Env, EpisodeStats, Info, LegendEntry, Phase, RgbFrame, Step};
pub use error::EnvError;
pub use game::{Game, GameError, Symmetry};
pub use options::{OptKind, OptSpec, OptValue, Options, fmt_number};
pub use player::{Analysis, Candidate, Decision, Player, PlayerError};
pub use registry::{EnvSpec, Registry, make, register};
pub use space::Space;
pub use vector::{Autoreset, VecEnv, VecStep};

mod space;
mod spec;
