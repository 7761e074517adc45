//! The im2col + GEMM path: multi-channel convolution layers as one GEMM per image
//! and group, `Y[co, pixel] = Σ_k W[co, k] · B[k, pixel]`, where `k` runs over
//! `(input channel, kernel tap)` and `B` is the im2col matrix — never materialised.
//!
//! **Implicit im2col.** Each image is first copied once into a *prepared* buffer:
//! padded (any padding mode, through `PaddingMode::source`) and split into stride
//! phases (`x[s·i + φ]` goes to phase plane `φ`, index `i`). In that buffer every
//! row of `B` is a contiguous, shifted view: tap `t` on an axis with stride `s` and
//! dilation `d` reads phase `(t·d) mod s` at shift `⌊t·d / s⌋`, so
//! `B[(c, t), o] = prepared[offset(c, t) + grid(o)]` with `grid(o)` the output
//! position laid out on the phase plane's row length. The GEMM's columns are
//! either the **grid positions** from the first output to the last, where a row
//! of a panel of `B` is `NR` contiguous values of the prepared image and the
//! microkernel reads it in place, never packed (the few padding columns between
//! output rows are computed and dropped: full tiles store their vectors
//! straight into the output, those columns left out by lane mask); or, where
//! those extra columns would
//! cost more than packing saves, the output pixels, and each KC × NR panel of `B`
//! is packed straight through the table of row offsets (`RowTable`), one run per
//! output row the panel touches. See `Im2col::grid_columns`.
//!
//! Stride, dilation, padding mode and the convolution flip (folded into the order
//! A is packed in) cost nothing in the inner loops. A 1×1 kernel with stride 1 and
//! no padding is a pure GEMM: the input itself is the B buffer, no copy. Extra
//! memory of the forward pass: the packed weights plus one prepared image (the
//! padded input, split by phase) per image slot, never the `C_in·k × pixels`
//! matrix; a prepared image over `BAND_MIN` elements is instead prepared band by
//! band (`Band`), one band buffer of about `BAND_TARGET` elements per thread, so
//! the extra memory is bounded whatever the image size; the weight gradient
//! reduces over the same bands in turn. The input gradient is the forward pass
//! of a derived problem: for a strided layer, one stride-1 pass per stride phase
//! of the padded input (`GradPhase`), or the output gradient spread out by the
//! stride where a strided axis is dilated (its buffers are the size of the
//! derived problem). Bias is added in the scatter.

use crate::element::Element;
use crate::gemm::pack::{self, RowTable, SharedOut};
use crate::gemm::{self, Blocking, DirectC, GridOut, PanelB, Scratch};
use crate::geometry::{Op, PaddingMode, Problem, MAX_DIMS};
use crate::isa::microkernel::OutPart;
use crate::isa::GemmKernel;
use crate::parallel;
use crate::paths::Weights;

/// The geometry of the path for one problem, computed once per plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Im2col {
    p: Problem,
    /// Stride phases kept per axis: `min(stride, padded extent)`.
    phases: [usize; MAX_DIMS],
    /// Extent of one phase plane per axis: `ceil(padded / stride)`, or along rows
    /// of zero padding the input plus its left padding (see `Im2col::new`).
    q: [usize; MAX_DIMS],
    /// Elements of one phase plane (its rows, plus the zeros that the last
    /// row's reads past its end land on).
    plane: usize,
    /// Elements per channel in the prepared buffer (all phase planes).
    chan_stride: usize,
    /// No padding and stride 1: the input image is the prepared buffer.
    in_place: bool,
    /// Row `k = (ci, tap)` of B, relative to the group's first channel.
    rows: RowTable,
    /// Column of W's row that multiplies row `k` of B (the convolution flip).
    wcol: Vec<usize>,
    /// `wcol[k] == k` for every `k` (correlation).
    wcol_identity: bool,
    /// Grid positions from the first output to the last: every output position
    /// plus the padding columns between output rows (and rows between planes).
    /// See [`Im2col::grid_columns`].
    grid_len: usize,
    /// Whether the B rows of a KC block, read in place, would crowd a few L1 sets
    /// (f32, f64): channels 4 KiB apart, as a 1×1 convolution over a 32×32 input.
    l1_crowded: [bool; 2],
    /// Large images are prepared band by band (`forward`): see [`Band`].
    band: Option<Band>,
}

/// The forward pass of an image whose prepared buffer would exceed
/// [`BAND_MIN`] elements prepares it in bands of `cols` GEMM columns (grid
/// positions or output pixels), each into a buffer of the `plane` grid positions
/// per channel and phase that the band's columns read (from its first column on:
/// its own positions plus the kernel's reach past them), so the extra memory is
/// bounded by about [`BAND_TARGET`] per thread whatever the image size, and a
/// band is prepared into cache just before its panels read it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Band {
    /// GEMM columns per band: a multiple of [`BAND_ALIGN`], so of every `NR`,
    /// so only an image's last panel is partial.
    cols: usize,
    /// Elements (grid positions) of one phase plane of a band buffer.
    plane: usize,
    /// Elements per channel in a band buffer (all phase planes).
    chan_stride: usize,
    /// Row `k` of B in the band buffer's layout.
    table: RowTable,
    /// As `Im2col::l1_crowded`, for the band layout.
    l1_crowded: [bool; 2],
}

impl Band {
    /// The band geometry of `p` (phase-plane extents `q`, `nphase` planes, the
    /// largest tap shift `max_shift`, the `(phase, shift)` of one channel's taps),
    /// or `None` where a band would not be under half the image.
    fn new(
        p: &Problem,
        q: [usize; MAX_DIMS],
        nphase: usize,
        max_shift: usize,
        taps: &[(usize, usize)],
    ) -> Option<Band> {
        let per_position = p.in_channels().checked_mul(nphase)?;
        let whole = q.iter().try_fold(1usize, |a, &b| a.checked_mul(b))?;
        let span = |cols: usize| band_span(p, q, max_shift, cols);
        // At least twice the kernel's reach, so a band's own columns are most of
        // what it prepares: a wide image with many channels gets a band over
        // the target (a few kernel heights of rows) rather than one of mostly
        // halo.
        let least = max_shift
            .checked_mul(2)?
            .checked_add(BAND_ALIGN)?
            .div_ceil(BAND_ALIGN)
            * BAND_ALIGN;
        let mut cols = (BAND_TARGET / per_position.max(1)) / BAND_ALIGN * BAND_ALIGN;
        while cols > least && span(cols)?.saturating_mul(per_position) > BAND_TARGET {
            cols -= BAND_ALIGN;
        }
        let cols = cols.max(least);
        let plane = span(cols)?;
        if plane >= whole / 2 {
            return None;
        }
        let mut chan_stride = plane.checked_mul(nphase)?;
        if chan_stride % L1_WAY_F64 < 32 {
            chan_stride = chan_stride.checked_add(32)?;
        }
        let offsets: Vec<usize> = (0..p.in_channels_per_group())
            .flat_map(|ci| {
                taps.iter()
                    .map(move |&(ph, sh)| ci * chan_stride + ph * plane + sh)
            })
            .collect();
        let l1_crowded = [4, 8].map(|size| rows_crowd_l1(&offsets, size));
        Some(Band {
            cols,
            plane,
            chan_stride,
            table: RowTable::new(offsets),
            l1_crowded,
        })
    }

    /// Elements of one band buffer (every input channel).
    fn len(&self, p: &Problem) -> usize {
        p.in_channels().saturating_mul(self.chan_stride)
    }
}

/// An upper bound on the grid positions a band of `cols` GEMM columns reads from
/// its first, in either column mode: grid positions `g..g + cols`, or the grid
/// positions of `cols` consecutive output pixels (which skip the padding columns
/// at each row end and the padding rows at each plane end), plus the largest tap
/// shift.
fn band_span(p: &Problem, q: [usize; MAX_DIMS], max_shift: usize, cols: usize) -> Option<usize> {
    let out = p.output3();
    let steps = cols - 1;
    let row_ends = steps / out[2] + 1;
    // Columns of a 2-D or 1-D problem never cross into another plane.
    let plane_ends = if out[0] > 1 {
        steps / (out[1] * out[2]) + 1
    } else {
        0
    };
    let pixel_span = steps
        .checked_add(row_ends.checked_mul(q[2] - out[2])?)?
        .checked_add(plane_ends.checked_mul((q[1] - out[1]).checked_mul(q[2])?)?)?;
    pixel_span.max(steps).checked_add(max_shift)?.checked_add(1)
}

/// Where a panel task reads B: the group's first channel in a prepared buffer,
/// its row table, and the grid position of the buffer's first element.
#[derive(Clone, Copy)]
struct PanelSource<'a, T> {
    b: &'a [T],
    rows: &'a RowTable,
    base: usize,
}

/// Vectors per tile row at most, at any level (`NR / LANES`).
const MAX_NV: usize = 3;

/// The output parts of a panel's `nv` vectors of `lanes` columns
/// ([`GridOut`]) from its runs of output pixels `(pixel, column, len)`: whether
/// every vector meets at most two runs (else the panel goes through the C
/// buffer).
fn out_parts(
    segs: &[(usize, usize, usize)],
    lanes: usize,
    nv: usize,
    parts: &mut [OutPart; 2 * MAX_NV],
) -> bool {
    if nv > MAX_NV {
        return false;
    }
    for v in 0..nv {
        let (v0, v1) = (v * lanes, (v + 1) * lanes);
        let mut h = 0;
        for &(pixel, j, len) in segs {
            let (lo, hi) = (j.max(v0), (j + len).min(v1));
            if lo >= hi {
                continue;
            }
            if h == 2 {
                return false;
            }
            parts[2 * v + h] = OutPart {
                // Lane 0 of the vector is column v0, pixel `pixel + v0 - j`.
                off: pixel as isize + v0 as isize - j as isize,
                lo: lo - v0,
                hi: hi - v0,
            };
            h += 1;
        }
        for p in &mut parts[2 * v + h..2 * v + 2] {
            *p = OutPart::default();
        }
    }
    true
}

