//! Kernel bodies written once over [`Vector`] and compiled per level by the thin
//! `#[target_feature]` wrappers in `avx512/`, `avx2/` and `portable/`.
//!
//! GEMM tile shapes (MR rows × NR columns, NR = NV vectors):
//!
//! | level | f32 | f64 | accumulators |
//! |---|---|---|---|
//! | AVX-512 (32 zmm) | 8 × 48 | 8 × 24 | 24 zmm, + 3 for B; A is broadcast from memory |
//! | AVX2 (16 ymm), portable | 4 × 24 | 4 × 12 | 12, + 3 for B |
//!
//! For `gemm_tile` both operands are packed (A in MR-row panels, B in KC × NR panels, zero-padded),
//! so the kernel always computes whole tiles and reads memory sequentially. Each
//! `k` step loads NV vectors of B and broadcasts MR values of A into MR·NV FMAs
//! (24 or 12), enough independent chains to cover FMA latency on two FMA pipes.
//!
//! `gemm_tile_rows` is the same tile reading each row of B in place through a
//! table of row offsets (the im2col path's grid columns), so no B panel is packed;
//! both write C rows `ldc` apart, into a block buffer or straight into the output.
//! Its rows are as many streams as the reduction is long (576 for res3x3), more
//! than the hardware prefetchers follow, so each `k` step also prefetches its row
//! two panels ahead, into L2 (large images from L3 or memory: 224×224×64 62% ->
//! 84% of peak, 512×512×32 40% -> 71%; into L1 it evicted the current panel that
//! the next tiles read: `pw` 0.44 -> 0.50 ms).
//!
//! `gemm_tile_rows_out` (AVX-512 only: see `GemmKernel`) is `gemm_tile_rows`
//! storing into the output itself; only the first tile of a panel prefetches
//! (the others read the same rows: three `prefetcht1` per 24 FMAs for nothing;
//! c128 1T 1-3.5% faster, 224×224×64 unchanged). The
//! grid columns of a tile row are at most two runs of output pixels per vector
//! (the padding columns between grid rows left out by lane mask), so there is no
//! C buffer to copy out, and the im2col path sums a whole reduction (up to 2048
//! rows) per call, storing each tile once.
//!
//! Assembly check (AVX-512 f32, `objdump -d` of `gemm_tile_f32` and
//! `gemm_tile_rows_f32` in a release build): the k loop is 3 `vmovups zmm` loads
//! of B (after one offset load and 3 `prefetcht1` for `_rows`; for `gemm_tile`,
//! one `prefetcht0` of A 32 steps on and 3 of B 12 steps on), 8 `vbroadcastss
//! zmm` of A and 24 `vfmadd231ps zmm` into 24 accumulators, plus loop control;
//! no spills (no stack references at all). `gemm_tile_rows_out_f32` (commit
//! e0c239e): the same k loop (24 FMAs, 3 `prefetcht1`, no stack references);
//! its store phase keeps the part table on the stack.

use super::vector::Vector;

/// Tile rows for the 16-register levels (AVX2, portable).
pub const MR_NARROW: usize = 4;
/// Tile rows for AVX-512 (32 registers).
pub const MR_WIDE: usize = 8;

/// One GEMM tile: `c[r·ldc + j] (+)= Σ_{k<kc} a[(k·MR + r)·C] · b[k·NR + j]` (`C =
/// V::A_COPIES` copies of each A value), for the columns `j` of the first `vecs`
/// vectors (`vecs < NV`: the edge panel of a matrix whose width is not a multiple
/// of NR, which computes only the vectors it needs; GEMM 1024³ on AVX-512 wastes
/// a third of its last 48-wide panel's work, 3% of the product, otherwise).
///
/// # Safety
/// Level supported and called from its `#[target_feature]` wrapper; `a` holds
/// `kc·MR·C` values, `b` holds `kc·NR`, and `c + r·ldc` holds `NR` writable values
/// for every `r < MR` (`NR = NV·LANES`).
#[inline(always)]
pub unsafe fn gemm_tile<V: Vector, const MR: usize, const NV: usize>(
    kc: usize,
    a: *const V::Elem,
    b: *const V::Elem,
    c: *mut V::Elem,
    ldc: usize,
    accumulate: bool,
    vecs: usize,
) {
    let nr = NV * V::LANES;
    let row = |k: usize| b.wrapping_add(k * nr);
    // SAFETY: the caller's contract above; row k is b[k·NR .. (k+1)·NR], of which
    // the narrower bodies read the first vecs·LANES values.
    unsafe {
        match vecs {
            1 if NV > 1 => tile_body::<V, MR, 1>(kc, a, row, c, ldc, accumulate, 0),
            2 if NV > 2 => tile_body::<V, MR, 2>(kc, a, row, c, ldc, accumulate, 0),
            _ => tile_body::<V, MR, NV>(kc, a, row, c, ldc, accumulate, 0),
        }
    }
}

/// One GEMM tile with B read in place, unpacked: row `k` of B is the `NR`
/// contiguous values at `b + offsets[k]` (the im2col path's rows, straight from
/// the prepared image, so the panel is never copied).
/// `c[r·NR + j] (+)= Σ_{k<kc} a[(k·MR + r)·C] · b[offsets[k] + j]`.
///
/// # Safety
/// Level supported and called from its `#[target_feature]` wrapper; `a` holds
/// `kc·MR·C` values, `offsets` holds `kc`, `b + offsets[k]` points at `NR` readable
/// values for every `k < kc`, and `c` holds `MR·NR`.
#[inline(always)]
pub unsafe fn gemm_tile_rows<V: Vector, const MR: usize, const NV: usize>(
    kc: usize,
    a: *const V::Elem,
    b: *const V::Elem,
    offsets: *const usize,
    c: *mut V::Elem,
    accumulate: bool,
) {
    // SAFETY: the caller's contract above.
    unsafe {
        tile_body::<V, MR, NV>(
            kc,
            a,
            |k| b.add(*offsets.add(k)),
            c,
            NV * V::LANES,
            accumulate,
            // The same row two panels on (`NR` columns each).
            2 * NV * V::LANES,
        )
    }
}

/// Where [`gemm_tile_rows_out`] stores part `i` of a tile row: lanes `lo..hi`
/// of vector `i / 2` go to the output vector whose lane 0 is `off` elements
/// from the row's start (`off` may be negative; `lo == hi`: nothing).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OutPart {
    pub off: isize,
    pub lo: usize,
    pub hi: usize,
}

/// [`gemm_tile_rows`] storing straight into the output: each of the `NV`
/// vectors of a tile row is at most two runs of output pixels (grid columns on
/// two grid rows, the padding columns between them left out), `parts[2v]` and
/// `parts[2v + 1]`; row `r` of the tile is output row `out + r·ldc`. The first
/// call of a tile (`accumulate` false) adds `bias[r]` where `bias` is not null;
/// later ones add to what the output holds. No C buffer, no copy out. With
/// `prefetch`, each B row is prefetched two panels ahead, as `gemm_tile_rows`
/// does (the caller asks it of one tile per panel).
///
/// # Safety
/// As [`gemm_tile_rows`] for `a`, `b` and `offsets`; `parts` holds `2·NV`
/// entries with `lo <= hi <= LANES`; for every `r < MR` and part, the output
/// elements `out + r·ldc + off + lo .. + hi` are writable (and readable); `bias`
/// is null or holds `MR` values.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub unsafe fn gemm_tile_rows_out<V: Vector, const MR: usize, const NV: usize>(
    kc: usize,
    a: *const V::Elem,
    b: *const V::Elem,
    offsets: *const usize,
    out: *mut V::Elem,
    ldc: usize,
    parts: *const OutPart,
    bias: *const V::Elem,
    accumulate: bool,
    prefetch: bool,
) {
    // SAFETY (whole body): the caller's contract above.
    unsafe {
        let ahead = if prefetch { 2 * NV * V::LANES } else { 0 };
        let acc = tile_sums::<V, MR, NV>(kc, a, |k| b.add(*offsets.add(k)), ahead, false);
        let mut lanes = [V::lanes(0, 0); 2];
        let mut part = [OutPart::default(); 2];
        for v in 0..NV {
            for h in 0..2 {
                part[h] = *parts.add(2 * v + h);
                lanes[h] = V::lanes(part[h].lo, part[h].hi.max(part[h].lo));
            }
            for (r, acc) in acc.iter().enumerate() {
                let row = out.wrapping_add(r * ldc);
                let x = if accumulate || bias.is_null() {
                    acc[v]
                } else {
                    acc[v].add(V::splat(*bias.add(r)))
                };
                for h in 0..2 {
                    if part[h].hi > part[h].lo {
                        let p = row.wrapping_offset(part[h].off);
                        let y = if accumulate {
                            x.add(V::load_in(p, lanes[h]))
                        } else {
                            x
                        };
                        y.store_in(p, lanes[h]);
                    }
                }
            }
        }
    }
}

/// Reduction steps ahead that a tile of packed B ([`gemm_tile`]) prefetches
/// its packed A values, one prefetch per step (1 KiB ahead for f32, 2 KiB for f64).
/// Intel host, GEMM 1024³, alternating, % of the adjacent peak: f64 1T 67.5 ->
/// 77.4, 2T 65.5 -> 80.0; f32 1T 82 -> 84, 2T 77 -> 85 (16 and 64 steps within
/// noise of 32). The tiles reading B in place keep their B prefetch only: A is
/// the weights there, small and cached.
const A_AHEAD: usize = 32;

/// Reduction steps ahead that a tile of packed B prefetches its B row into L1:
/// the plain GEMM's B panels fill a quarter of L2 ([`gemm::Blocking::kc_l2`]),
/// one prefetch per line of the row (three per step at AVX-512, two at AVX2).
/// Intel host, GEMM 1024³, 5 alternating rounds, % of the adjacent peak: f32 1T
/// 84.6 -> 91.2, 2T 84.5 -> 88.6; f64 1T 75.9 -> 81.0, 2T 80.2 -> 80.9 (4
/// steps: about half the gain).
///
/// [`gemm::Blocking::kc_l2`]: crate::gemm::Blocking::kc_l2
const B_AHEAD: usize = 12;

/// The accumulators of one tile: `Σ_{k<kc} a[k] ⊗ row(k)`, prefetching each
/// row's values `ahead` elements on where `ahead > 0` (into L2: rows read in
/// place), or, for a tile of `packed` A and B panels, A [`A_AHEAD`] and B
/// [`B_AHEAD`] steps on (into L1).
///
/// # Safety
/// As [`tile_body`].
#[inline(always)]
unsafe fn tile_sums<V: Vector, const MR: usize, const NV: usize>(
    kc: usize,
    a: *const V::Elem,
    row: impl Fn(usize) -> *const V::Elem,
    ahead: usize,
    packed: bool,
) -> [[V; NV]; MR] {
    // SAFETY (whole body): the callers' contracts.
    unsafe {
        let mut acc = [[V::zero(); NV]; MR];
        for k in 0..kc {
            let bp = row(k);
            if ahead > 0 {
                for v in 0..NV {
                    V::prefetch_l2(bp.wrapping_add(ahead + v * V::LANES));
                }
            }
            let mut bv = [V::zero(); NV];
            for (v, bv) in bv.iter_mut().enumerate() {
                *bv = V::load(bp.add(v * V::LANES));
            }
            let ap = a.add(k * MR * V::A_COPIES);
            if packed {
                V::prefetch(ap.wrapping_add(A_AHEAD * MR * V::A_COPIES));
                // One per cache line of the row (NR values).
                let line = (crate::cache::LINE_BYTES / std::mem::size_of::<V::Elem>()).max(1);
                for o in (0..NV * V::LANES).step_by(line) {
                    V::prefetch(bp.wrapping_add(B_AHEAD * NV * V::LANES + o));
                }
            }
            for (r, acc) in acc.iter_mut().enumerate() {
                let ar = V::splat_packed(ap.add(r * V::A_COPIES));
                for v in 0..NV {
                    acc[v] = V::fmadd(ar, bv[v], acc[v]);
                }
            }
        }
        acc
    }
}

