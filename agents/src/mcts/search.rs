//! One search tree over a [`Game`], driven a simulation at a time, and many driven in lockstep.
//!
//! A simulation is split in two so that many searches can share one evaluator call:
//! [`Search::select`] walks from the root to a leaf, applying actions to one working copy of the
//! root state (no cloning per simulation); a terminal leaf (or, with decisive moves, one whose
//! player to move wins at once) is backed up at once, any other is returned for evaluation.
//! [`Search::finish`] takes the evaluator's priors and value, expands the leaf, backs the value
//! up the path, and undoes the walk. [`Search::run`] does both with one
//! evaluator call per simulation; [`search_batch`] runs many searches (one per game) and
//! evaluates their leaves together, one leaf per game per call, as mctx, Minigo and KataGo's
//! self-play do.
//!
//! Values are backed up as the value for player 0 and read per node from the view of the player
//! who chose it, so nothing assumes that turns alternate. Root noise (Dirichlet for PUCT, Gumbel
//! for Gumbel) is drawn from the search's own seeded stream. The tree is kept between moves when
//! the new position follows from the old one by actions the tree has ([`Search::set_root`];
//! Gumbel searches start afresh, as sequential halving plans its visits from zero).

use ember_envs::Game;
use ember_envs::player::{Analysis, Candidate};
use ember_envs::rng::Rng;
use rand::SeedableRng;
use rand_distr::{Distribution, Gamma};
use serde::{Deserialize, Serialize};

use super::evaluator::Evaluator;
use super::selection::{self, Selection};
use super::tree::{NodeId, Tree};

/// Dirichlet noise mixed into the root priors (AlphaZero).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RootNoise {
    /// The Dirichlet concentration summed over the legal actions (each gets `alpha_total / legal`;
    /// KataGo's 10.83 is AlphaZero's 0.03 on 361 points).
    pub alpha_total: f32,
    /// Weight of the noise in the mixture.
    pub fraction: f32,
}

impl Default for RootNoise {
    fn default() -> Self {
        RootNoise {
            alpha_total: 10.83,
            fraction: 0.25,
        }
    }
}

/// How a search runs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SearchConfig {
    /// Simulations per move (new ones; a reused subtree adds its own).
    pub simulations: u32,
    pub selection: Selection,
    /// Dirichlet noise at the root (PUCT self-play); `None` for play.
    pub root_noise: Option<RootNoise>,
    /// Keep the subtree of the position reached between moves.
    pub reuse_tree: bool,
    /// Decisive moves (Teytaud and Teytaud, 2010): a leaf below the root whose player to move
    /// can win at once ([`Game::winning_action`]) is a proven win for that player, backed up as
    /// a terminal result without asking the evaluator and never expanded. A one-move lookahead
    /// the evaluator need not learn: a move that leaves the opponent a win in one is refuted on
    /// its first visit. No effect for games that cannot tell (Go).
    #[serde(default)]
    pub decisive: bool,
}

impl SearchConfig {
    pub fn new(simulations: u32, selection: Selection) -> SearchConfig {
        SearchConfig {
            simulations,
            selection,
            root_noise: None,
            reuse_tree: true,
            decisive: false,
        }
    }

    pub fn validate(&self) -> Result<(), String> {
        if self.simulations == 0 {
            return Err("a search needs at least 1 simulation".into());
        }
        self.selection.validate()?;
        if let Some(n) = self.root_noise
            && !(n.alpha_total > 0.0
                && n.alpha_total.is_finite()
                && (0.0..=1.0).contains(&n.fraction))
        {
            return Err(format!(
                "root noise needs alpha_total > 0 and fraction in [0, 1], got {n:?}"
            ));
        }
        Ok(())
    }
}

/// One search tree and the state it searches (see the module docs).
#[derive(Debug, Clone)]
pub struct Search<G: Game> {
    cfg: SearchConfig,
    tree: Tree,
    root_state: Option<G>,
    work: Option<G>,
    path: Vec<NodeId>,
    legal: Vec<usize>,
    scratch: Vec<f32>,
    gumbel: Vec<f32>,
    schedule: Vec<u32>,
    rng: Rng,
    /// Simulations run since `set_root`.
    sims: u32,
    /// A leaf awaits `finish`.
    pending: bool,
    /// Leaves collected under virtual loss for one batched evaluation ([`Search::run_batched`]):
    /// their paths (root first) and states; `batch_len` of them are in use, the rest keep their
    /// buffers for the next batch.
    batch_paths: Vec<Vec<NodeId>>,
    batch_states: Vec<G>,
    batch_len: usize,
}

