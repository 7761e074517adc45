//! Portable SIMD on the `wide` crate: `Vector` and the kernel entry points.
//!
//! `wide` chooses its implementation when the crate is compiled (SSE2 halves on a
//! default x86-64 build, AVX with `-C target-cpu=...`, NEON on aarch64), so this is
//! the fallback for CPUs without the run-time-dispatched levels, not a dispatched
//! level itself. Partial vectors go through a small array: no memory past `n` is
//! touched.

use wide::{f32x8, f64x4};

use super::microkernel;
use super::vector::Vector;
use super::{GradWeightRows, InPlaceRows};

/// GEMM tile rows and vectors per row. `wide`'s 8-lane f32 (4-lane f64) vector is
/// two SSE registers on a baseline x86-64 build, which has 16: a 4 × 3-vector
/// tile's 24 accumulator registers spill there, so such builds take one vector
/// per row (res3x3 6.5 -> 5.25 ms). With A values packed as 128-bit copies
/// (`A_COPIES`, no broadcast shuffles) a row costs two registers of accumulators
/// and one of A, so 6 rows fit: 12 accumulators, 2 for B, 2 temporaries (res3x3
/// 4.83-4.89 -> 4.76-4.77 ms against 4 rows, same run). With AVX (or on
/// aarch64's 32 NEON registers) 4 × 3 fits.
#[cfg(all(target_arch = "x86_64", not(target_feature = "avx")))]
pub const NV: usize = 1;
#[cfg(not(all(target_arch = "x86_64", not(target_feature = "avx"))))]
pub const NV: usize = 3;
/// Tile rows (see [`NV`]).
#[cfg(all(target_arch = "x86_64", not(target_feature = "avx")))]
pub const MR: usize = 6;
#[cfg(not(all(target_arch = "x86_64", not(target_feature = "avx"))))]
pub const MR: usize = microkernel::MR_NARROW;

#[derive(Clone, Copy, Debug)]
pub struct F32x8(f32x8);

#[derive(Clone, Copy, Debug)]
pub struct F64x4(f64x4);

