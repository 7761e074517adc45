//! A GEMM engine of our own, in the BLIS/Goto structure, for the im2col path and
//! as a public building block: `C = A·B`.
//!
//! The loop nest:
//!
//! * LOOP 5 (`m2`): blocks of rows of A small enough that the packed A block stays in
//!   the caches (L2, or half the L3) while every column panel sweeps it (only large
//!   A is split).
//! * LOOP 4: column panels of NR columns, the parallel tasks.
//! * LOOP 3 (`mc`): blocks of MC rows of A, so the C block (MC × NR) stays in L1/L2
//!   as the stack buffer `cbuf`.
//! * LOOP 2 (`kc`): blocks of KC rows of B, so the B panel (KC × NR) stays in L1
//!   while every MR-row tile of the block sweeps it.
//! * LOOP 1 (tiles): the MR × NR microkernel of the level (`isa::GemmKernel`).
//!
//! Where a full panel's columns are contiguous in the output (`DirectC`), LOOP 2
//! runs outside LOOP 3: each KC block of B is packed once per LOOP 5 block and
//! every tile accumulates in place in the output, so there is no C buffer and no
//! copy out (`direct_panel`). The plain GEMM packs those blocks into its
//! workspace, up to a quarter of L2 long ([`Blocking::kc_l2`]), rather than an
//! L1-sized KC on the stack: its B rows stream from L2 well enough, and each
//! tile's C makes one round trip per block instead of one per 128 rows.
//! Where B's rows can be read in place (`PanelB::InPlace`: the im2col
//! path's grid columns), no B panel is packed at all, and full tiles may store
//! into the output too (`GridOut`), summing the whole reduction per call.
//!
//! A is packed into MR-row panels ([`pack::pack_a`]), B into a KC × NR panel per
//! (column panel, k block) ([`GemmKernel::pack_b`]) read through a row table: row `k` of
//! B starts at `b[offsets[k]]`. For a plain matrix the offsets are `k·ldb`; the
//! im2col path points them into a padded copy of the input, which is how the im2col
//! matrix is never materialised: only one KC × NR panel of it exists at a time.
//! Packing B also keeps rows whose addresses alias in L1 (a 1024-float `ldb` puts
//! every row in the same set) from evicting each other. KC and MC come from the
//! running CPU's cache sizes (read once).

pub mod pack;

use crate::cache::LINE_BYTES;
use crate::element::Element;
use crate::error::{Buffer, Result, XcorrError};
use crate::isa::{GemmKernel, Isa};
use crate::parallel;
use pack::{RowTable, SharedOut};

/// The widest tile of any kernel.
pub(crate) const NR_MAX: usize = 48;
/// Elements of the C block buffer: MC ≤ 128 rows of NR ≤ 48 columns.
pub(crate) const CBUF_LEN: usize = 128 * NR_MAX;
/// Largest KC.
pub(crate) const KC_MAX: usize = 256;
/// Largest KC of tiles that read B in place and store into the output: 2048
/// rows of 48 f32 (or 24 f64), 384 KiB, stay in a 1 MiB L2.
const IN_PLACE_KC: usize = 2048;
/// Elements of the packed B panel: KC ≤ 256 rows of NR ≤ 48 columns.
const BPACK_LEN: usize = KC_MAX * NR_MAX;

/// Per-task scratch of the loop nest: the C block and the packed B panel. Made once
/// per chunk of panels (it is large, so never per panel).
#[repr(C, align(64))]
pub(crate) struct Scratch<T> {
    cbuf: [T; CBUF_LEN],
    bpack: [T; BPACK_LEN],
}

impl<T: Element> Scratch<T> {
    pub(crate) fn new() -> Self {
        Scratch {
            cbuf: [T::ZERO; CBUF_LEN],
            bpack: [T::ZERO; BPACK_LEN],
        }
    }
}

