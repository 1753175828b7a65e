//! Pieces DQN and PPO share: network configs, schedules, logging, evaluation, tensor helpers.

use ember_envs::rng::{Rng, child_seed};
use ember_envs::{Env, Space, fmt_number};
use ember_nets::burn::module::{Module, ModuleVisitor, Param};
use ember_nets::burn::optim::GradientsParams;
use ember_nets::burn::tensor::{Device, Int, Tensor, TensorData};
use ember_nets::checkpoint::CheckpointDir;
use ember_nets::{ConvTrunkConfig, EncoderConfig, MlpTrunkConfig};
use serde::{Deserialize, Serialize};

use crate::error::{AgentError, Result, config};

// ---------------------------------------------------------------------------------------------
// Logging and run I/O

/// Where a training loop reports: TensorBoard scalars, a progress line, lines that stay.
pub trait Logger {
    /// A scalar under `tag` (`charts/episodic_return`, `losses/td_loss`, ...) at env step `step`.
    fn scalar(&mut self, tag: &str, step: u64, value: f64) -> Result<()>;
    /// The current position and a short status (steps/s, recent return); called often.
    fn progress(&mut self, _step: u64, _status: &str) {}
    /// A line worth keeping (evaluations, resumes).
    fn line(&mut self, _text: &str) {}
    /// Called after each checkpoint: flush buffered output.
    fn flush(&mut self) -> Result<()> {
        Ok(())
    }
    /// A (re)start whose first logged step is `step` (see
    /// `ember_nets::checkpoint::resume_marker_step`): TensorBoard drops what earlier processes
    /// logged at `step` or later.
    fn session_start(&mut self, _step: u64) -> Result<()> {
        Ok(())
    }
}

/// A logger that drops everything (tests, benchmarks).
#[derive(Debug, Default)]
pub struct NoLog;

impl Logger for NoLog {
    fn scalar(&mut self, _tag: &str, _step: u64, _value: f64) -> Result<()> {
        Ok(())
    }
}

/// What a training loop writes to besides its return value.
pub struct RunIo<'a> {
    /// Scalars and progress.
    pub logger: &'a mut dyn Logger,
    /// Checkpoints (none: the run keeps nothing, e.g. in unit tests).
    pub checkpoints: Option<&'a CheckpointDir>,
    /// Continue from the newest checkpoint in `checkpoints`.
    pub resume: bool,
    /// Stop (after the checkpoint due at that point) once this many env steps are done, as if
    /// the process had been killed there; used to test resuming.
    pub stop_after: Option<u64>,
}

impl std::fmt::Debug for RunIo<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunIo")
            .field("checkpoints", &self.checkpoints)
            .field("resume", &self.resume)
            .field("stop_after", &self.stop_after)
            .finish()
    }
}

// ---------------------------------------------------------------------------------------------
// Networks

/// The network of an agent, chosen by observation shape: `[C, H, W]` observations go through the
/// shared conv trunk (`conv_width` channels, `conv_depth` blocks), vectors through an MLP
/// (`mlp` hidden sizes); then a hidden layer of `hidden` units and the heads. With `flatten`,
/// `[C, H, W]` observations are flattened into a vector and take the MLP too (the MinAtar
/// networks of gymnax-blines: two layers of 256 units on the flattened planes).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NetConfig {
    /// Channels of the conv blocks (MinAtar's DQN/PPO networks: one conv of 16 3x3 filters).
    pub conv_width: usize,
    /// Number of conv blocks.
    pub conv_depth: usize,
    /// Square kernel size of the convs (odd; "same" padding).
    pub kernel_size: usize,
    /// Residual blocks instead of plain ones.
    pub residual: bool,
    /// Batch norm after each conv (off by default: it interacts badly with bootstrapped targets).
    pub batch_norm: bool,
    /// Hidden sizes of the MLP encoder for vector observations.
    pub mlp: Vec<usize>,
    /// Flatten `[C, H, W]` observations and encode them with the MLP instead of the conv trunk.
    pub flatten: bool,
    /// Width of the hidden layer after the encoder.
    pub hidden: usize,
    /// PPO: the value head gets its own encoder and hidden layer (gymnax-blines' separate
    /// actor and critic) instead of sharing the policy's.
    pub separate_critic: bool,
}

