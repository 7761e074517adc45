//! AVX2 + FMA: `Vector` on ymm registers and the `#[target_feature]` entry points.
//!
//! Edge lanes use `maskload` / `maskstore`, which do not fault on masked-out
//! lanes, so a partial vector never touches memory past its end.

use core::arch::x86_64::*;

use super::microkernel::{self, MR_NARROW};
use super::vector::Vector;
use super::{GradWeightRows, InPlaceRows};

/// 8 × f32 in a ymm register.
#[derive(Clone, Copy, Debug)]
pub struct F32x8(__m256);

/// 4 × f64 in a ymm register.
#[derive(Clone, Copy, Debug)]
pub struct F64x4(__m256d);

/// Lane mask with the first `n` of 8 lanes set.
#[inline(always)]
unsafe fn mask32(n: usize) -> __m256i {
    // SAFETY: the caller runs on a CPU with this level (trait contract).
    unsafe {
        _mm256_cmpgt_epi32(
            _mm256_set1_epi32(n as i32),
            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
        )
    }
}

/// Lane mask with the first `n` of 4 lanes set.
#[inline(always)]
unsafe fn mask64(n: usize) -> __m256i {
    // SAFETY: the caller runs on a CPU with this level (trait contract).
    unsafe { _mm256_cmpgt_epi64(_mm256_set1_epi64x(n as i64), _mm256_setr_epi64x(0, 1, 2, 3)) }
}

impl Vector for F32x8 {
    type Elem = f32;
    type Lanes = __m256i;
    const LANES: usize = 8;

