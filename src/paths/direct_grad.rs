//! The weight gradient on the direct path, for the problems that path computes
//! (depthwise, grouped with few channels per group, single-channel filters).
//!
//! On the GEMM engine such a gradient is a GEMM with one or a few rows per
//! group (`M` = output channels per group), packed in tiles of 8: dw's gradient
//! spent half its time packing those rows and ran at 0.5% of peak. Here each
//! pair of an output channel and one of its group's input channels is a direct
//! reduction instead: `gW[co, ci, kd, kh, kw] = Σ_n Σ_o x_pad[n, ci][o·s +
//! k·d] · gY[n, co][o]`, a correlation of the input with the output gradient
//! whose "outputs" are the kernel's taps. `DirectKernel::grad_weight` keeps one
//! vector accumulator per tap across a band of output rows and loads each
//! output-gradient vector once for all of them.
//!
//! The input rows a band reads are first padded into a strip of the thread's
//! workspace, through the padding mode, so the kernel has no borders (a strip of
//! at most [`STRIP_ELEMS`] values: the whole plane of dw's 112×112 images,
//! a few rows of a large one). The innermost stride is 1 on the direct path.
//!
//! Determinism: the reduction of a pair is split into a fixed number of chunks
//! (enough for several threads when pairs are few, the same for every thread
//! count); each chunk sums its bands in order into its own partial sums, and the
//! partials are added in chunk order.

use crate::element::Element;
use crate::geometry::{Problem, MAX_DIMS};
use crate::isa::{DirectKernel, GemmKernel, GradWeightRows};
use crate::parallel;
use crate::Op;

/// The most values of one band's strip of padded input rows (64 KiB of f32:
/// stays in L2 while the kernel reads it once per kernel row).
const STRIP_ELEMS: usize = 16384;

/// Chunks × channel pairs aimed for: enough tasks to balance a few threads.
const MIN_TASKS: usize = 16;

/// The direct weight gradient's geometry for a problem.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct DirectGradWeight {
    p: Problem,
    /// Output rows per band.
    band: usize,
    /// Bands per output plane `(n, od)`.
    bands: usize,
    /// Chunks each pair's work units `(n, od, band)` are split into.
    chunks: usize,
    /// The stride along the row, `s`: each padded input row is held as `s`
    /// phase rows (columns `ρ + s·i`), so that tap `ρ + s·i` reads phase row
    /// `ρ` contiguously from column `j + i` (1: the row as it is).
    s: usize,
    /// Taps per phase row: `ceil(KW / s)` (`KW` for s = 1).
    kq: usize,
    /// Columns a (phase) row holds: `OW + (KW-1)·dw` for s = 1, else
    /// `OW - 1 + kq`.
    row_len: usize,
    /// Values of a strip: the rows of the largest band.
    strip_len: usize,
}

impl DirectGradWeight {
    /// `None` for a stride along the row with a dilation along it too, or over
    /// [`MAX_STRIDE`](super::direct_strided::MAX_STRIDE).
    pub(crate) fn new(p: &Problem) -> Option<DirectGradWeight> {
        let (ker, out) = (p.kernel3(), p.output3());
        let (stride, dil) = (p.stride3(), p.dilation3());
        let s = stride[2];
        if s > 1 && (dil[2] != 1 || s > super::direct_strided::MAX_STRIDE) {
            return None;
        }
        let (kq, row_len) = if s == 1 {
            (ker[2], out[2] + (ker[2] - 1) * dil[2])
        } else {
            let kq = ker[2].div_ceil(s);
            (kq, out[2] - 1 + kq)
        };
        let halo = (ker[1] - 1) * dil[1] + 1;
        let strip_rows = |band: usize| (band - 1) * stride[1] + halo;
        let fit = (STRIP_ELEMS / (s * row_len).max(1)).saturating_sub(halo) / stride[1] + 1;
        let band = fit.clamp(1, out[1]);
        let bands = out[1].div_ceil(band);
        let pairs = p.out_channels() * p.in_channels_per_group();
        let units = p.batch() * out[0] * bands;
        let chunks = MIN_TASKS.div_ceil(pairs).clamp(1, units.max(1));
        Some(DirectGradWeight {
            p: *p,
            band,
            bands,
            chunks,
            s,
            kq,
            row_len,
            strip_len: strip_rows(band) * s * row_len,
        })
    }

    /// Sums of one band by phase (`[kh][ρ][i]`) before they are added to
    /// their taps; none for s = 1.
    fn phase_sums_len(&self) -> usize {
        if self.s == 1 {
            0
        } else {
            self.p.kernel3()[1] * self.s * self.kq
        }
    }

    fn slot_len(&self) -> usize {
        self.strip_len + self.phase_sums_len()
    }

