//! Winograd F(2×2, 3×3): 3×3 layers with stride 1 as 16 GEMMs with `2.25×` fewer
//! multiply-adds than the im2col path's one. A dilated kernel is a dense one on
//! each phase of the padded input (see [`Phases`]).
//!
//! Each 2×2 block of outputs (a *tile*) is computed from the 4×4 input patch under
//! it: `Y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A` per pair of channels, summed over input
//! channels. The sum over input channels of the element-wise product is, for
//! each of the 16 positions `ξ` of the 4×4 transform, a GEMM:
//! `M[ξ][co][tile] = Σ_ci U[ξ][co][ci] · V[ξ][ci][tile]`, which runs on the GEMM
//! engine's microkernels (`U`, the transformed weights, packed as its A panels;
//! `V`, the transformed input, written straight into its B panel layout).
//!
//! Tiles go in *chunks* of whole tile rows of one image, sized so that a chunk's
//! `V` and `M` (`16·(C_in + C_out)` values per tile) stay in L2; each chunk is one
//! task with a scratch slot of the workspace, so the extra memory is the packed
//! weights plus one slot per thread, whatever the image size. A chunk does its
//! input transform, its 16 GEMMs and its output transform (bias fused) in turn.
//! Every output is computed by one chunk in a fixed order: results do not depend
//! on the thread count.
//!
//! Padding (all four modes) is applied while the input patch rows are gathered;
//! the convolution flip while the weights are transformed.
//!
//! **Accuracy.** The transforms have coefficients 0, ±1 and ±½; an output reads
//! only its own 3×3 window, but the transforms mix every input of the window
//! with every weight before the products are summed, so its rounding error
//! follows `Σ|w|·max|x|` over the window, not `Σ|x·w|`. The bound it meets is
//! the crate's rule `2·K·eps·scale` with that scale, `|b| + Σ_ci (Σ_taps
//! |w|)·max_window |x|` (the property tests assert exactly that, on random
//! problems of every padding mode, grouping and dilation). On the conformance
//! vectors it meets the strict rule, whose scale is `Σ|x·w|`; a random
//! single-channel problem with two rows of zero padding missed that one by
//! 1.5×, and outputs whose large inputs meet small weights (a border beside
//! zero padding) can miss it by more. The planner therefore chooses this path
//! only when asked to (`Planner::with_winograd`); `Plan::with_path` forces it.
//! The transforms can turn an infinite value into NaN (`∞ - ∞`) where the direct
//! sum gives `±∞`: weights are scanned for that, and inputs are found by the
//! outputs they make non-finite ([`Finite`]); either sends the call to im2col.
//!
//! The gradients of a Winograd plan run on the GEMM engine (im2col).

use crate::element::Element;
use crate::error::{Result, XcorrError};
use crate::gemm::pack::{self, SharedOut};
use crate::geometry::{Op, Problem};
use crate::isa::GemmKernel;
use crate::parallel;
use crate::paths::Weights;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// Whether every value of a slice is finite (the level's vector scan). The
/// forward pass checks its outputs with it instead of scanning the input first:
/// an output is computed only from the inputs of its own window (the rows and
/// columns of `Bᵀ d B` that reach it through `Aᵀ M A` are those of the window),
/// so it is non-finite exactly where the direct result is; the caller then runs
/// the im2col path, since the transforms may give NaN (`∞ - ∞`) where the direct
/// sum gives `±∞`.
pub(crate) type Finite<'a, T> = &'a (dyn Fn(&[T]) -> bool + Sync);

/// Positions of the 4×4 transform: one GEMM each.
const XI: usize = 16;

/// Target size of a chunk's `V` and `M`, in elements (512 KiB of f32: with the
/// packed weights beside them, within a 1 MiB L2; twice that measured the same
/// on one thread and up to 5% slower on two, with fewer chunks to share).
const CHUNK_ELEMS: usize = 1 << 17;

/// Padding after each packed weight panel, and after each ξ's part of a chunk's
/// V and M, in elements (see `Winograd::panel_len`).
const PANEL_PAD: usize = 16;

/// The reduction of one microkernel call at most (larger channel counts go in
/// blocks, accumulating): keeps a B panel in L1/L2.
const KC_MAX: usize = 512;

/// The Winograd geometry of a problem: tiles per image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Winograd {
    p: Problem,
    /// Tile rows and columns per image (`ceil(out / 2)`).
    th: usize,
    tw: usize,
    /// A dilated problem's phases (see [`Phases`]); `None` for dilation 1.
    phases: Option<Box<Phases>>,
}