impl<G: Game> Search<G> {
    pub fn new(cfg: SearchConfig, seed: u64) -> Search<G> {
        Search {
            cfg,
            tree: Tree::new(),
            root_state: None,
            work: None,
            path: Vec::new(),
            legal: Vec::new(),
            scratch: Vec::new(),
            gumbel: Vec::new(),
            schedule: Vec::new(),
            rng: Rng::new(seed),
            sims: 0,
            pending: false,
            batch_paths: Vec::new(),
            batch_states: Vec::new(),
            batch_len: 0,
        }
    }

    pub fn config(&self) -> &SearchConfig {
        &self.cfg
    }

    /// Changes the simulations of the next searches (playout cap randomization); takes effect at
    /// the next [`Search::set_root`].
    pub fn set_simulations(&mut self, n: u32) {
        self.cfg.simulations = n.max(1);
    }

    /// Changes the whole configuration (e.g. a cheap search without root noise); takes effect at
    /// the next [`Search::set_root`].
    pub fn set_config(&mut self, cfg: SearchConfig) {
        self.cfg = cfg;
    }

    /// Re-seeds the search's noise stream.
    pub fn seed(&mut self, seed: u64) {
        self.rng = Rng::new(seed);
    }

    pub fn tree(&self) -> &Tree {
        &self.tree
    }

    /// The position searched.
    pub fn root_state(&self) -> Option<&G> {
        self.root_state.as_ref()
    }

    /// Simulations run since the last [`Search::set_root`].
    pub fn simulations_run(&self) -> u32 {
        self.sims
    }

    /// Forgets the tree.
    pub fn clear(&mut self) {
        self.tree.clear();
        self.root_state = None;
        self.pending = false;
    }

    /// Searches `state` next. The tree is kept when `state` continues the game of the last root
    /// by actions the tree has explored (and reuse is on); otherwise it starts afresh.
    pub fn set_root(&mut self, state: &G) {
        assert!(
            !state.is_terminal(),
            "a search needs a position with a move to make"
        );
        self.pending = false;
        // Gumbel plans its root visits from zero, so it keeps a tree only for the same position
        // (an analysis growing between reports), not across moves.
        let same = self
            .root_state
            .as_ref()
            .is_some_and(|r| r.history_len() == state.history_len());
        let kept = self.cfg.reuse_tree
            && (same || !matches!(self.cfg.selection, Selection::Gumbel { .. }))
            && self.follow(state);
        if !kept {
            self.tree.clear();
        }
        match &mut self.root_state {
            Some(r) => r.clone_from(state),
            None => self.root_state = Some(state.clone()),
        }
        match &mut self.work {
            Some(w) => w.clone_from(state),
            None => self.work = Some(state.clone()),
        }
        self.sims = 0;
        if self.tree.root().evaluated {
            // The same position again keeps the noise its root already has.
            self.prepare_root(!(kept && same));
        }
    }

    /// Re-roots the tree at `state` if it continues the last root's game; whether it did.
    fn follow(&mut self, state: &G) -> bool {
        let Some(old) = &self.root_state else {
            return false;
        };
        let (lo, hi) = (old.history_len(), state.history_len());
        if hi < lo || !self.tree.root().evaluated {
            return false;
        }
        for i in 0..lo {
            match (old.action_at(i), state.action_at(i)) {
                (Some(a), Some(b)) if a == b => {}
                _ => return false,
            }
        }
        let mut cur = Tree::ROOT;
        for i in lo..hi {
            let Some(a) = state.action_at(i) else {
                return false;
            };
            match self.tree.child_by_action(cur, a) {
                Some(c) => cur = c,
                None => return false,
            }
        }
        let n = self.tree.node(cur);
        if !n.evaluated || n.terminal || n.player as usize != state.current_player() {
            return false;
        }
        self.tree.reroot(cur);
        true
    }

