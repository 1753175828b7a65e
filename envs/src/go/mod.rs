//! Go: the rules engine, fast playouts, SGF, a GTP engine, players and the `GoNxN-v0` envs.
//!
//! Layers, each usable alone:
//! - [`board`]: stones, chains and pseudo-liberties kept incrementally, simple ko, Zobrist hash,
//!   area scoring. Cheap to copy; the hot path of playouts.
//! - [`state`]: the full rules (positional superko, passes, resignation, exact undo) and the
//!   two-player [`crate::game::Game`] trait with observation planes and symmetries.
//! - [`playout`]: uniform random playouts that never fill one's own one-point eye (simple ko
//!   only), and the `ember bench go` loop.
//! - [`sgf`]: SGF FF\[4\] reading (main line) and writing.
//! - [`player`]: Go's kinds of the game-generic [`crate::player::Player`] (random, external GTP
//!   engines; search agents plug in from other crates) and the Go game loop.
//! - [`gtp`]: a GTP v2 engine around any player.
//! - [`env`]: `Go5x5-v0` … `Go19x19-v0`, a single-agent view against an opponent.

pub mod board;
pub mod env;
pub mod gtp;
pub mod player;
pub mod playout;
pub mod sgf;
pub mod state;
mod zobrist;

pub use board::{Board, Color, Illegal, MAX_SIZE, MIN_SIZE, Point};
pub use env::specs;
pub use state::{GoState, Move};

#[cfg(test)]
mod proptests;