/// The body of both tiles: `row(k)` is where row `k` of B starts; row `r` of C
/// is at `c + r·ldc`. With `ahead > 0`, row `k`'s `NR` values `ahead` elements on
/// are prefetched (a hint: the address may lie past the buffer).
///
/// # Safety
/// As the callers: `row(k)` points at `NR` readable values for `k < kc`.
#[inline(always)]
unsafe fn tile_body<V: Vector, const MR: usize, const NV: usize>(
    kc: usize,
    a: *const V::Elem,
    row: impl Fn(usize) -> *const V::Elem,
    c: *mut V::Elem,
    ldc: usize,
    accumulate: bool,
    ahead: usize,
) {
    // SAFETY (whole body): the callers' contracts.
    unsafe {
        // `gemm_tile` (`ahead == 0`) reads packed panels: its A streams from
        // L3 (the plain GEMM's A blocks fill half of it), a new 4 KiB page
        // every 64 (f64) or 128 (f32) steps, where the hardware prefetcher
        // starts over; its B from L2. Both are prefetched.
        let packed = ahead == 0;
        let acc = tile_sums::<V, MR, NV>(kc, a, row, ahead, packed);
        for (r, acc) in acc.iter().enumerate() {
            for (v, &x) in acc.iter().enumerate() {
                let p = c.add(r * ldc + v * V::LANES);
                let x = if accumulate { V::load(p).add(x) } else { x };
                x.store(p);
            }
        }
    }
}

/// Packs `kc` rows of B into a contiguous `kc × NR` panel: row `k` is read from
/// `b + offsets[k]` (`n <= NR` elements) and written to `dst + k·NR`, with columns
/// `n..NR` set to zero.
///
/// # Safety
/// Level supported and called from its `#[target_feature]` wrapper; for every
/// `k < kc`, `b + offsets[k]` points at `n` readable elements; `dst` holds `kc·NR`.
#[inline(always)]
pub unsafe fn pack_b<V: Vector, const NV: usize>(
    kc: usize,
    b: *const V::Elem,
    offsets: *const usize,
    n: usize,
    dst: *mut V::Elem,
) {
    // SAFETY (whole body): the caller's contract above.
    unsafe {
        let nr = NV * V::LANES;
        // Rows are separate streams (one per channel and tap), too many for the
        // hardware prefetcher: ask for row k + AHEAD while copying row k.
        const AHEAD: usize = 8;
        for k in 0..kc {
            if k + AHEAD < kc {
                let next = b.add(*offsets.add(k + AHEAD));
                for v in 0..NV {
                    V::prefetch(next.add(v * V::LANES));
                }
            }
            let src = b.add(*offsets.add(k));
            let d = dst.add(k * nr);
            if n == nr {
                for v in 0..NV {
                    V::load(src.add(v * V::LANES)).store(d.add(v * V::LANES));
                }
            } else {
                for v in 0..NV {
                    let start = v * V::LANES;
                    let x = if start + V::LANES <= n {
                        V::load(src.add(start))
                    } else if start < n {
                        V::load_partial(src.add(start), n - start)
                    } else {
                        V::zero()
                    };
                    x.store(d.add(start));
                }
            }
        }
    }
}

/// Packs `kc` rows of B into a contiguous `kc × NR` panel from runs: row `k`'s
/// panel columns `dst_col .. dst_col + len` of each run `(src, dst_col, len)` are
/// read from `b + offsets[k] + src`; the runs cover columns `0..n` and the rest of
/// the row is zero.
///
/// # Safety
/// Level supported and called from its `#[target_feature]` wrapper; every run is
/// readable at every row; `dst` holds `kc·NR`; runs are disjoint, ascending,
/// within `0..n` and `n <= NR`.
#[inline(always)]
pub unsafe fn pack_b_runs<V: Vector, const NV: usize>(
    kc: usize,
    b: *const V::Elem,
    offsets: *const usize,
    runs: &[(usize, usize, usize)],
    n: usize,
    dst: *mut V::Elem,
) {
    // SAFETY (whole body): the caller's contract above.
    unsafe {
        let nr = NV * V::LANES;
        const AHEAD: usize = 8;
        for k in 0..kc {
            if k + AHEAD < kc {
                let next = b.add(*offsets.add(k + AHEAD));
                for &(src, _, len) in runs {
                    V::prefetch(next.add(src));
                    V::prefetch(next.add(src + len - 1));
                }
            }
            let row = b.add(*offsets.add(k));
            let d = dst.add(k * nr);
            for &(src, col, len) in runs {
                let (s, t) = (row.add(src), d.add(col));
                let mut i = 0;
                while i + V::LANES <= len {
                    V::load(s.add(i)).store(t.add(i));
                    i += V::LANES;
                }
                if i < len {
                    V::load_partial(s.add(i), len - i).store_partial(t.add(i), len - i);
                }
            }
            let mut j = n;
            while j < nr {
                let w = (nr - j).min(V::LANES);
                if w == V::LANES {
                    V::zero().store(d.add(j));
                } else {
                    V::zero().store_partial(d.add(j), w);
                }
                j += w;
            }
        }
    }
}

/// Vectors of outputs per block of the direct kernel: 8 independent FMA chains
/// cover the FMA latency on two pipes.
pub const DIRECT_NV: usize = 8;

/// How many blocks ahead the direct kernels prefetch several input rows.
const PREFETCH_BLOCKS: usize = 4;

/// Blocks at the start of a sweep of the multi-row kernels that also prefetch
/// the next group's first columns ([`prefetch_next_group`]): the columns their
/// prefetches within a row, [`PREFETCH_BLOCKS`] ahead, never reach.
const NEXT_GROUP_BLOCKS: usize = PREFETCH_BLOCKS + 1;

/// For a block at column `j` among the first [`NEXT_GROUP_BLOCKS`] of a sweep
/// (which starts at column 0, or within the first vector where the output is
/// streamed), prefetches into L2 the columns `j - LANES .. j + (NV + 1)·LANES`
/// of the rows the next group of `R` output rows will read and write first:
/// the current ones `R` rows further down, taking the rows of each kernel
/// plane, and the output rows, as equally spaced, as an image's are (where
/// they are not, at padding rows, the hint is wasted, never wrong). A group
/// starts each of its rows at the first column, which the prefetches ahead
/// within a row do not reach, so its first blocks otherwise wait on misses in
/// every row. Intel host, 1T, 2048×2048 images, calls alternating with and
/// without it in one process (100-150 each), medians: 3×3 2.600 -> 2.514,
/// 2.546 -> 2.466, 2.497 -> 2.406 ms (1.907 / 1.898 in a quiet hour), 2T
/// 1.248 -> 1.224; 11×11 10.43 -> 9.92, 10.50 -> 10.01; 7×7 7.93 -> 7.06; 5×5
/// within 2% either way. Groups of fewer than 4 rows (AVX2, portable) go
/// without: at AVX2 (2 rows a group) img3 1T measured 2.49 -> 2.87 ms with it
/// (medians of 6 alternating rounds; one prefetch per line, 2.63), in an hour
/// when two builds with the same AVX2 code differed by 4%: a loss not proven,
/// and no gain seen.
///
/// # Safety
/// As [`Vector::prefetch_l2`]: any addresses (they are only hints).
#[inline(always)]
unsafe fn prefetch_next_group<V: Vector, const R: usize, const NV: usize>(
    inp: &[*const V::Elem],
    per_plane: usize,
    out: &[*mut V::Elem; R],
    j: usize,
) {
    if R < 4 || j >= (NEXT_GROUP_BLOCKS * NV + 1) * V::LANES {
        return;
    }
    // SAFETY (whole body): prefetches never fault; the pointers only wrap.
    // (R >= 4 here, so there are two output rows and per_plane = R + kh - 1 >= 4
    // input rows a plane to take the spacing from.)
    unsafe {
        let apart = (out[1] as isize).wrapping_sub(out[0] as isize);
        for &o in out {
            prefetch_row_below::<V, NV>(o, apart.wrapping_mul(R as isize), j);
        }
        for plane in inp.chunks_exact(per_plane) {
            let apart = (plane[1] as isize).wrapping_sub(plane[0] as isize);
            // The rows the next group reads and this one does not.
            for &row in &plane[per_plane - R..] {
                prefetch_row_below::<V, NV>(row, apart.wrapping_mul(R as isize), j);
            }
        }
    }
}

/// Prefetches into L2 the columns `j - LANES .. j + (NV + 1)·LANES` of the row
/// `bytes` bytes from `row`, one prefetch per 64-byte line.
///
/// # Safety
/// As [`Vector::prefetch_l2`]: any addresses.
#[inline(always)]
unsafe fn prefetch_row_below<V: Vector, const NV: usize>(
    row: *const V::Elem,
    bytes: isize,
    j: usize,
) {
    // SAFETY: prefetches never fault; the pointers only wrap.
    unsafe {
        let l = V::LANES;
        let p = row
            .wrapping_byte_offset(bytes)
            .wrapping_add(j.wrapping_sub(l));
        prefetch_lines::<V, true>(p, (NV + 2) * l);
    }
}

/// One prefetch per 64-byte line of the `n` elements from `p`: into L1, or
/// into L2 with `L2`.
///
/// # Safety
/// As [`Vector::prefetch`]: any addresses (they are only hints).
#[inline(always)]
unsafe fn prefetch_lines<V: Vector, const L2: bool>(p: *const V::Elem, n: usize) {
    // SAFETY (whole body): prefetches never fault; the pointers only wrap.
    unsafe {
        let line = (crate::cache::LINE_BYTES / core::mem::size_of::<V::Elem>()).max(1);
        let mut c = 0;
        while c < n {
            if L2 {
                V::prefetch_l2(p.wrapping_add(c));
            } else {
                V::prefetch(p.wrapping_add(c));
            }
            c += line;
        }
    }
}

/// How many blocks ahead `direct_row` and `direct_taps` prefetch when they read
/// a single input row (a 1-D signal): one stream takes a longer distance than
/// several (sig1d_k3 0.67-0.69 -> 0.50 ms at 1T; 32 blocks 0.61-0.64; 2-D rows
/// were slower with it).
const ROW_PREFETCH_BLOCKS: usize = 16;

/// One output row segment of a direct correlation:
/// `out[j] (+)= Σ_r Σ_t w[r·taps + t] · rows[r][j + t·dil]` for `j < n`, starting
/// from `out[j]` (`accumulate`) or from `bias`.
///
/// # Safety
/// Level supported and called from its `#[target_feature]` wrapper; every
/// `rows[r]` points at `n + (taps-1)·dil` readable elements; `w` holds
/// `rows.len()·taps`; `out` holds `n` writable elements.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub unsafe fn direct_row<V: Vector>(
    rows: &[*const V::Elem],
    taps: usize,
    dil: usize,
    w: *const V::Elem,
    out: *mut V::Elem,
    n: usize,
    bias: V::Elem,
    accumulate: bool,
    stream: bool,
) {
    // SAFETY (whole body): the caller's contract above.
    unsafe {
        let args = (rows, taps, dil, w, out, bias, accumulate);
        // Streaming stores need aligned vectors: the columns before the first
        // aligned one go first, as single vectors.
        let size = std::mem::size_of::<V::Elem>();
        let align = V::LANES * size;
        let skew = out as usize % align;
        let j = if stream && V::STREAMS && !accumulate && skew.is_multiple_of(size) {
            let j0 = ((align - skew) % align / size).min(n);
            row_singles::<V>(args, 0, j0);
            let j = row_blocks_wide::<V, true>(args, j0, n);
            V::fence();
            j
        } else {
            row_blocks_wide::<V, false>(args, 0, n)
        };
        row_singles::<V>(args, j, n);
    }
}

