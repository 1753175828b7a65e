//! AlphaZero for any two-player [`Game`]: self-play with a search guided by a policy-value
//! network, and the network trained on what the search found.
//!
//! Read top to bottom: the config (every hyperparameter with its default), the network
//! (`ember_nets::PolicyValueNet`, the shared conv trunk with policy and value heads), then the
//! loop. The loop alternates two things that meet only through data:
//! - **Self-play**: `parallel_games` games advance one move per round. Their searches run in
//!   lockstep ([`search_batch`]), so each network call evaluates one leaf of every game.
//!   Playout cap randomization (KataGo): a move gets the full search (`simulations`, with
//!   Dirichlet noise for PUCT) with probability `full_search_prob`, else a cheap one
//!   (`cheap_simulations`, no Dirichlet noise; moves are still sampled, by Gumbel noise or the
//!   temperature); only full searches become training positions. With Gumbel search (the default, for few simulations) the target
//!   is the improved policy and the move is the sequential-halving winner; with PUCT, Dirichlet
//!   root noise, visit counts as the target and moves sampled by visits for `temperature_moves`
//!   moves. A finished game gives each of its training positions the final result from the view
//!   of the player who moved there, optionally mixed with the full search's own value of the
//!   position (`value_target_search_weight`).
//! - **Learning**: a replay buffer of (observation as bits, search policy, result), sampled with
//!   a random symmetry of the game each time; the loss is the policy cross-entropy plus the
//!   squared value error; updates keep pace with self-play (`sample_reuse` samples drawn per
//!   position added).
//! - **Evaluation**: every `eval_every` updates the network's search (no noise) plays random, UCT
//!   and the network of the evaluation before; scores and Elo with 95% intervals go to
//!   `eval/*`.
//!
//! Self-play and learning share nothing but the sample stream and the network weights (the
//! searches use an inference copy refreshed after every round of updates), which is what lets
//! self-play move to other processes or machines later: workers send finished games, receive
//! checkpoints. Every random choice comes from streams derived from the seed, the game index and
//! the update index. Checkpoints keep the network, the optimizer and the counters; the replay
//! buffer and the games in progress are not kept, so a resumed run refills its buffer first and
//! does not repeat the uninterrupted run exactly.

use ember_envs::Game;
use ember_envs::game::Symmetry;
use ember_envs::player::{Player, RandomPlayer, play_game};
use ember_envs::rng::Rng;
use ember_nets::burn::module::Module;
use ember_nets::burn::optim::{GradientsParams, ModuleOptimizer};
use ember_nets::burn::tensor::Device;
use ember_nets::burn::tensor::activation::log_softmax;
use ember_nets::train::LrSchedule;
use ember_nets::{Checkpoint, PolicyValueNet, PolicyValueNetConfig};
use serde::{Deserialize, Serialize};

use crate::common::{RunIo, adam, check_finite, fingerprint, matrix, read, stream, vector};
use crate::error::{AgentError, Result};
use crate::mcts::{
    BatchScratch, NetEvaluator, RolloutEvaluator, RootNoise, Search, SearchConfig, SearchPlayer,
    Selection, search_batch,
};
use crate::replay::{pack_bits, unpack_bits};

/// The checkpoint kind.
pub const KIND: &str = "alphazero";

/// The selection rule a trained network plays with (`train.play_rule`, `az:…:rule=`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlayRule {
    /// AlphaZero's PUCT (the run's constants when it trained with PUCT, else the defaults of
    /// [`Selection::puct`]), no root noise, the most visited move played.
    #[default]
    Puct,
    /// Gumbel's root search without noise (the run's constants when it trained with Gumbel, else
    /// those of [`Selection::gumbel`] with 16 actions considered).
    Gumbel,
}

impl PlayRule {
    pub const ALL: [PlayRule; 2] = [PlayRule::Puct, PlayRule::Gumbel];

    /// The rule's name in experiment files and player specs.
    pub fn name(self) -> &'static str {
        match self {
            PlayRule::Puct => "puct",
            PlayRule::Gumbel => "gumbel",
        }
    }
}