    /// Root noise and the Gumbel plan, once the root is expanded.
    fn prepare_root(&mut self, add_noise: bool) {
        let k = self.tree.root().num_children as usize;
        if let Some(noise) = self.cfg.root_noise
            && add_noise
            && k > 1
            && !matches!(self.cfg.selection, Selection::Gumbel { .. })
        {
            let alpha = (noise.alpha_total / k as f32).max(1e-3);
            let mut r = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(self.rng.next_u64());
            let gamma = Gamma::new(alpha as f64, 1.0).expect("alpha > 0");
            self.scratch.clear();
            self.scratch
                .extend((0..k).map(|_| gamma.sample(&mut r).max(1e-30) as f32));
            let sum: f32 = self.scratch.iter().sum();
            let first = self.tree.root().first_child;
            for (j, d) in self.scratch.iter().enumerate() {
                let n = self.tree.node_mut(first + j as u32);
                n.prior = (1.0 - noise.fraction) * n.prior + noise.fraction * d / sum;
            }
        }
        if let Selection::Gumbel {
            max_considered,
            gumbel_scale,
            ..
        } = self.cfg.selection
        {
            self.gumbel.clear();
            for _ in 0..k {
                let u = self.rng.uniform().max(1e-300);
                self.gumbel.push(gumbel_scale * -(-(u.ln())).ln() as f32);
            }
            let m = (max_considered as usize).min(k);
            // Open-ended searches (analysis) plan the first 100k visits; after them the interior
            // rule picks at the root too.
            let n = (self.cfg.simulations as usize).min(100_000);
            selection::halving_schedule(m, n, &mut self.schedule);
        }
    }

    /// Walks to a leaf. Returns `true` when the leaf (then [`Search::leaf`]) needs an evaluation
    /// to be passed to [`Search::finish`]; `false` when the simulation is complete (a terminal
    /// leaf, backed up at once).
    pub fn select(&mut self) -> bool {
        assert!(!self.pending, "finish the pending simulation first");
        self.pending = self.descend().is_some();
        self.pending
    }

    /// Walks from the root to a leaf along `pick_child`, recording the path and applying its
    /// actions to the working state. A terminal leaf is backed up at once (`None`, one more
    /// simulation done); an unevaluated one is returned, the working state left there.
    fn descend(&mut self) -> Option<NodeId> {
        self.path.clear();
        let mut cur = Tree::ROOT;
        self.path.push(cur);
        loop {
            let node = self.tree.node(cur);
            if node.terminal {
                let v0 = node.raw_value;
                self.backup(v0);
                return None;
            }
            if !node.evaluated {
                let work = self.work.as_ref().expect("set_root first");
                // The result for player 0 of a terminal state, or of a proven win for the
                // player to move (decisive moves); either is kept as a terminal node.
                let result = if work.is_terminal() {
                    Some(work.returns()[0])
                } else if self.cfg.decisive && cur != Tree::ROOT && work.winning_action().is_some()
                {
                    Some(if work.current_player() == 0 {
                        1.0
                    } else {
                        -1.0
                    })
                } else {
                    None
                };
                let Some(v0) = result else {
                    return Some(cur);
                };
                let n = self.tree.node_mut(cur);
                n.terminal = true;
                n.evaluated = true;
                n.player = 0;
                n.raw_value = v0;
                self.backup(v0);
                return None;
            }
            let next = self.pick_child(cur);
            let action = self.tree.node(next).action as usize;
            let work = self.work.as_mut().expect("set_root first");
            work.apply(action)
                .expect("the tree holds only legal actions");
            self.path.push(next);
            cur = next;
        }
    }

    fn pick_child(&mut self, id: NodeId) -> NodeId {
        match self.cfg.selection {
            Selection::Uct { c } => selection::uct(&self.tree, id, c),
            Selection::Puct {
                c_init,
                c_base,
                fpu_reduction,
            } => {
                let fpu = if id == Tree::ROOT { 0.0 } else { fpu_reduction };
                selection::puct(&self.tree, id, c_init, c_base, fpu)
            }
            Selection::Gumbel {
                c_visit, c_scale, ..
            } => {
                if id == Tree::ROOT {
                    let k = (self.tree.root().visits as usize).saturating_sub(1);
                    if let Some(&considered) = self.schedule.get(k)
                        && let Some(c) = selection::gumbel_root_score(
                            &self.tree,
                            considered,
                            &self.gumbel,
                            c_visit,
                            c_scale,
                            &mut self.scratch,
                        )
                    {
                        return c;
                    }
                }
                selection::gumbel_interior(&self.tree, id, c_visit, c_scale, &mut self.scratch)
            }
        }
    }

