//! A stride-1, "same"-padded 2-D convolution with hand-written forward and backward passes for
//! burn's `flex` CPU backend, added through burn's backend-extension API.
//!
//! burn_flex convolves one image (and one 512-pixel tile) at a time, so a 7x7 feature map meets
//! its matrix multiply as 49 columns, and it takes the weight gradient as a convolution over
//! transposed tensors. Here every product has all `k·k·C` patch values of a pixel as its inner
//! dimension, one image at a time, in parallel over the batch:
//!
//! - forward: the image's patch rows `cols = im2col(x_b)` `[H·W, k·k·C]` (NHWC patches) in the
//!   task's scratch, then `y_b = bias + Wmᵀ · colsᵀ` (`Wm` `[k·k·C, O]`) written straight into
//!   the image's `[O, H·W]` output planes (`nets::gemm`): no NCHW transpose, no bias pass;
//! - backward: `cols` built again from the kept input (cheaper than storing `k·k` times the
//!   input for the whole batch and streaming it through memory), `dWm += colsᵀ · dyᵀ` into a
//!   partial sum per fixed group of images (added in group order: the same bits whatever the
//!   threads), the bias gradient as plane sums of `dy`, and `dcols = dyᵀ · Wmᵀ`
//!   into the scratch, which `col2im` adds straight back onto the image's input gradient.
//!
//! With 8–32 output channels, small patches and an FMA CPU, the forward product skips the patch
//! rows and gemm: [`forward_direct`] runs gemm's own arithmetic (one fused multiply-add chain
//! per output over the patch in order, then onto the bias) from the zero-padded image, the same
//! bits, without a gemm call and its packing per 10x10 image (+7% DQN updates/s on MinAtar),
//! on x86-64 with the pixels in the vector lanes ([`direct_rows`], 1.7x faster again);
//! the DQN backward pass ([`split_backward`]) takes the weight gradient the same way
//! ([`backward_direct`], +3%), without building the batch's patch rows.
//!
//! Images run in parallel with rayon, each product on its task's thread.
//! Only `flex` f32 tensors take this path ([`usable`]); on other backends [`conv_same`] is burn's
//! `conv2d` with the same padding (the same function; `cli/tests/gpu_path.rs` compares the two).

use burn::backend::autodiff::Autodiff;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::tensor::FloatTensor;
use burn::backend::{Dispatch, Flex, backend_extension};
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{DType, Tensor};
use rayon::prelude::*;

use crate::flex_util::{is_flex, lane_sum, tensor, with_values};
use crate::gemm::{Mat, matmul_into};

/// The backend extension: `x [B,C,H,W]`, `weight [O,C,k,k]` (odd `k`), `bias [O]` →
/// `[B,O,H,W]`.
#[backend_extension(Autodiff, Flex)]
pub trait ConvSame: burn::backend::Backend {
    /// Stride 1, zero padding `k/2` on every side, one group, plus the bias.
    fn conv_same(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
    ) -> FloatTensor<Self>;
}

/// Whether [`conv_same`] can run `x` with a `k`x`k` kernel: an f32 tensor on the flex backend
/// (with or without autodiff).
pub fn usable(x: &Tensor<4>, k: usize) -> bool {
    is_flex(&x.device()) && x.dtype() == DType::F32 && k % 2 == 1
}

/// `x [B,C,H,W]` convolved with `weight [O,C,k,k]` (odd `k`), stride 1, "same" zero padding,
/// plus `bias [O]` → `[B,O,H,W]`. Differentiable in all three. The hand-written passes where
/// [`usable`] says so, else burn's `conv2d`.
pub fn conv_same(x: Tensor<4>, weight: Tensor<4>, bias: Tensor<1>) -> Tensor<4> {
    let [_, _, k, _] = weight.dims();
    if !usable(&x, k) {
        let p = k / 2;
        let options = ConvOptions::new([1, 1], [p, p], [1, 1], 1);
        return conv2d(x, weight, Some(bias), options); // [B, O, H, W]
    }
    Tensor::from_dispatch(<Dispatch as ConvSame>::conv_same(
        x.into_dispatch(),
        weight.into_dispatch(),
        bias.into_dispatch(),
    ))
}

/// Sizes of one convolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Dims {
    pub b: usize,
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub o: usize,
    pub k: usize,
}

impl Dims {
    pub(crate) fn of(x: &FloatTensor<Flex>, weight: &FloatTensor<Flex>) -> Dims {
        let xs = x.layout().shape();
        let ws = weight.layout().shape();
        assert!(
            xs.num_dims() == 4 && ws.num_dims() == 4 && xs[1] == ws[1] && ws[2] == ws[3],
            "conv_same: input {xs:?} and weight {ws:?} do not fit"
        );
        Dims {
            b: xs[0],
            c: xs[1],
            h: xs[2],
            w: xs[3],
            o: ws[0],
            k: ws[2],
        }
    }
    /// Pixels per image.
    pub(crate) fn hw(&self) -> usize {
        self.h * self.w
    }
    /// Columns of the patch matrix: `k·k·C`.
    pub(crate) fn kc(&self) -> usize {
        self.k * self.k * self.c
    }
}

/// Calls `f(pixel, tap, source, n)` for every output pixel `(y, x)` of one image (as `y·W + x`)
/// and every kernel row `i` that stays inside the image, with the run of `n` taps `(i, j₀..j₀+n)`
/// of that row that read inside it (`tap = i·k + j₀`), starting at input pixel `source =
/// (y+i−k/2, x+j₀−k/2)`. Taps outside the image are the zero padding and are skipped. A run's
/// taps are adjacent both in the patch row (`tap·C ..`) and in the NHWC image (`source·C ..`),
/// so each is one copy of `n·C` values.
fn for_each_tap_run(d: Dims, mut f: impl FnMut(usize, usize, usize, usize)) {
    let p = d.k / 2;
    for y in 0..d.h {
        for x in 0..d.w {
            // Taps j with 0 ≤ x + j − p < W.
            let (j0, j1) = (p.saturating_sub(x), (d.w + p - x).min(d.k));
            for i in 0..d.k {
                let Some(sy) = (y + i).checked_sub(p).filter(|&sy| sy < d.h) else {
                    continue;
                };
                f(y * d.w + x, i * d.k + j0, sy * d.w + x + j0 - p, j1 - j0);
            }
        }
    }
}