macro_rules! portable_vector {
    ($name:ident, $wide:ident, $t:ty, $lanes:expr) => {
        impl Vector for $name {
            type Elem = $t;
            type Lanes = (usize, usize);
            const LANES: usize = $lanes;

            #[cfg(all(target_arch = "x86_64", not(target_feature = "avx")))]
            const A_COPIES: usize = 16 / core::mem::size_of::<$t>();

            /// On SSE2 builds: the 128-bit vector of copies at `p`, in both
            /// halves (one load, no `shufps` on the FP pipes that the FMA
            /// emulation keeps busy).
            #[cfg(all(target_arch = "x86_64", not(target_feature = "avx")))]
            #[inline(always)]
            unsafe fn splat_packed(p: *const $t) -> Self {
                const HALF: usize = $lanes / 2;
                // SAFETY: caller guarantees A_COPIES = HALF readable elements.
                let q = unsafe { p.cast::<[$t; HALF]>().read_unaligned() };
                let mut a = [0.0; $lanes];
                a[..HALF].copy_from_slice(&q);
                a[HALF..].copy_from_slice(&q);
                $name($wide::new(a))
            }

            #[inline(always)]
            unsafe fn zero() -> Self {
                $name($wide::splat(0.0))
            }
            #[inline(always)]
            unsafe fn splat(v: $t) -> Self {
                $name($wide::splat(v))
            }
            #[inline(always)]
            unsafe fn load(p: *const $t) -> Self {
                // SAFETY: caller guarantees LANES readable elements.
                $name($wide::new(unsafe {
                    p.cast::<[$t; $lanes]>().read_unaligned()
                }))
            }
            #[inline(always)]
            unsafe fn lanes(lo: usize, hi: usize) -> (usize, usize) {
                (lo, hi)
            }
            #[inline(always)]
            unsafe fn store_in(self, p: *mut $t, (lo, hi): (usize, usize)) {
                let a = self.0.to_array();
                // SAFETY: caller guarantees lanes lo..hi writable; hi <= LANES.
                unsafe {
                    core::ptr::copy_nonoverlapping(a[lo..hi].as_ptr(), p.wrapping_add(lo), hi - lo)
                };
            }
            #[inline(always)]
            unsafe fn load_in(p: *const $t, (lo, hi): (usize, usize)) -> Self {
                let mut a = [0.0; $lanes];
                // SAFETY: caller guarantees lanes lo..hi readable; hi <= LANES.
                unsafe {
                    core::ptr::copy_nonoverlapping(
                        p.wrapping_add(lo),
                        a[lo..hi].as_mut_ptr(),
                        hi - lo,
                    )
                };
                $name($wide::new(a))
            }
            #[inline(always)]
            unsafe fn load_partial(p: *const $t, n: usize) -> Self {
                let mut a = [0.0; $lanes];
                // SAFETY: caller guarantees n readable elements; n < LANES.
                unsafe { core::ptr::copy_nonoverlapping(p, a.as_mut_ptr(), n) };
                $name($wide::new(a))
            }
            #[inline(always)]
            unsafe fn store(self, p: *mut $t) {
                // SAFETY: caller guarantees LANES writable elements.
                unsafe { p.cast::<[$t; $lanes]>().write_unaligned(self.0.to_array()) }
            }
            #[inline(always)]
            unsafe fn store_partial(self, p: *mut $t, n: usize) {
                let a = self.0.to_array();
                // SAFETY: caller guarantees n writable elements; n < LANES.
                unsafe { core::ptr::copy_nonoverlapping(a.as_ptr(), p, n) };
            }
            #[inline(always)]
            unsafe fn fmadd(a: Self, b: Self, c: Self) -> Self {
                $name(a.0.mul_add(b.0, c.0))
            }
            #[inline(always)]
            unsafe fn add(self, o: Self) -> Self {
                $name(self.0 + o.0)
            }
            #[inline(always)]
            unsafe fn sub(self, o: Self) -> Self {
                $name(self.0 - o.0)
            }
            #[inline(always)]
            unsafe fn reduce_add(self) -> $t {
                self.0.reduce_add()
            }
            #[inline(always)]
            unsafe fn prefetch(p: *const $t) {
                prefetch::<{ PREFETCH_L1 }>(p.cast());
            }
            #[inline(always)]
            unsafe fn prefetch_l2(p: *const $t) {
                prefetch::<{ PREFETCH_L2 }>(p.cast());
            }
        }
    };
}

#[cfg(target_arch = "x86_64")]
const PREFETCH_L1: i32 = core::arch::x86_64::_MM_HINT_T0;
#[cfg(target_arch = "x86_64")]
const PREFETCH_L2: i32 = core::arch::x86_64::_MM_HINT_T1;
#[cfg(not(target_arch = "x86_64"))]
const PREFETCH_L1: i32 = 0;
#[cfg(not(target_arch = "x86_64"))]
const PREFETCH_L2: i32 = 0;

/// A prefetch hint where the target's baseline has one (SSE on every x86-64: the
/// in-place GEMM rows and the direct kernels' input streams are the same streams
/// here); a no-op elsewhere (stable Rust has no aarch64 prefetch).
#[inline(always)]
#[allow(unused_variables)]
fn prefetch<const HINT: i32>(p: *const i8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: SSE is part of the x86-64 baseline, and a prefetch never faults,
    // whatever the address.
    unsafe {
        core::arch::x86_64::_mm_prefetch::<HINT>(p)
    }
}

portable_vector!(F32x8, f32x8, f32, 8);
portable_vector!(F64x4, f64x4, f64, 4);

/// Portable f32 GEMM tile, 4 × 24.
///
/// # Safety
/// The contract of [`microkernel::gemm_tile`].
pub unsafe fn gemm_tile_f32(
    kc: usize,
    a: *const f32,
    b: *const f32,
    c: *mut f32,
    ldc: usize,
    accumulate: bool,
    vecs: usize,
) {
    // SAFETY: forwarded contract; `wide` needs no run-time feature.
    unsafe { microkernel::gemm_tile::<F32x8, MR, NV>(kc, a, b, c, ldc, accumulate, vecs) }
}

