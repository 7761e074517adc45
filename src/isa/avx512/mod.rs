//! AVX-512F: `Vector` on zmm registers and the `#[target_feature]` entry points.
//!
//! Edge lanes use mask registers (`maskz_loadu` / `mask_storeu`), which suppress
//! faults on masked-out lanes, so a partial vector never touches memory past its end.

use core::arch::x86_64::*;

use super::microkernel::{self, MR_WIDE};
use super::vector::Vector;
use super::{GradWeightRows, InPlaceRows};

/// 16 × f32 in a zmm register.
#[derive(Clone, Copy, Debug)]
pub struct F32x16(__m512);

/// 8 × f64 in a zmm register.
#[derive(Clone, Copy, Debug)]
pub struct F64x8(__m512d);

impl Vector for F32x16 {
    type Elem = f32;
    type Lanes = __mmask16;
    const LANES: usize = 16;

    #[inline(always)]
    unsafe fn zero() -> Self {
        // SAFETY: the caller runs on a CPU with this level (trait contract).
        unsafe { F32x16(_mm512_setzero_ps()) }
    }
    #[inline(always)]
    unsafe fn splat(v: f32) -> Self {
        // SAFETY: the caller runs on a CPU with this level (trait contract).
        unsafe { F32x16(_mm512_set1_ps(v)) }
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        // SAFETY: caller guarantees 16 readable elements.
        F32x16(unsafe { _mm512_loadu_ps(p) })
    }
    #[inline(always)]
    unsafe fn lanes(lo: usize, hi: usize) -> __mmask16 {
        (((1u32 << hi) - 1) & !((1u32 << lo) - 1)) as __mmask16
    }
    #[inline(always)]
    unsafe fn store_in(self, p: *mut f32, m: __mmask16) {
        // SAFETY: only the lanes of m are written, and the caller guarantees they
        // are writable; masked lanes are not accessed and do not fault.
        unsafe { _mm512_mask_storeu_ps(p, m, self.0) }
    }
    #[inline(always)]
    unsafe fn load_in(p: *const f32, m: __mmask16) -> Self {
        // SAFETY: only the lanes of m are enabled, and the caller guarantees they
        // are readable; masked lanes are not accessed and do not fault.
        F32x16(unsafe { _mm512_maskz_loadu_ps(m, p) })
    }
    #[inline(always)]
    unsafe fn load_partial(p: *const f32, n: usize) -> Self {
        // SAFETY: only the first n lanes are enabled; masked lanes do not fault.
        F32x16(unsafe { _mm512_maskz_loadu_ps(((1u32 << n) - 1) as __mmask16, p) })
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        // SAFETY: caller guarantees 16 writable elements.
        unsafe { _mm512_storeu_ps(p, self.0) }
    }
    const STREAMS: bool = true;
    #[inline(always)]
    unsafe fn store_stream(self, p: *mut f32) {
        // SAFETY: caller guarantees 16 writable elements, 64-byte aligned.
        unsafe { _mm512_stream_ps(p, self.0) }
    }
    #[inline(always)]
    unsafe fn fence() {
        // SAFETY: SFENCE has no operands.
        unsafe { _mm_sfence() }
    }
    #[inline(always)]
    unsafe fn store_partial(self, p: *mut f32, n: usize) {
        // SAFETY: only the first n lanes are written.
        unsafe { _mm512_mask_storeu_ps(p, ((1u32 << n) - 1) as __mmask16, self.0) }
    }
    #[inline(always)]
    unsafe fn fmadd(a: Self, b: Self, c: Self) -> Self {
        // SAFETY: the caller runs on a CPU with this level (trait contract).
        unsafe { F32x16(_mm512_fmadd_ps(a.0, b.0, c.0)) }
    }
    #[inline(always)]
    unsafe fn add(self, o: Self) -> Self {
        // SAFETY: the caller runs on a CPU with this level (trait contract).
        unsafe { F32x16(_mm512_add_ps(self.0, o.0)) }
    }
    #[inline(always)]
    unsafe fn sub(self, o: Self) -> Self {
        // SAFETY: the caller runs on a CPU with this level (trait contract).
        unsafe { F32x16(_mm512_sub_ps(self.0, o.0)) }
    }
    #[inline(always)]
    unsafe fn interleave(a: Self, b: Self) -> (Self, Self) {
        // SAFETY: register-only; the caller runs on a CPU with this level.
        unsafe {
            let lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
            let hi =
                _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
            (
                F32x16(_mm512_permutex2var_ps(a.0, lo, b.0)),
                F32x16(_mm512_permutex2var_ps(a.0, hi, b.0)),
            )
        }
    }
    const SHIFTS: bool = true;
    const REGISTERS: usize = 32;
    #[inline(always)]
    unsafe fn shift<const K: usize>(a: Self, b: Self) -> Self {
        // SAFETY: register-only; the caller runs on a CPU with this level.
        // (VALIGND takes its shift as an immediate: one arm per K, the match
        // resolved at compile time.)
        unsafe {
            let (a, b) = (_mm512_castps_si512(a.0), _mm512_castps_si512(b.0));
            F32x16(_mm512_castsi512_ps(match K {
                1 => _mm512_alignr_epi32::<1>(b, a),
                2 => _mm512_alignr_epi32::<2>(b, a),
                3 => _mm512_alignr_epi32::<3>(b, a),
                4 => _mm512_alignr_epi32::<4>(b, a),
                5 => _mm512_alignr_epi32::<5>(b, a),
                6 => _mm512_alignr_epi32::<6>(b, a),
                7 => _mm512_alignr_epi32::<7>(b, a),
                8 => _mm512_alignr_epi32::<8>(b, a),
                9 => _mm512_alignr_epi32::<9>(b, a),
                10 => _mm512_alignr_epi32::<10>(b, a),
                11 => _mm512_alignr_epi32::<11>(b, a),
                12 => _mm512_alignr_epi32::<12>(b, a),
                13 => _mm512_alignr_epi32::<13>(b, a),
                14 => _mm512_alignr_epi32::<14>(b, a),
                15 => _mm512_alignr_epi32::<15>(b, a),
                _ => a,
            }))
        }
    }
    #[inline(always)]
    unsafe fn deinterleave(a: Self, b: Self) -> (Self, Self) {
        // SAFETY: register-only; the caller runs on a CPU with this level.
        unsafe {
            let even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
            let odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
            (
                F32x16(_mm512_permutex2var_ps(a.0, even, b.0)),
                F32x16(_mm512_permutex2var_ps(a.0, odd, b.0)),
            )
        }
    }
    #[inline(always)]
    unsafe fn prefetch(p: *const f32) {
        // SAFETY: prefetching never faults, whatever the address.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(p.cast()) }
    }
    #[inline(always)]
    unsafe fn prefetch_l2(p: *const f32) {
        // SAFETY: as `prefetch`.
        unsafe { _mm_prefetch::<_MM_HINT_T1>(p.cast()) }
    }
    #[inline(always)]
    unsafe fn prefetch_write(p: *const f32) {
        // SAFETY: as `prefetch` (PREFETCHW; a no-op hint on cores without it).
        unsafe { _mm_prefetch::<_MM_HINT_ET0>(p.cast()) }
    }
    #[inline(always)]
    unsafe fn reduce_add(self) -> f32 {
        // SAFETY: the caller runs on a CPU with this level (trait contract).
        unsafe { _mm512_reduce_add_ps(self.0) }
    }
}

