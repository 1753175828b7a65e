//! Training-mode batch norm over `[B,C,H,W]` with fused forward and backward passes for burn's
//! `flex` CPU backend, added through burn's backend-extension API (like [`crate::conv_same`]).
//!
//! burn's `batch_norm_train` and its backward are generic compositions of a dozen tensor ops
//! (swaps, reshapes, means, broadcasts), each a pass over the activation with its own buffer.
//! Here the forward is two reads and one write of `x` (statistics per channel, then the output
//! per image), and the backward two reads and one write. Statistics and the update of the
//! running mean and variance follow burn's `BatchNorm` exactly (biased batch variance, the same
//! momentum rule), so checkpoints and evaluation are unchanged. Other backends, and inference,
//! use burn's `BatchNorm::forward`.

use burn::backend::autodiff::Autodiff;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Dispatch, ExtensionType, Flex, backend_extension};
use burn::nn::BatchNorm;
use burn::tensor::{DType, Tensor};
use rayon::prelude::*;

use crate::flex_util::{contiguous, is_flex, lane_sum, lane_sums, tensor, with_values};

/// The normalised output and the batch statistics it used.
#[derive(ExtensionType)]
pub struct BnOut<B: Backend> {
    /// `[B,C,H,W]`.
    pub y: FloatTensor<B>,
    /// Batch mean per channel, `[C]`.
    pub mean: FloatTensor<B>,
    /// Biased batch variance per channel, `[C]`.
    pub var: FloatTensor<B>,
}

/// The backend extension.
#[backend_extension(Autodiff, Flex)]
pub trait BnTrain: Backend {
    /// `γ·(x − mean)/√(var + ε) + β` with the batch's own per-channel statistics.
    fn bn_train(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
    ) -> BnOut<Self>;
}

/// `bn.forward(x)`, fused on the flex backend when the layer trains (autodiff device, training
/// flag on) and `x` is f32; burn's own otherwise.
pub fn forward(bn: &BatchNorm, x: Tensor<4>) -> Tensor<4> {
    let device = x.device();
    if !(is_flex(&device)
        && device.is_autodiff()
        && bn.training.is_enabled()
        && x.dtype() == DType::F32)
    {
        return bn.forward(x);
    }
    let out = <Dispatch as BnTrain>::bn_train(
        x.into_dispatch(),
        bn.gamma.val().into_dispatch(),
        bn.beta.val().into_dispatch(),
        bn.epsilon,
    );
    let mean = Tensor::<1>::from_dispatch(out.mean).detach();
    let var = Tensor::<1>::from_dispatch(out.var).detach();
    // burn's BatchNorm::forward_train, to the letter.
    let m = bn.momentum;
    let running_mean = bn.running_mean.value_sync().to_device(&device);
    let running_var = bn.running_var.value_sync().to_device(&device);
    let running_mean = running_mean.mul_scalar(1.0 - m).add(mean.mul_scalar(m));
    let running_var = running_var.mul_scalar(1.0 - m).add(var.mul_scalar(m));
    bn.running_mean.update(running_mean.detach());
    bn.running_var.update(running_var.detach());
    Tensor::from_dispatch(out.y)
}

/// `[B, C, H·W]` sizes of `x`.
fn dims(x: &FloatTensor<Flex>) -> (usize, usize, usize) {
    let s = x.layout().shape();
    assert!(s.num_dims() == 4, "batch norm takes [B,C,H,W], got {s:?}");
    (s[0], s[1], s[2] * s[3])
}

/// Per-channel sums over the batch of `f(channel, offset)`, where `offset` starts one image's
/// `H·W` values of that channel; channels in parallel.
fn per_channel<T: Send + Copy + std::ops::Add<Output = T> + std::iter::Sum>(
    (b, c, hw): (usize, usize, usize),
    f: impl Fn(usize, usize) -> T + Sync,
) -> Vec<T> {
    (0..c)
        .into_par_iter()
        .map(|ch| (0..b).map(|i| f(ch, (i * c + ch) * hw)).sum())
        .collect()
}

/// A pair of f64 sums, added component-wise (for [`per_channel`]).
#[derive(Debug, Clone, Copy, Default)]
struct Pair(f64, f64);

impl std::ops::Add for Pair {
    type Output = Pair;
    fn add(self, o: Pair) -> Pair {
        Pair(self.0 + o.0, self.1 + o.1)
    }
}