/// Cache blocking of the loop nest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Blocking {
    /// Rows of B per block (LOOP 2).
    pub kc: usize,
    /// Rows of A per block (LOOP 3), a multiple of MR.
    pub mc: usize,
    /// Bytes of packed A per LOOP 5 block (A is split beyond that). Half the L3,
    /// at least the whole L2: splitting A means packing B again, and that costs
    /// more than reading A from L3, which the microkernel streams at one cache
    /// line per 8-24 FMAs (f64 1024³: blocks of one L2 packed B eight times,
    /// 79-83% of peak; one block of 8 MiB, 86-87%).
    pub a_block_bytes: usize,
    /// Most rows of B per block for the plain GEMM's full panels
    /// (`direct_panel` with the panel in the workspace): the B panel fills a
    /// quarter of L2, so a tile's C rows are loaded and stored once per
    /// `kc_l2` rows of the reduction rather than once per L1-sized KC block.
    /// f32 1024³, Intel host, alternating: 78% of the adjacent peak at KC 128,
    /// 80% at 256, 86% at 512, 91% at 1024 (1T); 2T 60% -> 75%, f64 1T 61% -> 75%.
    /// The B rows stream from L2 as the A values did from L3: the C round trips
    /// were the cost (14% of the tile's cycles in its load-add-store epilogue
    /// with a 4 KiB `ldc`, whose rows share L1 and L2 sets; 6% at `ldc` 1008).
    pub kc_l2: usize,
}

impl Blocking {
    /// KC so that the packed B panel (KC × NR) fills about half of L1, leaving room
    /// for the A panels that stream past it; MC as large as `cbuf` allows. (A
    /// panel of the whole L1, KC 256 on the Intel host: GEMM 1024³ 2.5% faster,
    /// pw 0.80 -> 0.97 ms, other layers equal.)
    pub fn for_kernel<T: Element>(kern: &GemmKernel<T>) -> Blocking {
        let crate::cache::Caches { l1, l2, l3 } = crate::cache::caches();
        let row_bytes = kern.nr * std::mem::size_of::<T>();
        let kc = (l1 / 2 / row_bytes).clamp(16, KC_MAX);
        let mc = (CBUF_LEN / kern.nr / kern.mr).max(1) * kern.mr;
        Blocking {
            kc,
            mc,
            a_block_bytes: l2.max(l3 / 2),
            kc_l2: (l2 / 4 / row_bytes).max(kc),
        }
    }

    /// Rows of B per block of the plain GEMM's full panels for a reduction of
    /// length `k`: at most `kc_l2`, the blocks as even as possible.
    pub fn l2_panel_rows(&self, k: usize) -> usize {
        let most = self.kc_l2.max(1);
        k.div_ceil(k.div_ceil(most).max(1)).max(1)
    }

    /// MR-row tiles of A per LOOP 5 block for a reduction of length `k`.
    pub fn tiles_per_a_block<T: Element>(&self, kern: &GemmKernel<T>, k: usize) -> usize {
        let tile_bytes = kern.a_step() * k * std::mem::size_of::<T>();
        (self.a_block_bytes / tile_bytes.max(1))
            .max(self.mc / kern.mr)
            .max(1)
    }
}