impl Vector for F64x8 {
    type Elem = f64;
    type Lanes = __mmask8;
    const LANES: usize = 8;

    #[inline(always)]
    unsafe fn zero() -> Self {
        // SAFETY: the caller runs on a CPU with this level (trait contract).
        unsafe { F64x8(_mm512_setzero_pd()) }
    }
    #[inline(always)]
    unsafe fn splat(v: f64) -> Self {
        // SAFETY: the caller runs on a CPU with this level (trait contract).
        unsafe { F64x8(_mm512_set1_pd(v)) }
    }
    #[inline(always)]
    unsafe fn load(p: *const f64) -> Self {
        // SAFETY: caller guarantees 8 readable elements.
        F64x8(unsafe { _mm512_loadu_pd(p) })
    }
    #[inline(always)]
    unsafe fn lanes(lo: usize, hi: usize) -> __mmask8 {
        (((1u32 << hi) - 1) & !((1u32 << lo) - 1)) as __mmask8
    }
    #[inline(always)]
    unsafe fn store_in(self, p: *mut f64, m: __mmask8) {
        // SAFETY: only the lanes of m are written, and the caller guarantees they
        // are writable; masked lanes are not accessed and do not fault.
        unsafe { _mm512_mask_storeu_pd(p, m, self.0) }
    }
    #[inline(always)]
    unsafe fn load_in(p: *const f64, m: __mmask8) -> Self {
        // SAFETY: only the lanes of m are enabled, and the caller guarantees they
        // are readable; masked lanes are not accessed and do not fault.
        F64x8(unsafe { _mm512_maskz_loadu_pd(m, p) })
    }
    #[inline(always)]
    unsafe fn load_partial(p: *const f64, n: usize) -> Self {
        // SAFETY: only the first n lanes are enabled; masked lanes do not fault.
        F64x8(unsafe { _mm512_maskz_loadu_pd(((1u32 << n) - 1) as __mmask8, p) })
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f64) {
        // SAFETY: caller guarantees 8 writable elements.
        unsafe { _mm512_storeu_pd(p, self.0) }
    }
    const STREAMS: bool = true;
    #[inline(always)]
    unsafe fn store_stream(self, p: *mut f64) {
        // SAFETY: caller guarantees 8 writable elements, 64-byte aligned.
        unsafe { _mm512_stream_pd(p, self.0) }
    }
    #[inline(always)]
    unsafe fn fence() {
        // SAFETY: SFENCE has no operands.
        unsafe { _mm_sfence() }
    }
    #[inline(always)]
    unsafe fn store_partial(self, p: *mut f64, n: usize) {
        // SAFETY: only the first n lanes are written.
        unsafe { _mm512_mask_storeu_pd(p, ((1u32 << n) - 1) as __mmask8, self.0) }
    }
    #[inline(always)]
    unsafe fn fmadd(a: Self, b: Self, c: Self) -> Self {
        // SAFETY: the caller runs on a CPU with this level (trait contract).
        unsafe { F64x8(_mm512_fmadd_pd(a.0, b.0, c.0)) }
    }
    #[inline(always)]
    unsafe fn add(self, o: Self) -> Self {
        // SAFETY: the caller runs on a CPU with this level (trait contract).
        unsafe { F64x8(_mm512_add_pd(self.0, o.0)) }
    }
    #[inline(always)]
    unsafe fn sub(self, o: Self) -> Self {
        // SAFETY: the caller runs on a CPU with this level (trait contract).
        unsafe { F64x8(_mm512_sub_pd(self.0, o.0)) }
    }
    #[inline(always)]
    unsafe fn interleave(a: Self, b: Self) -> (Self, Self) {
        // SAFETY: register-only; the caller runs on a CPU with this level.
        unsafe {
            let lo = _mm512_setr_epi64(0, 8, 1, 9, 2, 10, 3, 11);
            let hi = _mm512_setr_epi64(4, 12, 5, 13, 6, 14, 7, 15);
            (
                F64x8(_mm512_permutex2var_pd(a.0, lo, b.0)),
                F64x8(_mm512_permutex2var_pd(a.0, hi, b.0)),
            )
        }
    }
    const SHIFTS: bool = true;
    const REGISTERS: usize = 32;
    #[inline(always)]
    unsafe fn shift<const K: usize>(a: Self, b: Self) -> Self {
        // SAFETY: register-only; the caller runs on a CPU with this level.
        // (VALIGNQ takes its shift as an immediate: one arm per K.)
        unsafe {
            let (a, b) = (_mm512_castpd_si512(a.0), _mm512_castpd_si512(b.0));
            F64x8(_mm512_castsi512_pd(match K {
                1 => _mm512_alignr_epi64::<1>(b, a),
                2 => _mm512_alignr_epi64::<2>(b, a),
                3 => _mm512_alignr_epi64::<3>(b, a),
                4 => _mm512_alignr_epi64::<4>(b, a),
                5 => _mm512_alignr_epi64::<5>(b, a),
                6 => _mm512_alignr_epi64::<6>(b, a),
                7 => _mm512_alignr_epi64::<7>(b, a),
                _ => a,
            }))
        }
    }
    #[inline(always)]
    unsafe fn deinterleave(a: Self, b: Self) -> (Self, Self) {
        // SAFETY: register-only; the caller runs on a CPU with this level.
        unsafe {
            let even = _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14);
            let odd = _mm512_setr_epi64(1, 3, 5, 7, 9, 11, 13, 15);
            (
                F64x8(_mm512_permutex2var_pd(a.0, even, b.0)),
                F64x8(_mm512_permutex2var_pd(a.0, odd, b.0)),
            )
        }
    }
    #[inline(always)]
    unsafe fn prefetch(p: *const f64) {
        // SAFETY: prefetching never faults, whatever the address.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(p.cast()) }
    }
    #[inline(always)]
    unsafe fn prefetch_l2(p: *const f64) {
        // SAFETY: as `prefetch`.
        unsafe { _mm_prefetch::<_MM_HINT_T1>(p.cast()) }
    }
    #[inline(always)]
    unsafe fn prefetch_write(p: *const f64) {
        // SAFETY: as `prefetch` (PREFETCHW; a no-op hint on cores without it).
        unsafe { _mm_prefetch::<_MM_HINT_ET0>(p.cast()) }
    }
    #[inline(always)]
    unsafe fn reduce_add(self) -> f64 {
        // SAFETY: the caller runs on a CPU with this level (trait contract).
        unsafe { _mm512_reduce_add_pd(self.0) }
    }
}

