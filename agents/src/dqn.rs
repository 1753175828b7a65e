//! DQN (Mnih et al. 2015) with the usual improvements as options: Double DQN (van Hasselt et al.
//! 2016), a dueling head (Wang et al. 2016), n-step returns, a Huber loss and gradient clipping.
//! Reads top to bottom like CleanRL's `dqn.py`: config, network, loop.

use std::time::Instant;

use ember_envs::Env;
use ember_nets::burn::module::Module;
use ember_nets::burn::nn::loss::{HuberLossConfig, Reduction};
use ember_nets::burn::optim::{GradientsParams, ModuleOptimizer};
use ember_nets::{Checkpoint, DeviceChoice, QNetConfig};
use serde::{Deserialize, Serialize};

use crate::common::{
    EvalResult, NetConfig, Recent, RunIo, TrainSummary, adam, argmax, at_least_one, check_finite,
    clip_global_norm, due, evaluate, fingerprint, indices, linear, matrix, positive, read,
    resume_point, spaces, stream, vector, within,
};
use crate::envs::{Envs, EnvsState, Transition};
use crate::error::{AgentError, Result, config};
use crate::replay::{Batch, NStep, ObsCodec, Replay};

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
    /// Adam learning rate.
    pub lr: f64,
    /// Adam epsilon.
    pub adam_eps: f64,
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
            adam_eps: 1e-8,
            gamma: 0.99,
            target_update_period: 1000,
            learning_starts: 5000,
            train_frequency: 1,
            gradient_steps: 1,
            start_epsilon: 1.0,
            end_epsilon: 0.1,
            exploration_steps: 100_000,
            double_dqn: true,
            dueling: false,
            n_step: 1,
            huber_delta: 1.0,
            max_grad_norm: 10.0,
            eval_every: 100_000,
            eval_episodes: 10,
            eval_epsilon: 0.0,
            eval_max_steps: 10_000,
            checkpoint_every: 100_000,
            keep_checkpoints: 2,
            save_replay: true,
            log_every: 1000,
        }
    }
}