/// Portable f64 GEMM tile, 4 × 12.
///
/// # Safety
/// The contract of [`microkernel::gemm_tile`].
pub unsafe fn gemm_tile_f64(
    kc: usize,
    a: *const f64,
    b: *const f64,
    c: *mut f64,
    ldc: usize,
    accumulate: bool,
    vecs: usize,
) {
    // SAFETY: forwarded contract; `wide` needs no run-time feature.
    unsafe { microkernel::gemm_tile::<F64x4, MR, NV>(kc, a, b, c, ldc, accumulate, vecs) }
}

/// Portable f32 GEMM tile reading B rows in place ([`microkernel::gemm_tile_rows`]).
///
/// # Safety
/// The contract of [`microkernel::gemm_tile_rows`].
pub unsafe fn gemm_tile_rows_f32(
    kc: usize,
    a: *const f32,
    b: *const f32,
    offsets: *const usize,
    c: *mut f32,
    accumulate: bool,
) {
    // SAFETY: forwarded contract; `wide` needs no run-time feature.
    unsafe { microkernel::gemm_tile_rows::<F32x8, MR, NV>(kc, a, b, offsets, c, accumulate) }
}

/// Portable f64 GEMM tile reading B rows in place ([`microkernel::gemm_tile_rows`]).
///
/// # Safety
/// The contract of [`microkernel::gemm_tile_rows`].
pub unsafe fn gemm_tile_rows_f64(
    kc: usize,
    a: *const f64,
    b: *const f64,
    offsets: *const usize,
    c: *mut f64,
    accumulate: bool,
) {
    // SAFETY: forwarded contract; `wide` needs no run-time feature.
    unsafe { microkernel::gemm_tile_rows::<F64x4, MR, NV>(kc, a, b, offsets, c, accumulate) }
}

/// Packs B rows into a 3-vector-wide panel ([`microkernel::pack_b`]).
///
/// # Safety
/// The CPU supports this level; the contract of [`microkernel::pack_b`].
pub unsafe fn pack_b_f32(kc: usize, b: *const f32, offsets: *const usize, n: usize, dst: *mut f32) {
    // SAFETY: forwarded contract; compiled for this level.
    unsafe { microkernel::pack_b::<F32x8, NV>(kc, b, offsets, n, dst) }
}

/// Packs B rows into a 3-vector-wide panel ([`microkernel::pack_b`]).
///
/// # Safety
/// The CPU supports this level; the contract of [`microkernel::pack_b`].
pub unsafe fn pack_b_f64(kc: usize, b: *const f64, offsets: *const usize, n: usize, dst: *mut f64) {
    // SAFETY: forwarded contract; compiled for this level.
    unsafe { microkernel::pack_b::<F64x4, NV>(kc, b, offsets, n, dst) }
}

/// Packs B rows from runs into a 3-vector-wide panel ([`microkernel::pack_b_runs`]).
///
/// # Safety
/// The CPU supports this level; the contract of [`microkernel::pack_b_runs`].
pub unsafe fn pack_b_runs_f32(
    kc: usize,
    b: *const f32,
    offsets: *const usize,
    runs: &[(usize, usize, usize)],
    n: usize,
    dst: *mut f32,
) {
    // SAFETY: forwarded contract; compiled for this level.
    unsafe { microkernel::pack_b_runs::<F32x8, NV>(kc, b, offsets, runs, n, dst) }
}

/// Packs B rows from runs into a 3-vector-wide panel ([`microkernel::pack_b_runs`]).
///
/// # Safety
/// The CPU supports this level; the contract of [`microkernel::pack_b_runs`].
pub unsafe fn pack_b_runs_f64(
    kc: usize,
    b: *const f64,
    offsets: *const usize,
    runs: &[(usize, usize, usize)],
    n: usize,
    dst: *mut f64,
) {
    // SAFETY: forwarded contract; compiled for this level.
    unsafe { microkernel::pack_b_runs::<F64x4, NV>(kc, b, offsets, runs, n, dst) }
}

/// One direct-correlation output row segment ([`microkernel::direct_row`]).
///
/// # Safety
/// The CPU supports this level; the contract of [`microkernel::direct_row`].
#[allow(clippy::too_many_arguments)]
pub unsafe fn direct_row_f32(
    rows: &[*const f32],
    taps: usize,
    dil: usize,
    w: *const f32,
    out: *mut f32,
    n: usize,
    bias: f32,
    accumulate: bool,
    stream: bool,
) {
    // SAFETY: forwarded contract; compiled for this level.
    unsafe {
        microkernel::direct_row::<F32x8>(rows, taps, dil, w, out, n, bias, accumulate, stream)
    }
}