/// AVX-512 f32 GEMM tile, 8 × 48.
///
/// # Safety
/// The CPU supports AVX-512F; the contract of [`microkernel::gemm_tile`].
#[target_feature(enable = "avx512f")]
pub unsafe fn gemm_tile_f32(
    kc: usize,
    a: *const f32,
    b: *const f32,
    c: *mut f32,
    ldc: usize,
    accumulate: bool,
    vecs: usize,
) {
    // SAFETY: forwarded contract; this fn is compiled with AVX-512F.
    unsafe { microkernel::gemm_tile::<F32x16, MR_WIDE, 3>(kc, a, b, c, ldc, accumulate, vecs) }
}

/// AVX-512 f64 GEMM tile, 8 × 24.
///
/// # Safety
/// The CPU supports AVX-512F; the contract of [`microkernel::gemm_tile`].
#[target_feature(enable = "avx512f")]
pub unsafe fn gemm_tile_f64(
    kc: usize,
    a: *const f64,
    b: *const f64,
    c: *mut f64,
    ldc: usize,
    accumulate: bool,
    vecs: usize,
) {
    // SAFETY: forwarded contract; this fn is compiled with AVX-512F.
    unsafe { microkernel::gemm_tile::<F64x8, MR_WIDE, 3>(kc, a, b, c, ldc, accumulate, vecs) }
}

