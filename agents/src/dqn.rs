//! DQN (Mnih et al. 2015) with the usual improvements as options: Double DQN (van Hasselt et al.
//! 2016), a dueling head (Wang et al. 2016), n-step returns, prioritized replay (Schaul et al.
//! 2016), a Huber loss and gradient clipping.
//! Reads top to bottom like CleanRL's `dqn.py`: config, network, loop.

use ember_envs::Env;
use ember_nets::burn::module::Module;
use ember_nets::burn::optim::{GradientsParams, ModuleOptimizer, RmsPropConfig};
use ember_nets::td_loss::td_loss;
use ember_nets::{DeviceChoice, QNetConfig};
use serde::{Deserialize, Serialize};

use crate::common::{
    EvalResult, MAX_ENVS, NetConfig, RunIo, TrainSummary, adam, at_least_one, check_finite,
    clip_global_norm, due, evaluate, linear, masked_argmax, matrix, positive, random_legal, read,
    size_within, spaces, stream, within,
};
use crate::envs::{Envs, EnvsState, Transition};
use crate::error::{AgentError, Result, config};
use crate::replay::{Batch, NStep, ObsCodec, Replay};
use crate::trainer::{Counters, Schedule, TrainState, Trainer};

/// The model kind in DQN checkpoints.
pub const KIND: &str = "dqn";

// ---------------------------------------------------------------------------------------------
// Config

/// Every DQN hyperparameter. Defaults are MinAtar's DQN (Young & Tian 2019): replay 100k,
/// batch 32, lr 2.5e-4, target update every 1000 steps, ε 1 → 0.1 over 100k steps, a training
/// step every environment step, 5k steps before learning starts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DqnConfig {
    /// Environment steps to train for (over all environments).
    pub total_steps: u64,
    /// Environments stepped together (acting is batched; 1 as in the paper).
    pub num_envs: usize,
    /// Replay buffer capacity (transitions).
    pub buffer_size: usize,
    /// Transitions per gradient step.
    pub batch_size: usize,
    /// Learning rate.
    pub lr: f64,
    /// `"adam"` (the default; CleanRL's and SB3's choice) or `"rmsprop"` (MinAtar's DQN:
    /// PyTorch's `RMSprop` with `rmsprop_alpha`, `rmsprop_eps` and `rmsprop_centered`).
    pub optimizer: DqnOptimizer,
    /// Adam epsilon.
    pub adam_eps: f64,
    /// RMSProp's smoothing constant for the squared-gradient average (MinAtar: 0.95).
    pub rmsprop_alpha: f64,
    /// RMSProp's epsilon, added to the root of the squared-gradient average (MinAtar: 0.01,
    /// its `MIN_SQUARED_GRAD`).
    pub rmsprop_eps: f64,
    /// Centered RMSProp: the squared-gradient average less the square of the gradient's
    /// average (MinAtar: true).
    pub rmsprop_centered: bool,
    /// Discount factor.
    pub gamma: f64,
    /// Copy the online network into the target network every this many steps.
    pub target_update_period: u64,
    /// Steps of acting before the first gradient step.
    pub learning_starts: u64,
    /// Train every this many environment steps.
    pub train_frequency: u64,
    /// Gradient steps each time training is due (SB3's `gradient_steps`; 1 in the paper).
    pub gradient_steps: u64,
    /// Updates per environment step, counted over all environments (the replay ratio), instead
    /// of `train_frequency` and `gradient_steps`: after `s` steps, `⌊s·replay_ratio⌋` updates
    /// are due in all (from `learning_starts` on). With several `num_envs` and a ratio below 1,
    /// acting is batched and a run takes less wall time per env step than MinAtar's protocol
    /// (one env, one update per step, what leaving this unset gives). Unset by default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replay_ratio: Option<f64>,
    /// ε at step 0.
    pub start_epsilon: f64,
    /// ε after `exploration_steps`.
    pub end_epsilon: f64,
    /// Steps over which ε falls linearly.
    pub exploration_steps: u64,
    /// Double DQN: the online network picks the next action, the target network values it.
    pub double_dqn: bool,
    /// Dueling head: Q = V + A − mean(A).
    pub dueling: bool,
    /// Returns over this many rewards before bootstrapping (1: plain DQN).
    pub n_step: usize,
    /// Prioritized experience replay (Schaul et al. 2016, proportional): transitions are drawn
    /// with probability ∝ `(|δ| + priority_eps)^priority_alpha`, and each one's loss is weighted
    /// by `(N·P(i))^−β` over the batch's largest, β rising linearly from `priority_beta` to 1 at
    /// `total_steps`. Off by default (MinAtar's DQN draws uniformly).
    pub prioritized_replay: bool,
    /// Priority exponent α (0.6 in the paper, 0.5 in Rainbow).
    pub priority_alpha: f64,
    /// β at step 0 (0.4 in the paper).
    pub priority_beta: f64,
    /// Added to `|δ|`, so that no transition's priority is 0.
    pub priority_eps: f64,
    /// Huber loss threshold (SmoothL1 with δ = 1 in CleanRL and SB3).
    pub huber_delta: f64,
    /// Clip gradients to this global L2 norm (PyTorch's `clip_grad_norm_`); 0 turns it off.
    pub max_grad_norm: f64,
    /// Evaluate the greedy policy every this many steps (0: only at the end).
    pub eval_every: u64,
    /// Episodes per evaluation.
    pub eval_episodes: usize,
    /// ε during evaluation (0: greedy).
    pub eval_epsilon: f64,
    /// Evaluation episodes are cut at this many steps.
    pub eval_max_steps: u64,
    /// Checkpoint every this many steps (a multiple of `target_update_period`, so that the
    /// target network equals the online one at every checkpoint); 0: only at the end.
    pub checkpoint_every: u64,
    /// Checkpoints kept.
    pub keep_checkpoints: usize,
    /// Keep the network of the best evaluation as the run's output (`checkpoints/best.ember`,
    /// what `ember eval RUN_DIR` evaluates), as SB3's `EvalCallback` keeps `best_model`.
    pub keep_best: bool,
    /// Save the replay buffer with each checkpoint (needed for an exact resume).
    pub save_replay: bool,
    /// Log losses every this many steps.
    pub log_every: u64,
}