/// The arguments of [`direct_row`] that its parts share: input rows, taps,
/// dilation, weights, output, bias, whether to accumulate.
type RowArgs<'a, V> = (
    &'a [*const <V as Vector>::Elem],
    usize,
    usize,
    *const <V as Vector>::Elem,
    *mut <V as Vector>::Elem,
    <V as Vector>::Elem,
    bool,
);

/// Whether [`direct_row`] sums taps `t` and `t + LANES` together (they read the
/// same vectors one vector apart), in the order `s, s + L, s + 2L, ...` for
/// `s < L`, rather than in tap order.
#[inline(always)]
fn paired_taps<V: Vector>(taps: usize, dil: usize) -> bool {
    dil == 1 && taps > V::LANES
}

/// The blocks of [`direct_row`] from column `j0`: of `2·DIRECT_NV` vectors where
/// the level has 32 registers and the taps are paired, then of [`DIRECT_NV`];
/// returns the first column not done. With paired taps each accumulator takes
/// two dependent FMAs per pair, so 8 chains of 2 only just cover the FMA
/// latency on two pipes: 16 leave slack (sig1d 1T on the Intel host, with the
/// flat pair loop, 53.9 -> 57.2% of the adjacent peak, 6 alternating rounds).
/// Unpaired taps gain nothing from more chains: each FMA waits on a load that
/// crosses a cache line, one per cycle there. Each column is summed in the same
/// order whichever block takes it.
///
/// # Safety
/// As [`row_blocks_of`].
#[inline(always)]
unsafe fn row_blocks_wide<V: Vector, const STREAM: bool>(
    args: RowArgs<'_, V>,
    j0: usize,
    n: usize,
) -> usize {
    // SAFETY: the caller's contract.
    unsafe {
        let (_, taps, dil, ..) = args;
        let j = if V::REGISTERS >= 32 && paired_taps::<V>(taps, dil) {
            row_blocks_of::<V, { 2 * DIRECT_NV }, STREAM>(args, j0, n)
        } else {
            j0
        };
        row_blocks_of::<V, DIRECT_NV, STREAM>(args, j, n)
    }
}

/// Blocks of `NV` vectors of [`direct_row`] from column `j0` while they
/// fit before `n`: returns the first column not done. With `STREAM`, stored past
/// the caches.
///
/// # Safety
/// As [`direct_row`]; with `STREAM`, `out + j0` is aligned to a vector.
#[inline(always)]
unsafe fn row_blocks_of<V: Vector, const NV: usize, const STREAM: bool>(
    (rows, taps, dil, w, out, bias, accumulate): RowArgs<'_, V>,
    j0: usize,
    n: usize,
) -> usize {
    // SAFETY (whole body): the caller's contract.
    unsafe {
        let l = V::LANES;
        // Prefetch distances in blocks of DIRECT_NV vectors, whatever NV.
        let ahead = if rows.len() == 1 {
            ROW_PREFETCH_BLOCKS
        } else {
            PREFETCH_BLOCKS
        } * DIRECT_NV;
        let mut j = j0;
        while j + NV * l <= n {
            let mut acc = [V::zero(); NV];
            for (v, a) in acc.iter_mut().enumerate() {
                *a = if accumulate {
                    V::load(out.add(j + v * l))
                } else {
                    V::splat(bias)
                };
            }
            for (r, &row) in rows.iter().enumerate() {
                let rp = row.add(j);
                let wr = w.add(r * taps);
                // Long rows stream from L3 or memory; ask for the next blocks'
                // input early (a hint: the address may lie past the row).
                for v in 0..NV {
                    V::prefetch(rp.wrapping_add((ahead + v) * l));
                }
                // And for the output's lines (1-D signals: sig1d_k3 0.73 -> 0.66 ms;
                // measured slower on the multi-row kernel), unless they are
                // streamed.
                if r == 0 && !STREAM {
                    for v in 0..NV {
                        V::prefetch_write(out.wrapping_add(j + (ahead + v) * l));
                    }
                }
                if paired_taps::<V>(taps, dil) {
                    // Taps t and t + L read the same vectors one vector apart: load
                    // NV + 1 vectors for both instead of 2·NV
                    // (sig1d: 31 taps).
                    if taps <= 2 * l {
                        // At most one pair per s (sig1d): pairs s < taps - L, then
                        // the single taps: the order of the loop below, without
                        // its one-trip inner loop and branch per s (sig1d 1T,
                        // 16-vector blocks both, alternating, % of the adjacent
                        // peak: 50.5 -> 53.4, 46.3 -> 48.1; noisy hour).
                        for s in 0..taps - l {
                            fma_tap_pair::<V, NV>(&mut acc, rp, wr, s);
                        }
                        for s in taps - l..l {
                            fma_tap::<V, NV>(&mut acc, rp.add(s), *wr.add(s));
                        }
                        continue;
                    }
                    for s in 0..l {
                        let mut t = s;
                        while t + l < taps {
                            fma_tap_pair::<V, NV>(&mut acc, rp, wr, t);
                            t += 2 * l;
                        }
                        if t < taps {
                            fma_tap::<V, NV>(&mut acc, rp.add(t), *wr.add(t));
                        }
                    }
                    continue;
                }
                for t in 0..taps {
                    fma_tap::<V, NV>(&mut acc, rp.add(t * dil), *wr.add(t));
                }
            }
            for (v, a) in acc.iter().enumerate() {
                if STREAM {
                    a.store_stream(out.add(j + v * l));
                } else {
                    a.store(out.add(j + v * l));
                }
            }
            j += NV * l;
        }
        j
    }
}

/// Taps `t` and `t + LANES` of [`direct_row`]'s block at `rp` (they read the
/// same vectors one vector apart): `NV + 1` loads for `2·NV` FMAs, each
/// accumulator adding tap `t` then tap `t + LANES`.
///
/// # Safety
/// As [`direct_row`]: `rp + t .. rp + t + (NV + 1)·LANES` readable, `wr` holds
/// `t + LANES + 1` weights.
#[inline(always)]
unsafe fn fma_tap_pair<V: Vector, const NV: usize>(
    acc: &mut [V; NV],
    rp: *const V::Elem,
    wr: *const V::Elem,
    t: usize,
) {
    // SAFETY (whole body): the caller's contract.
    unsafe {
        let (p, l) = (rp.add(t), V::LANES);
        let (w0, w1) = (V::splat(*wr.add(t)), V::splat(*wr.add(t + l)));
        let mut x = V::load(p);
        for (v, a) in acc.iter_mut().enumerate() {
            let next = V::load(p.add((v + 1) * l));
            *a = V::fmadd(w1, next, V::fmadd(w0, x, *a));
            x = next;
        }
    }
}

/// One tap of [`direct_row`]'s block: `acc[v] += w · p[v·LANES..]`.
///
/// # Safety
/// As [`direct_row`]: `p .. p + NV·LANES` readable.
#[inline(always)]
unsafe fn fma_tap<V: Vector, const NV: usize>(acc: &mut [V; NV], p: *const V::Elem, w: V::Elem) {
    // SAFETY (whole body): the caller's contract.
    unsafe {
        let wv = V::splat(w);
        for (v, a) in acc.iter_mut().enumerate() {
            *a = V::fmadd(wv, V::load(p.add(v * V::LANES)), *a);
        }
    }
}

/// Columns `j..end` of [`direct_row`] one vector at a time, the last one masked,
/// each column summed in the blocks' order.
///
/// # Safety
/// As [`direct_row`], with `end <= n`.
#[inline(always)]
unsafe fn row_singles<V: Vector>(
    (rows, taps, dil, w, out, bias, accumulate): RowArgs<'_, V>,
    mut j: usize,
    end: usize,
) {
    // SAFETY (whole body): the caller's contract.
    unsafe {
        let l = V::LANES;
        let paired = paired_taps::<V>(taps, dil);
        while j < end {
            let width = (end - j).min(l);
            let mut a = if accumulate {
                V::load_upto(out.add(j), width)
            } else {
                V::splat(bias)
            };
            for (r, &row) in rows.iter().enumerate() {
                let rp = row.add(j);
                let wr = w.add(r * taps);
                // Tap order s, s + L, s + 2L, ... where the blocks pair taps.
                let (outer, step) = if paired { (l, l) } else { (1, 1) };
                for s in 0..outer {
                    let mut t = s;
                    while t < taps {
                        let x = V::load_upto(rp.add(t * dil), width);
                        a = V::fmadd(V::splat(*wr.add(t)), x, a);
                        t += step;
                    }
                }
            }
            a.store_upto(out.add(j), width);
            j += width;
        }
    }
}

/// One output row segment of a direct correlation over an explicit list of taps
/// (the kernel's non-zero taps: zero taps are skipped, not multiplied):
/// `out[j] (+)= Σ_e w[e] · taps[e][j]` for `j < n`, starting from `out[j]`
/// (`accumulate`) or from `bias`. Bit `e` of `fetch` marks a tap that starts a new
/// input row; only those are prefetched ahead.
///
/// # Safety
/// Level supported and called from its `#[target_feature]` wrapper; every
/// `taps[e]` points at `n` readable elements, `w` holds `taps.len()` values and
/// `out` holds `n` writable elements.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub unsafe fn direct_taps<V: Vector>(
    taps: &[*const V::Elem],
    w: *const V::Elem,
    fetch: u64,
    out: *mut V::Elem,
    n: usize,
    bias: V::Elem,
    accumulate: bool,
) {
    // SAFETY (whole body): the caller's contract above.
    unsafe {
        // Blocks of 8 vectors, then of 4 and 2 (short rows keep several FMA
        // chains), then single vectors, the last one masked.
        let j = direct_taps_blocks::<V, DIRECT_NV>(taps, w, fetch, out, n, bias, accumulate, 0);
        let j = direct_taps_blocks::<V, 4>(taps, w, 0, out, n, bias, accumulate, j);
        let mut j = direct_taps_blocks::<V, 2>(taps, w, 0, out, n, bias, accumulate, j);
        let l = V::LANES;
        while j < n {
            let width = (n - j).min(l);
            let load = |p: *const V::Elem| V::load_upto(p, width);
            let mut a = if accumulate {
                load(out.add(j))
            } else {
                V::splat(bias)
            };
            for (e, &tap) in taps.iter().enumerate() {
                a = V::fmadd(V::splat(*w.add(e)), load(tap.add(j)), a);
            }
            a.store_upto(out.add(j), width);
            j += width;
        }
    }
}

/// The blocks of `NV` vectors of [`direct_taps`] from column `j0` on, while whole
/// blocks fit: returns the first column not done.
///
/// # Safety
/// As [`direct_taps`].
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn direct_taps_blocks<V: Vector, const NV: usize>(
    taps: &[*const V::Elem],
    w: *const V::Elem,
    fetch: u64,
    out: *mut V::Elem,
    n: usize,
    bias: V::Elem,
    accumulate: bool,
    j0: usize,
) -> usize {
    // SAFETY (whole body): the caller's contract.
    unsafe {
        let l = V::LANES;
        let ahead = if fetch.count_ones() == 1 {
            ROW_PREFETCH_BLOCKS
        } else {
            PREFETCH_BLOCKS
        };
        let mut j = j0;
        while j + NV * l <= n {
            let mut acc = [V::zero(); NV];
            for (v, a) in acc.iter_mut().enumerate() {
                *a = if accumulate {
                    V::load(out.add(j + v * l))
                } else {
                    V::splat(bias)
                };
            }
            for (e, &tap) in taps.iter().enumerate() {
                let p = tap.add(j);
                if fetch >> e & 1 == 1 {
                    for v in 0..NV {
                        V::prefetch(p.wrapping_add((ahead * NV + v) * l));
                    }
                }
                let wv = V::splat(*w.add(e));
                for (v, a) in acc.iter_mut().enumerate() {
                    *a = V::fmadd(wv, V::load(p.add(v * l)), *a);
                }
            }
            for (v, a) in acc.iter().enumerate() {
                a.store(out.add(j + v * l));
            }
            j += NV * l;
        }
        j
    }
}