/// A 3×3 kernel of dilation `(dh, dw)` reads only every `dh`-th row and `dw`-th
/// column of the padded input: each of its `dh·dw` *phases*
/// `padded[a + dh·r][b + dw·c]` gives, through a dense 3×3 correlation without
/// padding, the outputs `[a + dh·r][b + dw·c]`. The phases of each input
/// channel are laid side by side, `dh` blocks of `sh` rows by `dw` blocks of `sw`
/// columns (a permutation of the padded input's rows and columns, zero past its
/// edge), and that one image goes through `sub`, the dense problem: its outputs
/// that straddle two blocks are dropped, the others put back in place. One
/// image per (image, channel) rather than `dh·dw` small ones keeps the tiles in
/// full panels (dil: 18 panels instead of 20). Extra memory: the permuted input
/// and its outputs, the size of the input and the output.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Phases {
    d: [usize; 2],
    /// Rows and columns of one phase: `ceil(padded / d)` rounded up to even.
    sh: usize,
    sw: usize,
    sub: Winograd,
    /// The permuted image's rows are stored as `sub`'s chunks read them (its
    /// even columns, then its odd ones: [`Source::Split`]); entry `q` of such
    /// a row is the input row's column `cols[q]`, or zero for `None`.
    cols: Vec<Option<usize>>,
}

impl Phases {
    /// Elements of the permuted images in the split layout (`sub` their problem).
    fn split_len(&self, sub: &Problem) -> usize {
        (sub.batch() * sub.in_channels()).saturating_mul(self.sub.split_plane())
    }
}

