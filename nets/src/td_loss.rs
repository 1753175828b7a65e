//! DQN's TD loss as one op: `mean_i(w_i · huber_δ(t_i − Q(s_i, a_i)))` of a batch of Q-values
//! `[B, A]`, the taken actions, the TD targets and (for prioritized replay) importance weights,
//! differentiable in the Q-values, added through burn's backend-extension API.
//!
//! Built from burn's ops, that loss is a gather, a dozen element-wise ops (burn's `HuberLoss`:
//! the residual, its absolute value, a comparison, a clamp, two products, a square, a masked
//! select), a mean, and their autodiff nodes: at batch 32 the bookkeeping of those ops, not their
//! arithmetic, cost about 5% of a DQN update on two cores, all of it on the calling thread while
//! the other core waited. Here the loss and each transition's gradient are a loop over the batch.
//!
//! **The same bits as burn's ops.** The loss is what `HuberLoss` computes, element by element
//! (`r = t − q`; `|r| > δ`: `clamp(r, ±δ)·r − δ²/2`, else `(r·r)·0.5`), times the weight, then
//! `flex`'s mean (its own sum kernel, then `/ B`). The gradient is what burn's autodiff computes
//! through those ops, product by product: the mean's `(1/B)·G` (`G` the loss's incoming
//! gradient), times the weight, then per branch `2·((g·0.5)·r)` inside and `g·clamp(r, ±δ)`
//! outside, negated through the residual, added onto zeros at the taken action (the gather's
//! scatter). The unit test compares loss and gradients bit for bit with burn's ops, weighted and
//! not, residuals inside, outside, at the boundary and zero.
//!
//! Only `flex` f32 tensors take this path; elsewhere [`td_loss`] runs burn's ops.

use burn::backend::autodiff::Autodiff;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::tensor::FloatTensor;
use burn::backend::{Dispatch, Flex, backend_extension};
use burn::nn::loss::{HuberLossConfig, Reduction};
use burn::tensor::{DType, Int, Tensor, TensorData};

use crate::error::Result;
use crate::flex_util::{is_flex, tensor, with_values};
use crate::train::read;

/// The backend extension: Q-values `q [B, A]` and `aux` (see [`Aux`]) → the loss `[1]`.
#[backend_extension(Autodiff, Flex)]
pub trait TdLossOp: burn::backend::Backend {
    /// The loss whose value and per-transition terms `aux` holds, differentiable in `q`.
    fn td_loss(q: FloatTensor<Self>, aux: FloatTensor<Self>) -> FloatTensor<Self>;
}

/// The loss of a batch, and what the training loop logs and prioritizes by.
#[derive(Debug)]
pub struct TdLoss {
    /// The loss, `[1]`, differentiable in the Q-values.
    pub loss: Tensor<1>,
    /// Its value.
    pub value: f32,
    /// Each transition's TD error `t_i − Q(s_i, a_i)` (what prioritized replay ranks by).
    pub residuals: Vec<f32>,
    /// The mean of `Q(s_i, a_i)` over the batch (as burn's `mean`).
    pub q_mean: f32,
}

/// The Huber TD loss (threshold `delta`) of Q-values `q [B, A]` at `actions` against `targets`,
/// each transition's term times its weight where `weights` is not empty, averaged over the batch
/// (see the module docs).
pub fn td_loss(
    q: Tensor<2>,
    actions: &[i64],
    targets: &[f32],
    weights: &[f32],
    delta: f32,
) -> Result<TdLoss> {
    let [b, a] = q.dims();
    assert!(
        actions.len() == b && targets.len() == b && (weights.is_empty() || weights.len() == b),
        "td_loss: {} actions, {} targets and {} weights for a batch of {b}",
        actions.len(),
        targets.len(),
        weights.len()
    );
    assert!(
        actions.iter().all(|&x| (0..a as i64).contains(&x)),
        "td_loss: an action outside 0..{a}"
    );
    if !is_flex(&q.device()) || q.dtype() != DType::F32 {
        return td_loss_ops(q, actions, targets, weights, delta);
    }
    let qv: Vec<f32> = read(q.clone().detach().into_data())?;
    let q_taken: Vec<f32> = (0..b).map(|i| qv[i * a + actions[i] as usize]).collect();
    let lin_bias = delta * delta * 0.5;
    let residuals: Vec<f32> = targets.iter().zip(&q_taken).map(|(t, q)| t - q).collect();
    let mut terms = Vec::with_capacity(b);
    for (i, &r) in residuals.iter().enumerate() {
        let term = if r.abs() > delta {
            r.clamp(-delta, delta) * r - lin_bias
        } else {
            (r * r) * 0.5
        };
        terms.push(if weights.is_empty() {
            term
        } else {
            term * weights[i]
        });
    }
    let mean = |v: &[f32]| burn::backend::flex::simd::kernels::sum_f32(v) / v.len() as f32;
    let value = mean(&terms);
    let mut aux = Vec::with_capacity(3 * b + 2);
    aux.extend(actions.iter().map(|&x| x as f32));
    aux.extend_from_slice(&residuals);
    if weights.is_empty() {
        aux.extend(std::iter::repeat_n(f32::NAN, b));
    } else {
        aux.extend_from_slice(weights);
    }
    aux.extend([delta, value]);
    let aux = Tensor::<1>::from_data(TensorData::new(aux, [3 * b + 2]), &q.device());
    let loss = Tensor::from_dispatch(<Dispatch as TdLossOp>::td_loss(
        q.into_dispatch(),
        aux.into_dispatch(),
    ));
    Ok(TdLoss {
        loss,
        value,
        residuals,
        q_mean: mean(&q_taken),
    })
}

