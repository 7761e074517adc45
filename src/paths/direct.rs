//! The SIMD-tiled direct path: for single-channel and few-channel filtering (images,
//! signals, volumes) and depthwise / grouped convolutions, where im2col would copy
//! the input `k` times for a GEMM with one or a few rows.
//!
//! Every problem is a set of **output rows** `(n, co, od, oh)`. One output row sums,
//! over the input channels of its group and the kernel rows `(kd, kh)`, a 1-D
//! correlation of one input row with one kernel row. The input row of kernel row
//! `(kd, kh)` is chosen through the padding mode (a reflected, replicated or
//! wrapped row, or a shared row of zeros), so the top, bottom, front and back
//! borders cost nothing per tap. Along the row:
//!
//! * the **interior** columns, whose taps all fall inside the row, run the level's
//!   vector kernel (`isa::DirectKernel`) with no bounds checks: blocks of 8 vectors of
//!   outputs (8 independent FMA chains), every tap a broadcast weight times an
//!   unaligned load (taps one vector apart share their loads, which halves the
//!   loads of kernels longer than a vector; those take blocks of 16 vectors at
//!   AVX-512, each chain having two FMAs per pair), or blocks of several output rows
//!   that share each loaded input vector; both prefetch the input a few blocks
//!   ahead, since large images and signals stream from L3 or memory;
//! * the few **border** columns at either end go through `PaddingMode::source`;
//!   where rows are narrow (at most 512 columns, as depthwise layers and small
//!   volumes have) and those columns would be a large share of scalar work, the
//!   whole row runs through the vector kernel: with stride and dilation 1 along
//!   H, one kernel call computes all of a task's rows (`SlabTasks`). Zero-padded
//!   rows (kernels of up to 8 taps a row) are read in place on the levels with
//!   masked loads: the padding columns are lanes left out of the loads of a row's
//!   first and last vectors, padding rows a shared zero row, and nothing is
//!   copied. Other modes (and the portable level) pad the rows each task reads
//!   once into its thread's slab of the workspace (3-D tasks of several output
//!   planes keep a ring of padded input planes). Without stride and dilation 1
//!   along H, a block's few input rows go into a small stack strip.
//!
//! **Zero taps** of sparse kernels (most taps zero, large enough to be
//! compute-bound: see `sparse`) are skipped: each output row sums only the
//! non-zero taps, from a tap list (`DirectKernel::taps`), with a check that keeps
//! `0·∞ = NaN` exact at no extra pass over the input (`sparse_interior`).
//!
//! **Outputs too large to stay cached** (input and output together at least the
//! last-level cache, one input channel per group, so each row is written once)
//! are written with non-temporal stores (`Vector::store_stream`) from the first
//! aligned column on, by the multi-row kernel (images) and the row kernel
//! (signals): a cached store first reads the line it writes, a third more memory
//! traffic on a filter that only streams (img3 1T 0.87-0.91 -> 0.63-0.65 ms,
//! sig1d 1T 1.62-1.68 -> 1.52-1.55 ms). Every column of a row is summed in the
//! same order whichever block computes it, so where the blocks start does not
//! change a bit.
//!
//! No padded copy of the whole input is made. Output rows are independent, so threads
//! split over them and each row is summed in the same order whatever the thread
//! count. The innermost stride must be 1 (vector loads are contiguous); 1-D and
//! 2-D problems with a larger one run as stride-1 problems on their input split
//! by phase (`direct_strided`), others go to the im2col path.

use crate::element::Element;
use crate::error::{Result, XcorrError};
use crate::geometry::{Op, PaddingMode, Problem};
use crate::isa::{
    DirectKernel, InPlaceRows, Isa, DIRECT_MAX_ROWS, DIRECT_MAX_TAPS, IN_PLACE_MAX_TAPS,
};
use crate::parallel;

/// How one call's row blocks compute: whether sparse kernels skip their zero
/// taps, and whether outputs too large to stay cached are streamed
/// ([`Direct::streams_output`]).
#[derive(Clone, Copy, Debug)]
struct Route {
    skip: bool,
    stream: bool,
}

/// A border output column and, per tap, the input column it reads (`None`: zero).
type BorderColumn = (usize, Vec<(usize, Option<usize>)>);

/// The geometry of the direct path for one problem, computed once per plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Direct {
    p: Problem,
    /// Output columns `lo..hi` read only inside the input row.
    lo: usize,
    hi: usize,
    /// For each border column (`ow`, left then right), each tap with the input
    /// column it reads (the padding mode applied once, here), or `None` on zero
    /// padding (multiplied as a zero, so `0·∞` is NaN as in the reference).
    border_taps: Vec<BorderColumn>,
    /// Whether `border_taps` holds every border column.
    tabled: bool,
    /// Whether row blocks go through a padded stack strip (`STRIP_LEN`, one per
    /// task of `NARROW_BLOCKS` blocks, where they fit): the rows
    /// are short and have border columns, which would otherwise be a large share
    /// of scalar work (depthwise layers, small images and volumes).
    narrow: bool,
    /// How narrow rows are padded into per-thread slabs of the workspace, where
    /// the multi-row kernel applies (see `SlabTasks`).
    slab: Option<SlabTasks>,
    /// How a slab row is padded: input columns `s0..` copied to `x0..x1`, and each
    /// other column `x` from input column `c` (`None`: zero); empty where the
    /// padding is too wide to table (then `pad_row`).
    slab_row: (usize, usize, usize, Vec<(usize, Option<usize>)>),
    /// The last-level cache's size in bytes, read when the plan is made (the
    /// first read parses sysfs, which allocates): see `streams_output`.
    l3: usize,
}

/// Tasks of narrow rows through slabs: each task pads the input rows it reads
/// once into its thread's slab (`slot` elements of the workspace: one padded
/// plane of `rows + kh - 1` rows per kernel plane), and one kernel call per input
/// channel computes all its rows. A task is `planes` whole output planes of one
/// volume, whose kernel planes share padded input planes (a ring: 3-D kernels pad
/// each input plane once per task instead of once per kernel plane and row
/// block), or `rows` rows of one output plane.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct SlabTasks {
    planes: usize,
    rows: usize,
    /// Padded row length: `out_w + (kw-1)·dil`.
    sw: usize,
    /// Slab rows are `row` elements apart (a multiple of [`SLAB_LINE`]) and start
    /// `lead` elements into their span, so that the row's first input column lies
    /// on a 64-byte line (`row` and the slab's start aligned): copying into the slab
    /// stores whole lines, and the middle tap of a 3-wide kernel loads them (a
    /// vector across two lines costs two accesses).
    lead: usize,
    row: usize,
    /// Elements of one thread's slab; 0 where no slab is needed (wide rows read
    /// in place).
    slot: usize,
    /// Whether the kernel can read the input in place instead (zero padding, or
    /// none, and at most `IN_PLACE_MAX_TAPS` taps per kernel row): on the levels
    /// with masked loads, the padding is left out by lane, and nothing is copied.
    in_place: bool,
}