    #[inline(always)]
    unsafe fn zero() -> Self {
        // SAFETY: the caller runs on a CPU with this level (trait contract).
        unsafe { F32x8(_mm256_setzero_ps()) }
    }
    #[inline(always)]
    unsafe fn splat(v: f32) -> Self {
        // SAFETY: the caller runs on a CPU with this level (trait contract).
        unsafe { F32x8(_mm256_set1_ps(v)) }
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        // SAFETY: caller guarantees 8 readable elements.
        F32x8(unsafe { _mm256_loadu_ps(p) })
    }
    #[inline(always)]
    unsafe fn lanes(lo: usize, hi: usize) -> __m256i {
        // SAFETY: the caller runs on a CPU with this level (trait contract).
        unsafe { _mm256_andnot_si256(mask32(lo), mask32(hi)) }
    }
    #[inline(always)]
    unsafe fn store_in(self, p: *mut f32, m: __m256i) {
        // SAFETY: only the lanes of m are written, and the caller guarantees they
        // are writable; masked-out lanes are not written and do not fault.
        unsafe { _mm256_maskstore_ps(p, m, self.0) }
    }
    #[inline(always)]
    unsafe fn load_in(p: *const f32, m: __m256i) -> Self {
        // SAFETY: only the lanes of m are enabled, and the caller guarantees they
        // are readable; masked-out lanes are not read and do not fault.
        F32x8(unsafe { _mm256_maskload_ps(p, m) })
    }
    #[inline(always)]
    unsafe fn load_partial(p: *const f32, n: usize) -> Self {
        // SAFETY: masked-out lanes are not read and do not fault.
        F32x8(unsafe { _mm256_maskload_ps(p, mask32(n)) })
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        // SAFETY: caller guarantees 8 writable elements.
        unsafe { _mm256_storeu_ps(p, self.0) }
    }
    const STREAMS: bool = true;
    #[inline(always)]
    unsafe fn store_stream(self, p: *mut f32) {
        // SAFETY: caller guarantees 8 writable elements, 32-byte aligned.
        unsafe { _mm256_stream_ps(p, self.0) }
    }
    #[inline(always)]
    unsafe fn fence() {
        // SAFETY: SFENCE has no operands.
        unsafe { _mm_sfence() }
    }
    #[inline(always)]
    unsafe fn store_partial(self, p: *mut f32, n: usize) {
        // SAFETY: only the first n lanes are written.
        unsafe { _mm256_maskstore_ps(p, mask32(n), self.0) }
    }
    #[inline(always)]
    unsafe fn fmadd(a: Self, b: Self, c: Self) -> Self {
        // SAFETY: the caller runs on a CPU with this level (trait contract).
        unsafe { F32x8(_mm256_fmadd_ps(a.0, b.0, c.0)) }
    }
    #[inline(always)]
    unsafe fn add(self, o: Self) -> Self {
        // SAFETY: the caller runs on a CPU with this level (trait contract).
        unsafe { F32x8(_mm256_add_ps(self.0, o.0)) }
    }
    #[inline(always)]
    unsafe fn sub(self, o: Self) -> Self {
        // SAFETY: the caller runs on a CPU with this level (trait contract).
        unsafe { F32x8(_mm256_sub_ps(self.0, o.0)) }
    }
    #[inline(always)]
    unsafe fn interleave(a: Self, b: Self) -> (Self, Self) {
        // SAFETY: register-only; the caller runs on a CPU with this level.
        unsafe {
            // In-lane pairs, then the 128-bit halves in order.
            let (lo, hi) = (_mm256_unpacklo_ps(a.0, b.0), _mm256_unpackhi_ps(a.0, b.0));
            (
                F32x8(_mm256_permute2f128_ps::<0x20>(lo, hi)),
                F32x8(_mm256_permute2f128_ps::<0x31>(lo, hi)),
            )
        }
    }
    #[inline(always)]
    unsafe fn deinterleave(a: Self, b: Self) -> (Self, Self) {
        // SAFETY: register-only; the caller runs on a CPU with this level.
        unsafe {
            // In-lane picks (a0 a2 b0 b2 | a4 a6 b4 b6), then the 64-bit pairs
            // in order.
            let even = _mm256_castps_pd(_mm256_shuffle_ps::<0x88>(a.0, b.0));
            let odd = _mm256_castps_pd(_mm256_shuffle_ps::<0xDD>(a.0, b.0));
            (
                F32x8(_mm256_castpd_ps(_mm256_permute4x64_pd::<0xD8>(even))),
                F32x8(_mm256_castpd_ps(_mm256_permute4x64_pd::<0xD8>(odd))),
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
        unsafe {
            let s = _mm_add_ps(
                _mm256_castps256_ps128(self.0),
                _mm256_extractf128_ps(self.0, 1),
            );
            let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
            let s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
            _mm_cvtss_f32(s)
        }
    }
}

impl Vector for F64x4 {
    type Elem = f64;
    type Lanes = __m256i;
    const LANES: usize = 4;

    #[inline(always)]
    unsafe fn zero() -> Self {
        // SAFETY: the caller runs on a CPU with this level (trait contract).
        unsafe { F64x4(_mm256_setzero_pd()) }
    }
    #[inline(always)]
    unsafe fn splat(v: f64) -> Self {
        // SAFETY: the caller runs on a CPU with this level (trait contract).
        unsafe { F64x4(_mm256_set1_pd(v)) }
    }
    #[inline(always)]
    unsafe fn load(p: *const f64) -> Self {
        // SAFETY: caller guarantees 4 readable elements.
        F64x4(unsafe { _mm256_loadu_pd(p) })
    }
    #[inline(always)]
    unsafe fn lanes(lo: usize, hi: usize) -> __m256i {
        // SAFETY: the caller runs on a CPU with this level (trait contract).
        unsafe { _mm256_andnot_si256(mask64(lo), mask64(hi)) }
    }
    #[inline(always)]
    unsafe fn store_in(self, p: *mut f64, m: __m256i) {
        // SAFETY: only the lanes of m are written, and the caller guarantees they
        // are writable; masked-out lanes are not written and do not fault.
        unsafe { _mm256_maskstore_pd(p, m, self.0) }
    }
    #[inline(always)]
    unsafe fn load_in(p: *const f64, m: __m256i) -> Self {
        // SAFETY: only the lanes of m are enabled, and the caller guarantees they
        // are readable; masked-out lanes are not read and do not fault.
        F64x4(unsafe { _mm256_maskload_pd(p, m) })
    }
    #[inline(always)]
    unsafe fn load_partial(p: *const f64, n: usize) -> Self {
        // SAFETY: masked-out lanes are not read and do not fault.
        F64x4(unsafe { _mm256_maskload_pd(p, mask64(n)) })
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f64) {
        // SAFETY: caller guarantees 4 writable elements.
        unsafe { _mm256_storeu_pd(p, self.0) }
    }
    const STREAMS: bool = true;
    #[inline(always)]
    unsafe fn store_stream(self, p: *mut f64) {
        // SAFETY: caller guarantees 4 writable elements, 32-byte aligned.
        unsafe { _mm256_stream_pd(p, self.0) }
    }
    #[inline(always)]
    unsafe fn fence() {
        // SAFETY: SFENCE has no operands.
        unsafe { _mm_sfence() }
    }
    #[inline(always)]
    unsafe fn store_partial(self, p: *mut f64, n: usize) {
        // SAFETY: only the first n lanes are written.
        unsafe { _mm256_maskstore_pd(p, mask64(n), self.0) }
    }
    #[inline(always)]
    unsafe fn fmadd(a: Self, b: Self, c: Self) -> Self {
        // SAFETY: the caller runs on a CPU with this level (trait contract).
        unsafe { F64x4(_mm256_fmadd_pd(a.0, b.0, c.0)) }
    }
    #[inline(always)]
    unsafe fn add(self, o: Self) -> Self {
        // SAFETY: the caller runs on a CPU with this level (trait contract).
        unsafe { F64x4(_mm256_add_pd(self.0, o.0)) }
    }
    #[inline(always)]
    unsafe fn sub(self, o: Self) -> Self {
        // SAFETY: the caller runs on a CPU with this level (trait contract).
        unsafe { F64x4(_mm256_sub_pd(self.0, o.0)) }
    }
    #[inline(always)]
    unsafe fn interleave(a: Self, b: Self) -> (Self, Self) {
        // SAFETY: register-only; the caller runs on a CPU with this level.
        unsafe {
            let (lo, hi) = (_mm256_unpacklo_pd(a.0, b.0), _mm256_unpackhi_pd(a.0, b.0));
            (
                F64x4(_mm256_permute2f128_pd::<0x20>(lo, hi)),
                F64x4(_mm256_permute2f128_pd::<0x31>(lo, hi)),
            )
        }
    }
    #[inline(always)]
    unsafe fn deinterleave(a: Self, b: Self) -> (Self, Self) {
        // SAFETY: register-only; the caller runs on a CPU with this level.
        unsafe {
            // (a0 b0 a2 b2), then the 64-bit lanes in order.
            let (lo, hi) = (_mm256_unpacklo_pd(a.0, b.0), _mm256_unpackhi_pd(a.0, b.0));
            (
                F64x4(_mm256_permute4x64_pd::<0xD8>(lo)),
                F64x4(_mm256_permute4x64_pd::<0xD8>(hi)),
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
        unsafe {
            let s = _mm_add_pd(
                _mm256_castpd256_pd128(self.0),
                _mm256_extractf128_pd(self.0, 1),
            );
            _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)))
        }
    }
}

/// AVX2 f32 GEMM tile, 4 × 24.
///
/// # Safety
/// The CPU supports AVX2 and FMA; the contract of [`microkernel::gemm_tile`].
#[target_feature(enable = "avx2,fma")]
pub unsafe fn gemm_tile_f32(
    kc: usize,
    a: *const f32,
    b: *const f32,
    c: *mut f32,
    ldc: usize,
    accumulate: bool,
    vecs: usize,
) {
    // SAFETY: forwarded contract; this fn is compiled with AVX2 and FMA.
    unsafe { microkernel::gemm_tile::<F32x8, MR_NARROW, 3>(kc, a, b, c, ldc, accumulate, vecs) }
}

/// AVX2 f64 GEMM tile, 4 × 12.
///
/// # Safety
/// The CPU supports AVX2 and FMA; the contract of [`microkernel::gemm_tile`].
#[target_feature(enable = "avx2,fma")]
pub unsafe fn gemm_tile_f64(
    kc: usize,
    a: *const f64,
    b: *const f64,
    c: *mut f64,
    ldc: usize,
    accumulate: bool,
    vecs: usize,
) {
    // SAFETY: forwarded contract; this fn is compiled with AVX2 and FMA.
    unsafe { microkernel::gemm_tile::<F64x4, MR_NARROW, 3>(kc, a, b, c, ldc, accumulate, vecs) }
}

/// AVX2 f32 GEMM tile reading B rows in place ([`microkernel::gemm_tile_rows`]).
///
/// # Safety
/// The CPU supports AVX2 and FMA; the contract of [`microkernel::gemm_tile_rows`].
#[target_feature(enable = "avx2,fma")]
pub unsafe fn gemm_tile_rows_f32(
    kc: usize,
    a: *const f32,
    b: *const f32,
    offsets: *const usize,
    c: *mut f32,
    accumulate: bool,
) {
    // SAFETY: forwarded contract; compiled for this level.
    unsafe { microkernel::gemm_tile_rows::<F32x8, MR_NARROW, 3>(kc, a, b, offsets, c, accumulate) }
}

/// AVX2 f64 GEMM tile reading B rows in place ([`microkernel::gemm_tile_rows`]).
///
/// # Safety
/// The CPU supports AVX2 and FMA; the contract of [`microkernel::gemm_tile_rows`].
#[target_feature(enable = "avx2,fma")]
pub unsafe fn gemm_tile_rows_f64(
    kc: usize,
    a: *const f64,
    b: *const f64,
    offsets: *const usize,
    c: *mut f64,
    accumulate: bool,
) {
    // SAFETY: forwarded contract; compiled for this level.
    unsafe { microkernel::gemm_tile_rows::<F64x4, MR_NARROW, 3>(kc, a, b, offsets, c, accumulate) }
}

/// Packs B rows into a 3-vector-wide panel ([`microkernel::pack_b`]).
///
/// # Safety
/// The CPU supports this level; the contract of [`microkernel::pack_b`].
#[target_feature(enable = "avx2,fma")]
pub unsafe fn pack_b_f32(kc: usize, b: *const f32, offsets: *const usize, n: usize, dst: *mut f32) {
    // SAFETY: forwarded contract; compiled for this level.
    unsafe { microkernel::pack_b::<F32x8, 3>(kc, b, offsets, n, dst) }
}

/// Packs B rows into a 3-vector-wide panel ([`microkernel::pack_b`]).
///
/// # Safety
/// The CPU supports this level; the contract of [`microkernel::pack_b`].
#[target_feature(enable = "avx2,fma")]
pub unsafe fn pack_b_f64(kc: usize, b: *const f64, offsets: *const usize, n: usize, dst: *mut f64) {
    // SAFETY: forwarded contract; compiled for this level.
    unsafe { microkernel::pack_b::<F64x4, 3>(kc, b, offsets, n, dst) }
}

/// Packs B rows from runs into a 3-vector-wide panel ([`microkernel::pack_b_runs`]).
///
/// # Safety
/// The CPU supports this level; the contract of [`microkernel::pack_b_runs`].
#[target_feature(enable = "avx2,fma")]
pub unsafe fn pack_b_runs_f32(
    kc: usize,
    b: *const f32,
    offsets: *const usize,
    runs: &[(usize, usize, usize)],
    n: usize,
    dst: *mut f32,
) {
    // SAFETY: forwarded contract; compiled for this level.
    unsafe { microkernel::pack_b_runs::<F32x8, 3>(kc, b, offsets, runs, n, dst) }
}

/// Packs B rows from runs into a 3-vector-wide panel ([`microkernel::pack_b_runs`]).
///
/// # Safety
/// The CPU supports this level; the contract of [`microkernel::pack_b_runs`].
#[target_feature(enable = "avx2,fma")]
pub unsafe fn pack_b_runs_f64(
    kc: usize,
    b: *const f64,
    offsets: *const usize,
    runs: &[(usize, usize, usize)],
    n: usize,
    dst: *mut f64,
) {
    // SAFETY: forwarded contract; compiled for this level.
    unsafe { microkernel::pack_b_runs::<F64x4, 3>(kc, b, offsets, runs, n, dst) }
}

/// One direct-correlation output row segment ([`microkernel::direct_row`]).
///
/// # Safety
/// The CPU supports this level; the contract of [`microkernel::direct_row`].
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx2,fma")]
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
#[target_feature(enable = "avx2,fma")]
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
#[target_feature(enable = "avx2,fma")]
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
#[target_feature(enable = "avx2,fma")]
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
#[target_feature(enable = "avx2,fma")]
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
#[target_feature(enable = "avx2,fma")]
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
#[target_feature(enable = "avx2,fma")]
pub unsafe fn all_finite_f32(x: *const f32, n: usize) -> bool {
    // SAFETY: forwarded contract; compiled for this level.
    unsafe { microkernel::all_finite::<F32x8>(x, n) }
}

/// Whether a slice is all finite ([`microkernel::all_finite`]).
///
/// # Safety
/// The CPU supports this level; the contract of [`microkernel::all_finite`].
#[target_feature(enable = "avx2,fma")]
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
#[target_feature(enable = "avx2,fma")]
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
#[target_feature(enable = "avx2,fma")]
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
#[target_feature(enable = "avx2,fma")]
pub unsafe fn copy_f32(src: *const f32, dst: *mut f32, n: usize) {
    // SAFETY: forwarded contract; compiled for this level.
    unsafe { microkernel::copy::<F32x8>(src, dst, n) }
}

/// Copies `n` elements ([`microkernel::copy`]).
///
/// # Safety
/// The CPU supports this level; the contract of [`microkernel::copy`].
#[target_feature(enable = "avx2,fma")]
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
#[target_feature(enable = "avx2,fma")]
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
#[target_feature(enable = "avx2,fma")]
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
#[target_feature(enable = "avx2,fma")]
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
#[target_feature(enable = "avx2,fma")]
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
#[target_feature(enable = "avx2,fma")]
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
#[target_feature(enable = "avx2,fma")]
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

/// Rows written transposed into a packed panel ([`microkernel::transpose_rows`]).
///
/// # Safety
/// The CPU supports this level; the contract of [`microkernel::transpose_rows`].
#[target_feature(enable = "avx2,fma")]
pub unsafe fn transpose_rows_f32(
    b: *const f32,
    offsets: *const usize,
    taps: usize,
    len: usize,
    dst: *mut f32,
    ld: usize,
) {
    // SAFETY: forwarded contract; compiled for this level.
    unsafe { microkernel::transpose_rows::<F32x8>(b, offsets, taps, len, dst, ld) }
}

/// Splits a row into its even and odd columns ([`microkernel::split_pairs`]).
///
/// # Safety
/// The CPU supports this level; the contract of [`microkernel::split_pairs`].
#[target_feature(enable = "avx2,fma")]
pub unsafe fn split_pairs_f32(src: *const f32, pairs: usize, even: *mut f32, odd: *mut f32) {
    // SAFETY: forwarded contract; compiled for this level.
    unsafe { microkernel::split_pairs::<F32x8>(src, pairs, even, odd) }
}

/// Rows written transposed into a packed panel ([`microkernel::transpose_rows`]).
///
/// # Safety
/// The CPU supports this level; the contract of [`microkernel::transpose_rows`].
#[target_feature(enable = "avx2,fma")]
pub unsafe fn transpose_rows_f64(
    b: *const f64,
    offsets: *const usize,
    taps: usize,
    len: usize,
    dst: *mut f64,
    ld: usize,
) {
    // SAFETY: forwarded contract; compiled for this level.
    unsafe { microkernel::transpose_rows::<F64x4>(b, offsets, taps, len, dst, ld) }
}

/// Splits a row into its even and odd columns ([`microkernel::split_pairs`]).
///
/// # Safety
/// The CPU supports this level; the contract of [`microkernel::split_pairs`].
#[target_feature(enable = "avx2,fma")]
pub unsafe fn split_pairs_f64(src: *const f64, pairs: usize, even: *mut f64, odd: *mut f64) {
    // SAFETY: forwarded contract; compiled for this level.
    unsafe { microkernel::split_pairs::<F64x4>(src, pairs, even, odd) }
}

/// One channel pair's weight gradient ([`microkernel::direct_grad_weight`]).
///
/// # Safety
/// The CPU supports this level; the contract of [`microkernel::direct_grad_weight`].
#[target_feature(enable = "avx2,fma")]
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
#[target_feature(enable = "avx2,fma")]
pub unsafe fn direct_grad_weight_f64(
    x: *const f64,
    g: *const f64,
    s: GradWeightRows,
    out: *mut f64,
) {
    // SAFETY: forwarded contract; compiled for this level.
    unsafe { microkernel::direct_grad_weight::<F64x4>(x, g, s, out) }
}