/// [`td_loss`] in burn's ops (gather, `HuberLoss`, mean): the definition the fused path follows,
/// and the path on other backends.
pub fn td_loss_ops(
    q: Tensor<2>,
    actions: &[i64],
    targets: &[f32],
    weights: &[f32],
    delta: f32,
) -> Result<TdLoss> {
    let [b, _] = q.dims();
    let dev = q.device();
    let huber = HuberLossConfig::new(delta).init();
    let idx = Tensor::<1, Int>::from_data(TensorData::new(actions.to_vec(), [b]), &dev);
    let q_a = q.gather(1, idx.reshape([b, 1])).flatten::<1>(0, 1); // [B]
    let t = Tensor::<1>::from_data(TensorData::new(targets.to_vec(), [b]), &dev);
    let loss = if weights.is_empty() {
        huber.forward(q_a.clone(), t, Reduction::Mean)
    } else {
        let w = Tensor::<1>::from_data(TensorData::new(weights.to_vec(), [b]), &dev);
        (huber.forward_no_reduction(q_a.clone(), t) * w).mean()
    };
    Ok(TdLoss {
        value: read::<f32>(loss.clone().detach().into_data())?[0],
        q_mean: read::<f32>(q_a.clone().detach().mean().into_data())?[0],
        residuals: read::<f32>(q_a.detach().into_data())?
            .iter()
            .zip(targets)
            .map(|(q, t)| t - q)
            .collect(),
        loss,
    })
}

/// `aux`'s layout: `[actions (B), residuals t − q (B), weights (B; NaN: none), δ, loss]`.
#[derive(Debug, Clone)]
struct Aux {
    values: Vec<f32>,
    b: usize,
}

impl Aux {
    fn new(values: Vec<f32>) -> Aux {
        let b = (values.len() - 2) / 3;
        assert_eq!(
            values.len(),
            3 * b + 2,
            "td_loss: aux of {} values",
            values.len()
        );
        Aux { values, b }
    }
    fn loss(&self) -> f32 {
        self.values[3 * self.b + 1]
    }
    /// `dL/dq [B, A]` for the loss's incoming gradient `g` (burn's autodiff, product by product).
    fn grad(&self, g: f32, a: usize) -> Vec<f32> {
        let b = self.b;
        let v = &self.values;
        let (actions, residuals, weights) = (&v[..b], &v[b..2 * b], &v[2 * b..3 * b]);
        let delta = v[3 * b];
        // The mean's backward: ones times 1/B (an f64 scalar applied to f32), times `g`.
        let g_mean = (1.0 * (1.0 / b as f64) as f32) * g;
        let mut dq = vec![0f32; b * a];
        for i in 0..b {
            let r = residuals[i];
            // The weight's product, where there are weights.
            let gi = if weights[i].is_nan() {
                g_mean
            } else {
                g_mean * weights[i]
            };
            let large = r.abs() > delta;
            // `mask_where`: the inside branch gets the gradient where the residual is small,
            // the outside branch where it is large, zeros elsewhere.
            let (g_in, g_out) = if large { (0.0, gi) } else { (gi, 0.0) };
            // Inside, `(r·r)·0.5`: the scalar product, then both factors of `r·r`.
            let half = g_in * 0.5;
            let (sq_l, sq_r) = (half * r, half * r);
            // Outside, `clamp(r)·r − δ²/2`: `r` as the product's right factor, and through the
            // clamp (which passes its gradient where it did not clip).
            let softsign = r.clamp(-delta, delta);
            let via_product = g_out * softsign;
            let via_clamp = if large { 0.0 } else { g_out * r };
            let dr = ((sq_l + sq_r) + via_product) + via_clamp;
            // `t − q`, then the gather's scatter onto zeros.
            let at = i * a + actions[i] as usize;
            dq[at] += -dr;
        }
        dq
    }
}