impl Default for DqnConfig {
    fn default() -> Self {
        DqnConfig {
            total_steps: 5_000_000,
            num_envs: 1,
            buffer_size: 100_000,
            batch_size: 32,
            lr: 2.5e-4,
            optimizer: DqnOptimizer::Adam,
            adam_eps: 1e-8,
            rmsprop_alpha: 0.95,
            rmsprop_eps: 0.01,
            rmsprop_centered: true,
            gamma: 0.99,
            target_update_period: 1000,
            learning_starts: 5000,
            train_frequency: 1,
            gradient_steps: 1,
            replay_ratio: None,
            start_epsilon: 1.0,
            end_epsilon: 0.1,
            exploration_steps: 100_000,
            double_dqn: true,
            dueling: false,
            n_step: 1,
            prioritized_replay: false,
            priority_alpha: 0.6,
            priority_beta: 0.4,
            priority_eps: 1e-6,
            huber_delta: 1.0,
            max_grad_norm: 10.0,
            eval_every: 100_000,
            eval_episodes: 10,
            eval_epsilon: 0.0,
            eval_max_steps: 10_000,
            checkpoint_every: 100_000,
            keep_checkpoints: 2,
            keep_best: false,
            save_replay: true,
            log_every: 1000,
        }
    }
}

/// DQN's optimizer (see [`DqnConfig::optimizer`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DqnOptimizer {
    Adam,
    RmsProp,
}

/// The largest `replay_ratio` (updates per environment step).
pub const MAX_REPLAY_RATIO: f64 = 1024.0;

/// Updates due when the step counter moves from `from` to `to`: with a replay ratio,
/// `⌊to·ratio⌋ − ⌊from·ratio⌋`; else `gradient_steps` each time a multiple of `train_frequency`
/// is passed.
fn updates_due(cfg: &DqnConfig, from: u64, to: u64) -> u64 {
    match cfg.replay_ratio {
        Some(r) => ((to as f64 * r).floor() - (from as f64 * r).floor()) as u64,
        None => due(from, to, cfg.train_frequency) * cfg.gradient_steps,
    }
}

