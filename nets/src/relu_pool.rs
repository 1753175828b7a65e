//! `max_pool_2x2(relu(x))` over `[B,C,H,W]` (kernel 2, stride 2, no padding, odd edges dropped)
//! as one pass forward and one pass backward, for burn's `flex` CPU backend, added through burn's
//! backend-extension API (like [`crate::conv_same`] and [`crate::batch_norm`]).
//!
//! burn_flex runs a 2-D max-pool as its general 3-D one: per output it recomputes the window's
//! valid range and keeps an `i64` index, which made the classifier's three pools ≈ 16% of a
//! training step; the ReLU before them is another pass forward and backward. Here the forward
//! reads each 2x2 window once and writes the output and a one-byte code: the window position
//! (0..4, row-major) of the maximum, or `NO_GRAD` (4) when the maximum is ≤ 0 (the ReLU zeroed it,
//! so no gradient flows). `max(relu(x)) = relu(max(x))`, and the first maximum of the window
//! gets the gradient, as in burn's (and PyTorch's) pool after a ReLU, so values and gradients
//! are the same. A NaN in a window wins, as in PyTorch's max-pool. Other backends use burn's
//! `relu` then `MaxPool2d`.

use burn::backend::autodiff::Autodiff;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::tensor::FloatTensor;
use burn::backend::{Dispatch, Flex, backend_extension};
use burn::nn::pool::MaxPool2dConfig;
use burn::tensor::activation::relu;
use burn::tensor::{DType, Tensor};
use rayon::prelude::*;

use crate::flex_util::{is_flex, tensor, with_values};

/// The code of an output whose gradient is zero (its window's maximum is ≤ 0).
const NO_GRAD: u8 = 4;

/// The backend extension.
#[backend_extension(Autodiff, Flex)]
pub trait ReluPool: burn::backend::Backend {
    /// `[B,C,H,W] → [B,C,⌊H/2⌋,⌊W/2⌋]`: the maximum of each 2x2 window, then ReLU.
    fn relu_max_pool_2x2(x: FloatTensor<Self>) -> FloatTensor<Self>;
}

/// Whether [`relu_max_pool_2x2`] runs `x` on Ember's kernel: an f32 tensor on the flex backend
/// (with or without autodiff) whose maps are at least 2x2.
pub fn usable(x: &Tensor<4>) -> bool {
    let [_, _, h, w] = x.dims();
    is_flex(&x.device()) && x.dtype() == DType::F32 && h >= 2 && w >= 2
}

/// `max_pool_2x2(relu(x))`, `[B,C,H,W] → [B,C,⌊H/2⌋,⌊W/2⌋]`. Differentiable. Ember's kernel
/// where [`usable`] says so, else burn's `relu` then `MaxPool2d` (2x2, stride 2).
pub fn relu_max_pool_2x2(x: Tensor<4>) -> Tensor<4> {
    if !usable(&x) {
        let pool = MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init();
        return pool.forward(relu(x)); // [B, C, H/2, W/2]
    }
    Tensor::from_dispatch(<Dispatch as ReluPool>::relu_max_pool_2x2(x.into_dispatch()))
}

/// Sizes of one pool: the input `[B,C,H,W]`.
#[derive(Debug, Clone, Copy)]
struct Dims {
    b: usize,
    c: usize,
    h: usize,
    w: usize,
}

impl Dims {
    fn of(x: &FloatTensor<Flex>) -> Dims {
        let s = x.layout().shape();
        assert!(
            s.num_dims() == 4,
            "relu_max_pool_2x2 takes [B,C,H,W], got {s:?}"
        );
        Dims {
            b: s[0],
            c: s[1],
            h: s[2],
            w: s[3],
        }
    }
    /// Maps: `B·C`.
    fn maps(&self) -> usize {
        self.b * self.c
    }
    fn out_hw(&self) -> (usize, usize) {
        (self.h / 2, self.w / 2)
    }
}

/// Maps per rayon task: small maps (3x3 outputs) would otherwise be one task each.
fn maps_per_task(d: Dims) -> usize {
    let (oh, ow) = d.out_hw();
    (4096 / (oh * ow).max(1)).max(1)
}

