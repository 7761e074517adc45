//! Separable kernels: a 2-D kernel of rank 1, `w[i][j] = u[i]·v[j]` (Gaussian and
//! box blurs, Sobel), computed as two 1-D passes, `2·(kh + kw)` FLOPs per output
//! instead of `2·kh·kw`.
//!
//! **Detection** ([`factor`]) takes the largest weight as pivot `(i0, j0)`,
//! `u[i] = w[i][j0]`, `v[j] = w[i0][j] / w[i0][j0]`, and accepts the factors only if
//! every weight is reproduced to within 4 ulp of itself (`|w - u·v| <= 4·eps·|w|`),
//! which keeps the result inside the crate's tolerance rule (`c·K·eps·Σ|x·w|`); an
//! almost-rank-1 kernel fails the test and stays on the direct path.
//!
//! **Passes**: the horizontal pass correlates each input row the block needs with
//! `v` into a strip buffer of `rows + kh - 1` rows (a few hundred KiB at most, in
//! the workspace: never a full intermediate image); the vertical pass correlates
//! the strip's rows with `u`. Both passes run the direct path's vector kernel;
//! borders go through the padding mode as in the direct path (input rows are
//! chosen through it, columns at the ends through `PaddingMode::source`).

use crate::element::Element;
use crate::error::{Result, XcorrError};
use crate::geometry::{Op, Problem};
use crate::isa::{DirectKernel, DIRECT_MAX_ROWS};
use crate::parallel;

/// Rows of output per strip.
const STRIP_ROWS: usize = 32;

/// The largest strip, in elements (4 MiB of f32): beyond it the direct path runs.
pub const MAX_STRIP: usize = 1 << 20;

/// Factors a `kh × kw` kernel as `u ⊗ v` if it is rank 1 within 4 ulp per weight
/// (see the module docs); writes `u` (length `kh`) and `v` (length `kw`).
pub fn factor<T: Element>(w: &[T], kh: usize, kw: usize, u: &mut [T], v: &mut [T]) -> bool {
    let (mut i0, mut j0, mut best) = (0, 0, 0.0f64);
    for i in 0..kh {
        for j in 0..kw {
            let a = w[i * kw + j].to_f64().abs();
            if !a.is_finite() {
                return false;
            }
            if a > best {
                (i0, j0, best) = (i, j, a);
            }
        }
    }
    if best == 0.0 {
        return false;
    }
    let pivot = w[i0 * kw + j0].to_f64();
    let eps = T::EPSILON.to_f64();
    for i in 0..kh {
        u[i] = w[i * kw + j0];
    }
    for j in 0..kw {
        v[j] = T::from_f64(w[i0 * kw + j].to_f64() / pivot);
    }
    (0..kh).all(|i| {
        (0..kw).all(|j| {
            let want = w[i * kw + j].to_f64();
            let got = u[i].to_f64() * v[j].to_f64();
            (got - want).abs() <= 4.0 * eps * want.abs()
        })
    })
}

/// The separable route for one problem: 2-D, one input channel per group, stride 1
/// along the rows' axis.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Separable {
    p: Problem,
}

impl Separable {
    /// # Errors
    /// `PathUnsupported` unless the problem is 2-D with one input channel per group,
    /// stride 1 along both axes, dilation 1 along the columns, and a strip buffer of
    /// at most [`MAX_STRIP`] elements (with a stride along the rows the strip would
    /// hold rows no output reads; with an absurd dilation, too many).
    pub(crate) fn new(p: &Problem) -> Result<Separable> {
        let why = if p.dims() != 2 {
            "it handles 2-D problems"
        } else if p.in_channels_per_group() != 1 {
            "it needs one input channel per group"
        } else if p.stride() != [1, 1] || p.dilation()[1] != 1 {
            "it needs stride 1 on both axes and dilation 1 along the columns"
        } else if Separable::strip_len_of(p).is_none() {
            "its strip buffer would exceed the cache-sized limit"
        } else {
            return Ok(Separable { p: *p });
        };
        Err(XcorrError::PathUnsupported {
            path: "separable",
            reason: why.into(),
        })
    }

    /// Elements of one strip: `STRIP_ROWS + (kh-1)·dilation` rows of the output
    /// width, if that is at most [`MAX_STRIP`].
    fn strip_len_of(p: &Problem) -> Option<usize> {
        let (kh, w) = (p.kernel_shape()[0], p.output_shape()[1]);
        ((kh - 1).checked_mul(p.dilation()[0])?)
            .checked_add(STRIP_ROWS)?
            .checked_mul(w)
            .filter(|&n| n <= MAX_STRIP)
    }

    fn strip_len(&self) -> usize {
        Separable::strip_len_of(&self.p).expect("checked in `new`")
    }

    /// Workspace: the factors of every (co) kernel, a zero row, and one strip per
    /// task (tasks are `threads × 4` at most).
    pub(crate) fn workspace_len(&self, threads: usize) -> usize {
        let (kh, kw) = (self.p.kernel_shape()[0], self.p.kernel_shape()[1]);
        self.p.out_channels() * (kh + kw)
            + self.p.input_shape()[1]
            + self.tasks(threads) * self.strip_len()
    }

    fn tasks(&self, threads: usize) -> usize {
        let strips =
            self.p.batch() * self.p.out_channels() * self.p.output_shape()[0].div_ceil(STRIP_ROWS);
        if threads <= 1 {
            1
        } else {
            (threads * 4).min(strips)
        }
    }

