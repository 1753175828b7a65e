//! MinAtar's DQN network as one op on burn's `flex` CPU backend, with a hand-written backward
//! pass, added through burn's backend-extension API: a stride-1 "same" conv with its bias, ReLU,
//! a hidden `Linear` and ReLU, the Q-value `Linear`. `[B,C,H,W]` → `[B,A]`.
//!
//! Built from burn's ops that network is a few dozen small tensor ops per forward pass (the
//! im2col view of the conv alone is a pad, `k·k` slices, a stack and a batched matmul), each with
//! a fresh output allocation and, while training, an autodiff node; at batch 32 that bookkeeping,
//! not arithmetic, was most of a DQN update. Here the forward pass is the conv of
//! [`crate::conv_same`] (per image one matmul into the output planes), then two `nets::gemm`
//! products written onto their biases, ReLUs in place; the backward pass is the transposed
//! products, the ReLU masks from the kept activations, and `conv_same`'s backward for the conv.
//! Each pass is split in two halves at places fixed by the sizes (the batch's rows, the hidden
//! weight's rows, the conv's output channels), run on the calling thread and [`crate::pair`]'s
//! helper, so an update uses both cores of a 2-core machine with the same values as on one.
//! The parameters are the modules' own (`Conv2d`, `Linear` weights `[in, out]`), so records,
//! optimizers and checkpoints see no difference. Summation order differs from burn's ops (the
//! conv's patch columns are ordered tap-major, the bias is the gemm's starting value), so values
//! agree with burn's to rounding, not bit for bit; the unit test compares values and gradients.
//!
//! Only `flex` f32 tensors take this path ([`usable`]); [`crate::QNet`] routes there on the CPU
//! when its encoder is a single plain conv block without batch norm or pooling and it has no
//! dueling head. On other backends [`qnet_conv_mlp`] is the same function in burn's ops
//! (`cli/tests/gpu_path.rs` compares the two).

use burn::backend::autodiff::Autodiff;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::tensor::FloatTensor;
use burn::backend::{Dispatch, Flex, backend_extension};
use burn::tensor::activation::relu;
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{DType, Tensor};
use std::mem::MaybeUninit;

use crate::conv_same::{self, Dims};
use crate::flex_util::{is_flex, tensor, with_values};
use crate::gemm::{Mat, Written, matmul_into, matmul_written, new_written, written_planes};

/// The backend extension (see the module docs).
#[backend_extension(Autodiff, Flex)]
pub trait QNetFused: burn::backend::Backend {
    /// `x [B,C,H,W]`, conv `[O,C,k,k]` + `[O]`, hidden `[O·H·W, N]` + `[N]`, output `[N, A]` +
    /// `[A]` → Q-values `[B, A]`.
    fn qnet_conv_mlp(
        x: FloatTensor<Self>,
        conv_w: FloatTensor<Self>,
        conv_b: FloatTensor<Self>,
        w1: FloatTensor<Self>,
        b1: FloatTensor<Self>,
        w2: FloatTensor<Self>,
        b2: FloatTensor<Self>,
    ) -> FloatTensor<Self>;
}

/// Whether [`qnet_conv_mlp`] can run on `x`: an f32 tensor on the flex backend (with or without
/// autodiff).
pub fn usable(x: &Tensor<4>) -> bool {
    is_flex(&x.device()) && x.dtype() == DType::F32
}

/// `relu(relu(conv(x) + conv_b) · w1 + b1) · w2 + b2` (see the module docs), differentiable in
/// every argument. The fused op where [`usable`] says so, else the same function in burn's ops
/// (`conv2d`, `matmul`).
pub fn qnet_conv_mlp(
    x: Tensor<4>,
    conv_w: Tensor<4>,
    conv_b: Tensor<1>,
    w1: Tensor<2>,
    b1: Tensor<1>,
    w2: Tensor<2>,
    b2: Tensor<1>,
) -> Tensor<2> {
    if !usable(&x) {
        let [b, _, _, _] = x.dims();
        let [_, _, k, _] = conv_w.dims();
        let options = ConvOptions::new([1, 1], [k / 2, k / 2], [1, 1], 1);
        let h = relu(conv2d(x, conv_w, Some(conv_b), options)); // [B, O, H, W]
        let [_, o, hh, ww] = h.dims();
        let h = h.reshape([b, o * hh * ww]); // [B, O·H·W], as the trunk flattens
        let h = relu(h.matmul(w1) + b1.unsqueeze()); // [B, N]
        return h.matmul(w2) + b2.unsqueeze(); // [B, A]
    }
    Tensor::from_dispatch(<Dispatch as QNetFused>::qnet_conv_mlp(
        x.into_dispatch(),
        conv_w.into_dispatch(),
        conv_b.into_dispatch(),
        w1.into_dispatch(),
        b1.into_dispatch(),
        w2.into_dispatch(),
        b2.into_dispatch(),
    ))
}

