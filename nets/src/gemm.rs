//! A checked, safe entry to the `gemm` crate (the same matrix-multiply kernels burn_flex uses) for
//! Ember's own CPU kernels ([`crate::conv_same`]).
//!
//! burn_flex's matmul always returns a fresh tensor built by `FlexTensor::empty`, which zeroes a
//! byte buffer and then copies it into a second, aligned allocation; for the classifier that
//! was ≈ 12% of a training step (zeroing, copying, and faulting in the copy's pages). Here the
//! caller gives the destination and its strides, so a product can be written straight into the
//! layout it is needed in (a `[O, H·W]` plane of an NCHW tensor), added onto what is there (a
//! bias, a partial sum).
//!
//! Every matrix is a slice with row and column strides ([`Mat`]). Before calling into `gemm`
//! (an `unsafe fn` over raw pointers) the wrapper checks that every element each matrix
//! addresses lies inside its slice and that no two destination elements share an address; the
//! borrow checker already keeps the destination apart from the inputs, and the destination is
//! initialised (it is a `&mut [f32]`). That is the whole safety argument; tests check the
//! products against a naive one and the refusals.
//!
//! A new buffer that products overwrite need not be zeroed first ([`new_written`]): the DQN
//! update's 800 KB weight gradient and its activations were ≈ 6% of the update's CPU time in
//! `memset`, on the calling thread while the other core waited. [`matmul_written`] and
//! [`written_planes`] write every element of a slice of uninitialised memory and return a
//! [`Written`] proof that lives no longer than that slice's borrow; `new_written` sets the
//! vector's length only when the proofs tile all of it.

use std::mem::MaybeUninit;

use gemm::Parallelism;

/// A read-only `rows x cols` matrix in `data`: element `(i, j)` at `data[i·rs + j·cs]`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Mat<'a> {
    pub data: &'a [f32],
    pub rows: usize,
    pub cols: usize,
    pub rs: usize,
    pub cs: usize,
}

impl<'a> Mat<'a> {
    /// A row-major matrix: `rs = cols`, `cs = 1`.
    pub fn row_major(data: &'a [f32], rows: usize, cols: usize) -> Self {
        Mat {
            data,
            rows,
            cols,
            rs: cols,
            cs: 1,
        }
    }

    /// The transpose (a view: strides swapped).
    pub fn t(self) -> Self {
        Mat {
            data: self.data,
            rows: self.cols,
            cols: self.rows,
            rs: self.cs,
            cs: self.rs,
        }
    }
}

/// Offset one past the last element a `rows x cols` matrix with these strides addresses, or
/// `None` if it overflows.
fn extent(rows: usize, cols: usize, rs: usize, cs: usize) -> Option<usize> {
    if rows == 0 || cols == 0 {
        return Some(0);
    }
    (rows - 1)
        .checked_mul(rs)?
        .checked_add((cols - 1).checked_mul(cs)?)?
        .checked_add(1)
}

fn check_in_bounds(what: &str, len: usize, rows: usize, cols: usize, rs: usize, cs: usize) {
    assert!(
        extent(rows, cols, rs, cs).is_some_and(|e| e <= len),
        "gemm: {what} ({rows}x{cols}, strides {rs}, {cs}) reaches past its {len} elements"
    );
}

/// Whether distinct `(i, j)` map to distinct offsets: one stride steps over the whole extent of
/// the other (as every dense row- or column-major layout, or a plane of a larger tensor, does).
fn injective(rows: usize, cols: usize, rs: usize, cs: usize) -> bool {
    rows <= 1 && (cols <= 1 || cs >= 1)
        || cols <= 1 && rs >= 1
        || rs >= 1 && cs >= rs.saturating_mul(rows)
        || cs >= 1 && rs >= cs.saturating_mul(cols)
}

/// Threads: burn_flex's rule (rayon above ~2M multiply-adds, else the calling thread), or the
/// calling thread alone when the caller already runs products in parallel.
fn parallelism(m: usize, n: usize, k: usize, parallel: bool) -> Parallelism {
    if parallel && m.saturating_mul(n).saturating_mul(k) >= 2_000_000 {
        Parallelism::Rayon(0)
    } else {
        Parallelism::None
    }
}

