//! Packing: A into MR-row panels, and the output handle that tasks scatter their
//! finished tiles through.

use std::marker::PhantomData;

use crate::element::Element;
use crate::isa::GemmKernel;
pub use crate::isa::RowTable;

/// Packs the row-major `m × k` matrix `a` (leading dimension `lda`) into
/// `ceil(m/mr)` panels of `k × mr` values, each written `copies` times (the
/// microkernel's `a_copies`): row `r` of panel `t` at
/// `dst[((t·k + kk)·mr + r)·copies ..]`, zero-padding rows past `m`, so a
/// microkernel reads `mr` consecutive values (or groups of copies) per `kk`.
pub fn pack_a<T: Element>(
    dst: &mut [T],
    a: &[T],
    lda: usize,
    m: usize,
    k: usize,
    (mr, copies): (usize, usize),
) {
    let tiles = m.div_ceil(mr);
    let panel = k * mr * copies;
    assert!(dst.len() >= tiles * panel, "packed A buffer too short");
    if k == 0 {
        return;
    }
    for (t, panel) in dst.chunks_exact_mut(panel).take(tiles).enumerate() {
        pack_a_tile_rows(panel, a, lda, m, k, (mr, copies), t, None);
    }
}

/// Packs tile `t` (rows `t·mr ..`) of the `m × k` matrix `get(row, col)` into
/// `dst` (`k·mr·copies` values), as [`pack_a`] lays it out, so tiles can be
/// packed in parallel.
pub fn pack_a_tile<T: Element>(
    dst: &mut [T],
    m: usize,
    k: usize,
    (mr, copies): (usize, usize),
    t: usize,
    get: impl Fn(usize, usize) -> T,
) {
    let rows = mr.min(m - t * mr);
    for (kk, dst) in dst[..k * mr * copies]
        .chunks_exact_mut(mr * copies)
        .enumerate()
    {
        for (r, d) in dst.chunks_exact_mut(copies).enumerate() {
            d.fill(if r < rows {
                get(t * mr + r, kk)
            } else {
                T::ZERO
            });
        }
    }
}

/// Packs tile `t` like [`pack_a_tile`] from a row-major matrix: row `r` is
/// `a[r·lda ..]`, and column `kk` of the packed tile is column `col[kk]` of the
/// matrix (`None`: `kk` itself). Full tiles of 4 or 8 rows with one copy take a
/// loop over fixed row slices, about 3x faster than the element-wise form
/// (weights are packed on every call, 8% of a 1×1 layer with 1024 channels).
#[allow(clippy::too_many_arguments)]
pub fn pack_a_tile_rows<T: Element>(
    dst: &mut [T],
    a: &[T],
    lda: usize,
    m: usize,
    k: usize,
    (mr, copies): (usize, usize),
    t: usize,
    col: Option<&[usize]>,
) {
    let rows = mr.min(m - t * mr);
    let row = |r: usize| &a[(t * mr + r) * lda..][..lda.min(a.len() - (t * mr + r) * lda)];
    match (mr, rows, copies, col) {
        (8, 8, 1, None) => pack_full::<T, 8>(dst, std::array::from_fn(row), k, |kk| kk),
        (8, 8, 1, Some(c)) => pack_full::<T, 8>(dst, std::array::from_fn(row), k, |kk| c[kk]),
        (4, 4, 1, None) => pack_full::<T, 4>(dst, std::array::from_fn(row), k, |kk| kk),
        (4, 4, 1, Some(c)) => pack_full::<T, 4>(dst, std::array::from_fn(row), k, |kk| c[kk]),
        _ => pack_a_tile(dst, m, k, (mr, copies), t, |r, kk| {
            a[r * lda + col.map_or(kk, |c| c[kk])]
        }),
    }
}

fn pack_full<T: Element, const MR: usize>(
    dst: &mut [T],
    rows: [&[T]; MR],
    k: usize,
    col: impl Fn(usize) -> usize,
) {
    for (kk, d) in dst[..k * MR].chunks_exact_mut(MR).enumerate() {
        let c = col(kk);
        for (d, row) in d.iter_mut().zip(&rows) {
            *d = row[c];
        }
    }
}

/// Length of [`pack_a`]'s output. Saturating: a size no buffer has, never a
/// wrapped one.
pub fn packed_a_len(m: usize, k: usize, (mr, copies): (usize, usize)) -> usize {
    m.div_ceil(mr).saturating_mul(mr * copies).saturating_mul(k)
}