/// The most transitions a DQN replay buffer may hold (`buffer_size`): what it allocates up front.
pub const MAX_BUFFER: u64 = 1 << 26;

impl DqnConfig {
    /// Checks every value; errors name the key (under `prefix`, e.g. `train.`).
    pub fn validate(&self, prefix: &str) -> Result<()> {
        let k = |s: &str| format!("{prefix}{s}");
        at_least_one(&k("total_steps"), self.total_steps)?;
        size_within(&k("num_envs"), self.num_envs as u64, MAX_ENVS)?;
        size_within(&k("buffer_size"), self.buffer_size as u64, MAX_BUFFER)?;
        size_within(&k("batch_size"), self.batch_size as u64, MAX_BUFFER)?;
        size_within(&k("n_step"), self.n_step as u64, 1 << 16)?;
        at_least_one(&k("target_update_period"), self.target_update_period)?;
        at_least_one(&k("train_frequency"), self.train_frequency)?;
        at_least_one(&k("gradient_steps"), self.gradient_steps)?;
        at_least_one(&k("eval_episodes"), self.eval_episodes as u64)?;
        at_least_one(&k("eval_max_steps"), self.eval_max_steps)?;
        at_least_one(&k("log_every"), self.log_every)?;
        positive(&k("lr"), self.lr)?;
        positive(&k("adam_eps"), self.adam_eps)?;
        within(&k("rmsprop_alpha"), self.rmsprop_alpha, 0.0, 1.0)?;
        positive(&k("rmsprop_eps"), self.rmsprop_eps)?;
        positive(&k("huber_delta"), self.huber_delta)?;
        within(&k("gamma"), self.gamma, 0.0, 1.0)?;
        within(&k("start_epsilon"), self.start_epsilon, 0.0, 1.0)?;
        within(&k("end_epsilon"), self.end_epsilon, 0.0, 1.0)?;
        within(&k("eval_epsilon"), self.eval_epsilon, 0.0, 1.0)?;
        within(&k("max_grad_norm"), self.max_grad_norm, 0.0, f64::MAX)?;
        within(&k("priority_alpha"), self.priority_alpha, 0.0, 1.0)?;
        within(&k("priority_beta"), self.priority_beta, 0.0, 1.0)?;
        within(&k("priority_eps"), self.priority_eps, 0.0, 1.0)?;
        positive(&k("priority_eps"), self.priority_eps)?;
        if let Some(ratio) = self.replay_ratio {
            within(&k("replay_ratio"), ratio, 0.0, MAX_REPLAY_RATIO)?;
            positive(&k("replay_ratio"), ratio)?;
            if self.train_frequency != 1 || self.gradient_steps != 1 {
                return Err(config(format!(
                    "{} replaces {} and {}: leave those at 1 when it is set",
                    k("replay_ratio"),
                    k("train_frequency"),
                    k("gradient_steps")
                )));
            }
        }
        if !self
            .checkpoint_every
            .is_multiple_of(self.target_update_period)
        {
            return Err(config(format!(
                "{} = {} must be a multiple of {} = {} (a checkpoint holds one network, so the \
                 target network must equal the online one when it is written)",
                k("checkpoint_every"),
                self.checkpoint_every,
                k("target_update_period"),
                self.target_update_period
            )));
        }
        Ok(())
    }
}

/// What a DQN checkpoint records besides the network and the optimizer.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct State {
    #[serde(flatten)]
    run: Counters,
    iterations: u64,
    updates: u64,
    envs: EnvsState,
    nstep: NStep,
    replay_saved: bool,
}

impl TrainState for State {
    fn counters(&mut self) -> &mut Counters {
        &mut self.run
    }
    fn updates(&self) -> u64 {
        self.updates
    }
}

fn replay_path(dir: &std::path::Path, step: u64) -> std::path::PathBuf {
    dir.join(format!("replay-{step:012}.bin"))
}