/// `dst = lhs · rhs` (or `dst += lhs · rhs` when `accumulate`), `dst` being the
/// `lhs.rows x rhs.cols` matrix at `dst[i·rs + j·cs]`. `parallel` lets `gemm` use rayon's threads
/// for a large product (pass `false` from inside a parallel loop).
///
/// Panics if the shapes do not fit, a matrix reaches outside its slice, or two destination
/// elements would share an address.
#[allow(unsafe_code)]
pub(crate) fn matmul_into(
    dst: &mut [f32],
    (rs, cs): (usize, usize),
    lhs: Mat<'_>,
    rhs: Mat<'_>,
    accumulate: bool,
    parallel: bool,
) {
    check(dst.len(), (rs, cs), lhs, rhs);
    // SAFETY: `check`: every element the three matrices address is inside its slice, the
    // destination's elements are distinct, and `&mut dst` cannot alias `lhs` or `rhs`. `gemm`
    // reads `dst` only when `read_dst` (then it is initialised: it is a `&mut [f32]`).
    unsafe { raw(dst.as_mut_ptr(), (rs, cs), lhs, rhs, accumulate, parallel) }
}

/// The checks [`matmul_into`] makes before calling `gemm` (see its panics).
fn check(dst_len: usize, (rs, cs): (usize, usize), lhs: Mat<'_>, rhs: Mat<'_>) {
    let (m, k, n) = (lhs.rows, lhs.cols, rhs.cols);
    assert_eq!(
        rhs.rows, k,
        "gemm: lhs is {m}x{k} but rhs is {}x{n}",
        rhs.rows
    );
    check_in_bounds("lhs", lhs.data.len(), m, k, lhs.rs, lhs.cs);
    check_in_bounds("rhs", rhs.data.len(), k, n, rhs.rs, rhs.cs);
    check_in_bounds("dst", dst_len, m, n, rs, cs);
    assert!(
        injective(m, n, rs, cs),
        "gemm: destination strides {rs}, {cs} overlap for {m}x{n}"
    );
}

/// The `gemm` call.
///
/// # Safety
/// [`check`] has passed for `dst`'s extent, nothing else accesses the destination while this
/// runs, and `dst` is initialised where `accumulate` (with `accumulate == false` `gemm` only
/// writes the destination: every path of gemm 0.19 stores `β·(lhs·rhs)` or zero there without
/// reading it when `read_dst` is false, as `matmul_written`'s test checks on NaN-filled memory).
#[allow(unsafe_code)]
unsafe fn raw(
    dst: *mut f32,
    (rs, cs): (usize, usize),
    lhs: Mat<'_>,
    rhs: Mat<'_>,
    accumulate: bool,
    parallel: bool,
) {
    let (m, k, n) = (lhs.rows, lhs.cols, rhs.cols);
    if m == 0 || n == 0 {
        return;
    }
    let stride = |s: usize| isize::try_from(s).expect("gemm: stride overflows isize");
    // SAFETY: the caller's contract (above).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst,
            stride(cs),
            stride(rs),
            accumulate,
            lhs.data.as_ptr(),
            stride(lhs.cs),
            stride(lhs.rs),
            rhs.data.as_ptr(),
            stride(rhs.cs),
            stride(rhs.rs),
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism(m, n, k, parallel),
        );
    }
}

/// Proof that a product wrote every element of a range of memory: made only by
/// [`matmul_written`], and only for as long as the slice it wrote is borrowed.
#[derive(Debug)]
pub(crate) struct Written<'a> {
    start: usize,
    len: usize,
    _slice: std::marker::PhantomData<&'a mut [f32]>,
}

/// `dst = lhs · rhs` into `dst`, the row-major `lhs.rows x rhs.cols` matrix of uninitialised
/// elements (its whole length), which `gemm` writes without reading: no zeroing pass first.
/// Returns the product, and the proof for [`new_written`].
///
/// Panics if `dst` does not have exactly `lhs.rows · rhs.cols` elements, or as [`matmul_into`].
#[allow(unsafe_code)]
pub(crate) fn matmul_written<'a>(
    dst: &'a mut [MaybeUninit<f32>],
    lhs: Mat<'_>,
    rhs: Mat<'_>,
) -> (&'a mut [f32], Written<'a>) {
    let (m, n) = (lhs.rows, rhs.cols);
    assert_eq!(
        dst.len(),
        m * n,
        "gemm: a {m}x{n} product into {} elements",
        dst.len()
    );
    check(dst.len(), (n, 1), lhs, rhs);
    let ptr = dst.as_mut_ptr().cast::<f32>();
    if m * n > 0 && lhs.cols == 0 {
        // gemm writes zeros for an empty inner dimension too; spelled out here.
        dst.fill(MaybeUninit::new(0.0));
    } else {
        // SAFETY: `check` passed for this extent, `dst` is borrowed mutably, and with
        // `accumulate == false` gemm writes every element of the `m x n` row-major matrix, which
        // is the whole slice, without reading it (see `raw`).
        unsafe { raw(ptr, (n, 1), lhs, rhs, false, false) };
    }
    let written = Written {
        start: ptr as usize,
        len: dst.len(),
        _slice: std::marker::PhantomData,
    };
    (initialised(dst), written)
}