/// Prepared images of more elements than this go band by band (16 MiB of f32).
/// Below it the whole-image prepare (shared by the threads, read ahead by the
/// tile kernel's prefetch) measured up to 5% faster: 224×224×64 16.0-16.3 ms
/// whole vs 16.8-17.1 banded (the band's prepare reads 64 channels' rows in
/// short runs); 512×512×32 the same either way.
const BAND_MIN: usize = 1 << 22;

/// Elements a band buffer aims at (1 MiB of f32, this machine's L2: half that
/// was 3-5% slower on 224×224×64 and 512×512×32, a quarter 1.4-2.4x slower).
const BAND_TARGET: usize = 1 << 18;

/// Band widths are multiples of this (the least common multiple of the levels'
/// `NR`: 48, 24 and 12).
const BAND_ALIGN: usize = 48;

impl Im2col {
    /// # Errors
    /// `PathUnsupported` if the prepared (padded) input would not fit in memory,
    /// which takes padding far beyond the input.
    pub(crate) fn new(p: &Problem) -> crate::Result<Im2col> {
        let (inp, ker) = (p.input3(), p.kernel3());
        let (stride, dil, pad) = (p.stride3(), p.dilation3(), p.pad3());
        let mut q = [1; MAX_DIMS];
        // Phases at or past the padded extent are never read (a stride longer than
        // the padded input reads phase t·d < padded only), so at most `padded` of
        // them are kept: the prepared image is at most 8× the padded volume.
        let mut phases = [1; MAX_DIMS];
        for a in 0..MAX_DIMS {
            let padded = inp[a] + pad[a].0 + pad[a].1;
            q[a] = padded.div_ceil(stride[a]);
            phases[a] = stride[a].min(padded);
        }
        let too_big = || crate::XcorrError::PathUnsupported {
            path: "im2col",
            reason: "the padded input is far larger than the input and the im2col matrix".into(),
        };
        // Zero padding along rows of stride 1: a row's right padding can be the
        // next row's left padding, so rows keep only their left padding columns,
        // and a read past a row's end lands in the next row's leading zeros (past
        // the plane's last row, in `spill` zeros after it). Fewer grid columns to
        // compute and drop: res3x3 57 instead of 58 per 56 outputs, c128 29
        // instead of 30. It takes a right padding no wider than the left one and
        // than the kernel's reach (so output rows still fit in grid rows).
        let (left, right) = pad[2];
        let spill = if p.padding_mode() == crate::PaddingMode::Zeros
            && stride[2] == 1
            && right > 0
            && right <= left
            && right <= (ker[2] - 1) * dil[2]
        {
            q[2] = inp[2] + left;
            right
        } else {
            0
        };
        let out = p.output3();
        let grid_len = ((out[0] - 1) * q[1] + out[1] - 1) * q[2] + out[2];
        // The largest tap shift on the phase plane (every axis at its last tap).
        let reach = |a: usize| (ker[a] - 1) * dil[a] / stride[a];
        let max_shift = (reach(0) * q[1] + reach(1)) * q[2] + reach(2);
        // The plane also holds what the grid's last panel reads, zeros past the
        // rows, so that panel is read in place like the others (packing it was
        // 3% of c128 at 1T and, as the last task, 6% at 2T).
        // (The input itself, read in place, keeps its own plane.)
        let in_place = stride == [1; MAX_DIMS] && pad == [(0, 0); MAX_DIMS];
        let last_panel = match in_place {
            true => Some(0),
            false => grid_len.next_multiple_of(BAND_ALIGN).checked_add(max_shift),
        };
        let plane = q
            .iter()
            .try_fold(1usize, |a, &b| a.checked_mul(b))
            .and_then(|n| n.checked_add(spill))
            .zip(last_panel)
            .map(|(n, last)| n.max(last))
            .ok_or_else(too_big)?;
        let nphase = phases
            .iter()
            .try_fold(1usize, |a, &b| a.checked_mul(b))
            .ok_or_else(too_big)?;
        let mut chan_stride = plane.checked_mul(nphase).ok_or_else(too_big)?;
        // Channels a multiple of 4 KiB apart (a 64×64 plane) put the same rows of
        // every channel in the same L1 sets; a few elements of slack spread them.
        if !in_place && chan_stride % L1_WAY_F64 < 32 {
            chan_stride = chan_stride.checked_add(32).ok_or_else(too_big)?;
        }
        // A prepared input larger than both 4× the input and the explicit im2col
        // matrix (padding far beyond the input) defeats the purpose: refuse, and let
        // the planner take the direct path.
        let limit = (4 * p.input_len())
            .max(p.reduction_len() * p.output_spatial())
            .max(1 << 16);
        chan_stride
            .checked_mul(p.in_channels())
            .filter(|&n| n <= limit)
            .ok_or_else(too_big)?;

        let taps = p.kernel_spatial();
        let mut offsets = Vec::with_capacity(p.reduction_len());
        // (phase, shift) of each row of B within its channel, and the largest shift.
        let mut taps_layout = Vec::with_capacity(taps);
        let mut wcol = Vec::with_capacity(p.reduction_len());
        for ci in 0..p.in_channels_per_group() {
            for kd in 0..ker[0] {
                for kh in 0..ker[1] {
                    for kw in 0..ker[2] {
                        let t = [kd, kh, kw];
                        let mut phase = 0;
                        let mut shift = 0;
                        for a in 0..MAX_DIMS {
                            let pos = t[a] * dil[a];
                            phase = phase * phases[a] + pos % stride[a];
                            shift = shift * q[a] + pos / stride[a];
                        }
                        offsets.push(ci * chan_stride + phase * plane + shift);
                        debug_assert!(shift <= max_shift);
                        taps_layout.push((phase, shift));
                        let f = match p.op() {
                            Op::Correlation => t,
                            Op::Convolution => [ker[0] - 1 - kd, ker[1] - 1 - kh, ker[2] - 1 - kw],
                        };
                        wcol.push(ci * taps + (f[0] * ker[1] + f[1]) * ker[2] + f[2]);
                    }
                }
            }
        }
        let l1_crowded = [4, 8].map(|size| rows_crowd_l1(&offsets, size));
        let wcol_identity = wcol.iter().enumerate().all(|(k, &c)| c == k);
        let band = (!in_place && chan_stride.saturating_mul(p.in_channels()) > BAND_MIN)
            .then(|| {
                let cin_g = p.in_channels_per_group();
                Band::new(
                    p,
                    q,
                    nphase,
                    max_shift,
                    &taps_layout[..taps_layout.len() / cin_g],
                )
            })
            .flatten();
        Ok(Im2col {
            p: *p,
            wcol_identity,
            phases,
            q,
            plane,
            chan_stride,
            in_place,
            rows: RowTable::new(offsets),
            wcol,
            grid_len,
            l1_crowded,
            band,
        })
    }

    /// `Some(n)`: the GEMM's columns are the first `n` grid positions, so each B
    /// row of a panel is contiguous in the prepared image and the microkernel reads
    /// it in place, unpacked; the padding columns are computed and dropped. `None`:
    /// the columns are the output pixels and B panels are packed.
    ///
    /// Packing a panel costs about as much as one tile of `mr` rows computing on it
    /// (measured: 12% of res3x3's 8 tiles), so the grid wins while its extra
    /// columns are under `1 / tiles` of the outputs, or under 1/8 (res3x3: 3.4%
    /// extra, 1.1x faster; c3d, 2 tiles: 12.7% extra, 1.37x faster), and while
    /// the rows do not crowd L1 (`l1_crowded`).
    fn grid_columns<T: Element>(&self, mr: usize) -> Option<usize> {
        let crowded = match &self.band {
            Some(band) => band.l1_crowded,
            None => self.l1_crowded,
        };
        if crowded[usize::from(std::mem::size_of::<T>() == 8)] {
            // Reading such rows in place misses L1 on every tile; pack them.
            return None;
        }
        let out_sp = self.p.output_spatial();
        let tiles = self.p.out_channels_per_group().div_ceil(mr);
        let extra = self.grid_len - out_sp;
        (extra <= out_sp / 8 || extra * tiles <= out_sp).then_some(self.grid_len)
    }

    /// Packs weight tile `i` (group `i / tiles`, rows `(i % tiles)·mr..` of it)
    /// into `dst`, in the order the convolution flip asks for.
    fn pack_weight_tile<T: Element>(
        &self,
        weight: &[T],
        (mr, copies): (usize, usize),
        i: usize,
        dst: &mut [T],
    ) {
        let (cout_g, k) = (self.p.out_channels_per_group(), self.p.reduction_len());
        let tiles = cout_g.div_ceil(mr);
        let (g, t) = (i / tiles, i % tiles);
        let w = &weight[g * cout_g * k..(g + 1) * cout_g * k];
        let col = (!self.wcol_identity).then_some(&self.wcol[..]);
        pack::pack_a_tile_rows(dst, w, k, cout_g, k, (mr, copies), t, col);
    }

    /// Elements of the packed weights (A panels of shape `a`, every group).
    pub(crate) fn packed_a_len(&self, a: (usize, usize)) -> usize {
        self.p.groups()
            * pack::packed_a_len(self.p.out_channels_per_group(), self.p.reduction_len(), a)
    }

    /// Packs `weight` into the A panels `forward` reads, tile by tile in parallel:
    /// `dst` holds [`packed_a_len`](Self::packed_a_len) elements.
    pub(crate) fn pack_weights<T: Element>(
        &self,
        kern: &GemmKernel<T>,
        threads: usize,
        weight: &[T],
        dst: &mut [T],
    ) {
        let len = self.packed_a_len(kern.a_shape());
        let tile = self.p.reduction_len() * kern.a_step();
        parallel::for_each_chunk_mut(threads, &mut dst[..len], tile, |i, d| {
            self.pack_weight_tile(weight, kern.a_shape(), i, d)
        });
    }

