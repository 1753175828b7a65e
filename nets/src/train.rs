//! Training steps shared by the experiments and the speed benchmarks, and the learning-rate
//! schedule.

use burn::module::Module;
use burn::nn::loss::{CrossEntropyLoss, CrossEntropyLossConfig};
use burn::optim::{
    Adam, AdamConfig, AdamState, AdaptiveMomentumState, GradientsParams, LearningRate,
    ModuleOptimizer, Optimizer,
};
use burn::tensor::{DType, Device, Int, Tensor, TensorData};

use crate::data::ImageDataset;
use crate::error::{NetsError, Result};
use crate::heads::{Classifier, QNet};

/// Learning rate by step: linear warmup from 0 to `base` over `warmup` steps, then either
/// constant or a cosine decay to `base·final_fraction` at `total` steps. A pure function of the
/// step, so a resumed run needs no scheduler state.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LrSchedule {
    /// Peak learning rate.
    pub base: f64,
    /// Warmup steps.
    pub warmup: u64,
    /// Total steps (end of the cosine).
    pub total: u64,
    /// Cosine decay after warmup (else constant).
    pub cosine: bool,
    /// Where the cosine ends, as a fraction of `base`.
    pub final_fraction: f64,
}

impl LrSchedule {
    /// A constant rate.
    pub fn constant(base: f64) -> Self {
        LrSchedule {
            base,
            warmup: 0,
            total: 1,
            cosine: false,
            final_fraction: 1.0,
        }
    }

    /// The rate at `step` (0-based).
    pub fn at(&self, step: u64) -> f64 {
        if step < self.warmup {
            return self.base * (step + 1) as f64 / self.warmup as f64;
        }
        if !self.cosine {
            return self.base;
        }
        let span = self.total.saturating_sub(self.warmup).max(1) as f64;
        let t = ((step - self.warmup) as f64 / span).min(1.0);
        let lo = self.base * self.final_fraction;
        lo + (self.base - lo) * 0.5 * (1.0 + (std::f64::consts::PI * t).cos())
    }
}

/// Adam with burn's exact update ([`AdamConfig`]'s: `m ← β₁m + (1−β₁)g`, `v ← β₂v + (1−β₂)g²`,
/// `p ← p − lr·m·c / (√v + ε·√(1−β₂ᵗ))` with `c = √(1−β₂ᵗ)/(1−β₁ᵗ)`, the same f32 operations in
/// the same order) done in one pass over each f32 parameter, where burn's takes a dozen tensor
/// ops, each a full pass with a fresh allocation. Its state is burn's [`AdamState`], so optimizer
/// records load either way. Other dtypes, and tensors on other backends than `flex` (a GPU, where
/// the pass would read every parameter back to the host), go through burn's Adam. No weight
/// decay or AMSGrad; clip gradients with [`ModuleOptimizer::with_grad_clipping`].
#[derive(Clone, Debug)]
pub struct FusedAdam {
    beta_1: f32,
    beta_2: f32,
    epsilon: f32,
}

impl Default for FusedAdam {
    /// burn's [`AdamConfig`] defaults: β₁ 0.9, β₂ 0.999, ε 1e-5.
    fn default() -> Self {
        FusedAdam {
            beta_1: 0.9,
            beta_2: 0.999,
            epsilon: 1e-5,
        }
    }
}

impl FusedAdam {
    /// With ε `epsilon` (burn's default 1e-5; PyTorch's 1e-8).
    pub fn with_epsilon(self, epsilon: f32) -> Self {
        FusedAdam { epsilon, ..self }
    }

    /// The whole-module optimizer.
    pub fn init(self) -> ModuleOptimizer {
        ModuleOptimizer::from(self)
    }

    fn burn_adam(&self) -> Adam {
        AdamConfig::new()
            .with_beta_1(self.beta_1)
            .with_beta_2(self.beta_2)
            .with_epsilon(self.epsilon)
            .build()
    }
}