/// One direct-correlation output row segment ([`microkernel::direct_row`]).
///
/// # Safety
/// The CPU supports this level; the contract of [`microkernel::direct_row`].
#[allow(clippy::too_many_arguments)]
pub unsafe fn direct_row_f64(
    rows: &[*const f64],
    taps: usize,
    dil: usize,
    w: *const f64,
    out: *mut f64,
    n: usize,
    bias: f64,
    accumulate: bool,
    stream: bool,
) {
    // SAFETY: forwarded contract; compiled for this level.
    unsafe {
        microkernel::direct_row::<F64x4>(rows, taps, dil, w, out, n, bias, accumulate, stream)
    }
}

/// 2 output rows of a direct correlation at once ([`microkernel::direct_rows`]).
///
/// # Safety
/// The CPU supports this level; the contract of [`microkernel::direct_rows`]
/// with `R = 2` (`out` holds 2 row pointers).
#[allow(clippy::too_many_arguments)]
pub unsafe fn direct_rows_f32(
    inp: &[*const f32],
    kh: usize,
    taps: usize,
    dil: usize,
    w: *const f32,
    out: &[*mut f32],
    n: usize,
    bias: f32,
    accumulate: bool,
    stream: bool,
) {
    let out: &[*mut f32; 2] = out.try_into().expect("2 output rows");
    // SAFETY: forwarded contract; compiled for this level.
    unsafe {
        microkernel::direct_rows::<F32x8, 2, 4>(
            inp, kh, taps, dil, w, out, n, bias, accumulate, stream,
        )
    }
}

/// 2 output rows of a direct correlation at once ([`microkernel::direct_rows`]).
///
/// # Safety
/// The CPU supports this level; the contract of [`microkernel::direct_rows`]
/// with `R = 2` (`out` holds 2 row pointers).
#[allow(clippy::too_many_arguments)]
pub unsafe fn direct_rows_f64(
    inp: &[*const f64],
    kh: usize,
    taps: usize,
    dil: usize,
    w: *const f64,
    out: &[*mut f64],
    n: usize,
    bias: f64,
    accumulate: bool,
    stream: bool,
) {
    let out: &[*mut f64; 2] = out.try_into().expect("2 output rows");
    // SAFETY: forwarded contract; compiled for this level.
    unsafe {
        microkernel::direct_rows::<F64x4, 2, 4>(
            inp, kh, taps, dil, w, out, n, bias, accumulate, stream,
        )
    }
}

/// One direct-correlation output row segment over a list of taps
/// ([`microkernel::direct_taps`]).
///
/// # Safety
/// The CPU supports this level; the contract of [`microkernel::direct_taps`].
pub unsafe fn direct_taps_f32(
    taps: &[*const f32],
    w: *const f32,
    fetch: u64,
    out: *mut f32,
    n: usize,
    bias: f32,
    accumulate: bool,
) {
    // SAFETY: forwarded contract; compiled for this level.
    unsafe { microkernel::direct_taps::<F32x8>(taps, w, fetch, out, n, bias, accumulate) }
}

/// One direct-correlation output row segment over a list of taps
/// ([`microkernel::direct_taps`]).
///
/// # Safety
/// The CPU supports this level; the contract of [`microkernel::direct_taps`].
pub unsafe fn direct_taps_f64(
    taps: &[*const f64],
    w: *const f64,
    fetch: u64,
    out: *mut f64,
    n: usize,
    bias: f64,
    accumulate: bool,
) {
    // SAFETY: forwarded contract; compiled for this level.
    unsafe { microkernel::direct_taps::<F64x4>(taps, w, fetch, out, n, bias, accumulate) }
}

/// Whether a slice is all finite ([`microkernel::all_finite`]).
///
/// # Safety
/// The CPU supports this level; the contract of [`microkernel::all_finite`].
pub unsafe fn all_finite_f32(x: *const f32, n: usize) -> bool {
    // SAFETY: forwarded contract; compiled for this level.
    unsafe { microkernel::all_finite::<F32x8>(x, n) }
}