    /// Whether this route is the faster one for a problem the GEMM engine would
    /// take: the weight gradient's GEMM has `cout_per_group` rows (tiles of 8
    /// on AVX-512) and `cin_per_group · taps` columns. Measured at 1T
    /// (`--pass bwd_weight`, direct / im2col, ms): 4 rows 0.19 / 0.51
    /// (`n1_ic16_oc16_g4_i56x56_k3x3`), 0.32 / 0.73 (`n1_ic4_oc4_i112x112_k5x5`);
    /// 8 rows and 9 columns 0.41 / 1.26 (`n1_ic1_oc8_i256x256_k3x3`); 8 rows and
    /// 72 columns 0.50 / 0.51 (`n1_ic8_oc8_i112x112_k3x3`), 0.38 / 0.31
    /// (`n1_ic16_oc16_g2_i56x56_k3x3`); 16 rows and 27 columns 1.39 / 1.19
    /// (`n1_ic3_oc16_i224x224_k3x3`).
    pub(crate) fn beats_gemm(p: &Problem) -> bool {
        p.out_channels_per_group() < 8 || p.in_channels_per_group() * p.kernel_spatial() < 16
    }

    fn pairs(&self) -> usize {
        self.p.out_channels() * self.p.in_channels_per_group()
    }

    /// Partial sums kept in the workspace (none with one chunk per pair).
    fn partials_len(&self) -> usize {
        if self.chunks == 1 {
            0
        } else {
            self.pairs() * self.chunks * self.p.kernel_spatial()
        }
    }

    fn slots(threads: usize) -> usize {
        threads.clamp(1, parallel::MAX_SCRATCH_SLOTS)
    }

    /// Elements of workspace [`run`](Self::run) needs on `threads` threads.
    pub(crate) fn workspace_len(&self, threads: usize) -> usize {
        self.partials_len()
            .saturating_add(Self::slots(threads).saturating_mul(self.slot_len()))
    }

    /// `grad_weight = ∂(Σ output·grad_output)/∂weight` (the weight as given: for
    /// convolution, the flipped taps). Lengths are the caller's to check.
    pub(crate) fn run<T: Element>(
        &self,
        (kern, gemm): (&DirectKernel<T>, &GemmKernel<T>),
        threads: usize,
        input: &[T],
        grad_output: &[T],
        grad_weight: &mut [T],
        workspace: &mut [T],
    ) {
        let taps = self.p.kernel_spatial();
        let (partials, strips) = workspace.split_at_mut(self.partials_len());
        let strips = &mut strips[..Self::slots(threads) * self.slot_len()];
        let chunk = |pair: usize, c: usize, sums: &mut [T], strip: &mut [T]| {
            sums.fill(T::ZERO);
            self.chunk((kern, gemm), input, grad_output, pair, c, sums, strip);
        };
        if self.chunks == 1 {
            parallel::for_each_nested_chunk_mut_scratch(
                threads,
                grad_weight,
                (taps, taps),
                strips,
                self.slot_len(),
                chunk,
            );
        } else {
            parallel::for_each_nested_chunk_mut_scratch(
                threads,
                partials,
                (self.chunks * taps, taps),
                strips,
                self.slot_len(),
                chunk,
            );
            for (gw, parts) in grad_weight
                .chunks_exact_mut(taps)
                .zip(partials.chunks_exact(self.chunks * taps))
            {
                gw.copy_from_slice(&parts[..taps]);
                for part in parts.chunks_exact(taps).skip(1) {
                    gw.iter_mut().zip(part).for_each(|(g, v)| *g += *v);
                }
            }
        }
        if self.p.op() == Op::Convolution {
            // The stored kernel is flipped on every axis: its taps in reverse.
            grad_weight.chunks_exact_mut(taps).for_each(<[T]>::reverse);
        }
    }