    fn prepared_len(&self) -> usize {
        if self.in_place {
            0
        } else {
            self.p.in_channels() * self.chan_stride
        }
    }

    /// Workspace elements for `forward` with A panels of shape `a` (`(mr,
    /// copies)`, [`GemmKernel::a_shape`]).
    pub(crate) fn workspace_len(&self, a: (usize, usize), threads: usize) -> usize {
        // Saturating: a huge plan reports a length no buffer has (a typed error at
        // execution), not a wrapped small one.
        if let Some(band) = &self.band {
            // One band buffer per thread.
            return self
                .packed_a_len(a)
                .saturating_add(band.len(&self.p).saturating_mul(threads.max(1)));
        }
        self.packed_a_len(a).saturating_add(
            self.prepared_len()
                .saturating_mul(self.image_slots(threads)),
        )
    }

    /// Prepared-image slots of `forward` on `threads` threads: one per thread when
    /// whole images go to threads (a batch that splits evenly, or of at least 4
    /// per thread: no barrier between images, each image in one core's caches),
    /// else one, for images in turn with every thread on each.
    fn image_slots(&self, threads: usize) -> usize {
        let batch = self.p.batch();
        let whole = threads > 1
            && batch >= threads
            && (batch.is_multiple_of(threads) || batch >= 4 * threads);
        if whole {
            threads
        } else {
            1
        }
    }