impl Optimizer for FusedAdam {
    type State<const D: usize> = AdamState<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<AdamState<D>>,
    ) -> (Tensor<D>, Option<AdamState<D>>) {
        let f32s = |t: &Tensor<D>| t.dtype() == DType::F32;
        let moments_f32 = state.as_ref().is_none_or(|s| {
            f32s(&s.momentum.moment_1)
                && f32s(&s.momentum.moment_2)
                && s.momentum.max_moment_2.is_none()
        });
        if !(crate::flex_util::is_flex(&tensor.device())
            && f32s(&tensor)
            && f32s(&grad)
            && moments_f32)
        {
            return self.burn_adam().step(lr, tensor, grad, state);
        }
        let device = tensor.device();
        let shape = tensor.shape();
        // Owned, contiguous tensors (the moments, usually the gradient) come out without a copy.
        let mut p = tensor.into_data();
        let g = grad.into_data();
        let zeros = || TensorData::new(vec![0f32; shape.num_elements()], shape.clone());
        let (time, mut m, mut v) = match state.map(|s| s.momentum) {
            Some(s) => (s.time + 1, s.moment_1.into_data(), s.moment_2.into_data()),
            None => (1, zeros(), zeros()),
        };
        let (b1, b2) = (self.beta_1, self.beta_2);
        let (f1, f2) = (1.0 - b1, 1.0 - b2);
        let bc2_sqrt = (1.0 - b2.powi(time as i32)).sqrt();
        let factor = bc2_sqrt / (1.0 - b1.powi(time as i32));
        let eps = self.epsilon * bc2_sqrt;
        let lr = lr as f32;
        {
            let p = p.as_mut_slice::<f32>().expect("f32 parameter");
            let g = g.as_slice::<f32>().expect("f32 gradient");
            let m = m.as_mut_slice::<f32>().expect("f32 moment");
            let v = v.as_mut_slice::<f32>().expect("f32 moment");
            let update = |p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32]| {
                crate::flex_util::vectorized(|| {
                    for (((p, &g), m), v) in p.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut())
                    {
                        // Zero moments on the first step give burn's (1−β)g and (1−β)g² exactly.
                        let m1 = flush_subnormal(*m * b1 + g * f1);
                        let v1 = flush_subnormal(*v * b2 + g * g * f2);
                        *m = m1;
                        *v = v1;
                        *p -= m1 * factor / (v1.sqrt() + eps) * lr;
                    }
                })
            };
            // Element by element: halves on two threads (crate::pair) give the same values.
            if p.len() >= SPLIT_ADAM {
                let h = p.len() / 2;
                let (pa, pb) = p.split_at_mut(h);
                let (ga, gb) = g.split_at(h);
                let (ma, mb) = m.split_at_mut(h);
                let (va, vb) = v.split_at_mut(h);
                crate::pair::join(|| update(pa, ga, ma, va), || update(pb, gb, mb, vb));
            } else {
                update(p, g, m, v);
            }
        }
        let moments = AdaptiveMomentumState::new(
            time,
            Tensor::from_data(m, &device),
            Tensor::from_data(v, &device),
        );
        (Tensor::from_data(p, &device), Some(AdamState::new(moments)))
    }

    fn to_device<const D: usize>(mut state: AdamState<D>, device: &Device) -> AdamState<D> {
        state.momentum = state.momentum.to_device(device);
        state
    }
}

/// Parameters from which [`FusedAdam`] splits its loop in two halves for [`crate::pair`] (the
/// DQN Q-net's `[1600, 128]` hidden weight; smaller tensors are not worth a hand-over).
const SPLIT_ADAM: usize = 1 << 15;

/// `x`, or 0 when it is subnormal (below `f32::MIN_POSITIVE` ≈ 1.2e-38 in magnitude).
///
/// A parameter whose gradient stays 0 (a weight behind a ReLU that never fires, an input plane
/// that is always 0) has its first moment multiplied by β₁ = 0.9 every step, and after several
/// hundred such steps it is subnormal; the CPU then takes a microcode assist on every multiply, square root
/// and divide that touches it, ~100 cycles each. In a DQN update of MinAtar's Q-net that made
/// the Adam step ≈ 38% of the time. Flushing the stored moments to 0 keeps them on the fast path;
/// a flushed first moment changes the parameter's step by less than 1e-30 (a flushed second
/// moment moves `√v + ε` by less than half an ulp), so parameters come out bit for bit the same
/// unless one is itself within ~1e-23 of 0.
#[inline(always)]
fn flush_subnormal(x: f32) -> f32 {
    if x.abs() < f32::MIN_POSITIVE { 0.0 } else { x }
}