/// Whether all `n` values at `x` are finite: `0·x` is 0 for a finite `x` and NaN
/// for an infinity or a NaN, so the lanes of `Σ 0·x` stay 0 exactly when all are.
///
/// # Safety
/// Level supported and called from its `#[target_feature]` wrapper; `x` points at
/// `n` readable elements.
#[inline(always)]
pub unsafe fn all_finite<V: Vector>(x: *const V::Elem, n: usize) -> bool {
    // SAFETY (whole body): the caller's contract above.
    unsafe {
        let l = V::LANES;
        let mut acc = [V::zero(); 4];
        let mut j = 0;
        while j + 4 * l <= n {
            for (v, a) in acc.iter_mut().enumerate() {
                *a = V::fmadd(V::zero(), V::load(x.add(j + v * l)), *a);
            }
            j += 4 * l;
        }
        while j < n {
            let width = (n - j).min(l);
            acc[0] = V::fmadd(V::zero(), V::load_upto(x.add(j), width), acc[0]);
            j += width;
        }
        acc.iter().all(|a| a.reduce_add() == V::zero().reduce_add())
    }
}

/// The arguments of [`direct_rows`] that its blocks share: input rows, weights,
/// output rows, row length, bias, whether to accumulate.
type RowsArgs<'a, V, const R: usize> = (
    &'a [*const <V as Vector>::Elem],
    *const <V as Vector>::Elem,
    &'a [*mut <V as Vector>::Elem; R],
    usize,
    <V as Vector>::Elem,
    bool,
);

/// The blocks of [`direct_rows`] from column `j` on: of `NV` vectors while they fit, then one of 3
/// and one of 2 (a 7-vector row, 112 columns of f32, takes 4 + 3 instead of
/// 4 + 2 + 1, whose last vector has only R FMA chains): returns the first column
/// not done.
///
/// # Safety
/// As [`direct_rows`].
#[inline(always)]
unsafe fn row_blocks<
    V: Vector,
    const R: usize,
    const NV: usize,
    const FETCH: bool,
    const STREAM: bool,
>(
    args: RowsArgs<'_, V, R>,
    kh: usize,
    taps: usize,
    dil: usize,
    j: usize,
) -> usize {
    // SAFETY: the caller's contract.
    unsafe {
        let j = direct_rows_blocks::<V, R, NV, FETCH, STREAM>(args, kh, taps, dil, j);
        let j = if NV > 3 {
            direct_rows_blocks::<V, R, 3, FETCH, STREAM>(args, kh, taps, dil, j)
        } else {
            j
        };
        direct_rows_blocks::<V, R, 2, FETCH, STREAM>(args, kh, taps, dil, j)
    }
}

/// A block's accumulators at column `j` of [`direct_rows`]: the output there
/// (`accumulate`) or the bias; with `FETCH` and not `STREAM`, the output lines a
/// few blocks on are prefetched for ownership (their stores then need not wait
/// for them, on images larger than L2; streamed stores need no line); with
/// `FETCH`, the next group's first columns too ([`prefetch_next_group`], the
/// block's `per_plane` input rows a kernel plane in `inp`).
///
/// # Safety
/// As [`direct_rows`], with `j + NV·LANES <= n`.
#[inline(always)]
unsafe fn block_start<
    V: Vector,
    const R: usize,
    const NV: usize,
    const FETCH: bool,
    const STREAM: bool,
>(
    (inp, per_plane): (&[*const V::Elem], usize),
    out: &[*mut V::Elem; R],
    j: usize,
    bias: V::Elem,
    accumulate: bool,
) -> [[V; NV]; R] {
    // SAFETY (whole body): the caller's contract; prefetches never fault.
    unsafe {
        let l = V::LANES;
        if FETCH {
            prefetch_next_group::<V, R, NV>(inp, per_plane, out, j);
        }
        let mut acc = [[V::zero(); NV]; R];
        for (r, acc) in acc.iter_mut().enumerate() {
            if FETCH && !STREAM {
                for v in 0..NV {
                    V::prefetch_write(out[r].wrapping_add(j + (PREFETCH_BLOCKS * NV + v) * l));
                }
            }
            for (v, a) in acc.iter_mut().enumerate() {
                *a = if accumulate {
                    V::load(out[r].add(j + v * l))
                } else {
                    V::splat(bias)
                };
            }
        }
        acc
    }
}

/// Stores a block's accumulators at column `j` of [`direct_rows`]; with
/// `STREAM`, past the caches ([`Vector::store_stream`]).
///
/// # Safety
/// As [`block_start`]; with `STREAM`, every `out[r] + j` is aligned to a vector.
#[inline(always)]
unsafe fn block_store<V: Vector, const R: usize, const NV: usize, const STREAM: bool>(
    acc: &[[V; NV]; R],
    out: &[*mut V::Elem; R],
    j: usize,
) {
    // SAFETY: the caller's contract.
    unsafe {
        for (r, acc) in acc.iter().enumerate() {
            let p = out[r].add(j);
            if STREAM {
                for (v, a) in acc.iter().enumerate() {
                    a.store_stream(p.add(v * V::LANES));
                }
            } else {
                for (v, a) in acc.iter().enumerate() {
                    a.store(p.add(v * V::LANES));
                }
            }
        }
    }
}

/// The blocks of `R` rows × `NV` vectors of [`direct_rows`] from column `j0` on,
/// while whole blocks fit: returns the first column not done.
///
/// # Safety
/// As [`direct_rows`].
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn direct_rows_blocks<
    V: Vector,
    const R: usize,
    const NV: usize,
    const FETCH: bool,
    const STREAM: bool,
>(
    (inp, w, out, n, bias, accumulate): RowsArgs<'_, V, R>,
    kh: usize,
    taps: usize,
    dil: usize,
    j0: usize,
) -> usize {
    // SAFETY (whole body): the caller's contract.
    unsafe {
        let l = V::LANES;
        let per_plane = R + kh - 1;
        let planes = inp.len() / per_plane;
        let mut j = j0;
        // Blocks of R rows × NV vectors.
        while j + NV * l <= n {
            let mut acc =
                block_start::<V, R, NV, FETCH, STREAM>((inp, per_plane), out, j, bias, accumulate);
            for d in 0..planes {
                let wd = w.add(d * kh * taps);
                for (ir, &row) in inp[d * per_plane..(d + 1) * per_plane].iter().enumerate() {
                    // Output rows r with 0 <= ir - r < kh use this input row.
                    let r_lo = (ir + 1).saturating_sub(kh);
                    let r_hi = ir.min(R - 1);
                    let rp = row.add(j);
                    // Large images stream from L3 or memory: ask for this row's
                    // data a few blocks ahead (a hint; may point past the row).
                    if FETCH {
                        for v in 0..NV {
                            V::prefetch(rp.wrapping_add((PREFETCH_BLOCKS * NV + v) * l));
                        }
                    }
                    for t in 0..taps {
                        let p = rp.add(t * dil);
                        let mut x = [V::zero(); NV];
                        for (v, x) in x.iter_mut().enumerate() {
                            *x = V::load(p.add(v * l));
                        }
                        for (r, acc) in acc.iter_mut().enumerate() {
                            if r < r_lo || r > r_hi {
                                continue;
                            }
                            let wv = V::splat(*wd.add((ir - r) * taps + t));
                            for v in 0..NV {
                                acc[v] = V::fmadd(wv, x[v], acc[v]);
                            }
                        }
                    }
                }
            }
            block_store::<V, R, NV, STREAM>(&acc, out, j);
            j += NV * l;
        }
        j
    }
}

/// Expands `$body` once per input row `$ir` (a `const`) below `$n` (at most 8),
/// so that which output rows and kernel rows an input row meets is known at
/// compile time.
macro_rules! unroll_rows {
    ($ir:ident < $n:expr => $body:block) => {
        unroll_rows!(@ $ir, $n, $body, 0 1 2 3 4 5 6 7)
    };
    (@ $ir:ident, $n:expr, $body:block, $($i:literal)*) => {
        $({
            const $ir: usize = $i;
            if $ir < $n $body
        })*
    };
}

/// Input row `IR` of a 3×3 block of `R` rows × `NV` vectors: its tap-0
/// vectors `y[..NV]` and the vector after them (only its first two lanes are
/// read) give taps 1 and 2 by [`Vector::shift`]; output row `r` adds kernel row
/// `IR - r` where that is a row. One shifted vector is live at a time (the
/// accumulators, weights and loaded vectors fill the registers), and each
/// accumulator sums its taps in order, as the loading form does.
///
/// # Safety
/// `K == 3`, `NV < 8`; the level supports [`Vector::shift`] (`V::SHIFTS`); as
/// [`Vector::zero`].
// `r` is compared with the constant row, 0 included; taps index the weights.
#[allow(clippy::absurd_extreme_comparisons, clippy::needless_range_loop)]
#[inline(always)]
unsafe fn fma_shifted_row<
    V: Vector,
    const R: usize,
    const NV: usize,
    const IR: usize,
    const K: usize,
>(
    acc: &mut [[V; NV]; R],
    wk: &[[V; K]; K],
    y: &[V; 8],
) {
    // SAFETY: register-only; the caller's contract.
    unsafe {
        for t in 0..3 {
            for v in 0..NV {
                let x = match t {
                    0 => y[v],
                    1 => V::shift::<1>(y[v], y[v + 1]),
                    _ => V::shift::<2>(y[v], y[v + 1]),
                };
                for (r, acc) in acc.iter_mut().enumerate() {
                    if r <= IR && IR - r < 3 {
                        acc[v] = V::fmadd(wk[IR - r][t], x, acc[v]);
                    }
                }
            }
        }
    }
}

/// The blocks of `R` rows × `NV` vectors of [`direct_rows`] for a `K`×`K` kernel
/// whose `K²` weight splats fit registers beside the accumulators (3×3; taps 1
/// apart; `R + K - 1 <= 8`) from column `j0` on, while whole blocks fit: the
/// general blocks with every loop unrolled (input rows by [`unroll_rows`]) and
/// the plane's weights splatted once per block. (5×5 unrolled this way measured
/// slower, img5 1.64-1.81 -> 1.80-1.99 ms: see [`direct_rows_blocks_cols`].)
/// Returns the first column not done.
///
/// # Safety
/// As [`direct_rows`], with `kh = taps = K`, `dil = 1`.
// The unrolled copies compare `r` with each constant input row, 0 included,
// and index the weights by tap.
#[allow(clippy::absurd_extreme_comparisons, clippy::needless_range_loop)]
#[inline(always)]
unsafe fn direct_rows_blocks_k<
    V: Vector,
    const R: usize,
    const NV: usize,
    const FETCH: bool,
    const STREAM: bool,
    const K: usize,