    /// The B buffer of one image `x`: `x` itself in place, else `x` padded and
    /// phase-split into `buf` (channels in parallel).
    fn prepare_image<'a, T: Element>(
        &self,
        kern: &GemmKernel<T>,
        threads: usize,
        x: &'a [T],
        buf: &'a mut [T],
    ) -> &'a [T] {
        if self.in_place {
            return x;
        }
        let in_sp = self.p.input_spatial();
        let buf = &mut buf[..self.prepared_len()];
        parallel::for_each_chunk_mut(threads, buf, self.chan_stride, |c, dst| {
            self.prepare_channel(kern, dst, &x[c * in_sp..(c + 1) * in_sp]);
        });
        buf
    }

    /// Writes channel `src` (one input channel) padded and phase-split into `dst`.
    fn prepare_channel<T: Element>(&self, kern: &GemmKernel<T>, dst: &mut [T], src: &[T]) {
        self.prepare_positions(kern, dst, src, 0, self.plane);
    }

    /// Grid positions `first..first + plane` of every phase plane of channel `src`,
    /// padded, into `dst` (`plane` elements per phase): a whole channel
    /// (`first = 0`, `plane = self.plane`) or a band's part of it. Positions past
    /// the grid are zero.
    fn prepare_positions<T: Element>(
        &self,
        kern: &GemmKernel<T>,
        dst: &mut [T],
        src: &[T],
        first: usize,
        plane: usize,
    ) {
        let inp = self.p.input3();
        let pad = self.p.pad3();
        let mode = self.p.padding_mode();
        let (s, q, phases) = (self.p.stride3(), self.q, self.phases);
        // Input index that prepared position `i` of phase `ph` reads on axis `a`, or
        // None for a zero (zero padding, or past the padded extent).
        let source = |a: usize, i: usize, ph: usize| -> Option<usize> {
            let padded_pos = i * s[a] + ph;
            if padded_pos >= inp[a] + pad[a].0 + pad[a].1 {
                return None;
            }
            mode.source(padded_pos as isize - pad[a].0 as isize, inp[a])
        };
        // Two phases of stride 2 along rows are the even and odd columns of the
        // padded rows: split by the level's kernel, both planes at once.
        let pairs = s[2] == 2 && phases[2] == 2;
        if mode == PaddingMode::Zeros && (pairs || phases[2] == 1 && s[2] == 1) {
            return self.prepare_zero_padded(kern, dst, src, first, plane);
        }
        let padded_w = inp[2] + pad[2].0 + pad[2].1;
        let mut planes = dst.chunks_exact_mut(plane);
        for pd in 0..phases[0] {
            for ph in 0..phases[1] {
                let mut pw = 0;
                while pw < phases[2] {
                    let mut plane = planes.next().expect("one plane per phase");
                    let mut odd_plane = match pairs {
                        true => planes.next().expect("one plane per phase"),
                        false => &mut [][..],
                    };
                    // Row by row; a band's first and last rows partly.
                    let mut e = first;
                    while !plane.is_empty() {
                        let (r, i0) = (e / q[2], e % q[2]);
                        let (row, rest) = plane.split_at_mut((q[2] - i0).min(plane.len()));
                        let (odd, odd_rest) =
                            odd_plane.split_at_mut(if pairs { row.len() } else { 0 });
                        let (qd, qh) = (r / q[1], r % q[1]);
                        let sd = if qd < q[0] { source(0, qd, pd) } else { None };
                        match (sd, source(1, qh, ph)) {
                            (Some(d), Some(h)) => {
                                let line = &src[(d * inp[1] + h) * inp[2]..][..inp[2]];
                                if pairs {
                                    let left = pad[2].0 as isize - 2 * i0 as isize;
                                    pack::split_row(kern, line, left, mode, row, odd);
                                    // Past the padded extent: zero, as in every phase.
                                    let past = |c: usize| 2 * (i0 + c) >= padded_w;
                                    for c in (0..row.len()).rev().take_while(|&c| past(c)) {
                                        row[c] = T::ZERO;
                                    }
                                    for c in (0..odd.len())
                                        .rev()
                                        .take_while(|&c| 2 * (i0 + c) + 1 >= padded_w)
                                    {
                                        odd[c] = T::ZERO;
                                    }
                                } else {
                                    self.prepare_row(row, line, pw, i0, &source);
                                }
                            }
                            _ => {
                                row.fill(T::ZERO);
                                odd.fill(T::ZERO);
                            }
                        }
                        e += row.len();
                        plane = rest;
                        odd_plane = odd_rest;
                    }
                    pw += if pairs { 2 } else { 1 };
                }
            }
        }
    }

    /// [`prepare_positions`](Self::prepare_positions) for zero padding, with one
    /// phase along rows (stride 1) or the two of stride 2 split together: each
    /// prepared row is zeros, (the even or odd columns of) an input row and
    /// zeros. Rows are counted, not divided out, and the padding mode is not
    /// asked per row (the per-row work was 3-4% of c128 and res3x3, and with the
    /// split 10% of `down`).
    fn prepare_zero_padded<T: Element>(
        &self,
        kern: &GemmKernel<T>,
        dst: &mut [T],
        src: &[T],
        first: usize,
        plane: usize,
    ) {
        let (inp, pad, q, s, phases) = (
            self.p.input3(),
            self.p.pad3(),
            self.q,
            self.p.stride3(),
            self.phases,
        );
        let pairs = phases[2] == 2;
        // Position `i` of phase `ph` on axis `a` reads this input index, if inside.
        let inside = |a: usize, i: usize, ph: usize| {
            (i * s[a] + ph)
                .checked_sub(pad[a].0)
                .filter(|&j| j < inp[a])
        };
        // One phase: row columns lo..hi copy input columns 0..hi - lo.
        let lo = pad[2].0.min(q[2]);
        let hi = (pad[2].0 + inp[2]).min(q[2]);
        // Two phases, a whole row (as `pack::split_row` splits it, worked out
        // once): pairs k0..k1 of padded columns split from input column `from`
        // on, and the few other columns, each from an input column or zero.
        let (cols, left, w) = (2 * q[2], pad[2].0, inp[2]);
        let (plo, phi) = (left.min(cols), (left + w).min(cols).max(left.min(cols)));
        let (k0, k1) = (plo.div_ceil(2), (phi / 2).max(plo.div_ceil(2)));
        let mut ends = [(0usize, None::<usize>); PAIR_ENDS];
        let n_ends = (0..2 * k0).chain(2 * k1..cols).count();
        for (e, c) in ends.iter_mut().zip((0..2 * k0).chain(2 * k1..cols)) {
            *e = (c, (plo..phi).contains(&c).then(|| c - left));
        }
        let mut planes = dst.chunks_exact_mut(plane);
        for pd in 0..phases[0] {
            for ph in 0..phases[1] {
                let even = planes.next().expect("one plane per phase");
                let odd = match pairs {
                    true => planes.next().expect("one plane per phase"),
                    false => &mut [][..],
                };
                let (r, mut i0) = (first / q[2], first % q[2]);
                let (mut qd, mut qh) = (r / q[1], r % q[1]);
                let mut at = 0;
                while at < plane {
                    let len = (q[2] - i0).min(plane - at);
                    let row = &mut even[at..at + len];
                    let line = match (qd < q[0]).then(|| inside(0, qd, pd)).flatten() {
                        Some(d) => {
                            inside(1, qh, ph).map(|h| &src[(d * inp[1] + h) * inp[2]..][..inp[2]])
                        }
                        None => None,
                    };
                    match (line, pairs) {
                        (Some(line), true) if i0 == 0 && len == q[2] && n_ends <= PAIR_ENDS => {
                            let odd = &mut odd[at..at + len];
                            if k1 > k0 {
                                let src = &line[2 * k0 - left..2 * k1 - left];
                                kern.split_pairs(src, &mut row[k0..k1], &mut odd[k0..k1]);
                            }
                            for &(c, s) in &ends[..n_ends] {
                                let v = s.map_or(T::ZERO, |s| line[s]);
                                match c % 2 {
                                    0 => row[c / 2] = v,
                                    _ => odd[c / 2] = v,
                                }
                            }
                        }
                        (Some(line), true) => {
                            let left = pad[2].0 as isize - 2 * i0 as isize;
                            let odd = &mut odd[at..at + len];
                            pack::split_row(kern, line, left, PaddingMode::Zeros, row, odd);
                        }
                        (Some(line), false) => {
                            // Columns i0.. of the row: (lo..hi) - i0 copied.
                            let a = lo.saturating_sub(i0).min(len);
                            let b = hi.saturating_sub(i0).clamp(a, len);
                            let from = (i0 + a) - lo;
                            row[..a].fill(T::ZERO);
                            row[a..b].copy_from_slice(&line[from..from + (b - a)]);
                            row[b..].fill(T::ZERO);
                        }
                        (None, _) => {
                            row.fill(T::ZERO);
                            if pairs {
                                odd[at..at + len].fill(T::ZERO);
                            }
                        }
                    }
                    at += len;
                    i0 = 0;
                    qh += 1;
                    if qh == q[1] {
                        (qd, qh) = (qd + 1, 0);
                    }
                }
            }
        }
    }

    /// Prepared indices `i0..i0 + row.len()` of phase `pw` of one input row: the
    /// interior is a plain (strided) copy; only the padded ends go through the
    /// padding mode.
    fn prepare_row<T: Element>(
        &self,
        row: &mut [T],
        line: &[T],
        pw: usize,
        i0: usize,
        source: &impl Fn(usize, usize, usize) -> Option<usize>,
    ) {
        let (s, before, len) = (self.p.stride3()[2], self.p.pad3()[2].0, line.len());
        // Prepared index i reads input i·s + pw - before: inside for lo <= i < hi
        // (here relative to i0).
        let lo = before
            .saturating_sub(pw)
            .div_ceil(s)
            .saturating_sub(i0)
            .min(row.len());
        let hi = (len + before)
            .saturating_sub(pw)
            .div_ceil(s)
            .saturating_sub(i0)
            .min(row.len())
            .max(lo);
        for (i, r) in row.iter_mut().enumerate().take(lo) {
            *r = source(2, i0 + i, pw).map_or(T::ZERO, |j| line[j]);
        }
        if hi > lo {
            let first = (i0 + lo) * s + pw - before;
            if s == 1 {
                row[lo..hi].copy_from_slice(&line[first..first + (hi - lo)]);
            } else {
                // Every s-th value: through fixed-size chunks, which vectorise (an
                // iterator's `step_by` did not: the prepare was 20% of `down`).
                let n = hi - lo;
                let dst = &mut row[lo..hi];
                let src = &line[first..];
                let whole = (src.len() / s).min(n);
                match s {
                    2 => copy_every::<T, 2>(&mut dst[..whole], src),
                    3 => copy_every::<T, 3>(&mut dst[..whole], src),
                    4 => copy_every::<T, 4>(&mut dst[..whole], src),
                    _ => {
                        for (i, r) in dst[..whole].iter_mut().enumerate() {
                            *r = src[i * s];
                        }
                    }
                }
                for (i, r) in dst.iter_mut().enumerate().skip(whole) {
                    *r = src[i * s];
                }
            }
        }
        for (i, r) in row.iter_mut().enumerate().skip(hi) {
            *r = source(2, i0 + i, pw).map_or(T::ZERO, |j| line[j]);
        }
    }

    /// `output = input ⋆ weight + bias` through the GEMM kernel `kern`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn forward<T: Element>(
        &self,
        kern: &GemmKernel<T>,
        threads: usize,
        input: &[T],
        weight: Weights<'_, T>,
        bias: Option<&[T]>,
        output: &mut [T],
        workspace: &mut [T],
    ) {
        if let Some(band) = &self.band {
            return self
                .forward_banded(band, kern, threads, input, weight, bias, output, workspace);
        }
        let p = &self.p;
        let (mr, nr) = (kern.mr, kern.nr);
        let blocking = Blocking::for_kernel(kern);
        let (groups, cin_g, cout_g, k) = (
            p.groups(),
            p.in_channels_per_group(),
            p.out_channels_per_group(),
            p.reduction_len(),
        );
        let (apack, prepared) = workspace.split_at_mut(self.packed_a_len(kern.a_shape()));
        let a_len = pack::packed_a_len(cout_g, k, kern.a_shape());
        let (in_image, out_image) = (
            p.in_channels() * p.input_spatial(),
            p.out_channels() * p.output_spatial(),
        );
        let (slots, plen) = (self.image_slots(threads), self.prepared_len());
        // Pack the weights tile by tile, in parallel (serial, it limited scaling),
        // and, when images go in turn, prepare the first image in the same parallel
        // region (one wake-up of the threads fewer per call).
        let (raw, pack_len) = match weight {
            Weights::Raw(w) => (w, apack.len()),
            Weights::Packed(_) => (&[][..], 0),
        };
        let first_ready = slots == 1 && !self.in_place;
        let in_sp = p.input_spatial();
        let out_sp = p.output_spatial();
        // GEMM columns: grid positions (B read in place) or output pixels.
        let grid = self.grid_columns::<T>(mr);
        let columns = grid.unwrap_or(out_sp);
        let panels = columns.div_ceil(nr);
        let tiles = cout_g.div_ceil(mr);
        let per_block = blocking.tiles_per_a_block(kern, k);
        // The tasks of one block of A's rows: every panel of every group, each
        // panel's tiles in two halves where panels are few (two tasks claimed
        // together, so that the threads' shares differ by half a panel at
        // most: c128 at 2T, 17 panels split 9/8).
        let halves = |threads: usize, block: &std::ops::Range<usize>| {
            if threads > 1 && groups * panels < 16 * threads && block.len() > 1 {
                2
            } else {
                1
            }
        };
        let panel_tasks = |apack: &[T],
                           b_image: &[T],
                           block: std::ops::Range<usize>,
                           halves: usize,
                           claimed: &mut dyn Iterator<Item = usize>,
                           out: &SharedOut<'_, T>| {
            let mut scratch = Scratch::new();
            for task in claimed {
                let (task, half) = (task / halves, task % halves);
                let (g, col) = (task / panels, (task % panels) * nr);
                let at = |h: usize| block.start + h * block.len() / halves;
                let src = PanelSource {
                    b: &b_image[g * cin_g * self.chan_stride..],
                    rows: &self.rows,
                    base: 0,
                };
                let a = &apack[g * a_len..(g + 1) * a_len];
                let bias = bias.map(|b| &b[g * cout_g..(g + 1) * cout_g]);
                let task = (g, col, nr.min(columns - col));
                self.panel(
                    kern,
                    blocking,
                    &mut scratch,
                    (a, at(half)..at(half + 1)),
                    src,
                    grid,
                    task,
                    bias,
                    out,
                );
            }
        };
        if first_ready && threads > 1 && p.batch() == 1 && per_block >= tiles {
            // One image, one block of A: the weights packed and the image
            // prepared, then its panels, in one parallel region (one wake-up
            // of the threads fewer per call).
            let a_step = k * kern.a_step();
            let (a_steps, chans) = (pack_len.div_ceil(a_step), plen.div_ceil(self.chan_stride));
            let (a_all, b_all) = (
                SharedOut::new(&mut apack[..pack_len]),
                SharedOut::new(&mut prepared[..plen]),
            );
            let out = SharedOut::new(&mut output[..out_image]);
            let block = 0..tiles;
            let halves = halves(threads, &block);
            let step = |i: usize| {
                if i < a_steps {
                    let n = a_step.min(pack_len - i * a_step);
                    // SAFETY: step i alone writes this tile, and nothing reads
                    // it until every step is done.
                    let dst = unsafe { a_all.slice_mut(i * a_step, n) };
                    self.pack_weight_tile(raw, kern.a_shape(), i, dst);
                } else {
                    let c = i - a_steps;
                    let n = self.chan_stride.min(plen - c * self.chan_stride);
                    // SAFETY: as above, for channel c's prepared positions.
                    let dst = unsafe { b_all.slice_mut(c * self.chan_stride, n) };
                    self.prepare_channel(kern, dst, &input[c * in_sp..(c + 1) * in_sp]);
                }
            };
            parallel::for_each_then_claimed(
                threads,
                (a_steps + chans, step),
                groups * panels * halves,
                |_, claimed| {
                    // SAFETY: every step is done (for_each_then_claimed), and
                    // nothing writes these buffers again during the call.
                    let (packed, b_image) =
                        unsafe { (a_all.slice(0, pack_len), b_all.slice(0, plen)) };
                    let apack = match weight {
                        Weights::Raw(_) => packed,
                        Weights::Packed(a) => a,
                    };
                    panel_tasks(apack, b_image, block.clone(), halves, claimed, &out);
                },
            );
            return;
        }
        let prep_len = if first_ready { plen } else { 0 };
        parallel::for_each_chunk_mut2(
            threads,
            (&mut apack[..pack_len], k * kern.a_step()),
            (&mut prepared[..prep_len], self.chan_stride),
            |i, dst| self.pack_weight_tile(raw, kern.a_shape(), i, dst),
            |c, dst| self.prepare_channel(kern, dst, &input[c * in_sp..(c + 1) * in_sp]),
        );
        let apack = match weight {
            Weights::Raw(_) => &*apack,
            Weights::Packed(a) => a,
        };

        let image =
            |threads: usize, x: &[T], slot: &mut [T], ready: bool, out: &SharedOut<'_, T>| {
                let b_image = if ready {
                    &slot[..plen]
                } else {
                    self.prepare_image(kern, threads, x, slot)
                };
                // LOOP 5 (rows of A beyond L2), then the pixel panels of every group in parallel.
                for t0 in (0..tiles).step_by(per_block) {
                    let block = t0..(t0 + per_block).min(tiles);
                    let halves = halves(threads, &block);
                    let tasks = groups * panels * halves;
                    parallel::for_each_claimed(threads, tasks, |_, claimed| {
                        panel_tasks(apack, b_image, block.clone(), halves, claimed, out)
                    });
                }
            };
        if slots > 1 {
            // Whole images to threads, each with its own prepared slot.
            let (out_all, prep_all) = (SharedOut::new(output), SharedOut::new(prepared));
            parallel::for_each_claimed(slots, p.batch(), |w, images| {
                // SAFETY: worker indices are distinct, so slot w is this worker's alone.
                let slot = unsafe { prep_all.slice_mut(w * plen, plen) };
                for n in images {
                    // SAFETY: image n is claimed by this worker alone.
                    let out = unsafe { out_all.slice_mut(n * out_image, out_image) };
                    let x = &input[n * in_image..(n + 1) * in_image];
                    image(1, x, &mut *slot, false, &SharedOut::new(out));
                }
            });
            return;
        }
        for n in 0..p.batch() {
            let x = &input[n * in_image..(n + 1) * in_image];
            let out = SharedOut::new(&mut output[n * out_image..(n + 1) * out_image]);
            image(
                threads,
                x,
                &mut prepared[..plen],
                n == 0 && first_ready,
                &out,
            );
        }
    }

    /// One panel task of `forward`: GEMM columns `col..col + n` of group `g`
    /// (`task`), tiles `a.1` of the group's packed weights `a.0`, B from `src`,
    /// into the image's output `out` (bias added where given).
    #[allow(clippy::too_many_arguments)]
    fn panel<T: Element>(
        &self,
        kern: &GemmKernel<T>,
        blocking: Blocking,
        scratch: &mut Scratch<T>,
        a: (&[T], std::ops::Range<usize>),
        src: PanelSource<'_, T>,
        grid: Option<usize>,
        task: (usize, usize, usize),
        bias: Option<&[T]>,
        out: &SharedOut<'_, T>,
    ) {
        let p = &self.p;
        let (g, col, n) = task;
        let (a, tiles) = a;
        let (nr, cout_g, k) = (kern.nr, p.out_channels_per_group(), p.reduction_len());
        let out_sp = p.output_spatial();
        let PanelSource { b, rows, base } = src;
        // Output pixels of the panel's columns, as (pixel, column, len).
        let mut segs = [(0usize, 0usize, 0usize); gemm::NR_MAX];
        let segs = match grid {
            Some(_) => self.pixel_runs(col, n, &mut segs),
            None => {
                segs[0] = (col, 0, n);
                &segs[..1]
            }
        };
        // The C block already holds the bias (column_panel).
        let emit = |row0: usize, nrows: usize, cbuf: &[T]| {
            for r in 0..nrows {
                let co = g * cout_g + row0 + r;
                for &(pixel, j, len) in segs {
                    let src = &cbuf[r * nr + j..][..len];
                    // SAFETY: this task alone owns these output pixels.
                    unsafe { out.write(co * out_sp + pixel, src) }
                }
            }
        };
        // A partial last panel too, except on the input itself, which ends there.
        if grid.is_some() && (n == nr || !self.in_place) {
            // Full tiles store straight into the output where each vector of
            // the panel meets at most two output rows, summing the whole
            // reduction at once (`gemm::column_panel`). Not for 1×1 kernels:
            // their B rows do not overlap, and a whole reduction of them does
            // not stay in L1 while the tiles sweep it (pw 88% -> 72% of peak).
            // Where the level has such a tile (`GemmKernel::stores_out`).
            let mut parts = [OutPart::default(); 2 * MAX_NV];
            let direct = p.kernel_spatial() > 1
                && kern.stores_out()
                && out_parts(segs, nr / kern.nv(), kern.nv(), &mut parts);
            let b = PanelB::InPlace {
                b,
                rows,
                col: col - base,
                out: direct.then_some(GridOut {
                    out,
                    at: g * cout_g * out_sp,
                    ldc: out_sp,
                    parts: &parts[..2 * kern.nv()],
                }),
            };
            gemm::column_panel(
                scratch, kern, blocking, a, cout_g, tiles, k, b, bias, None, emit,
            );
            return;
        }
        // Grid positions the columns read, relative to the buffer's first (`base`).
        let mut runs = [(0usize, 0usize, 0usize); gemm::NR_MAX];
        let runs = match grid {
            Some(_) => {
                runs[0] = (col, 0, n);
                &mut runs[..1]
            }
            None => {
                let len = self.grid_runs(col, n, &mut runs).len();
                &mut runs[..len]
            }
        };
        runs.iter_mut().for_each(|r| r.0 -= base);
        let runs = &*runs;
        let pack =
            |dst: &mut [T], k0: usize, kc: usize| kern.pack_b_runs(dst, b, rows, (k0, kc), runs);
        let b = PanelB::Packed {
            pack: &pack,
            cols: n,
        };
        // Full panels of output pixels accumulate in place in the output.
        let direct = (grid.is_none() && n == nr).then_some(DirectC {
            out,
            offset: g * cout_g * out_sp + col,
            ldc: out_sp,
        });
        gemm::column_panel(
            scratch, kern, blocking, a, cout_g, tiles, k, b, bias, direct, emit,
        );
    }

    /// `forward` for a problem with bands (`self.band`): the items are (image,
    /// band) pairs, claimed by the threads one at a time; each thread prepares its
    /// band into its own buffer and computes every tile and panel of it, so no
    /// thread waits on another and the band is in cache when its panels read it.
    #[allow(clippy::too_many_arguments)]
    fn forward_banded<T: Element>(
        &self,
        band: &Band,
        kern: &GemmKernel<T>,
        threads: usize,
        input: &[T],
        weight: Weights<'_, T>,
        bias: Option<&[T]>,
        output: &mut [T],
        workspace: &mut [T],
    ) {
        let p = &self.p;
        let (mr, nr) = (kern.mr, kern.nr);
        let blocking = Blocking::for_kernel(kern);
        let (groups, cin_g, cout_g, k) = (
            p.groups(),
            p.in_channels_per_group(),
            p.out_channels_per_group(),
            p.reduction_len(),
        );
        let (apack, buffers) = workspace.split_at_mut(self.packed_a_len(kern.a_shape()));
        let a_len = pack::packed_a_len(cout_g, k, kern.a_shape());
        let tiles_g = cout_g.div_ceil(mr);
        let apack = match weight {
            Weights::Raw(w) => {
                self.pack_weights(kern, threads, w, apack);
                &*apack
            }
            Weights::Packed(a) => a,
        };
        let (in_image, out_image) = (
            p.in_channels() * p.input_spatial(),
            p.out_channels() * p.output_spatial(),
        );
        let grid = self.grid_columns::<T>(mr);
        let columns = grid.unwrap_or(p.output_spatial());
        let bands = columns.div_ceil(band.cols);
        let blen = band.len(p);
        let per_block = blocking.tiles_per_a_block(kern, k);
        let (out_all, buf_all) = (SharedOut::new(output), SharedOut::new(buffers));
        parallel::for_each_claimed(threads, p.batch() * bands, |w, items| {
            // SAFETY: worker indices are distinct, so buffer w is this worker's alone.
            let buf = unsafe { buf_all.slice_mut(w * blen, blen) };
            let mut scratch = Scratch::new();
            for item in items {
                let (n, bi) = (item / bands, item % bands);
                let (c0, c1) = (bi * band.cols, ((bi + 1) * band.cols).min(columns));
                // The band's first grid position.
                let first = match grid {
                    Some(_) => c0,
                    None => self.grid_position(c0),
                };
                let x = &input[n * in_image..(n + 1) * in_image];
                self.prepare_band(kern, band, 1, x, first, buf);
                let buf = &*buf;
                // SAFETY: image n's outputs are written only by the tasks of its
                // bands, and each output pixel belongs to one band's panels.
                let out = unsafe { out_all.slice_mut(n * out_image, out_image) };
                let out = SharedOut::new(out);
                for t0 in (0..tiles_g).step_by(per_block) {
                    let block = t0..(t0 + per_block).min(tiles_g);
                    for g in 0..groups {
                        let src = PanelSource {
                            b: &buf[g * cin_g * band.chan_stride..],
                            rows: &band.table,
                            base: first,
                        };
                        let a = &apack[g * a_len..(g + 1) * a_len];
                        let bias = bias.map(|b| &b[g * cout_g..(g + 1) * cout_g]);
                        for col in (c0..c1).step_by(nr) {
                            let task = (g, col, nr.min(c1 - col));
                            self.panel(
                                kern,
                                blocking,
                                &mut scratch,
                                (a, block.clone()),
                                src,
                                grid,
                                task,
                                bias,
                                &out,
                            );
                        }
                    }
                }
            }
        });
    }

    /// The grid position of output pixel `pixel`.
    fn grid_position(&self, pixel: usize) -> usize {
        let out = self.p.output3();
        let (od, rem) = (pixel / (out[1] * out[2]), pixel % (out[1] * out[2]));
        let (oh, ow) = (rem / out[2], rem % out[2]);
        (od * self.q[1] + oh) * self.q[2] + ow
    }

    /// Prepares the grid positions `first..first + band.plane` of every phase plane
    /// of every channel of image `x` into `buf`, in the band layout (positions
    /// past the plane are zero).
    fn prepare_band<T: Element>(
        &self,
        kern: &GemmKernel<T>,
        band: &Band,
        threads: usize,
        x: &[T],
        first: usize,
        buf: &mut [T],
    ) {
        let in_sp = self.p.input_spatial();
        let len = band.len(&self.p);
        parallel::for_each_chunk_mut(threads, &mut buf[..len], band.chan_stride, |c, chan| {
            self.prepare_positions(
                kern,
                chan,
                &x[c * in_sp..(c + 1) * in_sp],
                first,
                band.plane,
            );
        });
    }

    /// The output pixels of grid positions `g0..g0 + n` (GEMM columns in grid
    /// mode), as `(pixel, panel column, length)`: one run per output row the panel
    /// touches; the padding columns between rows (and rows between planes) are
    /// skipped.
    fn pixel_runs<'r>(
        &self,
        g0: usize,
        n: usize,
        buf: &'r mut [(usize, usize, usize); gemm::NR_MAX],
    ) -> &'r [(usize, usize, usize)] {
        let out = self.p.output3();
        let q = self.q;
        let (mut count, mut j) = (0, 0);
        while j < n {
            let g = g0 + j;
            let (od, rem) = (g / (q[1] * q[2]), g % (q[1] * q[2]));
            let (oh, ow) = (rem / q[2], rem % q[2]);
            if oh >= out[1] {
                j += (q[1] - oh) * q[2] - ow;
            } else if ow >= out[2] {
                j += q[2] - ow;
            } else {
                let len = (out[2] - ow).min(n - j);
                buf[count] = ((od * out[1] + oh) * out[2] + ow, j, len);
                count += 1;
                j += len;
            }
        }
        &buf[..count]
    }

    /// The runs of grid positions that output pixels `p0..p0 + n` read, as
    /// `(grid position, panel column, length)`: one per output row the panel
    /// touches, since rows sit `q[2]` apart on the grid but `W_out` apart in the
    /// output.
    fn grid_runs<'r>(
        &self,
        p0: usize,
        n: usize,
        buf: &'r mut [(usize, usize, usize); gemm::NR_MAX],
    ) -> &'r [(usize, usize, usize)] {
        let out = self.p.output3();
        let q = self.q;
        if q[1] == out[1] && q[2] == out[2] {
            buf[0] = (p0, 0, n);
            return &buf[..1];
        }
        let (mut count, mut j) = (0, 0);
        while j < n {
            let p = p0 + j;
            let (od, rem) = (p / (out[1] * out[2]), p % (out[1] * out[2]));
            let (oh, ow) = (rem / out[2], rem % out[2]);
            let len = (out[2] - ow).min(n - j);
            buf[count] = ((od * q[1] + oh) * q[2] + ow, j, len);
            count += 1;
            j += len;
        }
        &buf[..count]
    }
}