impl SlabTasks {
    /// Where the slab route applies: narrow rows with stride and dilation 1 along
    /// H and more than one output row, whose kernel planes' row tables fit the
    /// multi-row kernel (rows per block at most 4 on every level).
    fn new(p: &Problem, narrow: bool) -> Option<SlabTasks> {
        let (ker, out, dil) = (p.kernel3(), p.output3(), p.dilation3());
        let in_place = (p.padding_mode() == PaddingMode::Zeros
            || p.pad3().iter().all(|&s| s == (0, 0)))
            && ker[2] <= IN_PLACE_MAX_TAPS;
        // Rows without border columns take tasks too where they are short and
        // can be read in place (one kernel call per task instead of per block).
        if !(narrow || in_place && out[2] <= NARROW_ROW)
            || p.stride3()[1] != 1
            || dil[1] != 1
            || out[1] < 2
            || ker[0] * (4 + ker[1] - 1) > DIRECT_MAX_ROWS
        {
            return None;
        }
        let sw = (ker[2] - 1).checked_mul(dil[2])?.checked_add(out[2])?;
        let x0 = p.pad3()[2].0.min(sw);
        let lead = (SLAB_LINE - x0 % SLAB_LINE) % SLAB_LINE;
        let row = lead.checked_add(sw)?.checked_next_multiple_of(SLAB_LINE)?;
        let slot = |rows: usize| {
            ker[0]
                .checked_mul(rows + ker[1] - 1)?
                .checked_mul(row)?
                .checked_add(SLAB_LINE)
        };
        let tasks = |planes, rows| SlabTasks {
            planes,
            rows,
            sw,
            lead,
            row,
            slot: if narrow {
                slot(rows).unwrap_or(usize::MAX)
            } else {
                0
            },
            in_place,
        };
        if ker[0] > 1 && slot(out[1])? <= SLAB_MAX {
            return Some(tasks(SLAB_PLANES.min(out[0]), out[1]));
        }
        // Rows per task: a multiple of 4 (of every level's rows per block).
        let mut rows = SLAB_ROWS.min(out[1]);
        while rows > 4 && slot(rows)? > SLAB_MAX {
            rows = (rows / 2).next_multiple_of(4).min(rows - 4);
        }
        (slot(rows)? <= SLAB_MAX).then(|| tasks(1, rows))
    }
}

/// Elements per alignment unit of slab rows (64 bytes of f32).
const SLAB_LINE: usize = 16;

/// Padding columns of a slab row tabled at most.
const MAX_TABLED_SLAB_BORDER: usize = 64;

/// Border columns tabled per plan at most.
const MAX_TABLED_BORDER: usize = 1 << 16;

impl Direct {
    /// # Errors
    /// `PathUnsupported` if the innermost stride is not 1.
    pub(crate) fn new(p: &Problem) -> Result<Direct> {
        let (inp, ker, out) = (p.input3(), p.kernel3(), p.output3());
        let (stride, dil, pad) = (p.stride3(), p.dilation3(), p.pad3());
        if stride[2] != 1 {
            return Err(XcorrError::PathUnsupported {
                path: "direct",
                reason: format!(
                    "the innermost stride is {}; the direct path needs 1",
                    stride[2]
                ),
            });
        }
        // Output ow reads input ow - pad + t·dil for t < k: inside for all t iff
        // pad <= ow and ow + (k-1)·dil - pad < W.
        let span = (ker[2] - 1) * dil[2];
        let lo = pad[2].0.min(out[2]);
        let hi = (inp[2] + pad[2].0).saturating_sub(span).min(out[2]).max(lo);
        let mode = p.padding_mode();
        // Padding far beyond the input makes border columns as many as outputs; then
        // their taps are found on the fly instead of tabled.
        let tabled = lo + (out[2] - hi) <= MAX_TABLED_BORDER;
        let border_taps = (0..lo)
            .chain(hi..out[2])
            .filter(|_| tabled)
            .map(|ow| {
                let taps = (0..ker[2])
                    .map(|t| {
                        let pos = (ow + t * dil[2]) as isize - pad[2].0 as isize;
                        (t, mode.source(pos, inp[2]))
                    })
                    .collect();
                (ow, taps)
            })
            .collect();
        let narrow = (lo > 0 || hi < out[2]) && out[2] <= NARROW_ROW;
        Ok(Direct {
            p: *p,
            lo,
            hi,
            tabled,
            border_taps,
            narrow,
            slab: SlabTasks::new(p, narrow),
            slab_row: Self::slab_row(p),
            l3: crate::cache::caches().l3,
        })
    }

    /// Whether the problem's input and output together fill the last-level
    /// cache, so that its output would be evicted before it is read again:
    /// writing it with non-temporal stores then saves reading each line before
    /// its first write (img3 1T: 0.87-0.91 -> 0.63-0.65 ms). Below that the
    /// output stays cached for whatever reads it next (a 512×1024 image measured
    /// 20% slower streamed). On several threads, a filter of few taps is bound by
    /// memory bandwidth, and streamed lines all go to memory where cached ones
    /// partly stay in the cache: sig1d_k3 at 2T took 0.43 ms streamed against
    /// 0.30 cached; from 9 taps (img3 2T: equal; img5 2T 0.85 -> 0.65 ms) the
    /// arithmetic hides the writes.
    fn streams_output<T: Element>(&self, threads: usize) -> bool {
        let elems = self.p.input_len().saturating_add(self.p.output_len());
        elems.saturating_mul(std::mem::size_of::<T>()) >= self.l3
            && (threads <= 1 || self.p.kernel_spatial() >= 9)
    }