/// Every hyperparameter, with its default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlphaZeroConfig {
    /// Gradient updates in the whole run.
    pub total_updates: u64,
    /// Games played at once (one leaf of each per network call).
    pub parallel_games: usize,
    /// Simulations of a full search (its positions are trained on).
    pub simulations: u32,
    /// Simulations of a cheap search (playout cap randomization; not trained on).
    pub cheap_simulations: u32,
    /// Probability that a move gets the full search.
    pub full_search_prob: f64,
    /// The selection rule (`rule = "gumbel"` or `"puct"`, and its constants).
    pub selection: Selection,
    /// PUCT: Dirichlet noise at the root of full searches.
    pub root_noise: Option<RootNoise>,
    /// PUCT: moves sampled by visit count at the start of a game (then the most visited).
    pub temperature_moves: u32,
    /// Positions kept for training.
    pub replay_capacity: usize,
    /// Positions before the first update.
    pub min_replay: usize,
    pub batch_size: usize,
    pub lr: f64,
    /// Where the learning rate ends, as a fraction of `lr`: a cosine from `lr` at the first
    /// update to `lr · lr_final_fraction` at `total_updates` (1: constant, the default). A fixed
    /// budget ends on a lower rate, so the last network averages over more self-play noise.
    pub lr_final_fraction: f64,
    pub adam_eps: f64,
    /// Samples drawn per training position added (updates = positions · reuse / batch).
    pub sample_reuse: f64,
    /// Weight of the value loss.
    pub value_weight: f64,
    /// Weight of the search's value in the value target: the target is
    /// `(1 - w)·z + w·v_search`, with `z` the game's result and `v_search` the value of the full
    /// search's policy at that position ([`Search::policy_value`]) for the player to move. 0
    /// trains on results alone (AlphaZero); mixing in the search's value lowers the target's
    /// variance when self-play moves are sampled.
    pub value_target_search_weight: f64,
    /// Weight of the ownership loss (mean squared error per cell; nets with an ownership head).
    pub ownership_weight: f64,
    /// Weight of the score utility in the searches' leaf values, self-play, evaluations and the
    /// run's `az:` players alike (`mcts::net`: the value mixed with the score margin the
    /// ownership head predicts; nets with an ownership head). 0 (the default): the value alone.
    pub score_utility: f64,
    /// Decisive moves in every search of the run (self-play, evaluations, its `az:` players): a
    /// leaf whose player to move can win at once is scored a win without the network
    /// ([`SearchConfig::decisive`]; games that can tell: Connect Four). Off by default.
    pub decisive_moves: bool,
    /// Train on a random symmetry of each sample.
    pub augment: bool,
    /// Moves after which a self-play game is stopped and counted as a draw (0: no limit; Go
    /// games also end at the state's own move limit).
    pub max_game_moves: u32,
    /// Updates between checkpoints.
    pub checkpoint_every: u64,
    pub keep_checkpoints: usize,
    /// Updates between evaluations (0: only at the end).
    pub eval_every: u64,
    /// Games per evaluation and anchor (colours alternated).
    pub eval_games: u64,
    /// The rule the trained network searches with in evaluations and as an `az:` player
    /// ([`AlphaZeroConfig::play_config`]): PUCT (the default) or Gumbel without noise. Gumbel's
    /// root search is built for self-play's few simulations; at play time PUCT made the same
    /// networks stronger at every budget measured (RESULTS.md, "Which rule plays").
    pub play_rule: PlayRule,
    /// Simulations of the network's search in evaluations.
    pub eval_simulations: u32,
    /// The UCT anchor's simulations (random playouts).
    pub eval_uct_simulations: u32,
}

impl Default for AlphaZeroConfig {
    fn default() -> Self {
        AlphaZeroConfig {
            total_updates: 2000,
            parallel_games: 32,
            simulations: 32,
            cheap_simulations: 8,
            full_search_prob: 0.25,
            selection: Selection::gumbel(16, 1.0),
            root_noise: None,
            temperature_moves: 8,
            replay_capacity: 50_000,
            min_replay: 1000,
            batch_size: 128,
            lr: 1e-3,
            lr_final_fraction: 1.0,
            adam_eps: 1e-8,
            sample_reuse: 4.0,
            value_weight: 1.0,
            value_target_search_weight: 0.0,
            ownership_weight: 1.0,
            score_utility: 0.0,
            decisive_moves: false,
            augment: true,
            max_game_moves: 0,
            checkpoint_every: 250,
            keep_checkpoints: 3,
            eval_every: 500,
            eval_games: 20,
            play_rule: PlayRule::Puct,
            eval_simulations: 64,
            eval_uct_simulations: 200,
        }
    }
}

