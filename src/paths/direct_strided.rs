//! The direct path for a stride along the rows (`s > 1` on the innermost axis,
//! as MobileNet's stride-2 depthwise layers have), where the direct kernels'
//! contiguous loads cannot go: output column `j` reads padded columns
//! `j·s + t`. Split into its `s` phases (`ρ = t mod s`), a row is `s` stride-1
//! rows: column `j·s + ρ + s·i` is column `j + i` of phase row `ρ`, read by tap
//! `ρ + s·i`. So each output plane is a stride-1 direct problem on its input
//! planes split by phase: a 1-D problem becomes a 2-D one whose `s` kernel rows
//! are the phases, a 2-D one a 3-D one whose `s` kernel planes are. Each task
//! (one output plane) pads and splits the input planes of its group into its
//! thread's workspace (through the padding mode; stride-2 rows split by the
//! vector `split_pairs`), re-lays the weights by phase, and runs the derived
//! problem on the direct kernels (`Direct`, on one thread). On the GEMM path
//! each such plane was a GEMM with one row: stride-2 dw ran at 1% of peak.
//!
//! A phase with fewer taps than the others (`k mod s ≠ 0`) gets zero weights
//! for the missing ones; `0 · ∞` would make NaN where the definition has no term,
//! so a plane whose inputs are not all finite is computed by the reference
//! instead (on that plane alone; it allocates its f64 sums).
//!
//! Limits: 1-D and 2-D problems, no dilation along the row, strides up to
//! [`MAX_STRIDE`]; others stay on the GEMM path.

use crate::element::Element;
use crate::error::{Result, XcorrError};
use crate::geometry::{Problem, MAX_DIMS};
use crate::isa::{DirectKernel, GemmKernel};
use crate::parallel;
use crate::Op;

use super::direct::Direct;

/// The largest row stride this route takes (each phase is a kernel plane).
pub(crate) const MAX_STRIDE: usize = 8;

/// A strided-row problem as per-plane stride-1 direct problems.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct StridedDirect {
    p: Problem,
    /// The derived problem of one output plane (its group's input channels).
    sub: Direct,
    sub_p: Problem,
    /// The row stride.
    s: usize,
    /// The stride between rows split into phases as well (1: rows not split).
    sh: usize,
    /// Rows per phase plane: `OH - 1 + kh'` (split rows), else the padded
    /// height (1 for 1-D).
    hq: usize,
    /// Kernel rows per phase: `ceil(kh / sh)`.
    khq: usize,
    /// Columns per phase row: `OW - 1 + K'`.
    wq: usize,
    /// Taps per phase row: `ceil(k / s)`.
    kq: usize,
    /// Whether some phase has fewer taps than the others (zero weights added).
    ragged: bool,
    /// One output plane as a problem of its own (batch 1, its group's input
    /// channels): planes with an infinity or NaN run on the reference.
    plane_p: Problem,
}

impl StridedDirect {
    /// # Errors
    /// `PathUnsupported` for problems this route does not take (see the module).
    pub(crate) fn new(p: &Problem) -> Result<StridedDirect> {
        let unsupported = |reason: String| XcorrError::PathUnsupported {
            path: "direct",
            reason,
        };
        let (ker, out) = (p.kernel3(), p.output3());
        let (stride, dil, pad, inp) = (p.stride3(), p.dilation3(), p.pad3(), p.input3());
        let s = stride[MAX_DIMS - 1];
        if s == 1 || s > MAX_STRIDE || dil[MAX_DIMS - 1] != 1 || p.dims() > 2 {
            return Err(unsupported(format!(
                "the innermost stride is {s}; the direct path takes 1, or 2 to {MAX_STRIDE} \
                 in 1-D and 2-D problems without dilation along the row"
            )));
        }
        let kq = ker[2].div_ceil(s);
        let wq = out[2] - 1 + kq;
        // A stride between rows splits the rows by phase too (the derived
        // problem then has stride 1 everywhere, which the multi-row kernels
        // take); with a dilation between them, only the columns are split.
        let sh = if p.dims() == 2 && stride[1] > 1 && dil[1] == 1 {
            stride[1]
        } else {
            1
        };
        if sh > MAX_STRIDE {
            return Err(unsupported(format!(
                "the row stride {sh} is over {MAX_STRIDE}"
            )));
        }
        let khq = ker[1].div_ceil(sh);
        let hq = if sh > 1 {
            out[1] - 1 + khq
        } else {
            inp[1] + pad[1].0 + pad[1].1
        };
        let builder = Problem::builder()
            .channels(p.in_channels_per_group(), 1)
            .op(Op::Correlation);
        let sub_p = if p.dims() == 2 {
            builder
                .input([sh * s, hq, wq])
                .kernel([sh * s, khq, kq])
                .stride([1, stride[1] / sh, 1])
                .dilation([1, dil[1], 1])
                .build()?
        } else {
            builder.input([s, wq]).kernel([s, kq]).build()?
        };
        debug_assert_eq!(sub_p.output_spatial(), p.output_spatial());
        Ok(StridedDirect {
            p: *p,
            sub: Direct::new(&sub_p)?,
            sub_p,
            s,
            sh,
            hq,
            khq,
            wq,
            kq,
            ragged: !ker[2].is_multiple_of(s) || !ker[1].is_multiple_of(sh),
            plane_p: p
                .to_builder()
                .batch(1)
                .channels(p.in_channels_per_group(), 1)
                .groups(1)
                .build()?,
        })
    }