/// AVX-512 f32 GEMM tile reading B rows in place ([`microkernel::gemm_tile_rows`]).
///
/// # Safety
/// The CPU supports AVX-512F; the contract of [`microkernel::gemm_tile_rows`].
#[target_feature(enable = "avx512f")]
pub unsafe fn gemm_tile_rows_f32(
    kc: usize,
    a: *const f32,
    b: *const f32,
    offsets: *const usize,
    c: *mut f32,
    accumulate: bool,
) {
    // SAFETY: forwarded contract; compiled for this level.
    unsafe { microkernel::gemm_tile_rows::<F32x16, MR_WIDE, 3>(kc, a, b, offsets, c, accumulate) }
}

/// AVX-512 f64 GEMM tile reading B rows in place ([`microkernel::gemm_tile_rows`]).
///
/// # Safety
/// The CPU supports AVX-512F; the contract of [`microkernel::gemm_tile_rows`].
#[target_feature(enable = "avx512f")]
pub unsafe fn gemm_tile_rows_f64(
    kc: usize,
    a: *const f64,
    b: *const f64,
    offsets: *const usize,
    c: *mut f64,
    accumulate: bool,
) {
    // SAFETY: forwarded contract; compiled for this level.
    unsafe { microkernel::gemm_tile_rows::<F64x8, MR_WIDE, 3>(kc, a, b, offsets, c, accumulate) }
}

/// AVX-512 f32 GEMM tile reading B rows in place and storing into the output
/// ([`microkernel::gemm_tile_rows_out`]).
///
/// # Safety
/// The CPU supports AVX-512F; the contract of [`microkernel::gemm_tile_rows_out`].
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx512f")]
pub unsafe fn gemm_tile_rows_out_f32(
    kc: usize,
    a: *const f32,
    b: *const f32,
    offsets: *const usize,
    out: *mut f32,
    ldc: usize,
    parts: *const microkernel::OutPart,
    bias: *const f32,
    accumulate: bool,
    prefetch: bool,
) {
    // SAFETY: forwarded contract; compiled for this level.
    unsafe {
        microkernel::gemm_tile_rows_out::<F32x16, MR_WIDE, 3>(
            kc, a, b, offsets, out, ldc, parts, bias, accumulate, prefetch,
        )
    }
}