impl AlphaZeroConfig {
    /// Checks every value, naming the bad one.
    pub fn validate(&self) -> Result<()> {
        let bad = |k: &str, why: &str| Err(AgentError::Config(format!("train.{k}: {why}")));
        if self.total_updates == 0 {
            return bad("total_updates", "must be at least 1");
        }
        if self.parallel_games == 0 || self.parallel_games > 4096 {
            return bad("parallel_games", "must be 1 to 4096");
        }
        if self.simulations == 0 || self.cheap_simulations == 0 || self.eval_simulations == 0 {
            return bad(
                "simulations",
                "full, cheap and eval searches need at least 1 simulation",
            );
        }
        if self.simulations > 100_000 || self.eval_uct_simulations > 1_000_000 {
            return bad("simulations", "at most 100000 per move (eval UCT: 1000000)");
        }
        if !(0.0..=1.0).contains(&self.full_search_prob) || self.full_search_prob == 0.0 {
            return bad("full_search_prob", "must be in (0, 1]");
        }
        if self.batch_size == 0 || self.batch_size > 65_536 {
            return bad("batch_size", "must be 1 to 65536");
        }
        if self.replay_capacity < self.batch_size || self.replay_capacity > 10_000_000 {
            return bad(
                "replay_capacity",
                "must hold a batch and at most 10000000 positions",
            );
        }
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            return bad("lr", "must be a positive number");
        }
        if !(0.0..=1.0).contains(&self.lr_final_fraction) {
            return bad("lr_final_fraction", "must be in [0, 1]");
        }
        if !(self.sample_reuse > 0.0 && self.sample_reuse.is_finite()) {
            return bad("sample_reuse", "must be a positive number");
        }
        if !(self.value_weight >= 0.0 && self.value_weight.is_finite()) {
            return bad("value_weight", "must be a number >= 0");
        }
        if !(0.0..=1.0).contains(&self.value_target_search_weight) {
            return bad("value_target_search_weight", "must be in [0, 1]");
        }
        if !(self.ownership_weight >= 0.0 && self.ownership_weight.is_finite()) {
            return bad("ownership_weight", "must be a number >= 0");
        }
        if !(0.0..=1.0).contains(&self.score_utility) {
            return bad("score_utility", "must be in [0, 1]");
        }
        if self.checkpoint_every == 0 || self.keep_checkpoints == 0 {
            return bad(
                "checkpoint_every",
                "checkpoints every >= 1 updates, keeping >= 1",
            );
        }
        self.selection
            .validate()
            .map_err(|e| AgentError::Config(format!("train.selection: {e}")))?;
        Ok(())
    }

    fn search_config(&self) -> SearchConfig {
        let mut c = SearchConfig::new(self.simulations, self.selection);
        c.reuse_tree = false;
        c.decisive = self.decisive_moves;
        c
    }

    /// The search the trained network plays with in evaluations and matches: `train.play_rule`,
    /// no noise.
    pub fn play_config(&self, simulations: u32) -> SearchConfig {
        self.play_config_with(self.play_rule, simulations)
    }

    /// As [`AlphaZeroConfig::play_config`] with `rule` instead of `train.play_rule`.
    pub fn play_config_with(&self, rule: PlayRule, simulations: u32) -> SearchConfig {
        let selection = match (rule, self.selection) {
            (PlayRule::Puct, s @ Selection::Puct { .. }) => s,
            (PlayRule::Puct, _) => Selection::puct(),
            (
                PlayRule::Gumbel,
                Selection::Gumbel {
                    max_considered,
                    c_visit,
                    c_scale,
                    ..
                },
            ) => Selection::Gumbel {
                max_considered,
                c_visit,
                c_scale,
                gumbel_scale: 0.0,
            },
            (PlayRule::Gumbel, _) => Selection::gumbel(16, 0.0),
        };
        let mut c = SearchConfig::new(simulations, selection);
        c.decisive = self.decisive_moves;
        c
    }
}

/// The network's config for games like `example`: `trunk` with the game's observation shape.
pub fn net_config<G: Game>(
    example: &G,
    mut trunk: ember_nets::ConvTrunkConfig,
    value_hidden: usize,
) -> PolicyValueNetConfig {
    trunk.input_shape = example.observation_shape();
    PolicyValueNetConfig::new(trunk)
        .with_value_hidden(value_hidden)
        .with_num_actions(Some(example.num_actions()))
}

/// The counters a checkpoint keeps.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AzState {
    pub updates: u64,
    /// Self-play games finished, positions played and positions trained on.
    pub games: u64,
    pub moves: u64,
    pub positions: u64,
    pub wall_seconds: f64,
}

/// What a run did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AzSummary {
    pub state: AzState,
    pub completed: bool,
    /// The network's search against each anchor in the last evaluation.
    pub eval: Vec<AnchorScore>,
    /// Network evaluations per second in self-play, and positions per call.
    pub selfplay_evals_per_sec: f64,
    pub mean_batch: f64,
    /// Fraction of self-play time spent outside the network's forward passes.
    pub selfplay_outside_net: f64,
    /// The ownership head's sign accuracy on the cells someone owned, over the last logged
    /// training batches (`None` without the head).
    pub ownership_accuracy: Option<f64>,
    /// CRC-32C of the final weights ([`crate::common::fingerprint`]): equal runs, equal bits.
    pub weights_fingerprint: u32,
}

/// One training position: the observation's bits, the search policy, and (once the game ends)
/// the result for the player to move.
#[derive(Debug, Clone)]
struct Sample {
    bits: Vec<u64>,
    policy: Vec<f32>,
    /// The value target: the result, mixed with `search_value` when the game ends.
    z: f32,
    /// The full search's value of the position for the player to move.
    search_value: f32,
    /// Final ownership per cell from the view of the player to move (empty without a head).
    ownership: Vec<f32>,
}