/// Computes the rows of `C = A·B` in MR-row tiles `tiles` (of `m` rows in all) for
/// one panel of NR columns and hands each finished block of rows to
/// `emit(row0, rows, cbuf)`, where row `r` of the block is `cbuf[r·NR ..]`,
/// plus `bias[row]` where a bias is given.
/// `pack_b(dst, k0, kc)` fills the `kc × NR` panel of B rows `k0..k0 + kc`
/// (zero past the valid columns), e.g. through [`GemmKernel::pack_b`] for B read
/// through a row table.
#[allow(clippy::too_many_arguments)]
pub(crate) fn column_panel<T: Element>(
    scratch: &mut Scratch<T>,
    kern: &GemmKernel<T>,
    blocking: Blocking,
    apack: &[T],
    m: usize,
    tiles: std::ops::Range<usize>,
    k: usize,
    b: PanelB<'_, T>,
    bias: Option<&[T]>,
    direct: Option<DirectC<'_, T>>,
    mut emit: impl FnMut(usize, usize, &[T]),
) {
    let (mr, nr, pa) = (kern.mr, kern.nr, kern.a_step());
    let Scratch { cbuf, bpack } = scratch;
    let kc = blocking.kc.clamp(1, BPACK_LEN / nr);
    // Tiles that store straight into the output sum the whole reduction in
    // registers, in blocks of up to `IN_PLACE_KC` rows whose B rows stay in
    // L2 (read in place, they were never in L1 for long): a tile
    // accumulating in the output per KC block reloaded it through masked
    // loads and stores (res3x3 88% -> 78% of peak), while one pass stores it
    // once (88% -> 91%; c128 86% -> 90%, stem 80% -> 85%, down 79% -> 82%).
    // Other in-place panels (1×1 kernels; every kernel at the levels without
    // output tiles, AVX2 and portable) take half the packed KC: 1×1 rows are
    // whole input planes apart, and planes of 56×56 f32 (12544 bytes, 4 lines
    // mod 64 sets) put a KC block's rows in a quarter of L1's sets, 8 lines per
    // set at KC 128 besides the C block's and A's. Intel host, alternating
    // rounds, 1T: pw 0.829 -> 0.779 ms (AVX-512, best medians of 10 rounds),
    // AVX2 2.20 -> 1.80, portable 5.37 -> 4.49 (medians of 8); 1×1 layers whose
    // planes spread over the sets (28×28, 14×14), 2T, and AVX2 res3x3 and dil
    // within 1-2%; portable res3x3 10.6 -> 9.1.
    let kc = match b {
        PanelB::InPlace { out: Some(_), .. } => k.div_ceil(k.div_ceil(IN_PLACE_KC)),
        PanelB::InPlace { out: None, .. } => (kc / 2).max(1),
        _ => kc,
    };
    let init =
        |acc: bool, row0: usize, set: &mut dyn FnMut(usize, T)| init_bias(bias, mr, acc, row0, set);
    if let (Some(d), PanelB::Packed { pack, .. }) = (direct, b) {
        let c = &mut cbuf[..mr * nr];
        let panel = &mut bpack[..kc * nr];
        direct_panel(kern, panel, kc, apack, m, tiles, k, pack, bias, d, c, emit);
        return;
    }
    let tiles_per_block = (blocking.mc / mr).clamp(1, CBUF_LEN / (mr * nr));
    // LOOP 3: blocks of MC rows, whose C block lives in `cbuf`.
    for tb in tiles.clone().step_by(tiles_per_block) {
        let te = (tb + tiles_per_block).min(tiles.end);
        // LOOP 2: blocks of KC rows of B, packed once and swept by every tile.
        for k0 in (0..k).step_by(kc) {
            let kl = kc.min(k - k0);
            if let PanelB::Packed { pack, .. } = b {
                pack(&mut bpack[..kl * nr], k0, kl);
            }
            let panel = match b {
                PanelB::Packed { .. } => &bpack[..kl * nr],
                PanelB::InPlace { .. } => &bpack[..0],
            };
            // Full tiles stored straight into the output, in one call.
            let mut first = tb;
            if let PanelB::InPlace {
                b,
                rows,
                col,
                out: Some(o),
            } = b
            {
                first = te.min(m / mr).max(tb);
                // SAFETY: this panel's task alone owns its output columns.
                unsafe {
                    o.out.tile_rows_out(
                        kern,
                        kl,
                        (&apack[k0 * pa..], k * pa, tb..first),
                        (b, rows),
                        (k0, col),
                        (o.at, o.ldc),
                        o.parts,
                        bias.filter(|_| k0 == 0),
                        k0 > 0,
                    )
                };
            }
            // LOOP 1: MR-row tiles.
            for t in first..te {
                let a = &apack[(t * k + k0) * pa..][..kl * pa];
                let c = &mut cbuf[(t - tb) * mr * nr..][..mr * nr];
                let accumulate = init(k0 > 0, t * mr, &mut |r, v| c[r * nr..][..nr].fill(v));
                match b {
                    PanelB::Packed { cols, .. } => {
                        kern.tile_cols(kl, a, panel, c, accumulate, cols)
                    }
                    PanelB::InPlace { b, rows, col, .. } => {
                        kern.tile_rows(kl, a, b, rows, (k0, col), c, accumulate)
                    }
                }
            }
        }
        // Tiles stored straight into the output need no copy out: only a
        // last tile of fewer than MR rows went through `cbuf`.
        let first = match b {
            PanelB::InPlace { out: Some(_), .. } => tb.max(m / mr),
            _ => tb,
        };
        if first < te {
            let row0 = first * mr;
            emit(
                row0,
                (te * mr).min(m) - row0,
                &cbuf[(first - tb) * mr * nr..],
            );
        }
    }
}

