//! PPO (Schulman et al. 2017) with clipped surrogate objective, GAE, entropy bonus, advantage
//! normalisation, clipped value loss, minibatches × epochs, learning-rate annealing and gradient
//! clipping. Reads top to bottom like CleanRL's `ppo.py`: config, network, loop. One addition:
//! an episode cut by a time limit is bootstrapped from the value of its final observation (as
//! Stable-Baselines3 does) rather than treated as a terminal state.

use ember_envs::Env;
use ember_nets::burn::module::Module;
use ember_nets::burn::optim::{GradientsParams, ModuleOptimizer};
use ember_nets::burn::tensor::activation::{log_softmax, softmax};
use ember_nets::{ActorCriticConfig, DeviceChoice};
use serde::{Deserialize, Serialize};

use crate::common::{
    EvalResult, MAX_ENVS, NetConfig, RunIo, TrainSummary, adam, at_least_one, check_finite,
    clip_global_norm, evaluate, indices, mask_logits, masked_argmax, matrix, positive, read,
    sample_logp, size_within, spaces, stream, vector, within,
};
use crate::envs::{Envs, EnvsState, Transition};
use crate::error::{Result, config};
use crate::trainer::{Counters, Schedule, TrainState, Trainer};

/// The model kind in PPO checkpoints.
pub const KIND: &str = "ppo";

// ---------------------------------------------------------------------------------------------
// Config

/// Every PPO hyperparameter. Defaults are CleanRL's `ppo.py` (Atari-free classic-control
/// settings); the experiment files set MinAtar's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PpoConfig {
    /// Environment steps to train for (over all environments), rounded down to whole rollouts.
    pub total_steps: u64,
    /// Environments stepped together.
    pub num_envs: usize,
    /// Steps per environment in each rollout.
    pub num_steps: usize,
    /// Adam learning rate (at the start, when annealed).
    pub lr: f64,
    /// Anneal the learning rate linearly to 0 over the run.
    pub anneal_lr: bool,
    /// Adam epsilon.
    pub adam_eps: f64,
    /// Discount factor.
    pub gamma: f64,
    /// GAE λ.
    pub gae_lambda: f64,
    /// Minibatches per epoch (the rollout `num_envs·num_steps` must divide evenly).
    pub num_minibatches: usize,
    /// Passes over each rollout.
    pub update_epochs: usize,
    /// Normalise advantages per minibatch.
    pub norm_adv: bool,
    /// Surrogate clipping ε.
    pub clip_coef: f64,
    /// Clip the value loss around the old values too.
    pub clip_vloss: bool,
    /// Entropy bonus coefficient.
    pub ent_coef: f64,
    /// Value loss coefficient.
    pub vf_coef: f64,
    /// Clip gradients to this global L2 norm (PyTorch's `clip_grad_norm_`); 0 turns it off.
    pub max_grad_norm: f64,
    /// Evaluate the deterministic (argmax) policy every this many steps (0: only at the end).
    pub eval_every: u64,
    /// Episodes per evaluation.
    pub eval_episodes: usize,
    /// Evaluation episodes are cut at this many steps.
    pub eval_max_steps: u64,
    /// Checkpoint (after the rollout that crosses) every this many steps; 0: only at the end.
    pub checkpoint_every: u64,
    /// Checkpoints kept.
    pub keep_checkpoints: usize,
    /// Keep the network of the best evaluation as the run's output (`checkpoints/best.ember`,
    /// what `ember eval RUN_DIR` evaluates), as SB3's `EvalCallback` keeps `best_model`.
    pub keep_best: bool,
}

impl Default for PpoConfig {
    fn default() -> Self {
        PpoConfig {
            total_steps: 500_000,
            num_envs: 4,
            num_steps: 128,
            lr: 2.5e-4,
            anneal_lr: true,
            adam_eps: 1e-5,
            gamma: 0.99,
            gae_lambda: 0.95,
            num_minibatches: 4,
            update_epochs: 4,
            norm_adv: true,
            clip_coef: 0.2,
            clip_vloss: true,
            ent_coef: 0.01,
            vf_coef: 0.5,
            max_grad_norm: 0.5,
            eval_every: 100_000,
            eval_episodes: 10,
            eval_max_steps: 10_000,
            checkpoint_every: 100_000,
            keep_checkpoints: 2,
            keep_best: false,
        }
    }
}

