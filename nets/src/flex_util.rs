//! Moving `flex` tensors in and out of plain `f32` slices, for the hand-written kernels of
//! [`crate::conv_same`], [`crate::batch_norm`] and [`crate::relu_pool`], and the sums they share.

use burn::backend::ops::FloatTensorOps;
use burn::backend::tensor::FloatTensor;
use burn::backend::{DispatchDevice, Flex, FlexDevice};
use burn::tensor::{Device, Shape, TensorData};

/// Whether `device` is the flex backend (with or without autodiff).
pub(crate) fn is_flex(device: &Device) -> bool {
    matches!(
        device.as_dispatch().clone().inner(),
        DispatchDevice::Flex(_)
    )
}

/// Runs `f` on the tensor's values in row-major order, without a copy when the tensor is
/// contiguous from offset 0.
pub(crate) fn with_values<R>(t: FloatTensor<Flex>, f: impl FnOnce(&[f32]) -> R) -> R {
    let n = t.layout().num_elements();
    if t.layout().is_contiguous() && t.layout().start_offset() == 0 {
        f(&t.storage::<f32>()[..n])
    } else {
        let v = t
            .into_data()
            .try_into_vec::<f32>()
            .expect("Ember's flex kernels run on f32 tensors");
        f(&v)
    }
}

/// `t` itself when it is contiguous from offset 0 (so its storage is its values in order), else
/// a contiguous copy.
pub(crate) fn contiguous(t: FloatTensor<Flex>) -> FloatTensor<Flex> {
    if t.layout().is_contiguous() && t.layout().start_offset() == 0 {
        return t;
    }
    let shape = t.layout().shape().to_vec();
    let v = with_values(t, |v| v.to_vec());
    tensor(v, shape)
}

/// A flex tensor of `shape` holding `v` (flex has one device, the CPU).
pub(crate) fn tensor(v: Vec<f32>, shape: Vec<usize>) -> FloatTensor<Flex> {
    Flex::float_from_data(TensorData::new(v, Shape::from(shape)), &FlexDevice)
}

/// Lanes of the partial sums below: independent f32 accumulators the compiler keeps in SIMD
/// registers, where one f64 running sum is a chain of dependent adds (in the batch norm's
/// statistics it was ≈ 15% of a classifier step). Each lane sums at most a map's `H·W / LANES`
/// values (49 for 28x28), so f32 loses nothing that matters; the lanes, and the maps, are added
/// in f64.
const LANES: usize = 16;

/// Runs `f` compiled for the widest SIMD this CPU has (AVX2 or AVX-512 on x86-64, chosen at run
/// time by `pulp`, the dispatcher `gemm` uses), so that an element-wise loop inlined into `f` is
/// vectorized 8 or 16 lanes wide instead of the 4 of the x86-64 baseline the crate is built for.
/// The values are the same bits: Rust never fuses a multiply and an add on its own, and every
/// lane does the IEEE operations the scalar code does.
#[inline(always)]
pub(crate) fn vectorized<R>(f: impl FnOnce() -> R) -> R {
    pulp::Arch::new().dispatch(f)
}

/// `Σ f(a[i])`, summed as [`lane_sums`] does.
pub(crate) fn lane_sum(a: &[f32], f: impl Fn(f32) -> f32) -> f64 {
    lane_sums(a, a, |v, _| (f(v), 0.0)).0
}

/// `Σ f(a[i], b[i])` over two equally long slices, as `(Σ first, Σ second)` of `f`'s pair.
pub(crate) fn lane_sums(a: &[f32], b: &[f32], f: impl Fn(f32, f32) -> (f32, f32)) -> (f64, f64) {
    let (mut s0, mut s1) = ([0f32; LANES], [0f32; LANES]);
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for l in 0..LANES {
            let (u, v) = f(x[l], y[l]);
            s0[l] += u;
            s1[l] += v;
        }
    }
    let (mut t0, mut t1) = (0f64, 0f64);
    for (&x, &y) in ra.iter().zip(rb) {
        let (u, v) = f(x, y);
        t0 += u as f64;
        t1 += v as f64;
    }
    let total = |s: [f32; LANES]| s.iter().map(|&v| v as f64).sum::<f64>();
    (total(s0) + t0, total(s1) + t1)
}

/// Test support: `ours` and burn's `expected` have the same shape and agree element-wise within
/// `tol · (1 + |expected|)`; `what` names them in the failure.
#[cfg(test)]
pub(crate) fn assert_close(ours: TensorData, expected: TensorData, tol: f32, what: &str) {
    assert_eq!(ours.shape(), expected.shape(), "{what}");
    let a: Vec<f32> = crate::train::read(ours).unwrap();
    let e: Vec<f32> = crate::train::read(expected).unwrap();
    for (i, (u, v)) in a.iter().zip(&e).enumerate() {
        assert!(
            (u - v).abs() <= tol * (1.0 + v.abs()),
            "{what}[{i}]: {u} vs burn's {v}"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both sums agree with f64 ones, for lengths around the lane count (the remainder path)
    /// and for a 28x28 map of values with an offset (where one f32 running sum would drift).
    #[test]
    fn lane_sums_match_f64_sums() {
        for n in [0, 1, 15, 16, 17, 49, 196, 784] {
            let a: Vec<f32> = (0..n).map(|i| 100.0 + (i % 7) as f32 * 0.37).collect();
            let b: Vec<f32> = (0..n).map(|i| (i % 5) as f32 - 2.0).collect();
            let (s0, s1) = lane_sums(&a, &b, |x, y| (x, x * y));
            let e0: f64 = a.iter().map(|&x| x as f64).sum();
            let e1: f64 = a.iter().zip(&b).map(|(&x, &y)| x as f64 * y as f64).sum();
            assert!(
                (s0 - e0).abs() <= 1e-6 * e0.abs().max(1.0),
                "n={n}: {s0} vs {e0}"
            );
            assert!(
                (s1 - e1).abs() <= 1e-5 * e0.abs().max(1.0),
                "n={n}: {s1} vs {e1}"
            );
        }
    }
}