/// Where [`Winograd::chunk`] reads its input rows: the input itself (each
/// chunk pads and splits the rows it reads), or rows already padded and split
/// (a dilated problem's phases): per (image, channel), `2·th + 2` rows of
/// `2·(tw + 1)` values, each its even columns then its odd ones.
#[derive(Clone, Copy)]
enum Source<'a, T> {
    Plain(&'a [T]),
    Split(&'a [T]),
}

/// The chunk geometry for a kernel's tile shape: a chunk is `panels·NR`
/// consecutive tiles of one image (row-major over tile rows and columns), the
/// last one of an image fewer.
#[derive(Clone, Copy, Debug)]
struct Chunks {
    /// Column panels (`NR` tiles each) per chunk.
    panels: usize,
    /// Chunks per image.
    per_image: usize,
    /// Output-channel rows of `M` per group (`C_out/g` rounded up to `MR`).
    cout_gp: usize,
}

impl Winograd {
    /// # Errors
    /// `PathUnsupported` unless the problem is 2-D with a 3×3 kernel and stride 1.
    pub fn new(p: &Problem) -> Result<Winograd> {
        let unsupported = |reason: &str| XcorrError::PathUnsupported {
            path: "winograd",
            reason: reason.into(),
        };
        if p.dims() != 2 {
            return Err(unsupported("it computes 2-D problems only"));
        }
        if p.kernel_shape() != [3, 3] {
            return Err(unsupported("it computes 3×3 kernels only"));
        }
        if p.stride() != [1, 1] {
            return Err(unsupported("it needs stride 1"));
        }
        let out = p.output_shape();
        let phases = if p.dilation() == [1, 1] {
            None
        } else {
            let d = [p.dilation()[0], p.dilation()[1]];
            let (inp, pad) = (p.input3(), p.pad3());
            let padded = |ax: usize| inp[ax] + pad[ax].0 + pad[ax].1;
            // Blocks of even extent, so that no tile straddles two phases (its
            // 4×4 input tile is then that of the dilated kernel).
            let even = |ax: usize, d: usize| padded(ax).div_ceil(2 * d) * 2;
            let (sh, sw) = (even(1, d[0]), even(2, d[1]));
            let sub = Problem::builder()
                .batch(p.batch())
                .channels(p.in_channels(), p.out_channels())
                .groups(p.groups())
                .input([sh.saturating_mul(d[0]), sw.saturating_mul(d[1])])
                .kernel([3, 3])
                .op(p.op())
                .build()?;
            let sub = Winograd::new(&sub)?;
            // Split position q: sub column 2q (even half) or 2(q - half) + 1,
            // which is column c of phase b, padded column b + dw·c.
            let (half, width) = (sub.tw + 1, sw * d[1]);
            let (left, w) = (pad[2].0, inp[2]);
            let cols = (0..2 * half)
                .map(|q| {
                    let col = if q < half { 2 * q } else { 2 * (q - half) + 1 };
                    let padded_col = d[1] * (col % sw) + col / sw;
                    (col < width && padded_col < padded(2))
                        .then(|| {
                            p.padding_mode()
                                .source(padded_col as isize - left as isize, w)
                        })
                        .flatten()
                })
                .collect();
            Some(Box::new(Phases {
                d,
                sh,
                sw,
                sub,
                cols,
            }))
        };
        Ok(Winograd {
            p: *p,
            th: out[0].div_ceil(2),
            tw: out[1].div_ceil(2),
            phases,
        })
    }

    /// Tiles per image that the GEMMs compute (a dilated problem's: of its
    /// permuted image), and whether the input and output are copied to and from
    /// that image.
    pub(crate) fn tiles_per_image(&self) -> (usize, bool) {
        match &self.phases {
            Some(ph) => (ph.sub.th * ph.sub.tw, true),
            None => (self.th * self.tw, false),
        }
    }

    /// Elements of one channel's image in the split layout of
    /// [`Source::Split`]: `2·th + 2` rows of `2·(tw + 1)`.
    fn split_plane(&self) -> usize {
        (2 * self.th + 2).saturating_mul(2 * (self.tw + 1))
    }

    fn chunks(&self, mr: usize, nr: usize) -> Chunks {
        let p = &self.p;
        let cout_gp = p.out_channels_per_group().div_ceil(mr) * mr;
        // Saturating, as every length here: a huge problem reports a workspace no
        // buffer has (a typed error at execution), not a wrapped small one.
        let per_tile = XI.saturating_mul(p.in_channels().saturating_add(p.groups() * cout_gp));
        let image = self.th * self.tw;
        let panels = (CHUNK_ELEMS / per_tile.max(1) / nr).clamp(1, image.div_ceil(nr));
        Chunks {
            panels,
            per_image: image.div_ceil(panels * nr),
            cout_gp,
        }
    }

    /// Elements of the packed transformed weights: per (group, MR-row tile), 16
    /// panels of [`panel_len`](Self::panel_len).
    fn packed_len(&self, (mr, copies): (usize, usize)) -> usize {
        (XI * self.p.groups() * self.p.out_channels_per_group().div_ceil(mr))
            .saturating_mul(self.panel_len((mr, copies)))
    }

    /// One packed A panel, `cin_g × MR` values (each `copies` times, the kernel's
    /// `a_copies`), and a cache line of padding: the
    /// weight transform writes all 16 panels of a tile at once, and at a multiple
    /// of 4 KiB apart they would share L1 sets (c128: 16 panels of exactly 4 KiB;
    /// its weights took a quarter of the time on two threads).
    fn panel_len(&self, (mr, copies): (usize, usize)) -> usize {
        self.p
            .in_channels_per_group()
            .saturating_mul(mr * copies)
            .saturating_add(PANEL_PAD)
    }

    /// Elements of one task's scratch slot: `V`, `M` and the gathered patch rows.
    fn slot_len(&self, mr: usize, nr: usize) -> usize {
        let c = self.chunks(mr, nr);
        let lanes = c.panels * nr;
        let channels = self
            .p
            .in_channels()
            .saturating_add(self.p.groups() * c.cout_gp);
        XI.saturating_mul(lanes.saturating_mul(channels).saturating_add(2 * PANEL_PAD))
            .saturating_add(self.patch_rows(lanes) * (2 * self.tw + 2))
    }

    /// Padded input rows a chunk of `lanes` tiles reads at most: two per tile row
    /// (a chunk spans at most `lanes / tw + 2` of them) and two more.
    fn patch_rows(&self, lanes: usize) -> usize {
        2 * (lanes / self.tw + 2) + 2
    }

    /// Workspace elements for `forward` with a kernel of `mr × nr` tiles (A panels
    /// of shape `a = (mr, copies)`) on
    /// `threads` threads.
    pub fn workspace_len(&self, a: (usize, usize), nr: usize, threads: usize) -> usize {
        if let Some(ph) = &self.phases {
            let sub = &ph.sub.p;
            return ph
                .sub
                .workspace_len(a, nr, threads)
                .saturating_add(ph.split_len(sub))
                .saturating_add(sub.output_len());
        }
        let slots = threads.clamp(1, parallel::MAX_SCRATCH_SLOTS);
        self.packed_len(a)
            .saturating_add(self.slot_len(a.0, nr).saturating_mul(slots))
    }

    /// Elements of the packed transformed weights of a kernel with A panels of
    /// shape `a` (`(mr, copies)`).
    pub(crate) fn packed_weights_len(&self, a: (usize, usize)) -> usize {
        self.packed_len(a)
    }

    /// The transformed weights `forward` reads, into `dst`
    /// ([`packed_weights_len`](Self::packed_weights_len) elements): per (group,
    /// MR-row tile), 16 A panels (one per ξ), each `cin_g × MR` (rows past
    /// C_out/g zero).
    pub(crate) fn pack_weights<T: Element>(
        &self,
        kern: &GemmKernel<T>,
        threads: usize,
        weight: &[T],
        dst: &mut [T],
    ) {
        let p = &self.p;
        let mr = kern.mr;
        let (cin_g, cout_g) = (p.in_channels_per_group(), p.out_channels_per_group());
        let tiles_g = cout_g.div_ceil(mr);
        let flip = p.op() == Op::Convolution;
        let (panel, copies) = (self.panel_len(kern.a_shape()), kern.a_copies);
        let len = self.packed_len(kern.a_shape());
        parallel::for_each_chunk_mut(threads, &mut dst[..len], XI * panel, |i, dst| {
            let (g, t) = (i / tiles_g, i % tiles_g);
            let rows = mr.min(cout_g - t * mr);
            // Per input channel, the tile's rows transformed first, then stored a
            // row of MR values per ξ.
            let mut u = [[T::ZERO; XI]; 16];
            for ci in 0..cin_g {
                for (r, u) in u[..rows].iter_mut().enumerate() {
                    let co = g * cout_g + t * mr + r;
                    *u = transformed_weight(&weight[(co * cin_g + ci) * 9..][..9], flip);
                }
                for xi in 0..XI {
                    let d = &mut dst[xi * panel + ci * mr * copies..][..mr * copies];
                    if copies == 1 {
                        // (The general loop below costs c128 15% of its time.)
                        for (d, u) in d.iter_mut().zip(&u[..mr]) {
                            *d = u[xi];
                        }
                    } else {
                        for (d, u) in d.chunks_exact_mut(copies).zip(&u[..mr]) {
                            d.fill(u[xi]);
                        }
                    }
                }
            }
        });
    }

    /// `output = input ⋆ weight + bias` (the caller has checked every length and
    /// that input and weight are finite), the weights as given (transformed into
    /// the workspace first) or transformed before by
    /// [`pack_weights`](Self::pack_weights).
    #[allow(clippy::too_many_arguments)]
    pub fn forward<T: Element>(
        &self,
        kern: &GemmKernel<T>,
        threads: usize,
        input: &[T],
        weight: Weights<'_, T>,
        bias: Option<&[T]>,
        output: &mut [T],
        workspace: &mut [T],
        finite: Finite<'_, T>,
    ) -> bool {
        if let Some(ph) = &self.phases {
            let sub = &ph.sub.p;
            let (images, rest) = workspace.split_at_mut(ph.split_len(sub));
            let (outs, ws) = rest.split_at_mut(sub.output_len());
            self.space_to_batch(ph, threads, input, images);
            let images = Source::Split(&*images);
            let ok = ph
                .sub
                .forward_from(kern, threads, images, weight, bias, outs, ws, finite);
            self.batch_to_space(ph, threads, outs, output);
            return ok;
        }
        self.forward_from(
            kern,
            threads,
            Source::Plain(input),
            weight,
            bias,
            output,
            workspace,
            finite,
        )
    }

    /// [`forward`](Self::forward) of a problem without phases, its input rows
    /// from `input`.
    #[allow(clippy::too_many_arguments)]
    fn forward_from<T: Element>(
        &self,
        kern: &GemmKernel<T>,
        threads: usize,
        input: Source<'_, T>,
        weight: Weights<'_, T>,
        bias: Option<&[T]>,
        output: &mut [T],
        workspace: &mut [T],
        finite: Finite<'_, T>,
    ) -> bool {
        let p = &self.p;
        let (mr, nr) = (kern.mr, kern.nr);
        let ch = self.chunks(mr, nr);
        let (apack, slots) = workspace.split_at_mut(self.packed_len(kern.a_shape()));
        let apack = match weight {
            Weights::Raw(w) => {
                self.pack_weights(kern, threads, w, apack);
                &*apack
            }
            Weights::Packed(u) => u,
        };
        let out = SharedOut::new(output);
        let tasks = p.batch() * ch.per_image;
        // One scratch slot per worker, by worker index: claimed tasks never wait
        // for a slot (a mutex per slot, taken once per worker and uncontended).
        let slot_len = self.slot_len(mr, nr);
        let workers = threads.min(slots.len() / slot_len).max(1);
        let mut free = slots.chunks_exact_mut(slot_len);
        let held: [Mutex<Option<&mut [T]>>; parallel::MAX_SCRATCH_SLOTS] =
            std::array::from_fn(|_| Mutex::new(free.next()));
        let split = TailSplit::new(tasks, workers, groups_tiles(p, mr));
        // Cleared by a chunk that writes a non-finite output (see `Finite`).
        let ok = AtomicBool::new(true);
        parallel::for_each_claimed(workers, split.items(), |w, claimed| {
            let mut slot = held[w].lock().unwrap_or_else(|e| e.into_inner());
            let slot = slot.as_deref_mut().expect("a workspace slot per worker");
            for item in claimed {
                let (task, rows) = split.item(item);
                let (n, c) = (task / ch.per_image, task % ch.per_image);
                let t0 = c * ch.panels * nr;
                let t1 = (t0 + ch.panels * nr).min(self.th * self.tw);
                let chunk = (n, t0, t1, rows);
                let out = (&out, &ok, finite);
                self.chunk(kern, &ch, chunk, input, apack, bias, out, slot);
            }
        });
        ok.into_inner()
    }

    /// One chunk: tiles `t0..t1` of image `n`, output-channel row tiles `rows`
    /// (of `groups_tiles`: tile `t` of group `g` is `g·tiles_g + t`).
    #[allow(clippy::too_many_arguments)]
    fn chunk<T: Element>(
        &self,
        kern: &GemmKernel<T>,
        ch: &Chunks,
        (n, t0, t1, rows): (usize, usize, usize, std::ops::Range<usize>),
        input: Source<'_, T>,
        apack: &[T],
        bias: Option<&[T]>,
        (out, ok, finite): (&SharedOut<'_, T>, &AtomicBool, Finite<'_, T>),
        slot: &mut [T],
    ) {
        let p = &self.p;
        let (mr, nr) = (kern.mr, kern.nr);
        // A panel values per reduction step, and per (ξ, group, row tile).
        let (pa, panel) = (kern.a_step(), self.panel_len(kern.a_shape()));
        let (groups, cin, cin_g, cout_g) = (
            p.groups(),
            p.in_channels(),
            p.in_channels_per_group(),
            p.out_channels_per_group(),
        );
        let tiles = t1 - t0;
        let panels = tiles.div_ceil(nr);
        let lanes = ch.panels * nr;
        let mrows = groups * ch.cout_gp;
        // V and M per ξ, a cache line apart beyond their size: the transforms
        // touch all 16 at once, and a multiple of 4 KiB apart they would share
        // L1 sets (res3x3: 12 KiB; the input transform's stores were 15% of it).
        let (vxi, mxi) = (lanes * cin + PANEL_PAD, lanes * mrows + PANEL_PAD);
        let (v, rest) = slot.split_at_mut(XI * vxi);
        let (m, rest) = rest.split_at_mut(XI * mxi);
        let patch = &mut rest[..self.patch_rows(lanes) * (2 * self.tw + 2)];
        // V[ξ][q][ci][lane], the B panels: lanes past the chunk's tiles are zero.
        let vat = |xi: usize, q: usize, ci: usize| xi * vxi + (q * cin + ci) * nr;
        if tiles < panels * nr {
            for xi in 0..XI {
                for ci in 0..cin {
                    v[vat(xi, panels - 1, ci) + tiles % nr..][..nr - tiles % nr].fill(T::ZERO);
                }
            }
        }
        let (inp, outd) = (p.input3(), p.output3());
        let plane = inp[1] * inp[2];
        // Tile rows i of the chunk, and its columns jlo..jhi of each.
        let tw = self.tw;
        let cols = |i: usize| (t0.max(i * tw) - i * tw, t1.min((i + 1) * tw) - i * tw);
        let tile_rows = t0 / tw..(t1 - 1) / tw + 1;
        // The runs of tile row i within one panel: (column j, panel q, its lane,
        // run length), the row's tiles being chunk tiles i·tw + j - t0.
        let runs = |i: usize| {
            let (mut j, jhi) = cols(i);
            std::iter::from_fn(move || {
                (j < jhi).then(|| {
                    let t = i * tw + j - t0;
                    let (q, lane) = (t / nr, t % nr);
                    let run = (nr - lane).min(jhi - j);
                    j += run;
                    (j - run, q, lane, run)
                })
            })
        };
        let vstride = vxi;
        let half = tw + 1;
        let first = tile_rows.start;
        let split_plane = self.split_plane();
        for ci in 0..cin {
            // The chunk's padded rows, each gathered once: tile row i reads rows
            // 2(i - first) .. + 4 of them.
            let patch: &[T] = match input {
                Source::Plain(x) => {
                    let x = &x[(n * cin + ci) * plane..][..plane];
                    self.gather_rows(kern, x, 2 * first, 2 * tile_rows.len() + 2, patch);
                    patch
                }
                Source::Split(x) => &x[(n * cin + ci) * split_plane + 2 * first * 2 * half..],
            };
            for i in tile_rows.clone() {
                // Panel by panel, straight into V (position ξ `vstride` apart).
                for (j, q, lane, run) in runs(i) {
                    let row = |r: usize, k: usize| {
                        &patch[(2 * (2 * (i - first) + r) + k) * half + j..][..run + 1]
                    };
                    let (e, o) = (
                        [0, 1, 2, 3].map(|r| row(r, 0)),
                        [0, 1, 2, 3].map(|r| row(r, 1)),
                    );
                    kern.winograd_input(e, o, run, &mut v[vat(0, q, ci) + lane..], vstride);
                }
            }
        }
        // The 16 GEMMs: M[ξ][q][row][lane] = U[ξ] · V[ξ][q], per group and MR rows.
        let tiles_g = cout_g.div_ceil(mr);
        let mat = |xi: usize, q: usize, row: usize| xi * mxi + (q * mrows + row) * nr;
        for xi in 0..XI {
            for q in 0..panels {
                for rt in rows.clone() {
                    let (g, t) = (rt / tiles_g, rt % tiles_g);
                    let a = &apack[(rt * XI + xi) * panel..][..cin_g * pa];
                    let b = &v[vat(xi, q, g * cin_g)..][..cin_g * nr];
                    let c = &mut m[mat(xi, q, g * ch.cout_gp + t * mr)..][..mr * nr];
                    for k0 in (0..cin_g).step_by(KC_MAX) {
                        let kl = KC_MAX.min(cin_g - k0);
                        kern.tile(
                            kl,
                            &a[k0 * pa..(k0 + kl) * pa],
                            &b[k0 * nr..(k0 + kl) * nr],
                            c,
                            k0 > 0,
                        );
                    }
                }
            }
        }
        // The output transform, bias fused, row pair by row pair.
        let (oh, ow) = (outd[1], outd[2]);
        let out_plane = oh * ow;
        let (y0, y1) = patch.split_at_mut(2 * self.tw + 1);
        let channels = rows.flat_map(|rt| {
            let (g, t) = (rt / tiles_g, rt % tiles_g);
            g * cout_g + t * mr..g * cout_g + cout_g.min((t + 1) * mr)
        });
        for co in channels {
            let row = co / cout_g * ch.cout_gp + co % cout_g;
            let b = bias.map_or(T::ZERO, |b| b[co]);
            for i in tile_rows.clone() {
                for (j, q, lane, run) in runs(i) {
                    let ms: [&[T]; XI] =
                        std::array::from_fn(|xi| &m[mat(xi, q, row) + lane..][..run]);
                    kern.winograd_output(
                        ms,
                        b,
                        &mut y0[2 * j..2 * (j + run)],
                        &mut y1[2 * j..2 * (j + run)],
                    );
                }
                let (jlo, jhi) = cols(i);
                // Output columns 2·jlo .. 2·jhi of rows 2i and 2i + 1 (within the
                // output).
                let (c0, c1) = (2 * jlo, (2 * jhi).min(ow));
                let base = (n * p.out_channels() + co) * out_plane + 2 * i * ow;
                let second = 2 * i + 1 < oh;
                if !finite(&y0[c0..c1]) || (second && !finite(&y1[c0..c1])) {
                    ok.store(false, Ordering::Relaxed);
                }
                // SAFETY: this chunk alone computes tiles t0..t1 of image n: their
                // outputs, in every channel, are written by no other task.
                unsafe {
                    out.write(base + c0, &y0[c0..c1]);
                    if second {
                        out.write(base + ow + c0, &y1[c0..c1]);
                    }
                }
            }
        }
    }

    /// The phases of every channel of `input`, side by side, into `images` (the
    /// dense problem's input, in the split layout of [`Source::Split`]), one
    /// channel per task.
    fn space_to_batch<T: Element>(
        &self,
        ph: &Phases,
        threads: usize,
        input: &[T],
        images: &mut [T],
    ) {
        let p = &self.p;
        let (inp, pad, mode) = (p.input3(), p.pad3(), p.padding_mode());
        let (h, w) = (inp[1], inp[2]);
        let (dh, sh) = (ph.d[0], ph.sh);
        let hp = h + pad[1].0 + pad[1].1;
        let width = ph.cols.len();
        let plane = ph.sub.split_plane();
        parallel::for_each_chunk_mut(threads, images, plane, |i, plane| {
            let x = &input[i * h * w..][..h * w];
            for (row, dst) in plane.chunks_exact_mut(width).enumerate() {
                // Block a's row r is padded row a + dh·r.
                let (a, r) = (row / sh, row % sh);
                let py = a + dh * r;
                let source = (a < dh && py < hp)
                    .then(|| mode.source(py as isize - pad[1].0 as isize, h))
                    .flatten();
                let Some(ih) = source else {
                    dst.fill(T::ZERO);
                    continue;
                };
                let src = &x[ih * w..(ih + 1) * w];
                for (d, c) in dst.iter_mut().zip(&ph.cols) {
                    *d = c.map_or(T::ZERO, |c| src[c]);
                }
            }
        });
    }

    /// The dense problem's outputs (`outs`) in place: output `[a + dh·r][b +
    /// dw·c]` from row `a·sh + r`, column `b·sw + c`; one output row per task.
    fn batch_to_space<T: Element>(
        &self,
        ph: &Phases,
        threads: usize,
        outs: &[T],
        output: &mut [T],
    ) {
        let p = &self.p;
        let ([dh, dw], sh, sw) = (ph.d, ph.sh, ph.sw);
        let oh = p.output_shape()[0];
        let so = ph.sub.p.output_shape();
        parallel::for_each_chunk_mut(threads, output, p.output_shape()[1], |i, row| {
            let (plane, y) = (i / oh, i % oh);
            let src = &outs[(plane * so[0] + (y % dh) * sh + y / dh) * so[1]..][..so[1]];
            if dw == 2 {
                let (s0, s1) = src.split_at(sw);
                let half = row.len() / 2;
                let mut pairs = row.chunks_exact_mut(2);
                for (pair, (e, o)) in (&mut pairs).zip(s0.iter().zip(s1)) {
                    (pair[0], pair[1]) = (*e, *o);
                }
                if let [last] = pairs.into_remainder() {
                    *last = s0[half];
                }
            } else {
                for b in 0..dw {
                    let from = &src[b * sw..];
                    for (d, v) in row.iter_mut().skip(b).step_by(dw).zip(from) {
                        *d = *v;
                    }
                }
            }
        });
    }

    /// Padded input rows `r0 .. r0 + count` (input rows `r0 - top ..`), each of
    /// `2·tw + 2` columns from `-left`, into `patch` row after row, each row as
    /// its even columns then its odd ones (`tw + 1` each), so that the transform
    /// reads them at unit stride.
    fn gather_rows<T: Element>(
        &self,
        kern: &GemmKernel<T>,
        x: &[T],
        r0: usize,
        count: usize,
        patch: &mut [T],
    ) {
        let p = &self.p;
        let (inp, pad, mode) = (p.input3(), p.pad3(), p.padding_mode());
        let (h, w) = (inp[1], inp[2]);
        let half = self.tw + 1;
        for (r, dst) in patch.chunks_exact_mut(2 * half).take(count).enumerate() {
            let ih = (r0 + r) as isize - pad[1].0 as isize;
            let Some(ih) = mode.source(ih, h) else {
                dst.fill(T::ZERO);
                continue;
            };
            let (even, odd) = dst.split_at_mut(half);
            pack::split_row(
                kern,
                &x[ih * w..(ih + 1) * w],
                pad[2].0 as isize,
                mode,
                even,
                odd,
            );
        }
    }
}

/// Output-channel row tiles of `MR` rows over all groups.
fn groups_tiles(p: &Problem, mr: usize) -> usize {
    p.groups() * p.out_channels_per_group().div_ceil(mr)
}

/// The order in which `forward`'s workers claim their work. Chunks cost the
/// same, so `tasks` chunks on `workers` threads leave `tasks mod workers` of them
/// for a last round in which the other workers idle (c128 on two threads: 5
/// chunks, 3 on one core). Those tail chunks are split into `workers` parts, each
/// part a range of the output channels' row tiles (the input transform repeated
/// in each), and every worker's share of the items holds the same work: its
/// whole chunks, then one part of each tail chunk. A part computes its outputs
/// exactly as the whole chunk does, so results do not depend on the split.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct TailSplit {
    tasks: usize,
    workers: usize,
    /// Row tiles of a whole chunk.
    rows: usize,
    /// Chunks split into parts (0 when none is).
    tail: usize,
}