impl Default for NetConfig {
    fn default() -> Self {
        NetConfig {
            conv_width: 16,
            conv_depth: 1,
            kernel_size: 3,
            residual: false,
            batch_norm: false,
            mlp: vec![64],
            flatten: false,
            hidden: 128,
            separate_critic: false,
        }
    }
}

impl NetConfig {
    /// Checks that the network can be built for observations of `shape`, before anything is
    /// created: the encoder's config and the hidden width. Errors name the `model.` key.
    pub fn check(&self, shape: &[usize]) -> Result<()> {
        let enc = self.encoder(shape)?;
        enc.validate()
            .map_err(|e| config(format!("[model]: {e}")))?;
        size_within("model.hidden", self.hidden as u64, 1 << 16)
    }

    /// The encoder for observations of `shape`.
    pub fn encoder(&self, shape: &[usize]) -> Result<EncoderConfig> {
        match *shape {
            [c, h, w] if self.flatten => Ok(EncoderConfig::Mlp(MlpTrunkConfig::new(
                c * h * w,
                self.mlp.clone(),
            ))),
            [c, h, w] => Ok(EncoderConfig::Conv(
                ConvTrunkConfig::new([c, h, w], self.conv_width, self.conv_depth)
                    .with_kernel_size(self.kernel_size)
                    .with_batch_norm(self.batch_norm)
                    .with_block(if self.residual {
                        ember_nets::BlockKind::Residual
                    } else {
                        ember_nets::BlockKind::Plain
                    }),
            )),
            [n] => Ok(EncoderConfig::Mlp(MlpTrunkConfig::new(n, self.mlp.clone()))),
            _ => Err(AgentError::Unsupported(format!(
                "observation shape {shape:?}: agents take [C,H,W] planes or [N] vectors"
            ))),
        }
    }
}

/// The observation shape and action count of an environment, refusing what agents cannot take.
pub fn spaces(env: &dyn Env) -> Result<(Vec<usize>, usize)> {
    let n = match env.action_space() {
        Space::Discrete { n } => *n,
        other => {
            return Err(AgentError::Unsupported(format!(
                "{}: action space {other:?} is not discrete",
                env.id()
            )));
        }
    };
    let shape = match env.observation_space() {
        Space::Box { shape, .. } => shape.clone(),
        other => {
            return Err(AgentError::Unsupported(format!(
                "{}: observation space {other:?} is not a box",
                env.id()
            )));
        }
    };
    Ok((shape, n))
}

// ---------------------------------------------------------------------------------------------
// Schedules

/// Adam with the given epsilon: `ember_nets`' fused Adam (burn's exact update in one pass per
/// parameter). Gradient clipping is [`clip_global_norm`], applied by the training loops before
/// each step (burn's own clipping works per parameter tensor).
pub fn adam(adam_eps: f64) -> ember_nets::burn::optim::ModuleOptimizer {
    ember_nets::train::FusedAdam::default()
        .with_epsilon(adam_eps as f32)
        .init()
}