    /// The padding of a slab row ([`Direct::slab_row`](Direct#structfield.slab_row)).
    fn slab_row(p: &Problem) -> (usize, usize, usize, Vec<(usize, Option<usize>)>) {
        let (ker, out, dil) = (p.kernel3(), p.output3(), p.dilation3());
        let Some(sw) = (ker[2] - 1)
            .checked_mul(dil[2])
            .and_then(|s| s.checked_add(out[2]))
        else {
            return (0, 0, 0, Vec::new());
        };
        let (len, first) = (p.input3()[2], -(p.pad3()[2].0 as isize));
        let n = sw as isize;
        let (x0, x1) = ((-first).clamp(0, n), (len as isize - first).clamp(0, n));
        let (x0, x1) = (x0 as usize, x1.max(x0) as usize);
        if sw - (x1 - x0) > MAX_TABLED_SLAB_BORDER {
            return (0, 0, 0, Vec::new());
        }
        let mode = p.padding_mode();
        let border = (0..x0)
            .chain(x1..sw)
            .map(|x| (x, mode.source(first + x as isize, len)))
            .collect();
        (x0, x1, (first + x0 as isize).max(0) as usize, border)
    }

    /// Workspace: for convolution, the flipped weights; where the depth or height
    /// axes are padded, a row of zeros for their padded rows; for narrow rows, a
    /// slab per thread (`SlabTasks`).
    pub(crate) fn workspace_len(&self, threads: usize) -> usize {
        let flipped = if self.p.op() == Op::Convolution {
            self.p.weight_len()
        } else {
            0
        };
        (flipped + self.zero_row_len()).saturating_add(self.slabs_len(threads))
    }

    fn slabs_len(&self, threads: usize) -> usize {
        self.slab.map_or(0, |s| {
            s.slot
                .saturating_mul(threads.clamp(1, parallel::MAX_SCRATCH_SLOTS))
        })
    }

    fn zero_row_len(&self) -> usize {
        let pad = self.p.pad3();
        if pad[0] == (0, 0) && pad[1] == (0, 0) && !self.slab.is_some_and(|s| s.in_place) {
            0
        } else {
            self.p.input3()[2]
        }
    }