/// Buffers of one rayon task, reused for each of its images.
#[derive(Default)]
struct Scratch {
    /// One image as NHWC `[H·W, C]`.
    nhwc: Vec<f32>,
    /// One image's patch rows `[H·W, k·k·C]`.
    cols: Vec<f32>,
    /// Their gradient.
    dcols: Vec<f32>,
    /// One image zero-padded by `k/2` on every side, `[C, H+2p, W+2p]` ([`forward_direct`]).
    padded: Vec<f32>,
    /// Offsets into `padded`: each pixel's window, each patch column's tap.
    bases: Vec<usize>,
    taps: Vec<usize>,
    /// [`direct_rows`]'s sums.
    sums: Vec<f32>,
    /// The sizes `bases` and `taps` were built for.
    offsets_for: Option<Dims>,
}

/// `img [C,H,W]` → its patch rows `[H·W, k·k·C]` in `s.cols`: row `(y,x)`, column
/// `(i·k + j)·C + c` holds `img[c, y+i−k/2, x+j−k/2]` (0 outside the image).
fn im2col_image(img: &[f32], d: Dims, s: &mut Scratch) {
    s.cols.clear();
    s.cols.resize(d.hw() * d.kc(), 0.0);
    im2col_into(img, d, &mut s.nhwc, &mut s.cols);
}

/// [`im2col_image`] into `cols` (`[H·W, k·k·C]`, zero where the patches reach outside the image;
/// nothing else is written there), with `nhwc` as scratch.
fn im2col_into(img: &[f32], d: Dims, nhwc: &mut Vec<f32>, cols: &mut [f32]) {
    let (hw, kc) = (d.hw(), d.kc());
    // The image as NHWC, so that each run of taps is C·n contiguous values.
    nhwc.clear();
    nhwc.resize(hw * d.c, 0.0);
    for (ch, plane) in img.chunks_exact(hw).enumerate() {
        for (dst, &v) in nhwc[ch..].iter_mut().step_by(d.c).zip(plane) {
            *dst = v;
        }
    }
    for_each_tap_run(d, |px, tap, src, n| {
        cols[px * kc + tap * d.c..][..n * d.c].copy_from_slice(&nhwc[src * d.c..][..n * d.c]);
    });
}

/// The inverse scatter of [`im2col_image`]: patch-row gradients `[H·W, k·k·C]` summed
/// back onto the image `[C,H,W]` (`img`, every element written; `nhwc` is scratch).
fn col2im_image(rows: &[f32], d: Dims, img: &mut [f32], nhwc: &mut Vec<f32>) {
    let (hw, kc) = (d.hw(), d.kc());
    nhwc.clear();
    nhwc.resize(hw * d.c, 0.0);
    for_each_tap_run(d, |px, tap, dst, n| {
        let src = &rows[px * kc + tap * d.c..][..n * d.c];
        for (a, &g) in nhwc[dst * d.c..][..n * d.c].iter_mut().zip(src) {
            *a += g;
        }
    });
    for (ch, plane) in img.chunks_exact_mut(hw).enumerate() {
        for (px, v) in plane.iter_mut().enumerate() {
            *v = nhwc[px * d.c + ch];
        }
    }
}

/// Calls `f(w, m)` for every weight entry: its offset `w` in `weight [O,C,k,k]` and its offset
/// `m` in the weight matrix `Wm [k·k·C, O]` (row `(i·k + j)·C + c`, column `o`).
fn for_each_weight(d: Dims, mut f: impl FnMut(usize, usize)) {
    let kk = d.k * d.k;
    for oc in 0..d.o {
        for ch in 0..d.c {
            for t in 0..kk {
                f((oc * d.c + ch) * kk + t, (t * d.c + ch) * d.o + oc);
            }
        }
    }
}

/// `weight [O,C,k,k]` → `Wm [k·k·C, O]`.
pub(crate) fn weight_matrix(w: &[f32], d: Dims) -> Vec<f32> {
    let mut m = vec![0f32; d.kc() * d.o];
    for_each_weight(d, |wi, mi| m[mi] = w[wi]);
    m
}

/// `dWm [k·k·C, O]` → the weight's gradient `[O,C,k,k]`.
fn weight_from_matrix(m: &[f32], d: Dims) -> Vec<f32> {
    let mut w = vec![0f32; d.kc() * d.o];
    for_each_weight(d, |wi, mi| w[wi] = m[mi]);
    w
}

/// Images per rayon task, so that a task is worth its scheduling (and its scratch buffers).
const IMAGES_PER_TASK: usize = 4;

/// The backward pass sums the weight gradient in this many fixed groups of images (fewer when a
/// group would have under [`IMAGES_PER_TASK`] images); a constant, so that the summation order,
/// and so the trained weights, depend on the batch size only, never on the threads.
const GRADIENT_GROUPS: usize = 8;

/// The forward pass: the output `[B,O,H,W]` (the bias, plus `Wmᵀ · colsᵀ` written straight into
/// each image's `[O, H·W]` planes) and the weight matrix the backward pass needs. Each image's
/// patch rows are built in its task's scratch, used, and dropped: the backward pass builds them
/// again from `x`, where storing them for the whole batch would be `k·k` times the input
/// (115 MB for a 32-channel 28x28 batch of 128) streamed through memory three times.
fn forward(
    x: FloatTensor<Flex>,
    weight: FloatTensor<Flex>,
    bias: FloatTensor<Flex>,
) -> (FloatTensor<Flex>, FloatTensor<Flex>, Dims) {
    let (y, wm, d) = forward_values(&x, weight, bias);
    (
        tensor(y, vec![d.b, d.o, d.h, d.w]),
        tensor(wm, vec![d.kc(), d.o]),
        d,
    )
}

/// [`forward`]'s values: the output `[B,O,H,W]` and the weight matrix `[k·k·C, O]` as vectors,
/// images on rayon's threads. (The DQN Q-net, whose batches are too small for rayon, calls
/// [`forward_images_onto`] on halves of its batch instead.)
fn forward_values(
    x: &FloatTensor<Flex>,
    weight: FloatTensor<Flex>,
    bias: FloatTensor<Flex>,
) -> (Vec<f32>, Vec<f32>, Dims) {
    let d = Dims::of(x, &weight);
    let hw = d.hw();
    let wm = with_values(weight, |v| weight_matrix(v, d)); // [kkC, O]
    let bias = with_values(bias, |b| b.to_vec());
    assert_eq!(
        bias.len(),
        d.o,
        "conv_same: bias of {} for {} channels",
        bias.len(),
        d.o
    );
    let mut y = vec![0f32; d.b * d.o * hw]; // [B, O, HW]
    with_values(x.clone(), |xs| {
        y.par_chunks_mut(d.o * hw)
            .zip(xs.par_chunks(d.c * hw))
            .with_min_len(IMAGES_PER_TASK)
            .for_each_init(Scratch::default, |s, (y, img)| {
                forward_image(img, &wm, &bias, d, y, s)
            })
    });
    (y, wm, d)
}