/// Scales `grads` so that their global L2 norm over all of `model`'s parameters is at most
/// `max_norm` (PyTorch's `clip_grad_norm_`, optax's `clip_by_global_norm`, what CleanRL and SB3
/// use); `max_norm <= 0` leaves them alone. Returns the norm before clipping.
pub fn clip_global_norm<M: Module>(
    model: &M,
    grads: GradientsParams,
    max_norm: f64,
) -> Result<(GradientsParams, f64)> {
    struct SumSquares<'a> {
        grads: &'a GradientsParams,
        total: Option<Tensor<1>>,
    }
    impl ModuleVisitor for SumSquares<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if let Some(g) = self.grads.get::<D>(param.id) {
                let sq = ember_nets::sum_squares::sum_squares(g); // [1], as g.square().sum()
                self.total = Some(match self.total.take() {
                    Some(t) => t + sq,
                    None => sq,
                });
            }
        }
    }
    struct Scale {
        grads: GradientsParams,
        factor: f32,
    }
    impl ModuleVisitor for Scale {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if let Some(g) = self.grads.remove::<D>(param.id) {
                self.grads.register(param.id, g * self.factor);
            }
        }
    }
    let mut sum = SumSquares {
        grads: &grads,
        total: None,
    };
    model.visit(&mut sum);
    let norm = match sum.total {
        Some(t) => f64::from(read(t)?[0]).sqrt(),
        None => 0.0,
    };
    if max_norm <= 0.0 || norm <= max_norm || !norm.is_finite() {
        return Ok((grads, norm));
    }
    let mut scale = Scale {
        grads,
        factor: (max_norm / (norm + 1e-6)) as f32,
    };
    model.visit(&mut scale);
    Ok((scale.grads, norm))
}

/// Linear interpolation from `start` to `end` over `duration` steps, then `end` (CleanRL's
/// `linear_schedule`).
pub fn linear(start: f64, end: f64, duration: u64, step: u64) -> f64 {
    if step >= duration {
        return end;
    }
    let t = step as f64 / duration as f64;
    start + (end - start) * t
}

/// How many multiples of `period` lie in `(from, to]`: the number of times something due every
/// `period` steps falls due when the step counter moves from `from` to `to`.
pub fn due(from: u64, to: u64, period: u64) -> u64 {
    if period == 0 {
        return 0;
    }
    to / period - from / period
}

/// A random-number stream for one purpose (`tag`) at one point of the run (`index`): a resumed
/// run draws exactly what the uninterrupted one would have, with no generator state to save.
pub fn stream(seed: u64, tag: u64, index: u64) -> Rng {
    Rng::new(child_seed(child_seed(seed, tag), index))
}

// ---------------------------------------------------------------------------------------------
// Tensors

/// `[b, len]` floats on `device`.
pub fn matrix(data: Vec<f32>, b: usize, len: usize, device: &Device) -> Tensor<2> {
    Tensor::<2>::from_data(TensorData::new(data, [b, len]), device)
}

/// `[n]` floats on `device`.
pub fn vector(data: Vec<f32>, device: &Device) -> Tensor<1> {
    let n = data.len();
    Tensor::<1>::from_data(TensorData::new(data, [n]), device)
}

/// `[n]` integers on `device`.
pub fn indices(data: Vec<i64>, device: &Device) -> Tensor<1, Int> {
    let n = data.len();
    Tensor::<1, Int>::from_data(TensorData::new(data, [n]), device)
}

/// A tensor's values as `f32`.
pub fn read<const D: usize>(t: Tensor<D>) -> Result<Vec<f32>> {
    Ok(ember_nets::train::read::<f32>(t.into_data())?)
}

/// The index of the largest value (the first on ties); `None` for an empty slice.
pub fn argmax(xs: &[f32]) -> usize {
    let mut best = 0;
    for (i, &x) in xs.iter().enumerate() {
        if x > xs[best] {
            best = i;
        }
    }
    best
}

/// The action drawn from the log-probabilities `logp` with the uniform number `u` in [0, 1):
/// the first action whose cumulative probability exceeds `u` (if rounding leaves the sum short of
/// `u`, the last action that is not masked out).
pub fn sample_logp(logp: &[f32], u: f32) -> usize {
    let mut acc = 0f32;
    for (j, lp) in logp.iter().enumerate() {
        acc += lp.exp();
        if u < acc {
            return j;
        }
    }
    logp.iter()
        .rposition(|&lp| lp > MASKED_LOGIT / 2.0)
        .unwrap_or(logp.len().saturating_sub(1))
}

// ---------------------------------------------------------------------------------------------
// Action masks (`Env::action_mask`): every choice of an action honours them.

/// What is added to the logit of an illegal action: after a softmax its probability is exactly 0,
/// and its log-probability stays finite (so the entropy `Σ p·log p` has no NaN).
pub const MASKED_LOGIT: f32 = -1e9;