>(
    (inp, w, out, n, bias, accumulate): RowsArgs<'_, V, R>,
    j0: usize,
) -> usize {
    // SAFETY (whole body): the caller's contract.
    unsafe {
        let l = V::LANES;
        let per_plane = R + K - 1;
        let planes = inp.len() / per_plane;
        let mut j = j0;
        while j + NV * l <= n {
            let mut acc =
                block_start::<V, R, NV, FETCH, STREAM>((inp, per_plane), out, j, bias, accumulate);
            for d in 0..planes {
                let wd = w.add(d * K * K);
                let mut wk = [[V::zero(); K]; K];
                for (k, wk) in wk.iter_mut().enumerate() {
                    for (t, wv) in wk.iter_mut().enumerate() {
                        *wv = V::splat(*wd.add(k * K + t));
                    }
                }
                let rows = &inp[d * per_plane..(d + 1) * per_plane];
                unroll_rows!(IR < R + K - 1 => {
                    let rp = rows[IR].add(j);
                    if FETCH {
                        for v in 0..NV {
                            V::prefetch(rp.wrapping_add((PREFETCH_BLOCKS * NV + v) * l));
                        }
                    }
                    // Where the level shifts in one instruction, the taps' inputs
                    // come from the NV vectors at tap 0 and the K - 1 values after
                    // them (a masked load: the row ends there on its last block):
                    // NV + 1 loads instead of K·NV unaligned ones, which on a 3×3
                    // kernel left the load ports as busy as the FMA pipes
                    // (1024×2048 1T 0.324-0.327 -> 0.295-0.303 ms). Not on
                    // streamed images, which measured 8% slower with it (img3 1T
                    // 0.58-0.59 -> 0.63-0.64 ms).
                    if V::SHIFTS && !STREAM && K == 3 && NV < 8 {
                        let mut y = [V::zero(); 8];
                        for (v, y) in y[..NV].iter_mut().enumerate() {
                            *y = V::load(rp.add(v * l));
                        }
                        y[NV] = V::load_partial(rp.add(NV * l), K - 1);
                        fma_shifted_row::<V, R, NV, IR, K>(&mut acc, &wk, &y);
                    } else {
                        for t in 0..K {
                            let mut x = [V::zero(); NV];
                            for (v, x) in x.iter_mut().enumerate() {
                                *x = V::load(rp.add(t + v * l));
                            }
                            // Output rows r with 0 <= IR - r < K use this input row.
                            for (r, acc) in acc.iter_mut().enumerate() {
                                if r <= IR && IR - r < K {
                                    for v in 0..NV {
                                        acc[v] = V::fmadd(wk[IR - r][t], x[v], acc[v]);
                                    }
                                }
                            }
                        }
                    }
                });
            }
            block_store::<V, R, NV, STREAM>(&acc, out, j);
            j += NV * l;
        }
        j
    }
}

/// The blocks of `R` rows × `NV` vectors of [`direct_rows`] for a `K`×`K` kernel
/// too large for [`direct_rows_blocks_k`] to keep its weights in registers (5×5:
/// 25 splats beside 16 accumulators), taps 1 apart, `R + K - 1 <= 8`: one tap
/// column at a time. Column `t`'s `K` weights are splatted into registers, then
/// every input row of the block (unrolled by [`unroll_rows`], so which output rows
/// it meets is known at compile time and there is no branch) loads its `NV`
/// vectors at offset `t` once and feeds each output row that uses it. The tap loop
/// is not unrolled: unrolled, LLVM hoists all `K·K` splats, runs out of
/// registers and folds a broadcast load into every FMA (load-bound). Taps 1..4
/// load across cache lines on AVX-512; making them from one row's loaded vectors
/// by permutes instead (input row by input row, the weights splatted per tap)
/// measured slower on the Intel host (2048-wide 5×5, 64 rows: 0.061-0.064 ->
/// 0.071-0.074 ms; 2048 rows no faster), likely because the permutes share a
/// port with the FMAs there (a VM without PMU events: not confirmed). Returns
/// the first column not done.
///
/// # Safety
/// As [`direct_rows`], with `kh = taps = K`, `dil = 1`.
#[allow(clippy::absurd_extreme_comparisons, clippy::needless_range_loop)]
#[inline(always)]
unsafe fn direct_rows_blocks_cols<
    V: Vector,
    const R: usize,
    const NV: usize,
    const FETCH: bool,
    const STREAM: bool,
    const K: usize,
>(
    (inp, w, out, n, bias, accumulate): RowsArgs<'_, V, R>,
    j0: usize,
) -> usize {
    // SAFETY (whole body): the caller's contract.
    unsafe {
        let l = V::LANES;
        let per_plane = R + K - 1;
        let planes = inp.len() / per_plane;
        // A bound LLVM cannot see through, so the tap loop stays a loop.
        let taps = core::hint::black_box(K);
        let mut j = j0;
        while j + NV * l <= n {
            let mut acc =
                block_start::<V, R, NV, FETCH, STREAM>((inp, per_plane), out, j, bias, accumulate);
            for d in 0..planes {
                let wd = w.add(d * K * K);
                let rows = &inp[d * per_plane..(d + 1) * per_plane];
                if FETCH {
                    for &row in &rows[K - 1..] {
                        let rp = row.add(j);
                        for v in 0..NV {
                            V::prefetch(rp.wrapping_add((2 * PREFETCH_BLOCKS * NV + v) * l));
                        }
                    }
                }
                for t in 0..taps {
                    let mut wk = [V::zero(); K];
                    for (k, wv) in wk.iter_mut().enumerate() {
                        *wv = V::splat(*wd.add(k * K + t));
                    }
                    unroll_rows!(IR < R + K - 1 => {
                        let rp = rows[IR].add(j + t);
                        let mut x = [V::zero(); NV];
                        for (v, x) in x.iter_mut().enumerate() {
                            *x = V::load(rp.add(v * l));
                        }
                        // Output rows r with 0 <= IR - r < K use this input row.
                        for (r, acc) in acc.iter_mut().enumerate() {
                            if r <= IR && IR - r < K {
                                for v in 0..NV {
                                    acc[v] = V::fmadd(wk[IR - r], x[v], acc[v]);
                                }
                            }
                        }
                    });
                }
            }
            block_store::<V, R, NV, STREAM>(&acc, out, j);
            j += NV * l;
        }
        j
    }
}

/// `R` consecutive output rows of a direct correlation with stride and dilation 1
/// between rows, over `planes` kernel planes: in plane `d`, output row `r` sums
/// kernel row `kh` against input row `inp[d·(R + kh - 1) + r + kh]`, so each input
/// vector is loaded once and used by up to `R` output rows, and the accumulators
/// stay in registers across planes.
/// `out_r[j] (+)= Σ_d Σ_kh Σ_t w[(d·kh + kh')·taps + t] · inp[..][j + t·dil]`.
///
/// # Safety
/// Level supported and called from its `#[target_feature]` wrapper;
/// `inp.len() == planes·(R + kh - 1)`, each input row holds `n + (taps-1)·dil`
/// readable elements, `w` holds `planes·kh·taps`, every `out[r]` holds `n` writable
/// elements.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub unsafe fn direct_rows<V: Vector, const R: usize, const NV: usize>(
    inp: &[*const V::Elem],
    kh: usize,
    taps: usize,
    dil: usize,
    w: *const V::Elem,
    out: &[*mut V::Elem; R],
    n: usize,
    bias: V::Elem,
    accumulate: bool,
    stream: bool,
) {
    // SAFETY: the caller's contract above.
    unsafe { rows_body::<V, R, NV, true>(inp, kh, taps, dil, w, out, n, bias, accumulate, stream) }
}

/// [`direct_rows`], prefetching its input rows ahead (`FETCH`: rows streamed from
/// L3 or memory) or not (rows just padded into a slab, in L1 or L2: the prefetches
/// would be a quarter of a 3×3 block's instructions).
///
/// # Safety
/// As [`direct_rows`].
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn rows_body<V: Vector, const R: usize, const NV: usize, const FETCH: bool>(
    inp: &[*const V::Elem],
    kh: usize,
    taps: usize,
    dil: usize,
    w: *const V::Elem,
    out: &[*mut V::Elem; R],
    n: usize,
    bias: V::Elem,
    accumulate: bool,
    stream: bool,
) {
    // SAFETY (whole body): the caller's contract of `direct_rows`.
    unsafe {
        // Blocks of R rows × NV vectors, then of fewer vectors (narrow rows, such
        // as depthwise layers', keep R·NV/2 chains instead of R).
        // (No closure here: a closure does not inherit the caller's target features,
        // and the vector code in it would not be inlined.)
        // Streaming stores need aligned vectors: the columns before the first
        // aligned one go first, one (masked) vector of R rows; rows aligned
        // differently are stored as usual.
        let size = std::mem::size_of::<V::Elem>();
        let align = V::LANES * size;
        let skew = out[0] as usize % align;
        // Slab rows (`!FETCH`) are never streamed: their streaming branch below
        // names the blocks with `STREAM = FETCH`, so it instantiates no
        // streaming blocks for them (each is a large unrolled body: compile time).
        let stream = FETCH
            && stream
            && V::STREAMS
            && !accumulate
            && out.iter().all(|&o| o as usize % align == skew)
            && skew.is_multiple_of(size);
        let args = (inp, w, out, n, bias, accumulate);
        let j = if stream {
            let j0 = ((align - skew) % align / size).min(n);
            singles::<V, R>(args, kh, taps, dil, 0, j0);
            all_blocks::<V, R, NV, FETCH, FETCH>(args, kh, taps, dil, j0)
        } else {
            all_blocks::<V, R, NV, FETCH, false>(args, kh, taps, dil, 0)
        };
        singles::<V, R>(args, kh, taps, dil, j, n);
        if stream {
            V::fence();
        }
    }
}

/// Whether [`direct_rows`] sums this kernel shape tap column by tap column
/// ([`direct_rows_blocks_cols`]: 5×5) rather than input row by input row. Every
/// column of a row is summed in the same order, whichever block computes it, so
/// that a result does not depend on where a block starts (streamed rows start
/// their blocks at their first aligned column).
#[inline(always)]
fn by_columns<const R: usize>(kh: usize, taps: usize, dil: usize) -> bool {
    (kh, taps, dil) == (5, 5, 1) && R + 4 <= 8
}

/// [`rows_singles`] in the order of the kernel shape's blocks.
///
/// # Safety
/// As [`rows_singles`].
#[inline(always)]
unsafe fn singles<V: Vector, const R: usize>(
    args: RowsArgs<'_, V, R>,
    kh: usize,
    taps: usize,
    dil: usize,
    j: usize,
    end: usize,
) {
    // SAFETY: the caller's contract.
    unsafe {
        if by_columns::<R>(kh, taps, dil) {
            rows_singles::<V, R, true>(args, kh, taps, dil, j, end)
        } else {
            rows_singles::<V, R, false>(args, kh, taps, dil, j, end)
        }
    }
}

/// The whole blocks of [`direct_rows`] from column `j0` on, by the kernel's
/// shape: returns the first column not done. With `STREAM`, every block's
/// columns start aligned and its vectors are stored past the caches.
///
/// # Safety
/// As [`direct_rows`]; with `STREAM`, every `out[r] + j0` is aligned to a vector.
#[inline(always)]
unsafe fn all_blocks<
    V: Vector,
    const R: usize,
    const NV: usize,
    const FETCH: bool,
    const STREAM: bool,
>(
    args: RowsArgs<'_, V, R>,
    kh: usize,
    taps: usize,
    dil: usize,
    j0: usize,
) -> usize {
    // SAFETY (whole body): the caller's contract.
    unsafe {
        if (kh, taps, dil) == (3, 3, 1) && R + 2 <= 8 {
            // The commonest kernels, with their loops unrolled.
            let j = direct_rows_blocks_k::<V, R, NV, FETCH, STREAM, 3>(args, j0);
            let j = if NV > 3 {
                direct_rows_blocks_k::<V, R, 3, FETCH, STREAM, 3>(args, j)
            } else {
                j
            };
            direct_rows_blocks_k::<V, R, 2, FETCH, STREAM, 3>(args, j)
        } else if by_columns::<R>(kh, taps, dil) {
            let j = direct_rows_blocks_cols::<V, R, NV, FETCH, STREAM, 5>(args, j0);
            let j = if NV > 3 {
                direct_rows_blocks_cols::<V, R, 3, FETCH, STREAM, 5>(args, j)
            } else {
                j
            };
            direct_rows_blocks_cols::<V, R, 2, FETCH, STREAM, 5>(args, j)
        } else {
            row_blocks::<V, R, NV, FETCH, STREAM>(args, kh, taps, dil, j0)
        }
    }
}