    /// The state at the leaf [`Search::select`] stopped at.
    pub fn leaf(&self) -> &G {
        self.work.as_ref().expect("set_root first")
    }

    /// Completes the pending simulation with the leaf's evaluation: `priors` over all actions,
    /// `value` for the leaf's player to move.
    pub fn finish(&mut self, priors: &[f32], value: f32) {
        assert!(self.pending, "no simulation is pending");
        self.pending = false;
        let leaf = *self.path.last().expect("a path");
        let work = self.work.take().expect("set_root first");
        let v0 = self.expand(leaf, &work, priors, value);
        self.work = Some(work);
        self.backup(v0);
    }

    /// Expands `leaf` (whose state is `state`) with the evaluator's priors and records its value;
    /// returns the value for player 0, to back up.
    fn expand(&mut self, leaf: NodeId, state: &G, priors: &[f32], value: f32) -> f32 {
        let player = state.current_player();
        state.legal_actions(&mut self.legal);
        // Decisive moves at the root (below it such a node is never expanded): all the prior on
        // the winning action, so every rule plays it and a policy target names it.
        let win = if self.cfg.decisive && leaf == Tree::ROOT {
            state.winning_action()
        } else {
            None
        };
        let sum: f32 = self
            .legal
            .iter()
            .map(|&a| priors[a].max(0.0))
            .filter(|p| p.is_finite())
            .sum();
        let uniform = 1.0 / self.legal.len().max(1) as f32;
        let norm = |p: f32| {
            if sum > 0.0 && p.is_finite() {
                p.max(0.0) / sum
            } else {
                uniform
            }
        };
        if matches!(self.cfg.selection, Selection::Uct { .. }) {
            // Unvisited children are tried in this order: a random one first.
            for i in (1..self.legal.len()).rev() {
                let j = self.rng.below(i + 1);
                self.legal.swap(i, j);
            }
        }
        if let Some(w) = win {
            // UCT tries unvisited children in order: the winning one first.
            let i = self.legal.iter().position(|&a| a == w).expect("legal");
            self.legal[..=i].rotate_right(1);
            self.tree.expand(
                leaf,
                self.legal
                    .iter()
                    .map(|&a| (a, if a == w { 1.0 } else { 0.0 })),
            );
        } else {
            self.tree
                .expand(leaf, self.legal.iter().map(|&a| (a, norm(priors[a]))));
        }
        let value = if value.is_finite() {
            value.clamp(-1.0, 1.0)
        } else {
            0.0
        };
        let n = self.tree.node_mut(leaf);
        n.evaluated = true;
        n.player = player as u8;
        n.raw_value = value;
        if leaf == Tree::ROOT {
            self.prepare_root(true);
        }
        if player == 0 { value } else { -value }
    }

    /// Adds the value (for player 0) along `path` (root first).
    fn add_value(tree: &mut Tree, path: &[NodeId], v0: f32) {
        for w in (1..path.len()).rev() {
            let (id, parent) = (path[w], path[w - 1]);
            let chooser = tree.node(parent).player;
            let n = tree.node_mut(id);
            n.visits += 1;
            n.value_sum += if chooser == 0 { v0 } else { -v0 };
        }
        let root = tree.node_mut(Tree::ROOT);
        root.visits += 1;
        root.value_sum += if root.player == 0 { v0 } else { -v0 };
    }

    /// Adds (`add`) or removes a virtual loss along `path`: a visit that lost for every chooser
    /// on it, so that the next selections of a batch look elsewhere.
    fn virtual_loss(tree: &mut Tree, path: &[NodeId], add: bool) {
        let step = |visits: u32| if add { visits + 1 } else { visits - 1 };
        for &id in &path[1..] {
            let n = tree.node_mut(id);
            n.visits = step(n.visits);
            n.value_sum += if add { -1.0 } else { 1.0 };
        }
        let root = tree.node_mut(Tree::ROOT);
        root.visits = step(root.visits);
    }

