//! Evaluators: what a search asks about a leaf, for many leaves at once.
//!
//! An [`Evaluator`] gets a batch of non-terminal states (one leaf per game when many games are
//! searched in lockstep) and writes, per state, a prior over all `num_actions()` actions (the
//! search keeps the legal ones and renormalises) and a value in `[-1, 1]` for the player to move.
//! [`RolloutEvaluator`] is the classic one: uniform priors and the mean result of random
//! playouts ([`Game::playout`], which for Go is the fast bare-board path). The network
//! evaluator lives in `mcts::net`; [`MixedEvaluator`] mixes playout results into another
//! evaluator's values (AlphaGo's leaf evaluation).

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

/// Uniform priors and the mean of `rollouts` random playouts, on one thread or, for batches of
/// leaves ([`Search::run_batched`](super::Search::run_batched)), several.
#[derive(Debug, Clone)]
pub struct RolloutEvaluator<G: Game> {
    rollouts: u32,
    /// One per thread; worker 0 runs on the caller's thread (and alone for single leaves).
    workers: Vec<Worker<G>>,
}

/// A thread's random stream, scratch state, action buffer and the leaves it was given.
#[derive(Debug, Clone)]
struct Worker<G: Game> {
    rng: Rng,
    scratch: Option<G>,
    buf: Vec<usize>,
    leaves: Vec<G>,
    values: Vec<f32>,
}

impl<G: Game> Worker<G> {
    fn new(seed: u64) -> Worker<G> {
        Worker {
            rng: Rng::new(seed),
            scratch: None,
            buf: Vec::new(),
            leaves: Vec::new(),
            values: Vec::new(),
        }
    }

    fn value(&mut self, state: &G, rollouts: u32) -> f32 {
        let me = state.current_player();
        let scratch = self.scratch.get_or_insert_with(|| state.clone());
        let mut sum = 0.0;
        for _ in 0..rollouts {
            sum += state.playout(scratch, &mut self.rng, &mut self.buf, usize::MAX)[me];
        }
        sum / rollouts as f32
    }

    /// Values of the leaves it holds.
    fn run(&mut self, rollouts: u32) {
        let leaves = std::mem::take(&mut self.leaves);
        self.values.clear();
        for l in &leaves {
            let v = self.value(l, rollouts);
            self.values.push(v);
        }
        self.leaves = leaves;
    }
}

/// Worker `i`'s stream: worker 0 draws from `seed` itself, so one thread is the classic evaluator.
fn worker_seed(seed: u64, i: usize) -> u64 {
    if i == 0 {
        seed
    } else {
        ember_envs::rng::child_seed(seed, 0x7477 + i as u64)
    }
}

impl<G: Game> RolloutEvaluator<G> {
    pub fn new(rollouts: u32, seed: u64) -> RolloutEvaluator<G> {
        Self::with_threads(rollouts, seed, 1)
    }

    /// As [`RolloutEvaluator::new`], with the playouts of a batch of leaves split over
    /// `threads` threads (contiguous chunks, thread `i` with its own seeded stream, so results
    /// are reproducible for a given thread count).
    pub fn with_threads(rollouts: u32, seed: u64, threads: usize) -> RolloutEvaluator<G> {
        RolloutEvaluator {
            rollouts: rollouts.max(1),
            workers: (0..threads.clamp(1, 256))
                .map(|i| Worker::new(worker_seed(seed, i)))
                .collect(),
        }
    }

    /// Threads used for batches.
    pub fn threads(&self) -> usize {
        self.workers.len()
    }

    pub fn seed(&mut self, seed: u64) {
        for (i, w) in self.workers.iter_mut().enumerate() {
            w.rng = Rng::new(worker_seed(seed, i));
        }
    }

    /// The value of `state` for its player to move.
    pub fn value(&mut self, state: &G) -> f32 {
        self.workers[0].value(state, self.rollouts)
    }
}