/// The legal action with the largest value (the first on ties); [`argmax`] without a mask.
pub fn masked_argmax(xs: &[f32], mask: Option<&[bool]>) -> usize {
    let Some(mask) = mask else {
        return argmax(xs);
    };
    let mut best: Option<usize> = None;
    for (i, &x) in xs.iter().enumerate() {
        if mask.get(i).copied().unwrap_or(false) && best.is_none_or(|b| x > xs[b]) {
            best = Some(i);
        }
    }
    best.unwrap_or_else(|| argmax(xs))
}

/// A uniformly random legal action among `n` (any of the `n` without a mask).
pub fn random_legal(rng: &mut Rng, n: usize, mask: Option<&[bool]>) -> usize {
    match mask {
        Some(mask) => {
            let legal = mask.iter().filter(|&&b| b).count();
            let k = rng.below(legal.max(1));
            mask.iter()
                .enumerate()
                .filter(|(_, b)| **b)
                .nth(k)
                .map_or(0, |(i, _)| i)
        }
        None => rng.below(n),
    }
}

/// Writes `mask` into `out` as additive logits: 0 for a legal action, [`MASKED_LOGIT`] for an
/// illegal one (no mask: all 0).
pub fn mask_logits(mask: Option<&[bool]>, out: &mut [f32]) {
    for (i, o) in out.iter_mut().enumerate() {
        let legal = mask.is_none_or(|m| m.get(i).copied().unwrap_or(false));
        *o = if legal { 0.0 } else { MASKED_LOGIT };
    }
}

/// Refuses a NaN or infinite loss (see [`AgentError::NonFinite`]).
pub fn check_finite(what: &str, value: f32, step: u64, last_checkpoint: Option<u64>) -> Result<()> {
    if value.is_finite() {
        Ok(())
    } else {
        Err(AgentError::NonFinite {
            what: what.to_string(),
            value,
            step,
            last_checkpoint,
        })
    }
}

/// A stable fingerprint of a model's weights: CRC-32C of every float parameter's values, in
/// module order (parameter ids, which burn draws at random, are left out). Equal weights, equal
/// fingerprint; `summary.json` carries it so that runs can be compared bit for bit.
pub fn fingerprint<M: ember_nets::burn::module::Module>(model: &M) -> Result<u32> {
    use ember_nets::burn::module::{ModuleVisitor, Param};
    struct Crc {
        crc: u32,
        err: Option<String>,
    }
    impl ModuleVisitor for Crc {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            match ember_nets::train::read::<f32>(param.val().into_data()) {
                Ok(v) => {
                    for x in v {
                        self.crc = ember_nets::crc::crc32c_update(self.crc, &x.to_le_bytes());
                    }
                }
                Err(e) => self.err = Some(e.to_string()),
            }
        }
    }
    let mut c = Crc { crc: 0, err: None };
    model.visit(&mut c);
    match c.err {
        Some(e) => Err(AgentError::Log(format!("reading weights: {e}"))),
        None => Ok(c.crc),
    }
}

// ---------------------------------------------------------------------------------------------
// Evaluation

/// Mean and spread of returns and lengths over evaluation episodes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EvalResult {
    /// Episodes played.
    pub episodes: usize,
    /// Mean undiscounted return.
    pub mean_return: f64,
    /// Sample standard deviation of the return.
    pub std_return: f64,
    /// Mean episode length.
    pub mean_length: f64,
    /// Sample standard deviation of the length.
    #[serde(default)]
    pub std_length: f64,
    /// Episodes that ended truncated (by the env's time limit or by the step cap), not terminated.
    #[serde(default)]
    pub truncated: usize,
}