/// AVX-512 f64 GEMM tile reading B rows in place and storing into the output
/// ([`microkernel::gemm_tile_rows_out`]).
///
/// # Safety
/// The CPU supports AVX-512F; the contract of [`microkernel::gemm_tile_rows_out`].
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx512f")]
pub unsafe fn gemm_tile_rows_out_f64(
    kc: usize,
    a: *const f64,
    b: *const f64,
    offsets: *const usize,
    out: *mut f64,
    ldc: usize,
    parts: *const microkernel::OutPart,
    bias: *const f64,
    accumulate: bool,
    prefetch: bool,
) {
    // SAFETY: forwarded contract; compiled for this level.
    unsafe {
        microkernel::gemm_tile_rows_out::<F64x8, MR_WIDE, 3>(
            kc, a, b, offsets, out, ldc, parts, bias, accumulate, prefetch,
        )
    }
}

/// Packs B rows into a 3-vector-wide panel ([`microkernel::pack_b`]).
///
/// # Safety
/// The CPU supports this level; the contract of [`microkernel::pack_b`].
#[target_feature(enable = "avx512f")]
pub unsafe fn pack_b_f32(kc: usize, b: *const f32, offsets: *const usize, n: usize, dst: *mut f32) {
    // SAFETY: forwarded contract; compiled for this level.
    unsafe { microkernel::pack_b::<F32x16, 3>(kc, b, offsets, n, dst) }
}

/// Packs B rows into a 3-vector-wide panel ([`microkernel::pack_b`]).
///
/// # Safety
/// The CPU supports this level; the contract of [`microkernel::pack_b`].
#[target_feature(enable = "avx512f")]
pub unsafe fn pack_b_f64(kc: usize, b: *const f64, offsets: *const usize, n: usize, dst: *mut f64) {
    // SAFETY: forwarded contract; compiled for this level.
    unsafe { microkernel::pack_b::<F64x8, 3>(kc, b, offsets, n, dst) }
}

/// Packs B rows from runs into a 3-vector-wide panel ([`microkernel::pack_b_runs`]).
///
/// # Safety
/// The CPU supports this level; the contract of [`microkernel::pack_b_runs`].
#[target_feature(enable = "avx512f")]
pub unsafe fn pack_b_runs_f32(
    kc: usize,
    b: *const f32,
    offsets: *const usize,
    runs: &[(usize, usize, usize)],
    n: usize,
    dst: *mut f32,
) {
    // SAFETY: forwarded contract; compiled for this level.
    unsafe { microkernel::pack_b_runs::<F32x16, 3>(kc, b, offsets, runs, n, dst) }
}

/// Packs B rows from runs into a 3-vector-wide panel ([`microkernel::pack_b_runs`]).
///
/// # Safety
/// The CPU supports this level; the contract of [`microkernel::pack_b_runs`].
#[target_feature(enable = "avx512f")]
pub unsafe fn pack_b_runs_f64(
    kc: usize,
    b: *const f64,
    offsets: *const usize,
    runs: &[(usize, usize, usize)],
    n: usize,
    dst: *mut f64,
) {
    // SAFETY: forwarded contract; compiled for this level.
    unsafe { microkernel::pack_b_runs::<F64x8, 3>(kc, b, offsets, runs, n, dst) }
}

/// Output rows per block of [`direct_rows_f32`] / [`direct_rows_f64`].
pub const DIRECT_ROWS: usize = 4;
/// Vectors per row in those blocks: DIRECT_ROWS · DIRECT_ROWS_NV accumulators.
const DIRECT_ROWS_NV: usize = 4;

/// One direct-correlation output row segment ([`microkernel::direct_row`]).
///
/// # Safety
/// The CPU supports this level; the contract of [`microkernel::direct_row`].
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx512f")]
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
        microkernel::direct_row::<F32x16>(rows, taps, dil, w, out, n, bias, accumulate, stream)
    }
}

/// One direct-correlation output row segment ([`microkernel::direct_row`]).
///
/// # Safety
/// The CPU supports this level; the contract of [`microkernel::direct_row`].
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx512f")]
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
        microkernel::direct_row::<F64x8>(rows, taps, dil, w, out, n, bias, accumulate, stream)
    }
}