/// [`column_panel`] for a full panel of packed B whose columns are contiguous in
/// the output (`d`): LOOP 2 outermost, each block of `kc` rows of B is packed
/// once into `bpack` (`kc × NR`) and swept by every tile, which accumulates in
/// place in the output. Only a last tile of fewer than MR rows goes through
/// `cbuf` (`MR × NR`) and `emit`. `kc` may exceed the L1-sized KC where `bpack`
/// is not on the stack (the plain GEMM's: [`Blocking::kc_l2`]).
#[allow(clippy::too_many_arguments)]
pub(crate) fn direct_panel<T: Element>(
    kern: &GemmKernel<T>,
    bpack: &mut [T],
    kc: usize,
    apack: &[T],
    m: usize,
    tiles: std::ops::Range<usize>,
    k: usize,
    pack_b: &dyn Fn(&mut [T], usize, usize),
    bias: Option<&[T]>,
    d: DirectC<'_, T>,
    cbuf: &mut [T],
    mut emit: impl FnMut(usize, usize, &[T]),
) {
    let (mr, nr, pa) = (kern.mr, kern.nr, kern.a_step());
    let kc = kc.clamp(1, bpack.len() / nr);
    let init =
        |acc: bool, row0: usize, set: &mut dyn FnMut(usize, T)| init_bias(bias, mr, acc, row0, set);
    let full = tiles.start..tiles.end.min(m / mr).max(tiles.start);
    let partial = (full.end < tiles.end).then_some(full.end);
    for k0 in (0..k).step_by(kc) {
        let kl = kc.min(k - k0);
        pack_b(&mut bpack[..kl * nr], k0, kl);
        let panel = &bpack[..kl * nr];
        for t in full.clone() {
            let a = &apack[(t * k + k0) * pa..][..kl * pa];
            let at = d.offset + t * mr * d.ldc;
            let acc = init(k0 > 0, t * mr, &mut |r, v| {
                // SAFETY: this task alone owns these output columns.
                unsafe { d.out.update(at + r * d.ldc, nr, |_, x| *x = v) }
            });
            // SAFETY: as above, rows at + r·ldc .. + NR for r < MR.
            unsafe { d.out.tile(kern, kl, a, panel, at, d.ldc, acc) };
        }
        if let Some(t) = partial {
            let a = &apack[(t * k + k0) * pa..][..kl * pa];
            let c = &mut cbuf[..mr * nr];
            let acc = init(k0 > 0, t * mr, &mut |r, v| c[r * nr..][..nr].fill(v));
            kern.tile(kl, a, panel, c, acc);
        }
    }
    if let Some(t) = partial {
        emit(t * mr, m - t * mr, &cbuf[..mr * nr]);
    }
}

/// The bias starts a tile's C rows (`set(r, value)`) on its first KC block, so
/// the tile accumulates from there and the scatter only copies C out. Returns
/// whether the tile accumulates.
fn init_bias<T: Element>(
    bias: Option<&[T]>,
    mr: usize,
    acc: bool,
    row0: usize,
    set: &mut dyn FnMut(usize, T),
) -> bool {
    if let (Some(bias), false) = (bias, acc) {
        for r in 0..mr {
            set(r, bias.get(row0 + r).copied().unwrap_or(T::ZERO));
        }
        return true;
    }
    acc
}

/// Where the B panel of [`column_panel`] comes from.
#[derive(Clone, Copy)]
pub(crate) enum PanelB<'a, T> {
    /// Packed per KC block: `pack(dst, k0, kc)` fills the `kc × NR` panel of rows
    /// `k0..k0 + kc`, zero past the valid columns, of which there are `cols`
    /// (the tiles of a narrower panel compute only the vectors that hold them).
    Packed {
        pack: &'a dyn Fn(&mut [T], usize, usize),
        cols: usize,
    },
    /// Read in place by the microkernel: row `k` is `b[rows[k] + col ..][..NR]`, all
    /// NR columns readable. No copy of the panel; the rows should be close together
    /// in memory (the im2col rows of one panel overlap heavily), or every tile
    /// reads them from far caches.
    InPlace {
        b: &'a [T],
        rows: &'a RowTable,
        col: usize,
        out: Option<GridOut<'a, T>>,
    },
}