/// A mutable output buffer shared by tasks that write disjoint parts of it.
#[derive(Debug)]
///
/// Bounds are checked on every write; disjointness is the caller's invariant (each
/// task owns a set of output elements fixed by the task partition).
pub struct SharedOut<'a, T> {
    ptr: *mut T,
    len: usize,
    _borrow: PhantomData<&'a mut [T]>,
}

// SAFETY: tasks only write disjoint elements (the `write` contract), and `T: Send`.
unsafe impl<T: Send> Sync for SharedOut<'_, T> {}
// SAFETY: as above; the handle is a borrowed `&mut [T]`.
unsafe impl<T: Send> Send for SharedOut<'_, T> {}

impl<'a, T: Copy> SharedOut<'a, T> {
    pub fn new(out: &'a mut [T]) -> Self {
        SharedOut {
            ptr: out.as_mut_ptr(),
            len: out.len(),
            _borrow: PhantomData,
        }
    }

    /// Writes `src` at `offset`.
    ///
    /// # Safety
    /// No other task reads or writes `offset..offset + src.len()` concurrently.
    ///
    /// # Panics
    /// If the range lies outside the buffer.
    #[inline]
    pub unsafe fn write(&self, offset: usize, src: &[T]) {
        assert!(
            offset <= self.len && src.len() <= self.len - offset,
            "output write out of bounds"
        );
        // SAFETY: in bounds (assert above); exclusive by the caller's contract.
        unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), self.ptr.add(offset), src.len()) }
    }

    /// The elements `offset..offset + n` as a mutable slice.
    ///
    /// # Safety
    /// No other task reads or writes that range while the slice lives.
    ///
    /// # Panics
    /// If the range lies outside the buffer.
    #[allow(clippy::mut_from_ref)]
    #[inline]
    pub unsafe fn slice_mut(&self, offset: usize, n: usize) -> &mut [T] {
        assert!(
            offset <= self.len && n <= self.len - offset,
            "output range out of bounds"
        );
        // SAFETY: in bounds (assert above); exclusive by the caller's contract.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.add(offset), n) }
    }

    /// The elements `offset..offset + n` as a shared slice.
    ///
    /// # Safety
    /// No task writes that range while the slice lives.
    ///
    /// # Panics
    /// If the range lies outside the buffer.
    #[inline]
    pub unsafe fn slice(&self, offset: usize, n: usize) -> &[T] {
        assert!(
            offset <= self.len && n <= self.len - offset,
            "output range out of bounds"
        );
        // SAFETY: in bounds (assert above); unwritten by the caller's contract.
        unsafe { std::slice::from_raw_parts(self.ptr.add(offset), n) }
    }

    /// Runs `kern`'s tile with its C rows at `offset + r·ldc .. + NR` (`r < MR`) of
    /// this buffer: a tile accumulated in place in the output.
    ///
    /// # Safety
    /// No other task reads or writes those rows' `NR` elements during the call.
    ///
    /// # Panics
    /// If the rows leave the buffer, or `a` / `b` are too short for the tile.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    pub unsafe fn tile(
        &self,
        kern: &GemmKernel<T>,
        kc: usize,
        a: &[T],
        b: &[T],
        offset: usize,
        ldc: usize,
        accumulate: bool,
    ) where
        T: Element,
    {
        let end = (kern.mr - 1)
            .checked_mul(ldc)
            .and_then(|e| e.checked_add(offset))
            .and_then(|e| e.checked_add(kern.nr));
        assert!(
            ldc >= kern.nr && end.is_some_and(|e| e <= self.len),
            "output tile out of bounds"
        );
        // SAFETY: rows offset + r·ldc .. + NR (r < MR) lie in the buffer (assert);
        // exclusive by the caller's contract.
        unsafe { kern.tile_strided(kc, a, b, self.ptr.add(offset), ldc, accumulate) }
    }

    /// Runs `kern`'s in-place tile ([`GemmKernel::tile_rows_out`]) for the
    /// tiles `tiles`, storing into this buffer: row `r` of tile `t`, part `p`
    /// at `at + (t·MR + r)·ldc + p.off + p.lo .. + p.hi`. Checked once for all
    /// the tiles.
    ///
    /// # Safety
    /// No other task reads or writes those elements during the call.
    ///
    /// # Panics
    /// If a part leaves the buffer, or as `tile_rows_out`.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    pub unsafe fn tile_rows_out(
        &self,
        kern: &GemmKernel<T>,
        kc: usize,
        (a, a_tile, tiles): (&[T], usize, std::ops::Range<usize>),
        (b, rows): (&[T], &RowTable),
        (k0, col): (usize, usize),
        (at, ldc): (usize, usize),
        parts: &[crate::isa::microkernel::OutPart],
        bias: Option<&[T]>,
        accumulate: bool,
    ) where
        T: Element,
    {
        // The first and last output rows of the tiles.
        let row = |r: usize| r.checked_mul(ldc).and_then(|e| e.checked_add(at));
        let (first, last) = (
            tiles.start.checked_mul(kern.mr).and_then(row),
            (tiles.end * kern.mr).checked_sub(1).and_then(row),
        );
        let inside = |p: &crate::isa::microkernel::OutPart| {
            p.hi <= p.lo
                || first
                    .and_then(|s| (s as isize).checked_add(p.off))
                    .and_then(|s| s.checked_add(p.lo as isize))
                    .is_some_and(|s| s >= 0)
                    && last
                        .and_then(|e| (e as isize).checked_add(p.off))
                        .and_then(|e| e.checked_add(p.hi as isize))
                        .is_some_and(|e| e >= 0 && e as usize <= self.len)
        };
        assert!(
            tiles.is_empty() || parts.iter().all(inside),
            "output tile out of bounds"
        );
        // SAFETY: every part of every row of the tiles lies in the buffer
        // (assert: rows are ldc apart, the first at `first`, the last at
        // `last`); exclusive by the caller's contract. `self.ptr.wrapping_add(at)`
        // is offset by the kernel only to the asserted elements.
        unsafe {
            kern.tile_rows_out(
                kc,
                (a, a_tile),
                tiles,
                b,
                rows,
                (k0, col),
                self.ptr.wrapping_add(at),
                ldc,
                parts,
                bias,
                accumulate,
            )
        }
    }

    /// Applies `f` to each element of `offset..offset + n`.
    ///
    /// # Safety
    /// As [`write`](Self::write).
    ///
    /// # Panics
    /// If the range lies outside the buffer.
    #[inline]
    pub unsafe fn update(&self, offset: usize, n: usize, f: impl Fn(usize, &mut T)) {
        assert!(
            offset <= self.len && n <= self.len - offset,
            "output write out of bounds"
        );
        // SAFETY: in bounds (assert above); exclusive by the caller's contract.
        let dst = unsafe { std::slice::from_raw_parts_mut(self.ptr.add(offset), n) };
        for (i, d) in dst.iter_mut().enumerate() {
            f(i, d);
        }
    }
}