/// What the backward pass needs: the input, the conv's weight matrix, the two activations (after
/// their ReLUs), the two dense weights, the sizes.
#[derive(Debug, Clone)]
struct Saved {
    x: FloatTensor<Flex>,
    wm: Vec<f32>,
    a1: Vec<f32>,
    h: Vec<f32>,
    w1: FloatTensor<Flex>,
    w2: FloatTensor<Flex>,
    d: Dims,
    /// Hidden units.
    n: usize,
    /// Actions.
    a: usize,
}

fn relu_in_place(v: &mut [f32]) {
    crate::flex_util::vectorized(|| {
        for x in v {
            *x = x.max(0.0);
        }
    })
}

/// What [`forward_rows`] needs besides its rows: the conv's weight matrix and bias, the output
/// weight, the sizes.
struct Net<'w> {
    wm: &'w [f32],
    cb: &'w [f32],
    w2: &'w [f32],
    d: Dims,
    n: usize,
    a: usize,
}

/// Rows of the batch `xs`: conv + ReLU → `a1` (its biases written first, then the conv added
/// onto them), hidden + ReLU → `h`, output → `q` (both holding their biases).
fn forward_rows<'a>(
    net: &Net<'_>,
    xs: &[f32],
    w1: &[f32],
    a1: &'a mut [MaybeUninit<f32>],
    h: &mut [f32],
    q: &mut [f32],
) -> Written<'a> {
    let Net {
        wm,
        cb,
        w2,
        d,
        n,
        a,
    } = *net;
    let f = d.o * d.hw();
    let nb = q.len() / a;
    let (a1, done) = written_planes(a1, d.hw(), cb);
    conv_same::forward_images_onto(xs, wm, d, a1); // [nb, O·H·W]
    relu_in_place(a1);
    let w1 = Mat::row_major(w1, f, n);
    matmul_into(h, (n, 1), Mat::row_major(a1, nb, f), w1, true, false); // [nb, N]
    relu_in_place(h);
    let w2 = Mat::row_major(w2, n, a);
    matmul_into(q, (a, 1), Mat::row_major(h, nb, n), w2, true, false); // [nb, A]
    done
}

/// The forward pass: Q-values `[B, A]` and what the backward pass needs. The batch is split in
/// two halves, one on the calling thread and one on [`crate::pair`]'s helper; rows are
/// independent, so the values are the same either way.
fn forward(
    x: FloatTensor<Flex>,
    conv_w: FloatTensor<Flex>,
    conv_b: FloatTensor<Flex>,
    w1: FloatTensor<Flex>,
    b1: FloatTensor<Flex>,
    w2: FloatTensor<Flex>,
    b2: FloatTensor<Flex>,
) -> (Vec<f32>, Saved) {
    let d = Dims::of(&x, &conv_w);
    let wm = with_values(conv_w, |w| conv_same::weight_matrix(w, d)); // [kkC, O]
    let f = d.o * d.hw();
    let w1s = w1.layout().shape();
    let w2s = w2.layout().shape();
    assert!(
        w1s.num_dims() == 2 && w1s[0] == f && w2s.num_dims() == 2 && w2s[0] == w1s[1],
        "qnet_fused: hidden weight {w1s:?} and output weight {w2s:?} do not fit {f} features"
    );
    let (n, a) = (w1s[1], w2s[1]);
    let small = |t: FloatTensor<Flex>| with_values(t, |v| v.to_vec());
    let (cb, b1v, w2v, b2v) = (small(conv_b), small(b1), small(w2.clone()), small(b2));
    assert_eq!(
        cb.len(),
        d.o,
        "qnet_fused: conv bias of {} for {} channels",
        cb.len(),
        d.o
    );
    // a1 is written by the halves (its biases, then the conv onto them), not zeroed first; h and
    // q start as their biases, which the products then accumulate onto.
    let (mut h, mut q) = (b1v.repeat(d.b), b2v.repeat(d.b));
    let net = Net {
        wm: &wm,
        cb: &cb,
        w2: &w2v,
        d,
        n,
        a,
    };
    let (a1, ()) = with_values(x.clone(), |xs| {
        with_values(w1.clone(), |w1| {
            new_written(d.b * f, |a1| {
                let half = d.b / 2;
                let (xa, xb) = xs.split_at(half * d.c * d.hw());
                let (a1a, a1b) = a1.split_at_mut(half * f);
                let (ha, hb) = h.split_at_mut(half * n);
                let (qa, qb) = q.split_at_mut(half * a);
                let proofs = if half == 0 {
                    // One row (acting): not worth a hand-over.
                    vec![
                        forward_rows(&net, xa, w1, a1a, ha, qa),
                        forward_rows(&net, xb, w1, a1b, hb, qb),
                    ]
                } else {
                    let (pa, pb) = crate::pair::join(
                        || forward_rows(&net, xa, w1, a1a, ha, qa),
                        || forward_rows(&net, xb, w1, a1b, hb, qb),
                    );
                    vec![pa, pb]
                };
                (proofs, ())
            })
        })
    });
    let saved = Saved {
        x,
        wm,
        a1,
        h,
        w1,
        w2,
        d,
        n,
        a,
    };
    (q, saved)
}