/// 4 output rows of a direct correlation at once ([`microkernel::direct_rows`]).
///
/// # Safety
/// The CPU supports this level; the contract of [`microkernel::direct_rows`]
/// with `R = 4` (`out` holds 4 row pointers).
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx512f")]
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
    let out: &[*mut f32; DIRECT_ROWS] = out.try_into().expect("DIRECT_ROWS output rows");
    // SAFETY: forwarded contract; compiled for this level.
    unsafe {
        microkernel::direct_rows::<F32x16, DIRECT_ROWS, DIRECT_ROWS_NV>(
            inp, kh, taps, dil, w, out, n, bias, accumulate, stream,
        )
    }
}

/// 4 output rows of a direct correlation at once ([`microkernel::direct_rows`]).
///
/// # Safety
/// The CPU supports this level; the contract of [`microkernel::direct_rows`]
/// with `R = 4` (`out` holds 4 row pointers).
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx512f")]
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
    let out: &[*mut f64; DIRECT_ROWS] = out.try_into().expect("DIRECT_ROWS output rows");
    // SAFETY: forwarded contract; compiled for this level.
    unsafe {
        microkernel::direct_rows::<F64x8, DIRECT_ROWS, DIRECT_ROWS_NV>(
            inp, kh, taps, dil, w, out, n, bias, accumulate, stream,
        )
    }
}

/// One direct-correlation output row segment over a list of taps
/// ([`microkernel::direct_taps`]).
///
/// # Safety
/// The CPU supports this level; the contract of [`microkernel::direct_taps`].
#[target_feature(enable = "avx512f")]
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
    unsafe { microkernel::direct_taps::<F32x16>(taps, w, fetch, out, n, bias, accumulate) }
}

/// One direct-correlation output row segment over a list of taps
/// ([`microkernel::direct_taps`]).
///
/// # Safety
/// The CPU supports this level; the contract of [`microkernel::direct_taps`].
#[target_feature(enable = "avx512f")]
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
    unsafe { microkernel::direct_taps::<F64x8>(taps, w, fetch, out, n, bias, accumulate) }
}

/// Whether a slice is all finite ([`microkernel::all_finite`]).
///
/// # Safety
/// The CPU supports this level; the contract of [`microkernel::all_finite`].
#[target_feature(enable = "avx512f")]
pub unsafe fn all_finite_f32(x: *const f32, n: usize) -> bool {
    // SAFETY: forwarded contract; compiled for this level.
    unsafe { microkernel::all_finite::<F32x16>(x, n) }
}

/// Whether a slice is all finite ([`microkernel::all_finite`]).
///
/// # Safety
/// The CPU supports this level; the contract of [`microkernel::all_finite`].
#[target_feature(enable = "avx512f")]
pub unsafe fn all_finite_f64(x: *const f64, n: usize) -> bool {
    // SAFETY: forwarded contract; compiled for this level.
    unsafe { microkernel::all_finite::<F64x8>(x, n) }
}

/// 4 output rows at a time from a slab of padded rows
/// ([`microkernel::direct_slab`]).
///
/// # Safety
/// The CPU supports this level; the contract of [`microkernel::direct_slab`] with
/// `R = 4`.
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx512f")]
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
        microkernel::direct_slab::<F32x16, DIRECT_ROWS, DIRECT_ROWS_NV>(
            planes, stride, kh, taps, dil, w, out, width, rows, bias, accumulate,
        )
    }
}

/// 4 output rows at a time from a slab of padded rows
/// ([`microkernel::direct_slab`]).
///
/// # Safety
/// The CPU supports this level; the contract of [`microkernel::direct_slab`] with
/// `R = 4`.
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx512f")]
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
        microkernel::direct_slab::<F64x8, DIRECT_ROWS, DIRECT_ROWS_NV>(
            planes, stride, kh, taps, dil, w, out, width, rows, bias, accumulate,
        )
    }
}

/// Copies `n` elements ([`microkernel::copy`]).
///
/// # Safety
/// The CPU supports this level; the contract of [`microkernel::copy`].
#[target_feature(enable = "avx512f")]
pub unsafe fn copy_f32(src: *const f32, dst: *mut f32, n: usize) {
    // SAFETY: forwarded contract; compiled for this level.
    unsafe { microkernel::copy::<F32x16>(src, dst, n) }
}