/// One image `img [C,H,W]` → `y [O, H·W]` = the bias + `Wmᵀ [O, kkC] · colsᵀ [kkC, HW]`.
fn forward_image(img: &[f32], wm: &[f32], bias: &[f32], d: Dims, y: &mut [f32], s: &mut Scratch) {
    for (plane, &b) in y.chunks_exact_mut(d.hw()).zip(bias) {
        plane.fill(b);
    }
    forward_image_onto(img, wm, d, y, s);
}

/// `y [O, H·W] += Wmᵀ [O, kkC] · colsᵀ [kkC, HW]` for one image `img [C,H,W]`: the conv added
/// onto what `y` holds (its bias). Directly ([`forward_direct`]) where that gives gemm's bits,
/// else through the patch rows and one gemm product.
fn forward_image_onto(img: &[f32], wm: &[f32], d: Dims, y: &mut [f32], s: &mut Scratch) {
    if direct_ok(d) {
        forward_direct(img, wm, d, y, s);
    } else {
        forward_gemm(img, wm, d, y, s);
    }
}

/// [`forward_image_onto`] through the patch rows and one gemm product.
fn forward_gemm(img: &[f32], wm: &[f32], d: Dims, y: &mut [f32], s: &mut Scratch) {
    let (hw, kc) = (d.hw(), d.kc());
    im2col_image(img, d, s); // [HW, kkC]
    let lhs = Mat::row_major(wm, kc, d.o).t();
    let rhs = Mat::row_major(&s.cols, hw, kc).t();
    matmul_into(y, (hw, 1), lhs, rhs, true, false);
}

/// Whether [`forward_direct`] runs this conv: 8, 16, 24 or 32 output channels, a patch of at
/// most 512 values (one block of gemm's inner dimension, so gemm sums each output in one
/// chain), and a CPU with AVX2 and FMA (where gemm's kernels fuse each multiply-add; on others
/// they may round twice, and only gemm itself gives its bits).
///
/// Products gemm hands to other kernels are left to gemm: a patch of 1 or 2 values (its `gevv`
/// adds each product onto the destination in turn) and 1-pixel images (its `gemv`).
fn direct_ok(d: Dims) -> bool {
    d.o.is_multiple_of(8)
        && (8..=32).contains(&d.o)
        && (3..=512).contains(&d.kc())
        && d.hw() > 1
        && has_fma()
}

/// AVX2 and FMA: where gemm takes its fused `x86-v3` (or `x86-v4`) kernels.
#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
fn has_fma() -> bool {
    std::arch::is_x86_feature_detected!("fma") && std::arch::is_x86_feature_detected!("avx2")
}

#[cfg(not(any(target_arch = "x86", target_arch = "x86_64")))]
fn has_fma() -> bool {
    false
}

/// Pixels per block of [`forward_direct`]'s kernel.
const PX: usize = 4;

/// `y [O, H·W] += Wmᵀ · colsᵀ` for one image without building its patch rows or calling gemm:
/// the image zero-padded once, then for each block of [`PX`] pixels and all `O` outputs (`NV`
/// vectors of 8), one fused multiply-add per patch column into accumulators that start at 0, in
/// the columns' order, then added onto `y`. That is what gemm's kernels do for each output (one
/// accumulator, the inner dimension in order, one block of it, `dst + acc` at the end), so the
/// values are the same bits; at MinAtar's sizes (a 10x10 image, 36 patch values, 16 outputs)
/// the patch rows and a gemm call per image cost more than the arithmetic.
fn forward_direct(img: &[f32], wm: &[f32], d: Dims, y: &mut [f32], s: &mut Scratch) {
    pad_image(img, d, s);
    if rows_ok(d) {
        direct_rows(&s.padded, &s.taps, wm, d, y, &mut s.sums);
        return;
    }
    pulp::Arch::new().dispatch(Direct {
        padded: &s.padded,
        bases: &s.bases,
        taps: &s.taps,
        wm,
        hw: d.hw(),
        y,
    });
}

/// `img [C,H,W]` zero-padded by `k/2` into `s.padded`, with each pixel's window offset in
/// `s.bases` and each patch column's tap offset in `s.taps`.
fn pad_image(img: &[f32], d: Dims, s: &mut Scratch) {
    let (hw, p) = (d.hw(), d.k / 2);
    let (ph, pw) = (d.h + 2 * p, d.w + 2 * p);
    s.padded.clear();
    s.padded.resize(d.c * ph * pw + ROW_SLACK, 0.0);
    for (ch, plane) in img.chunks_exact(hw).enumerate() {
        for (row, src) in plane.chunks_exact(d.w).enumerate() {
            let at = ch * ph * pw + (row + p) * pw + p;
            s.padded[at..at + d.w].copy_from_slice(src);
        }
    }
    // Pixel (y, x)'s window starts at padded (y, x); tap (i, j) of channel c is `c·ph·pw + i·pw
    // + j` further, in the patch columns' order (i, j, c). They depend on the sizes alone (not
    // the batch's): built once for a run of images.
    if s.offsets_for == Some(Dims { b: 0, ..d }) {
        return;
    }
    s.offsets_for = Some(Dims { b: 0, ..d });
    s.bases.clear();
    s.bases.extend((0..hw).map(|px| (px / d.w) * pw + px % d.w));
    s.taps.clear();
    for i in 0..d.k {
        for j in 0..d.k {
            s.taps.extend((0..d.c).map(|ch| ch * ph * pw + i * pw + j));
        }
    }
}

/// [`forward_direct`]'s loop, run through `pulp`'s dispatch so that it is compiled with the
/// CPU's FMA and vector width (a closure there was not inlined, and `mul_add` became a call).
struct Direct<'a> {
    padded: &'a [f32],
    bases: &'a [usize],
    taps: &'a [usize],
    wm: &'a [f32],
    hw: usize,
    y: &'a mut [f32],
}

impl pulp::WithSimd for Direct<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _: S) {
        let Direct {
            padded,
            bases,
            taps,
            wm,
            hw,
            y,
        } = self;
        match wm.len() / taps.len().max(1) / 8 {
            1 => direct_kernel::<1>(padded, bases, taps, wm, hw, y),
            2 => direct_kernel::<2>(padded, bases, taps, wm, hw, y),
            3 => direct_kernel::<3>(padded, bases, taps, wm, hw, y),
            _ => direct_kernel::<4>(padded, bases, taps, wm, hw, y),
        }
    }
}

