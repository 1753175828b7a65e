//! `Σ x²` of a tensor as one op, for gradient clipping by global norm: on burn's `flex` CPU
//! backend without the squared copy that `x.square().sum()` allocates (the DQN Q-net's hidden
//! weight gradient is 800 KB, fresh each update), added through burn's backend-extension API.
//!
//! The value is the same bits as `x.square().sum()` on `flex`: the squares are the same
//! products (`flex` squares by multiplying), written into a buffer the thread keeps, and summed
//! by `flex`'s own kernel (`burn_flex::simd::kernels::sum_f32`, which its `sum` calls for
//! contiguous tensors of under 4M values), so clipping decisions and scaled gradients do not
//! change. Other backends, autodiff tensors and larger tensors take `x.square().sum()`.

use burn::backend::autodiff::Autodiff;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::ops::FloatTensorOps;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Dispatch, Flex, backend_extension};
use burn::tensor::{DType, Tensor};
use std::cell::RefCell;

use crate::flex_util::{is_flex, tensor, with_values};

/// The backend extension: `x` → `[Σ x²]` (shape `[1]`).
#[backend_extension(Autodiff, Flex)]
pub trait SumSquares: burn::backend::Backend {
    /// The sum of the squares of all of `x`'s values, shape `[1]`.
    fn sum_squares(x: FloatTensor<Self>) -> FloatTensor<Self>;
}

/// Tensors of at least this many values are squared on both threads of [`crate::pair`].
const SPLIT: usize = 32 * 1024;

/// Below `flex`'s threshold for summing in parallel chunks (whose order this op would not give).
const MAX_LEN: usize = 4 * 1024 * 1024;

/// `[Σ x²]`, shape `[1]`: the same value as `x.square().sum()` (see the module docs); not
/// differentiable on the fast path, which is meant for gradients.
pub fn sum_squares<const D: usize>(x: Tensor<D>) -> Tensor<1> {
    if !is_flex(&x.device())
        || x.dtype() != DType::F32
        || x.is_require_grad()
        || x.shape().num_elements() >= MAX_LEN
    {
        return x.square().sum();
    }
    Tensor::from_dispatch(<Dispatch as SumSquares>::sum_squares(x.into_dispatch()))
}

thread_local! {
    /// The squares of the last tensor summed on this thread.
    static SQUARES: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

impl SumSquares for Flex {
    fn sum_squares(x: FloatTensor<Self>) -> FloatTensor<Self> {
        let s = with_values(x, |v| {
            SQUARES.with_borrow_mut(|sq| {
                if sq.len() < v.len() {
                    sq.resize(v.len(), 0.0);
                }
                let sq = &mut sq[..v.len()];
                let square = |dst: &mut [f32], src: &[f32]| {
                    for (d, &x) in dst.iter_mut().zip(src) {
                        *d = x * x;
                    }
                };
                if v.len() >= SPLIT {
                    // By halves on this thread and the pair's helper (the sum stays one pass,
                    // in flex's order).
                    let (lo, hi) = sq.split_at_mut(v.len() / 2);
                    let (vlo, vhi) = v.split_at(v.len() / 2);
                    crate::pair::join(|| square(lo, vlo), || square(hi, vhi));
                } else {
                    square(sq, v);
                }
                burn::backend::flex::simd::kernels::sum_f32(sq)
            })
        });
        tensor(vec![s], vec![1])
    }
}

impl<C: CheckpointStrategy> SumSquares for Autodiff<Flex, C> {
    fn sum_squares(x: FloatTensor<Self>) -> FloatTensor<Self> {
        Self::float_sum(Self::float_mul(x.clone(), x))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, TensorData};

    /// The same bits as `x.square().sum()`, for lengths around `flex`'s vector blocks.
    #[test]
    fn same_bits_as_square_sum() {
        let device = Device::default();
        for n in [1usize, 7, 8, 63, 64, 65, 1000, 204_800] {
            let v: Vec<f32> = (0..n)
                .map(|i| ((i as f32 * 0.618).fract() - 0.5) * (1.0 + i as f32 * 1e-3))
                .collect();
            let x = Tensor::<1>::from_data(TensorData::new(v, [n]), &device);
            assert!(is_flex(&x.device()), "the test runs the fast path");
            let ours = sum_squares(x.clone())
                .into_data()
                .try_to_vec::<f32>()
                .unwrap();
            let theirs = x.square().sum().into_data().try_to_vec::<f32>().unwrap();
            assert_eq!(ours[0].to_bits(), theirs[0].to_bits(), "n = {n}");
        }
    }
}