/// Copies `n` elements ([`microkernel::copy`]).
///
/// # Safety
/// The CPU supports this level; the contract of [`microkernel::copy`].
#[target_feature(enable = "avx512f")]
pub unsafe fn copy_f64(src: *const f64, dst: *mut f64, n: usize) {
    // SAFETY: forwarded contract; compiled for this level.
    unsafe { microkernel::copy::<F64x8>(src, dst, n) }
}

/// Rows read in place from a zero-padded input ([`microkernel::direct_in_place`]).
///
/// # Safety
/// The CPU supports this level; the contract of [`microkernel::direct_in_place`]
/// with `R = 4`.
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx512f")]
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
        microkernel::direct_in_place::<F32x16, DIRECT_ROWS, DIRECT_ROWS_NV>(
            planes, zero, g, kernel, w, out, shape, bias, accumulate,
        )
    }
}

/// Rows read in place from a zero-padded input ([`microkernel::direct_in_place`]).
///
/// # Safety
/// The CPU supports this level; the contract of [`microkernel::direct_in_place`]
/// with `R = 4`.
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx512f")]
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
        microkernel::direct_in_place::<F64x8, DIRECT_ROWS, DIRECT_ROWS_NV>(
            planes, zero, g, kernel, w, out, shape, bias, accumulate,
        )
    }
}

/// The Winograd input transform of one tile row ([`microkernel::winograd_input`]).
///
/// # Safety
/// The CPU supports this level; the contract of [`microkernel::winograd_input`].
#[target_feature(enable = "avx512f")]
pub unsafe fn winograd_input_f32(
    e: &[*const f32; 4],
    o: &[*const f32; 4],
    tw: usize,
    out: *mut f32,
    stride: usize,
) {
    // SAFETY: forwarded contract; compiled for this level.
    unsafe { microkernel::winograd_input::<F32x16>(e, o, tw, out, stride) }
}

/// The Winograd output transform of a run of tiles ([`microkernel::winograd_output`]).
///
/// # Safety
/// The CPU supports this level; the contract of [`microkernel::winograd_output`].
#[target_feature(enable = "avx512f")]
pub unsafe fn winograd_output_f32(
    m: &[*const f32; 16],
    run: usize,
    bias: f32,
    y0: *mut f32,
    y1: *mut f32,
) {
    // SAFETY: forwarded contract; compiled for this level.
    unsafe { microkernel::winograd_output::<F32x16>(m, run, bias, y0, y1) }
}

/// The Winograd input transform of one tile row ([`microkernel::winograd_input`]).
///
/// # Safety
/// The CPU supports this level; the contract of [`microkernel::winograd_input`].
#[target_feature(enable = "avx512f")]
pub unsafe fn winograd_input_f64(
    e: &[*const f64; 4],
    o: &[*const f64; 4],
    tw: usize,
    out: *mut f64,
    stride: usize,
) {
    // SAFETY: forwarded contract; compiled for this level.
    unsafe { microkernel::winograd_input::<F64x8>(e, o, tw, out, stride) }
}

/// The Winograd output transform of a run of tiles ([`microkernel::winograd_output`]).
///
/// # Safety
/// The CPU supports this level; the contract of [`microkernel::winograd_output`].
#[target_feature(enable = "avx512f")]
pub unsafe fn winograd_output_f64(
    m: &[*const f64; 16],
    run: usize,
    bias: f64,
    y0: *mut f64,
    y1: *mut f64,
) {
    // SAFETY: forwarded contract; compiled for this level.
    unsafe { microkernel::winograd_output::<F64x8>(m, run, bias, y0, y1) }
}

/// Rows written transposed into a packed panel ([`microkernel::transpose_rows`]).
///
/// # Safety
/// The CPU supports this level; the contract of [`microkernel::transpose_rows`].
#[target_feature(enable = "avx512f")]
pub unsafe fn transpose_rows_f32(
    b: *const f32,
    offsets: *const usize,
    taps: usize,
    len: usize,
    dst: *mut f32,
    ld: usize,
) {
    // SAFETY: forwarded contract; compiled for this level.
    unsafe { microkernel::transpose_rows::<F32x16>(b, offsets, taps, len, dst, ld) }
}