/// `dst[i] = src[i·S]` for the `dst.len()` whole chunks of `S` at the start of `src`.
fn copy_every<T: Element, const S: usize>(dst: &mut [T], src: &[T]) {
    for (d, c) in dst.iter_mut().zip(src.chunks_exact(S)) {
        *d = c[0];
    }
}

/// The problem whose forward pass is the input gradient of `p` on the padded input:
/// the output gradient, spread out by the stride (zeros between), correlated under
/// `full` zero padding with the channel-transposed weight and the opposite op. Its
/// output has the padded input's extent; `GradInput::fold` maps it back. With
/// `crop` (zero padding no wider than the dilated kernel less one), the padding
/// positions are left out of the derived padding, so its output is the input
/// gradient itself and nothing is folded.
fn grad_input_problem(p: &Problem, crop: bool) -> crate::Result<Problem> {
    let (inp, ker, out) = (p.input3(), p.kernel3(), p.output3());
    let (stride, dil, pad) = (p.stride3(), p.dilation3(), p.pad3());
    let axes = MAX_DIMS - p.dims()..MAX_DIMS;
    let mut spread = vec![];
    let mut pads = vec![];
    for a in axes.clone() {
        let dk = (ker[a] - 1) * dil[a] + 1;
        let padded = inp[a] + pad[a].0 + pad[a].1;
        let covered = (out[a] - 1) * stride[a] + dk;
        spread.push((out[a] - 1) * stride[a] + 1);
        let (lo, hi) = (dk - 1, dk - 1 + (padded - covered));
        pads.push(if crop {
            (lo - pad[a].0, hi - pad[a].1)
        } else {
            (lo, hi)
        });
    }
    Problem::builder()
        .batch(p.batch())
        .channels(p.out_channels(), p.in_channels())
        .groups(p.groups())
        .input(spread)
        .kernel(&ker[axes.clone()])
        .dilation(&dil[axes])
        .padding(crate::Padding::explicit(&pads))
        .op(match p.op() {
            Op::Correlation => Op::Convolution,
            Op::Convolution => Op::Correlation,
        })
        .build()
}