/// Columns `j..end` of [`direct_rows`] one vector at a time, still `R` rows at
/// once (`R` independent FMA chains); the last vector masked.
///
/// # Safety
/// As [`direct_rows`], with `end <= n`.
#[inline(always)]
unsafe fn rows_singles<V: Vector, const R: usize, const COLS: bool>(
    (inp, w, out, _, bias, accumulate): RowsArgs<'_, V, R>,
    kh: usize,
    taps: usize,
    dil: usize,
    mut j: usize,
    end: usize,
) {
    // SAFETY (whole body): the caller's contract.
    unsafe {
        let l = V::LANES;
        let per_plane = R + kh - 1;
        let planes = inp.len() / per_plane;
        while j < end {
            let width = (end - j).min(l);
            let load = |p: *const V::Elem| V::load_upto(p, width);
            let mut acc = [V::zero(); R];
            for (r, a) in acc.iter_mut().enumerate() {
                *a = if accumulate {
                    load(out[r].add(j))
                } else {
                    V::splat(bias)
                };
            }
            for d in 0..planes {
                let wd = w.add(d * kh * taps);
                let rows = &inp[d * per_plane..(d + 1) * per_plane];
                // In the blocks' order: input rows then taps, or (`COLS`) taps
                // then input rows. (No closures: they would not inherit the
                // caller's target features.)
                let (outer, inner) = if COLS {
                    (taps, rows.len())
                } else {
                    (rows.len(), taps)
                };
                for a_ in 0..outer {
                    for b_ in 0..inner {
                        let (ir, t) = if COLS { (b_, a_) } else { (a_, b_) };
                        let r_lo = (ir + 1).saturating_sub(kh);
                        let r_hi = ir.min(R - 1);
                        let x = V::load_upto(rows[ir].add(j + t * dil), width);
                        for (r, a) in acc.iter_mut().enumerate() {
                            if r >= r_lo && r <= r_hi {
                                *a = V::fmadd(V::splat(*wd.add((ir - r) * taps + t)), x, *a);
                            }
                        }
                    }
                }
            }
            for (r, a) in acc.iter().enumerate() {
                a.store_upto(out[r].add(j), width);
            }
            j += width;
        }
    }
}

/// `rows` consecutive output rows (`width` values each, `out` row after row) of a
/// direct correlation with stride and dilation 1 between rows, from a slab of
/// padded input rows: kernel plane `d` reads the rows `planes[d] + y·stride`, and
/// output row `y` sums kernel row `kh'` of every plane against slab row `y + kh'`.
/// Blocks of `R` rows go through [`direct_rows`] (each loaded vector shared by the
/// block's rows), the last `rows mod R` one at a time, so one call covers a task
/// and its row tables cost a few stores per block.
///
/// # Safety
/// Level supported and called from its `#[target_feature]` wrapper;
/// `planes.len()·(R + kh - 1) <= DIRECT_MAX_ROWS`; every plane holds `rows + kh - 1`
/// rows `stride` apart, each of `width + (taps-1)·dil` readable elements; `w` holds
/// `planes.len()·kh·taps`; `out` holds `rows·width` writable elements.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub unsafe fn direct_slab<V: Vector, const R: usize, const NV: usize>(
    planes: &[*const V::Elem],
    stride: usize,
    kh: usize,
    taps: usize,
    dil: usize,
    w: *const V::Elem,
    out: *mut V::Elem,
    width: usize,
    rows: usize,
    bias: V::Elem,
    accumulate: bool,
) {
    // SAFETY (whole body): the caller's contract above; block rows `y..y + R` read
    // slab rows `y..y + R + kh - 1 <= rows + kh - 1`.
    unsafe {
        let mut table = [std::ptr::null::<V::Elem>(); super::DIRECT_MAX_ROWS];
        let mut y = 0;
        while y < rows {
            if y + R <= rows {
                let per = R + kh - 1;
                for (d, &p) in planes.iter().enumerate() {
                    for i in 0..per {
                        table[d * per + i] = p.add((y + i) * stride);
                    }
                }
                let o: [*mut V::Elem; R] = std::array::from_fn(|r| out.add((y + r) * width));
                rows_body::<V, R, NV, false>(
                    &table[..planes.len() * per],
                    kh,
                    taps,
                    dil,
                    w,
                    &o,
                    width,
                    bias,
                    accumulate,
                    false,
                );
                y += R;
            } else {
                for (d, &p) in planes.iter().enumerate() {
                    for i in 0..kh {
                        table[d * kh + i] = p.add((y + i) * stride);
                    }
                }
                rows_body::<V, 1, NV, false>(
                    &table[..planes.len() * kh],
                    kh,
                    taps,
                    dil,
                    w,
                    &[out.add(y * width)],
                    width,
                    bias,
                    accumulate,
                    false,
                );
                y += 1;
            }
        }
    }
}

/// `dst[i] = src[i]` for `i < n`, inline (the inside of a padded slab row: short
/// rows, many of them, where a `memcpy` call costs as much as the copy).
///
/// # Safety
/// Level supported and called from its `#[target_feature]` wrapper; `src` holds
/// `n` readable elements, `dst` `n` writable ones, not overlapping.
#[inline(always)]
pub unsafe fn copy<V: Vector>(src: *const V::Elem, dst: *mut V::Elem, n: usize) {
    // SAFETY (whole body): the caller's contract; every access is below `n`.
    unsafe {
        let l = V::LANES;
        let mut j = 0;
        while j + 4 * l <= n {
            let mut x = [V::zero(); 4];
            for (v, x) in x.iter_mut().enumerate() {
                *x = V::load(src.add(j + v * l));
            }
            for (v, x) in x.iter().enumerate() {
                x.store(dst.add(j + v * l));
            }
            j += 4 * l;
        }
        while j < n {
            let width = (n - j).min(l);
            V::load_upto(src.add(j), width).store_upto(dst.add(j), width);
            j += width;
        }
    }
}

/// Taps per kernel row at most for [`direct_in_place`] (its border blocks keep a
/// lane range per vector and tap).
pub const IN_PLACE_MAX_TAPS: usize = 8;

/// `rows` consecutive output rows (`width` values each, `out` row after row) of a
/// direct correlation with stride and dilation 1 between rows, reading zero-padded
/// input rows in place (no padded copy): kernel plane `d` reads plane
/// `planes[d]` (null: a padding plane) through `g`, rows and columns outside the
/// input read as zeros (a shared zero row `zero`, and lanes left out of the
/// loads), so every product of the definition is still formed (`0·∞` is NaN as
/// in the reference). Blocks of `R` rows as [`direct_slab`]; along the row,
/// blocks of `NV` vectors, then 3, 2 or 1. Where the padding is at most a vector
/// wide, only a row's first and last vectors can read outside it: they load by
/// lane sets made once per call, the rest plainly; otherwise every load goes by
/// lane set.
///
/// Assembly check (AVX-512 f32, `objdump -d` of `direct_in_place_f32`, all its
/// block instantiations): 4984 `vfmadd231ps zmm`, 1 zmm store to and 9 zmm loads
/// from the stack in all (the 3×3 blocks keep their 16 accumulators and 9 splatted
/// weights in registers; lane sets live in mask registers or GPRs).
///
/// # Safety
/// Level supported and called from its `#[target_feature]` wrapper;
/// `planes.len()·(R + kh - 1) <= DIRECT_MAX_ROWS`, `taps <= IN_PLACE_MAX_TAPS`;
/// every non-null plane holds `g.in_rows` rows of `g.len` readable elements
/// `g.stride` apart; `zero` holds `g.len` zeros; `w` holds `planes.len()·kh·taps`;
/// `out` holds `rows·width` writable elements.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub unsafe fn direct_in_place<V: Vector, const R: usize, const NV: usize>(
    planes: &[*const V::Elem],
    zero: *const V::Elem,
    g: super::InPlaceRows,
    (kh, taps, dil): (usize, usize, usize),
    w: *const V::Elem,
    out: *mut V::Elem,
    (width, rows): (usize, usize),
    bias: V::Elem,
    accumulate: bool,
) {
    // SAFETY (whole body): the caller's contract above; a table entry is a row
    // of the input (`y - top < in_rows`) or the zero row.
    unsafe {
        let edges = Edges::<V>::new(g, taps, dil, width);
        let row = |p: *const V::Elem, y: usize| {
            if p.is_null() || y < g.top || y - g.top >= g.in_rows {
                zero
            } else {
                p.add((y - g.top) * g.stride)
            }
        };
        let mut table = [zero; super::DIRECT_MAX_ROWS];
        // The planes whose rows each block prefetches for the next (`g.next`).
        let next: &[*const V::Elem] = match g.next {
            super::NextRows::All => planes,
            super::NextRows::LastPlane => &planes[planes.len().saturating_sub(1)..],
            super::NextRows::None => &[],
        };
        let mut y = 0;
        while y < rows {
            if y + R <= rows {
                let per = R + kh - 1;
                for (d, &p) in planes.iter().enumerate() {
                    for i in 0..per {
                        table[d * per + i] = row(p, y + i);
                    }
                }
                // The rows the next block reads first, on their way from L3
                // while this block computes.
                for &p in next {
                    for i in per..per + R {
                        prefetch_lines::<V, false>(row(p, y + i), g.len);
                    }
                }
                let o: [*mut V::Elem; R] = std::array::from_fn(|r| out.add((y + r) * width));
                let args = (&table[..planes.len() * per], w, &o, width, bias, accumulate);
                in_place_rows::<V, R, NV>(args, g, &edges, kh, taps, dil);
                y += R;
            } else {
                for (d, &p) in planes.iter().enumerate() {
                    for i in 0..kh {
                        table[d * kh + i] = row(p, y + i);
                    }
                }
                let o = [out.add(y * width)];
                let args = (&table[..planes.len() * kh], w, &o, width, bias, accumulate);
                in_place_rows::<V, 1, NV>(args, g, &edges, kh, taps, dil);
                y += 1;
            }
        }
    }
}

/// The lane sets of a row read in place: per tap, of its first and last vectors,
/// and whether those are the only vectors that can read outside the row.
struct Edges<V: Vector> {
    first: [V::Lanes; IN_PLACE_MAX_TAPS],
    last: [V::Lanes; IN_PLACE_MAX_TAPS],
    /// Every lane, for the edge slots of blocks that hold no edge.
    full: [V::Lanes; IN_PLACE_MAX_TAPS],
    simple: bool,
}

impl<V: Vector> Edges<V> {
    /// # Safety
    /// As [`direct_in_place`]; `width > 0`.
    #[inline(always)]
    unsafe fn new(g: super::InPlaceRows, taps: usize, dil: usize, width: usize) -> Self {
        // SAFETY: the caller's level.
        unsafe {
            let l = V::LANES;
            let last_at = (width - 1) / l * l;
            let span = (taps - 1) * dil;
            // The lanes of the vector at column `j`, tap `t`, inside the row.
            let range = |j: usize, t: usize| {
                let col = (j + t * dil) as isize - g.left as isize;
                let lo = (-col).clamp(0, l as isize) as usize;
                (
                    lo,
                    (g.len as isize - col).clamp(lo as isize, l as isize) as usize,
                )
            };
            let mut e = Edges {
                first: [V::lanes(0, 0); IN_PLACE_MAX_TAPS],
                last: [V::lanes(0, 0); IN_PLACE_MAX_TAPS],
                full: [V::lanes(0, l); IN_PLACE_MAX_TAPS],
                // Vector 1 on starts inside; the one before the last ends inside.
                simple: g.left <= l && (last_at == 0 || last_at - 1 + span < g.len + g.left),
            };
            for t in 0..taps {
                let ((a, b), (c, d)) = (range(0, t), range(last_at, t));
                e.first[t] = V::lanes(a, b);
                e.last[t] = V::lanes(c, d);
            }
            e
        }
    }
}