/// A game in progress with its search and its training positions so far (with their movers).
struct Slot<G: Game> {
    state: G,
    search: Search<G>,
    /// Whether this move gets the full search.
    full: bool,
    pending: Vec<(Sample, usize)>,
    index: u64,
    rng: Rng,
}

/// Trains a policy-value net by self-play on games made by `new_game`.
pub fn train<G: Game>(
    cfg: &AlphaZeroConfig,
    net_cfg: &PolicyValueNetConfig,
    new_game: &mut dyn FnMut() -> G,
    seed: u64,
    device: &Device,
    io: RunIo<'_>,
) -> Result<(PolicyValueNet, AzSummary)> {
    cfg.validate()?;
    let example = new_game();
    let [c, h, w] = example.observation_shape();
    let obs_len = c * h * w;
    let num_actions = example.num_actions();
    if net_cfg.trunk.input_shape != [c, h, w] || net_cfg.num_moves() != num_actions {
        return Err(AgentError::Config(format!(
            "the network takes {:?} and gives {} actions; {} has {:?} and {} actions",
            net_cfg.trunk.input_shape,
            net_cfg.num_moves(),
            example.name(),
            [c, h, w],
            num_actions
        )));
    }
    let cells = h * w;
    let mut own0 = vec![0.0f32; cells];
    if net_cfg.ownership && !example.ownership(&mut own0) {
        return Err(AgentError::Config(format!(
            "model.ownership: {} has no notion of final ownership (Go has)",
            example.name()
        )));
    }
    let adev = device.clone().autodiff();
    // The initial weights come from the run's seed too (burn's generator is otherwise seeded
    // from the clock, and two runs of one file started from different networks).
    adev.seed(seed);
    let mut model = net_cfg.init(&adev)?;
    let mut optim: ModuleOptimizer = adam(cfg.adam_eps);
    let mut st = AzState::default();
    let mut resumed_at = None;
    if io.resume
        && let Some(dir) = io.checkpoints
    {
        let (latest, skipped) = dir.latest()?;
        let damaged = skipped.len();
        for e in skipped {
            io.logger.line(&format!("warning: skipped checkpoint: {e}"));
        }
        if latest.is_none() {
            io.logger
                .line(&ember_nets::checkpoint::starting_over(damaged));
        }
        if let Some((_, ck)) = latest {
            ck.check(KIND, net_cfg)?;
            model = ck.apply_model(model)?;
            optim = ck.apply_optimizer(optim)?;
            st = ck.state()?;
            io.logger.line(&format!(
                "resumed at update {} ({} self-play games); the replay buffer refills first",
                st.updates, st.games
            ));
            resumed_at = Some(st.updates);
        }
    }
    io.logger
        .session_start(ember_nets::checkpoint::resume_marker_step(resumed_at))?;
    let t_session = std::time::Instant::now();
    let wall_before = st.wall_seconds;

    // --- Self-play state ---
    let words = obs_len.div_ceil(64);
    let mut evaluator = NetEvaluator::new(model.valid(), net_cfg, device.clone())
        .with_score_utility(cfg.score_utility as f32);
    let mut next_game = st.games;
    let mut slots: Vec<Slot<G>> = (0..cfg.parallel_games)
        .map(|_| {
            let index = next_game;
            next_game += 1;
            Slot {
                state: new_game(),
                search: Search::new(cfg.search_config(), stream(seed, 1, index).next_u64()),
                full: false,
                pending: Vec::new(),
                index,
                rng: stream(seed, 2, index),
            }
        })
        .collect();
    let full_search = {
        let mut c = cfg.search_config();
        c.root_noise = cfg.root_noise;
        c
    };
    // Cheap searches keep the move sampling (Gumbel noise, or the temperature) but not
    // Dirichlet noise: played greedily, they made self-play games repeat (a Connect Four run
    // with deterministic cheap moves fell from 25% to 5-18% against uct:1000; RESULTS.md).
    let cheap_search = {
        let mut c = cfg.search_config();
        c.simulations = cfg.cheap_simulations;
        c
    };
    let mut scratch = BatchScratch::default();
    let mut replay: Vec<Sample> = Vec::with_capacity(cfg.replay_capacity.min(1 << 20));
    let mut replay_next = 0usize;
    let mut obs = vec![0.0f32; obs_len];
    let mut policy = vec![0.0f32; num_actions];
    let mut added_since_update = 0.0f64;
    let (mut net_seconds, mut selfplay_seconds) = (0.0f64, 0.0f64);
    let (mut lens, mut first_wins, mut draws, mut finished) = (0u64, 0u64, 0u64, 0u64);
    let mut last_eval: Vec<AnchorScore> = Vec::new();
    let mut previous_net: Option<NetEvaluator> = None;
    let mut last_own_accuracy = None;

    // --- Learning state ---
    let mut batch_obs = vec![0.0f32; cfg.batch_size * obs_len];
    let mut batch_pi = vec![0.0f32; cfg.batch_size * num_actions];
    let mut batch_z = vec![0.0f32; cfg.batch_size];
    let mut batch_own = vec![
        0.0f32;
        if net_cfg.ownership {
            cfg.batch_size * cells
        } else {
            0
        }
    ];
    let (mut loss_o_sum, mut own_hits, mut own_cells) = (0.0f64, 0u64, 0u64);
    let mut unpacked = Vec::with_capacity(obs_len);
    let (mut loss_p_sum, mut loss_v_sum, mut loss_n) = (0.0f64, 0.0f64, 0u64);

    let stop_at = io.stop_after.unwrap_or(u64::MAX).min(cfg.total_updates);
    let lr_schedule = LrSchedule {
        base: cfg.lr,
        warmup: 0,
        total: cfg.total_updates,
        cosine: cfg.lr_final_fraction < 1.0,
        final_fraction: cfg.lr_final_fraction,
    };
    while st.updates < stop_at {
        // One self-play round: every game makes one move.
        let t0 = std::time::Instant::now();
        for s in slots.iter_mut() {
            s.full = s.rng.uniform() < cfg.full_search_prob;
            // Full searches explore (Gumbel noise, or Dirichlet noise and a temperature); cheap
            // ones only play a good move quickly, as KataGo's do.
            s.search
                .set_config(if s.full { full_search } else { cheap_search });
            s.search.set_root(&s.state);
        }
        search_batch_timed(&mut slots, &mut evaluator, &mut scratch, &mut net_seconds);
        for s in slots.iter_mut() {
            let moves_so_far = s.state.history_len() as u32;
            if s.full {
                s.state.observe(&mut obs);
                let mut bits = vec![0u64; words];
                pack_bits(&obs, &mut bits)?;
                s.search.policy(&mut policy);
                let sample = Sample {
                    bits,
                    policy: policy.clone(),
                    z: 0.0,
                    search_value: s.search.policy_value(),
                    ownership: Vec::new(),
                };
                s.pending.push((sample, s.state.current_player()));
            }
            let temperature = match cfg.selection {
                Selection::Puct { .. } if moves_so_far < cfg.temperature_moves => 1.0,
                _ => 0.0,
            };
            let a = s.search.best_action(temperature);
            s.state
                .apply(a)
                .map_err(|e| AgentError::Unsupported(format!("self-play: {e}")))?;
            st.moves += 1;
            let capped =
                cfg.max_game_moves > 0 && s.state.history_len() as u32 >= cfg.max_game_moves;
            if s.state.is_terminal() || capped {
                let r = if s.state.is_terminal() {
                    s.state.returns()
                } else {
                    [0.0, 0.0]
                };
                finished += 1;
                lens += s.state.history_len() as u64;
                first_wins += (r[0] > r[1]) as u64;
                draws += (r[0] == r[1]) as u64;
                let owned = net_cfg.ownership && s.state.ownership(&mut own0);
                for (mut sample, mover) in s.pending.drain(..) {
                    let w = cfg.value_target_search_weight as f32;
                    sample.z = (1.0 - w) * r[mover] + w * sample.search_value;
                    if owned {
                        let sign = if mover == 0 { 1.0 } else { -1.0 };
                        sample.ownership = own0.iter().map(|&o| sign * o).collect();
                    }
                    st.positions += 1;
                    added_since_update += 1.0;
                    if replay.len() < cfg.replay_capacity {
                        replay.push(sample);
                    } else {
                        replay[replay_next] = sample;
                    }
                    replay_next = (replay_next + 1) % cfg.replay_capacity;
                }
                st.games += 1;
                let index = next_game;
                next_game += 1;
                s.state = new_game();
                s.index = index;
                s.rng = stream(seed, 2, index);
                s.search.seed(stream(seed, 1, index).next_u64());
            }
        }
        selfplay_seconds += t0.elapsed().as_secs_f64();

        // Learning: keep pace with self-play.
        if replay.len() < cfg.min_replay.max(cfg.batch_size) {
            io.logger.progress(
                st.updates,
                &format!(
                    "filling the replay buffer: {}/{}",
                    replay.len(),
                    cfg.min_replay
                ),
            );
            continue;
        }
        let due = (added_since_update * cfg.sample_reuse / cfg.batch_size as f64).floor() as u64;
        added_since_update -= due as f64 * cfg.batch_size as f64 / cfg.sample_reuse;
        for _ in 0..due.min(stop_at - st.updates) {
            let mut rng = stream(seed, 3, st.updates);
            for b in 0..cfg.batch_size {
                let smp = &replay[rng.below(replay.len())];
                unpacked.clear();
                unpack_bits(&smp.bits, obs_len, &mut unpacked);
                let sym = if cfg.augment {
                    let syms = example.symmetries();
                    syms[rng.below(syms.len())]
                } else {
                    Symmetry::Identity
                };
                let o = &mut batch_obs[b * obs_len..(b + 1) * obs_len];
                let pi = &mut batch_pi[b * num_actions..(b + 1) * num_actions];
                if sym == Symmetry::Identity {
                    o.copy_from_slice(&unpacked);
                    pi.copy_from_slice(&smp.policy);
                } else {
                    example.transform_observation(sym, &unpacked, o);
                    pi.fill(0.0);
                    for (a, &p) in smp.policy.iter().enumerate() {
                        pi[example.transform_action(sym, a)] += p;
                    }
                }
                batch_z[b] = smp.z;
                if net_cfg.ownership {
                    let dst = &mut batch_own[b * cells..(b + 1) * cells];
                    if smp.ownership.len() != cells {
                        dst.fill(0.0);
                    } else if sym == Symmetry::Identity {
                        dst.copy_from_slice(&smp.ownership);
                    } else {
                        ember_envs::game::transform_planes(sym, 1, h, w, &smp.ownership, dst);
                    }
                }
            }
            let n = cfg.batch_size;
            let out = model.forward_flat_all(matrix(batch_obs.clone(), n, obs_len, &adev));
            let pi_t = matrix(batch_pi.clone(), n, num_actions, &adev);
            let loss_p = -(pi_t * log_softmax(out.logits, 1)).sum_dim(1).mean(); // [1]
            let loss_v = (out.value - vector(batch_z.clone(), &adev)).square().mean(); // [1]
            let mut loss = loss_p.clone() + loss_v.clone() * cfg.value_weight as f32;
            if let Some(own) = out.ownership {
                // Sign agreement on the cells someone owns: the head's accuracy.
                let pred = read(own.clone().detach())?;
                for (p, t) in pred.iter().zip(&batch_own) {
                    if *t != 0.0 {
                        own_cells += 1;
                        own_hits += (p.signum() == t.signum()) as u64;
                    }
                }
                let target = matrix(batch_own.clone(), n, cells, &adev);
                let loss_o = (own - target).square().mean(); // [1]
                loss_o_sum += read(loss_o.clone().detach())?[0] as f64;
                loss = loss + loss_o * cfg.ownership_weight as f32;
            }
            let (lp, lv) = (
                read(loss_p.detach())?[0] as f64,
                read(loss_v.detach())?[0] as f64,
            );
            check_finite("the AlphaZero loss", (lp + lv) as f32, st.updates, None)?;
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(lr_schedule.at(st.updates), model, grads);
            st.updates += 1;
            loss_p_sum += lp;
            loss_v_sum += lv;
            loss_n += 1;
            if st.updates % 25 == 0 || st.updates == stop_at {
                let lg = &mut *io.logger;
                lg.scalar("losses/policy", st.updates, loss_p_sum / loss_n as f64)?;
                lg.scalar("losses/value", st.updates, loss_v_sum / loss_n as f64)?;
                lg.scalar(
                    "charts/learning_rate",
                    st.updates,
                    lr_schedule.at(st.updates),
                )?;
                if net_cfg.ownership {
                    lg.scalar("losses/ownership", st.updates, loss_o_sum / loss_n as f64)?;
                    lg.scalar(
                        "losses/ownership_accuracy",
                        st.updates,
                        own_hits as f64 / own_cells.max(1) as f64,
                    )?;
                    last_own_accuracy = Some(own_hits as f64 / own_cells.max(1) as f64);
                    (loss_o_sum, own_hits, own_cells) = (0.0, 0, 0);
                }
                if finished > 0 {
                    lg.scalar(
                        "selfplay/game_length",
                        st.updates,
                        lens as f64 / finished as f64,
                    )?;
                    lg.scalar(
                        "selfplay/first_player_wins",
                        st.updates,
                        first_wins as f64 / finished as f64,
                    )?;
                    lg.scalar("selfplay/draws", st.updates, draws as f64 / finished as f64)?;
                }
                lg.scalar("selfplay/games", st.updates, st.games as f64)?;
                lg.scalar("selfplay/positions", st.updates, st.positions as f64)?;
                lg.scalar(
                    "selfplay/evals_per_sec",
                    st.updates,
                    evaluator.positions as f64 / selfplay_seconds.max(1e-9),
                )?;
                lg.progress(
                    st.updates,
                    &format!(
                        "loss π {:.3} v {:.3}, {} games",
                        loss_p_sum / loss_n as f64,
                        loss_v_sum / loss_n as f64,
                        st.games
                    ),
                );
                (loss_p_sum, loss_v_sum, loss_n) = (0.0, 0.0, 0);
                (lens, first_wins, draws, finished) = (0, 0, 0, 0);
            }
            let last = st.updates == stop_at;
            if cfg.eval_every > 0 && (st.updates % cfg.eval_every == 0 || last)
                || cfg.eval_every == 0 && last
            {
                let current = NetEvaluator::new(model.valid(), net_cfg, device.clone())
                    .with_score_utility(cfg.score_utility as f32);
                last_eval = evaluate(
                    cfg,
                    &current,
                    previous_net.as_ref(),
                    &example,
                    st.updates,
                    seed,
                )?;
                previous_net = Some(current);
                for a in &last_eval {
                    let lg = &mut *io.logger;
                    lg.scalar(&format!("eval/score_vs_{}", a.anchor), st.updates, a.score)?;
                    lg.scalar(&format!("eval/elo_vs_{}", a.anchor), st.updates, a.elo)?;
                    lg.scalar(
                        &format!("eval/elo_low_vs_{}", a.anchor),
                        st.updates,
                        a.elo_low,
                    )?;
                    lg.scalar(
                        &format!("eval/elo_high_vs_{}", a.anchor),
                        st.updates,
                        a.elo_high,
                    )?;
                }
                let text: Vec<String> = last_eval
                    .iter()
                    .map(|a| {
                        format!(
                            "{} {:.0}% (Elo {:+.0} [{:+.0}, {:+.0}])",
                            a.anchor,
                            100.0 * a.score,
                            a.elo,
                            a.elo_low,
                            a.elo_high
                        )
                    })
                    .collect();
                io.logger.line(&format!(
                    "update {}: score vs {}",
                    st.updates,
                    text.join(", ")
                ));
            }
            if (st.updates % cfg.checkpoint_every == 0 || last)
                && let Some(dir) = io.checkpoints
            {
                st.wall_seconds = wall_before + t_session.elapsed().as_secs_f64();
                let ck = Checkpoint::new(KIND, net_cfg, &model, Some(&optim), &st)?;
                dir.save(st.updates, &ck)?;
                io.logger.flush()?;
            }
        }
        evaluator.set_net(model.valid());
    }
    st.wall_seconds = wall_before + t_session.elapsed().as_secs_f64();
    let summary = AzSummary {
        completed: st.updates >= cfg.total_updates,
        eval: last_eval,
        selfplay_evals_per_sec: evaluator.positions as f64 / selfplay_seconds.max(1e-9),
        mean_batch: evaluator.positions as f64 / evaluator.calls.max(1) as f64,
        selfplay_outside_net: 1.0 - net_seconds / selfplay_seconds.max(1e-9),
        ownership_accuracy: last_own_accuracy,
        weights_fingerprint: fingerprint(&model)?,
        state: st,
    };
    Ok((model.valid(), summary))
}