    /// Adds the value (for player 0) along the path and walks the working state back.
    fn backup(&mut self, v0: f32) {
        Self::add_value(&mut self.tree, &self.path, v0);
        let work = self.work.as_mut().expect("set_root first");
        for _ in 1..self.path.len() {
            work.undo().expect("the walk can be undone");
        }
        self.sims += 1;
    }

    /// Runs the configured number of simulations (stopping early at `deadline`, checked between
    /// batches) evaluating up to `batch` leaves per evaluator call: each leaf selected is given a
    /// virtual loss (one visit, lost for every chooser on its path) so that the next selection of
    /// the same batch goes elsewhere, and the losses are taken back when the batch's values are
    /// backed up. This is for analysing one position with a batched network or with playouts on
    /// several threads (`RolloutEvaluator::with_threads`); many games in lockstep
    /// ([`search_batch`]) batch without virtual loss. A batch stops early at a leaf already in it
    /// (a collision). `batch = 1` is [`Search::run_until`].
    pub fn run_batched<E: Evaluator<G> + ?Sized>(
        &mut self,
        evaluator: &mut E,
        priors: &mut Vec<f32>,
        batch: usize,
        deadline: Option<std::time::Instant>,
    ) {
        if batch <= 1 {
            self.run_until(evaluator, priors, deadline);
            return;
        }
        assert!(!self.pending, "finish the pending simulation first");
        let a = self.leaf().num_actions();
        let mut values = vec![0.0f32; batch];
        while self.sims < self.cfg.simulations {
            if let Some(d) = deadline
                && self.sims >= 8
                && std::time::Instant::now() >= d
            {
                break;
            }
            // The root is evaluated alone: nothing can be selected below it before.
            let want = if self.tree.root().evaluated {
                batch.min((self.cfg.simulations - self.sims) as usize)
            } else {
                1
            };
            self.batch_len = 0;
            let mut backed = 0;
            while self.batch_len < want
                && self.sims + (self.batch_len as u32) < self.cfg.simulations
            {
                let before = self.sims;
                if !self.select_virtual() {
                    if self.sims == before {
                        break; // a collision: evaluate what the batch has
                    }
                    backed += 1; // a terminal leaf, backed up already
                    if backed > 4 * batch {
                        break;
                    }
                }
            }
            let n = self.batch_len;
            if n == 0 {
                continue;
            }
            priors.resize(n * a, 0.0);
            let states: Vec<&G> = self.batch_states[..n].iter().collect();
            evaluator.evaluate(&states, &mut priors[..n * a], &mut values[..n]);
            drop(states);
            let (paths, states) = (
                std::mem::take(&mut self.batch_paths),
                std::mem::take(&mut self.batch_states),
            );
            for (j, (path, state)) in paths.iter().zip(&states).take(n).enumerate() {
                Self::virtual_loss(&mut self.tree, path, false);
                let leaf = *path.last().expect("a path");
                let v0 = self.expand(leaf, state, &priors[j * a..(j + 1) * a], values[j]);
                Self::add_value(&mut self.tree, path, v0);
                self.sims += 1;
            }
            (self.batch_paths, self.batch_states) = (paths, states);
            self.batch_len = 0;
        }
    }

    /// One selection of a batch: walks to a leaf; a terminal leaf is backed up at once (returns
    /// `false`, one more simulation done), a leaf already in the batch is a collision (returns
    /// `false`, nothing done), any other joins the batch under a virtual loss (returns `true`).
    /// The working state is back at the root afterwards.
    fn select_virtual(&mut self) -> bool {
        let Some(cur) = self.descend() else {
            return false;
        };
        let collision = self.batch_paths[..self.batch_len]
            .iter()
            .any(|p| p.last() == Some(&cur));
        let work = self.work.as_mut().expect("set_root first");
        if !collision {
            let j = self.batch_len;
            if self.batch_paths.len() == j {
                self.batch_paths.push(Vec::new());
                self.batch_states.push(work.clone());
            } else {
                self.batch_states[j].clone_from(work);
            }
            self.batch_paths[j].clone_from(&self.path);
            Self::virtual_loss(&mut self.tree, &self.path, true);
            self.batch_len += 1;
        }
        for _ in 1..self.path.len() {
            work.undo().expect("the walk can be undone");
        }
        !collision
    }