/// Cross-entropy (optionally label-smoothed) for classifier training.
pub fn classification_loss(smoothing: f32, device: &Device) -> CrossEntropyLoss {
    let cfg = CrossEntropyLossConfig::new();
    let cfg = if smoothing > 0.0 {
        cfg.with_smoothing(Some(smoothing))
    } else {
        cfg
    };
    cfg.init(device)
}

/// One optimizer step of a classifier on a batch; returns the updated model and the batch loss
/// as a tensor (read it only when logging, reading forces a device sync).
pub fn classifier_step(
    model: Classifier,
    optim: &mut ModuleOptimizer,
    loss_fn: &CrossEntropyLoss,
    lr: f64,
    images: Tensor<4>,
    labels: Tensor<1, Int>,
) -> (Classifier, Tensor<1>) {
    let logits = model.forward(images); // [B, K]
    let loss = loss_fn.forward(logits, labels); // [1]
    let grads = GradientsParams::from_grads(loss.backward(), &model);
    let model = optim.step(lr, model, grads);
    (model, loss.detach())
}

/// One TD-regression step of a Q-network: `mean((Q(s)[a] − target)²)`. This is the shape of a
/// DQN update (the target computed elsewhere); the speed benchmark times it.
pub fn q_step(
    model: QNet,
    optim: &mut ModuleOptimizer,
    lr: f64,
    obs: Tensor<2>,
    actions: Tensor<1, Int>,
    targets: Tensor<1>,
) -> (QNet, Tensor<1>) {
    let [b] = actions.dims();
    let q = model.forward(obs); // [B, A]
    let q_a = q.gather(1, actions.reshape([b, 1])).flatten(0, 1); // [B, 1] → [B]
    let loss = (q_a - targets).square().mean(); // [1]
    let grads = GradientsParams::from_grads(loss.backward(), &model);
    let model = optim.step(lr, model, grads);
    (model, loss.detach())
}

/// Accuracy, mean loss and confusion matrix of a classifier on a dataset.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Evaluation {
    /// Fraction correct.
    pub accuracy: f64,
    /// Mean cross-entropy (no smoothing).
    pub loss: f64,
    /// `confusion[true][predicted]` counts.
    pub confusion: Vec<Vec<u64>>,
    /// Number of examples.
    pub examples: usize,
}

/// Evaluates `model` (pass `model.valid()`: no autodiff, batch norm in inference mode) on every
/// example of `data`, in batches of `batch_size`, normalized with `mean`/`std`.
pub fn evaluate(
    model: &Classifier,
    data: &ImageDataset,
    mean: f32,
    std: f32,
    batch_size: usize,
    device: &Device,
) -> Result<Evaluation> {
    let k = data.num_classes;
    let mut confusion = vec![vec![0u64; k]; k];
    let loss_fn = classification_loss(0.0, device);
    let mut loss_sum = 0f64;
    let order: Vec<u32> = (0..data.len() as u32).collect();
    for chunk in order.chunks(batch_size.max(1)) {
        let (images, labels) = data.batch(chunk, mean, std, None, device);
        let logits = model.forward(images); // [B, K]
        let loss = loss_fn.forward(logits.clone(), labels); // [1]
        let pred = logits.argmax(1).flatten::<1>(0, 1); // [B]
        let pred: Vec<i64> = read(pred.into_data())?;
        let l: Vec<f32> = read(loss.into_data())?;
        loss_sum += l[0] as f64 * chunk.len() as f64;
        for (&i, &p) in chunk.iter().zip(&pred) {
            let t = data.labels[i as usize] as usize;
            let p = usize::try_from(p)
                .ok()
                .filter(|&p| p < k)
                .ok_or_else(|| NetsError::Backend(format!("prediction {p} out of range")))?;
            confusion[t][p] += 1;
        }
    }
    let n = data.len();
    let correct: u64 = (0..k).map(|i| confusion[i][i]).sum();
    Ok(Evaluation {
        accuracy: correct as f64 / n.max(1) as f64,
        loss: loss_sum / n.max(1) as f64,
        confusion,
        examples: n,
    })
}

