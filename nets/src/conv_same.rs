//! A stride-1, "same"-padded 2-D convolution with hand-written forward and backward passes for
//! burn's `flex` CPU backend, added through burn's backend-extension API.
//!
//! burn_flex convolves one image (and one 512-pixel tile) at a time, so a 7x7 feature map meets
//! its matrix multiply as 49 columns, and it takes the weight gradient as a convolution over
//! transposed tensors. Here every pass is one large matmul over the whole batch:
//!
//! - forward: `cols = im2col(x)` `[B·H·W, k·k·C]` (NHWC patches), `y = cols · Wm` with
//!   `Wm` `[k·k·C, O]`;
//! - weight gradient: `dWm = colsᵀ · dy` (the forward's `cols` are kept for it);
//! - input gradient: `dcols = dy · Wmᵀ`, then `col2im` adds the `k·k` shifted taps back.
//!
//! The layout passes (NCHW ↔ rows, im2col, col2im) run in parallel over the batch with rayon.
//! Only `flex` tensors take this path ([`usable`]); other backends use burn's `conv2d`.

use burn::backend::autodiff::Autodiff;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::ops::FloatTensorOps;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Dispatch, Flex, backend_extension};
use burn::tensor::{DType, Tensor};
use rayon::prelude::*;

use crate::flex_util::{is_flex, tensor, with_values};

/// The backend extension: `x [B,C,H,W]`, `weight [O,C,k,k]` (odd `k`) → `[B,O,H,W]`.
#[backend_extension(Autodiff, Flex)]
pub trait ConvSame: burn::backend::Backend {
    /// Stride 1, zero padding `k/2` on every side, no bias, one group.
    fn conv_same(x: FloatTensor<Self>, weight: FloatTensor<Self>) -> FloatTensor<Self>;
}

/// Whether [`conv_same`] can run `x` with a `k`x`k` kernel: an f32 tensor on the flex backend
/// (with or without autodiff).
pub fn usable(x: &Tensor<4>, k: usize) -> bool {
    is_flex(&x.device()) && x.dtype() == DType::F32 && k % 2 == 1
}

/// `x [B,C,H,W]` convolved with `weight [O,C,k,k]`, stride 1, "same" zero padding →
/// `[B,O,H,W]`. Differentiable in both. Call only where [`usable`] says so.
pub fn conv_same(x: Tensor<4>, weight: Tensor<4>) -> Tensor<4> {
    Tensor::from_dispatch(<Dispatch as ConvSame>::conv_same(
        x.into_dispatch(),
        weight.into_dispatch(),
    ))
}

/// Sizes of one convolution.
#[derive(Debug, Clone, Copy)]
struct Dims {
    b: usize,
    c: usize,
    h: usize,
    w: usize,
    o: usize,
    k: usize,
}