/// [`forward_direct`]'s loop for `8·NV` outputs: blocks of [`PX`] pixels, then the pixels left
/// one by one. Every bound is a constant, so that the accumulators stay in registers.
#[inline(always)]
fn direct_kernel<const NV: usize>(
    padded: &[f32],
    bases: &[usize],
    taps: &[usize],
    wm: &[f32],
    hw: usize,
    y: &mut [f32],
) {
    let blocks = bases.chunks_exact(PX);
    let rest = blocks.remainder();
    for (i, block) in blocks.enumerate() {
        let block: &[usize; PX] = block.try_into().expect("a block");
        direct_block::<NV, PX>(padded, block, taps, wm, hw, i * PX, y);
    }
    let first = bases.len() - rest.len();
    for (i, &base) in rest.iter().enumerate() {
        direct_block::<NV, 1>(padded, &[base], taps, wm, hw, first + i, y);
    }
}

/// `P` pixels (windows at `bases`, the first pixel `px`) of all `8·NV` outputs.
#[inline(always)]
fn direct_block<const NV: usize, const P: usize>(
    padded: &[f32],
    bases: &[usize; P],
    taps: &[usize],
    wm: &[f32],
    hw: usize,
    px: usize,
    y: &mut [f32],
) {
    let mut acc = [[[0f32; 8]; NV]; P];
    for (row, &tap) in wm.chunks_exact(8 * NV).zip(taps) {
        let mut w = [[0f32; 8]; NV];
        for (v, w) in w.iter_mut().enumerate() {
            w.copy_from_slice(&row[8 * v..8 * v + 8]);
        }
        for p in 0..P {
            let x = padded[bases[p] + tap];
            for v in 0..NV {
                for l in 0..8 {
                    acc[p][v][l] = w[v][l].mul_add(x, acc[p][v][l]);
                }
            }
        }
    }
    for (p, acc) in acc.iter().enumerate() {
        for (oc, &a) in acc.iter().flatten().enumerate() {
            y[oc * hw + px + p] += a;
        }
    }
}

/// Output channels per block of [`ROW_BLOCK`] vectors in [`direct_rows`] (the vectors left after
/// those blocks take 4 or 8 at a time).
const ROW_CHANNELS: usize = 2;
/// Zeros after the padded image, for the lanes of [`direct_rows`]'s last vector past the image.
const ROW_SLACK: usize = 8;

/// Whether [`direct_rows`] runs this image: x86-64 (whose AVX2 and FMA [`direct_ok`] has
/// checked) and channels in blocks of [`ROW_CHANNELS`].
fn rows_ok(d: Dims) -> bool {
    cfg!(target_arch = "x86_64") && d.o.is_multiple_of(ROW_CHANNELS)
}

/// [`forward_direct`]'s loop with the pixels in the vector lanes. The sums are taken at every
/// position of the padded image's rows (pixel `(r, c)` at `r·pw + c`, so that a pixel's tap is
/// the same offset from it as in [`Direct`], and 8 adjacent positions are one vector load), for
/// a few outputs at a time ([`ROW_CHANNELS`] for blocks of [`ROW_BLOCK`] vectors, more for the
/// vectors left): one fused multiply-add per patch column, from 0, in the columns' order, into
/// `sums`; then each pixel's sum is added onto `y`. Each output is the same
/// chain as in [`Direct`], so the bits are the same; but the inputs are loads rather than
/// broadcasts and the accumulators go out as vectors rather than one value at a time. The
/// positions in the padding columns (2 of every 12 at MinAtar's sizes) are computed and dropped.
/// Twice as fast as [`Direct`] at MinAtar's sizes (2.2 against 3.9 µs an image, padding
/// included). Written with AVX intrinsics: the array form [`Direct`] uses did not vectorize it
/// well (it was slower than [`Direct`]).
#[cfg(target_arch = "x86_64")]
fn direct_rows(
    padded: &[f32],
    taps: &[usize],
    wm: &[f32],
    d: Dims,
    y: &mut [f32],
    sums: &mut Vec<f32>,
) {
    let (_, vectors) = rows_span(d);
    sums.resize(d.o * 8 * vectors, 0.0);
    // Every index the kernel reads or writes is in bounds (checked here once, so that the loop
    // needs no checks): the padded image has [`ROW_SLACK`] values after its end for the last
    // vector's lanes past the last pixel, at the largest tap.
    assert!(rows_ok(d) && has_fma());
    assert_eq!(taps.len(), d.kc());
    assert!(taps.iter().all(|&t| 8 * vectors + t <= padded.len()));
    assert_eq!(wm.len(), d.kc() * d.o);
    assert_eq!(y.len(), d.o * d.hw());
    #[allow(unsafe_code)]
    // SAFETY: AVX2 and FMA are present and the bounds hold (asserted above).
    unsafe {
        rows_avx(padded, taps, wm, d, y, sums)
    }
}

/// [`direct_rows`]'s layout: the padded row width, and the vectors of 8 sums that cover every
/// pixel when the sums are taken at every position of the padded rows (pixel `(r, c)` at `r·pw
/// + c`; the last row's padding is not needed).
fn rows_span(d: Dims) -> (usize, usize) {
    let pw = d.w + 2 * (d.k / 2);
    (pw, ((d.h - 1) * pw + d.w).div_ceil(8))
}

#[cfg(not(target_arch = "x86_64"))]
fn direct_rows(_: &[f32], _: &[usize], _: &[f32], _: Dims, _: &mut [f32], _: &mut Vec<f32>) {
    unreachable!("rows_ok is false off x86-64")
}

/// Vectors per block of [`direct_rows`]'s kernel: with [`ROW_CHANNELS`] outputs, 10
/// accumulators, enough chains in flight to keep both FMA units busy, and with the block's loads
/// and broadcast all 16 registers (MinAtar's 15 vectors are 3 blocks; 4 channels by 2 vectors
/// took 10% longer, 4 by 3 twice as long: out of registers).
const ROW_BLOCK: usize = 5;