/// Column sums of a row-major `[rows, cols]` matrix.
fn column_sums(m: &[f32], cols: usize) -> Vec<f32> {
    let mut s = vec![0f32; cols];
    for row in m.chunks_exact(cols) {
        for (s, &v) in s.iter_mut().zip(row) {
            *s += v;
        }
    }
    s
}

/// Zeroes `g` where the ReLU's output `y` is not positive (burn's ReLU backward).
fn relu_mask(g: &mut [f32], y: &[f32]) {
    crate::flex_util::vectorized(|| {
        for (g, &y) in g.iter_mut().zip(y) {
            if y <= 0.0 {
                *g = 0.0;
            }
        }
    })
}

/// Rows `k0..` of `dW` (as many as `dw` holds) and batch rows `r0..` of `dx` (as many as `dx`
/// holds) for [`dense_backward`], `dx` masked by the ReLU whose output is `x`.
fn dense_backward_part<'a, 'b>(
    dy: &[f32],
    x: &[f32],
    w: &[f32],
    (rows, k, m): (usize, usize, usize),
    (k0, dw): (usize, &'a mut [MaybeUninit<f32>]),
    (r0, dx): (usize, &'b mut [MaybeUninit<f32>]),
) -> (Written<'a>, Written<'b>) {
    let x_t = Mat {
        data: &x[k0..],
        rows: dw.len() / m,
        cols: rows,
        rs: 1,
        cs: k,
    };
    let (_, dw_done) = matmul_written(dw, x_t, Mat::row_major(dy, rows, m));
    let nr = dx.len() / k;
    let dy_r = Mat::row_major(&dy[r0 * m..], nr, m);
    let (dx, dx_done) = matmul_written(dx, dy_r, Mat::row_major(w, k, m).t());
    relu_mask(dx, &x[r0 * k..][..nr * k]);
    (dw_done, dx_done)
}

/// The gradients of a dense layer `y = x · W + bias` (`x` [rows, k], `W` [k, m]) given `dy` [rows, m],
/// where `x` is a ReLU's output: `dW = xᵀ · dy`, `dbias = Σ_rows dy`, and `dx = dy · Wᵀ` masked by
/// that ReLU. With `split`, each product is computed in two halves on the calling thread and
/// [`crate::pair`]'s helper (`dW` by its rows, `dx` by the batch's), each value summed in the
/// same order as in one product.
fn dense_backward(
    dy: &[f32],
    x: &[f32],
    w: &[f32],
    (rows, k, m): (usize, usize, usize),
    split: bool,
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    // Rows k0..k1 of dW [k, m] (= xᵀ[k0..k1] · dy) and batch rows r0..r1 of dx [rows, k], each
    // written by its product into memory that is not zeroed first (`new_written`).
    let dims = (rows, k, m);
    // Split at (k/2, rows/2) for two threads, else at the end (the second part empty).
    let (kh, rh) = if split { (k / 2, rows / 2) } else { (k, rows) };
    let (dw, dx) = new_written(k * m, |dw| {
        let (dx, dw_done) = new_written(rows * k, move |dx| {
            let (dwa, dwb) = dw.split_at_mut(kh * m);
            let (dxa, dxb) = dx.split_at_mut(rh * k);
            let ((wa, xa), (wb, xb)) = if split {
                crate::pair::join(
                    || dense_backward_part(dy, x, w, dims, (0, dwa), (0, dxa)),
                    || dense_backward_part(dy, x, w, dims, (kh, dwb), (rh, dxb)),
                )
            } else {
                (
                    dense_backward_part(dy, x, w, dims, (0, dwa), (0, dxa)),
                    dense_backward_part(dy, x, w, dims, (kh, dwb), (rh, dxb)),
                )
            };
            (vec![xa, xb], vec![wa, wb])
        });
        (dw_done, dx)
    });
    let db = column_sums(dy, m);
    (dw, db, dx)
}

#[allow(clippy::type_complexity)]
fn backward(
    dq: &[f32],
    s: &Saved,
    want_dx: bool,
) -> (
    Option<Vec<f32>>,
    Vec<f32>,
    Vec<f32>,
    Vec<f32>,
    Vec<f32>,
    Vec<f32>,
    Vec<f32>,
) {
    let (b, n, a, d) = (s.d.b, s.n, s.a, s.d);
    let f = d.o * d.hw();
    // Output layer (small: one thread), then the hidden layer (its input a1 is the conv's ReLU
    // output), split in two.
    let (dw2, db2, dh) = with_values(s.w2.clone(), |w2| {
        dense_backward(dq, &s.h, w2, (b, n, a), false)
    });
    let (dw1, db1, da1) = with_values(s.w1.clone(), |w1| {
        dense_backward(&dh, &s.a1, w1, (b, f, n), true)
    });
    // The conv.
    let (dx, dcw, dcb) = with_values(s.x.clone(), |x| {
        conv_same::backward(&da1, x, &s.wm, d, want_dx, false)
    });
    (dx, dcw, dcb, dw1, db1, dw2, db2)
}

impl QNetFused for Flex {
    fn qnet_conv_mlp(
        x: FloatTensor<Self>,
        conv_w: FloatTensor<Self>,
        conv_b: FloatTensor<Self>,
        w1: FloatTensor<Self>,
        b1: FloatTensor<Self>,
        w2: FloatTensor<Self>,
        b2: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        let (q, s) = forward(x, conv_w, conv_b, w1, b1, w2, b2);
        tensor(q, vec![s.d.b, s.a])
    }
}

#[derive(Debug)]
struct QNetBackward;

impl Backward<Flex, 7> for QNetBackward {
    type State = Saved;

    fn backward(self, ops: Ops<Self::State, 7>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad = grads.consume::<Flex>(&ops.node); // [B, A]
        let s = ops.state;
        let [nx, ncw, ncb, nw1, nb1, nw2, nb2] = ops.parents;
        let (dx, dcw, dcb, dw1, db1, dw2, db2) =
            with_values(grad, |dq| backward(dq, &s, nx.is_some()));
        let d = s.d;
        let f = d.o * d.hw();
        let outs = [
            (nx, dx, vec![d.b, d.c, d.h, d.w]),
            (ncw, Some(dcw), vec![d.o, d.c, d.k, d.k]),
            (ncb, Some(dcb), vec![d.o]),
            (nw1, Some(dw1), vec![f, s.n]),
            (nb1, Some(db1), vec![s.n]),
            (nw2, Some(dw2), vec![s.n, s.a]),
            (nb2, Some(db2), vec![s.a]),
        ];
        for (node, g, shape) in outs {
            if let (Some(node), Some(g)) = (node, g) {
                grads.register::<Flex>(node.id, tensor(g, shape));
            }
        }
    }
}

impl<C: CheckpointStrategy> QNetFused for Autodiff<Flex, C> {
    fn qnet_conv_mlp(
        x: FloatTensor<Self>,
        conv_w: FloatTensor<Self>,
        conv_b: FloatTensor<Self>,
        w1: FloatTensor<Self>,
        b1: FloatTensor<Self>,
        w2: FloatTensor<Self>,
        b2: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        let kind = QNetBackward
            .prepare::<C>([
                x.node(),
                conv_w.node(),
                conv_b.node(),
                w1.node(),
                b1.node(),
                w2.node(),
                b2.node(),
            ])
            .compute_bound()
            .stateful();
        let (q, s) = forward(
            x.into_primitive(),
            conv_w.into_primitive(),
            conv_b.into_primitive(),
            w1.into_primitive(),
            b1.into_primitive(),
            w2.into_primitive(),
            b2.into_primitive(),
        );
        let q = tensor(q, vec![s.d.b, s.a]);
        match kind {
            OpsKind::Tracked(prep) => prep.finish(s, q),
            OpsKind::UnTracked(prep) => prep.finish(q),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::LinearConfig;
    use burn::nn::PaddingConfig2d;
    use burn::nn::conv::Conv2dConfig;
    use burn::tensor::activation::relu;
    use burn::tensor::{Device, Distribution};

    /// Values and every gradient (input and the six parameters) against the same network built
    /// from burn's modules (`Conv2d` → ReLU → `Linear` → ReLU → `Linear`).
    #[test]
    fn matches_burns_modules() {
        for (b, c, hw, o, n, a) in [(5, 4, 10, 16, 32, 6), (3, 2, 7, 8, 5, 3)] {
            let dev = Device::flex().autodiff();
            dev.seed(11);
            let conv = Conv2dConfig::new([c, o], [3, 3])
                .with_padding(PaddingConfig2d::Same)
                .init(&dev);
            let l1 = LinearConfig::new(o * hw * hw, n).init(&dev);
            let l2 = LinearConfig::new(n, a).init(&dev);
            let x = Tensor::<4>::random([b, c, hw, hw], Distribution::Normal(0.0, 1.0), &dev);
            let r = Tensor::<2>::random([b, a], Distribution::Normal(0.0, 1.0), &dev);
            let run = |f: &dyn Fn(Tensor<4>) -> Tensor<2>| {
                let x = x.clone().detach().require_grad();
                let q = f(x.clone());
                let grads = (q.clone() * r.clone()).sum().backward();
                vec![
                    q.into_data(),
                    x.grad(&grads).unwrap().into_data(),
                    conv.weight.val().grad(&grads).unwrap().into_data(),
                    conv.bias
                        .as_ref()
                        .unwrap()
                        .val()
                        .grad(&grads)
                        .unwrap()
                        .into_data(),
                    l1.weight.val().grad(&grads).unwrap().into_data(),
                    l1.bias
                        .as_ref()
                        .unwrap()
                        .val()
                        .grad(&grads)
                        .unwrap()
                        .into_data(),
                    l2.weight.val().grad(&grads).unwrap().into_data(),
                    l2.bias
                        .as_ref()
                        .unwrap()
                        .val()
                        .grad(&grads)
                        .unwrap()
                        .into_data(),
                ]
            };
            let ours = run(&|x| {
                qnet_conv_mlp(
                    x,
                    conv.weight.val(),
                    conv.bias.as_ref().unwrap().val(),
                    l1.weight.val(),
                    l1.bias.as_ref().unwrap().val(),
                    l2.weight.val(),
                    l2.bias.as_ref().unwrap().val(),
                )
            });
            let burns = run(&|x| {
                let y = relu(conv.forward(x)).flatten::<2>(1, 3);
                l2.forward(relu(l1.forward(y)))
            });
            let names = ["q", "dx", "dconv_w", "dconv_b", "dw1", "db1", "dw2", "db2"];
            for (what, (u, e)) in names.iter().zip(ours.into_iter().zip(burns)) {
                crate::flex_util::assert_close(u, e, 1e-4, what);
            }
            // Without autodiff (the target network, acting): the same values.
            let inner = Device::flex();
            let xv = Tensor::<4>::from_data(x.clone().into_data(), &inner);
            let p = |t: Tensor<1>| Tensor::<1>::from_data(t.into_data(), &inner);
            let p2 = |t: Tensor<2>| Tensor::<2>::from_data(t.into_data(), &inner);
            let q = qnet_conv_mlp(
                xv,
                Tensor::<4>::from_data(conv.weight.val().into_data(), &inner),
                p(conv.bias.as_ref().unwrap().val()),
                p2(l1.weight.val()),
                p(l1.bias.as_ref().unwrap().val()),
                p2(l2.weight.val()),
                p(l2.bias.as_ref().unwrap().val()),
            );
            let qa = qnet_conv_mlp(
                x.clone(),
                conv.weight.val(),
                conv.bias.as_ref().unwrap().val(),
                l1.weight.val(),
                l1.bias.as_ref().unwrap().val(),
                l2.weight.val(),
                l2.bias.as_ref().unwrap().val(),
            );
            assert_eq!(q.into_data(), qa.into_data());
        }
    }
}
