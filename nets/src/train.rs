//! Training steps shared by the experiments and the speed benchmarks, and the learning-rate
//! schedule.

use burn::module::Module;
use burn::nn::loss::{CrossEntropyLoss, CrossEntropyLossConfig};
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Int, Tensor, TensorData};

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
}