/// [`direct_rows`]'s kernel.
///
/// # Safety
/// The CPU has AVX2 and FMA, and the bounds [`direct_rows`] asserts hold.
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
#[target_feature(enable = "avx2,fma")]
unsafe fn rows_avx(
    padded: &[f32],
    taps: &[usize],
    wm: &[f32],
    d: Dims,
    y: &mut [f32],
    sums: &mut [f32],
) {
    let (pw, vectors) = rows_span(d);
    let o = d.o;
    // SAFETY (each call below): as this function's.
    let mut v0 = 0;
    while v0 + ROW_BLOCK <= vectors {
        for o0 in (0..o).step_by(ROW_CHANNELS) {
            unsafe { rows_block::<ROW_BLOCK, ROW_CHANNELS>(padded, taps, wm, o, o0, v0, sums) };
        }
        v0 += ROW_BLOCK;
    }
    // The vectors left, with more channels at a time so that 8 or more sums are in flight.
    let rest = vectors - v0;
    macro_rules! rest {
        ($pv:literal, $ch:literal) => {
            for o0 in (0..o).step_by($ch) {
                unsafe { rows_block::<$pv, $ch>(padded, taps, wm, o, o0, v0, sums) };
            }
        };
    }
    match (rest, o.is_multiple_of(8), o.is_multiple_of(4)) {
        (0, ..) => {}
        (1, true, _) => rest!(1, 8),
        (1, _, true) | (2, _, true) => rest!(2, 4),
        (1, ..) | (2, ..) => rest!(2, 2),
        (3, _, true) => rest!(3, 4),
        (3, ..) => rest!(3, 2),
        _ => rest!(4, 2),
    }
    // Onto `y`: row by row, the sums of the row's pixels (the padded columns are dropped).
    for (c, sums) in sums.chunks_exact(8 * vectors).enumerate() {
        let plane = &mut y[c * d.hw()..(c + 1) * d.hw()];
        for (row, out) in plane.chunks_exact_mut(d.w).enumerate() {
            unsafe { add_row(out, &sums[row * pw..row * pw + d.w]) };
        }
    }
}

/// `out += sums` (equal lengths), by vectors of 8; a row of at least 8 whose length is not a
/// multiple of 8 ends with a vector that overlaps the one before, both loaded before either is
/// stored (the overlap is written twice with the same sums).
///
/// # Safety
/// The CPU has AVX2.
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn add_row(out: &mut [f32], sums: &[f32]) {
    use std::arch::x86_64::*;
    let n = out.len();
    assert_eq!(n, sums.len());
    if n < 8 {
        for (y, &a) in out.iter_mut().zip(sums) {
            *y += a;
        }
        return;
    }
    let (o, s) = (out.as_mut_ptr(), sums.as_ptr());
    let last = n - 8;
    // SAFETY: every vector is `at..at + 8` with `at ≤ n − 8`.
    unsafe {
        let tail = _mm256_add_ps(_mm256_loadu_ps(o.add(last)), _mm256_loadu_ps(s.add(last)));
        let mut at = 0;
        while at < last {
            let v = _mm256_add_ps(_mm256_loadu_ps(o.add(at)), _mm256_loadu_ps(s.add(at)));
            _mm256_storeu_ps(o.add(at), v);
            at += 8;
        }
        _mm256_storeu_ps(o.add(last), tail);
    }
}

/// `PV` vectors of [`direct_rows`]'s sums, from position `8·v0`, for outputs `o0..o0 + CH`
/// (`sums` holds each output's positions in turn).
///
/// # Safety
/// The CPU has AVX2 and FMA, and the bounds [`direct_rows`] asserts hold.
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn rows_block<const PV: usize, const CH: usize>(
    padded: &[f32],
    taps: &[usize],
    wm: &[f32],
    o: usize,
    o0: usize,
    v0: usize,
    sums: &mut [f32],
) {
    use std::arch::x86_64::*;
    let stride = sums.len() / o;
    let (src, w) = (padded.as_ptr(), wm.as_ptr());
    let mut acc = [[_mm256_setzero_ps(); PV]; CH];
    for (t, &tap) in taps.iter().enumerate() {
        let base = 8 * v0 + tap;
        let mut x = [_mm256_setzero_ps(); PV];
        for (v, x) in x.iter_mut().enumerate() {
            // SAFETY: `base + 8·v + 8 ≤ padded.len()` ([`direct_rows`]'s assert).
            *x = unsafe { _mm256_loadu_ps(src.add(base + 8 * v)) };
        }
        for (c, acc) in acc.iter_mut().enumerate() {
            // SAFETY: `t·o + o0 + c < wm.len()` (`o0 + CH ≤ o`, asserted by the caller's split).
            let wc = unsafe { _mm256_broadcast_ss(&*w.add(t * o + o0 + c)) };
            for v in 0..PV {
                acc[v] = _mm256_fmadd_ps(wc, x[v], acc[v]);
            }
        }
    }
    for (c, acc) in acc.iter().enumerate() {
        let sums = &mut sums[(o0 + c) * stride..(o0 + c + 1) * stride];
        for (v, &a) in acc.iter().enumerate() {
            let at = 8 * (v0 + v);
            assert!(at + 8 <= sums.len());
            // SAFETY: in bounds (asserted).
            unsafe { _mm256_storeu_ps(sums.as_mut_ptr().add(at), a) };
        }
    }
}

/// Whether [`split_backward`] takes the weight gradient directly ([`backward_direct`]): output
/// channels in two halves of 8 or 16, images of at most 512 pixels (the product's inner
/// dimension in one block) and at least 3 (gemm's `gevv` takes fewer), a patch of more than 16
/// values (gemm's small-output kernels, which sum differently, take none of these products), and
/// AVX2 with FMA.
fn backward_direct_ok(d: Dims) -> bool {
    (d.o == 16 || d.o == 32) && (3..=512).contains(&d.hw()) && d.kc() > 16 && has_fma()
}

/// Patch columns per block of [`backward_direct`]'s kernel.
const KB: usize = 4;

/// `dWm [kkC, m] += colsᵀ · dyᵀ` for one image and `m` output channels (`dy_t` `[HW, m]`), from
/// the padded image in `s` without patch rows: for each patch column and output, one fused
/// multiply-add chain over the pixels in order, from 0, then added onto `dwm`, which is gemm's
/// arithmetic for that product (the same bits).
fn backward_direct(s: &Scratch, dy_t: &[f32], dwm: &mut [f32]) {
    pulp::Arch::new().dispatch(BackDirect {
        padded: &s.padded,
        bases: &s.bases,
        taps: &s.taps,
        dy_t,
        dwm,
    });
}

struct BackDirect<'a> {
    padded: &'a [f32],
    bases: &'a [usize],
    taps: &'a [usize],
    dy_t: &'a [f32],
    dwm: &'a mut [f32],
}