/// Ember's one evaluation rule, used by the in-training `eval/mean_return`, `ember eval ENV` and
/// `ember eval RUN_DIR` alike: plays `episodes` episodes of `env`, episode `i` starting from
/// `env.reset(Some(child_seed(seed, i)))`, each action chosen by `act` (which sees the env: its
/// observation and action mask), each episode cut as truncated after `max_steps` steps (0: no cap;
/// the env's own time limit still applies).
pub fn evaluate<E: From<ember_envs::EnvError>>(
    env: &mut dyn Env,
    episodes: usize,
    seed: u64,
    max_steps: u64,
    act: &mut dyn FnMut(&dyn Env) -> Result<usize, E>,
) -> Result<EvalResult, E> {
    let mut rets = Vec::with_capacity(episodes);
    let mut lens = Vec::with_capacity(episodes);
    let mut truncated = 0;
    for i in 0..episodes {
        env.reset(Some(child_seed(seed, i as u64)));
        let (mut ret, mut len) = (0f64, 0u64);
        loop {
            let a = act(&*env)?;
            let s = env.step(a)?;
            ret += s.reward as f64;
            len += 1;
            if s.terminated {
                break;
            }
            if s.truncated || (max_steps > 0 && len >= max_steps) {
                truncated += 1;
                break;
            }
        }
        rets.push(ret);
        lens.push(len as f64);
    }
    let (mean_return, std_return) = mean_std(&rets);
    let (mean_length, std_length) = mean_std(&lens);
    Ok(EvalResult {
        episodes,
        mean_return,
        std_return,
        mean_length,
        std_length,
        truncated,
    })
}

/// Mean and sample standard deviation (0 for one value, NaN for none).
pub fn mean_std(xs: &[f64]) -> (f64, f64) {
    if xs.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let n = xs.len() as f64;
    let m = xs.iter().sum::<f64>() / n;
    let v = if xs.len() > 1 {
        xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    (m, v.sqrt())
}

/// Checks `value > 0` (finite) for a config key.
pub(crate) fn positive(key: &str, value: f64) -> Result<()> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(config(format!(
            "{key} must be positive, got {}",
            fmt_number(value)
        )))
    }
}

/// Checks `lo <= value <= hi` for a config key (`hi` = `f64::MAX`: no upper bound).
pub(crate) fn within(key: &str, value: f64, lo: f64, hi: f64) -> Result<()> {
    if value.is_finite() && (lo..=hi).contains(&value) {
        Ok(())
    } else if hi == f64::MAX {
        Err(config(format!(
            "{key} must be a finite number of at least {}, got {}",
            fmt_number(lo),
            fmt_number(value)
        )))
    } else {
        Err(config(format!(
            "{key} must be in [{}, {}], got {}",
            fmt_number(lo),
            fmt_number(hi),
            fmt_number(value)
        )))
    }
}

/// Checks `1 <= value <= max` for a size, so that what it allocates is refused with a message
/// naming the key before anything is allocated.
pub(crate) fn size_within(key: &str, value: u64, max: u64) -> Result<()> {
    at_least_one(key, value)?;
    if value > max {
        return Err(config(format!(
            "{key} = {value} is too large: at most {max}"
        )));
    }
    Ok(())
}

/// The most environments a DQN or PPO run steps at once (`train.num_envs`).
pub const MAX_ENVS: u64 = 4096;