    /// Runs the configured number of simulations with `evaluator`, one leaf per call.
    pub fn run<E: Evaluator<G> + ?Sized>(&mut self, evaluator: &mut E, priors: &mut Vec<f32>) {
        self.run_until(evaluator, priors, None);
    }

    /// As [`Search::run`], stopping early at `deadline` (checked every 8 simulations, after at
    /// least 8).
    pub fn run_until<E: Evaluator<G> + ?Sized>(
        &mut self,
        evaluator: &mut E,
        priors: &mut Vec<f32>,
        deadline: Option<std::time::Instant>,
    ) {
        let a = self.leaf().num_actions();
        priors.resize(a, 0.0);
        let mut value = [0.0f32];
        while self.sims < self.cfg.simulations {
            if let Some(d) = deadline
                && self.sims >= 8
                && self.sims.is_multiple_of(8)
                && std::time::Instant::now() >= d
            {
                break;
            }
            if self.select() {
                evaluator.evaluate(&[self.leaf()], priors, &mut value);
                self.finish(priors, value[0]);
            }
        }
    }

    /// Visits of each root child, as `(action, visits)`, in the tree's order.
    pub fn root_visits(&self) -> impl Iterator<Item = (usize, u32)> + '_ {
        self.tree
            .children(Tree::ROOT)
            .iter()
            .map(|n| (n.action as usize, n.visits))
    }

    /// The search's policy over all `num_actions` actions: the improved policy for Gumbel, the
    /// visit distribution otherwise (AlphaZero's target).
    pub fn policy(&mut self, out: &mut [f32]) {
        out.fill(0.0);
        let kids = self.tree.children(Tree::ROOT);
        if let Selection::Gumbel {
            c_visit, c_scale, ..
        } = self.cfg.selection
        {
            selection::improved_policy(&self.tree, Tree::ROOT, c_visit, c_scale, &mut self.scratch);
            for (k, p) in kids.iter().zip(&self.scratch) {
                out[k.action as usize] = *p;
            }
        } else {
            let total: u32 = kids.iter().map(|k| k.visits).sum();
            for k in kids {
                out[k.action as usize] = k.visits as f32 / total.max(1) as f32;
            }
        }
    }

    /// The value of the search's policy for the root's player to move: `Σ π(a)·q̂(a)` with
    /// [`Search::policy`]'s `π` and the completed Q-values (unvisited actions valued at the mixed
    /// value). For visit-count policies it is the visit-weighted mean of the children's values,
    /// which, unlike [`Search::root_value`], leaves out the root's own evaluation. A lower-variance
    /// value target than the game's result alone (AlphaZero implementations mix the two).
    pub fn policy_value(&mut self) -> f32 {
        let kids = self.tree.children(Tree::ROOT);
        if kids.is_empty() {
            return self.tree.root().raw_value;
        }
        let mut q = Vec::with_capacity(kids.len());
        selection::completed_q(&self.tree, Tree::ROOT, &mut q);
        if let Selection::Gumbel {
            c_visit, c_scale, ..
        } = self.cfg.selection
        {
            selection::improved_policy(&self.tree, Tree::ROOT, c_visit, c_scale, &mut self.scratch);
            return self.scratch.iter().zip(&q).map(|(p, q)| p * q).sum();
        }
        let total: u32 = kids.iter().map(|k| k.visits).sum();
        if total == 0 {
            return self.tree.root().raw_value;
        }
        kids.iter()
            .zip(&q)
            .map(|(k, q)| k.visits as f32 * q)
            .sum::<f32>()
            / total as f32
    }

    /// The action to play: for Gumbel the best of the most visited by `g + logits + σ(q̂)`;
    /// otherwise visits^(1/τ) sampled, or the most visited (ties to the higher value) at τ = 0.
    pub fn best_action(&mut self, temperature: f32) -> usize {
        let kids = self.tree.children(Tree::ROOT);
        assert!(!kids.is_empty(), "run the search first");
        if let Selection::Gumbel {
            c_visit, c_scale, ..
        } = self.cfg.selection
        {
            let max_n = kids.iter().map(|k| k.visits).max().unwrap_or(0);
            if let Some(c) = selection::gumbel_root_score(
                &self.tree,
                max_n,
                &self.gumbel,
                c_visit,
                c_scale,
                &mut self.scratch,
            ) {
                return self.tree.node(c).action as usize;
            }
        }
        if temperature > 0.0 {
            let max_n = kids.iter().map(|k| k.visits).max().unwrap_or(0).max(1) as f64;
            let w: f64 = kids
                .iter()
                .map(|k| (k.visits as f64 / max_n).powf(1.0 / temperature as f64))
                .sum();
            if w > 0.0 {
                let mut x = self.rng.uniform() * w;
                for k in kids {
                    x -= (k.visits as f64 / max_n).powf(1.0 / temperature as f64);
                    if x < 0.0 {
                        return k.action as usize;
                    }
                }
            }
        }
        let best = kids
            .iter()
            .max_by(|a, b| {
                a.visits
                    .cmp(&b.visits)
                    .then(a.q().total_cmp(&b.q()))
                    .then(a.prior.total_cmp(&b.prior))
            })
            .expect("children");
        best.action as usize
    }

    /// The root value for its player to move: the mean of its simulations.
    pub fn root_value(&self) -> f32 {
        self.tree.root().q()
    }

    /// What the search thinks: the root value and the `max_candidates` most visited actions
    /// with their principal variations.
    pub fn analysis(&self, max_candidates: usize, pv_len: usize) -> Analysis {
        let root = self.tree.root();
        let mut kids: Vec<NodeId> = root.children().collect();
        kids.sort_by(|&a, &b| {
            let (na, nb) = (self.tree.node(a), self.tree.node(b));
            nb.visits
                .cmp(&na.visits)
                .then(nb.q().total_cmp(&na.q()))
                .then(nb.prior.total_cmp(&na.prior))
        });
        let candidates: Vec<Candidate> = kids
            .into_iter()
            .take(max_candidates)
            .map(|c| {
                let n = self.tree.node(c);
                let mut pv = vec![n.action as usize];
                let mut rest = Vec::new();
                self.tree
                    .principal_variation(c, pv_len.saturating_sub(1), &mut rest);
                pv.extend(rest);
                Candidate {
                    action: n.action as usize,
                    visits: n.visits,
                    value: n.q(),
                    prior: n.prior,
                    pv,
                }
            })
            .collect();
        // The value shown is that of the move the search would play (as Leela Zero and
        // KataGo's per-move win rates): the root's own mean also averages the moves it only
        // explored.
        let value = candidates
            .first()
            .filter(|c: &&Candidate| c.visits > 0)
            .map_or(self.root_value(), |c| c.value);
        Analysis {
            player: root.player as usize,
            value,
            visits: root.visits,
            candidates,
            ownership: None,
        }
    }
}

