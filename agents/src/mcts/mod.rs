//! Monte-Carlo tree search over any two-player [`ember_envs::Game`]: UCT with random playouts,
//! AlphaZero's PUCT, and Gumbel MuZero's root search, behind one [`Search`].
//!
//! The layout follows mctx: [`tree`] (the arena of nodes), [`selection`] (the rules that pick a
//! child, and Gumbel's policy target), [`evaluator`] (what a leaf is worth: random playouts or a
//! network), [`search`] (simulations, root noise, tree reuse, and [`search_batch`], which drives
//! many games' searches in lockstep so one evaluator call takes a leaf from each), and
//! [`player`] (a search as a [`ember_envs::Player`]). Search code never names a game: it sees
//! the `Game` trait and an `Evaluator`, and is tested on Go and Connect Four alike.

pub mod evaluator;
pub mod net;
pub mod player;
pub mod search;
pub mod selection;
pub mod tree;

pub use evaluator::{Evaluator, MixedEvaluator, RolloutEvaluator, UniformEvaluator};
pub use net::NetEvaluator;
pub use player::SearchPlayer;
pub use search::{BatchScratch, RootNoise, Search, SearchConfig, search_batch};
pub use selection::Selection;
pub use tree::{Node, NodeId, Tree};