impl Dims {
    fn of(x: &FloatTensor<Flex>, weight: &FloatTensor<Flex>) -> Dims {
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
    fn hw(&self) -> usize {
        self.h * self.w
    }
    /// Columns of the patch matrix: `k·k·C`.
    fn kc(&self) -> usize {
        self.k * self.k * self.c
    }
}

/// Calls `f(pixel, tap, source)` for every output pixel `(y, x)` of one image (as `y·W + x`),
/// every kernel tap `(i, j)` (as `i·k + j`) and the input pixel `(y+i−k/2, x+j−k/2)` it reads,
/// skipping taps that fall outside the image (the zero padding).
fn for_each_tap(d: Dims, mut f: impl FnMut(usize, usize, usize)) {
    let p = d.k / 2;
    for y in 0..d.h {
        for x in 0..d.w {
            for i in 0..d.k {
                let Some(sy) = (y + i).checked_sub(p).filter(|&sy| sy < d.h) else {
                    continue;
                };
                for j in 0..d.k {
                    let Some(sx) = (x + j).checked_sub(p).filter(|&sx| sx < d.w) else {
                        continue;
                    };
                    f(y * d.w + x, i * d.k + j, sy * d.w + sx);
                }
            }
        }
    }
}

/// `x [B,C,H,W]` → patch rows `[B·H·W, k·k·C]`: row `(b,y,x)`, column `(i·k + j)·C + c` holds
/// `x[b, c, y+i−k/2, x+j−k/2]` (0 outside the image).
fn im2col(x: &[f32], d: Dims) -> Vec<f32> {
    let (hw, kc) = (d.hw(), d.kc());
    let mut cols = vec![0f32; d.b * hw * kc];
    cols.par_chunks_mut(hw * kc)
        .zip(x.par_chunks(d.c * hw))
        .for_each(|(out, img)| {
            // The image as NHWC, so that each tap copies C contiguous values.
            let nhwc: Vec<f32> = (0..hw)
                .flat_map(|px| (0..d.c).map(move |ch| img[ch * hw + px]))
                .collect();
            for_each_tap(d, |px, tap, src| {
                out[px * kc + tap * d.c..][..d.c].copy_from_slice(&nhwc[src * d.c..][..d.c]);
            });
        });
    cols
}

/// The inverse scatter of [`im2col`]: patch-row gradients `[B·H·W, k·k·C]` summed back onto
/// the image `[B,C,H,W]`.
fn col2im(dcols: &[f32], d: Dims) -> Vec<f32> {
    let (hw, kc) = (d.hw(), d.kc());
    let mut dx = vec![0f32; d.b * d.c * hw];
    dx.par_chunks_mut(d.c * hw)
        .zip(dcols.par_chunks(hw * kc))
        .for_each(|(img, rows)| {
            let mut nhwc = vec![0f32; hw * d.c];
            for_each_tap(d, |px, tap, dst| {
                let src = &rows[px * kc + tap * d.c..][..d.c];
                for (a, &g) in nhwc[dst * d.c..][..d.c].iter_mut().zip(src) {
                    *a += g;
                }
            });
            for (ch, plane) in img.chunks_exact_mut(hw).enumerate() {
                for (px, v) in plane.iter_mut().enumerate() {
                    *v = nhwc[px * d.c + ch];
                }
            }
        });
    dx
}

/// `weight [O,C,k,k]` → `Wm [k·k·C, O]` (row `(i·k + j)·C + c`).
fn weight_matrix(w: &[f32], d: Dims) -> Vec<f32> {
    let (kk, kc) = (d.k * d.k, d.kc());
    let mut m = vec![0f32; kc * d.o];
    for oc in 0..d.o {
        for ch in 0..d.c {
            for t in 0..kk {
                m[(t * d.c + ch) * d.o + oc] = w[(oc * d.c + ch) * kk + t];
            }
        }
    }
    m
}

/// `dWm [k·k·C, O]` → the weight's gradient `[O,C,k,k]`.
fn weight_from_matrix(m: &[f32], d: Dims) -> Vec<f32> {
    let (kk, kc) = (d.k * d.k, d.kc());
    let mut w = vec![0f32; kc * d.o];
    for oc in 0..d.o {
        for ch in 0..d.c {
            for t in 0..kk {
                w[(oc * d.c + ch) * kk + t] = m[(t * d.c + ch) * d.o + oc];
            }
        }
    }
    w
}

/// Rows `[B·H·W, O]` → `[B,O,H,W]`.
fn rows_to_nchw(rows: &[f32], d: Dims) -> Vec<f32> {
    let hw = d.hw();
    let mut out = vec![0f32; d.b * d.o * hw];
    out.par_chunks_mut(d.o * hw)
        .zip(rows.par_chunks(hw * d.o))
        .for_each(|(img, r)| {
            for (px, row) in r.chunks_exact(d.o).enumerate() {
                for (oc, &v) in row.iter().enumerate() {
                    img[oc * hw + px] = v;
                }
            }
        });
    out
}

/// `[B,O,H,W]` → rows `[B·H·W, O]`.
fn nchw_to_rows(t: &[f32], d: Dims) -> Vec<f32> {
    let hw = d.hw();
    let mut rows = vec![0f32; d.b * hw * d.o];
    rows.par_chunks_mut(hw * d.o)
        .zip(t.par_chunks(d.o * hw))
        .for_each(|(r, img)| {
            for (oc, plane) in img.chunks_exact(hw).enumerate() {
                for (px, &v) in plane.iter().enumerate() {
                    r[px * d.o + oc] = v;
                }
            }
        });
    rows
}

/// The forward pass: the output `[B,O,H,W]`, and the patch matrix and weight matrix the backward
/// pass needs.
fn forward(
    x: FloatTensor<Flex>,
    weight: FloatTensor<Flex>,
) -> (
    FloatTensor<Flex>,
    FloatTensor<Flex>,
    FloatTensor<Flex>,
    Dims,
) {
    let d = Dims::of(&x, &weight);
    let cols = tensor(with_values(x, |v| im2col(v, d)), vec![d.b * d.hw(), d.kc()]); // [BHW, kkC]
    let wm = tensor(
        with_values(weight, |v| weight_matrix(v, d)),
        vec![d.kc(), d.o],
    ); // [kkC, O]
    let rows = Flex::float_matmul(cols.clone(), wm.clone()); // [BHW, O]
    let y = tensor(
        with_values(rows, |v| rows_to_nchw(v, d)),
        vec![d.b, d.o, d.h, d.w],
    ); // [B, O, H, W]
    (y, cols, wm, d)
}

impl ConvSame for Flex {
    fn conv_same(x: FloatTensor<Self>, weight: FloatTensor<Self>) -> FloatTensor<Self> {
        forward(x, weight).0
    }
}

#[derive(Debug)]
struct ConvSameBackward;

impl Backward<Flex, 2> for ConvSameBackward {
    /// The patch matrix `[B·H·W, k·k·C]`, the weight matrix `[k·k·C, O]`, the sizes.
    type State = (FloatTensor<Flex>, FloatTensor<Flex>, Dims);

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x, node_w] = ops.parents;
        let grad = grads.consume::<Flex>(&ops.node); // [B, O, H, W]
        let (cols, wm, d) = ops.state;
        let dy = tensor(
            with_values(grad, |v| nchw_to_rows(v, d)),
            vec![d.b * d.hw(), d.o],
        ); // [BHW, O]
        if let Some(node) = node_w {
            let dwm = Flex::float_matmul(Flex::float_transpose(cols), dy.clone()); // [kkC, O]
            let dw = with_values(dwm, |v| weight_from_matrix(v, d)); // [O, C, k, k]
            grads.register::<Flex>(node.id, tensor(dw, vec![d.o, d.c, d.k, d.k]));
        }
        if let Some(node) = node_x {
            let dcols = Flex::float_matmul(dy, Flex::float_transpose(wm)); // [BHW, kkC]
            let dx = with_values(dcols, |v| col2im(v, d)); // [B, C, H, W]
            grads.register::<Flex>(node.id, tensor(dx, vec![d.b, d.c, d.h, d.w]));
        }
    }
}

impl<C: CheckpointStrategy> ConvSame for Autodiff<Flex, C> {
    fn conv_same(x: FloatTensor<Self>, weight: FloatTensor<Self>) -> FloatTensor<Self> {
        match ConvSameBackward
            .prepare::<C>([x.node(), weight.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let (y, cols, wm, d) = forward(x.primitive().clone(), weight.primitive().clone());
                prep.finish((cols, wm, d), y)
            }
            OpsKind::UnTracked(prep) => {
                prep.finish(forward(x.into_primitive(), weight.into_primitive()).0)
            }
        }
    }
}
