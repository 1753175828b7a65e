//! A search as a [`Player`]: `uct:SIMS` (random playouts), PUCT or Gumbel with a network.

use ember_envs::Game;
use ember_envs::player::{Analysis, Decision, Player, PlayerError};

use super::evaluator::Evaluator;
use super::search::{Search, SearchConfig};

/// The most tree nodes an open-ended analysis (`lz-analyze`) grows to.
pub const ANALYSIS_MAX_NODES: usize = 20_000_000;

/// Plays the action a [`Search`] with `evaluator` finds, and keeps its analysis.
pub struct SearchPlayer<G: Game, E: Evaluator<G>> {
    name: String,
    search: Search<G>,
    evaluator: E,
    priors: Vec<f32>,
    analysis: Option<Analysis>,
    /// Resign when the root value falls below this (`None`: never).
    pub resign_below: Option<f32>,
    /// Candidates kept in the analysis.
    pub max_candidates: usize,
    /// Seconds the next decision may take (`Player::set_time_budget`).
    time_budget: Option<f64>,
    /// Leaves evaluated per evaluator call under virtual loss ([`Search::run_batched`]); 1
    /// searches one leaf at a time.
    pub leaf_batch: usize,
}

impl<G: Game, E: Evaluator<G>> std::fmt::Debug for SearchPlayer<G, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SearchPlayer({})", self.name)
    }
}

impl<G: Game, E: Evaluator<G>> SearchPlayer<G, E> {
    pub fn new(name: String, cfg: SearchConfig, evaluator: E, seed: u64) -> SearchPlayer<G, E> {
        SearchPlayer {
            name,
            search: Search::new(cfg, seed),
            evaluator,
            priors: Vec::new(),
            analysis: None,
            resign_below: None,
            max_candidates: 10,
            time_budget: None,
            leaf_batch: 1,
        }
    }

    /// Evaluates `batch` leaves per evaluator call (see [`SearchPlayer::leaf_batch`]).
    pub fn with_leaf_batch(mut self, batch: usize) -> Self {
        self.leaf_batch = batch.max(1);
        self
    }

    pub fn search(&self) -> &Search<G> {
        &self.search
    }

    pub fn evaluator_mut(&mut self) -> &mut E {
        &mut self.evaluator
    }
}

impl<G: Game, E: Evaluator<G> + Send> Player<G> for SearchPlayer<G, E> {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn decide(&mut self, state: &G) -> Result<Decision, PlayerError> {
        if state.is_terminal() {
            return Err(PlayerError::Failed {
                player: self.name.clone(),
                msg: "asked to move in a finished game".into(),
            });
        }
        self.evaluator
            .accepts(state)
            .map_err(|msg| PlayerError::Failed {
                player: self.name.clone(),
                msg,
            })?;
        let deadline = self.time_budget.map(|s| {
            std::time::Instant::now() + std::time::Duration::from_secs_f64(s.clamp(0.0, 1e6))
        });
        self.search.set_root(state);
        self.search.run_batched(
            &mut self.evaluator,
            &mut self.priors,
            self.leaf_batch,
            deadline,
        );
        let mut a = self.search.analysis(self.max_candidates, 12);
        a.ownership = self.evaluator.ownership(state);
        let resign = self.resign_below.is_some_and(|t| a.value < t);
        self.analysis = Some(a);
        if resign {
            return Ok(Decision::Resign);
        }
        Ok(Decision::Act(self.search.best_action(0.0)))
    }

    fn analysis(&self) -> Option<&Analysis> {
        self.analysis.as_ref()
    }

    fn seed(&mut self, seed: u64) {
        self.search.seed(seed);
    }

    fn new_game(&mut self) {
        self.search.clear();
        self.analysis = None;
    }

    fn set_time_budget(&mut self, seconds: Option<f64>) {
        self.time_budget = seconds;
    }

    /// Grows the tree of `state` (kept between calls for the same position) for `seconds`, up to
    /// [`ANALYSIS_MAX_NODES`] tree nodes, and returns the analysis.
    fn analyze_step(&mut self, state: &G, seconds: f64) -> Option<Analysis> {
        if state.is_terminal() || self.evaluator.accepts(state).is_err() {
            return None;
        }
        let configured = self.search.config().simulations;
        self.search.set_root(state);
        let deadline = std::time::Instant::now()
            + std::time::Duration::from_secs_f64(seconds.clamp(0.0, 3600.0));
        if seconds > 0.0 && self.search.tree().len() < ANALYSIS_MAX_NODES {
            self.search.set_simulations(u32::MAX);
            self.search.run_batched(
                &mut self.evaluator,
                &mut self.priors,
                self.leaf_batch,
                Some(deadline),
            );
            self.search.set_simulations(configured);
        } else if self.search.tree().root().visits == 0 {
            self.search.set_simulations(1);
            self.search.run(&mut self.evaluator, &mut self.priors);
            self.search.set_simulations(configured);
        }
        let mut a = self.search.analysis(self.max_candidates, 12);
        a.ownership = self.evaluator.ownership(state);
        Some(a)
    }
}