    /// `output = input ⋆ weight + bias`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn forward<T: Element>(
        &self,
        kern: &DirectKernel<T>,
        threads: usize,
        input: &[T],
        weight: &[T],
        bias: Option<&[T]>,
        output: &mut [T],
        workspace: &mut [T],
    ) {
        let p = &self.p;
        // Correlation reads the weights in place; convolution reverses each (co, ci)
        // kernel into the workspace, which flips every spatial axis at once.
        let (flipped, zero) = workspace.split_at_mut(match p.op() {
            Op::Correlation => 0,
            Op::Convolution => p.weight_len(),
        });
        let (zero, slabs) = zero.split_at_mut(self.zero_row_len());
        let taps = p.kernel_spatial();
        if p.op() == Op::Convolution {
            for (d, s) in flipped
                .chunks_exact_mut(taps)
                .zip(weight.chunks_exact(taps))
            {
                d.iter_mut().zip(s.iter().rev()).for_each(|(d, s)| *d = *s);
            }
        }
        zero.fill(T::ZERO);
        let wt: &[T] = if p.op() == Op::Convolution {
            flipped
        } else {
            weight
        };
        let zero = &*zero;
        // Sparse kernels skip their zero taps (see `block`).
        let single = p.kernel3()[0] * p.kernel3()[1] == 1;
        let skip = taps > 0
            && wt
                .chunks_exact(taps)
                .any(|w| sparse(w, single, self.narrow));
        let route = Route {
            skip,
            stream: self.streams_output::<T>(threads),
        };
        let out = p.output3();
        let (out_h, out_w) = (out[1], out[2]);
        // (Rows without border columns take tasks only to be read in place, and
        // keep the zero-tap route of sparse kernels.)
        if let Some(st) = self.slab.filter(|_| self.narrow || !skip) {
            // Whole planes of one volume per task, or rows of one plane.
            let (outer, inner) = if st.planes > 1 {
                (out[0] * out_h * out_w, st.planes * out_h * out_w)
            } else {
                (out_h * out_w, st.rows * out_w)
            };
            // The first output plane and row of task `j` of chunk `i`.
            let first = |i: usize, j: usize| {
                if st.planes > 1 {
                    (i * out[0] + j * st.planes, 0)
                } else {
                    (i, j * st.rows)
                }
            };
            if st.in_place && matches!(kern.isa, Isa::Avx2 | Isa::Avx512) {
                parallel::for_each_nested_chunk_mut(
                    threads,
                    output,
                    outer,
                    inner,
                    |i, j, chunk| {
                        self.in_place_task(kern, &st, first(i, j), (input, wt, bias, zero), chunk)
                    },
                );
                return;
            }
            // (Rows without border columns read in place only.)
            if self.narrow && st.slot > 0 {
                let slots = self.slabs_len(threads).min(slabs.len());
                parallel::for_each_nested_chunk_mut_scratch(
                    threads,
                    output,
                    (outer, inner),
                    &mut slabs[..slots],
                    st.slot,
                    |i, j, chunk, slot| {
                        self.slab_task(kern, &st, first(i, j), (input, wt, bias), chunk, slot)
                    },
                );
                return;
            }
        }
        // Rows of a block share input rows when consecutive output rows are
        // consecutive input rows (stride and dilation 1 along H).
        let rpb = if p.stride3()[1] == 1 && p.dilation3()[1] == 1 && out_h > 1 {
            kern.rows_per_block
        } else {
            1
        };
        // Threads split planes into blocks of rows, or a single long row (a 1-D
        // signal) into column segments.
        let inner = if out_h == 1 {
            SEGMENT.min(out_w)
        } else if self.narrow {
            NARROW_BLOCKS * rpb * out_w
        } else {
            rpb * out_w
        };
        parallel::for_each_nested_chunk_mut(
            threads,
            output,
            out_h * out_w,
            inner,
            |plane, i, chunk| {
                if out_h == 1 {
                    self.block_rows(
                        kern,
                        plane,
                        0,
                        1,
                        i * inner,
                        input,
                        wt,
                        route,
                        bias,
                        zero,
                        chunk,
                        &mut [],
                    );
                } else if self.narrow {
                    // One strip per task, reused by its row blocks, no larger than
                    // a block needs (zeroing it is a cost on small problems).
                    let mut run = |strip: &mut [T]| {
                        for (k, sub) in chunk.chunks_mut(rpb * out_w).enumerate() {
                            let (oh0, rows) = ((i * NARROW_BLOCKS + k) * rpb, sub.len() / out_w);
                            self.block_rows(
                                kern, plane, oh0, rows, 0, input, wt, route, bias, zero, sub, strip,
                            );
                        }
                    };
                    let ker = p.kernel3();
                    // Saturating: a dilated span near the extent limit overflows.
                    let row = (ker[2] - 1)
                        .saturating_mul(p.dilation3()[2])
                        .saturating_add(out_w);
                    let need = (ker[0] * (rpb + ker[1] - 1)).saturating_mul(row);
                    if need <= STRIP_LEN / 16 {
                        run(&mut [T::ZERO; STRIP_LEN / 16]);
                    } else if need <= STRIP_LEN / 4 {
                        run(&mut [T::ZERO; STRIP_LEN / 4]);
                    } else {
                        run(&mut [T::ZERO; STRIP_LEN]);
                    }
                } else {
                    let rows = chunk.len() / out_w;
                    self.block_rows(
                        kern,
                        plane,
                        i * rpb,
                        rows,
                        0,
                        input,
                        wt,
                        route,
                        bias,
                        zero,
                        chunk,
                        &mut [],
                    );
                }
            },
        );
    }

    /// A task of [`SlabTasks`] read in place (`st.in_place`, on a level with
    /// masked loads): output planes `first.0..`, rows `first.1..` of each, one
    /// kernel call per output plane and input channel, nothing copied.
    #[allow(clippy::type_complexity)]
    fn in_place_task<T: Element>(
        &self,
        kern: &DirectKernel<T>,
        st: &SlabTasks,
        (plane0, oh0): (usize, usize),
        (input, wt, bias, zero): (&[T], &[T], Option<&[T]>, &[T]),
        out: &mut [T],
    ) {
        let p = &self.p;
        let (inp, ker, outd) = (p.input3(), p.kernel3(), p.output3());
        let (stride, dil, pad) = (p.stride3(), p.dilation3(), p.pad3());
        let mode = p.padding_mode();
        let (cin_g, cout_g) = (p.in_channels_per_group(), p.out_channels_per_group());
        let (taps, kd_n, kh, kw) = (p.kernel_spatial(), ker[0], ker[1], ker[2]);
        let width = outd[2];
        let rows = if st.planes > 1 {
            outd[1]
        } else {
            out.len() / width
        };
        // Output row oh0 + y with kernel row k reads input row oh0 + y + k - top.
        let plane_len = inp[1] * inp[2];
        let skip = oh0.saturating_sub(pad[1].0).min(inp[1]);
        let g = InPlaceRows {
            stride: inp[2],
            in_rows: inp[1] - skip,
            top: pad[1].0.saturating_sub(oh0),
            len: inp[2],
            left: pad[2].0,
            next: crate::isa::in_place_next_rows(kd_n),
        };
        for (k, o) in out.chunks_mut(rows * width).enumerate() {
            let plane = plane0 + k;
            let (od, rest) = (plane % outd[0], plane / outd[0]);
            let (co, n) = (rest % p.out_channels(), rest / p.out_channels());
            let grp = co / cout_g;
            let b = bias.map_or(T::ZERO, |b| b[co]);
            for ci in 0..cin_g {
                let c = grp * cin_g + ci;
                let chan =
                    &input[(n * p.in_channels() + c) * p.input_spatial()..][..p.input_spatial()];
                let mut planes: [Option<&[T]>; DIRECT_MAX_ROWS] = [None; DIRECT_MAX_ROWS];
                for (kd, pl) in planes[..kd_n].iter_mut().enumerate() {
                    let d = mode.source(
                        (od * stride[0] + kd * dil[0]) as isize - pad[0].0 as isize,
                        inp[0],
                    );
                    *pl = d.map(|d| &chan[d * plane_len + skip * inp[2]..(d + 1) * plane_len]);
                }
                let w_c = &wt[(co * cin_g + ci) * taps..][..taps];
                kern.in_place(
                    &planes[..kd_n],
                    zero,
                    g,
                    (kh, kw, dil[2]),
                    w_c,
                    o,
                    width,
                    b,
                    ci > 0,
                );
            }
        }
    }

    /// A slab task (see [`SlabTasks`]): output planes `first.0..` (`(n, co, od)`
    /// flattened; `out` holds whole planes when `st.planes > 1`), rows
    /// `first.1..` of each. The slot holds one padded plane per kernel plane,
    /// tagged with the input plane it holds, so consecutive output planes reuse
    /// the input planes they share (stride and dilation along depth need not be
    /// 1: each kernel plane's source is looked up).
    #[allow(clippy::type_complexity)]
    fn slab_task<T: Element>(
        &self,
        kern: &DirectKernel<T>,
        st: &SlabTasks,
        (plane0, oh0): (usize, usize),
        (input, wt, bias): (&[T], &[T], Option<&[T]>),
        out: &mut [T],
        slot: &mut [T],
    ) {
        let p = &self.p;
        let (inp, ker, outd) = (p.input3(), p.kernel3(), p.output3());
        let (stride, dil, pad) = (p.stride3(), p.dilation3(), p.pad3());
        let mode = p.padding_mode();
        let (cin_g, cout_g) = (p.in_channels_per_group(), p.out_channels_per_group());
        let (taps, kd_n, kh, kw) = (p.kernel_spatial(), ker[0], ker[1], ker[2]);
        let (width, sw) = (outd[2], st.sw);
        let rows = if st.planes > 1 {
            outd[1]
        } else {
            out.len() / width
        };
        let nin = rows + kh - 1;
        let plane_len = nin * st.row;
        // Which input plane (image, channel, depth; `None` depth: padding) each
        // kernel-plane slab holds.
        type Tag = Option<(usize, usize, Option<usize>)>;
        let mut tags: [Tag; DIRECT_MAX_ROWS] = [None; DIRECT_MAX_ROWS];
        // From a 64-byte boundary (the workspace may start anywhere).
        let align = slot
            .as_ptr()
            .align_offset(64)
            .min(SLAB_LINE - 1)
            .min(slot.len());
        let slot = &mut slot[align..][..kd_n * plane_len];
        for (k, o) in out.chunks_mut(rows * width).enumerate() {
            let plane = plane0 + k;
            let (od, rest) = (plane % outd[0], plane / outd[0]);
            let (co, n) = (rest % p.out_channels(), rest / p.out_channels());
            let g = co / cout_g;
            let b = bias.map_or(T::ZERO, |b| b[co]);
            for ci in 0..cin_g {
                let c = g * cin_g + ci;
                let chan =
                    &input[(n * p.in_channels() + c) * p.input_spatial()..][..p.input_spatial()];
                let source = |kd: usize| {
                    mode.source(
                        (od * stride[0] + kd * dil[0]) as isize - pad[0].0 as isize,
                        inp[0],
                    )
                };
                // The slab of each kernel plane: one holding its input plane, or one
                // holding a plane no kernel plane needs now, padded anew.
                let mut which = [0usize; DIRECT_MAX_ROWS];
                for (kd, slab) in which[..kd_n].iter_mut().enumerate() {
                    let want = Some((n, c, source(kd)));
                    if let Some(s) = tags[..kd_n].iter().position(|&t| t == want) {
                        *slab = s;
                        continue;
                    }
                    // One exists: at most kd_n - 1 slabs hold planes needed now.
                    let needed = |t: Tag| (0..kd_n).any(|k| t == Some((n, c, source(k))));
                    let Some(s) = (0..kd_n).find(|&s| !needed(tags[s])) else {
                        continue;
                    };
                    tags[s] = want;
                    *slab = s;
                    let d = source(kd);
                    let dst = &mut slot[s * plane_len..][..plane_len];
                    for (y, dst) in dst.chunks_exact_mut(st.row).enumerate() {
                        let dst = &mut dst[st.lead..][..sw];
                        let h = mode.source((oh0 + y) as isize - pad[1].0 as isize, inp[1]);
                        match (d, h) {
                            (Some(d), Some(h)) => self.pad_slab_row(
                                kern,
                                &chan[(d * inp[1] + h) * inp[2]..][..inp[2]],
                                dst,
                            ),
                            _ => dst.fill(T::ZERO),
                        }
                    }
                }
                let slot = &*slot;
                let mut planes: [&[T]; DIRECT_MAX_ROWS] = [&[]; DIRECT_MAX_ROWS];
                for (pl, &s) in planes.iter_mut().zip(&which[..kd_n]) {
                    *pl = &slot[s * plane_len + st.lead..][..plane_len - st.lead];
                }
                let w_c = &wt[(co * cin_g + ci) * taps..][..taps];
                kern.slab(
                    &planes[..kd_n],
                    st.row,
                    kh,
                    kw,
                    dil[2],
                    w_c,
                    o,
                    width,
                    b,
                    ci > 0,
                );
            }
        }
    }

    /// [`block`](Self::block) with row tables of 16 or 32 entries where the
    /// kernel's rows fit them (most kernels: filling the 64-entry tables costs
    /// small blocks, such as depthwise layers', about 8% of their time), else of
    /// [`DIRECT_MAX_ROWS`].
    #[allow(clippy::too_many_arguments)]
    fn block_rows<T: Element>(
        &self,
        kern: &DirectKernel<T>,
        plane: usize,
        oh0: usize,
        nrows: usize,
        c0: usize,
        input: &[T],
        wt: &[T],
        route: Route,
        bias: Option<&[T]>,
        zero: &[T],
        out: &mut [T],
        strip: &mut [T],
    ) {
        let ker = self.p.kernel3();
        let rows = ker[0] * (ker[1] + kern.rows_per_block - 1);
        if rows <= 16 {
            self.block::<T, 16>(
                kern, plane, oh0, nrows, c0, input, wt, route, bias, zero, out, strip,
            )
        } else if rows <= 32 {
            self.block::<T, 32>(
                kern, plane, oh0, nrows, c0, input, wt, route, bias, zero, out, strip,
            )
        } else {
            self.block::<T, DIRECT_MAX_ROWS>(
                kern, plane, oh0, nrows, c0, input, wt, route, bias, zero, out, strip,
            )
        }
    }

    /// Computes output rows `oh0..oh0 + nrows` of output plane `plane` (`(n, co,
    /// od)` flattened), columns `c0..c0 + width` where `out` holds
    /// `nrows × width` values.
    #[allow(clippy::too_many_arguments)]
    fn block<T: Element, const N: usize>(
        &self,
        kern: &DirectKernel<T>,
        plane: usize,
        oh0: usize,
        nrows: usize,
        c0: usize,
        input: &[T],
        wt: &[T],
        route: Route,
        bias: Option<&[T]>,
        zero: &[T],
        out: &mut [T],
        strip: &mut [T],
    ) {
        let p = &self.p;
        let (inp, ker, outd) = (p.input3(), p.kernel3(), p.output3());
        let (stride, dil, pad) = (p.stride3(), p.dilation3(), p.pad3());
        let mode = p.padding_mode();
        let (od, rest) = (plane % outd[0], plane / outd[0]);
        let (co, n) = (rest % p.out_channels(), rest / p.out_channels());
        let (cin_g, cout_g) = (p.in_channels_per_group(), p.out_channels_per_group());
        let g = co / cout_g;
        let (taps, kw, kh) = (p.kernel_spatial(), ker[2], ker[1]);
        let width = out.len() / nrows;
        let c1 = c0 + width;
        // Interior columns of this segment, relative to c0.
        let (lo, hi) = (self.lo.clamp(c0, c1) - c0, self.hi.clamp(c0, c1) - c0);
        let b = bias.map_or(T::ZERO, |b| b[co]);
        let source = |a: usize, o: usize, t: usize| {
            mode.source(
                (o * stride[a] + t * dil[a]) as isize - pad[a].0 as isize,
                inp[a],
            )
        };
        // Border columns of kernels with many taps go through the vector kernel
        // from padded edge strips (`vector_edges`, a stack buffer per call).
        let vector_edges = taps >= VECTOR_EDGE_TAPS && (lo > 0 || hi < width);
        let nin = nrows + kh - 1;
        let multi = nrows == kern.rows_per_block && nrows > 1 && ker[0] * nin <= N;
        // One pass over a single input channel writes the interior once and for
        // all: an output too large to stay cached is streamed past the caches.
        let stream = cin_g == 1 && route.stream;
        let mut first = true;
        for ci in 0..cin_g {
            let c = g * cin_g + ci;
            let chan = &input[(n * p.in_channels() + c) * p.input_spatial()..][..p.input_spatial()];
            let w_c = &wt[(co * cin_g + ci) * taps..][..taps];
            let depth = |kd: usize| {
                source(0, od, kd).map(|d| &chan[d * inp[1] * inp[2]..][..inp[1] * inp[2]])
            };
            fn row_at<'a, T>(
                depth: Option<&'a [T]>,
                ih: Option<usize>,
                w: usize,
                zero: &'a [T],
            ) -> &'a [T] {
                match (depth, ih) {
                    (Some(dp), Some(h)) => &dp[h * w..][..w],
                    _ => zero,
                }
            }
            let row_of = |depth, ih| row_at(depth, ih, inp[2], zero);
            if route.skip && sparse(w_c, kh * ker[0] == 1, self.narrow) {
                // Only the non-zero taps, one output row at a time (see
                // `sparse_interior`); the border columns as on the dense route.
                for (r, o) in out.chunks_exact_mut(width).enumerate() {
                    let oh = oh0 + r;
                    if hi > lo {
                        let start = c0 + lo - pad[2].0;
                        let row =
                            |kd: usize, i: usize| &row_of(depth(kd), source(1, oh, i))[start..];
                        self.sparse_interior(kern, row, w_c, &mut o[lo..hi], b, !first, zero);
                    }
                    for kd in 0..ker[0] {
                        let dp = depth(kd);
                        let w = &w_c[kd * kh * kw..][..kh * kw];
                        for k0 in (0..kh).step_by(N) {
                            let nk = N.min(kh - k0);
                            let mut rows: [&[T]; N] = [zero; N];
                            for (t, row) in rows[..nk].iter_mut().enumerate() {
                                *row = row_of(dp, source(1, oh, k0 + t));
                            }
                            let wk = &w[k0 * kw..(k0 + nk) * kw];
                            let acc = !(first && kd == 0 && k0 == 0);
                            self.row_border(
                                kern,
                                &rows[..nk],
                                wk,
                                o,
                                (c0, lo, hi),
                                b,
                                acc,
                                vector_edges,
                            );
                        }
                    }
                }
                first = false;
                continue;
            }
            if multi {
                // Input rows oh0 + i - pad (i < nrows + kh - 1) of every kernel plane,
                // shared by the block's rows; one kernel call covers all planes.
                let mut rows: [&[T]; N] = [zero; N];
                for kd in 0..ker[0] {
                    let dp = depth(kd);
                    for (i, r) in rows[kd * nin..(kd + 1) * nin].iter_mut().enumerate() {
                        *r = row_of(dp, source(1, oh0, i));
                    }
                }
                let all = &rows[..ker[0] * nin];
                let sw = width + (kw - 1) * dil[2];
                if all.len().checked_mul(sw).is_some_and(|n| n <= strip.len()) {
                    // Narrow rows with border columns: the block's input rows are
                    // padded into the task's strip, and every column runs through the
                    // vector kernel (no scalar border columns).
                    let strip = &mut strip[..all.len() * sw];
                    for (dst, src) in strip.chunks_exact_mut(sw).zip(all) {
                        self.pad_row(src, dst);
                    }
                    let mut sl: [&[T]; N] = [zero; N];
                    for (s, r) in sl.iter_mut().zip(strip.chunks_exact(sw)) {
                        *s = r;
                    }
                    let mut o8 = row_slices(out, width, 0..width);
                    kern.rows(
                        &sl[..all.len()],
                        kh,
                        kw,
                        dil[2],
                        w_c,
                        &mut o8[..nrows],
                        b,
                        !first,
                        false,
                    );
                    first = false;
                    continue;
                }
                if hi > lo {
                    let start = c0 + lo - pad[2].0;
                    let mut sl: [&[T]; N] = [zero; N];
                    for (s, r) in sl.iter_mut().zip(all) {
                        *s = &r[start..];
                    }
                    let mut o8 = row_slices(out, width, lo..hi);
                    kern.rows(
                        &sl[..all.len()],
                        kh,
                        kw,
                        dil[2],
                        w_c,
                        &mut o8[..nrows],
                        b,
                        !first,
                        stream,
                    );
                }
                let vector = vector_edges
                    && self.vector_edges(all, c0, lo, hi, width, |rows, cols| {
                        let mut o8 = row_slices(out, width, cols);
                        kern.rows(
                            rows,
                            kh,
                            kw,
                            dil[2],
                            w_c,
                            &mut o8[..nrows],
                            b,
                            !first,
                            false,
                        );
                    });
                if !vector {
                    for (r, o) in out.chunks_exact_mut(width).enumerate() {
                        for kd in 0..ker[0] {
                            let w = &w_c[kd * kh * kw..][..kh * kw];
                            let rs = &all[kd * nin + r..kd * nin + r + kh];
                            self.border(rs, w, o, c0, b, first && kd == 0);
                        }
                    }
                }
                first = false;
                continue;
            }
            for kd in 0..ker[0] {
                let w = &w_c[kd * kh * kw..][..kh * kw];
                let dp = depth(kd);
                for (r, o) in out.chunks_exact_mut(width).enumerate() {
                    // Kernel rows in chunks the kernel call takes; later chunks add.
                    for k0 in (0..kh).step_by(N) {
                        let nk = N.min(kh - k0);
                        let mut rows: [&[T]; N] = [zero; N];
                        for (t, row) in rows[..nk].iter_mut().enumerate() {
                            *row = row_of(dp, source(1, oh0 + r, k0 + t));
                        }
                        let wk = &w[k0 * kw..(k0 + nk) * kw];
                        let acc = !(first && k0 == 0);
                        if hi > lo {
                            let start = c0 + lo - pad[2].0;
                            let mut sl: [&[T]; N] = [zero; N];
                            for (s, row) in sl[..nk].iter_mut().zip(&rows[..nk]) {
                                *s = &row[start..];
                            }
                            // The only write of these columns: one plane, one chunk of rows.
                            let stream = stream && ker[0] == 1 && kh <= N;
                            kern.row(&sl[..nk], kw, dil[2], wk, &mut o[lo..hi], b, acc, stream);
                        }
                        self.row_border(
                            kern,
                            &rows[..nk],
                            wk,
                            o,
                            (c0, lo, hi),
                            b,
                            acc,
                            vector_edges,
                        );
                    }
                }
                first = false;
            }
        }
    }

    /// The interior of one output row (`out`) over the non-zero taps of the
    /// kernel `w` only, in the dense order: `row(kd, kh)` is the input row of kernel
    /// row `(kd, kh)` from the first column the first output reads.
    ///
    /// A skipped `0·x` adds exactly zero where `x` is finite, but `0·∞` is NaN. So
    /// the inputs the skipped taps read are proven finite, at no extra pass over the
    /// input: a finite output proves every input a non-zero tap read was finite
    /// (`w·∞` is not finite for a non-zero `w`), and in a kernel row with non-zero
    /// taps those reads cover the skipped taps' reads but for a few end columns,
    /// checked here; a kernel row of zeros is checked whole. Where that fails, the
    /// skipped taps are added as `0·x`, which makes the result exactly the
    /// reference's NaN.
    #[allow(clippy::too_many_arguments)]
    fn sparse_interior<'a, T: Element>(
        &self,
        kern: &DirectKernel<T>,
        row: impl Fn(usize, usize) -> &'a [T],
        w: &[T],
        out: &mut [T],
        b: T,
        accumulate: bool,
        zero: &'a [T],
    ) {
        let p = &self.p;
        let (ker, dil) = (p.kernel3(), p.dilation3()[2]);
        let (kh, kw, n) = (ker[1], ker[2], out.len());
        let window = n + (kw - 1) * dil;
        let mut list: [&[T]; DIRECT_MAX_TAPS] = [zero; DIRECT_MAX_TAPS];
        let mut wl = [T::ZERO; DIRECT_MAX_TAPS];
        let (mut k, mut fetch, mut acc) = (0, 0u64, accumulate);
        let (mut skipped, mut ends_finite) = (false, true);
        for kd in 0..ker[0] {
            for i in 0..kh {
                let r = row(kd, i);
                let wr = &w[(kd * kh + i) * kw..][..kw];
                let mut new_row = true;
                for (t, &wv) in wr.iter().enumerate() {
                    if wv == T::ZERO {
                        continue;
                    }
                    list[k] = &r[t * dil..];
                    wl[k] = wv;
                    fetch |= u64::from(new_row) << k;
                    new_row = false;
                    k += 1;
                    if k == DIRECT_MAX_TAPS {
                        kern.taps(&list, &wl, fetch, out, b, acc);
                        (k, fetch, acc) = (0, 0, true);
                    }
                }
                if !wr.contains(&T::ZERO) {
                    continue;
                }
                let first = wr.iter().position(|&v| v != T::ZERO);
                let last = wr.iter().rposition(|&v| v != T::ZERO);
                skipped = true;
                let win = &r[..window];
                // The non-zero taps of this row read one interval when their gaps
                // are at most `n`; outside it lie the skipped taps' extra reads.
                ends_finite &= match (first, last) {
                    (Some(f), Some(l)) if (l - f) * dil <= n => {
                        kern.all_finite(&win[..f * dil]) && kern.all_finite(&win[l * dil + n..])
                    }
                    _ => kern.all_finite(win),
                };
            }
        }
        if k > 0 || !acc {
            kern.taps(&list[..k], &wl[..k], fetch, out, b, acc);
        }
        if !skipped || (ends_finite && kern.all_finite(out)) {
            return;
        }
        // Some input the skipped taps read may be an infinity or a NaN: add them.
        wl = [T::ZERO; DIRECT_MAX_TAPS];
        k = 0;
        for kd in 0..ker[0] {
            for i in 0..kh {
                let r = row(kd, i);
                for (t, _) in w[(kd * kh + i) * kw..][..kw]
                    .iter()
                    .enumerate()
                    .filter(|(_, &v)| v == T::ZERO)
                {
                    list[k] = &r[t * dil..];
                    k += 1;
                    if k == DIRECT_MAX_TAPS {
                        kern.taps(&list, &wl, 0, out, b, true);
                        k = 0;
                    }
                }
            }
        }
        kern.taps(&list[..k], &wl[..k], 0, out, b, true);
    }

    /// [`pad_row`](Self::pad_row) for slab rows, from the tabled columns: the
    /// row's inside by the level's inline copy, then the padding columns.
    fn pad_slab_row<T: Element>(&self, kern: &DirectKernel<T>, src: &[T], dst: &mut [T]) {
        let (x0, x1, s0, border) = &self.slab_row;
        if border.is_empty() && dst.len() != x1 - x0 {
            return self.pad_row(src, dst);
        }
        kern.copy(&src[*s0..s0 + (x1 - x0)], &mut dst[*x0..*x1]);
        for &(x, c) in border {
            dst[x] = c.map_or(T::ZERO, |c| src[c]);
        }
    }

    /// One input row with the padding of the innermost axis applied: `dst[x]` is
    /// input column `x - pad` through the padding mode (0 outside, for zeros).
    fn pad_row<T: Element>(&self, src: &[T], dst: &mut [T]) {
        self.pad_segment(src, dst, -(self.p.pad3()[2].0 as isize));
    }

    /// `dst[x]` = input column `first + x` of row `src` through the padding mode.
    fn pad_segment<T: Element>(&self, src: &[T], dst: &mut [T], first: isize) {
        let mode = self.p.padding_mode();
        let len = src.len() as isize;
        let n = dst.len() as isize;
        // Columns inside the row: one copy; the rest through the mode.
        let (x0, x1) = ((-first).clamp(0, n), (len - first).clamp(0, n));
        let (x0, x1) = (x0 as usize, x1.max(x0) as usize);
        if x1 > x0 {
            let s0 = (first + x0 as isize) as usize;
            dst[x0..x1].copy_from_slice(&src[s0..s0 + (x1 - x0)]);
        }
        for x in (0..x0).chain(x1..dst.len()) {
            dst[x] = mode
                .source(first + x as isize, src.len())
                .map_or(T::ZERO, |i| src[i]);
        }
    }

    /// The border columns of one output row segment `o` (columns `c0..`, interior
    /// `lo..hi` relative to `c0`) for kernel rows `rows` with weights `w`: through
    /// the row kernel from edge strips where `vector` (and they fit), else the
    /// scalar loop; starting from `o` (`acc`) or from the bias `b`.
    #[allow(clippy::too_many_arguments)]
    fn row_border<T: Element>(
        &self,
        kern: &DirectKernel<T>,
        rows: &[&[T]],
        w: &[T],
        o: &mut [T],
        (c0, lo, hi): (usize, usize, usize),
        b: T,
        acc: bool,
        vector: bool,
    ) {
        let (kw, dil) = (self.p.kernel3()[2], self.p.dilation3()[2]);
        let width = o.len();
        let done = vector
            && self.vector_edges(rows, c0, lo, hi, width, |rows, cols| {
                kern.row(rows, kw, dil, w, &mut o[cols], b, acc, false)
            });
        if !done {
            self.border(rows, w, o, c0, b, !acc);
        }
    }

    /// The border columns of a row segment through the vector kernel: for each
    /// side (output columns `0..lo` and `hi..width`, relative to `c0`), the input
    /// rows `src` are padded over just the columns that side reads into a stack
    /// buffer sized to the need (its own frame, so callers that do not come here
    /// do not pay for it), and `run(rows, cols)` computes output columns `cols`
    /// from them. Returns false, having done nothing, where a side's rows do not
    /// fit the largest buffer.
    #[inline(never)]
    fn vector_edges<T: Element>(
        &self,
        src: &[&[T]],
        c0: usize,
        lo: usize,
        hi: usize,
        width: usize,
        run: impl FnMut(&[&[T]], std::ops::Range<usize>),
    ) -> bool {
        let p = &self.p;
        let span = (p.kernel3()[2] - 1) * p.dilation3()[2];
        let need = [(0, lo), (hi, width)]
            .iter()
            .filter(|&&(a, b)| b > a)
            .map(|&(a, b)| (b - a + span).checked_mul(src.len()))
            .try_fold(0usize, |m, n| n.map(|n| m.max(n)));
        let sides = (c0, lo, hi, width, span);
        // Stack buffers sized to the need: they are made (zeroed) twice per row
        // block, and at full size that was 10% of img5 (two 1 KiB row tables).
        match need {
            Some(n) if src.len() <= EDGE_FEW_ROWS && n <= EDGE_LEN / 32 => {
                self.edge_strips::<T, EDGE_FEW_ROWS>(src, sides, &mut [T::ZERO; EDGE_LEN / 32], run)
            }
            Some(n) if src.len() <= DIRECT_MAX_ROWS && n <= EDGE_LEN / 8 => self
                .edge_strips::<T, DIRECT_MAX_ROWS>(src, sides, &mut [T::ZERO; EDGE_LEN / 8], run),
            Some(n) if src.len() <= DIRECT_MAX_ROWS && n <= EDGE_LEN => {
                self.edge_strips::<T, DIRECT_MAX_ROWS>(src, sides, &mut [T::ZERO; EDGE_LEN], run)
            }
            _ => return false,
        }
        true
    }

    /// [`vector_edges`](Self::vector_edges) with its buffer, for up to `N` rows.
    fn edge_strips<T: Element, const N: usize>(
        &self,
        src: &[&[T]],
        (c0, lo, hi, width, span): (usize, usize, usize, usize, usize),
        buf: &mut [T],
        mut run: impl FnMut(&[&[T]], std::ops::Range<usize>),
    ) {
        let pad = self.p.pad3()[2].0 as isize;
        for (a, b) in [(0, lo), (hi, width)] {
            if b <= a {
                continue;
            }
            let sw = b - a + span;
            let strip = &mut buf[..src.len() * sw];
            for (dst, s) in strip.chunks_exact_mut(sw).zip(src) {
                self.pad_segment(s, dst, (c0 + a) as isize - pad);
            }
            let mut rows: [&[T]; N] = [&[]; N];
            for (r, c) in rows.iter_mut().zip(strip.chunks_exact(sw)) {
                *r = c;
            }
            run(&rows[..src.len()], a..b);
        }
    }

    /// The border columns of one output row segment (`out` = columns `c0..`; the
    /// interior is `lo..hi` relative to `c0`), from the precomputed tap lists.
    #[allow(clippy::too_many_arguments)]
    fn border<T: Element>(
        &self,
        rows: &[&[T]],
        w: &[T],
        out: &mut [T],
        c0: usize,
        b: T,
        first: bool,
    ) {
        let kw = self.p.kernel3()[2];
        let n = out.len();
        let c1 = c0 + n;
        if !self.tabled {
            let p = &self.p;
            let (dil, pad, len, mode) = (
                p.dilation3()[2],
                p.pad3()[2].0,
                p.input3()[2],
                p.padding_mode(),
            );
            for j in (0..self.lo.clamp(c0, c1) - c0).chain(self.hi.clamp(c0, c1) - c0..n) {
                let ow = c0 + j;
                let mut acc = if first { b } else { out[j] };
                for (row, wr) in rows.iter().zip(w.chunks_exact(kw)) {
                    for (t, &wv) in wr.iter().enumerate() {
                        let pos = (ow + t * dil) as isize - pad as isize;
                        acc += mode.source(pos, len).map_or(T::ZERO, |i| row[i]) * wv;
                    }
                }
                out[j] = acc;
            }
            return;
        }
        for (ow, taps) in &self.border_taps {
            if *ow < c0 || *ow >= c1 {
                continue;
            }
            let j = ow - c0;
            let mut acc = if first { b } else { out[j] };
            for (row, wr) in rows.iter().zip(w.chunks_exact(kw)) {
                for &(t, col) in taps {
                    acc += col.map_or(T::ZERO, |c| row[c]) * wr[t];
                }
            }
            out[j] = acc;
        }
    }
}