impl pulp::WithSimd for BackDirect<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _: S) {
        let BackDirect {
            padded,
            bases,
            taps,
            dy_t,
            dwm,
        } = self;
        if dwm.len() / taps.len().max(1) == 8 {
            back_kernel::<1>(padded, bases, taps, dy_t, dwm)
        } else {
            back_kernel::<2>(padded, bases, taps, dy_t, dwm)
        }
    }
}

/// [`backward_direct`]'s loop for `8·NV` outputs: blocks of [`KB`] patch columns, then the
/// columns left one by one.
#[inline(always)]
fn back_kernel<const NV: usize>(
    padded: &[f32],
    bases: &[usize],
    taps: &[usize],
    dy_t: &[f32],
    dwm: &mut [f32],
) {
    let m = 8 * NV;
    let blocks = taps.chunks_exact(KB);
    let rest = blocks.remainder();
    for (i, block) in blocks.enumerate() {
        let block: &[usize; KB] = block.try_into().expect("a block");
        back_block::<NV, KB>(padded, bases, block, dy_t, &mut dwm[i * KB * m..][..KB * m]);
    }
    let first = taps.len() - rest.len();
    for (i, &tap) in rest.iter().enumerate() {
        back_block::<NV, 1>(
            padded,
            bases,
            &[tap],
            dy_t,
            &mut dwm[(first + i) * m..][..m],
        );
    }
}

/// `Q` patch columns (taps `taps`) of `dWm` (rows `dwm`, `8·NV` outputs each).
#[inline(always)]
fn back_block<const NV: usize, const Q: usize>(
    padded: &[f32],
    bases: &[usize],
    taps: &[usize; Q],
    dy_t: &[f32],
    dwm: &mut [f32],
) {
    let mut acc = [[[0f32; 8]; NV]; Q];
    for (g, &base) in dy_t.chunks_exact(8 * NV).zip(bases) {
        let mut gv = [[0f32; 8]; NV];
        for (v, gv) in gv.iter_mut().enumerate() {
            gv.copy_from_slice(&g[8 * v..8 * v + 8]);
        }
        for q in 0..Q {
            let x = padded[base + taps[q]];
            for v in 0..NV {
                for l in 0..8 {
                    acc[q][v][l] = x.mul_add(gv[v][l], acc[q][v][l]);
                }
            }
        }
    }
    for (row, acc) in dwm.chunks_exact_mut(8 * NV).zip(&acc) {
        for (w, &a) in row.iter_mut().zip(acc.iter().flatten()) {
            *w += a;
        }
    }
}

/// [`forward_image_onto`] for each image of `xs` (`[n, C, H, W]`) onto `y` (`[n, O, H, W]`, each
/// plane holding its bias), in order, on the calling thread.
pub(crate) fn forward_images_onto(xs: &[f32], wm: &[f32], d: Dims, y: &mut [f32]) {
    let mut s = Scratch::default();
    for (y, img) in y.chunks_mut(d.o * d.hw()).zip(xs.chunks(d.c * d.hw())) {
        forward_image_onto(img, wm, d, y, &mut s);
    }
}

/// The backward pass from the output's gradient `dy [B,O,H,W]`: the gradients of the input
/// `[B,C,H,W]`, the weight `[O,C,k,k]` and the bias `[O]`. With `parallel`, per image on rayon's
/// threads: `dWm += colsᵀ · dyᵀ` (one partial sum per fixed group of images, added up in group
/// order at the end), `dcols = dyᵀ · Wmᵀ` into a scratch `[H·W, k·k·C]` that `col2im` folds
/// straight into the image's input gradient. Without, [`split_backward`].
pub(crate) fn backward(
    dy: &[f32],
    x: &[f32],
    wm: &[f32],
    d: Dims,
    want_dx: bool,
    parallel: bool,
) -> (Option<Vec<f32>>, Vec<f32>, Vec<f32>) {
    let (hw, kc) = (d.hw(), d.kc());
    // Without an input gradient, one unused element per image keeps the zip below uniform.
    let (mut dx, dx_per_image) = if want_dx {
        (vec![0f32; d.b * d.c * hw], d.c * hw)
    } else {
        (vec![0f32; d.b], 1)
    };
    let init = || (vec![0f32; kc * d.o], vec![0f64; d.o], Scratch::default());
    let step = |(mut dwm, mut db, mut s): (Vec<f32>, Vec<f64>, Scratch),
                ((dy, img), dx): ((&[f32], &[f32]), &mut [f32])| {
        let dy_t = Mat::row_major(dy, d.o, hw).t(); // [HW, O]
        im2col_image(img, d, &mut s); // [HW, kkC], as in the forward pass
        // dWm [kkC, O] += colsᵀ [kkC, HW] · dyᵀ [HW, O]
        matmul_into(
            &mut dwm,
            (d.o, 1),
            Mat::row_major(&s.cols, hw, kc).t(),
            dy_t,
            true,
            false,
        );
        for (db, plane) in db.iter_mut().zip(dy.chunks_exact(hw)) {
            *db += lane_sum(plane, |g| g);
        }
        if want_dx {
            input_grad_image(dy, wm, d, dx, &mut s);
        }
        (dwm, db, s)
    };
    // A run of images summed in image order: `(dWm, dbias)`, each image's `dx` written.
    let sum_images = |dy: &[f32], x: &[f32], dx: &mut [f32]| {
        let (dwm, db, _) = dy
            .chunks(d.o * hw)
            .zip(x.chunks(d.c * hw))
            .zip(dx.chunks_mut(dx_per_image))
            .fold(init(), &step);
        (dwm, db)
    };
    let partials = if parallel {
        // Fixed groups of images, each summed in image order, then the groups' partial sums
        // added in group order: the same bits whatever the threads and however rayon splits
        // the work (a `fold`/`reduce` over adaptive splits gave a different order, and so
        // different weights, from run to run).
        let per_group = d.b.div_ceil(GRADIENT_GROUPS).max(IMAGES_PER_TASK);
        let groups: Vec<(Vec<f32>, Vec<f64>)> = dy
            .par_chunks(per_group * d.o * hw)
            .zip(x.par_chunks(per_group * d.c * hw))
            .zip(dx.par_chunks_mut(per_group * dx_per_image))
            .map(|((dy, x), dx)| sum_images(dy, x, dx))
            .collect();
        groups
            .into_iter()
            .reduce(|(mut a, mut ab), (b, bb)| {
                a.iter_mut().zip(&b).for_each(|(a, b)| *a += b);
                ab.iter_mut().zip(&bb).for_each(|(a, b)| *a += b);
                (a, ab)
            })
            .unwrap_or_else(|| (vec![0f32; kc * d.o], vec![0f64; d.o]))
    } else {
        split_backward(dy, x, wm, d, want_dx.then_some(&mut dx[..]))
    };
    let (dwm, db) = partials;
    let dw = weight_from_matrix(&dwm, d); // [O, C, k, k]
    let db = db.iter().map(|&v| v as f32).collect(); // [O]
    (want_dx.then_some(dx), dw, db)
}