/// The most columns outside the split pairs of a prepared row of two phases
/// that `Im2col::prepare_zero_padded` tables (padding up to 7 a side); wider
/// padding goes through `pack::split_row`.
const PAIR_ENDS: usize = 16;

/// The most stride phases the input gradient is split into (stride 4 in 3-D is
/// 64); larger strides spread the output gradient instead.
const MAX_GRAD_PHASES: usize = 64;

/// One stride phase of the input gradient ([`GradInput::phases`]): the padded
/// input positions `s·m + ρ` along each strided axis. Only the taps `ρ + s·j`
/// reach them, so they are a stride-1 forward pass of the output gradient with
/// those taps (`t`), without the zeros that spreading the gradient by the
/// stride multiplies (3 of 4 terms with stride 2 in 2-D).
#[derive(Clone, Debug, PartialEq, Eq)]
struct GradPhase {
    /// The residue per axis (0 along unstrided axes).
    rho: [usize; MAX_DIMS],
    /// Positions per axis (`m`).
    m: [usize; MAX_DIMS],
    /// Taps per axis (`j`).
    k: [usize; MAX_DIMS],
    /// The phase's forward pass; `None` where no tap reaches its positions
    /// (a stride larger than the kernel): they are zero.
    t: Option<Im2col>,
}

impl GradPhase {
    /// Phase `rho` of `p`'s input gradient, where every strided axis has
    /// dilation 1 (else the taps of a phase are not every s-th one).
    fn new(p: &Problem, rho: [usize; MAX_DIMS]) -> crate::Result<GradPhase> {
        let (inp, ker, out) = (p.input3(), p.kernel3(), p.output3());
        let (stride, dil, pad) = (p.stride3(), p.dilation3(), p.pad3());
        let (mut m, mut k) = ([1; MAX_DIMS], [1; MAX_DIMS]);
        let mut pads = vec![];
        for a in MAX_DIMS - p.dims()..MAX_DIMS {
            let padded = inp[a] + pad[a].0 + pad[a].1;
            (m[a], k[a]) = match stride[a] {
                1 => (padded, ker[a]),
                s => (
                    padded.saturating_sub(rho[a]).div_ceil(s),
                    ker[a].saturating_sub(rho[a]).div_ceil(s),
                ),
            };
            // Position m sums gY[m - j·dil]·W[ρ + s·j] for j < k: a convolution
            // under `dk - 1` zeros before, and after them what makes `m`
            // positions (at least dk - 1: the padded input covers every tap).
            let dk = (k[a].max(1) - 1) * dil[a] + 1;
            pads.push((dk - 1, m[a].saturating_sub(out[a])));
        }
        let axes = MAX_DIMS - p.dims()..MAX_DIMS;
        let t = match k.contains(&0) || m.contains(&0) {
            true => None,
            false => Some(Im2col::new(
                &Problem::builder()
                    .batch(p.batch())
                    .channels(p.out_channels(), p.in_channels())
                    .groups(p.groups())
                    .input(&out[axes.clone()])
                    .kernel(&k[axes.clone()])
                    .dilation(&dil[axes])
                    .padding(crate::Padding::explicit(&pads))
                    .op(Op::Convolution)
                    .build()?,
            )?),
        };
        Ok(GradPhase { rho, m, k, t })
    }
}

/// The input gradient on the GEMM engine: a forward pass of [`grad_input_problem`],
/// then the fold of the padded gradient onto the input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct GradInput {
    p: Problem,
    t: Im2col,
    /// The derived problem on the direct path (for plans on the direct path: a full
    /// correlation with the flipped kernel, depthwise and single-channel included).
    t_direct: Option<super::direct::Direct>,
    /// Stride > 1: the output gradient is spread out with zeros first.
    spread: bool,
    /// Padding > 0: the gradient of the padded input is folded onto the input.
    fold: bool,
    /// Stride > 1 on the GEMM engine, with dilation 1 along the strided axes:
    /// one stride-1 pass per phase instead of the spread (`t` then only gives
    /// the padded extents). Empty otherwise.
    phases: Vec<GradPhase>,
}

impl GradInput {
    /// `direct`: run the derived forward pass on the direct path.
    pub(crate) fn new(p: &Problem, direct: bool) -> crate::Result<GradInput> {
        let (stride, dil) = (p.stride3(), p.dilation3());
        let spread = stride != [1; MAX_DIMS];
        // The derived problem is always stride 1, which the direct path takes.
        let phased = spread && !direct && (0..MAX_DIMS).all(|a| stride[a] == 1 || dil[a] == 1);
        // Without phases (which scatter into the padded extent), zero padding
        // within the kernel's reach is cropped from the derived problem.
        let crop = !phased
            && p.padding_mode() == crate::PaddingMode::Zeros
            && (MAX_DIMS - p.dims()..MAX_DIMS).all(|a| {
                let (dk, pad, out) = (
                    (p.kernel3()[a] - 1) * dil[a] + 1,
                    p.pad3()[a],
                    p.output3()[a],
                );
                let slack = p.input3()[a] + pad.0 + pad.1 - ((out - 1) * stride[a] + dk);
                pad.0 < dk && pad.1 < dk + slack
            });
        let t = grad_input_problem(p, crop)?;
        let t_direct = if direct {
            super::direct::Direct::new(&t).ok()
        } else {
            None
        };
        // Up to `MAX_GRAD_PHASES` phases (each a plan of its own).
        let count = stride
            .iter()
            .try_fold(1usize, |n, &s| n.checked_mul(s))
            .filter(|&n| phased && n <= MAX_GRAD_PHASES)
            .unwrap_or(0);
        // Should a phase fail to plan (none should), the spread route.
        let phases = (0..count)
            .map(|i| {
                let rho = [
                    i / (stride[1] * stride[2]),
                    i / stride[2] % stride[1],
                    i % stride[2],
                ];
                GradPhase::new(p, rho)
            })
            .collect::<crate::Result<Vec<_>>>()
            .unwrap_or_default();
        Ok(GradInput {
            p: *p,
            t: Im2col::new(&t)?,
            t_direct,
            spread,
            fold: !crop && p.pad3() != [(0, 0); MAX_DIMS],
            phases,
        })
    }