/// Splits a row into its even and odd columns ([`microkernel::split_pairs`]).
///
/// # Safety
/// The CPU supports this level; the contract of [`microkernel::split_pairs`].
#[target_feature(enable = "avx512f")]
pub unsafe fn split_pairs_f32(src: *const f32, pairs: usize, even: *mut f32, odd: *mut f32) {
    // SAFETY: forwarded contract; compiled for this level.
    unsafe { microkernel::split_pairs::<F32x16>(src, pairs, even, odd) }
}

/// Rows written transposed into a packed panel ([`microkernel::transpose_rows`]).
///
/// # Safety
/// The CPU supports this level; the contract of [`microkernel::transpose_rows`].
#[target_feature(enable = "avx512f")]
pub unsafe fn transpose_rows_f64(
    b: *const f64,
    offsets: *const usize,
    taps: usize,
    len: usize,
    dst: *mut f64,
    ld: usize,
) {
    // SAFETY: forwarded contract; compiled for this level.
    unsafe { microkernel::transpose_rows::<F64x8>(b, offsets, taps, len, dst, ld) }
}

/// Splits a row into its even and odd columns ([`microkernel::split_pairs`]).
///
/// # Safety
/// The CPU supports this level; the contract of [`microkernel::split_pairs`].
#[target_feature(enable = "avx512f")]
pub unsafe fn split_pairs_f64(src: *const f64, pairs: usize, even: *mut f64, odd: *mut f64) {
    // SAFETY: forwarded contract; compiled for this level.
    unsafe { microkernel::split_pairs::<F64x8>(src, pairs, even, odd) }
}

/// One channel pair's weight gradient ([`microkernel::direct_grad_weight`]).
///
/// # Safety
/// The CPU supports this level; the contract of [`microkernel::direct_grad_weight`].
#[target_feature(enable = "avx512f")]
pub unsafe fn direct_grad_weight_f32(
    x: *const f32,
    g: *const f32,
    s: GradWeightRows,
    out: *mut f32,
) {
    // SAFETY: forwarded contract; compiled for this level.
    unsafe { microkernel::direct_grad_weight::<F32x16>(x, g, s, out) }
}

/// One channel pair's weight gradient ([`microkernel::direct_grad_weight`]).
///
/// # Safety
/// The CPU supports this level; the contract of [`microkernel::direct_grad_weight`].
#[target_feature(enable = "avx512f")]
pub unsafe fn direct_grad_weight_f64(
    x: *const f64,
    g: *const f64,
    s: GradWeightRows,
    out: *mut f64,
) {
    // SAFETY: forwarded contract; compiled for this level.
    unsafe { microkernel::direct_grad_weight::<F64x8>(x, g, s, out) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `shift::<K>` of the vectors holding 0..LANES and LANES..2·LANES.
    #[target_feature(enable = "avx512f")]
    fn windows<const K: usize>() -> ([f32; 16], [f64; 8]) {
        let (mut a, mut b) = ([0.0f32; 32], [0.0f64; 16]);
        for (i, (a, b)) in a.iter_mut().zip(b.iter_mut()).enumerate() {
            (*a, *b) = (i as f32, i as f64);
        }
        for (i, a) in a.iter_mut().enumerate().skip(16) {
            *a = i as f32;
        }
        let (mut x, mut y) = ([0.0f32; 16], [0.0f64; 8]);
        // SAFETY: avx512f is enabled here (the caller checked the CPU); every
        // load and store stays inside its 16- or 32-element array.
        unsafe {
            let f = F32x16::shift::<K>(F32x16::load(a.as_ptr()), F32x16::load(a.as_ptr().add(16)));
            f.store(x.as_mut_ptr());
            if K < 8 {
                let d = F64x8::shift::<K>(F64x8::load(b.as_ptr()), F64x8::load(b.as_ptr().add(8)));
                d.store(y.as_mut_ptr());
            }
        }
        (x, y)
    }

    #[test]
    fn shift_is_the_window_of_the_pair() {
        if !is_x86_feature_detected!("avx512f") {
            return;
        }
        macro_rules! check {
            ($($k:literal)*) => {$(
                // SAFETY: the CPU has avx512f (checked above).
                let (x, y) = unsafe { windows::<$k>() };
                for (i, v) in x.iter().enumerate() {
                    assert_eq!(*v, ($k + i) as f32, "f32 shift {}", $k);
                }
                if $k < 8 {
                    for (i, v) in y.iter().enumerate() {
                        assert_eq!(*v, ($k + i) as f64, "f64 shift {}", $k);
                    }
                }
            )*};
        }
        check!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15);
    }
}