/// Elements of the stack strip that narrow row blocks are padded into (16 KiB of
/// f32): enough for 3-D kernels over rows of a few hundred columns.
const STRIP_LEN: usize = 4096;

/// Taps per kernel from which border columns run through the vector kernel (from
/// padded edge strips) instead of the scalar loop.
const VECTOR_EDGE_TAPS: usize = 25;

/// The first `out.len() / width` (at most 8) rows of `width` values of `out`, each
/// cut to columns `cols`: the output rows of one multi-row kernel call.
fn row_slices<T>(out: &mut [T], width: usize, cols: std::ops::Range<usize>) -> [&mut [T]; 8] {
    let mut rows: [&mut [T]; 8] = Default::default();
    for (r, row) in rows.iter_mut().zip(out.chunks_exact_mut(width)) {
        *r = &mut row[cols.clone()];
    }
    rows
}

/// Elements of the stack buffer for those edge strips.
const EDGE_LEN: usize = 4096;

/// Rows of the smallest edge strips (a 5×5 block's eight input rows).
const EDGE_FEW_ROWS: usize = 16;

/// Elements of one thread's slab at most (256 KiB of f32, half of L2 or less on
/// current x86): a ring of three 130×130 padded planes (vol3d) fits.
const SLAB_MAX: usize = 1 << 16;