/// The output `[maps, ⌊H/2⌋·⌊W/2⌋]` and one code per output (see [`NO_GRAD`]).
fn forward_values(x: &[f32], d: Dims) -> (Vec<f32>, Vec<u8>) {
    let (oh, ow) = d.out_hw();
    let per = maps_per_task(d);
    let mut y = vec![0f32; d.maps() * oh * ow];
    let mut codes = vec![0u8; d.maps() * oh * ow];
    y.par_chunks_mut(per * oh * ow)
        .zip(codes.par_chunks_mut(per * oh * ow))
        .zip(x.par_chunks(per * d.h * d.w))
        .for_each(|((y, codes), x)| {
            for ((y, codes), x) in y
                .chunks_exact_mut(oh * ow)
                .zip(codes.chunks_exact_mut(oh * ow))
                .zip(x.chunks_exact(d.h * d.w))
            {
                for r in 0..oh {
                    let top = &x[2 * r * d.w..][..2 * ow];
                    let bottom = &x[(2 * r + 1) * d.w..][..2 * ow];
                    let (y, codes) = (&mut y[r * ow..][..ow], &mut codes[r * ow..][..ow]);
                    pool_row(top, bottom, y, codes);
                }
            }
        });
    (y, codes)
}

/// One output row from the two input rows `top` and `bottom` (`2·ow` values each).
///
/// The first maximum in row-major order wins, as in burn's scan: each row's pair first (the
/// left one unless the right one is larger), then the bottom row only if strictly larger.
/// Written as selects without a loop-carried chain, so it compiles to SIMD blends; a row with a
/// NaN takes the exact scan instead, so the NaN wins as in PyTorch.
fn pool_row(top: &[f32], bottom: &[f32], y: &mut [f32], codes: &mut [u8]) {
    let has_nan = top.iter().chain(bottom).fold(false, |a, v| a | v.is_nan());
    for (((o, code), t), b) in y
        .iter_mut()
        .zip(codes.iter_mut())
        .zip(top.chunks_exact(2))
        .zip(bottom.chunks_exact(2))
    {
        let (m, at) = if has_nan {
            let (mut m, mut at) = (t[0], 0u8);
            for (k, v) in [(1u8, t[1]), (2, b[0]), (3, b[1])] {
                if v > m || (v.is_nan() && !m.is_nan()) {
                    (m, at) = (v, k);
                }
            }
            (m, at)
        } else {
            let (tm, tc) = if t[1] > t[0] { (t[1], 1u8) } else { (t[0], 0) };
            let (bm, bc) = if b[1] > b[0] { (b[1], 3u8) } else { (b[0], 2) };
            if bm > tm { (bm, bc) } else { (tm, tc) }
        };
        let live = m > 0.0 || m.is_nan();
        *o = if live { m } else { 0.0 };
        *code = if live { at } else { NO_GRAD };
    }
}

/// The input gradient `[maps, H·W]`: each output's gradient at its window's maximum, zero
/// elsewhere (and on the odd last row or column, which no window covers).
fn backward_values(dy: &[f32], codes: &[u8], d: Dims) -> Vec<f32> {
    let (oh, ow) = d.out_hw();
    let per = maps_per_task(d);
    let mut dx = vec![0f32; d.maps() * d.h * d.w];
    dx.par_chunks_mut(per * d.h * d.w)
        .zip(dy.par_chunks(per * oh * ow))
        .zip(codes.par_chunks(per * oh * ow))
        .for_each(|((dx, dy), codes)| {
            for ((dx, dy), codes) in dx
                .chunks_exact_mut(d.h * d.w)
                .zip(dy.chunks_exact(oh * ow))
                .zip(codes.chunks_exact(oh * ow))
            {
                for (i, (&g, &code)) in dy.iter().zip(codes).enumerate() {
                    if code != NO_GRAD {
                        let (r, c) = (i / ow, i % ow);
                        let (dr, dc) = (usize::from(code >> 1), usize::from(code & 1));
                        dx[(2 * r + dr) * d.w + 2 * c + dc] = g;
                    }
                }
            }
        });
    dx
}

fn forward(x: FloatTensor<Flex>) -> (FloatTensor<Flex>, Vec<u8>, Dims) {
    let d = Dims::of(&x);
    let (y, codes) = with_values(x, |v| forward_values(v, d));
    let (oh, ow) = d.out_hw();
    (tensor(y, vec![d.b, d.c, oh, ow]), codes, d)
}