/// The column blocks of one block of rows of [`direct_in_place`].
///
/// # Safety
/// As [`direct_in_place`], for the rows of `args`.
#[inline(always)]
unsafe fn in_place_rows<V: Vector, const R: usize, const NV: usize>(
    args: RowsArgs<'_, V, R>,
    g: super::InPlaceRows,
    e: &Edges<V>,
    kh: usize,
    taps: usize,
    dil: usize,
) {
    // SAFETY: the caller's contract.
    unsafe {
        if (kh, taps, dil) == (3, 3, 1) && R + 2 <= 8 {
            // The commonest kernel, with its loops unrolled.
            in_place_cols::<V, R, NV, true>(args, g, e, 3, 3, 1)
        } else {
            in_place_cols::<V, R, NV, false>(args, g, e, kh, taps, dil)
        }
    }
}

/// See [`in_place_rows`]; `K3`: a 3×3 kernel with taps 1 apart.
///
/// # Safety
/// As [`in_place_rows`].
#[inline(always)]
unsafe fn in_place_cols<V: Vector, const R: usize, const NV: usize, const K3: bool>(
    args: RowsArgs<'_, V, R>,
    g: super::InPlaceRows,
    e: &Edges<V>,
    kh: usize,
    taps: usize,
    dil: usize,
) {
    // SAFETY: the caller's contract.
    unsafe {
        let (l, n) = (V::LANES, args.3);
        let mut j = 0;
        while j < n {
            // Blocks of NV vectors, the last one of fewer where the row ends.
            let vecs = (n - j).div_ceil(l);
            let edge = j == 0 || j + NV * l >= n;
            let a = (args, g, e, kh, taps, dil, j, vecs.min(NV));
            // (Few variants: each is inlined, and compile time grows fast with
            // them. Blocks inside the row are whole; edge blocks load their
            // edge vectors by lane set; where the padding is wider than a
            // vector, every load goes by lane set, in blocks of NV vectors
            // whose vectors past the row's end are computed and not stored.
            // 3×3 blocks of NV and 3 vectors are unrolled (K3): vol3d 1T
            // 0.91-0.95 -> 0.87-0.89 ms, 17 s -> 18 s to build the library.)
            j = match (e.simple, edge, vecs) {
                (false, _, _) => in_place_block::<V, R, NV, 2, false>(a),
                (true, false, _) => in_place_block::<V, R, NV, 0, K3>(a),
                (true, true, v) if v >= NV => in_place_block::<V, R, NV, 1, K3>(a),
                (true, true, 3) => in_place_block::<V, R, 3, 1, K3>(a),
                (true, true, 2) => in_place_block::<V, R, 2, 1, false>(a),
                (true, true, _) => in_place_block::<V, R, 1, 1, false>(a),
            };
        }
    }
}

/// The arguments of [`in_place_block`].
type InPlaceArgs<'a, V, const R: usize> = (
    RowsArgs<'a, V, R>,
    super::InPlaceRows,
    &'a Edges<V>,
    usize,
    usize,
    usize,
    usize,
    usize,
);

/// One block of `R` rows × `NB` vectors of [`direct_in_place`] from column `j`
/// (its last output vector cut at the row's end): returns the column after it.
/// `KIND` 0: every load plain; 1: the block's first vector loads by `e.first`
/// where `j == 0`, its last by `e.last` where the block ends the row (else all
/// lanes), the rest plainly; 2: every load by its own lane set, and only the
/// first `live` vectors hold outputs.
///
/// # Safety
/// As [`in_place_rows`]; `j < n`; `KIND < 2` only where `e.simple`, `KIND == 0`
/// only for a block that neither starts nor ends the row, `NB` vectors at most
/// as many as the row has from `j` unless `KIND == 2`.
// The unrolled copies compare `r` with each constant input row, 0 included,
// and index the weights by tap.
#[allow(clippy::absurd_extreme_comparisons, clippy::needless_range_loop)]
#[inline(always)]
unsafe fn in_place_block<
    V: Vector,
    const R: usize,
    const NB: usize,
    const KIND: usize,
    const K3: bool,
>(
    ((inp, w, out, n, bias, accumulate), g, e, kh, taps, dil, j, live): InPlaceArgs<'_, V, R>,
) -> usize {
    // SAFETY (whole body): the caller's contract. Plain loads only where every
    // lane's column `j + v·l + t·dil - left + lane` lies in `0..len` (all but
    // the row's first and last vectors, where `e.simple`); elsewhere only the
    // lanes inside are loaded. Vectors past `live` are not stored.
    unsafe {
        let l = V::LANES;
        let (kh, taps, dil) = if K3 { (3, 3, 1) } else { (kh, taps, dil) };
        // Vectors holding outputs: all but in a KIND 2 block at the row's end
        // (its others are computed from in-row lanes only, and not stored).
        let live = if KIND == 2 { live } else { NB };
        let per_plane = R + kh - 1;
        let planes = inp.len() / per_plane;
        let end = (j + live * l).min(n);
        let lanes = |v: usize| (end - j - v * l).min(l);
        let mut acc = [[V::zero(); NB]; R];
        for (r, acc) in acc.iter_mut().enumerate() {
            for (v, a) in acc.iter_mut().enumerate() {
                if v < live {
                    *a = if accumulate {
                        V::load_upto(out[r].add(j + v * l), lanes(v))
                    } else {
                        V::splat(bias)
                    };
                }
            }
        }
        // Lane sets: of every vector and tap (KIND 2), or of the block's first
        // and last live vectors (KIND 1).
        let mut sets = [[V::lanes(0, 0); IN_PLACE_MAX_TAPS]; NB];
        if KIND == 2 {
            for (v, sets) in sets.iter_mut().enumerate() {
                for (t, set) in sets[..taps].iter_mut().enumerate() {
                    let col = (j + v * l + t * dil) as isize - g.left as isize;
                    let lo = (-col).clamp(0, l as isize) as usize;
                    let hi = (g.len as isize - col).clamp(lo as isize, l as isize) as usize;
                    *set = V::lanes(lo, hi);
                }
            }
        }
        let (first, last) = (
            if j == 0 { &e.first } else { &e.full },
            if end == n { &e.last } else { &e.full },
        );
        // The vector `v`, tap `t` of the row whose column 0 is at `base` (a macro,
        // not a closure: closures do not inherit the target features, and the
        // vector code in one would not be inlined).
        macro_rules! load {
            ($base:expr, $v:expr, $t:expr) => {{
                let (v, t) = ($v, $t);
                let p = $base.wrapping_add(j + v * l + t * dil);
                if KIND == 2 {
                    V::load_in(p, sets[v][t])
                } else if KIND == 1 && v == 0 {
                    // A one-vector row: its only vector is first and last.
                    V::load_in(
                        p,
                        if live == 1 && end == n {
                            &e.last
                        } else {
                            first
                        }[t],
                    )
                } else if KIND == 1 && v + 1 == live {
                    V::load_in(p, last[t])
                } else {
                    V::load(p)
                }
            }};
        }
        // The lanes of the two values after the block's last vector that lie
        // in the row (K3 with shifts; made only there).
        let after = if !(K3 && V::SHIFTS) {
            V::lanes(0, 0)
        } else {
            let col = (j + NB * l) as isize - g.left as isize;
            let hi = (g.len as isize - col).clamp(0, 2);
            let lo = (-col).clamp(0, hi);
            V::lanes(lo as usize, hi as usize)
        };
        for d in 0..planes {
            let wd = w.add(d * kh * taps);
            let rows = &inp[d * per_plane..(d + 1) * per_plane];
            if K3 {
                let mut wk = [[V::zero(); 3]; 3];
                for (k, wk) in wk.iter_mut().enumerate() {
                    for (t, wv) in wk.iter_mut().enumerate() {
                        *wv = V::splat(*wd.add(k * 3 + t));
                    }
                }
                unroll_rows!(IR < R + 2 => {
                    // Column 0 of the row, as an address: only offset, never read.
                    let base = rows[IR].wrapping_sub(g.left);
                    if V::SHIFTS && NB < 8 {
                        // Taps 1 and 2 shifted from tap 0's vectors and the two
                        // values after them (as `direct_rows_blocks_k`): the
                        // edge vectors' padding lanes, zero at tap 0 and past
                        // the row, stay zero in the shifted windows.
                        let mut y = [V::zero(); 8];
                        for (v, y) in y[..NB].iter_mut().enumerate() {
                            *y = load!(base, v, 0);
                        }
                        y[NB] = V::load_in(base.wrapping_add(j + NB * l), after);
                        fma_shifted_row::<V, R, NB, IR, 3>(&mut acc, &wk, &y);
                    } else {
                        for t in 0..3 {
                            let mut x = [V::zero(); NB];
                            for (v, x) in x.iter_mut().enumerate() {
                                *x = load!(base, v, t);
                            }
                            for (r, acc) in acc.iter_mut().enumerate() {
                                if r <= IR && IR - r < 3 {
                                    for v in 0..NB {
                                        acc[v] = V::fmadd(wk[IR - r][t], x[v], acc[v]);
                                    }
                                }
                            }
                        }
                    }
                });
                continue;
            }
            for (ir, &row) in rows.iter().enumerate() {
                let r_lo = (ir + 1).saturating_sub(kh);
                let r_hi = ir.min(R - 1);
                let base = row.wrapping_sub(g.left);
                for t in 0..taps {
                    let mut x = [V::zero(); NB];
                    for (v, x) in x.iter_mut().enumerate() {
                        *x = load!(base, v, t);
                    }
                    for (r, acc) in acc.iter_mut().enumerate() {
                        if r < r_lo || r > r_hi {
                            continue;
                        }
                        let wv = V::splat(*wd.add((ir - r) * taps + t));
                        for v in 0..NB {
                            acc[v] = V::fmadd(wv, x[v], acc[v]);
                        }
                    }
                }
            }
        }
        for (r, acc) in acc.iter().enumerate() {
            for (v, a) in acc.iter().enumerate() {
                if v < live {
                    a.store_upto(out[r].add(j + v * l), lanes(v));
                }
            }
        }
        end
    }
}

/// The Winograd F(2×2, 3×3) input transform `Bᵀ d B` of one tile row, `LANES`
/// tiles at a time: patch row `r` of tile `j` is `e[r][j], o[r][j], e[r][j+1],
/// o[r][j+1]` (the padded row's even and odd columns); position `ξ = 4a + b` of
/// tile `j` goes to `out[ξ·stride + j]`.
/// `Bᵀ = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]]`.
///
/// # Safety
/// Level supported and called from its `#[target_feature]` wrapper; every
/// `e[r]` and `o[r]` holds `tw + 1` readable elements, `out + ξ·stride` `tw`
/// writable ones for each ξ.
// Position b indexes all four rows of `s`.
#[allow(clippy::needless_range_loop)]
#[inline(always)]
pub unsafe fn winograd_input<V: Vector>(
    e: &[*const V::Elem; 4],
    o: &[*const V::Elem; 4],
    tw: usize,
    out: *mut V::Elem,
    stride: usize,
) {
    // SAFETY (whole body): the caller's contract; loads and stores stop at `tw`
    // (`tw + 1` for the shifted loads).
    unsafe {
        let mut j = 0;
        while j < tw {
            let n = (tw - j).min(V::LANES);
            // Row r of `d B`: s[r][b].
            let mut s = [[V::zero(); 4]; 4];
            for (r, s) in s.iter_mut().enumerate() {
                let (e0, e1) = (
                    V::load_upto(e[r].add(j), n),
                    V::load_upto(e[r].add(j + 1), n),
                );
                let (o0, o1) = (
                    V::load_upto(o[r].add(j), n),
                    V::load_upto(o[r].add(j + 1), n),
                );
                *s = [e0.sub(e1), o0.add(e1), e1.sub(o0), o0.sub(o1)];
            }
            for b in 0..4 {
                let v = [
                    s[0][b].sub(s[2][b]),
                    s[1][b].add(s[2][b]),
                    s[2][b].sub(s[1][b]),
                    s[1][b].sub(s[3][b]),
                ];
                for (a, v) in v.iter().enumerate() {
                    v.store_upto(out.add((4 * a + b) * stride + j), n);
                }
            }
            j += n;
        }
    }
}