/// Whether a slice is all finite ([`microkernel::all_finite`]).
///
/// # Safety
/// The CPU supports this level; the contract of [`microkernel::all_finite`].
pub unsafe fn all_finite_f64(x: *const f64, n: usize) -> bool {
    // SAFETY: forwarded contract; compiled for this level.
    unsafe { microkernel::all_finite::<F64x4>(x, n) }
}

/// 2 output rows at a time from a slab of padded rows
/// ([`microkernel::direct_slab`]).
///
/// # Safety
/// The CPU supports this level; the contract of [`microkernel::direct_slab`] with
/// `R = 2`.
#[allow(clippy::too_many_arguments)]
pub unsafe fn direct_slab_f32(
    planes: &[*const f32],
    stride: usize,
    kh: usize,
    taps: usize,
    dil: usize,
    w: *const f32,
    out: *mut f32,
    width: usize,
    rows: usize,
    bias: f32,
    accumulate: bool,
) {
    // SAFETY: forwarded contract; compiled for this level.
    unsafe {
        microkernel::direct_slab::<F32x8, 2, 4>(
            planes, stride, kh, taps, dil, w, out, width, rows, bias, accumulate,
        )
    }
}

/// 2 output rows at a time from a slab of padded rows
/// ([`microkernel::direct_slab`]).
///
/// # Safety
/// The CPU supports this level; the contract of [`microkernel::direct_slab`] with
/// `R = 2`.
#[allow(clippy::too_many_arguments)]
pub unsafe fn direct_slab_f64(
    planes: &[*const f64],
    stride: usize,
    kh: usize,
    taps: usize,
    dil: usize,
    w: *const f64,
    out: *mut f64,
    width: usize,
    rows: usize,
    bias: f64,
    accumulate: bool,
) {
    // SAFETY: forwarded contract; compiled for this level.
    unsafe {
        microkernel::direct_slab::<F64x4, 2, 4>(
            planes, stride, kh, taps, dil, w, out, width, rows, bias, accumulate,
        )
    }
}

/// Copies `n` elements ([`microkernel::copy`]).
///
/// # Safety
/// The CPU supports this level; the contract of [`microkernel::copy`].
pub unsafe fn copy_f32(src: *const f32, dst: *mut f32, n: usize) {
    // SAFETY: forwarded contract; compiled for this level.
    unsafe { microkernel::copy::<F32x8>(src, dst, n) }
}

/// Copies `n` elements ([`microkernel::copy`]).
///
/// # Safety
/// The CPU supports this level; the contract of [`microkernel::copy`].
pub unsafe fn copy_f64(src: *const f64, dst: *mut f64, n: usize) {
    // SAFETY: forwarded contract; compiled for this level.
    unsafe { microkernel::copy::<F64x4>(src, dst, n) }
}

/// Rows read in place from a zero-padded input ([`microkernel::direct_in_place`]).
///
/// # Safety
/// The CPU supports this level; the contract of [`microkernel::direct_in_place`]
/// with `R = 2`.
#[allow(clippy::too_many_arguments)]
pub unsafe fn direct_in_place_f32(
    planes: &[*const f32],
    zero: *const f32,
    g: InPlaceRows,
    kernel: (usize, usize, usize),
    w: *const f32,
    out: *mut f32,
    shape: (usize, usize),
    bias: f32,
    accumulate: bool,
) {
    // SAFETY: forwarded contract; compiled for this level.
    unsafe {
        microkernel::direct_in_place::<F32x8, 2, 4>(
            planes, zero, g, kernel, w, out, shape, bias, accumulate,
        )
    }
}

/// Rows read in place from a zero-padded input ([`microkernel::direct_in_place`]).
///
/// # Safety
/// The CPU supports this level; the contract of [`microkernel::direct_in_place`]
/// with `R = 2`.
#[allow(clippy::too_many_arguments)]
pub unsafe fn direct_in_place_f64(
    planes: &[*const f64],
    zero: *const f64,
    g: InPlaceRows,
    kernel: (usize, usize, usize),
    w: *const f64,
    out: *mut f64,
    shape: (usize, usize),
    bias: f64,
    accumulate: bool,
) {
    // SAFETY: forwarded contract; compiled for this level.
    unsafe {
        microkernel::direct_in_place::<F64x4, 2, 4>(
            planes, zero, g, kernel, w, out, shape, bias, accumulate,
        )
    }
}