    /// The derived stride-1 problem of one output plane, and how many planes.
    pub(crate) fn sub_problem(&self) -> (&Problem, usize) {
        (&self.sub_p, self.p.batch() * self.p.out_channels())
    }

    /// Elements of one task's slot: the split input planes, the weights by
    /// phase and the derived problem's workspace.
    fn slot_len(&self) -> usize {
        self.sub_p.input_len() + self.sub_p.weight_len() + self.sub.workspace_len(1)
    }

    pub(crate) fn workspace_len(&self, threads: usize) -> usize {
        threads
            .clamp(1, parallel::MAX_SCRATCH_SLOTS)
            .saturating_mul(self.slot_len())
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn forward<T: Element>(
        &self,
        kern: &DirectKernel<T>,
        gemm: &GemmKernel<T>,
        threads: usize,
        input: &[T],
        weight: &[T],
        bias: Option<&[T]>,
        output: &mut [T],
        workspace: &mut [T],
    ) {
        let p = &self.p;
        let plane = p.output_spatial();
        let slots = threads.clamp(1, parallel::MAX_SCRATCH_SLOTS);
        let slot_len = self.slot_len();
        let scratch = &mut workspace[..slots * slot_len];
        parallel::for_each_nested_chunk_mut_scratch(
            threads,
            output,
            (plane, plane),
            scratch,
            slot_len,
            |task, _, out, slot| {
                let (n, co) = (task / p.out_channels(), task % p.out_channels());
                let (xq, rest) = slot.split_at_mut(self.sub_p.input_len());
                let (wq, ws) = rest.split_at_mut(self.sub_p.weight_len());
                let finite = self.split_planes(kern, gemm, input, n, co, xq);
                let b = bias.map(|b| &b[co..co + 1]);
                if finite {
                    self.phase_weights(weight, co, wq);
                    self.sub.forward(
                        kern,
                        1,
                        xq,
                        wq,
                        b,
                        out,
                        &mut ws[..self.sub.workspace_len(1)],
                    );
                } else {
                    // The reference on this plane alone (its group's input
                    // channels of image `n` and `co`'s weights are contiguous).
                    let cin_g = p.in_channels_per_group();
                    let ci = co / p.out_channels_per_group() * cin_g;
                    let x = &input[(n * p.in_channels() + ci) * p.input_spatial()..]
                        [..self.plane_p.input_len()];
                    let w = &weight[co * self.plane_p.weight_len()..][..self.plane_p.weight_len()];
                    // Lengths are the plane problem's own: it cannot fail
                    // (checked where debug assertions are on, as in the tests).
                    let done = crate::reference::forward(&self.plane_p, x, w, b, out);
                    debug_assert!(done.is_ok(), "{done:?}");
                }
            },
        );
    }

    /// Pads and splits the input planes of output channel `co`'s group (image
    /// `n`) into `xq` (`[ci][σ·s + ρ][a][j]`: padded row `σ + sh·a`, column
    /// `ρ + s·j`). Whether the result is safe to run with the zero weights of
    /// ragged phases: every value finite, or no such weights.
    fn split_planes<T: Element>(
        &self,
        kern: &DirectKernel<T>,
        gemm: &GemmKernel<T>,
        input: &[T],
        n: usize,
        co: usize,
        xq: &mut [T],
    ) -> bool {
        let p = &self.p;
        let (inp, pad, mode) = (p.input3(), p.pad3(), p.padding_mode());
        let (s, sh, wq, hq) = (self.s, self.sh, self.wq, self.hq);
        let (cin_g, cout_g) = (p.in_channels_per_group(), p.out_channels_per_group());
        let in_plane = inp[1] * inp[2];
        let padded_rows = inp[1] + pad[1].0 + pad[1].1;
        for (c, chan) in xq.chunks_exact_mut(sh * s * hq * wq).enumerate() {
            let ci = co / cout_g * cin_g + c;
            let x = &input[(n * p.in_channels() + ci) * in_plane..][..in_plane];
            for h in 0..sh * hq {
                // Phase ρ of padded row h is at `((σ·s + ρ)·hq + a)·wq`.
                let (sigma, a) = (h % sh, h / sh);
                let row = |r: usize| ((sigma * s + r) * hq + a) * wq;
                let src = if h < padded_rows {
                    mode.source(h as isize - pad[1].0 as isize, inp[1])
                } else {
                    None
                };
                let Some(y) = src else {
                    (0..s).for_each(|r| chan[row(r)..row(r) + wq].fill(T::ZERO));
                    continue;
                };
                let src = &x[y * inp[2]..(y + 1) * inp[2]];
                let at = row(0);
                let phase_stride = hq * wq;
                split_padded_row(
                    gemm,
                    src,
                    (pad[2].0, mode),
                    s,
                    &mut chan[at..],
                    (phase_stride, wq),
                );
            }
        }
        !self.ragged || kern.all_finite(xq)
    }

    /// Output channel `co`'s weights by phase: `wq[ci][σ·s + ρ][a][i] =
    /// w[ci][σ + sh·a][ρ + s·i]` of the correlation kernel (zero past the last
    /// row or tap).
    fn phase_weights<T: Element>(&self, weight: &[T], co: usize, wq: &mut [T]) {
        let p = &self.p;
        let ker = p.kernel3();
        let (s, sh, kq, khq, taps) = (self.s, self.sh, self.kq, self.khq, p.kernel_spatial());
        let cin_g = p.in_channels_per_group();
        let w = &weight[co * cin_g * taps..(co + 1) * cin_g * taps];
        let flip = p.op() == Op::Convolution;
        let mut dst = wq.iter_mut();
        for wc in w.chunks_exact(taps) {
            for (sigma, r) in (0..sh).flat_map(|g| (0..s).map(move |r| (g, r))) {
                for a in 0..khq {
                    for i in 0..kq {
                        let (kh, kw) = (sigma + sh * a, r + s * i);
                        let t = kh * ker[2] + kw;
                        let v = if kh >= ker[1] || kw >= ker[2] {
                            T::ZERO
                        } else if flip {
                            wc[taps - 1 - t]
                        } else {
                            wc[t]
                        };
                        if let Some(d) = dst.next() {
                            *d = v;
                        }
                    }
                }
            }
        }
    }
}

/// Input row `src` padded (`left` columns before it, through `mode`) and split
/// by phase: `dst[ρ·stride + i]` = padded column `ρ + s·i` for `ρ < s`, `i <
/// len`. Stride 2 splits the whole pairs inside the row by vector
/// (`split_pairs`), the rest one column at a time.
pub(crate) fn split_padded_row<T: Element>(
    gemm: &GemmKernel<T>,
    src: &[T],
    (left, mode): (usize, crate::PaddingMode),
    s: usize,
    dst: &mut [T],
    (stride, len): (usize, usize),
) {
    let padded = |col: usize| {
        mode.source(col as isize - left as isize, src.len())
            .map_or(T::ZERO, |i| src[i])
    };
    if s == 2 {
        let lo = left.min(2 * len);
        let hi = (left + src.len()).min(2 * len);
        let (even, odd) = dst.split_at_mut(stride);
        let (e, o) = (&mut even[..len], &mut odd[..len]);
        let first = lo.div_ceil(2);
        let pairs = (hi / 2).saturating_sub(first);
        if pairs > 0 {
            let at = 2 * first - left;
            gemm.split_pairs(
                &src[at..at + 2 * pairs],
                &mut e[first..first + pairs],
                &mut o[first..first + pairs],
            );
        }
        for j in (0..first).chain(first + pairs..len) {
            e[j] = padded(2 * j);
            o[j] = padded(2 * j + 1);
        }
    } else {
        for r in 0..s {
            for (i, d) in dst[r * stride..r * stride + len].iter_mut().enumerate() {
                *d = padded(r + s * i);
            }
        }
    }
}