impl PpoConfig {
    /// Checks every value; errors name the key (under `prefix`, e.g. `train.`).
    pub fn validate(&self, prefix: &str) -> Result<()> {
        let k = |s: &str| format!("{prefix}{s}");
        size_within(&k("num_envs"), self.num_envs as u64, MAX_ENVS)?;
        size_within(&k("num_steps"), self.num_steps as u64, MAX_ROLLOUT)?;
        at_least_one(&k("num_minibatches"), self.num_minibatches as u64)?;
        at_least_one(&k("update_epochs"), self.update_epochs as u64)?;
        at_least_one(&k("eval_episodes"), self.eval_episodes as u64)?;
        at_least_one(&k("eval_max_steps"), self.eval_max_steps)?;
        positive(&k("lr"), self.lr)?;
        positive(&k("adam_eps"), self.adam_eps)?;
        positive(&k("clip_coef"), self.clip_coef)?;
        within(&k("gamma"), self.gamma, 0.0, 1.0)?;
        within(&k("gae_lambda"), self.gae_lambda, 0.0, 1.0)?;
        within(&k("ent_coef"), self.ent_coef, 0.0, f64::MAX)?;
        within(&k("vf_coef"), self.vf_coef, 0.0, f64::MAX)?;
        within(&k("max_grad_norm"), self.max_grad_norm, 0.0, f64::MAX)?;
        let batch = self.num_envs * self.num_steps;
        if batch as u64 > MAX_ROLLOUT {
            return Err(config(format!(
                "the rollout {}·{} = {batch} steps is too large: at most {MAX_ROLLOUT}",
                k("num_envs"),
                k("num_steps")
            )));
        }
        if !batch.is_multiple_of(self.num_minibatches) {
            return Err(config(format!(
                "{} = {} must divide the rollout of {}·{} = {batch} steps",
                k("num_minibatches"),
                self.num_minibatches,
                k("num_envs"),
                k("num_steps")
            )));
        }
        if self.total_steps < batch as u64 {
            return Err(config(format!(
                "{} = {} is less than one rollout ({batch} steps)",
                k("total_steps"),
                self.total_steps
            )));
        }
        Ok(())
    }
}

/// The most steps one PPO rollout may hold (`num_envs·num_steps`): what its buffers allocate.
pub const MAX_ROLLOUT: u64 = 1 << 22;

/// What a PPO checkpoint records besides the network and the optimizer.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct State {
    #[serde(flatten)]
    run: Counters,
    update: u64,
    optimizer_steps: u64,
    envs: EnvsState,
}

impl TrainState for State {
    fn counters(&mut self) -> &mut Counters {
        &mut self.run
    }
    fn updates(&self) -> u64 {
        self.optimizer_steps
    }
}

const TAG_ACT: u64 = 11;
const TAG_SHUFFLE: u64 = 12;
const TAG_EVAL: u64 = 13;