const TAG_ACT: u64 = 1;
const TAG_SAMPLE: u64 = 2;
const TAG_EVAL: u64 = 3;

/// Trains a DQN agent on environments from `make_env` (called with indices `0..num_envs` for
/// training and `num_envs` for evaluation); every random choice derives from `seed`.
pub fn train<E: Env>(
    cfg: &DqnConfig,
    net: &NetConfig,
    seed: u64,
    make_env: &mut dyn FnMut(usize) -> Result<E>,
    device: DeviceChoice,
    io: RunIo<'_>,
) -> Result<TrainSummary> {
    cfg.validate("")?;

    // ---- Environments --------------------------------------------------------------------
    let n = cfg.num_envs;
    let mut envs = Envs::new(n, seed, &mut *make_env)?;
    let mut eval_env = make_env(n)?;
    let (shape, num_actions) = spaces(envs.first())?;
    let l = envs.obs_len();
    let codec = ObsCodec::for_space(envs.first().observation_space());

    // ---- Network, target network, optimizer ----------------------------------------------
    let dev = device.autodiff_device()?;
    let infer = device.device()?;
    dev.seed(seed);
    let qcfg = QNetConfig::new(net.encoder(&shape)?, num_actions)
        .with_hidden(net.hidden)
        .with_dueling(cfg.dueling);
    let model = qcfg.init(&dev)?;
    let optim = match cfg.optimizer {
        DqnOptimizer::Adam => adam(cfg.adam_eps),
        // burn's RmsProp is PyTorch's: `g / (√avg + eps)`, `avg` centered when asked.
        DqnOptimizer::RmsProp => RmsPropConfig::new()
            .with_alpha(cfg.rmsprop_alpha as f32)
            .with_epsilon(cfg.rmsprop_eps as f32)
            .with_centered(cfg.rmsprop_centered)
            .with_momentum(0.0)
            .init(),
    };
    // Environments with action masks: the buffer keeps each next state's mask for the TD target.
    let mask_len = if envs.mask(0).is_some() {
        num_actions
    } else {
        0
    };
    let mut replay = Replay::new(cfg.buffer_size, l, codec);
    if mask_len > 0 {
        replay = replay.with_masks(mask_len);
    }
    let alpha = cfg.prioritized_replay.then_some(cfg.priority_alpha);
    if let Some(alpha) = alpha {
        replay = replay.with_priorities(alpha);
    }
    let mut state = State {
        run: Counters::default(),
        iterations: 0,
        updates: 0,
        envs: envs.state(),
        nstep: NStep::new(cfg.n_step, cfg.gamma as f32, n),
        replay_saved: false,
    };
    let schedule = Schedule {
        eval_every: cfg.eval_every,
        checkpoint_every: cfg.checkpoint_every,
        end: cfg.total_steps,
        keep_best: cfg.keep_best,
    };
    let mut trainer = Trainer::new(KIND, qcfg.clone(), io, schedule);

    // ---- Resume ---------------------------------------------------------------------------
    let (mut model, mut optim, resumed) = trainer.resume(model, optim)?;
    if let Some((step, saved)) = resumed {
        state = saved;
        envs.restore(&state.envs)?;
        if let (true, Some(dir)) = (state.replay_saved, trainer.checkpoints()) {
            let path = replay_path(dir.path(), step);
            let masks = (mask_len, num_actions);
            match Replay::load(&path, cfg.buffer_size, l, codec, masks, alpha) {
                Ok(r) => replay = r,
                Err(e) => trainer.log.line(&format!(
                    "warning: {e}; continuing with an empty replay buffer (the run will not \
                     repeat the uninterrupted one exactly)"
                )),
            }
        }
        trainer.log.line(&format!(
            "resuming from step {step} ({} updates)",
            state.updates
        ));
    }
    let mut target = model.valid();
    // The online network without autodiff, for acting and the TD targets; dropped before each
    // optimizer step (so that the step updates parameters no other tensor shares, in place) and
    // made again when next needed.
    let mut online = Some(model.valid());

    // A checkpoint with the replay buffer beside it (the files of pruned checkpoints removed).
    let save = |trainer: &mut Trainer<'_, QNetConfig>,
                model: &ember_nets::QNet,
                optim: &ModuleOptimizer,
                state: &mut State,
                envs: &Envs<E>,
                replay: &Replay|
     -> Result<()> {
        state.envs = envs.state();
        let Some(dir) = trainer.checkpoints() else {
            return Ok(());
        };
        state.replay_saved = cfg.save_replay;
        if cfg.save_replay {
            std::fs::create_dir_all(dir.path()).map_err(|e| AgentError::Io {
                path: dir.path().into(),
                source: e,
            })?;
            replay.save(&replay_path(dir.path(), state.run.step))?;
        }
        trainer.save(model, optim, state)?;
        let kept: Vec<u64> = dir.list()?.into_iter().map(|(s, _)| s).collect();
        if let Ok(entries) = std::fs::read_dir(dir.path()) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if let Some(s) = name
                    .strip_prefix("replay-")
                    .and_then(|s| s.strip_suffix(".bin"))
                    && s.parse::<u64>().is_ok_and(|s| !kept.contains(&s))
                {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
        Ok(())
    };

    let greedy_eval = |online: &ember_nets::QNet, env: &mut E, index: u64| -> Result<EvalResult> {
        let mut rng = stream(seed, TAG_EVAL, index);
        evaluate(
            env,
            cfg.eval_episodes,
            stream(seed, TAG_EVAL, index).next_u64(),
            cfg.eval_max_steps,
            &mut |env: &dyn Env| {
                if cfg.eval_epsilon > 0.0 && rng.chance(cfg.eval_epsilon) {
                    return Ok(random_legal(&mut rng, num_actions, env.action_mask()));
                }
                let q = read(online.forward(matrix(env.obs().to_vec(), 1, l, &infer)))?;
                Ok(masked_argmax(&q, env.action_mask()))
            },
        )
    };

    // ---- Loop -----------------------------------------------------------------------------
    let mut tr = Transition::default();
    let mut batch = Batch::default();
    let mut actions = vec![0usize; n];
    let (mut loss_sum, mut q_sum, mut norm_sum, mut logged_updates) = (0f64, 0f64, 0f64, 0u64);
    trainer.begin(&state.run);
    let mut prev = state.run.step;
    loop {
        let eval = |step| greedy_eval(&model.valid(), &mut eval_env, step);
        let ckpt =
            |t: &mut Trainer<'_, _>, s: &mut State| save(t, &model, &optim, s, &envs, &replay);
        if let Some(summary) = trainer.between(prev, &model, &mut state, eval, ckpt)? {
            return Ok(summary);
        }

        // Act: ε-greedy over the batch of environments.
        let mut rng = stream(seed, TAG_ACT, state.iterations);
        let eps = linear(
            cfg.start_epsilon,
            cfg.end_epsilon,
            cfg.exploration_steps,
            state.run.step,
        );
        let explore: Vec<bool> = (0..n).map(|_| rng.chance(eps)).collect();
        let q = if explore.iter().all(|&e| e) {
            Vec::new()
        } else {
            let net = online.get_or_insert_with(|| model.valid());
            read(net.forward(matrix(envs.obs().to_vec(), n, l, &infer)))?
        };
        for i in 0..n {
            // Only legal actions, where the environment has a mask (`Env::action_mask`).
            actions[i] = if explore[i] {
                random_legal(&mut rng, num_actions, envs.mask(i))
            } else {
                masked_argmax(&q[i * num_actions..(i + 1) * num_actions], envs.mask(i))
            };
        }
        let obs = envs.obs().to_vec();
        envs.step(&actions, &mut tr)?;

        // Store (n-step) transitions.
        for i in 0..n {
            state.nstep.push(
                i,
                &obs[i * l..(i + 1) * l],
                actions[i] as u32,
                tr.rewards[i],
                &tr.final_obs[i * l..(i + 1) * l],
                tr.terminated[i],
                tr.truncated[i],
                &mut |t| {
                    let next_mask =
                        (mask_len > 0).then(|| &tr.final_masks[i * mask_len..(i + 1) * mask_len]);
                    replay.push(&t, next_mask)
                },
            )?;
        }
        prev = state.run.step;
        state.run.step += n as u64;
        state.iterations += 1;
        trainer.episodes(&mut state.run, &tr.finished)?;

        // Learn: TD(n) regression on sampled transitions.
        if state.run.step > cfg.learning_starts && !replay.is_empty() {
            for _ in 0..updates_due(cfg, prev, state.run.step) {
                let mut rng = stream(seed, TAG_SAMPLE, state.updates);
                if cfg.prioritized_replay {
                    let progress = (state.run.step as f64 / cfg.total_steps as f64).min(1.0);
                    let beta = cfg.priority_beta + (1.0 - cfg.priority_beta) * progress;
                    replay.sample_prioritized(cfg.batch_size, beta, &mut rng, &mut batch);
                } else {
                    replay.sample(cfg.batch_size, &mut rng, &mut batch);
                }
                let b = cfg.batch_size;
                let next = matrix(batch.next_obs.clone(), b, l, &infer);
                let q_next_target = read(target.forward(next.clone()))?; // [B·A]
                let q_next_online = if cfg.double_dqn {
                    let net = online.get_or_insert_with(|| model.valid());
                    read(net.forward(next))? // [B·A]
                } else {
                    q_next_target.clone()
                };
                let targets: Vec<f32> = (0..b)
                    .map(|i| {
                        let row = i * num_actions..(i + 1) * num_actions;
                        // Over the next state's legal actions, where the env has masks.
                        let a =
                            masked_argmax(&q_next_online[row.clone()], batch.next_masks.get(row));
                        batch.rewards[i] + batch.discounts[i] * q_next_target[i * num_actions + a]
                    })
                    .collect();
                let q_all = model.forward(matrix(batch.obs.clone(), b, l, &dev)); // [B, A]
                // Huber on Q(s, a) − target, each transition's term times its importance weight
                // under prioritized replay, averaged (one op on the CPU, the same bits as
                // burn's gather, `HuberLoss` and mean).
                let td = td_loss(
                    q_all,
                    &batch.actions,
                    &targets,
                    &batch.weights,
                    cfg.huber_delta as f32,
                )?;
                let loss_value = td.value;
                check_finite(
                    "the TD loss",
                    loss_value,
                    state.run.step,
                    trainer.last_checkpoint,
                )?;
                if replay.prioritized() {
                    // New priorities: |δ| of each sampled transition under the network that
                    // computed this loss.
                    replay.update_priorities(&batch.slots, &td.residuals, cfg.priority_eps)?;
                }
                q_sum += td.q_mean as f64;
                let grads = GradientsParams::from_grads(td.loss.backward(), &model);
                let (grads, norm) = clip_global_norm(&model, grads, cfg.max_grad_norm)?;
                online = None;
                model = optim.step(cfg.lr, model, grads);
                norm_sum += norm;
                state.updates += 1;
                loss_sum += loss_value as f64;
                logged_updates += 1;
            }
        }
        if due(prev, state.run.step, cfg.target_update_period) > 0 {
            target = model.valid();
        }

        // Log, evaluate, checkpoint.
        if due(prev, state.run.step, cfg.log_every) > 0 {
            let sps = trainer.steps_per_sec(state.run.step);
            if logged_updates > 0 {
                let k = logged_updates as f64;
                trainer.scalars(
                    state.run.step,
                    &[
                        ("losses/td_loss", loss_sum / k),
                        ("losses/q_values", q_sum / k),
                        ("losses/grad_norm", norm_sum / k),
                    ],
                )?;
            }
            trainer.scalars(
                state.run.step,
                &[("charts/epsilon", eps), ("charts/SPS", sps)],
            )?;
            (loss_sum, q_sum, norm_sum, logged_updates) = (0.0, 0.0, 0.0, 0);
            trainer.log.progress(
                state.run.step,
                &format!(
                    "{sps:.0} SPS, return {:.2} (last 100), ε {eps:.3}",
                    state.run.recent.mean()
                ),
            );
        }
    }
}