    /// The largest phase output ([`GradInput::phases`]).
    fn phase_out_len(&self) -> usize {
        self.phases
            .iter()
            .filter_map(|ph| ph.t.as_ref().map(|t| t.p.output_len()))
            .max()
            .unwrap_or(0)
    }

    fn spread_len(&self) -> usize {
        if self.spread && self.phases.is_empty() {
            self.t.p.input_len()
        } else {
            0
        }
    }

    fn padded_len(&self) -> usize {
        if self.fold {
            self.t.p.output_len()
        } else {
            0
        }
    }

    pub(crate) fn workspace_len(&self, a: (usize, usize), threads: usize) -> usize {
        let inner = match (&self.t_direct, self.phases.is_empty()) {
            (Some(d), _) => d.workspace_len(threads),
            (None, true) => self.t.workspace_len(a, threads),
            (None, false) => self
                .phases
                .iter()
                .filter_map(|ph| ph.t.as_ref().map(|t| t.workspace_len(a, threads)))
                .max()
                .unwrap_or(0),
        };
        self.p.weight_len() + self.spread_len() + self.phase_out_len() + self.padded_len() + inner
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn run<T: Element>(
        &self,
        kern: &GemmKernel<T>,
        threads: usize,
        weight: &[T],
        grad_output: &[T],
        grad_input: &mut [T],
        workspace: &mut [T],
    ) {
        let p = &self.p;
        if weight.iter().any(|w| !w.is_finite()) {
            // The derived forward pass multiplies the zeros it spreads and pads the
            // output gradient with by every weight; with an infinite or NaN weight
            // that makes NaN where no term of the definition reaches. The reference
            // sums only the terms (found by fuzzing; see tests/regressions).
            let _ = crate::reference::backward_input(p, weight, grad_output, grad_input);
            return;
        }
        if !self.phases.is_empty() {
            return self.run_phases(kern, threads, weight, grad_output, grad_input, workspace);
        }
        let (wt, rest) = workspace.split_at_mut(p.weight_len());
        let (spread, rest) = rest.split_at_mut(self.spread_len());
        let (padded, inner) = rest.split_at_mut(self.padded_len());
        // Every tap as it is (the derived op flips for a convolution).
        self.transpose_channels(weight, wt, p.kernel3(), |_, j| j);
        let gy: &[T] = if self.spread {
            spread.fill(T::ZERO);
            let (out, s, u) = (p.output3(), p.stride3(), self.t.p.input3());
            let planes = spread.chunks_exact_mut(self.t.p.input_spatial());
            for (plane, g) in planes.zip(grad_output.chunks_exact(p.output_spatial())) {
                let mut i = 0;
                for od in 0..out[0] {
                    for oh in 0..out[1] {
                        let row = ((od * s[0]) * u[1] + oh * s[1]) * u[2];
                        for ow in 0..out[2] {
                            plane[row + ow * s[2]] = g[i];
                            i += 1;
                        }
                    }
                }
            }
            spread
        } else {
            grad_output
        };
        let target: &mut [T] = if self.fold { padded } else { &mut *grad_input };
        match (&self.t_direct, T::direct_kernel(kern.isa)) {
            (Some(d), Some(dk)) => d.forward(&dk, threads, gy, wt, None, target, inner),
            _ => self
                .t
                .forward(kern, threads, gy, Weights::Raw(wt), None, target, inner),
        }
        if self.fold {
            self.fold_padded(threads, padded, grad_input);
        }
    }

    /// `run` by phases ([`GradInput::phases`]): each phase's stride-1 forward
    /// pass, scattered to its positions of the padded gradient (every
    /// position is one phase's), then the fold.
    #[allow(clippy::too_many_arguments)]
    fn run_phases<T: Element>(
        &self,
        kern: &GemmKernel<T>,
        threads: usize,
        weight: &[T],
        grad_output: &[T],
        grad_input: &mut [T],
        workspace: &mut [T],
    ) {
        let p = &self.p;
        let (wt, rest) = workspace.split_at_mut(p.weight_len());
        let (pout, rest) = rest.split_at_mut(self.phase_out_len());
        let (padded, inner) = rest.split_at_mut(self.padded_len());
        let (ker, s) = (p.kernel3(), p.stride3());
        let flip = p.op() == Op::Convolution;
        let lp = self.t.p.output3();
        let plane = lp.iter().product::<usize>();
        let target: &mut [T] = if self.fold {
            &mut *padded
        } else {
            &mut *grad_input
        };
        for ph in &self.phases {
            let (rho, m, k) = (ph.rho, ph.m, ph.k);
            let at = |d: usize, h: usize, w: usize| {
                ((s[0] * d + rho[0]) * lp[1] + s[1] * h + rho[1]) * lp[2] + s[2] * w + rho[2]
            };
            // Each channel's positions of this phase, from its output (`None`:
            // no tap reaches them, zero).
            let scatter = |target: &mut [T], out: Option<&[T]>| {
                let m_plane = m.iter().product::<usize>();
                parallel::for_each_chunk_mut(threads, target, plane, |c, dst| {
                    let src = out.map(|o| &o[c * m_plane..(c + 1) * m_plane]);
                    let mut i = 0;
                    for d in 0..m[0] {
                        for h in 0..m[1] {
                            for w in 0..m[2] {
                                dst[at(d, h, w)] = src.map_or(T::ZERO, |s| s[i]);
                                i += 1;
                            }
                        }
                    }
                });
            };
            let Some(t) = &ph.t else {
                scatter(target, None);
                continue;
            };
            // The taps ρ + s·j of the kernel as correlated (flipped for a
            // convolution, whose phase problems convolve).
            let wp = &mut wt[..t.p.weight_len()];
            self.transpose_channels(weight, wp, k, |a, j| match flip {
                true => ker[a] - 1 - (rho[a] + s[a] * j),
                false => rho[a] + s[a] * j,
            });
            let out = &mut pout[..t.p.output_len()];
            t.forward(
                kern,
                threads,
                grad_output,
                Weights::Raw(wp),
                None,
                out,
                inner,
            );
            scatter(target, Some(out));
        }
        if self.fold {
            self.fold_padded(threads, padded, grad_input);
        }
    }

    /// `wt[g·cin_g + ci, co_g, j] = weight[g·cout_g + co_g, ci, tap(j)]`: the
    /// weights with their channel axes swapped, for the derived forward pass,
    /// and the taps `j < k` (per axis) taken from the kernel's `tap(axis, j)`.
    fn transpose_channels<T: Element>(
        &self,
        weight: &[T],
        wt: &mut [T],
        k: [usize; MAX_DIMS],
        tap: impl Fn(usize, usize) -> usize,
    ) {
        let p = &self.p;
        let (cin_g, cout_g, ker) = (
            p.in_channels_per_group(),
            p.out_channels_per_group(),
            p.kernel3(),
        );
        let (taps, taps_w) = (k.iter().product::<usize>(), p.kernel_spatial());
        for g in 0..p.groups() {
            for ci in 0..cin_g {
                for co in 0..cout_g {
                    let src = &weight[((g * cout_g + co) * cin_g + ci) * taps_w..][..taps_w];
                    let dst = &mut wt[((g * cin_g + ci) * cout_g + co) * taps..][..taps];
                    let mut i = 0;
                    for j0 in 0..k[0] {
                        for j1 in 0..k[1] {
                            for j2 in 0..k[2] {
                                dst[i] =
                                    src[(tap(0, j0) * ker[1] + tap(1, j1)) * ker[2] + tap(2, j2)];
                                i += 1;
                            }
                        }
                    }
                }
            }
        }
    }

    /// The gradient of the padded input (`padded`) folded onto the input:
    /// each padded position adds to the input position the padding mode reads.
    fn fold_padded<T: Element>(&self, threads: usize, padded: &[T], grad_input: &mut [T]) {
        let p = &self.p;
        let (inp, pad, mode) = (p.input3(), p.pad3(), p.padding_mode());
        let lp = self.t.p.output3();
        let plane = lp.iter().product::<usize>();
        parallel::for_each_chunk_mut(threads, grad_input, p.input_spatial(), |c, gx| {
            let src = &padded[c * plane..(c + 1) * plane];
            if mode == crate::PaddingMode::Zeros {
                // Zero padding copies nothing: the gradient is the interior.
                for (r, row) in gx.chunks_exact_mut(inp[2]).enumerate() {
                    let (d, h) = (r / inp[1], r % inp[1]);
                    let at = ((d + pad[0].0) * lp[1] + h + pad[1].0) * lp[2] + pad[2].0;
                    row.copy_from_slice(&src[at..at + inp[2]]);
                }
                return;
            }
            gx.fill(T::ZERO);
            let map = |a: usize, i: usize| mode.source(i as isize - pad[a].0 as isize, inp[a]);
            let mut i = 0;
            for d in 0..lp[0] {
                let sd = map(0, d);
                for h in 0..lp[1] {
                    let sh = map(1, h);
                    for w in 0..lp[2] {
                        if let (Some(sd), Some(sh), Some(sw)) = (sd, sh, map(2, w)) {
                            gx[(sd * inp[1] + sh) * inp[2] + sw] += src[i];
                        }
                        i += 1;
                    }
                }
            }
        });
    }
}

impl Im2col {
    /// Output pixels per band of `backward_weight` (all of them without bands).
    fn grad_band_pixels(&self) -> usize {
        match &self.band {
            Some(band) => band.cols.min(self.p.output_spatial()),
            None => self.p.output_spatial(),
        }
    }

    fn grad_a_len(&self, a: (usize, usize)) -> usize {
        self.p.groups()
            * pack::packed_a_len(self.p.out_channels_per_group(), self.grad_band_pixels(), a)
    }