/// Writes rows of B transposed into a packed panel: `dst[i·ld + t] =
/// b[offsets[t] + i]` for tap `t < taps` and pixel `i < len` (the weight
/// gradient's B^T panels, whose taps are shifted input rows). Blocks of `LANES`
/// taps by `LANES` pixels are `LANES` loads, `log2(LANES)` rounds of
/// [`Vector::deinterleave`] and `LANES` stores: each round moves the lowest
/// bit of a value's row-major index in the block (the pixel's) to the top, so
/// after the pixel's bits have all moved, vector `j` holds pixel `j`'s taps.
/// The taps and pixels past the last whole block go one value at a time.
///
/// # Safety
/// Level supported and called from its `#[target_feature]` wrapper; `offsets`
/// holds `taps` entries, `b[offsets[t] .. + len]` is readable for each, and
/// `dst[i·ld + t]` writable for every `i < len`, `t < taps`.
#[inline(always)]
pub unsafe fn transpose_rows<V: Vector>(
    b: *const V::Elem,
    offsets: *const usize,
    taps: usize,
    len: usize,
    dst: *mut V::Elem,
    ld: usize,
) {
    // SAFETY (whole body): the caller's contract; block loads read
    // b[offsets[t + s] + i .. + LANES] with i + LANES <= len, block stores write
    // dst[(i + j)·ld + t .. + LANES] with t + LANES <= taps.
    unsafe {
        let l = V::LANES;
        let (whole_t, whole_i) = (taps - taps % l, len - len % l);
        let mut t = 0;
        while t < whole_t {
            let mut i = 0;
            while i < whole_i {
                let mut v = [V::zero(); 16];
                for (s, v) in v.iter_mut().enumerate().take(l) {
                    *v = V::load(b.add(*offsets.add(t + s) + i));
                }
                let mut round = 1;
                while round < l {
                    let mut next = [V::zero(); 16];
                    for m in 0..l / 2 {
                        (next[m], next[l / 2 + m]) = V::deinterleave(v[2 * m], v[2 * m + 1]);
                    }
                    v = next;
                    round *= 2;
                }
                for (j, v) in v.iter().enumerate().take(l) {
                    v.store(dst.add((i + j) * ld + t));
                }
                i += l;
            }
            for s in t..t + l {
                let row = b.add(*offsets.add(s));
                for i in whole_i..len {
                    *dst.add(i * ld + s) = *row.add(i);
                }
            }
            t += l;
        }
        for s in whole_t..taps {
            let row = b.add(*offsets.add(s));
            for i in 0..len {
                *dst.add(i * ld + s) = *row.add(i);
            }
        }
    }
}

/// Splits the `2·pairs` values at `src` by column: `even[k] = src[2k]`,
/// `odd[k] = src[2k + 1]` (the Winograd gather's padded rows, so that the input
/// transform reads either at unit stride), `LANES` pairs per two loads and one
/// [`Vector::deinterleave`], the last ones by lane mask.
///
/// # Safety
/// Level supported and called from its `#[target_feature]` wrapper; `src` holds
/// `2·pairs` readable elements, `even` and `odd` `pairs` writable ones each.
#[inline(always)]
pub unsafe fn split_pairs<V: Vector>(
    src: *const V::Elem,
    pairs: usize,
    even: *mut V::Elem,
    odd: *mut V::Elem,
) {
    // SAFETY (whole body): the caller's contract; each step reads
    // src[2k .. 2k + 2·LANES] (or up to 2·pairs) and writes k .. k + LANES (or
    // up to pairs) of even and odd.
    unsafe {
        let l = V::LANES;
        let mut k = 0;
        while k + l <= pairs {
            let (e, o) = V::deinterleave(V::load(src.add(2 * k)), V::load(src.add(2 * k + l)));
            e.store(even.add(k));
            o.store(odd.add(k));
            k += l;
        }
        if k < pairs {
            let n = 2 * (pairs - k);
            let a = V::load_upto(src.add(2 * k), n.min(l));
            let b = if n > l {
                V::load_partial(src.add(2 * k + l), n - l)
            } else {
                V::zero()
            };
            let (e, o) = V::deinterleave(a, b);
            e.store_partial(even.add(k), pairs - k);
            o.store_partial(odd.add(k), pairs - k);
        }
    }
}

/// The Winograd F(2×2, 3×3) output transform `Aᵀ m A + bias` of `run` tiles of
/// one tile row, `LANES` at a time: position `ξ` of tile `l` is `m[ξ][l]`; the
/// tile's outputs go to `y0[2l], y0[2l+1]` (upper row) and `y1[2l], y1[2l+1]`.
/// `Aᵀ = [[1, 1, 1, 0], [0, 1, -1, -1]]`.
///
/// # Safety
/// Level supported and called from its `#[target_feature]` wrapper; every
/// `m[ξ]` holds `run` readable elements, `y0` and `y1` `2·run` writable.
#[inline(always)]
pub unsafe fn winograd_output<V: Vector>(
    m: &[*const V::Elem; 16],
    run: usize,
    bias: V::Elem,
    y0: *mut V::Elem,
    y1: *mut V::Elem,
) {
    // SAFETY (whole body): the caller's contract; the stores of a last partial
    // group cover `2n` elements, split across the two interleaved vectors.
    unsafe {
        let l = V::LANES;
        let b = V::splat(bias);
        let mut j = 0;
        while j < run {
            let n = (run - j).min(l);
            // (No closures here: they would not inherit the target features.)
            let mut mv = [V::zero(); 16];
            for (x, v) in mv.iter_mut().enumerate() {
                *v = V::load_upto(m[x].add(j), n);
            }
            // Rows 0 and 1 of `Aᵀ m` at column c.
            let mut c = [[V::zero(); 2]; 4];
            for (k, c) in c.iter_mut().enumerate() {
                *c = [
                    mv[k].add(mv[4 + k]).add(mv[8 + k]),
                    mv[4 + k].sub(mv[8 + k]).sub(mv[12 + k]),
                ];
            }
            for (y, r) in [(y0, 0), (y1, 1)] {
                let left = c[0][r].add(c[1][r]).add(c[2][r]).add(b);
                let right = c[1][r].sub(c[2][r]).sub(c[3][r]).add(b);
                let (lo, hi) = V::interleave(left, right);
                lo.store_upto(y.add(2 * j), (2 * n).min(l));
                if 2 * n > l {
                    hi.store_upto(y.add(2 * j + l), 2 * n - l);
                }
            }
            j += n;
        }
    }
}

/// The most weight-gradient sums one pass of [`direct_grad_weight`] keeps in
/// vector registers (12 accumulators, the output gradient's vector and a spare
/// fit AVX2's 16 registers); more taps take several passes over the rows.
pub const GRAD_W_ACC: usize = 12;

/// The weight gradient of one input/output channel pair over a set of output
/// rows, in correlation form: for every kernel row `r < kh` and tap `t < taps`,
/// `out[r·taps + t] += Σ_m Σ_j x[m·xs + r·rs + t·dil + j] · g[m·gs + j]` over
/// output rows `m < rows` and columns `j < n`. Each sum is kept in vector lanes
/// across all the rows (one horizontal sum per tap and call), the taps in passes
/// of at most [`GRAD_W_ACC`] accumulators (the same for every pass size; passes
/// of few taps keep several vectors of columns per tap, so that at least 8
/// independent FMA chains cover the FMA latency). Every output-gradient vector
/// loaded serves all the pass's taps; each tap costs one unaligned load of `x`
/// per FMA, as the forward kernels' inputs do.
///
/// # Safety
/// Level supported and called from its `#[target_feature]` wrapper; with `rows
/// ≥ 1`, `x` points at `(rows-1)·xs + (kh-1)·rs + (taps-1)·dil + n` readable
/// elements, `g` at `(rows-1)·gs + n`, `out` at `kh·taps` writable ones.
#[inline(always)]
pub unsafe fn direct_grad_weight<V: Vector>(
    x: *const V::Elem,
    g: *const V::Elem,
    s: super::GradWeightRows,
    out: *mut V::Elem,
) {
    let total = s.kh * s.taps;
    if total == 0 || s.rows == 0 || s.n == 0 {
        return;
    }
    let passes = total.div_ceil(GRAD_W_ACC);
    let mut a0 = 0;
    for pass in 0..passes {
        // Passes of nearly equal size (9 taps: one of 9; 25: 9, 8, 8).
        let a1 = a0 + (total - a0).div_ceil(passes - pass);
        let mut off = [0usize; GRAD_W_ACC];
        for (o, a) in off.iter_mut().zip(a0..a1) {
            *o = a / s.taps * s.rs + a % s.taps * s.dil;
        }
        // SAFETY: the caller's contract; every pass reads within it and writes
        // `out[a0..a1]`.
        unsafe {
            let o = out.add(a0);
            macro_rules! pass {
                ($($na:literal => $u:literal),*) => {
                    match a1 - a0 {
                        $($na => grad_weight_pass::<V, $na, $u>(x, g, &off, s, o),)*
                        _ => unreachable!("a pass holds 1 to GRAD_W_ACC taps"),
                    }
                };
            }
            pass!(1 => 8, 2 => 4, 3 => 3, 4 => 2, 5 => 2, 6 => 2, 7 => 1, 8 => 1,
                  9 => 1, 10 => 1, 11 => 1, 12 => 1);
        }
        a0 = a1;
    }
}

/// One pass of [`direct_grad_weight`]: `NA` taps at offsets `off` from a row's
/// start, `U` vectors of columns per tap at a time.
///
/// # Safety
/// As [`direct_grad_weight`], for the pass's taps and `out[..NA]`.
#[inline(always)]
#[allow(clippy::needless_range_loop)] // acc[a][u]: both indices name registers
unsafe fn grad_weight_pass<V: Vector, const NA: usize, const U: usize>(
    x: *const V::Elem,
    g: *const V::Elem,
    off: &[usize; GRAD_W_ACC],
    s: super::GradWeightRows,
    out: *mut V::Elem,
) {
    // SAFETY (whole body): the caller's contract; column `j + w ≤ n` of a row is
    // within its `n` (or `n + offset`) elements.
    unsafe {
        let l = V::LANES;
        let mut acc = [[V::zero(); U]; NA];
        for m in 0..s.rows {
            let (xm, gm) = (x.add(m * s.xs), g.add(m * s.gs));
            let p: [*const V::Elem; NA] = std::array::from_fn(|a| xm.add(off[a]));
            let mut j = 0;
            while j + U * l <= s.n {
                for u in 0..U {
                    let gv = V::load(gm.add(j + u * l));
                    for a in 0..NA {
                        acc[a][u] = V::fmadd(V::load(p[a].add(j + u * l)), gv, acc[a][u]);
                    }
                }
                j += U * l;
            }
            while j < s.n {
                let w = (s.n - j).min(l);
                let gv = V::load_upto(gm.add(j), w);
                for a in 0..NA {
                    acc[a][0] = V::fmadd(V::load_upto(p[a].add(j), w), gv, acc[a][0]);
                }
                j += w;
            }
        }
        for (a, lanes) in acc.iter().enumerate() {
            let mut v = lanes[0];
            for x in &lanes[1..] {
                v = v.add(*x);
            }
            *out.add(a) += v.reduce_add();
        }
    }
}