/// Where the full tiles of an in-place panel ([`PanelB::InPlace`]) store
/// straight into the output instead of through the C buffer: tile row `r`
/// (panel row `row`) is output row `at + row·ldc`, its vectors split into the
/// output `parts` (two per vector: the panel's columns lie on grid rows whose
/// padding columns are left out).
#[derive(Clone, Copy)]
pub(crate) struct GridOut<'a, T> {
    pub out: &'a SharedOut<'a, T>,
    pub at: usize,
    pub ldc: usize,
    pub parts: &'a [crate::isa::microkernel::OutPart],
}

/// Where [`column_panel`] may write C tiles directly: row `r`, column `j` of the
/// panel is element `offset + r·ldc + j` of `out`. For full panels of packed B
/// whose columns are contiguous in the output; the panel's task owns them.
#[derive(Clone, Copy)]
pub(crate) struct DirectC<'a, T> {
    pub out: &'a SharedOut<'a, T>,
    pub offset: usize,
    pub ldc: usize,
}

/// `C = A·B` for row-major `A` (`m × k`, leading dimension `lda`), `B` (`k × n`,
/// `ldb`) and `C` (`m × n`, `ldc`), with the microkernels of `isa`
/// (`Isa::Scalar` runs plain loops), on `threads` threads.
///
/// ```
/// let (a, b) = ([1.0f32, 2.0, 3.0, 4.0], [5.0f32, 6.0, 7.0, 8.0]);
/// let mut c = [0.0f32; 4];
/// xcorr::gemm::gemm(xcorr::isa::Isa::active(), 1, 2, 2, 2, &a, 2, &b, 2, &mut c, 2)?;
/// assert_eq!(c, [19.0, 22.0, 43.0, 50.0]);
/// # Ok::<(), xcorr::XcorrError>(())
/// ```
///
/// # Errors
/// `InvalidArgument` for a leading dimension smaller than its row or an ISA level
/// this CPU lacks; `BufferLength` for a buffer too short for its matrix.
#[allow(clippy::too_many_arguments)]
pub fn gemm<T: Element>(
    isa: Isa,
    threads: usize,
    m: usize,
    n: usize,
    k: usize,
    a: &[T],
    lda: usize,
    b: &[T],
    ldb: usize,
    c: &mut [T],
    ldc: usize,
) -> Result<()> {
    let mut ws = vec![T::ZERO; gemm_workspace_len::<T>(isa, threads, m, n, k)];
    gemm_with_workspace(isa, threads, m, n, k, a, lda, b, ldb, c, ldc, &mut ws)
}

/// Elements of scratch that [`gemm_with_workspace`] needs for an `m × n × k`
/// product on `threads` threads at level `isa`: A's packed panels and a packed B
/// panel per thread (at most one per `NR` columns; 0 at `Scalar`). Saturating: a
/// size no buffer has, never a wrapped one.
pub fn gemm_workspace_len<T: Element>(
    isa: Isa,
    threads: usize,
    m: usize,
    n: usize,
    k: usize,
) -> usize {
    T::gemm_kernel(isa).map_or(0, |kern| {
        let blocking = Blocking::for_kernel(&kern);
        workspace_parts(&kern, &blocking, threads, m, n, k).2
    })
}

/// The plain GEMM's workspace: `(packed A, one B panel, total)` in elements,
/// the total being packed A and a B panel per worker (`threads`, at most one per
/// column panel). Saturating.
fn workspace_parts<T: Element>(
    kern: &GemmKernel<T>,
    blocking: &Blocking,
    threads: usize,
    m: usize,
    n: usize,
    k: usize,
) -> (usize, usize, usize) {
    let a = pack::packed_a_len(m, k, kern.a_shape());
    // Panels start on cache lines (one line of slack to align the first), or
    // every vector load of B straddles two lines.
    let line = LINE_BYTES / std::mem::size_of::<T>();
    let panel = blocking
        .l2_panel_rows(k)
        .saturating_mul(kern.nr)
        .checked_next_multiple_of(line)
        .unwrap_or(usize::MAX);
    let workers = threads.max(1).min(n.div_ceil(kern.nr));
    let total = a.saturating_add(panel.saturating_mul(workers).saturating_add(line));
    (a, panel, total)
}