/// Reusable buffers of [`search_batch`].
#[derive(Debug, Default)]
pub struct BatchScratch {
    need: Vec<usize>,
    priors: Vec<f32>,
    values: Vec<f32>,
}

/// Runs every search's configured simulations in lockstep, evaluating their leaves together:
/// one evaluator call per round holds one leaf per search that needs one.
pub fn search_batch<G: Game, E: Evaluator<G> + ?Sized>(
    searches: &mut [Search<G>],
    evaluator: &mut E,
    scratch: &mut BatchScratch,
) {
    let Some(first) = searches.first() else {
        return;
    };
    let a = first.leaf().num_actions();
    loop {
        scratch.need.clear();
        let mut any = false;
        for (i, s) in searches.iter_mut().enumerate() {
            if s.sims < s.cfg.simulations {
                any = true;
                if s.select() {
                    scratch.need.push(i);
                }
            }
        }
        if !any {
            return;
        }
        if scratch.need.is_empty() {
            continue;
        }
        let n = scratch.need.len();
        scratch.priors.resize(n * a, 0.0);
        scratch.values.resize(n, 0.0);
        let states: Vec<&G> = scratch.need.iter().map(|&i| searches[i].leaf()).collect();
        evaluator.evaluate(
            &states,
            &mut scratch.priors[..n * a],
            &mut scratch.values[..n],
        );
        drop(states);
        for (j, &i) in scratch.need.iter().enumerate() {
            searches[i].finish(&scratch.priors[j * a..(j + 1) * a], scratch.values[j]);
        }
    }
}