    /// Factors every output channel's kernel (flipped for convolution) into the
    /// front of `workspace`; false if one is not rank 1.
    pub(crate) fn factor_all<T: Element>(&self, weight: &[T], workspace: &mut [T]) -> bool {
        let (kh, kw) = (self.p.kernel_shape()[0], self.p.kernel_shape()[1]);
        let mut flipped = [T::ZERO; 1024];
        for (co, w) in weight.chunks_exact(kh * kw).enumerate() {
            let w = match self.p.op() {
                Op::Correlation => w,
                Op::Convolution => {
                    if kh * kw > flipped.len() {
                        return false;
                    }
                    for (d, s) in flipped.iter_mut().zip(w.iter().rev()) {
                        *d = *s;
                    }
                    &flipped[..kh * kw]
                }
            };
            let (u, v) = workspace[co * (kh + kw)..(co + 1) * (kh + kw)].split_at_mut(kh);
            if !factor(w, kh, kw, u, v) {
                return false;
            }
        }
        true
    }

    /// `output = input ⋆ (u ⊗ v) + bias` with the factors already in the workspace
    /// (see [`factor_all`](Self::factor_all)).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn forward<T: Element>(
        &self,
        kern: &DirectKernel<T>,
        threads: usize,
        input: &[T],
        bias: Option<&[T]>,
        output: &mut [T],
        workspace: &mut [T],
    ) {
        let p = &self.p;
        let (kh, kw) = (p.kernel_shape()[0], p.kernel_shape()[1]);
        let (in_h, in_w) = (p.input_shape()[0], p.input_shape()[1]);
        let (out_h, out_w) = (p.output_shape()[0], p.output_shape()[1]);
        let (sh, dh, ph) = (p.stride()[0], p.dilation()[0], p.padding()[0].0);
        let (dw, pw) = (p.dilation()[1], p.padding()[1].0);
        let mode = p.padding_mode();
        let nf = p.out_channels() * (kh + kw);
        let (factors, rest) = workspace.split_at_mut(nf);
        let (zero, strips) = rest.split_at_mut(in_w);
        zero.fill(T::ZERO);
        let (factors, zero) = (&*factors, &*zero);
        let strip_len = self.strip_len();
        let per_plane = out_h.div_ceil(STRIP_ROWS);
        let n_strips = p.batch() * p.out_channels() * per_plane;
        let tasks = self.tasks(threads);
        let per_task = n_strips.div_ceil(tasks);
        // Interior columns of the horizontal pass (as in the direct path).
        let lo = pw.min(out_w);
        let hi = (in_w + pw).saturating_sub((kw - 1) * dw).min(out_w).max(lo);
        let out = crate::gemm::pack::SharedOut::new(output);
        parallel::for_each_chunk_mut(
            threads,
            &mut strips[..tasks * strip_len],
            strip_len,
            |task, strip| {
                for s in task * per_task..((task + 1) * per_task).min(n_strips) {
                    let (plane, oh0) = (s / per_plane, (s % per_plane) * STRIP_ROWS);
                    let (co, n) = (plane % p.out_channels(), plane / p.out_channels());
                    let c = (co / p.out_channels_per_group()) * p.in_channels_per_group();
                    let chan = &input[(n * p.in_channels() + c) * in_h * in_w..][..in_h * in_w];
                    let (u, v) = factors[co * (kh + kw)..(co + 1) * (kh + kw)].split_at(kh);
                    let rows = STRIP_ROWS.min(out_h - oh0);
                    // Padded input rows oh0·sh + i, for i < (rows-1)·sh + (kh-1)·dh + 1.
                    let nin = (rows - 1) * sh + (kh - 1) * dh + 1;
                    for (i, h) in strip.chunks_exact_mut(out_w).take(nin).enumerate() {
                        let pos = (oh0 * sh + i) as isize - ph as isize;
                        let row = mode
                            .source(pos, in_h)
                            .map_or(zero, |r| &chan[r * in_w..][..in_w]);
                        if hi > lo {
                            kern.row(
                                &[&row[lo - pw..]],
                                kw,
                                dw,
                                v,
                                &mut h[lo..hi],
                                T::ZERO,
                                false,
                                false,
                            );
                        }
                        for ow in (0..lo).chain(hi..out_w) {
                            let mut acc = T::ZERO;
                            for (t, &vt) in v.iter().enumerate() {
                                let q = (ow + t * dw) as isize - pw as isize;
                                acc += mode.source(q, in_w).map_or(T::ZERO, |j| row[j]) * vt;
                            }
                            h[ow] = acc;
                        }
                    }
                    let b = bias.map_or(T::ZERO, |b| b[co]);
                    let base = (plane * out_h + oh0) * out_w;
                    // SAFETY: output rows oh0..oh0 + rows of this plane belong to strip `s`,
                    // which this task alone computes.
                    let dst = unsafe { out.slice_mut(base, rows * out_w) };
                    for (r, dst) in dst.chunks_exact_mut(out_w).enumerate() {
                        // Vertical pass: kh strip rows, one tap each.
                        let mut src: [&[T]; DIRECT_MAX_ROWS] = [zero; DIRECT_MAX_ROWS];
                        for k0 in (0..kh).step_by(DIRECT_MAX_ROWS) {
                            let nk = DIRECT_MAX_ROWS.min(kh - k0);
                            for (t, sr) in src[..nk].iter_mut().enumerate() {
                                let i = r * sh + (k0 + t) * dh;
                                *sr = &strip[i * out_w..(i + 1) * out_w];
                            }
                            kern.row(&src[..nk], 1, 1, &u[k0..k0 + nk], dst, b, k0 > 0, false);
                        }
                    }
                }
            },
        );
    }
}
