//! Evaluators: what a search asks about a leaf, for many leaves at once.
//!
//! An [`Evaluator`] gets a batch of non-terminal states (one leaf per game when many games are
//! searched in lockstep) and writes, per state, a prior over all `num_actions()` actions (the
//! search keeps the legal ones and renormalises) and a value in `[-1, 1]` for the player to move.
//! [`RolloutEvaluator`] is the classic one: uniform priors and the mean result of random
//! playouts ([`Game::playout`], which for Go is the fast bare-board path). The network
//! evaluator lives in `mcts::net`.

use ember_envs::Game;
use ember_envs::rng::Rng;

/// Evaluates leaves for a search (see the module docs).
pub trait Evaluator<G: Game> {
    /// `priors` is `states.len() * num_actions` long, `values` `states.len()`.
    fn evaluate(&mut self, states: &[&G], priors: &mut [f32], values: &mut [f32]);
    /// Expected final ownership of each board cell from the view of the player to move of the
    /// last state evaluated alone, when the evaluator predicts it.
    fn ownership(&self, _state: &G) -> Option<Vec<f32>> {
        None
    }
    /// A short description (`rollouts`, `net`).
    fn name(&self) -> String;
    /// Whether this evaluator can evaluate games like `state` (a network: the same observation
    /// shape and action count); the error says why not.
    fn accepts(&self, _state: &G) -> Result<(), String> {
        Ok(())
    }
}

/// Uniform priors and the mean of `rollouts` random playouts.
#[derive(Debug, Clone)]
pub struct RolloutEvaluator<G: Game> {
    rng: Rng,
    rollouts: u32,
    scratch: Option<G>,
    buf: Vec<usize>,
}

impl<G: Game> RolloutEvaluator<G> {
    pub fn new(rollouts: u32, seed: u64) -> RolloutEvaluator<G> {
        RolloutEvaluator {
            rng: Rng::new(seed),
            rollouts: rollouts.max(1),
            scratch: None,
            buf: Vec::new(),
        }
    }

    pub fn seed(&mut self, seed: u64) {
        self.rng = Rng::new(seed);
    }

    /// The value of `state` for its player to move.
    pub fn value(&mut self, state: &G) -> f32 {
        let me = state.current_player();
        let scratch = self.scratch.get_or_insert_with(|| state.clone());
        let mut sum = 0.0;
        for _ in 0..self.rollouts {
            sum += state.playout(scratch, &mut self.rng, &mut self.buf, usize::MAX)[me];
        }
        sum / self.rollouts as f32
    }
}

impl<G: Game> Evaluator<G> for RolloutEvaluator<G> {
    fn evaluate(&mut self, states: &[&G], priors: &mut [f32], values: &mut [f32]) {
        priors.fill(1.0);
        for (v, s) in values.iter_mut().zip(states) {
            *v = self.value(s);
        }
    }
    fn name(&self) -> String {
        if self.rollouts == 1 {
            "rollouts".into()
        } else {
            format!("{} rollouts", self.rollouts)
        }
    }
}

/// Uniform priors and value 0: a search with it is pure exploration (tests, and the prior-free
/// half of "PUCT with a uniform evaluator behaves like UCT").
#[derive(Debug, Clone, Copy, Default)]
pub struct UniformEvaluator;

impl<G: Game> Evaluator<G> for UniformEvaluator {
    fn evaluate(&mut self, _: &[&G], priors: &mut [f32], values: &mut [f32]) {
        priors.fill(1.0);
        values.fill(0.0);
    }
    fn name(&self) -> String {
        "uniform".into()
    }
}