/// Checks `value >= 1` for a count.
pub(crate) fn at_least_one(key: &str, value: u64) -> Result<()> {
    if value >= 1 {
        Ok(())
    } else {
        Err(config(format!("{key} must be at least 1")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gradients_are_clipped_to_a_global_norm() {
        use ember_nets::burn::nn::LinearConfig;
        let dev = ember_nets::DeviceChoice::Cpu.autodiff_device().unwrap();
        let layer = LinearConfig::new(3, 2).init(&dev);
        let x = Tensor::<2>::ones([4, 3], &dev) * 10.0;
        let norm_of = |g: &GradientsParams| {
            let w = g.get::<2>(layer.weight.id).unwrap().square().sum();
            let b = g
                .get::<1>(layer.bias.as_ref().unwrap().id)
                .unwrap()
                .square()
                .sum();
            f64::from(read(w + b).unwrap()[0]).sqrt()
        };
        let grads =
            || GradientsParams::from_grads(layer.forward(x.clone()).sum().backward(), &layer);
        let raw = norm_of(&grads());
        assert!(raw > 10.0, "{raw}");
        let (clipped, before) = clip_global_norm(&layer, grads(), 1.0).unwrap();
        assert!((before - raw).abs() < 1e-3 * raw, "{before} vs {raw}");
        assert!(
            (norm_of(&clipped) - 1.0).abs() < 1e-4,
            "{}",
            norm_of(&clipped)
        );
        let (same, _) = clip_global_norm(&layer, grads(), 1e9).unwrap();
        assert!((norm_of(&same) - raw).abs() < 1e-6 * raw);
        let (off, _) = clip_global_norm(&layer, grads(), 0.0).unwrap();
        assert!((norm_of(&off) - raw).abs() < 1e-6 * raw);
    }

    #[test]
    fn encoders_follow_the_observation_shape_and_flatten() {
        let net = NetConfig::default();
        assert!(matches!(
            net.encoder(&[4, 10, 10]),
            Ok(EncoderConfig::Conv(_))
        ));
        assert!(matches!(net.encoder(&[4]), Ok(EncoderConfig::Mlp(m)) if m.input == 4));
        let flat = NetConfig {
            flatten: true,
            mlp: vec![256],
            ..NetConfig::default()
        };
        match flat.encoder(&[7, 10, 10]) {
            Ok(EncoderConfig::Mlp(m)) => assert_eq!((m.input, m.hidden), (700, vec![256])),
            other => panic!("expected an MLP on 700 inputs, got {other:?}"),
        }
        assert!(net.encoder(&[2, 3]).is_err());
    }

    #[test]
    fn due_counts_period_crossings() {
        assert_eq!(due(0, 1, 1), 1);
        assert_eq!(due(0, 3, 4), 0);
        assert_eq!(due(3, 4, 4), 1);
        assert_eq!(due(3, 12, 4), 3); // 4, 8 and 12
        assert_eq!(due(0, 5, 0), 0);
    }

    #[test]
    fn linear_schedule_ends_and_stays() {
        assert_eq!(linear(1.0, 0.1, 10, 0), 1.0);
        assert!((linear(1.0, 0.1, 10, 5) - 0.55).abs() < 1e-12);
        assert_eq!(linear(1.0, 0.1, 10, 100), 0.1);
    }
}

// ---------------------------------------------------------------------------------------------
// Summaries

/// What a training run reports at its end (`summary.json` holds these and more).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainSummary {
    /// Algorithm ("dqn" or "ppo").
    pub algorithm: String,
    /// Environment steps done (over all environments).
    pub steps: u64,
    /// Gradient updates done.
    pub updates: u64,
    /// Training episodes finished.
    pub episodes: u64,
    /// Whether the run reached `total_steps` (false when stopped early by `stop_after`).
    pub completed: bool,
    /// Final evaluation of the greedy / deterministic policy.
    pub eval: Option<EvalResult>,
    /// With `keep_best`: the best evaluation and its step (the network in `checkpoints/best.ember`).
    pub best_eval: Option<crate::trainer::BestEval>,
    /// Mean return of the last (up to) 100 training episodes.
    pub recent_mean_return: f64,
    /// Seconds over every process of the run.
    pub wall_seconds: f64,
    /// Environment steps per second in this process.
    pub steps_per_sec: f64,
    /// Trainable parameters.
    pub parameters: usize,
    /// CRC-32C of the final weights (equal runs, equal fingerprint).
    pub weights_fingerprint: u32,
}

/// The last returns of training episodes, for the progress line and the summary.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Recent {
    returns: VecDeque<f64>,
}

impl Recent {
    /// Records a finished episode's return (keeps the last 100).
    pub fn push(&mut self, r: f64) {
        if self.returns.len() == 100 {
            self.returns.pop_front();
        }
        self.returns.push_back(r);
    }

    /// Mean of the kept returns (NaN when none).
    pub fn mean(&self) -> f64 {
        let v: Vec<f64> = self.returns.iter().copied().collect();
        mean_std(&v).0
    }
}

use std::collections::VecDeque;