/// `dst` filled plane by plane: its `k`-th run of `plane` elements (the last may be shorter) is
/// `values[k % values.len()]`, written into uninitialised memory. Returns the values and the
/// proof for [`new_written`] (the biases of a batch's `[O, H·W]` planes, which a product then
/// accumulates onto).
///
/// Panics if `plane` is 0 or `values` is empty while `dst` is not.
pub(crate) fn written_planes<'a>(
    dst: &'a mut [MaybeUninit<f32>],
    plane: usize,
    values: &[f32],
) -> (&'a mut [f32], Written<'a>) {
    if !dst.is_empty() {
        assert!(plane > 0 && !values.is_empty(), "gemm: no values to write");
        for (run, &v) in dst.chunks_mut(plane).zip(values.iter().cycle()) {
            run.fill(MaybeUninit::new(v));
        }
    }
    let written = Written {
        start: dst.as_ptr() as usize,
        len: dst.len(),
        _slice: std::marker::PhantomData,
    };
    (initialised(dst), written)
}

/// `dst` as the values it holds once every element is written.
#[allow(unsafe_code)]
fn initialised(dst: &mut [MaybeUninit<f32>]) -> &mut [f32] {
    // SAFETY: only called on slices every element of which was just written (`written_planes`,
    // `matmul_written`); `MaybeUninit<f32>` has `f32`'s layout.
    unsafe { std::slice::from_raw_parts_mut(dst.as_mut_ptr().cast::<f32>(), dst.len()) }
}