/// Trains a PPO agent on environments from `make_env` (indices `0..num_envs` for training,
/// `num_envs` for evaluation); every random choice derives from `seed`.
pub fn train<E: Env>(
    cfg: &PpoConfig,
    net: &NetConfig,
    seed: u64,
    make_env: &mut dyn FnMut(usize) -> Result<E>,
    device: DeviceChoice,
    io: RunIo<'_>,
) -> Result<TrainSummary> {
    cfg.validate("")?;

    // ---- Environments --------------------------------------------------------------------
    let (n, t_len) = (cfg.num_envs, cfg.num_steps);
    let mut envs = Envs::new(n, seed, &mut *make_env)?;
    let mut eval_env = make_env(n)?;
    let (shape, num_actions) = spaces(envs.first())?;
    let l = envs.obs_len();
    let batch = n * t_len;
    let minibatch = batch / cfg.num_minibatches;
    let num_updates = cfg.total_steps / batch as u64;

    // ---- Network, optimizer ----------------------------------------------------------------
    let dev = device.autodiff_device()?;
    let infer = device.device()?;
    dev.seed(seed);
    let acfg = ActorCriticConfig::new(net.encoder(&shape)?, num_actions)
        .with_hidden(net.hidden)
        .with_separate_critic(net.separate_critic.then_some(true));
    let model = acfg.init(&dev)?;
    let optim = adam(cfg.adam_eps);
    let mut state = State {
        run: Counters::default(),
        update: 0,
        optimizer_steps: 0,
        envs: envs.state(),
    };
    let schedule = Schedule {
        eval_every: cfg.eval_every,
        checkpoint_every: cfg.checkpoint_every,
        end: num_updates * batch as u64,
        keep_best: cfg.keep_best,
    };
    let mut trainer = Trainer::new(KIND, acfg.clone(), io, schedule);

    // ---- Resume ---------------------------------------------------------------------------
    let (mut model, mut optim, resumed) = trainer.resume(model, optim)?;
    if let Some((step, saved)) = resumed {
        state = saved;
        envs.restore(&state.envs)?;
        trainer.log.line(&format!(
            "resuming from step {step} (update {})",
            state.update
        ));
    }
    // A checkpoint with the environments' state.
    let save = |trainer: &mut Trainer<'_, ActorCriticConfig>,
                model: &ember_nets::ActorCritic,
                optim: &ModuleOptimizer,
                state: &mut State,
                envs: &Envs<E>|
     -> Result<()> {
        state.envs = envs.state();
        trainer.save(model, optim, state)
    };
    let deterministic_eval =
        |model: &ember_nets::ActorCritic, env: &mut E, index: u64| -> Result<EvalResult> {
            let online = model.valid();
            evaluate(
                env,
                cfg.eval_episodes,
                stream(seed, TAG_EVAL, index).next_u64(),
                cfg.eval_max_steps,
                &mut |env: &dyn Env| {
                    let (logits, _) = online.forward(matrix(env.obs().to_vec(), 1, l, &infer));
                    Ok(masked_argmax(&read(logits)?, env.action_mask()))
                },
            )
        };

    // ---- Rollout storage ---------------------------------------------------------------------
    let mut obs_buf = vec![0f32; batch * l]; // [T, N, L]
    let mut act_buf = vec![0i64; batch]; // [T, N]
    let mut logp_buf = vec![0f32; batch];
    let mut rew_buf = vec![0f32; batch];
    let mut done_buf = vec![false; batch];
    let mut val_buf = vec![0f32; batch];
    // Environments with action masks: the illegal actions' logits, [T, N, A], added to the policy's
    // logits when acting and again when re-evaluating the rollout, so π never picks them.
    let masked = envs.first().action_mask().is_some();
    let mut mask_buf = vec![0f32; if masked { batch * num_actions } else { 0 }];
    let mut tr = Transition::default();
    let mut actions = vec![0usize; n];
    let gamma = cfg.gamma as f32;
    trainer.begin(&state.run);
    let mut prev = state.run.step;

    // ---- Loop: rollout, advantages, epochs of minibatch updates --------------------------
    loop {
        let eval = |step| deterministic_eval(&model, &mut eval_env, step);
        let ckpt = |t: &mut Trainer<'_, _>, s: &mut State| save(t, &model, &optim, s, &envs);
        if let Some(summary) = trainer.between(prev, &model, &mut state, eval, ckpt)? {
            return Ok(summary);
        }
        let lr = if cfg.anneal_lr {
            cfg.lr * (1.0 - state.update as f64 / num_updates as f64)
        } else {
            cfg.lr
        };
        let mut rng = stream(seed, TAG_ACT, state.update);
        let online = model.valid();
        prev = state.run.step;

        // Rollout: sample from the policy in every environment for num_steps steps.
        for t in 0..t_len {
            let o = envs.obs();
            obs_buf[t * n * l..(t + 1) * n * l].copy_from_slice(o);
            let (logits, values) = online.forward(matrix(o.to_vec(), n, l, &infer));
            let logits = if masked {
                let rows = &mut mask_buf[t * n * num_actions..(t + 1) * n * num_actions];
                for (i, row) in rows.chunks_mut(num_actions).enumerate() {
                    mask_logits(envs.mask(i), row);
                }
                logits + matrix(rows.to_vec(), n, num_actions, &infer)
            } else {
                logits
            };
            let logp = read(log_softmax(logits, 1))?; // [N·A]
            let values = read(values)?; // [N]
            for i in 0..n {
                let row = &logp[i * num_actions..(i + 1) * num_actions];
                let a = sample_logp(row, rng.uniform() as f32);
                actions[i] = a;
                act_buf[t * n + i] = a as i64;
                logp_buf[t * n + i] = row[a];
                val_buf[t * n + i] = values[i];
            }
            envs.step(&actions, &mut tr)?;
            // Time limits: bootstrap from the value of the final observation.
            let cut: Vec<usize> = (0..n)
                .filter(|&i| tr.truncated[i] && !tr.terminated[i])
                .collect();
            let mut bootstrap = vec![0f32; n];
            if !cut.is_empty() {
                let finals: Vec<f32> = cut
                    .iter()
                    .flat_map(|&i| tr.final_obs[i * l..(i + 1) * l].iter().copied())
                    .collect();
                let (_, v) = online.forward(matrix(finals, cut.len(), l, &infer));
                for (k, v) in cut.iter().zip(read(v)?) {
                    bootstrap[*k] = v;
                }
            }
            for i in 0..n {
                rew_buf[t * n + i] = tr.rewards[i] + gamma * bootstrap[i];
                done_buf[t * n + i] = tr.terminated[i] || tr.truncated[i];
            }
            state.run.step += n as u64;
            trainer.episodes(&mut state.run, &tr.finished)?;
        }

        // GAE(λ) advantages and returns.
        let (_, next_values) = online.forward(matrix(envs.obs().to_vec(), n, l, &infer));
        let next_values = read(next_values)?;
        let lambda = cfg.gae_lambda as f32;
        let mut adv = vec![0f32; batch];
        let mut last = vec![0f32; n];
        for t in (0..t_len).rev() {
            for i in 0..n {
                let k = t * n + i;
                let next_nonterminal = if done_buf[k] { 0.0 } else { 1.0 };
                let next_v = if t + 1 == t_len {
                    next_values[i]
                } else {
                    val_buf[k + n]
                };
                let delta = rew_buf[k] + gamma * next_v * next_nonterminal - val_buf[k];
                last[i] = delta + gamma * lambda * next_nonterminal * last[i];
                adv[k] = last[i];
            }
        }
        let returns: Vec<f32> = adv.iter().zip(&val_buf).map(|(a, v)| a + v).collect();

        // Optimise the clipped surrogate over minibatches × epochs.
        let mut order: Vec<usize> = (0..batch).collect();
        let (mut pg_sum, mut v_sum, mut ent_sum, mut kl_sum, mut clip_sum, mut count) =
            (0f64, 0f64, 0f64, 0f64, 0f64, 0f64);
        let mut norm_sum = 0f64;
        for epoch in 0..cfg.update_epochs {
            let mut shuffle = stream(seed, TAG_SHUFFLE, state.update * 1000 + epoch as u64);
            for i in (1..batch).rev() {
                order.swap(i, shuffle.below(i + 1));
            }
            for mb in order.chunks(minibatch) {
                let m = mb.len();
                let mb_obs: Vec<f32> = mb
                    .iter()
                    .flat_map(|&k| obs_buf[k * l..(k + 1) * l].iter().copied())
                    .collect();
                let mb_act: Vec<i64> = mb.iter().map(|&k| act_buf[k]).collect();
                let mb_oldlogp: Vec<f32> = mb.iter().map(|&k| logp_buf[k]).collect();
                let mut mb_adv: Vec<f32> = mb.iter().map(|&k| adv[k]).collect();
                let mb_ret: Vec<f32> = mb.iter().map(|&k| returns[k]).collect();
                let mb_oldv: Vec<f32> = mb.iter().map(|&k| val_buf[k]).collect();
                if cfg.norm_adv && m > 1 {
                    let mean = mb_adv.iter().sum::<f32>() / m as f32;
                    let var =
                        mb_adv.iter().map(|a| (a - mean).powi(2)).sum::<f32>() / (m - 1) as f32;
                    let std = var.sqrt();
                    for a in &mut mb_adv {
                        *a = (*a - mean) / (std + 1e-8);
                    }
                }
                let (logits, newv) = model.forward(matrix(mb_obs, m, l, &dev)); // [M, A], [M]
                let logits = if masked {
                    let mb_mask: Vec<f32> = mb
                        .iter()
                        .flat_map(|&k| mask_buf[k * num_actions..(k + 1) * num_actions].iter())
                        .copied()
                        .collect();
                    logits + matrix(mb_mask, m, num_actions, &dev)
                } else {
                    logits
                };
                let logp_all = log_softmax(logits.clone(), 1); // [M, A]
                let newlogp = logp_all
                    .clone()
                    .gather(1, indices(mb_act, &dev).reshape([m, 1]))
                    .flatten::<1>(0, 1); // [M]
                let entropy = -(softmax(logits, 1) * logp_all).sum_dim(1).mean(); // [1]
                let logratio = newlogp - vector(mb_oldlogp, &dev); // [M]
                let ratio = logratio.clone().exp(); // [M]
                let adv_t = vector(mb_adv, &dev);
                let c = cfg.clip_coef as f32;
                let pg1 = -adv_t.clone() * ratio.clone();
                let pg2 = -adv_t * ratio.clone().clamp(1.0 - c, 1.0 + c);
                let pg_loss = pg1.max_pair(pg2).mean(); // [1]
                let ret_t = vector(mb_ret, &dev);
                let v_loss = if cfg.clip_vloss {
                    let oldv = vector(mb_oldv, &dev);
                    let unclipped = (newv.clone() - ret_t.clone()).square();
                    let clipped = oldv.clone() + (newv - oldv).clamp(-c, c);
                    let clipped = (clipped - ret_t).square();
                    unclipped.max_pair(clipped).mean() * 0.5
                } else {
                    (newv - ret_t).square().mean() * 0.5
                };
                let loss = pg_loss.clone() - entropy.clone() * cfg.ent_coef as f32
                    + v_loss.clone() * cfg.vf_coef as f32;
                let loss_value = read(loss.clone().detach())?[0];
                check_finite(
                    "the PPO loss",
                    loss_value,
                    state.run.step,
                    trainer.last_checkpoint,
                )?;
                let grads = GradientsParams::from_grads(loss.backward(), &model);
                let (grads, norm) = clip_global_norm(&model, grads, cfg.max_grad_norm)?;
                model = optim.step(lr, model, grads);
                norm_sum += norm;
                state.optimizer_steps += 1;
                // Diagnostics (CleanRL's): approximate KL, fraction of clipped ratios.
                let r = read(ratio.detach())?;
                let lr_ = read(logratio.detach())?;
                kl_sum += r
                    .iter()
                    .zip(&lr_)
                    .map(|(r, lr)| ((r - 1.0) - lr) as f64)
                    .sum::<f64>()
                    / m as f64;
                clip_sum += r.iter().filter(|r| (*r - 1.0).abs() > c).count() as f64 / m as f64;
                pg_sum += read(pg_loss.detach())?[0] as f64;
                v_sum += read(v_loss.detach())?[0] as f64;
                ent_sum += read(entropy.detach())?[0] as f64;
                count += 1.0;
            }
        }
        state.update += 1;

        // Log, evaluate, checkpoint.
        let sps = trainer.steps_per_sec(state.run.step);
        trainer.scalars(
            state.run.step,
            &[
                ("charts/learning_rate", lr),
                ("charts/SPS", sps),
                ("losses/policy_loss", pg_sum / count),
                ("losses/value_loss", v_sum / count),
                ("losses/entropy", ent_sum / count),
                ("losses/approx_kl", kl_sum / count),
                ("losses/clipfrac", clip_sum / count),
                ("losses/grad_norm", norm_sum / count),
            ],
        )?;
        trainer.log.progress(
            state.run.step,
            &format!(
                "{sps:.0} SPS, return {:.2} (last 100)",
                state.run.recent.mean()
            ),
        );
    }
}