    /// Chunk `c` of channel pair `pair` (`co · cin_per_group + ci`): its work
    /// units `(n, od, band)` in order, summed into `sums` (one per tap).
    #[allow(clippy::too_many_arguments)]
    fn chunk<T: Element>(
        &self,
        (kern, gemm): (&DirectKernel<T>, &GemmKernel<T>),
        input: &[T],
        grad_output: &[T],
        pair: usize,
        c: usize,
        sums: &mut [T],
        strip: &mut [T],
    ) {
        let p = &self.p;
        let (inp, ker, out) = (p.input3(), p.kernel3(), p.output3());
        let (stride, dil, pad) = (p.stride3(), p.dilation3(), p.pad3());
        let mode = p.padding_mode();
        let (cin_g, cout_g) = (p.in_channels_per_group(), p.out_channels_per_group());
        let (co, cig) = (pair / cin_g, pair % cin_g);
        let ci = co / cout_g * cin_g + cig;
        let (in_plane, out_plane) = (inp[1] * inp[2], out[1] * out[2]);
        let plane_taps = ker[1] * ker[2];
        let units = p.batch() * out[0] * self.bands;
        let (u0, u1) = (units * c / self.chunks, units * (c + 1) / self.chunks);
        for u in u0..u1 {
            let (n, od, b) = (
                u / (out[0] * self.bands),
                u / self.bands % out[0],
                u % self.bands,
            );
            let oh0 = b * self.band;
            let rows = self.band.min(out[1] - oh0);
            let g_off = ((n * p.out_channels() + co) * out[0] + od) * out_plane + oh0 * out[2];
            let g = &grad_output[g_off..g_off + rows * out[2]];
            let x_chan =
                &input[(n * p.in_channels() + ci) * inp[0] * in_plane..][..inp[0] * in_plane];
            let strip_rows = (rows - 1) * stride[1] + (ker[1] - 1) * dil[1] + 1;
            let (strip, phase_sums) = strip.split_at_mut(self.strip_len);
            let strip = &mut strip[..strip_rows * self.s * self.row_len];
            for kd in 0..ker[0] {
                let zp = (od * stride[0] + kd * dil[0]) as isize - pad[0].0 as isize;
                // A zero padding plane is summed too (rather than skipped): its
                // zeros times an infinite or NaN output gradient are NaN, as in
                // the definition (found by fuzzing).
                let plane = mode
                    .source(zp, inp[0])
                    .map(|z| &x_chan[z * in_plane..(z + 1) * in_plane]);
                let y0 = (oh0 * stride[1]) as isize - pad[1].0 as isize;
                for (y, row) in strip.chunks_exact_mut(self.s * self.row_len).enumerate() {
                    let src =
                        plane.and_then(|pl| Some((pl, mode.source(y0 + y as isize, inp[1])?)));
                    match src {
                        Some((plane, r)) => {
                            self.pad_row((kern, gemm), &plane[r * inp[2]..(r + 1) * inp[2]], row)
                        }
                        None => row.fill(T::ZERO),
                    }
                }
                let sums = &mut sums[kd * plane_taps..][..plane_taps];
                let s = GradWeightRows {
                    xs: stride[1] * self.s * self.row_len,
                    rs: dil[1] * self.s * self.row_len,
                    dil: dil[2],
                    kh: ker[1],
                    taps: ker[2],
                    gs: out[2],
                    rows,
                    n: out[2],
                };
                if self.s == 1 {
                    kern.grad_weight(strip, g, s, sums);
                    continue;
                }
                // By phase: kernel row r's phase ρ is strip row `r·dh·s + ρ`, its
                // taps `ρ + s·i` (those past the kernel's last are dropped).
                let ps = &mut phase_sums[..self.phase_sums_len()];
                ps.fill(T::ZERO);
                let by_phase = GradWeightRows {
                    rs: self.row_len,
                    dil: 1,
                    kh: self.s,
                    taps: self.kq,
                    ..s
                };
                for (r, part) in ps.chunks_exact_mut(self.s * self.kq).enumerate() {
                    let at = r * s.rs;
                    kern.grad_weight(&strip[at..], g, by_phase, part);
                    for (rho, sums_rho) in part.chunks_exact(self.kq).enumerate() {
                        for (i, v) in sums_rho.iter().enumerate() {
                            let t = rho + self.s * i;
                            if t < ker[2] {
                                sums[r * ker[2] + t] += *v;
                            }
                        }
                    }
                }
            }
        }
    }

    /// `row` = the padded columns of input row `src`: `0..row_len`, or for
    /// s > 1 its `s` phase rows (phase ρ, column i: padded column `ρ + s·i`).
    fn pad_row<T: Element>(
        &self,
        (kern, gemm): (&DirectKernel<T>, &GemmKernel<T>),
        src: &[T],
        row: &mut [T],
    ) {
        let (w, left) = (src.len(), self.p.pad3()[MAX_DIMS - 1].0);
        let mode = self.p.padding_mode();
        let padded = |c: usize| {
            mode.source(c as isize - left as isize, w)
                .map_or(T::ZERO, |s| src[s])
        };
        if self.s > 1 {
            let lens = (self.row_len, self.row_len);
            return super::direct_strided::split_padded_row(
                gemm,
                src,
                (left, mode),
                self.s,
                row,
                lens,
            );
        }
        let inside = left.min(row.len())..(left + w).min(row.len());
        kern.copy(&src[..inside.len()], &mut row[inside.clone()]);
        for c in (0..inside.start).chain(inside.end..row.len()) {
            row[c] = padded(c);
        }
    }
}