impl TailSplit {
    fn new(tasks: usize, workers: usize, rows: usize) -> TailSplit {
        let workers = workers.max(1);
        let tail = if rows >= workers { tasks % workers } else { 0 };
        TailSplit {
            tasks,
            workers,
            rows,
            tail,
        }
    }

    /// Whole chunks per worker.
    fn whole(&self) -> usize {
        (self.tasks - self.tail) / self.workers
    }

    /// Items to claim: `workers` equal shares.
    fn items(&self) -> usize {
        if self.tail == 0 {
            self.tasks
        } else {
            self.workers * (self.whole() + self.tail)
        }
    }

    /// Item `i`: its chunk and its range of row tiles.
    fn item(&self, i: usize) -> (usize, std::ops::Range<usize>) {
        if self.tail == 0 {
            return (i, 0..self.rows);
        }
        let (whole, share) = (self.whole(), self.whole() + self.tail);
        let (w, j) = (i / share, i % share);
        if j < whole {
            (w * whole + j, 0..self.rows)
        } else {
            let part = |w: usize| w * self.rows / self.workers;
            (self.tasks - self.tail + j - whole, part(w)..part(w + 1))
        }
    }
}

/// `G g Gᵀ` for a 3×3 kernel `w` (flipped for convolution), position `ξ = 4a + b`
/// at `[ξ]`. `G = [[1, 0, 0], [½, ½, ½], [½, -½, ½], [0, 0, 1]]`.
#[inline]
fn transformed_weight<T: Element>(w: &[T], flip: bool) -> [T; XI] {
    let mut g = [T::ZERO; 9];
    g.copy_from_slice(&w[..9]);
    if flip {
        g.reverse();
    }
    let half = T::from_f64(0.5);
    // h = G g (4 × 3), then u = h Gᵀ (4 × 4).
    let mut h = [[T::ZERO; 3]; 4];
    for c in 0..3 {
        let (a, b, d) = (g[c], g[3 + c], g[6 + c]);
        h[0][c] = a;
        h[1][c] = (a + b + d) * half;
        h[2][c] = (a - b + d) * half;
        h[3][c] = d;
    }
    let mut u = [T::ZERO; XI];
    for (u, h) in u.chunks_exact_mut(4).zip(&h) {
        let (a, b, d) = (h[0], h[1], h[2]);
        u[0] = a;
        u[1] = (a + b + d) * half;
        u[2] = (a - b + d) * half;
        u[3] = d;
    }
    u
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::Padding;

    /// Rows split into even and odd columns at every level, every length (whole
    /// vectors and masked tails), nothing written past the halves.
    #[test]
    fn split_pairs_at_every_level() {
        fn check<T: Element>(kern: &GemmKernel<T>) {
            for pairs in 0..=40 {
                let src: Vec<T> = (0..2 * pairs + 3).map(|i| T::from_f64(i as f64)).collect();
                let (mut even, mut odd) = (
                    vec![T::from_f64(-1.0); pairs + 2],
                    vec![T::from_f64(-1.0); pairs + 2],
                );
                kern.split_pairs(&src[..2 * pairs], &mut even[..pairs], &mut odd[..pairs]);
                for k in 0..pairs {
                    assert_eq!(
                        (even[k], odd[k]),
                        (src[2 * k], src[2 * k + 1]),
                        "{} {pairs}",
                        kern.isa
                    );
                }
                assert!(even[pairs..]
                    .iter()
                    .chain(&odd[pairs..])
                    .all(|&v| v == T::from_f64(-1.0)));
            }
        }
        for isa in crate::isa::Isa::supported() {
            if let Some(k) = f32::gemm_kernel(isa) {
                check(&k);
            }
            if let Some(k) = f64::gemm_kernel(isa) {
                check(&k);
            }
        }
    }

    /// The split covers every (chunk, row tile) exactly once, and every worker's
    /// share holds the same work.
    #[test]
    fn tail_split_covers_each_row_tile_once_in_equal_shares() {
        for (tasks, workers, rows) in [
            (5, 2, 16),
            (17, 2, 8),
            (7, 3, 5),
            (4, 4, 1),
            (3, 4, 2),
            (1, 2, 1),
        ] {
            let s = TailSplit::new(tasks, workers, rows);
            let mut seen = vec![0u32; tasks * rows];
            let mut share_work = vec![0usize; workers];
            let per = s.items() / workers;
            for i in 0..s.items() {
                let (task, r) = s.item(i);
                share_work[i / per.max(1)] += r.len();
                for rt in r {
                    seen[task * rows + rt] += 1;
                }
            }
            assert!(seen.iter().all(|&c| c == 1), "{tasks} {workers} {rows}");
            if s.tail > 0 {
                let (lo, hi) = (share_work.iter().min(), share_work.iter().max());
                assert!(hi.unwrap() - lo.unwrap() <= s.tail, "{share_work:?}");
            }
        }
    }

    /// The workspace of a problem whose packed weights outgrow the address space
    /// (2^56 groups of one channel; a plan would refuse it for its im2col
    /// gradients first) saturates: a length no buffer has, not a wrapped one or
    /// an overflow panic.
    #[test]
    fn workspace_of_a_huge_problem_saturates() {
        let g = 1usize << 56;
        let p = Problem::builder()
            .channels(g, g)
            .groups(g)
            .input([3, 3])
            .kernel([3, 3])
            .padding(Padding::Same)
            .build()
            .unwrap();
        let w = Winograd::new(&p).unwrap();
        for (a, nr) in [((8, 1), 48), ((6, 4), 8)] {
            assert_eq!(w.workspace_len(a, nr, 2), usize::MAX);
        }
    }
}