/// Runs the slots' searches in lockstep, adding the time spent in the network to `net_seconds`.
fn search_batch_timed<G: Game>(
    slots: &mut [Slot<G>],
    evaluator: &mut NetEvaluator,
    scratch: &mut BatchScratch,
    net_seconds: &mut f64,
) {
    struct Timed<'a> {
        inner: &'a mut NetEvaluator,
        seconds: &'a mut f64,
    }
    impl<G: Game> crate::mcts::Evaluator<G> for Timed<'_> {
        fn evaluate(&mut self, states: &[&G], priors: &mut [f32], values: &mut [f32]) {
            let t = std::time::Instant::now();
            self.inner.evaluate(states, priors, values);
            *self.seconds += t.elapsed().as_secs_f64();
        }
        fn name(&self) -> String {
            "net".into()
        }
    }
    // The searches live in the slots; move them out for the batch and back.
    let mut searches: Vec<Search<G>> = slots
        .iter_mut()
        .map(|s| {
            std::mem::replace(
                &mut s.search,
                Search::new(SearchConfig::new(1, Selection::uct()), 0),
            )
        })
        .collect();
    let mut timed = Timed {
        inner: evaluator,
        seconds: net_seconds,
    };
    search_batch(&mut searches, &mut timed, scratch);
    for (s, search) in slots.iter_mut().zip(searches) {
        s.search = search;
    }
}