impl DqnConfig {
    /// Checks every value; errors name the key (under `prefix`, e.g. `train.`).
    pub fn validate(&self, prefix: &str) -> Result<()> {
        let k = |s: &str| format!("{prefix}{s}");
        at_least_one(&k("total_steps"), self.total_steps)?;
        at_least_one(&k("num_envs"), self.num_envs as u64)?;
        at_least_one(&k("buffer_size"), self.buffer_size as u64)?;
        at_least_one(&k("batch_size"), self.batch_size as u64)?;
        at_least_one(&k("target_update_period"), self.target_update_period)?;
        at_least_one(&k("train_frequency"), self.train_frequency)?;
        at_least_one(&k("gradient_steps"), self.gradient_steps)?;
        at_least_one(&k("n_step"), self.n_step as u64)?;
        at_least_one(&k("eval_episodes"), self.eval_episodes as u64)?;
        at_least_one(&k("eval_max_steps"), self.eval_max_steps)?;
        at_least_one(&k("log_every"), self.log_every)?;
        positive(&k("lr"), self.lr)?;
        positive(&k("adam_eps"), self.adam_eps)?;
        positive(&k("huber_delta"), self.huber_delta)?;
        within(&k("gamma"), self.gamma, 0.0, 1.0)?;
        within(&k("start_epsilon"), self.start_epsilon, 0.0, 1.0)?;
        within(&k("end_epsilon"), self.end_epsilon, 0.0, 1.0)?;
        within(&k("eval_epsilon"), self.eval_epsilon, 0.0, 1.0)?;
        within(&k("max_grad_norm"), self.max_grad_norm, 0.0, f64::MAX)?;
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
    step: u64,
    iterations: u64,
    updates: u64,
    episodes: u64,
    envs: EnvsState,
    nstep: NStep,
    recent: Recent,
    last_eval: Option<EvalResult>,
    wall_seconds: f64,
    replay_saved: bool,
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
    let started = Instant::now();
    let log = io.logger;

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
    let mut model = qcfg.init(&dev)?;
    let mut optim = adam(cfg.adam_eps);
    let huber = HuberLossConfig::new(cfg.huber_delta as f32).init();
    let mut replay = Replay::new(cfg.buffer_size, l, codec);
    let mut state = State {
        step: 0,
        iterations: 0,
        updates: 0,
        episodes: 0,
        envs: envs.state(),
        nstep: NStep::new(cfg.n_step, cfg.gamma as f32, n),
        recent: Recent::default(),
        last_eval: None,
        wall_seconds: 0.0,
        replay_saved: false,
    };

    // ---- Resume ---------------------------------------------------------------------------
    let mut last_checkpoint = None;
    if let Some((step, ck)) = resume_point(io.resume, io.checkpoints, &mut *log)? {
        ck.check(KIND, &qcfg)?;
        model = ck.apply_model(model)?;
        optim = ck.apply_optimizer(optim)?;
        state = ck.state()?;
        envs.restore(&state.envs)?;
        if let (true, Some(dir)) = (state.replay_saved, io.checkpoints) {
            match Replay::load(&replay_path(dir.path(), step), cfg.buffer_size, l, codec) {
                Ok(r) => replay = r,
                Err(e) => log.line(&format!(
                    "warning: {e}; continuing with an empty replay buffer (the run will not \
                     repeat the uninterrupted one exactly)"
                )),
            }
        }
        last_checkpoint = Some(step);
        log.line(&format!(
            "resuming from step {step} ({} updates)",
            state.updates
        ));
        log.session_start(step)?;
    }
    let mut target = model.valid();
    let mut online = model.valid();
    let base_wall = state.wall_seconds;
    let session_start_step = state.step;

    let save = |model: &ember_nets::QNet,
                optim: &ModuleOptimizer,
                state: &mut State,
                replay: &Replay|
     -> Result<Option<u64>> {
        let Some(dir) = io.checkpoints else {
            return Ok(None);
        };
        state.wall_seconds = base_wall + started.elapsed().as_secs_f64();
        state.replay_saved = cfg.save_replay;
        if cfg.save_replay {
            std::fs::create_dir_all(dir.path()).map_err(|e| AgentError::Io {
                path: dir.path().into(),
                source: e,
            })?;
            replay.save(&replay_path(dir.path(), state.step))?;
        }
        let ck = Checkpoint::new(KIND, &qcfg, model, Some(optim), &*state)?;
        dir.save(state.step, &ck)?;
        // Drop the replay files of checkpoints that were pruned.
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
        Ok(Some(state.step))
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
                    return Ok(rng.below(num_actions));
                }
                Ok(argmax(&read(online.forward(matrix(
                    env.obs().to_vec(),
                    1,
                    l,
                    &infer,
                )))?))
            },
        )
    };

    // ---- Loop -----------------------------------------------------------------------------
    let mut tr = Transition::default();
    let mut batch = Batch::default();
    let mut actions = vec![0usize; n];
    let (mut loss_sum, mut q_sum, mut norm_sum, mut logged_updates) = (0f64, 0f64, 0f64, 0u64);
    let session = Instant::now();
    while state.step < cfg.total_steps {
        // Act: ε-greedy over the batch of environments.
        let mut rng = stream(seed, TAG_ACT, state.iterations);
        let eps = linear(
            cfg.start_epsilon,
            cfg.end_epsilon,
            cfg.exploration_steps,
            state.step,
        );
        let explore: Vec<bool> = (0..n).map(|_| rng.chance(eps)).collect();
        let q = if explore.iter().all(|&e| e) {
            Vec::new()
        } else {
            read(online.forward(matrix(envs.obs().to_vec(), n, l, &infer)))?
        };
        for i in 0..n {
            actions[i] = if explore[i] {
                rng.below(num_actions)
            } else {
                argmax(&q[i * num_actions..(i + 1) * num_actions])
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
                &mut |t| replay.push(&t),
            )?;
        }
        let prev = state.step;
        state.step += n as u64;
        state.iterations += 1;
        for &(_, ret, len) in &tr.finished {
            state.episodes += 1;
            state.recent.push(ret);
            log.scalar("charts/episodic_return", state.step, ret)?;
            log.scalar("charts/episodic_length", state.step, len as f64)?;
        }

        // Learn: TD(n) regression on sampled transitions.
        if state.step > cfg.learning_starts && !replay.is_empty() {
            for _ in 0..due(prev, state.step, cfg.train_frequency) * cfg.gradient_steps {
                let mut rng = stream(seed, TAG_SAMPLE, state.updates);
                replay.sample(cfg.batch_size, &mut rng, &mut batch);
                let b = cfg.batch_size;
                let next = matrix(batch.next_obs.clone(), b, l, &infer);
                let q_next_target = read(target.forward(next.clone()))?; // [B·A]
                let q_next_online = if cfg.double_dqn {
                    read(online.forward(next))? // [B·A]
                } else {
                    q_next_target.clone()
                };
                let targets: Vec<f32> = (0..b)
                    .map(|i| {
                        let row = i * num_actions..(i + 1) * num_actions;
                        let a = argmax(&q_next_online[row]);
                        batch.rewards[i] + batch.discounts[i] * q_next_target[i * num_actions + a]
                    })
                    .collect();
                let q_all = model.forward(matrix(batch.obs.clone(), b, l, &dev)); // [B, A]
                let q_a = q_all
                    .gather(1, indices(batch.actions.clone(), &dev).reshape([b, 1]))
                    .flatten::<1>(0, 1); // [B]
                let loss = huber.forward(q_a.clone(), vector(targets, &dev), Reduction::Mean);
                let loss_value = read(loss.clone().detach())?[0];
                check_finite("the TD loss", loss_value, state.step, last_checkpoint)?;
                let grads = GradientsParams::from_grads(loss.backward(), &model);
                let (grads, norm) = clip_global_norm(&model, grads, cfg.max_grad_norm)?;
                model = optim.step(cfg.lr, model, grads);
                norm_sum += norm;
                online = model.valid();
                state.updates += 1;
                loss_sum += loss_value as f64;
                q_sum += read(q_a.detach().mean())?[0] as f64;
                logged_updates += 1;
            }
        }
        if due(prev, state.step, cfg.target_update_period) > 0 {
            target = model.valid();
        }

        // Log, evaluate, checkpoint.
        if due(prev, state.step, cfg.log_every) > 0 {
            let sps = (state.step - session_start_step) as f64
                / session.elapsed().as_secs_f64().max(1e-9);
            if logged_updates > 0 {
                log.scalar(
                    "losses/td_loss",
                    state.step,
                    loss_sum / logged_updates as f64,
                )?;
                log.scalar("losses/q_values", state.step, q_sum / logged_updates as f64)?;
                log.scalar(
                    "losses/grad_norm",
                    state.step,
                    norm_sum / logged_updates as f64,
                )?;
            }
            log.scalar("charts/epsilon", state.step, eps)?;
            log.scalar("charts/SPS", state.step, sps)?;
            (loss_sum, q_sum, norm_sum, logged_updates) = (0.0, 0.0, 0.0, 0);
            log.progress(
                state.step,
                &format!(
                    "{sps:.0} SPS, return {:.2} (last 100), ε {eps:.3}",
                    state.recent.mean()
                ),
            );
        }
        if due(prev, state.step, cfg.eval_every) > 0 && state.step < cfg.total_steps {
            let ev = greedy_eval(&online, &mut eval_env, state.step)?;
            log.scalar("eval/mean_return", state.step, ev.mean_return)?;
            log.line(&format!(
                "step {}: eval return {:.2} ± {:.2} over {} episodes",
                state.step, ev.mean_return, ev.std_return, ev.episodes
            ));
            state.last_eval = Some(ev);
        }
        if due(prev, state.step, cfg.checkpoint_every) > 0 && state.step < cfg.total_steps {
            state.envs = envs.state();
            last_checkpoint = save(&model, &optim, &mut state, &replay)?.or(last_checkpoint);
            log.flush()?;
        }
        if io.stop_after.is_some_and(|s| state.step >= s) && state.step < cfg.total_steps {
            return summary(
                &model,
                &state,
                false,
                base_wall,
                started,
                session,
                session_start_step,
            );
        }
    }

    // ---- End: final evaluation, checkpoint, summary ------------------------------------
    let ev = greedy_eval(&online, &mut eval_env, state.step)?;
    log.scalar("eval/mean_return", state.step, ev.mean_return)?;
    state.last_eval = Some(ev);
    state.envs = envs.state();
    save(&model, &optim, &mut state, &replay)?;
    log.flush()?;
    summary(
        &model,
        &state,
        true,
        base_wall,
        started,
        session,
        session_start_step,
    )
}

fn summary(
    model: &ember_nets::QNet,
    state: &State,
    completed: bool,
    base_wall: f64,
    started: Instant,
    session: Instant,
    session_start_step: u64,
) -> Result<TrainSummary> {
    Ok(TrainSummary {
        algorithm: KIND.into(),
        steps: state.step,
        updates: state.updates,
        episodes: state.episodes,
        completed,
        eval: state.last_eval,
        recent_mean_return: state.recent.mean(),
        wall_seconds: base_wall + started.elapsed().as_secs_f64(),
        steps_per_sec: (state.step - session_start_step) as f64
            / session.elapsed().as_secs_f64().max(1e-9),
        parameters: model.num_params(),
        weights_fingerprint: fingerprint(model)?,
    })
}