/// One image's input gradient `dx [C,H,W]` from its output gradient `dy [O, H·W]`: `dcols [HW,
/// kkC] = dyᵀ [HW, O] · Wmᵀ [O, kkC]` in `s.dcols`, which `col2im` folds into `dx`.
fn input_grad_image(dy: &[f32], wm: &[f32], d: Dims, dx: &mut [f32], s: &mut Scratch) {
    let (hw, kc) = (d.hw(), d.kc());
    s.dcols.resize(hw * kc, 0.0);
    let dy_t = Mat::row_major(dy, d.o, hw).t();
    let wm_t = Mat::row_major(wm, kc, d.o).t();
    matmul_into(&mut s.dcols, (kc, 1), dy_t, wm_t, false, false);
    col2im_image(&s.dcols, d, dx, &mut s.nhwc);
}

/// [`backward`] without rayon, for batches too small for it (the DQN Q-net's): the work split in
/// halves between the calling thread and [`crate::pair`]'s helper, three times. First every
/// image's patch rows (images in halves); then the weight and bias gradients with the output
/// channels in halves, each channel's sums running over the images in image order; then, where
/// `dx` is wanted, the input gradient (images in halves). Every value is summed in one order
/// whether or not the helper runs: the same bits with one thread or two.
fn split_backward(
    dy: &[f32],
    x: &[f32],
    wm: &[f32],
    d: Dims,
    dx: Option<&mut [f32]>,
) -> (Vec<f32>, Vec<f64>) {
    let (hw, kc) = (d.hw(), d.kc());
    let half = d.b / 2;
    let direct = backward_direct_ok(d);
    // The patch rows of every image (not needed when the weight gradient is taken directly).
    let mut cols = vec![0f32; if direct { 0 } else { d.b * hw * kc }]; // [B, HW, kkC]
    if !direct {
        let build = |xs: &[f32], cols: &mut [f32]| {
            let mut nhwc = Vec::new();
            for (img, c) in xs.chunks(d.c * hw).zip(cols.chunks_mut(hw * kc)) {
                im2col_into(img, d, &mut nhwc, c);
            }
        };
        let (ca, cb) = cols.split_at_mut(half * hw * kc);
        let (xa, xb) = x.split_at(half * d.c * hw);
        crate::pair::join(|| build(xa, ca), || build(xb, cb));
    }
    // Output channels o0..o1: dWm[:, o0..o1] [kkC, m] and their bias gradients.
    let channels = |o0: usize, o1: usize| {
        let m = o1 - o0;
        let mut dwm = vec![0f32; kc * m];
        let mut db = vec![0f64; m];
        let (mut s, mut dy_t) = (Scratch::default(), Vec::new());
        for (i, (dy, img)) in dy.chunks(d.o * hw).zip(x.chunks(d.c * hw)).enumerate() {
            let dy = &dy[o0 * hw..o1 * hw]; // [m, HW]
            if direct {
                dy_t.resize(hw * m, 0.0);
                for (oc, plane) in dy.chunks_exact(hw).enumerate() {
                    for (px, &g) in plane.iter().enumerate() {
                        dy_t[px * m + oc] = g;
                    }
                }
                pad_image(img, d, &mut s);
                backward_direct(&s, &dy_t, &mut dwm);
            } else {
                // dWm [kkC, m] += colsᵀ [kkC, HW] · dyᵀ [HW, m]
                let dy_t = Mat::row_major(dy, m, hw).t();
                let cols_t = Mat::row_major(&cols[i * hw * kc..][..hw * kc], hw, kc).t();
                matmul_into(&mut dwm, (m, 1), cols_t, dy_t, true, false);
            }
            for (db, plane) in db.iter_mut().zip(dy.chunks_exact(hw)) {
                *db += lane_sum(plane, |g| g);
            }
        }
        (dwm, db)
    };
    let oh = d.o / 2;
    let ((wa, ba), (wb, bb)) = crate::pair::join(|| channels(0, oh), || channels(oh, d.o));
    let mut dwm = vec![0f32; kc * d.o];
    let ob = d.o - oh;
    for (r, row) in dwm.chunks_exact_mut(d.o).enumerate() {
        row[..oh].copy_from_slice(&wa[r * oh..(r + 1) * oh]);
        row[oh..].copy_from_slice(&wb[r * ob..(r + 1) * ob]);
    }
    let db = ba.into_iter().chain(bb).collect();
    if let Some(dx) = dx {
        // Images in halves.
        let input = |dys: &[f32], dx: &mut [f32]| {
            let mut s = Scratch::default();
            for (dy, dx) in dys.chunks(d.o * hw).zip(dx.chunks_mut(d.c * hw)) {
                input_grad_image(dy, wm, d, dx, &mut s);
            }
        };
        let (da, db_) = dx.split_at_mut(half * d.c * hw);
        let (ya, yb) = dy.split_at(half * d.o * hw);
        crate::pair::join(|| input(ya, da), || input(yb, db_));
    }
    (dwm, db)
}

impl ConvSame for Flex {
    fn conv_same(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        forward(x, weight, bias).0
    }
}

#[derive(Debug)]
struct ConvSameBackward;

impl Backward<Flex, 3> for ConvSameBackward {
    /// The input `[B,C,H,W]`, the weight matrix `[k·k·C, O]`, the sizes.
    type State = (FloatTensor<Flex>, FloatTensor<Flex>, Dims);

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x, node_w, node_b] = ops.parents;
        let grad = grads.consume::<Flex>(&ops.node); // [B, O, H, W]
        let (x, wm, d) = ops.state;
        let (dx, dw, db) = with_values(grad, |dy| {
            with_values(x, |x| {
                with_values(wm, |wm| backward(dy, x, wm, d, node_x.is_some(), true))
            })
        });
        if let (Some(node), Some(dx)) = (node_x, dx) {
            grads.register::<Flex>(node.id, tensor(dx, vec![d.b, d.c, d.h, d.w]));
        }
        if let Some(node) = node_w {
            grads.register::<Flex>(node.id, tensor(dw, vec![d.o, d.c, d.k, d.k]));
        }
        if let Some(node) = node_b {
            grads.register::<Flex>(node.id, tensor(db, vec![d.o]));
        }
    }
}