/// A new vector of `len` values, every one written by a product: `fill` gets the `len`
/// uninitialised elements and returns the [`Written`] proofs of [`matmul_written`] calls, which
/// must tile the whole vector (checked), and a result of its own. Saves the zeroing pass of
/// `vec![0.0; len]` for buffers a product overwrites (a DQN update's 800 KB weight gradient).
///
/// Panics if the proofs leave any element out.
#[allow(unsafe_code)]
pub(crate) fn new_written<R>(
    len: usize,
    fill: impl for<'a> FnOnce(&'a mut [MaybeUninit<f32>]) -> (Vec<Written<'a>>, R),
) -> (Vec<f32>, R) {
    let mut v: Vec<f32> = Vec::with_capacity(len);
    let base = v.spare_capacity_mut();
    let base = &mut base[..len];
    let start = base.as_ptr() as usize;
    let (mut proofs, r) = fill(base);
    proofs.sort_by_key(|w| w.start);
    let mut next = start;
    for w in &proofs {
        assert_eq!(w.start, next, "gemm: new_written: elements left unwritten");
        next += w.len * std::mem::size_of::<f32>();
    }
    assert_eq!(
        next,
        start + len * std::mem::size_of::<f32>(),
        "gemm: new_written: elements left unwritten"
    );
    // SAFETY: the proofs tile `[start, start + len)`: each is made by `matmul_written` right after
    // it wrote all of its slice, and lives no longer than that slice's borrow of this vector's
    // spare capacity, so every one of the first `len` elements is initialised.
    unsafe { v.set_len(len) };
    (v, r)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: &Mat, b: &Mat) -> Vec<f32> {
        let mut out = vec![0f32; a.rows * b.cols];
        for i in 0..a.rows {
            for j in 0..b.cols {
                out[i * b.cols + j] = (0..a.cols)
                    .map(|p| a.data[i * a.rs + p * a.cs] * b.data[p * b.rs + j * b.cs])
                    .sum();
            }
        }
        out
    }

    fn values(n: usize, seed: u32) -> Vec<f32> {
        (0..n)
            .map(|i| ((i as u32).wrapping_mul(2654435761).wrapping_add(seed) % 17) as f32 - 8.0)
            .collect()
    }

    fn product(lhs: Mat, rhs: Mat) -> Vec<f32> {
        let mut out = vec![f32::NAN; lhs.rows * rhs.cols];
        matmul_into(&mut out, (rhs.cols, 1), lhs, rhs, false, true);
        out
    }

    #[test]
    fn matmul_matches_naive_for_strided_and_transposed_inputs() {
        for (m, k, n) in [(3, 4, 5), (64, 33, 17), (1, 7, 1), (5, 0, 3), (200, 96, 70)] {
            let a = values(m * k, 1);
            let b = values(k * n, 2);
            let (am, bm) = (Mat::row_major(&a, m, k), Mat::row_major(&b, k, n));
            // Every element written (the NaNs it starts with are gone), also for k = 0.
            assert_eq!(product(am, bm), naive(&am, &bm), "{m}x{k}·{k}x{n}");
            // The same product from transposed storage.
            let at: Vec<f32> = (0..k * m).map(|i| a[(i % m) * k + i / m]).collect();
            let at = Mat::row_major(&at, k, m).t();
            assert_eq!(product(at, bm), naive(&am, &bm));
        }
    }

    #[test]
    fn matmul_written_writes_every_element_without_reading_it() {
        for (m, k, n) in [
            (3, 4, 5),
            (64, 33, 17),
            (1, 7, 1),
            (5, 0, 3),
            (16, 1600, 128),
        ] {
            let a = values(m * k, 5);
            let b = values(k * n, 6);
            let (am, bm) = (Mat::row_major(&a, m, k), Mat::row_major(&b, k, n));
            let want = naive(&am, &bm);
            // Two halves of one new vector, from memory full of NaNs (a product that read its
            // destination would carry them into the result).
            let mut junk = vec![MaybeUninit::new(f32::NAN); 2 * m * n];
            let (lo, hi) = junk.split_at_mut(m * n);
            let (x, _) = matmul_written(lo, am, bm);
            assert_eq!(x, &want[..], "{m}x{k}·{k}x{n}");
            let (y, _) = matmul_written(hi, am, bm);
            assert_eq!(y, &want[..]);
            let (v, r) = new_written(2 * m * n, |dst| {
                let (lo, hi) = dst.split_at_mut(m * n);
                let (_, p) = matmul_written(lo, am, bm);
                let (_, q) = matmul_written(hi, am, bm);
                (vec![q, p], 7)
            });
            assert_eq!((&v[..m * n], &v[m * n..], r), (&want[..], &want[..], 7));
        }
    }

    #[test]
    fn written_planes_repeats_each_value_over_its_plane() {
        let mut junk = vec![MaybeUninit::new(f32::NAN); 7];
        let (v, _) = written_planes(&mut junk, 2, &[1.0, 2.0, 3.0]);
        assert_eq!(v, &[1.0, 1.0, 2.0, 2.0, 3.0, 3.0, 1.0]);
        let (v, ()) = new_written(4, |dst| {
            let (_, p) = written_planes(dst, 2, &[5.0]);
            (vec![p], ())
        });
        assert_eq!(v, vec![5.0; 4]);
    }

    #[test]
    #[should_panic(expected = "left unwritten")]
    fn new_written_refuses_a_gap() {
        let a = values(6, 1);
        let _ = new_written(9, |dst| {
            let (_, p) = matmul_written(
                &mut dst[..4],
                Mat::row_major(&a, 2, 3),
                Mat::row_major(&a, 3, 2),
            );
            (vec![p], ())
        });
    }

    #[test]
    fn matmul_into_writes_strided_planes_and_accumulates() {
        let (m, k, n) = (6, 5, 4);
        let (a, b) = (values(m * k, 3), values(k * n, 4));
        let (am, bm) = (Mat::row_major(&a, m, k), Mat::row_major(&b, k, n));
        let want = naive(&am, &bm);
        // Column-major into a larger buffer (the transposed layout), on top of 1.0 everywhere.
        let mut dst = vec![1f32; n * m + 3];
        matmul_into(&mut dst, (1, m), am, bm, true, true);
        for i in 0..m {
            for j in 0..n {
                assert_eq!(dst[i + j * m], want[i * n + j] + 1.0);
            }
        }
        assert_eq!(&dst[n * m..], &[1.0; 3]);
        matmul_into(&mut dst, (1, m), am, bm, false, false);
        assert_eq!(dst[m + 1], want[n + 1]);
    }

    #[test]
    #[should_panic(expected = "reaches past")]
    fn out_of_bounds_destination_is_refused() {
        let a = values(6, 1);
        let mut dst = vec![0f32; 3];
        matmul_into(
            &mut dst,
            (2, 1),
            Mat::row_major(&a, 2, 3),
            Mat::row_major(&a, 3, 2),
            false,
            false,
        );
    }

    #[test]
    #[should_panic(expected = "reaches past")]
    fn overflowing_strides_are_refused() {
        let a = values(6, 1);
        let huge = Mat {
            data: &a,
            rows: 3,
            cols: 2,
            rs: usize::MAX / 2 + 1,
            cs: 1,
        };
        let mut dst = vec![0f32; 9];
        matmul_into(
            &mut dst,
            (3, 1),
            huge,
            Mat::row_major(&a, 2, 3),
            false,
            false,
        );
    }

    #[test]
    #[should_panic(expected = "overlap")]
    fn overlapping_destination_is_refused() {
        let a = values(6, 1);
        let mut dst = vec![0f32; 8];
        matmul_into(
            &mut dst,
            (1, 1),
            Mat::row_major(&a, 2, 3),
            Mat::row_major(&a, 3, 2),
            false,
            false,
        );
    }
}