/// Reads tensor data as `E`, converting from the backend's element type.
pub fn read<E: burn::tensor::Element>(data: TensorData) -> Result<Vec<E>> {
    data.try_into_vec_as::<E>()
        .map_err(|e| NetsError::Backend(format!("{e:?}")))
}

/// Number of trainable scalars in a module.
pub fn num_params<M: Module>(m: &M) -> usize {
    m.num_params()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_warms_up_then_decays() {
        let s = LrSchedule {
            base: 1.0,
            warmup: 10,
            total: 110,
            cosine: true,
            final_fraction: 0.0,
        };
        assert!((s.at(0) - 0.1).abs() < 1e-12);
        assert!((s.at(9) - 1.0).abs() < 1e-12);
        assert!((s.at(10) - 1.0).abs() < 1e-12);
        assert!((s.at(60) - 0.5).abs() < 1e-12);
        assert!(s.at(110).abs() < 1e-12);
        assert!(s.at(500).abs() < 1e-12);
        assert_eq!(LrSchedule::constant(0.3).at(1000), 0.3);
    }

    #[test]
    fn fused_adam_matches_burns_adam() {
        use crate::{ConvTrunkConfig, EncoderConfig, QNetConfig};
        use burn::optim::grad_clipping::GradientClippingConfig;
        use burn::tensor::Distribution;
        let dev = Device::flex().autodiff();
        dev.seed(3);
        let cfg = QNetConfig::new(
            EncoderConfig::Conv(ConvTrunkConfig::new([2, 5, 5], 4, 1).with_batch_norm(false)),
            3,
        )
        .with_hidden(16);
        let net = cfg.init(&dev).unwrap();
        let (mut a, mut b) = (net.clone(), net.clone());
        let clip = || GradientClippingConfig::Norm(0.5).init();
        let mut burn_adam = AdamConfig::new()
            .with_epsilon(1e-6)
            .init()
            .with_grad_clipping(clip());
        let mut fused = FusedAdam::default()
            .with_epsilon(1e-6)
            .init()
            .with_grad_clipping(clip());
        for step in 0..4 {
            let obs = Tensor::<2>::random([6, 50], Distribution::Normal(0.0, 1.0), &dev);
            let actions =
                Tensor::<1, Int>::from_data(TensorData::new(vec![0i64, 1, 2, 0, 1, 2], [6]), &dev);
            let targets = Tensor::<1>::random([6], Distribution::Normal(0.0, 1.0), &dev);
            let lr = 1e-2 / (step + 1) as f64;
            a = q_step(
                a,
                &mut burn_adam,
                lr,
                obs.clone(),
                actions.clone(),
                targets.clone(),
            )
            .0;
            b = q_step(b, &mut fused, lr, obs, actions, targets).0;
        }
        let params = |m: &QNet| -> Vec<Vec<f32>> {
            let mut out = Vec::new();
            m.clone().map(&mut Collect(&mut out));
            out
        };
        let (pa, pb) = (params(&a), params(&b));
        assert_eq!(pa.len(), pb.len());
        assert_ne!(pa, params(&net), "the steps moved the parameters");
        for (x, y) in pa.iter().zip(&pb) {
            for (u, w) in x.iter().zip(y) {
                assert!((u - w).abs() <= 1e-6 * (1.0 + u.abs()), "{u} vs {w}");
            }
        }
        // The state is burn's: a burn Adam takes over the fused one's record.
        let rec = fused.to_record();
        let _resumed = AdamConfig::new().init().load_record(rec);
    }

    struct Collect<'a>(&'a mut Vec<Vec<f32>>);

    impl burn::module::ModuleMapper for Collect<'_> {
        fn map_float<const D: usize>(
            &mut self,
            param: burn::module::Param<Tensor<D>>,
        ) -> burn::module::Param<Tensor<D>> {
            self.0.push(read(param.val().into_data()).unwrap());
            param
        }
    }
}