/// The padded row of `src` (`left` columns of padding before it, through
/// `mode`) split by column: `even[k]` its column `2k`, `odd[k]` its column
/// `2k + 1` (the Winograd gather, so that the transforms read either at unit
/// stride; the im2col path's two stride phases).
pub(crate) fn split_row<T: Element>(
    kern: &GemmKernel<T>,
    src: &[T],
    left: isize,
    mode: crate::geometry::PaddingMode,
    even: &mut [T],
    odd: &mut [T],
) {
    let w = src.len();
    let cols = (even.len() + odd.len()) as isize;
    // Columns c with 0 <= c - left < w copy straight from the row (`left` may
    // be negative: the row split from its column -left on).
    let lo = left.clamp(0, cols);
    let hi = (left + w as isize).clamp(lo, cols);
    // Pairs of columns (2k, 2k + 1) inside the row, then the rest.
    let (k0, k1) = ((lo + 1) / 2, hi / 2);
    if k1 > k0 {
        let src = &src[(2 * k0 - left) as usize..(2 * k1 - left) as usize];
        let (k0, k1) = (k0 as usize, k1 as usize);
        kern.split_pairs(src, &mut even[k0..k1], &mut odd[k0..k1]);
    }
    let (c0, c1) = (2 * k0, 2 * k1.max(k0));
    for c in (0..c0).chain(c1..cols) {
        let v = mode.source(c - left, w).map_or(T::ZERO, |s| src[s]);
        let c = c as usize;
        if c.is_multiple_of(2) {
            even[c / 2] = v;
        } else {
            odd[c / 2] = v;
        }
    }
}