/// The Winograd input transform of one tile row ([`microkernel::winograd_input`]).
///
/// # Safety
/// The CPU supports this level; the contract of [`microkernel::winograd_input`].
pub unsafe fn winograd_input_f32(
    e: &[*const f32; 4],
    o: &[*const f32; 4],
    tw: usize,
    out: *mut f32,
    stride: usize,
) {
    // SAFETY: forwarded contract; compiled for this level.
    unsafe { microkernel::winograd_input::<F32x8>(e, o, tw, out, stride) }
}

/// The Winograd output transform of a run of tiles ([`microkernel::winograd_output`]).
///
/// # Safety
/// The CPU supports this level; the contract of [`microkernel::winograd_output`].
pub unsafe fn winograd_output_f32(
    m: &[*const f32; 16],
    run: usize,
    bias: f32,
    y0: *mut f32,
    y1: *mut f32,
) {
    // SAFETY: forwarded contract; compiled for this level.
    unsafe { microkernel::winograd_output::<F32x8>(m, run, bias, y0, y1) }
}

/// The Winograd input transform of one tile row ([`microkernel::winograd_input`]).
///
/// # Safety
/// The CPU supports this level; the contract of [`microkernel::winograd_input`].
pub unsafe fn winograd_input_f64(
    e: &[*const f64; 4],
    o: &[*const f64; 4],
    tw: usize,
    out: *mut f64,
    stride: usize,
) {
    // SAFETY: forwarded contract; compiled for this level.
    unsafe { microkernel::winograd_input::<F64x4>(e, o, tw, out, stride) }
}

/// The Winograd output transform of a run of tiles ([`microkernel::winograd_output`]).
///
/// # Safety
/// The CPU supports this level; the contract of [`microkernel::winograd_output`].
pub unsafe fn winograd_output_f64(
    m: &[*const f64; 16],
    run: usize,
    bias: f64,
    y0: *mut f64,
    y1: *mut f64,
) {
    // SAFETY: forwarded contract; compiled for this level.
    unsafe { microkernel::winograd_output::<F64x4>(m, run, bias, y0, y1) }
}

/// Splits a row into its even and odd columns ([`microkernel::split_pairs`]).
///
/// # Safety
/// The contract of [`microkernel::split_pairs`].
pub unsafe fn split_pairs_f32(src: *const f32, pairs: usize, even: *mut f32, odd: *mut f32) {
    // SAFETY: forwarded contract.
    unsafe { microkernel::split_pairs::<F32x8>(src, pairs, even, odd) }
}

/// Splits a row into its even and odd columns ([`microkernel::split_pairs`]).
///
/// # Safety
/// The contract of [`microkernel::split_pairs`].
pub unsafe fn split_pairs_f64(src: *const f64, pairs: usize, even: *mut f64, odd: *mut f64) {
    // SAFETY: forwarded contract.
    unsafe { microkernel::split_pairs::<F64x4>(src, pairs, even, odd) }
}

/// One channel pair's weight gradient ([`microkernel::direct_grad_weight`]).
///
/// # Safety
/// The CPU supports this level; the contract of [`microkernel::direct_grad_weight`].
pub unsafe fn direct_grad_weight_f32(
    x: *const f32,
    g: *const f32,
    s: GradWeightRows,
    out: *mut f32,
) {
    // SAFETY: forwarded contract; compiled for this level.
    unsafe { microkernel::direct_grad_weight::<F32x8>(x, g, s, out) }
}

/// One channel pair's weight gradient ([`microkernel::direct_grad_weight`]).
///
/// # Safety
/// The CPU supports this level; the contract of [`microkernel::direct_grad_weight`].
pub unsafe fn direct_grad_weight_f64(
    x: *const f64,
    g: *const f64,
    s: GradWeightRows,
    out: *mut f64,
) {
    // SAFETY: forwarded contract; compiled for this level.
    unsafe { microkernel::direct_grad_weight::<F64x4>(x, g, s, out) }
}