    /// Workspace elements for `backward_weight` with A panels of shape `a`.
    pub(crate) fn grad_weight_workspace_len(&self, a: (usize, usize)) -> usize {
        let prepared = match &self.band {
            Some(band) => band.len(&self.p),
            None => self.prepared_len(),
        };
        self.grad_a_len(a)
            .saturating_add(prepared)
            .saturating_add(self.p.weight_len())
    }

    /// The weight gradient as a GEMM per image (or band of an image) and group:
    /// `gW[co, k] = Σ_pixels gY[co, pixel] · B[k, pixel]`, A = the output gradient
    /// (packed once per image or band), B = the im2col matrix transposed, packed
    /// panel by panel straight from the prepared image or band. The pixel
    /// reduction is never split across threads; images and bands are summed in
    /// order.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn backward_weight<T: Element>(
        &self,
        kern: &GemmKernel<T>,
        threads: usize,
        input: &[T],
        grad_output: &[T],
        grad_weight: &mut [T],
        workspace: &mut [T],
    ) {
        let p = &self.p;
        let (mr, nr) = (kern.mr, kern.nr);
        let blocking = Blocking::for_kernel(kern);
        let (groups, cin_g, cout_g, k) = (
            p.groups(),
            p.in_channels_per_group(),
            p.out_channels_per_group(),
            p.reduction_len(),
        );
        let (out, q) = (p.output3(), self.q);
        let pixels = p.output_spatial();
        let (apack, rest) = workspace.split_at_mut(self.grad_a_len(kern.a_shape()));
        // Large images go band by band (pixels `cols` at a time, the reduction
        // summed band after band), as in `forward`; others are one band.
        let (prep_len, chan_stride, table) = match &self.band {
            Some(band) => (band.len(p), band.chan_stride, &band.table),
            None => (self.prepared_len(), self.chan_stride, &self.rows),
        };
        let (prepared, acc) = rest.split_at_mut(prep_len);
        let cols = self.grad_band_pixels();
        let a_len = pack::packed_a_len(cout_g, cols, kern.a_shape());
        let in_image = p.in_channels() * p.input_spatial();
        let panels = k.div_ceil(nr);
        let tiles = cout_g.div_ceil(mr);
        let per_block = blocking.tiles_per_a_block(kern, cols);
        let items = (0..p.batch()).flat_map(|n| (0..pixels).step_by(cols).map(move |p0| (n, p0)));
        for (n, pb) in items {
            let x = &input[n * in_image..(n + 1) * in_image];
            let kb = cols.min(pixels - pb);
            // The grid position of the band's first pixel (the buffer's first).
            let first = self.grid_position(pb);
            let b_image: &[T] = match &self.band {
                Some(band) => {
                    self.prepare_band(kern, band, threads, x, first, prepared);
                    prepared
                }
                None => self.prepare_image(kern, threads, x, prepared),
            };
            for g in 0..groups {
                let gy = &grad_output[(n * p.out_channels() + g * cout_g) * pixels + pb..];
                pack::pack_a(
                    &mut apack[g * a_len..(g + 1) * a_len],
                    gy,
                    pixels,
                    cout_g,
                    kb,
                    kern.a_shape(),
                );
            }
            let apack = &*apack;
            let out_acc = SharedOut::new(&mut *acc);
            for t0 in (0..tiles).step_by(per_block) {
                let block = t0..(t0 + per_block).min(tiles);
                parallel::for_each_claimed(threads, groups * panels, |_, claimed| {
                    let mut scratch = Scratch::new();
                    for task in claimed {
                        let (g, col) = (task / panels, (task % panels) * nr);
                        let nr_valid = nr.min(k - col);
                        let b = &b_image[g * cin_g * chan_stride..];
                        let rows = &table.offsets()[col..col + nr_valid];
                        // B^T panel: pixel rows p0.., tap columns. Pixels of one output
                        // row are contiguous on the grid: per run of them, each tap's
                        // values are read as one contiguous stretch and written down
                        // its panel column (2x faster than gathering pixel by pixel).
                        let pack = |dst: &mut [T], p0: usize, kc: usize| {
                            let dst = &mut dst[..kc * nr];
                            let mut j = 0;
                            while j < kc {
                                let p = pb + p0 + j;
                                let (od, rem) = (p / (out[1] * out[2]), p % (out[1] * out[2]));
                                let (oh, ow) = (rem / out[2], rem % out[2]);
                                let len = (out[2] - ow).min(kc - j);
                                let grid = (od * q[1] + oh) * q[2] + ow - first;
                                let block = &mut dst[j * nr..(j + len) * nr];
                                // Through the level's shuffles (16 by 16 values at a time
                                // with AVX-512); else eight taps at a time: eight loads
                                // and one contiguous eight-value store per pixel.
                                let mut t = 0;
                                if kern.transpose_rows(&b[grid..], rows, len, block, nr) {
                                    t = rows.len();
                                }
                                while t + 8 <= rows.len() {
                                    let src: [&[T]; 8] =
                                        std::array::from_fn(|i| &b[rows[t + i] + grid..][..len]);
                                    for (i, d) in block.chunks_exact_mut(nr).enumerate() {
                                        let v: [T; 8] = std::array::from_fn(|s| src[s][i]);
                                        d[t..t + 8].copy_from_slice(&v);
                                    }
                                    t += 8;
                                }
                                for (t, &off) in rows.iter().enumerate().skip(t) {
                                    let src = &b[off + grid..][..len];
                                    for (d, &v) in block.chunks_exact_mut(nr).zip(src) {
                                        d[t] = v;
                                    }
                                }
                                for d in block.chunks_exact_mut(nr) {
                                    d[nr_valid..].fill(T::ZERO);
                                }
                                j += len;
                            }
                        };
                        let emit = |row0: usize, nrows: usize, cbuf: &[T]| {
                            for r in 0..nrows {
                                let at = (g * cout_g + row0 + r) * k + col;
                                let src = &cbuf[r * nr..r * nr + nr_valid];
                                if n == 0 && pb == 0 {
                                    // SAFETY: this task alone owns columns col..col+nr_valid of group g.
                                    unsafe { out_acc.write(at, src) };
                                } else {
                                    // SAFETY: as above.
                                    unsafe { out_acc.update(at, nr_valid, |i, d| *d += src[i]) };
                                }
                            }
                        };
                        let a = &apack[g * a_len..(g + 1) * a_len];
                        let (s, tiles) = (&mut scratch, block.clone());
                        let b = PanelB::Packed {
                            pack: &pack,
                            cols: nr_valid,
                        };
                        gemm::column_panel(
                            s, kern, blocking, a, cout_g, tiles, kb, b, None, None, emit,
                        );
                    }
                });
            }
        }
        // gW[co, wcol[k]] = acc[co, k]: the convolution flip, undone.
        for (row, src) in grad_weight.chunks_exact_mut(k).zip(acc.chunks_exact(k)) {
            for (kk, &v) in src.iter().enumerate() {
                row[self.wcol[kk]] = v;
            }
        }
    }
}

/// The bias gradient: per output channel, the sum of the output gradient, in f64
/// for f32 (a plain reduction; no workspace).
pub(crate) fn backward_bias<T: Element>(p: &Problem, grad_output: &[T], grad_bias: &mut [T]) {
    let sp = p.output_spatial();
    for (co, gb) in grad_bias.iter_mut().enumerate() {
        let mut s = 0.0f64;
        for n in 0..p.batch() {
            let start = (n * p.out_channels() + co) * sp;
            s += grad_output[start..start + sp]
                .iter()
                .map(|v| v.to_f64())
                .sum::<f64>();
        }
        *gb = T::from_f64(s);
    }
}

/// Elements of f64 in one L1 way (4 KiB: 64 sets of 64-byte lines): rows this far
/// apart, or a multiple of it, share their L1 sets.
const L1_WAY_F64: usize = 512;

/// Whether the first KC rows of B (`offsets`, elements of `size` bytes), each
/// read as one 192-byte panel row, need more than 16 lines of one L1 set (the L1
/// of current x86 cores is 8- to 12-way): then reading B in place thrashes L1.
fn rows_crowd_l1(offsets: &[usize], size: usize) -> bool {
    const KC: usize = 128;
    const SETS: usize = 64;
    let mut lines: Vec<usize> = offsets[..offsets.len().min(KC)]
        .iter()
        .flat_map(|&o| {
            let first = o.saturating_mul(size) / 64;
            first..first.saturating_add(4)
        })
        .collect();
    lines.sort_unstable();
    lines.dedup();
    let mut per_set = [0usize; SETS];
    lines.iter().for_each(|l| per_set[l % SETS] += 1);
    per_set.iter().any(|&n| n > 16)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn band(desc: &str) -> Option<Band> {
        Im2col::new(&desc.parse().unwrap()).unwrap().band
    }

    #[test]
    fn only_prepared_images_past_the_limit_go_in_bands() {
        for small in [
            "n8_ic64_oc64_i56x56_k3x3_p1",
            "n1_ic64_oc64_i224x224_k3x3_p1",
        ] {
            assert!(band(small).is_none(), "{small}");
        }
        for large in [
            "n1_ic64_oc64_i512x512_k3x3_p1",
            "n1_ic16_oc16_i64x64x70_k3x3x3_p1",
            "n1_ic8_oc8_i1000000_k5_p2",
            "n1_ic64_oc64_i1000x1000_k3x3_s2_p1",
        ] {
            let b = band(large).unwrap_or_else(|| panic!("{large}: no band"));
            assert!(
                b.cols.is_multiple_of(BAND_ALIGN) && b.cols > 0,
                "{large}: {}",
                b.cols
            );
            let p: Problem = large.parse().unwrap();
            assert!(
                b.len(&p) <= 2 * BAND_TARGET,
                "{large}: band of {}",
                b.len(&p)
            );
            // At least twice the kernel's reach (two padded rows, in 2-D).
            if p.dims() == 2 && p.stride() == [1, 1] {
                let w = p.input_shape()[1] + 2;
                assert!(b.cols >= 2 * (2 * w), "{large}: {}", b.cols);
            }
        }
    }
}