/// [`gemm`] with caller-provided scratch of at least
/// [`gemm_workspace_len`] elements: allocates nothing.
///
/// # Errors
/// As [`gemm`]; `BufferLength` (`Workspace`) for scratch that is too short.
#[allow(clippy::too_many_arguments)]
pub fn gemm_with_workspace<T: Element>(
    isa: Isa,
    threads: usize,
    m: usize,
    n: usize,
    k: usize,
    a: &[T],
    lda: usize,
    b: &[T],
    ldb: usize,
    c: &mut [T],
    ldc: usize,
    workspace: &mut [T],
) -> Result<()> {
    let kern = T::gemm_kernel(isa.require()?);
    let blocking = kern.as_ref().map(Blocking::for_kernel);
    gemm_blocked(
        kern, blocking, threads, m, n, k, a, lda, b, ldb, c, ldc, workspace,
    )
}

fn matrix_len(rows: usize, cols: usize, ld: usize) -> Option<usize> {
    if rows == 0 || cols == 0 {
        return Some(0);
    }
    (rows - 1).checked_mul(ld)?.checked_add(cols)
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn gemm_blocked<T: Element>(
    kern: Option<GemmKernel<T>>,
    blocking: Option<Blocking>,
    threads: usize,
    m: usize,
    n: usize,
    k: usize,
    a: &[T],
    lda: usize,
    b: &[T],
    ldb: usize,
    c: &mut [T],
    ldc: usize,
    workspace: &mut [T],
) -> Result<()> {
    for (what, ld, cols) in [("lda", lda, k), ("ldb", ldb, n), ("ldc", ldc, n)] {
        if ld < cols {
            return Err(XcorrError::InvalidArgument {
                what,
                value: format!("{ld} is smaller than the row length {cols}"),
            });
        }
    }
    let overflow = XcorrError::Overflow {
        what: "matrix extent",
    };
    for (buffer, rows, cols, ld, got) in [
        (Buffer::Input, m, k, lda, a.len()),
        (Buffer::Weight, k, n, ldb, b.len()),
        (Buffer::Output, m, n, ldc, c.len()),
    ] {
        let need = matrix_len(rows, cols, ld).ok_or(overflow.clone())?;
        if got < need {
            return Err(XcorrError::BufferLength {
                buffer,
                expected: need,
                got,
            });
        }
    }
    let (need_a, panel_len, need) = match (&kern, &blocking) {
        (Some(kern), Some(blocking)) => workspace_parts(kern, blocking, threads, m, n, k),
        _ => (0, 0, 0),
    };
    if workspace.len() < need {
        return Err(XcorrError::BufferLength {
            buffer: Buffer::Workspace,
            expected: need,
            got: workspace.len(),
        });
    }
    if m == 0 || n == 0 {
        return Ok(());
    }
    if k == 0 {
        for i in 0..m {
            c[i * ldc..i * ldc + n].fill(T::ZERO);
        }
        return Ok(());
    }
    let (Some(kern), Some(blocking)) = (kern, blocking) else {
        // Scalar level: plain loops, same summation order for every thread count.
        for i in 0..m {
            for j in 0..n {
                let mut s = T::ZERO;
                for kk in 0..k {
                    s = a[i * lda + kk].mul_add(b[kk * ldb + j], s);
                }
                c[i * ldc + j] = s;
            }
        }
        return Ok(());
    };

    // A packed tile by tile, in parallel (serial, it was 3% of a two-thread
    // 1024³ product).
    let (apack, bpanels) = workspace[..need].split_at_mut(need_a);
    let skip = bpanels.as_ptr().align_offset(LINE_BYTES).min(bpanels.len());
    let bpanels = &mut bpanels[skip..];
    let bpanels = SharedOut::new(bpanels);
    let panel = k * kern.a_step();
    parallel::for_each_chunk_mut(threads, apack, panel, |t, dst| {
        pack::pack_a_tile_rows(dst, a, lda, m, k, kern.a_shape(), t, None)
    });
    let apack = &*apack;
    let panels = n.div_ceil(kern.nr);
    let out = SharedOut::new(c);
    let tiles = m.div_ceil(kern.mr);
    let per_block = blocking.tiles_per_a_block(&kern, k);
    // LOOP 5: row blocks of A that stay in L2 while the panels sweep them.
    for t0 in (0..tiles).step_by(per_block) {
        let block = t0..(t0 + per_block).min(tiles);
        // LOOP 4: column panels, in parallel (claimed one at a time).
        parallel::for_each_claimed(threads, panels, |worker, claimed| {
            let mut scratch = Scratch::new();
            // SAFETY: workers are numbered below threads.min(panels), and each
            // takes its own slot of the B panels; none is held past this call.
            let bpack = unsafe { bpanels.slice_mut(worker * panel_len, panel_len) };
            for p in claimed {
                let col = p * kern.nr;
                let nr_valid = kern.nr.min(n - col);
                let emit = |row0: usize, nrows: usize, cbuf: &[T]| {
                    for r in 0..nrows {
                        let src = &cbuf[r * kern.nr..r * kern.nr + nr_valid];
                        // SAFETY: in this block, panel `p` alone writes columns
                        // col..col+nr_valid of C.
                        unsafe { out.write((row0 + r) * ldc + col, src) };
                    }
                };
                let (a, s, tiles) = (apack, &mut scratch, block.clone());
                let kern = &kern;
                let pack =
                    |dst: &mut [T], k0, kc| kern.pack_b_strided(dst, b, ldb, k0, kc, col, nr_valid);
                let out = &out;
                if nr_valid == kern.nr {
                    // Full panels accumulate in place in C, in blocks of B
                    // rows as long as L2 allows.
                    let d = DirectC {
                        out,
                        offset: col,
                        ldc,
                    };
                    let kc = blocking.l2_panel_rows(k);
                    let c = &mut s.cbuf[..kern.mr * kern.nr];
                    direct_panel(kern, bpack, kc, a, m, tiles, k, &pack, None, d, c, emit);
                    continue;
                }
                let b = PanelB::Packed {
                    pack: &pack,
                    cols: nr_valid,
                };
                column_panel(s, kern, blocking, a, m, tiles, k, b, None, None, emit);
            }
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Integer-valued data: every product and partial sum is exact, so results must
    /// match the naive loop exactly, whatever the summation order.
    fn check(isa: Isa, kc: usize, m: usize, n: usize, k: usize, pad: usize, threads: usize) {
        let (lda, ldb, ldc) = (k + pad, n + 2 * pad, n + pad);
        let a: Vec<f64> = (0..m * lda)
            .map(|i| ((i * 7 + 3) % 11) as f64 - 5.0)
            .collect();
        let b: Vec<f64> = (0..k * ldb)
            .map(|i| ((i * 5 + 1) % 13) as f64 - 6.0)
            .collect();
        let mut want = vec![f64::NAN; m * ldc];
        for i in 0..m {
            for j in 0..n {
                want[i * ldc + j] = (0..k).map(|kk| a[i * lda + kk] * b[kk * ldb + j]).sum();
            }
        }
        let mut c = vec![f64::NAN; m * ldc];
        let kern = f64::gemm_kernel(isa);
        let blk = kern.as_ref().map(|k| Blocking {
            kc,
            kc_l2: kc,
            ..Blocking::for_kernel(k)
        });
        let mut ws = vec![0.0f64; gemm_workspace_len::<f64>(isa, threads, m, n, k)];
        gemm_blocked(
            kern, blk, threads, m, n, k, &a, lda, &b, ldb, &mut c, ldc, &mut ws,
        )
        .unwrap();
        for i in 0..m {
            assert_eq!(
                c[i * ldc..i * ldc + n],
                want[i * ldc..i * ldc + n],
                "{isa} f64 m{m} n{n} k{k} row {i}"
            );
            assert!(
                c[i * ldc + n..(i + 1) * ldc].iter().all(|v| v.is_nan()),
                "wrote past n"
            );
        }
        // f32
        let a32: Vec<f32> = a.iter().map(|&v| v as f32).collect();
        let b32: Vec<f32> = b.iter().map(|&v| v as f32).collect();
        let mut c32 = vec![f32::NAN; m * ldc];
        let kern = f32::gemm_kernel(isa);
        let blk = kern.as_ref().map(|k| Blocking {
            kc,
            kc_l2: kc,
            ..Blocking::for_kernel(k)
        });
        let mut ws = vec![0.0f32; gemm_workspace_len::<f32>(isa, threads, m, n, k)];
        gemm_blocked(
            kern, blk, threads, m, n, k, &a32, lda, &b32, ldb, &mut c32, ldc, &mut ws,
        )
        .unwrap();
        for i in 0..m {
            for j in 0..n {
                assert_eq!(
                    c32[i * ldc + j] as f64,
                    want[i * ldc + j],
                    "{isa} f32 m{m} n{n} k{k} ({i},{j})"
                );
            }
        }
    }

    #[test]
    fn every_edge_tile_at_every_level() {
        for isa in Isa::supported() {
            let (mr, nr) = f32::gemm_kernel(isa).map_or((4, 8), |k| (k.mr, k.nr));
            for m in 1..=3 * mr + 1 {
                check(isa, 5, m, 7, 9, 1, 1);
            }
            for n in 1..=3 * nr + 1 {
                check(isa, 5, 3, n, 4, 3, 1);
            }
            for k in 1..=3 * 5 + 1 {
                check(isa, 5, mr + 1, nr + 3, k, 0, 1);
            }
            check(isa, 64, 3 * mr + 1, 3 * nr + 1, 200, 2, 2);
        }
    }

    /// `transpose_rows` at every level that has it, f32 and f64: whole blocks
    /// of taps and pixels, their tails, and rows at scattered offsets.
    #[test]
    fn transposed_rows_match_at_every_level() {
        fn check<T: Element>(kern: &GemmKernel<T>, taps: usize, len: usize) {
            let ld = taps + 3;
            let b: Vec<T> = (0..4096).map(|i| T::from_f64(i as f64)).collect();
            let rows: Vec<usize> = (0..taps).map(|t| (t * 37 + t * t * 5) % 3000).collect();
            let mut dst = vec![T::from_f64(-1.0); len * ld];
            if !kern.transpose_rows(&b, &rows, len, &mut dst, ld) {
                return;
            }
            for i in 0..len {
                for t in 0..ld {
                    let want = match t < taps {
                        true => b[rows[t] + i],
                        false => T::from_f64(-1.0),
                    };
                    assert_eq!(dst[i * ld + t], want, "{} taps {taps} len {len}", kern.isa);
                }
            }
        }
        for isa in Isa::supported() {
            for (taps, len) in [
                (1, 1),
                (15, 7),
                (16, 16),
                (17, 33),
                (48, 56),
                (33, 17),
                (8, 9),
            ] {
                if let Some(k) = f32::gemm_kernel(isa) {
                    check(&k, taps, len);
                }
                if let Some(k) = f64::gemm_kernel(isa) {
                    check(&k, taps, len);
                }
            }
        }
    }

    #[test]
    fn threads_do_not_change_results() {
        let (m, n, k) = (37, 301, 123);
        let a: Vec<f32> = (0..m * k).map(|i| (i as f32 * 0.37).sin()).collect();
        let b: Vec<f32> = (0..k * n).map(|i| (i as f32 * 0.11).cos()).collect();
        for isa in Isa::supported() {
            let mut c1 = vec![0.0f32; m * n];
            let mut c2 = vec![0.0f32; m * n];
            gemm(isa, 1, m, n, k, &a, k, &b, n, &mut c1, n).unwrap();
            gemm(isa, 2, m, n, k, &a, k, &b, n, &mut c2, n).unwrap();
            assert!(
                c1.iter().zip(&c2).all(|(x, y)| x.to_bits() == y.to_bits()),
                "{isa}"
            );
        }
    }

    #[test]
    fn bad_arguments_are_errors() {
        let mut c = [0.0f32; 4];
        let e = gemm(
            Isa::Portable,
            1,
            2,
            2,
            2,
            &[0.0; 4],
            1,
            &[0.0; 4],
            2,
            &mut c,
            2,
        );
        assert!(matches!(
            e,
            Err(XcorrError::InvalidArgument { what: "lda", .. })
        ));
        let e = gemm(
            Isa::Portable,
            1,
            2,
            2,
            2,
            &[0.0; 3],
            2,
            &[0.0; 4],
            2,
            &mut c,
            2,
        );
        assert!(matches!(
            e,
            Err(XcorrError::BufferLength {
                expected: 4,
                got: 3,
                ..
            })
        ));
    }
}