impl<C: CheckpointStrategy> ConvSame for Autodiff<Flex, C> {
    fn conv_same(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        let kind = ConvSameBackward
            .prepare::<C>([x.node(), weight.node(), bias.node()])
            .compute_bound()
            .stateful();
        let x = x.into_primitive();
        let (y, wm, d) = forward(x.clone(), weight.into_primitive(), bias.into_primitive());
        match kind {
            OpsKind::Tracked(prep) => prep.finish((x, wm, d), y),
            OpsKind::UnTracked(prep) => prep.finish(y),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A source of values in [-0.5, 0.5) (a fixed linear congruential sequence).
    fn values(seed: u32) -> impl FnMut() -> f32 {
        let mut seed = seed;
        move || {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (seed >> 8) as f32 / (1u32 << 24) as f32 - 0.5
        }
    }

    fn bits(v: &[f32]) -> Vec<u32> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    /// The pixels-in-lanes conv gives gemm's bits at every image size from 1x2 to 7x12 (so
    /// every count of vectors left after the blocks of 5), for 8, 16, 24 and 32 outputs.
    #[test]
    fn rows_give_gemms_bits_at_every_size() {
        if !has_fma() || !cfg!(target_arch = "x86_64") {
            return;
        }
        let mut next = values(4242);
        for h in 1..=7 {
            for w in 2..=12 {
                for (c, o) in [(1, 8), (3, 16), (2, 24), (5, 32)] {
                    let d = Dims {
                        b: 1,
                        c,
                        h,
                        w,
                        o,
                        k: 3,
                    };
                    assert!(direct_ok(d) && rows_ok(d));
                    let img: Vec<f32> = (0..c * h * w).map(|_| next()).collect();
                    let wm: Vec<f32> = (0..d.kc() * o).map(|_| next()).collect();
                    let start: Vec<f32> = (0..o * h * w).map(|_| next()).collect();
                    let (mut a, mut b) = (start.clone(), start);
                    forward_direct(&img, &wm, d, &mut a, &mut Scratch::default());
                    forward_gemm(&img, &wm, d, &mut b, &mut Scratch::default());
                    assert_eq!(bits(&a), bits(&b), "C {c}, {h}x{w}, O {o}");
                }
            }
        }
    }

    /// The direct conv gives gemm's bits, for every output width it takes, several channel
    /// counts and kernels, images whose pixel count is not a multiple of the block, and rows
    /// narrower than a vector ([`Direct`], other kernels) and the pixels in the lanes ([`direct_rows`]).
    #[test]
    fn direct_forward_gives_gemms_bits() {
        if !has_fma() {
            return;
        }
        let mut next = values(12345);
        for (c, h, w, o, k) in [
            (4, 10, 10, 16, 3),
            (10, 10, 10, 16, 3),
            (1, 7, 9, 8, 5),
            (3, 5, 6, 24, 3),
            (7, 3, 3, 32, 1),
            (2, 2, 3, 8, 5),
            // Rows of one, two (overlapping) and three vectors, the pixels in the lanes.
            (2, 4, 8, 8, 3),
            (3, 9, 9, 16, 3),
            (2, 19, 19, 32, 3),
            (3, 6, 24, 8, 5),
            (17, 7, 16, 16, 3),
        ] {
            let d = Dims {
                b: 1,
                c,
                h,
                w,
                o,
                k,
            };
            assert!(direct_ok(d));
            // Shapes gemm gives to its other kernels stay with gemm.
            assert!(!direct_ok(Dims { c: 2, k: 1, ..d }) && !direct_ok(Dims { h: 1, w: 1, ..d }));
            let img: Vec<f32> = (0..c * h * w).map(|_| next()).collect();
            let wm: Vec<f32> = (0..d.kc() * o).map(|_| next()).collect();
            let bias: Vec<f32> = (0..o).map(|_| next()).collect();
            let start: Vec<f32> = bias.iter().flat_map(|&b| vec![b; h * w]).collect();
            let (mut a, mut b) = (start.clone(), start);
            forward_direct(&img, &wm, d, &mut a, &mut Scratch::default());
            forward_gemm(&img, &wm, d, &mut b, &mut Scratch::default());
            assert_eq!(bits(&a), bits(&b), "C {c}, {h}x{w}, O {o}, k {k}");
        }
    }

    /// The direct weight gradient gives gemm's bits: the same `dWm` partial sums over a few
    /// images, for both channel widths it takes.
    #[test]
    fn direct_weight_gradient_gives_gemms_bits() {
        if !has_fma() {
            return;
        }
        let mut next = values(777);
        for (c, h, w, o, k) in [
            (4, 10, 10, 16, 3),
            (10, 10, 10, 16, 3),
            (3, 7, 9, 32, 3),
            (2, 5, 5, 16, 5),
        ] {
            let d = Dims {
                b: 3,
                c,
                h,
                w,
                o,
                k,
            };
            assert!(backward_direct_ok(d));
            let (hw, kc) = (d.hw(), d.kc());
            let x: Vec<f32> = (0..d.b * c * hw).map(|_| next()).collect();
            let dy: Vec<f32> = (0..d.b * o * hw).map(|_| next()).collect();
            for (o0, o1) in [(0, o / 2), (o / 2, o)] {
                let m = o1 - o0;
                let (mut a, mut b) = (vec![0f32; kc * m], vec![0f32; kc * m]);
                let mut s = Scratch::default();
                for (dy, img) in dy.chunks(o * hw).zip(x.chunks(c * hw)) {
                    let dy = &dy[o0 * hw..o1 * hw];
                    let dy_t: Vec<f32> = (0..hw * m).map(|i| dy[(i % m) * hw + i / m]).collect();
                    pad_image(img, d, &mut s);
                    backward_direct(&s, &dy_t, &mut a);
                    im2col_image(img, d, &mut s);
                    let cols_t = Mat::row_major(&s.cols, hw, kc).t();
                    let dy_m = Mat::row_major(dy, m, hw).t();
                    matmul_into(&mut b, (m, 1), cols_t, dy_m, true, false);
                }
                assert_eq!(
                    bits(&a),
                    bits(&b),
                    "C {c}, {h}x{w}, O {o}, k {k}, {o0}..{o1}"
                );
            }
        }
    }
}