impl TdLossOp for Flex {
    fn td_loss(_q: FloatTensor<Self>, aux: FloatTensor<Self>) -> FloatTensor<Self> {
        let aux = Aux::new(with_values(aux, |v| v.to_vec()));
        tensor(vec![aux.loss()], vec![1])
    }
}

#[derive(Debug)]
struct TdLossBackward;

impl Backward<Flex, 1> for TdLossBackward {
    type State = (Aux, usize);

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad = grads.consume::<Flex>(&ops.node); // [1]
        let (aux, a) = ops.state;
        let g = with_values(grad, |g| g[0]);
        let [node] = ops.parents;
        if let Some(node) = node {
            grads.register::<Flex>(node.id, tensor(aux.grad(g, a), vec![aux.b, a]));
        }
    }
}

impl<C: CheckpointStrategy> TdLossOp for Autodiff<Flex, C> {
    fn td_loss(q: FloatTensor<Self>, aux: FloatTensor<Self>) -> FloatTensor<Self> {
        let kind = TdLossBackward
            .prepare::<C>([q.node()])
            .compute_bound()
            .stateful();
        let a = burn::backend::TensorMetadata::shape(&q)[1];
        let aux = Aux::new(with_values(aux.into_primitive(), |v| v.to_vec()));
        let out = tensor(vec![aux.loss()], vec![1]);
        match kind {
            OpsKind::Tracked(prep) => prep.finish((aux, a), out),
            OpsKind::UnTracked(prep) => prep.finish(out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Device;

    fn bits(t: Tensor<2>) -> Vec<u32> {
        read::<f32>(t.into_data())
            .unwrap()
            .iter()
            .map(|x| x.to_bits())
            .collect()
    }

    /// Loss, its logged values and the gradient in `q`: the same bits as burn's ops, weighted
    /// and not, for residuals inside, outside and on the threshold, zero, and batches of 32 and
    /// of sizes whose 1/B is not exact.
    #[test]
    fn same_bits_as_burns_ops() {
        let dev = Device::flex().autodiff();
        assert!(is_flex(&dev), "the fused path runs");
        for (b, a, weighted) in [(32, 6, false), (32, 6, true), (7, 3, false), (5, 4, true)] {
            let qv: Vec<f32> = (0..b * a)
                .map(|i| ((i as f32 * 0.618_034).fract() - 0.5) * 4.0)
                .collect();
            let actions: Vec<i64> = (0..b).map(|i| ((i * 5 + 1) % a) as i64).collect();
            let mut targets: Vec<f32> = (0..b)
                .map(|i| ((i as f32 * 0.414_214).fract() - 0.5) * 6.0)
                .collect();
            // A zero residual, and residuals exactly on the threshold.
            targets[0] = qv[actions[0] as usize];
            targets[1] = qv[a + actions[1] as usize] + 1.0;
            targets[2] = qv[2 * a + actions[2] as usize] - 1.0;
            let weights: Vec<f32> = if weighted {
                (0..b).map(|i| 0.3 + (i as f32 * 0.17).fract()).collect()
            } else {
                Vec::new()
            };
            let run = |fused: bool| {
                let q = Tensor::<2>::from_data(TensorData::new(qv.clone(), [b, a]), &dev)
                    .require_grad();
                let l = if fused {
                    td_loss(q.clone(), &actions, &targets, &weights, 1.0)
                } else {
                    td_loss_ops(q.clone(), &actions, &targets, &weights, 1.0)
                }
                .unwrap();
                let grads = l.loss.backward();
                let g = q.grad(&grads).unwrap();
                (l.value, l.q_mean, l.residuals, bits(g))
            };
            let (ours, theirs) = (run(true), run(false));
            assert_eq!(ours.0.to_bits(), theirs.0.to_bits(), "loss, B {b}");
            assert_eq!(ours.1.to_bits(), theirs.1.to_bits(), "mean Q, B {b}");
            assert_eq!(ours.2, theirs.2, "residuals, B {b}");
            assert_eq!(ours.3, theirs.3, "gradient, B {b}, weighted {weighted}");
        }
    }
}