impl<G: Game> Evaluator<G> for RolloutEvaluator<G> {
    fn evaluate(&mut self, states: &[&G], priors: &mut [f32], values: &mut [f32]) {
        priors.fill(1.0);
        let threads = self.workers.len().min(states.len());
        if threads <= 1 {
            for (v, s) in values.iter_mut().zip(states) {
                *v = self.value(s);
            }
            return;
        }
        // Contiguous chunks, copied into each worker (a state need not be `Sync`).
        let chunk = states.len().div_ceil(threads);
        for (w, part) in self.workers.iter_mut().zip(states.chunks(chunk)) {
            w.leaves.truncate(part.len());
            for (j, s) in part.iter().enumerate() {
                match w.leaves.get_mut(j) {
                    Some(l) => l.clone_from(s),
                    None => w.leaves.push((*s).clone()),
                }
            }
        }
        let used = states.len().div_ceil(chunk);
        let rollouts = self.rollouts;
        let (first, rest) = self.workers[..used].split_at_mut(1);
        if let [second] = rest {
            // Two threads: the second half on `nets::pair`'s spinning helper, which takes a job
            // in about a microsecond; a spawned thread cost as much as the 50 µs of playouts it
            // was given (BENCHMARKS.md, "Search and self-play").
            ember_nets::pair::join(|| first[0].run(rollouts), || second.run(rollouts));
        } else {
            std::thread::scope(|scope| {
                for w in rest.iter_mut() {
                    scope.spawn(move || w.run(rollouts));
                }
                first[0].run(rollouts);
            });
        }
        for (out, w) in values.chunks_mut(chunk).zip(&self.workers[..used]) {
            out.copy_from_slice(&w.values);
        }
    }
    fn name(&self) -> String {
        let mut s = if self.rollouts == 1 {
            "rollouts".to_string()
        } else {
            format!("{} rollouts", self.rollouts)
        };
        if self.workers.len() > 1 {
            s.push_str(&format!(" on {} threads", self.workers.len()));
        }
        s
    }
}

/// AlphaGo's mixed leaf evaluation (Silver et al. 2016): the value of a leaf is
/// `(1 − λ)·v + λ·z`, `v` the inner evaluator's value (a network's) and `z` the mean result of
/// `rollouts` random playouts from the leaf for the player to move; the priors and ownership
/// are the inner evaluator's. Where a value head is wrong about a position (a tactic it never
/// saw in self-play, or a side it has learned to see as lost whatever it plays), what random
/// continuations say can correct it; RESULTS.md has what it did on 5x5 Go. λ = 0 leaves the
/// inner evaluator's values and plays no playouts.
#[derive(Debug, Clone)]
pub struct MixedEvaluator<G: Game, E> {
    inner: E,
    rollouts: RolloutEvaluator<G>,
    lambda: f32,
}

impl<G: Game, E: Evaluator<G>> MixedEvaluator<G, E> {
    /// `inner`'s values mixed with weight `lambda` (clamped to `[0, 1]`) with the results of
    /// `rollouts` playouts per leaf, drawn from a stream seeded with `seed`.
    pub fn new(inner: E, lambda: f32, rollouts: u32, seed: u64) -> MixedEvaluator<G, E> {
        MixedEvaluator {
            inner,
            rollouts: RolloutEvaluator::new(rollouts, seed),
            lambda: lambda.clamp(0.0, 1.0),
        }
    }
}

impl<G: Game, E: Evaluator<G>> Evaluator<G> for MixedEvaluator<G, E> {
    fn evaluate(&mut self, states: &[&G], priors: &mut [f32], values: &mut [f32]) {
        self.inner.evaluate(states, priors, values);
        let l = self.lambda;
        if l > 0.0 {
            for (v, s) in values.iter_mut().zip(states) {
                *v = (1.0 - l) * *v + l * self.rollouts.value(s);
            }
        }
    }
    fn ownership(&self, state: &G) -> Option<Vec<f32>> {
        self.inner.ownership(state)
    }
    fn name(&self) -> String {
        if self.lambda > 0.0 {
            format!(
                "{} mixed with {} (λ {})",
                self.inner.name(),
                Evaluator::<G>::name(&self.rollouts),
                self.lambda
            )
        } else {
            self.inner.name()
        }
    }
    fn accepts(&self, state: &G) -> Result<(), String> {
        self.inner.accepts(state)
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