impl std::iter::Sum for Pair {
    fn sum<I: Iterator<Item = Pair>>(it: I) -> Pair {
        it.fold(Pair::default(), |a, b| a + b)
    }
}

fn forward_flex(
    x: FloatTensor<Flex>,
    gamma: FloatTensor<Flex>,
    beta: FloatTensor<Flex>,
    epsilon: f64,
) -> BnOut<Flex> {
    let (b, c, hw) = dims(&x);
    let n = (b * hw) as f64;
    let shape = x.layout().shape().to_vec();
    let g = with_values(gamma, |v| v.to_vec());
    let be = with_values(beta, |v| v.to_vec());
    let (y, mean, var) = with_values(x, |xs| {
        let map = |at: usize| &xs[at..at + hw];
        let sums = per_channel((b, c, hw), |_, at| lane_sum(map(at), |v| v));
        let mean: Vec<f64> = sums.iter().map(|s| s / n).collect();
        // Squared deviations from the f32 mean (two passes: no cancellation).
        let sq = per_channel((b, c, hw), |ch, at| {
            let m = mean[ch] as f32;
            lane_sum(map(at), |v| (v - m) * (v - m))
        });
        let var: Vec<f64> = sq.iter().map(|s| s / n).collect();
        // y = x·scale + shift per channel.
        let scale: Vec<f32> = (0..c)
            .map(|ch| (g[ch] as f64 / (var[ch] + epsilon).sqrt()) as f32)
            .collect();
        let shift: Vec<f32> = (0..c)
            .map(|ch| be[ch] - (mean[ch] as f32) * scale[ch])
            .collect();
        let mut y = vec![0f32; xs.len()];
        y.par_chunks_mut(c * hw)
            .zip(xs.par_chunks(c * hw))
            .for_each(|(yi, xi)| {
                for ch in 0..c {
                    let (s, t) = (scale[ch], shift[ch]);
                    for (o, &v) in yi[ch * hw..][..hw].iter_mut().zip(&xi[ch * hw..][..hw]) {
                        *o = v * s + t;
                    }
                }
            });
        (y, mean, var)
    });
    BnOut {
        y: tensor(y, shape),
        mean: tensor(mean.iter().map(|&m| m as f32).collect(), vec![c]),
        var: tensor(var.iter().map(|&v| v as f32).collect(), vec![c]),
    }
}

impl BnTrain for Flex {
    fn bn_train(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
    ) -> BnOut<Self> {
        forward_flex(x, gamma, beta, epsilon)
    }
}

#[derive(Debug)]
struct BnTrainBackward;

impl Backward<Flex, 3> for BnTrainBackward {
    /// `x`, `γ`, the batch mean and variance, ε.
    type State = (
        FloatTensor<Flex>,
        FloatTensor<Flex>,
        FloatTensor<Flex>,
        FloatTensor<Flex>,
        f64,
    );

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x, node_gamma, node_beta] = ops.parents;
        let grad = grads.consume::<Flex>(&ops.node); // [B, C, H, W]
        let (x, gamma, mean, var, epsilon) = ops.state;
        let (b, c, hw) = dims(&x);
        let n = (b * hw) as f64;
        let g = with_values(gamma, |v| v.to_vec());
        let mean = with_values(mean, |v| v.to_vec());
        let inv_std: Vec<f64> = with_values(var, |v| {
            v.iter()
                .map(|&s| 1.0 / (s as f64 + epsilon).sqrt())
                .collect()
        });
        let (dgamma, dbeta, coef) = with_values(x.clone(), |xs| {
            with_values(grad.clone(), |dy| {
                // Σ dy and Σ dy·x̂ per channel, in one pass.
                let sums = per_channel((b, c, hw), |ch, at| {
                    let m = mean[ch];
                    let (d, dxc) =
                        lane_sums(&dy[at..at + hw], &xs[at..at + hw], |d, v| (d, d * (v - m)));
                    Pair(d, dxc)
                });
                let dbeta: Vec<f64> = sums.iter().map(|p| p.0).collect();
                let dgamma: Vec<f64> = sums.iter().zip(&inv_std).map(|(p, s)| p.1 * s).collect();
                // dx = γ·s/N · (N·dy − Σdy − x̂·Σdy·x̂) = a·dy + b·x + c per channel.
                let coef: Vec<(f32, f32, f32)> = (0..c)
                    .map(|ch| {
                        let (s, m) = (inv_std[ch], mean[ch] as f64);
                        let a = g[ch] as f64 * s;
                        let bx = -a * dgamma[ch] * s / n;
                        let c0 = -a * dbeta[ch] / n - bx * m;
                        (a as f32, bx as f32, c0 as f32)
                    })
                    .collect();
                (dgamma, dbeta, coef)
            })
        });
        // dx overwrites dy (its buffer, unless shared: then a copy of it).
        let mut dx = contiguous(grad);
        with_values(x, |xs| {
            dx.storage_mut::<f32>()[..xs.len()]
                .par_chunks_mut(c * hw)
                .zip(xs.par_chunks(c * hw))
                .for_each(|(o, xi)| {
                    for (ch, &(a, bx, c0)) in coef.iter().enumerate() {
                        let r = ch * hw..(ch + 1) * hw;
                        for (o, &v) in o[r.clone()].iter_mut().zip(&xi[r]) {
                            *o = a * *o + bx * v + c0;
                        }
                    }
                })
        });
        if let Some(node) = node_x {
            grads.register::<Flex>(node.id, dx);
        }
        if let Some(node) = node_gamma {
            let v = dgamma.iter().map(|&d| d as f32).collect();
            grads.register::<Flex>(node.id, tensor(v, vec![c]));
        }
        if let Some(node) = node_beta {
            let v = dbeta.iter().map(|&d| d as f32).collect();
            grads.register::<Flex>(node.id, tensor(v, vec![c]));
        }
    }
}