impl ReluPool for Flex {
    fn relu_max_pool_2x2(x: FloatTensor<Self>) -> FloatTensor<Self> {
        forward(x).0
    }
}

#[derive(Debug)]
struct ReluPoolBackward;

impl Backward<Flex, 1> for ReluPoolBackward {
    /// One code per output and the input's sizes.
    type State = (Vec<u8>, Dims);

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x] = ops.parents;
        let grad = grads.consume::<Flex>(&ops.node); // [B, C, H/2, W/2]
        let (codes, d) = ops.state;
        if let Some(node) = node_x {
            let dx = with_values(grad, |dy| backward_values(dy, &codes, d)); // [B, C, H, W]
            grads.register::<Flex>(node.id, tensor(dx, vec![d.b, d.c, d.h, d.w]));
        }
    }
}

impl<C: CheckpointStrategy> ReluPool for Autodiff<Flex, C> {
    fn relu_max_pool_2x2(x: FloatTensor<Self>) -> FloatTensor<Self> {
        let kind = ReluPoolBackward
            .prepare::<C>([x.node()])
            .compute_bound()
            .stateful();
        let (y, codes, d) = forward(x.into_primitive());
        match kind {
            OpsKind::Tracked(prep) => prep.finish((codes, d), y),
            OpsKind::UnTracked(prep) => prep.finish(y),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::pool::MaxPool2dConfig;
    use burn::tensor::activation::relu;
    use burn::tensor::{Device, Distribution};

    /// Output and input gradient against burn's ReLU then `MaxPool2d` (2x2, stride 2), on even
    /// and odd map sizes, with ties and all-negative windows.
    #[test]
    fn fused_relu_pool_matches_burns() {
        let dev = Device::flex().autodiff();
        dev.seed(5);
        let pool = MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init();
        for [b, c, h, w] in [[3, 4, 6, 8], [2, 5, 7, 7], [1, 1, 2, 3], [2, 3, 5, 4]] {
            let n = b * c * h * w;
            // Values on a coarse grid (ties) around 0 (all-negative windows).
            let x = Tensor::<4>::random([b, c, h, w], Distribution::Uniform(-3.0, 3.0), &dev)
                .round()
                .mul_scalar(0.5);
            let r = Tensor::<4>::random([b, c, h / 2, w / 2], Distribution::Normal(0.0, 1.0), &dev);
            let run = |fused: bool| {
                let x = x.clone().detach().require_grad();
                assert!(usable(&x));
                let y = if fused {
                    relu_max_pool_2x2(x.clone())
                } else {
                    pool.forward(relu(x.clone()))
                };
                let grads = (y.clone() * r.clone()).sum().backward();
                let y: Vec<f32> = crate::train::read(y.into_data()).unwrap();
                let dx: Vec<f32> = crate::train::read(x.grad(&grads).unwrap().into_data()).unwrap();
                (y, dx)
            };
            let ((y, dx), (ey, edx)) = (run(true), run(false));
            assert_eq!(y, ey, "output of {:?}", [b, c, h, w]);
            assert_eq!(dx.len(), n);
            assert_eq!(dx, edx, "input gradient of {:?}", [b, c, h, w]);
        }
    }

    /// Without autodiff (evaluation) the plain flex path gives the same output.
    #[test]
    fn inference_path_matches() {
        let dev = Device::flex();
        dev.seed(6);
        let x = Tensor::<4>::random([2, 3, 9, 6], Distribution::Normal(0.0, 1.0), &dev);
        let pool = MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init();
        let y: Vec<f32> = crate::train::read(relu_max_pool_2x2(x.clone()).into_data()).unwrap();
        let e: Vec<f32> = crate::train::read(pool.forward(relu(x)).into_data()).unwrap();
        assert_eq!(y, e);
    }

    /// A NaN wins its window, as in PyTorch's max-pool.
    #[test]
    fn nan_propagates() {
        let dev = Device::flex();
        let x = Tensor::<4>::from_floats([[[[1.0, f32::NAN], [2.0, -1.0]]]], &dev);
        let y: Vec<f32> = crate::train::read(relu_max_pool_2x2(x).into_data()).unwrap();
        assert!(y[0].is_nan());
    }
}