/// One anchor's result in an evaluation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnchorScore {
    /// `random`, `uctN`, or `previous` (the network of the evaluation before).
    pub anchor: String,
    pub games: u64,
    /// (wins + draws / 2) / games.
    pub score: f64,
    /// Elo difference against the anchor with its 95% interval.
    pub elo: f64,
    pub elo_low: f64,
    pub elo_high: f64,
}

/// Plays the network's search (no noise) against the anchors — random, UCT with
/// `eval_uct_simulations` playouts, and, when given, the network of the previous evaluation —
/// `eval_games` each with colours alternated.
pub fn evaluate<G: Game>(
    cfg: &AlphaZeroConfig,
    net: &NetEvaluator,
    previous: Option<&NetEvaluator>,
    example: &G,
    updates: u64,
    seed: u64,
) -> Result<Vec<AnchorScore>> {
    let mut out = Vec::new();
    if cfg.eval_games == 0 {
        return Ok(out);
    }
    let mut anchors = vec![
        "random".to_string(),
        format!("uct{}", cfg.eval_uct_simulations),
    ];
    if previous.is_some() {
        anchors.push("previous".into());
    }
    let net_player = |n: &NetEvaluator, name: &str, seed: u64| {
        SearchPlayer::new(
            name.into(),
            cfg.play_config(cfg.eval_simulations),
            n.clone(),
            seed,
        )
    };
    for (k, anchor) in anchors.iter().enumerate() {
        let (mut wins, mut losses, mut draws) = (0u64, 0u64, 0u64);
        for g in 0..cfg.eval_games {
            let game_seed = stream(seed, 4, updates * 1000 + k as u64 * 100 + g).next_u64();
            let mut me = net_player(net, "az", game_seed);
            let mut other: Box<dyn Player<G>> = match (k, previous) {
                (0, _) => Box::new(RandomPlayer::new(game_seed ^ 1)),
                (1, _) => Box::new(SearchPlayer::new(
                    anchor.clone(),
                    SearchConfig::new(cfg.eval_uct_simulations, Selection::uct()),
                    RolloutEvaluator::new(1, game_seed ^ 2),
                    game_seed ^ 3,
                )),
                (_, Some(p)) => Box::new(net_player(p, "previous", game_seed ^ 4)),
                (_, None) => unreachable!("the previous network is an anchor only when given"),
            };
            let mut state = example.clone();
            let my_seat = (g % 2) as usize;
            let players: [&mut dyn Player<G>; 2] = if my_seat == 0 {
                [&mut me, other.as_mut()]
            } else {
                [other.as_mut(), &mut me]
            };
            let end = play_game(&mut state, players, &mut |_, _, _| {})
                .map_err(|e| AgentError::Unsupported(format!("evaluation game: {e}")))?;
            match end.winner() {
                Some(w) if w == my_seat => wins += 1,
                Some(_) => losses += 1,
                None => draws += 1,
            }
        }
        let (elo, elo_low, elo_high) = ember_envs::player::elo(wins, losses, draws);
        out.push(AnchorScore {
            anchor: anchor.clone(),
            games: cfg.eval_games,
            score: (wins as f64 + 0.5 * draws as f64) / cfg.eval_games as f64,
            elo,
            elo_low,
            elo_high,
        });
    }
    Ok(out)
}