impl<C: CheckpointStrategy> BnTrain for Autodiff<Flex, C> {
    fn bn_train(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
    ) -> BnOut<Self> {
        let kind = BnTrainBackward
            .prepare::<C>([x.node(), gamma.node(), beta.node()])
            .compute_bound()
            .stateful();
        let (xp, gp) = (x.into_primitive(), gamma.into_primitive());
        let out = forward_flex(xp.clone(), gp.clone(), beta.into_primitive(), epsilon);
        let y = match kind {
            OpsKind::Tracked(prep) => {
                let state = (xp, gp, out.mean.clone(), out.var.clone(), epsilon);
                prep.finish(state, out.y)
            }
            OpsKind::UnTracked(prep) => prep.finish(out.y),
        };
        BnOut {
            y,
            mean: FloatTensor::<Self>::new(out.mean),
            var: FloatTensor::<Self>::new(out.var),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::module::Param;
    use burn::nn::BatchNormConfig;
    use burn::tensor::Device;
    use burn::tensor::Distribution;

    /// Output, input/γ/β gradients and running statistics against burn's own `BatchNorm`.
    #[test]
    fn fused_batch_norm_matches_burns() {
        let dev = Device::flex().autodiff();
        dev.seed(3);
        let [b, c, h, w] = [4, 5, 6, 7];
        let x = Tensor::<4>::random([b, c, h, w], Distribution::Normal(0.5, 2.0), &dev);
        let r = Tensor::<4>::random([b, c, h, w], Distribution::Normal(0.0, 1.0), &dev);
        let run = |fused: bool| {
            let mut bn = BatchNormConfig::new(c).init(&dev);
            // Non-trivial γ and β.
            bn.gamma = Param::from_tensor(Tensor::from_floats([1.5, 0.5, 2.0, 1.0, 0.75], &dev));
            bn.beta = Param::from_tensor(Tensor::from_floats([0.0, -0.5, 0.25, 1.0, 0.1], &dev));
            let x = x.clone().detach().require_grad();
            let mut outs = Vec::new();
            // Two steps, so the running statistics are updated twice.
            for _ in 0..2 {
                let y = if fused {
                    forward(&bn, x.clone())
                } else {
                    bn.forward(x.clone())
                };
                let grads = (y.clone() * r.clone()).sum().backward();
                outs.push(y.into_data());
                outs.push(x.grad(&grads).unwrap().into_data());
                outs.push(bn.gamma.val().grad(&grads).unwrap().into_data());
                outs.push(bn.beta.val().grad(&grads).unwrap().into_data());
            }
            outs.push(bn.running_mean.value().into_data());
            outs.push(bn.running_var.value().into_data());
            outs
        };
        let (ours, burns) = (run(true), run(false));
        for (k, (a, e)) in ours.into_iter().zip(burns).enumerate() {
            crate::flex_util::assert_close(a, e, 2e-4, &format!("output {k}"));
        }
    }
}