/// Output planes per slab task of a 3-D kernel (each task pads `kd - 1` input
/// planes beyond its own: 8 planes copy each input plane 1.25 times).
const SLAB_PLANES: usize = 8;

/// Output rows per slab task of a 2-D kernel, at most.
const SLAB_ROWS: usize = 64;

/// Output rows at most this long take the strip when they have border columns.
const NARROW_ROW: usize = 512;

/// Row blocks per task on narrow rows (they share one strip).
const NARROW_BLOCKS: usize = 16;

/// Columns per task when a plane is a single row (a 1-D signal).
const SEGMENT: usize = 16384;

/// Whether a kernel `w` has zeros enough that summing only its non-zero taps
/// (one output row at a time, [`DirectKernel::taps`]) is faster than the dense
/// kernels. Those share each loaded input vector between taps or output rows, so a
/// tap costs them 2-5x less than the tap-list kernel (whose every tap is a load
/// per vector): measured break-even near 1/3 non-zero taps for a single kernel row
/// (a 31-tap signal) and 1/4-1/5 for 2-D kernels (11x11, 31x31); kernels of under
/// 32 taps over images, and narrow rows, are memory- or overhead-bound either way.
fn sparse<T: Element>(w: &[T], single_row: bool, narrow: bool) -> bool {
    let nonzero = w.iter().filter(|&&v| v != T::ZERO).count();
    let taps = w.len();
    !narrow
        && if single_row {
            taps >= 8 && nonzero * 3 <= taps
        } else {
            taps >= 32 && nonzero * 5 <= taps
        }
}