/// The network stored in an AlphaZero checkpoint, on `device` (without autodiff), with its config.
pub fn from_checkpoint(
    ck: &Checkpoint,
    device: &Device,
) -> Result<(PolicyValueNet, PolicyValueNetConfig)> {
    if ck.kind() != KIND {
        return Err(AgentError::Config(format!(
            "this checkpoint holds a {} run, not an AlphaZero network",
            ck.kind()
        )));
    }
    let cfg: PolicyValueNetConfig = ck.model_config()?;
    let net = ck.apply_model(cfg.init(device)?)?;
    Ok((net, cfg))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_play_rule_is_separate_from_the_training_rule() {
        // Trained with Gumbel (the default), played with PUCT unless told otherwise.
        let cfg = AlphaZeroConfig {
            selection: Selection::Gumbel {
                max_considered: 8,
                c_visit: 40.0,
                c_scale: 0.2,
                gumbel_scale: 1.0,
            },
            decisive_moves: true,
            ..AlphaZeroConfig::default()
        };
        let p = cfg.play_config(100);
        assert_eq!(p.selection, Selection::puct());
        assert_eq!((p.simulations, p.root_noise, p.decisive), (100, None, true));
        // Gumbel on request keeps the run's constants, without noise.
        let g = cfg.play_config_with(PlayRule::Gumbel, 50).selection;
        assert_eq!(
            g,
            Selection::Gumbel {
                max_considered: 8,
                c_visit: 40.0,
                c_scale: 0.2,
                gumbel_scale: 0.0,
            }
        );
        // A PUCT run keeps its own constants; asked for Gumbel, it gets mctx's.
        let puct = Selection::Puct {
            c_init: 2.0,
            c_base: 500.0,
            fpu_reduction: 0.0,
        };
        let cfg = AlphaZeroConfig {
            selection: puct,
            ..AlphaZeroConfig::default()
        };
        assert_eq!(cfg.play_config(10).selection, puct);
        assert_eq!(
            cfg.play_config_with(PlayRule::Gumbel, 10).selection,
            Selection::gumbel(16, 0.0)
        );
        // The key's spelling in experiment files; anything else is refused.
        for rule in PlayRule::ALL {
            let t: AlphaZeroConfig =
                serde_json::from_str(&format!(r#"{{"play_rule": "{}"}}"#, rule.name())).unwrap();
            assert_eq!(t.play_rule, rule);
        }
        assert!(serde_json::from_str::<AlphaZeroConfig>(r#"{"play_rule": "uct"}"#).is_err());
    }
}
