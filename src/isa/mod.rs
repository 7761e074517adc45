//! Instruction-set levels, run-time detection and the kernel tables.
//!
//! This is the only module that reads CPU features. [`Isa::detected`] probes once
//! (a `OnceLock`); `XCORR_ISA=scalar|portable|avx2|avx512` can only *lower* the
//! level [`Isa::active`] reports, so one build tests every level the CPU has.
//!
//! Kernels are written once as `#[inline(always)]` generic bodies over the
//! [`vector::Vector`] trait (see `microkernel.rs`) and compiled per level under thin
//! `#[target_feature]` wrappers in `avx512/`, `avx2/` and `portable/`. A kernel table
//! ([`GemmKernel`], ...) is only handed out for a level the CPU supports, so holding
//! one is the proof that the `SAFETY:` notes of its calls cite.

use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

use crate::element::Element;
use crate::error::{Result, XcorrError};
use vector::Vector;

#[cfg(target_arch = "x86_64")]
pub mod avx2;
#[cfg(target_arch = "x86_64")]
pub mod avx512;
pub mod microkernel;
pub mod portable;
pub mod vector;

/// An instruction-set level, from the plain scalar reference up to AVX-512.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Isa {
    /// No SIMD kernels: plans use the scalar reference path.
    Scalar,
    /// Portable SIMD through the `wide` crate (its width is fixed at compile time:
    /// SSE2 on a default x86-64 build, NEON on aarch64).
    Portable,
    /// AVX2 with FMA (256-bit).
    Avx2,
    /// AVX-512F (512-bit).
    Avx512,
}

impl Isa {
    /// Every level, lowest first.
    pub const ALL: [Isa; 4] = [Isa::Scalar, Isa::Portable, Isa::Avx2, Isa::Avx512];

    /// The stable name: `scalar`, `portable`, `avx2`, `avx512`.
    pub fn name(self) -> &'static str {
        match self {
            Isa::Scalar => "scalar",
            Isa::Portable => "portable",
            Isa::Avx2 => "avx2",
            Isa::Avx512 => "avx512",
        }
    }

    /// The highest level this CPU supports, probed once.
    pub fn detected() -> Isa {
        static DETECTED: OnceLock<Isa> = OnceLock::new();
        *DETECTED.get_or_init(|| {
            #[cfg(target_arch = "x86_64")]
            {
                if std::arch::is_x86_feature_detected!("avx512f") {
                    return Isa::Avx512;
                }
                if std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
                {
                    return Isa::Avx2;
                }
            }
            Isa::Portable
        })
    }

    /// The level plans use by default: [`detected`](Self::detected), lowered by the
    /// environment variable `XCORR_ISA` if it names a lower level (read once).
    pub fn active() -> Isa {
        static ACTIVE: OnceLock<Isa> = OnceLock::new();
        *ACTIVE.get_or_init(|| {
            let detected = Isa::detected();
            match std::env::var("XCORR_ISA") {
                Ok(v) => match v.parse::<Isa>() {
                    Ok(isa) => isa.min(detected),
                    Err(_) => detected,
                },
                Err(_) => detected,
            }
        })
    }

    /// Whether this CPU can run the kernels of this level.
    pub fn is_supported(self) -> bool {
        self <= Isa::detected()
    }

    /// Every level this CPU supports, lowest first (tests run each of them).
    pub fn supported() -> impl Iterator<Item = Isa> {
        Isa::ALL.into_iter().filter(|i| i.is_supported())
    }

    /// Checks that this level can run here.
    ///
    /// # Errors
    /// `InvalidArgument` naming the level if the CPU lacks it.
    pub fn require(self) -> Result<Isa> {
        if self.is_supported() {
            Ok(self)
        } else {
            Err(XcorrError::InvalidArgument {
                what: "ISA level (this CPU does not support it)",
                value: self.name().to_string(),
            })
        }
    }
}

impl fmt::Display for Isa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Isa {
    type Err = XcorrError;
    fn from_str(s: &str) -> Result<Isa> {
        Isa::ALL
            .into_iter()
            .find(|i| i.name() == s)
            .ok_or_else(|| XcorrError::InvalidArgument {
                what: "ISA level (scalar, portable, avx2, avx512)",
                value: s.to_string(),
            })
    }
}

/// Whose rows each block of the direct path's in-place route
/// ([`DirectKernel::in_place`]) prefetches for the next block, for a kernel of
/// `kernel_planes` planes: every plane's ([`NextRows::All`]) by default; where
/// that burst does not pay, 3-D kernels their last plane's
/// ([`NextRows::LastPlane`]) and others none. `XCORR_ROW_PREFETCH=1` (all) or
/// `0` (the other choice) if set, else the CPU's default (read once). Results
/// are the same bits either way.
///
/// On by default: on AMD Zen 5 (family 1Ah) it paid (4008fc6: dw 1T 0.082 ->
/// 0.075-0.079 ms, vol3d 1.02 -> 0.96, three alternating rounds). Off on AMD Zen 4
/// (family 19h, models 10h-1Fh, 60h-7Fh, A0h-AFh; measured on model 11h). Calls
/// alternating with and without it in one process, medians of 200-300: dw 1T
/// 0.166 -> 0.153, 0.182 -> 0.155 ms, 2T 0.126 -> 0.112; 96 channels of 28×28
/// 0.058 -> 0.049; 64 of 56×56 5×5 0.234 -> 0.216; a 64³ volume 5×5×5 1.23 ->
/// 1.11; vol3d within 3% either way. `benches/compare/ab.py 8 "dw
/// n1_ic96_oc96_g96_i28x28_k3x3_p1 n1_ic64_oc64_g64_i56x56_k5x5_p2 --threads 1"`
/// with this variable at 1 and 0: 0.169 -> 0.149, 0.054 -> 0.039, 0.214 -> 0.194.
/// Prefetching those rows into L2 instead cost as much as into L1: the burst of
/// prefetches itself, not what it evicts. On vol3d, the last plane's rows alone
/// (the one new input plane; 3×3×3 does three times dw's work per block) paid:
/// 1T 3.353 -> 3.137, 3.622 -> 3.179 ms, 2T 1.572 -> 1.431, 1.894 -> 1.791 (calls
/// alternating in one process, medians of 60), a 64³ volume 5×5×5 within 2%.
/// Zen 3 (the same family) and Intel were not measured and keep the default.
pub fn in_place_next_rows(kernel_planes: usize) -> NextRows {
    static ALL: OnceLock<bool> = OnceLock::new();
    let all = *ALL.get_or_init(|| match std::env::var("XCORR_ROW_PREFETCH").as_deref() {
        Ok("1") => true,
        Ok("0") => false,
        _ => !is_amd_zen4(),
    });
    if all {
        NextRows::All
    } else if kernel_planes > 1 {
        NextRows::LastPlane
    } else {
        NextRows::None
    }
}

/// Whether this CPU is an AMD Zen 4 (family 19h, the models [`in_place_next_rows`]
/// lists).
fn is_amd_zen4() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::__cpuid;
        let vendor = __cpuid(0);
        let amd = (vendor.ebx, vendor.edx, vendor.ecx) == (0x6874_7541, 0x6974_6e65, 0x444d_4163);
        let sig = __cpuid(1).eax;
        let family = ((sig >> 8) & 0xf) + ((sig >> 20) & 0xff);
        let model = ((sig >> 4) & 0xf) | (((sig >> 16) & 0xf) << 4);
        amd && family == 0x19 && matches!(model, 0x10..=0x1f | 0x60..=0x7f | 0xa0..=0xaf)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// A B-packing routine signature: see [`GemmKernel::pack_b`].
pub type PackBFn<T> =
    unsafe fn(kc: usize, b: *const T, offsets: *const usize, n: usize, dst: *mut T);

/// A run-wise B-packing routine signature: see [`GemmKernel::pack_b_runs`].
pub type PackBRunsFn<T> = unsafe fn(
    kc: usize,
    b: *const T,
    offsets: *const usize,
    runs: &[(usize, usize, usize)],
    n: usize,
    dst: *mut T,
);

/// The Winograd input transform of a tile row: see [`GemmKernel::winograd_input`].
pub type WinogradInFn<T> =
    unsafe fn(e: &[*const T; 4], o: &[*const T; 4], tw: usize, out: *mut T, stride: usize);

/// Rows written transposed into a packed panel: see [`GemmKernel::transpose_rows`].
pub type TransposeRowsFn<T> =
    unsafe fn(b: *const T, offsets: *const usize, taps: usize, len: usize, dst: *mut T, ld: usize);

/// A row split into its even and odd columns: see [`GemmKernel::split_pairs`].
pub type SplitPairsFn<T> = unsafe fn(src: *const T, pairs: usize, even: *mut T, odd: *mut T);

/// The Winograd output transform of a run of tiles: see [`GemmKernel::winograd_output`].
pub type WinogradOutFn<T> =
    unsafe fn(m: &[*const T; 16], run: usize, bias: T, y0: *mut T, y1: *mut T);

/// A GEMM microkernel signature: see [`GemmKernel::tile_cols`] (the last
/// argument is the number of NR's vectors computed).
pub type GemmTileFn<T> = unsafe fn(
    kc: usize,
    a: *const T,
    b: *const T,
    c: *mut T,
    ldc: usize,
    accumulate: bool,
    vecs: usize,
);

/// A GEMM microkernel reading B in place: see [`GemmKernel::tile_rows`].
pub type GemmTileRowsFn<T> = unsafe fn(
    kc: usize,
    a: *const T,
    b: *const T,
    offsets: *const usize,
    c: *mut T,
    accumulate: bool,
);

/// A GEMM microkernel reading B in place and storing into the output: see
/// [`GemmKernel::tile_rows_out`].
pub type GemmTileRowsOutFn<T> = unsafe fn(
    kc: usize,
    a: *const T,
    b: *const T,
    offsets: *const usize,
    out: *mut T,
    ldc: usize,
    parts: *const microkernel::OutPart,
    bias: *const T,
    accumulate: bool,
    prefetch: bool,
);

/// Where each row of a B operand starts inside one buffer: row `k` is
/// `b[offsets[k]..]`. A plain matrix has `offsets[k] = k·ldb`; the im2col path points
/// each row `(channel, tap)` into a padded copy of the input. The maximum is kept so
/// that packing checks its reads once per call: the table is immutable, so its
/// maximum is correct by construction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowTable {
    offsets: Vec<usize>,
    max: usize,
}

impl RowTable {
    pub fn new(offsets: Vec<usize>) -> RowTable {
        let max = offsets.iter().copied().max().unwrap_or(0);
        RowTable { offsets, max }
    }
    pub fn len(&self) -> usize {
        self.offsets.len()
    }
    pub fn is_empty(&self) -> bool {
        self.offsets.is_empty()
    }
    pub fn offsets(&self) -> &[usize] {
        &self.offsets
    }
    pub fn max(&self) -> usize {
        self.max
    }
}

/// A register-blocked GEMM microkernel for one ISA level and element type: one
/// `MR×NR` tile `C (+)= Σ_k A[k] ⊗ B[k]` from packed operands (A in MR-row panels,
/// B in NR-column panels; see `gemm::pack`).
#[derive(Clone, Copy)]
pub struct GemmKernel<T> {
    pub isa: Isa,
    /// Rows of a tile (output channels).
    pub mr: usize,
    /// Columns of a tile (pixels), a multiple of the vector width.
    pub nr: usize,
    /// Copies of each value in a packed A panel (`Vector::A_COPIES`): a panel
    /// holds `k·mr·a_copies` values.
    pub a_copies: usize,
    /// Vectors per tile row.
    nv: usize,
    tile: GemmTileFn<T>,
    tile_rows: GemmTileRowsFn<T>,
    /// Only where it pays: AVX-512's masked stores. AVX2's `vmaskmovps` made
    /// res3x3 no faster (1.88 -> 1.89-1.90 ms) and the portable level's element
    /// copies 8% slower (4.74-4.77 -> 5.07-5.15).
    tile_rows_out: Option<GemmTileRowsOutFn<T>>,
    pack_b: PackBFn<T>,
    pack_b_runs: PackBRunsFn<T>,
    winograd_in: WinogradInFn<T>,
    winograd_out: WinogradOutFn<T>,
    split: SplitPairsFn<T>,
    /// Where the level's shuffles make it faster than one value at a time
    /// (AVX2, AVX-512: the portable level's `deinterleave` goes through memory).
    transpose: Option<TransposeRowsFn<T>>,
}

impl<T> fmt::Debug for GemmKernel<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GemmKernel({}, {}x{})", self.isa, self.mr, self.nr)
    }
}

impl<T> GemmKernel<T> {
    /// The A panel shape for [`pack::pack_a`](crate::gemm::pack::pack_a) and
    /// its relatives: `(mr, a_copies)`.
    pub fn a_shape(&self) -> (usize, usize) {
        (self.mr, self.a_copies)
    }

    /// Vectors per tile row (NR = `nv()` vectors of the level's width).
    pub fn nv(&self) -> usize {
        self.nv
    }

    /// Values of a packed A panel per reduction step: `mr·a_copies`.
    pub fn a_step(&self) -> usize {
        self.mr * self.a_copies
    }
}

impl<T: Element> GemmKernel<T> {
    /// `c[r·NR + j] (+)= Σ_{k<kc} a[(k·MR + r)·a_copies] · b[k·NR + j]`; `accumulate` adds to
    /// `c` instead of overwriting it.
    ///
    /// # Panics
    /// If a slice is too short for the tile (an internal invariant of the callers,
    /// checked here because memory safety depends on it).
    #[inline]
    pub fn tile(&self, kc: usize, a: &[T], b: &[T], c: &mut [T], accumulate: bool) {
        self.tile_cols(kc, a, b, c, accumulate, self.nr)
    }

    /// As [`tile`](Self::tile) for the columns `j < cols` only (`cols <= NR`): the
    /// kernel computes just the vectors that hold them, and what it leaves in
    /// `c`'s other columns is unspecified. For the last panel of a matrix whose
    /// width is not a multiple of NR.
    ///
    /// # Panics
    /// As [`tile`](Self::tile).
    #[inline]
    pub fn tile_cols(
        &self,
        kc: usize,
        a: &[T],
        b: &[T],
        c: &mut [T],
        accumulate: bool,
        cols: usize,
    ) {
        assert!(
            a.len() >= kc * self.mr * self.a_copies
                && b.len() >= kc * self.nr
                && c.len() >= self.mr * self.nr,
            "gemm tile out of bounds"
        );
        let vecs = cols.min(self.nr).div_ceil(self.nr / self.nv());
        // SAFETY: `self` exists only for a level the CPU supports (see `gemm_kernel_f32`),
        // and the assert above bounds every access of the kernel (a narrower tile
        // reads and writes a prefix of each row).
        unsafe {
            (self.tile)(
                kc,
                a.as_ptr(),
                b.as_ptr(),
                c.as_mut_ptr(),
                self.nr,
                accumulate,
                vecs,
            )
        }
    }

    /// The Winograd F(2×2, 3×3) input transform of one tile row
    /// ([`microkernel::winograd_input`]): tile `j` reads `e[r][j], o[r][j],
    /// e[r][j+1], o[r][j+1]` of each patch row `r` (its even and odd columns);
    /// position `ξ` of its `Bᵀ d B` goes to `out[ξ·stride + j]`.
    ///
    /// # Panics
    /// If a row holds fewer than `tw + 1` values or `out` fewer than
    /// `15·stride + tw`.
    pub fn winograd_input(
        &self,
        e: [&[T]; 4],
        o: [&[T]; 4],
        tw: usize,
        out: &mut [T],
        stride: usize,
    ) {
        assert!(
            e.iter().chain(&o).all(|r| r.len() > tw)
                && tw <= stride
                && out.len() >= 15 * stride + tw,
            "winograd input transform out of bounds"
        );
        let (e, o) = (e.map(<[T]>::as_ptr), o.map(<[T]>::as_ptr));
        // SAFETY: supported level (see `gemm_kernel_f32`); the assert bounds every
        // read (tw + 1 per row) and write (tw at each ξ·stride, 15·stride + tw).
        unsafe { (self.winograd_in)(&e, &o, tw, out.as_mut_ptr(), stride) }
    }

    /// `even[k] = src[2k]`, `odd[k] = src[2k + 1]` for every `k < even.len()`
    /// ([`microkernel::split_pairs`]).
    ///
    /// # Panics
    /// If `odd` is shorter than `even`, or `src` than `2·even.len()`.
    pub fn split_pairs(&self, src: &[T], even: &mut [T], odd: &mut [T]) {
        let pairs = even.len();
        assert!(
            odd.len() >= pairs && src.len() >= 2 * pairs,
            "split_pairs out of bounds"
        );
        // SAFETY: supported level; the assert bounds the 2·pairs reads of src
        // and the pairs writes of even and odd (distinct `&mut` slices).
        unsafe { (self.split)(src.as_ptr(), pairs, even.as_mut_ptr(), odd.as_mut_ptr()) }
    }

    /// Writes rows of `b` transposed into a packed panel
    /// ([`microkernel::transpose_rows`]): `dst[i·ld + t] = b[rows[t] + i]` for
    /// `t < rows.len()`, `i < len`. Returns false, writing nothing, on a level
    /// without the kernel (the caller transposes by other means).
    ///
    /// # Panics
    /// If a row of `b` or `dst` is too short.
    pub fn transpose_rows(
        &self,
        b: &[T],
        rows: &[usize],
        len: usize,
        dst: &mut [T],
        ld: usize,
    ) -> bool {
        let Some(f) = self.transpose else {
            return false;
        };
        let taps = rows.len();
        assert!(
            taps <= ld
                && (len == 0
                    || taps == 0
                    || rows
                        .iter()
                        .all(|&r| r.checked_add(len).is_some_and(|e| e <= b.len()))
                        && (len - 1)
                            .checked_mul(ld)
                            .and_then(|e| e.checked_add(taps))
                            .is_some_and(|e| e <= dst.len())),
            "transpose_rows out of bounds"
        );
        // SAFETY: supported level; the assert bounds every row's `len` reads of
        // `b` and the writes `i·ld + t` (t < taps <= ld, i < len) of `dst`.
        unsafe { f(b.as_ptr(), rows.as_ptr(), taps, len, dst.as_mut_ptr(), ld) };
        true
    }

    /// The Winograd F(2×2, 3×3) output transform `Aᵀ m A + bias` of a run of
    /// tiles ([`microkernel::winograd_output`]): tile `l` reads `m[ξ][l]` and
    /// writes `y0[2l..2l + 2]` and `y1[2l..2l + 2]`.
    ///
    /// # Panics
    /// If an `m[ξ]` is shorter than `y0.len() / 2`, or `y1` than `y0`.
    pub fn winograd_output(&self, m: [&[T]; 16], bias: T, y0: &mut [T], y1: &mut [T]) {
        let run = y0.len() / 2;
        assert!(
            m.iter().all(|r| r.len() >= run) && y1.len() >= 2 * run,
            "winograd output transform out of bounds"
        );
        let m = m.map(<[T]>::as_ptr);
        // SAFETY: supported level; the assert bounds the run reads of each m[ξ]
        // and the 2·run writes of y0 and y1 (distinct `&mut` slices).
        unsafe { (self.winograd_out)(&m, run, bias, y0.as_mut_ptr(), y1.as_mut_ptr()) }
    }

    /// As [`tile`](Self::tile), with row `r` of C at `c + r·ldc`: a tile written
    /// straight into a larger matrix.
    ///
    /// # Safety
    /// `c + r·ldc` points at `NR` values for every `r < MR` that nothing else reads
    /// or writes during the call.
    ///
    /// # Panics
    /// If `a` or `b` is too short for the tile.
    #[inline]
    pub unsafe fn tile_strided(
        &self,
        kc: usize,
        a: &[T],
        b: &[T],
        c: *mut T,
        ldc: usize,
        accumulate: bool,
    ) {
        assert!(
            a.len() >= kc * self.mr * self.a_copies && b.len() >= kc * self.nr,
            "gemm tile out of bounds"
        );
        // SAFETY: supported level (see `gemm_kernel_f32`); A and B bounded by the
        // assert, C by the caller's contract.
        unsafe { (self.tile)(kc, a.as_ptr(), b.as_ptr(), c, ldc, accumulate, self.nv()) }
    }

    /// `c[r·NR + j] (+)= Σ_{k<kc} a[(k·MR + r)·a_copies] · b[off_k + col + j]` with `off_k` row
    /// `k0 + k` of `rows`: a tile whose B rows are read in place, NR columns each.
    ///
    /// # Panics
    /// If a slice is too short (the table's maximum bounds every read of B).
    #[allow(clippy::too_many_arguments)]
    #[inline]
    pub fn tile_rows(
        &self,
        kc: usize,
        a: &[T],
        b: &[T],
        rows: &RowTable,
        (k0, col): (usize, usize),
        c: &mut [T],
        accumulate: bool,
    ) {
        let offsets = &rows.offsets()[k0..k0 + kc];
        assert!(
            a.len() >= kc * self.mr * self.a_copies
                && c.len() >= self.mr * self.nr
                && (kc == 0 || rows.max() + col + self.nr <= b.len()),
            "gemm tile_rows out of bounds"
        );
        // SAFETY: supported level (see `gemm_kernel_f32`); row k reads
        // b[off + col .. off + col + NR] with off <= rows.max() (immutable table), in
        // bounds by the assert, as are the kc·MR values of `a` and MR·NR of `c`.
        unsafe {
            (self.tile_rows)(
                kc,
                a.as_ptr(),
                b.as_ptr().add(col),
                offsets.as_ptr(),
                c.as_mut_ptr(),
                accumulate,
            )
        }
    }

    /// Whether the level has [`tile_rows_out`](Self::tile_rows_out).
    pub fn stores_out(&self) -> bool {
        self.tile_rows_out.is_some()
    }

    /// [`tile_rows`](Self::tile_rows) storing straight into an output, for
    /// the MR-row tiles `tiles` of one panel: tile `t` reads its A values at
    /// `a[t·a_tile ..]`, its row `r` is `out + (t·MR + r)·ldc`, and vector `v`
    /// of that row goes to the parts `parts[2v]` and `parts[2v + 1]`
    /// ([`microkernel::OutPart`]); the first call of a tile adds `bias[t·MR + r]`
    /// where given, later ones (`accumulate`) add to the output. The bounds are
    /// checked once for all the tiles (per tile, the checks were 2-3% of
    /// `stem`, whose reduction is 147 long).
    ///
    /// # Safety
    /// `out + (t·MR + r)·ldc + off + lo .. + hi` is writable and readable for
    /// every `t` in `tiles`, `r < MR` and part, and no other task touches those
    /// elements during the call.
    ///
    /// # Panics
    /// If `a`, `b`, `parts` or `bias` are too short for the tiles, a part's
    /// lanes are not within the vector, or the level has no such tile
    /// ([`stores_out`](Self::stores_out)).
    #[allow(clippy::too_many_arguments)]
    #[inline]
    pub unsafe fn tile_rows_out(
        &self,
        kc: usize,
        (a, a_tile): (&[T], usize),
        tiles: std::ops::Range<usize>,
        b: &[T],
        rows: &RowTable,
        (k0, col): (usize, usize),
        out: *mut T,
        ldc: usize,
        parts: &[microkernel::OutPart],
        bias: Option<&[T]>,
        accumulate: bool,
    ) {
        let tile = self
            .tile_rows_out
            .expect("tile_rows_out on a level without it");
        let offsets = &rows.offsets()[k0..k0 + kc];
        let lanes = self.nr / self.nv;
        let a_need = kc * self.mr * self.a_copies;
        assert!(
            tiles.is_empty()
                || (tiles.end - 1)
                    .checked_mul(a_tile)
                    .and_then(|s| s.checked_add(a_need))
                    .is_some_and(|e| e <= a.len())
                    && (kc == 0 || rows.max() + col + self.nr <= b.len())
                    && parts.len() >= 2 * self.nv
                    && parts.iter().all(|p| p.lo <= p.hi && p.hi <= lanes)
                    && bias.is_none_or(|b| b.len() >= tiles.end * self.mr),
            "gemm tile_rows_out out of bounds"
        );
        let first = tiles.start;
        for t in tiles {
            // SAFETY: supported level (see `gemm_kernel_f32`); A, B, the parts
            // and the bias are bounded by the assert (B as in `tile_rows`), the
            // output rows by the caller's contract.
            unsafe {
                tile(
                    kc,
                    a.as_ptr().add(t * a_tile),
                    b.as_ptr().add(col),
                    offsets.as_ptr(),
                    out.wrapping_add(t * self.mr * ldc),
                    ldc,
                    parts.as_ptr(),
                    bias.map_or(std::ptr::null(), |b| b.as_ptr().add(t * self.mr)),
                    accumulate,
                    t == first,
                )
            }
        }
    }

    /// Packs rows `k0..k0 + kc` of `rows` (row `k` is `b[off + col .. off + col + n]`,
    /// `n <= NR`) into `dst[k·NR ..]`, zero-filling columns `n..NR`.
    ///
    /// # Panics
    /// If a slice is too short (the table's maximum bounds every read).
    #[allow(clippy::too_many_arguments)]
    #[inline]
    pub fn pack_b(
        &self,
        dst: &mut [T],
        b: &[T],
        rows: &RowTable,
        k0: usize,
        kc: usize,
        col: usize,
        n: usize,
    ) {
        let offsets = &rows.offsets()[k0..k0 + kc];
        assert!(
            n <= self.nr
                && dst.len() >= kc * self.nr
                && (kc == 0 || rows.max() + col + n <= b.len()),
            "pack_b out of bounds"
        );
        // SAFETY: supported level (see `gemm_kernel_f32`); every row reads
        // b[off + col .. off + col + n] with off <= rows.max() (true by construction of
        // the immutable `RowTable`), in bounds by the assert, and writes
        // dst[k·NR .. (k+1)·NR] with k < kc.
        unsafe {
            (self.pack_b)(
                kc,
                b.as_ptr().add(col),
                offsets.as_ptr(),
                n,
                dst.as_mut_ptr(),
            )
        }
    }

    /// As [`pack_b`](Self::pack_b) for a plain matrix, row `k` at `b[k·ldb ..]`:
    /// its row offsets made on the stack, 256 rows at a time (no table to
    /// allocate).
    ///
    /// # Panics
    /// If a row `k0..k0 + kc` of `n <= NR` values from column `col` is past `b`,
    /// or `dst` is shorter than `kc·NR`.
    #[allow(clippy::too_many_arguments)]
    pub fn pack_b_strided(
        &self,
        dst: &mut [T],
        b: &[T],
        ldb: usize,
        k0: usize,
        kc: usize,
        col: usize,
        n: usize,
    ) {
        const ROWS: usize = 256;
        let last = (k0 + kc).checked_sub(1).map(|k| k * ldb + col + n);
        assert!(
            n <= self.nr && dst.len() >= kc * self.nr && last.is_none_or(|e| e <= b.len()),
            "pack_b_strided out of bounds"
        );
        let mut offsets = [0usize; ROWS];
        for r0 in (0..kc).step_by(ROWS) {
            let rows = ROWS.min(kc - r0);
            for (i, o) in offsets[..rows].iter_mut().enumerate() {
                *o = (k0 + r0 + i) * ldb;
            }
            // SAFETY: supported level; row k0 + r0 + i reads b[(k0 + r0 + i)·ldb + col
            // ..][..n], at most `last` <= b.len() by the assert, and writes
            // dst[(r0 + i)·NR ..][..NR] with r0 + i < kc.
            unsafe {
                (self.pack_b)(
                    rows,
                    b.as_ptr().add(col),
                    offsets.as_ptr(),
                    n,
                    dst.as_mut_ptr().add(r0 * self.nr),
                )
            }
        }
    }

    /// Packs rows `k0..k0 + kc` of `rows` into `dst[k·NR ..]` from runs: for each
    /// `(src, col, len)` in `runs`, panel columns `col..col + len` of row `k` are
    /// `b[off + src ..][..len]`. The runs must cover `0..n` in order, without gaps or
    /// overlap; columns `n..NR` are zeroed.
    ///
    /// # Panics
    /// If the runs are malformed or a read would leave `b`.
    #[inline]
    pub fn pack_b_runs(
        &self,
        dst: &mut [T],
        b: &[T],
        rows: &RowTable,
        (k0, kc): (usize, usize),
        runs: &[(usize, usize, usize)],
    ) {
        let offsets = &rows.offsets()[k0..k0 + kc];
        let mut n = 0;
        for &(src, col, len) in runs {
            assert!(
                col == n && len >= 1 && rows.max() + src + len <= b.len(),
                "pack_b_runs: bad run"
            );
            n += len;
        }
        assert!(
            n <= self.nr && dst.len() >= kc * self.nr,
            "pack_b_runs out of bounds"
        );
        // SAFETY: supported level (see `gemm_kernel_f32`); each run reads
        // b[off + src .. off + src + len] with off <= rows.max(), in bounds by the
        // asserts; runs tile 0..n <= NR, and rows k < kc write dst[k·NR .. (k+1)·NR].
        unsafe { (self.pack_b_runs)(kc, b.as_ptr(), offsets.as_ptr(), runs, n, dst.as_mut_ptr()) }
    }
}

macro_rules! gemm_table {
    ($f:ident, $t:ty, $pv:ty, $portable:expr, $avx2:expr, $avx512:expr, $mr:expr, [$np:expr, $n2:expr, $n5:expr], [$vp:expr, $v2:expr, $v5:expr]) => {
        /// The GEMM microkernel of `isa`, or `None` for `Scalar` or a level this CPU
        /// lacks: the only way to obtain one, so holding it proves the level.
        pub fn $f(isa: Isa) -> Option<GemmKernel<$t>> {
            if !isa.is_supported() {
                return None;
            }
            type Fns = (
                GemmTileFn<$t>,
                GemmTileRowsFn<$t>,
                Option<GemmTileRowsOutFn<$t>>,
                PackBFn<$t>,
                PackBRunsFn<$t>,
                WinogradInFn<$t>,
                WinogradOutFn<$t>,
                SplitPairsFn<$t>,
                Option<TransposeRowsFn<$t>>,
            );
            let (
                (
                    tile,
                    tile_rows,
                    tile_rows_out,
                    pack_b,
                    pack_b_runs,
                    winograd_in,
                    winograd_out,
                    split,
                    transpose,
                ),
                nr,
            ): (Fns, usize) = match isa {
                Isa::Scalar => return None,
                Isa::Portable => ($portable, $np),
                #[cfg(target_arch = "x86_64")]
                Isa::Avx2 => ($avx2, $n2),
                #[cfg(target_arch = "x86_64")]
                Isa::Avx512 => ($avx512, $n5),
                #[cfg(not(target_arch = "x86_64"))]
                _ => return None,
            };
            let mr = match isa {
                Isa::Avx512 => $mr.1,
                Isa::Portable => portable::MR,
                _ => $mr.0,
            };
            let a_copies = match isa {
                Isa::Portable => <$pv as Vector>::A_COPIES,
                _ => 1,
            };
            let nv = match isa {
                Isa::Portable => $vp,
                Isa::Avx2 => $v2,
                _ => $v5,
            };
            debug_assert_eq!(nr % nv, 0);
            Some(GemmKernel {
                isa,
                mr,
                nr,
                a_copies,
                nv,
                tile,
                tile_rows,
                tile_rows_out,
                pack_b,
                pack_b_runs,
                winograd_in,
                winograd_out,
                split,
                transpose,
            })
        }
    };
}

gemm_table!(
    gemm_kernel_f32,
    f32,
    portable::F32x8,
    (
        portable::gemm_tile_f32,
        portable::gemm_tile_rows_f32,
        None,
        portable::pack_b_f32,
        portable::pack_b_runs_f32,
        portable::winograd_input_f32,
        portable::winograd_output_f32,
        portable::split_pairs_f32,
        None
    ),
    (
        avx2::gemm_tile_f32,
        avx2::gemm_tile_rows_f32,
        None,
        avx2::pack_b_f32,
        avx2::pack_b_runs_f32,
        avx2::winograd_input_f32,
        avx2::winograd_output_f32,
        avx2::split_pairs_f32,
        Some(avx2::transpose_rows_f32)
    ),
    (
        avx512::gemm_tile_f32,
        avx512::gemm_tile_rows_f32,
        Some(avx512::gemm_tile_rows_out_f32),
        avx512::pack_b_f32,
        avx512::pack_b_runs_f32,
        avx512::winograd_input_f32,
        avx512::winograd_output_f32,
        avx512::split_pairs_f32,
        Some(avx512::transpose_rows_f32)
    ),
    (microkernel::MR_NARROW, microkernel::MR_WIDE),
    [8 * portable::NV, 24, 48],
    [portable::NV, 3, 3]
);
gemm_table!(
    gemm_kernel_f64,
    f64,
    portable::F64x4,
    (
        portable::gemm_tile_f64,
        portable::gemm_tile_rows_f64,
        None,
        portable::pack_b_f64,
        portable::pack_b_runs_f64,
        portable::winograd_input_f64,
        portable::winograd_output_f64,
        portable::split_pairs_f64,
        None
    ),
    (
        avx2::gemm_tile_f64,
        avx2::gemm_tile_rows_f64,
        None,
        avx2::pack_b_f64,
        avx2::pack_b_runs_f64,
        avx2::winograd_input_f64,
        avx2::winograd_output_f64,
        avx2::split_pairs_f64,
        Some(avx2::transpose_rows_f64)
    ),
    (
        avx512::gemm_tile_f64,
        avx512::gemm_tile_rows_f64,
        Some(avx512::gemm_tile_rows_out_f64),
        avx512::pack_b_f64,
        avx512::pack_b_runs_f64,
        avx512::winograd_input_f64,
        avx512::winograd_output_f64,
        avx512::split_pairs_f64,
        Some(avx512::transpose_rows_f64)
    ),
    (microkernel::MR_NARROW, microkernel::MR_WIDE),
    [4 * portable::NV, 12, 24],
    [portable::NV, 3, 3]
);

/// A direct-correlation row kernel signature: see [`DirectKernel::row`].
pub type DirectRowFn<T> =
    unsafe fn(&[*const T], usize, usize, *const T, *mut T, usize, T, bool, bool);

/// The most kernel rows one [`DirectKernel::row`] call takes (more are split into
/// calls that accumulate).
pub const DIRECT_MAX_ROWS: usize = 64;

/// `f` of the start pointers of `rows` (at most [`DIRECT_MAX_ROWS`]), from a
/// table of 16 or 32 where they fit: filling the larger table is a measurable cost
/// of the small calls of depthwise layers.
#[inline(always)]
fn with_row_ptrs<T, R>(rows: &[&[T]], f: impl FnOnce(&[*const T]) -> R) -> R {
    fn fill<T, const N: usize>(rows: &[&[T]]) -> [*const T; N] {
        let mut ptrs = [std::ptr::null::<T>(); N];
        for (p, r) in ptrs.iter_mut().zip(rows) {
            *p = r.as_ptr();
        }
        ptrs
    }
    if rows.len() <= 16 {
        f(&fill::<T, 16>(rows)[..rows.len()])
    } else if rows.len() <= 32 {
        f(&fill::<T, 32>(rows)[..rows.len()])
    } else {
        f(&fill::<T, DIRECT_MAX_ROWS>(rows)[..rows.len()])
    }
}

/// A multi-row direct kernel signature: see [`DirectKernel::rows`].
pub type DirectRowsFn<T> =
    unsafe fn(&[*const T], usize, usize, usize, *const T, &[*mut T], usize, T, bool, bool);

/// A slab direct kernel signature: see [`DirectKernel::slab`].
pub type DirectSlabFn<T> =
    unsafe fn(&[*const T], usize, usize, usize, usize, *const T, *mut T, usize, usize, T, bool);

/// An in-place direct kernel signature: see [`DirectKernel::in_place`].
pub type DirectInPlaceFn<T> = unsafe fn(
    &[*const T],
    *const T,
    InPlaceRows,
    (usize, usize, usize),
    *const T,
    *mut T,
    (usize, usize),
    T,
    bool,
);

pub use microkernel::IN_PLACE_MAX_TAPS;

/// Where [`DirectKernel::in_place`] reads a zero-padded plane in place:
/// `in_rows` input rows of `len` values, `stride` apart. Slab row `y` (read by
/// output row `y - k` with kernel row `k`) is input row `y - top`; output column
/// `j` with tap `t` reads input column `j + t·dil - left`. Rows and columns outside
/// the input are zeros. Each block of rows first prefetches the rows the next
/// block reads first, of the planes `next` says (see [`in_place_next_rows`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InPlaceRows {
    pub stride: usize,
    pub in_rows: usize,
    pub top: usize,
    pub len: usize,
    pub left: usize,
    pub next: NextRows,
}

/// Whose rows each block of [`DirectKernel::in_place`] prefetches for the next
/// block ([`InPlaceRows::next`]). Results are the same bits for each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NextRows {
    /// None: the hardware prefetchers alone.
    None,
    /// The last kernel plane's: in a 3-D task, whose output planes go in order,
    /// the one input plane the previous output plane did not read.
    LastPlane,
    /// Every kernel plane's.
    All,
}

/// The geometry of one [`DirectKernel::grad_weight`] call: `rows` output rows of
/// `n` columns; output row `m` reads the output gradient at `m·gs` and, with
/// kernel row `r` and tap `t`, the input at `m·xs + r·rs + t·dil`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GradWeightRows {
    pub xs: usize,
    pub rs: usize,
    pub dil: usize,
    pub kh: usize,
    pub taps: usize,
    pub gs: usize,
    pub rows: usize,
    pub n: usize,
}

/// A weight-gradient kernel signature: see [`DirectKernel::grad_weight`].
pub type DirectGradWeightFn<T> = unsafe fn(*const T, *const T, GradWeightRows, *mut T);

/// A tap-list direct kernel signature: see [`DirectKernel::taps`].
pub type DirectTapsFn<T> = unsafe fn(&[*const T], *const T, u64, *mut T, usize, T, bool);

/// The most taps one [`DirectKernel::taps`] call takes (more are split into calls
/// that accumulate).
pub const DIRECT_MAX_TAPS: usize = 64;

/// The direct-correlation kernels of one ISA level and element type.
#[derive(Clone, Copy)]
pub struct DirectKernel<T> {
    pub isa: Isa,
    /// Output rows computed together by [`rows`](Self::rows).
    pub rows_per_block: usize,
    row: DirectRowFn<T>,
    rows: DirectRowsFn<T>,
    taps: DirectTapsFn<T>,
    slab: DirectSlabFn<T>,
    finite: unsafe fn(*const T, usize) -> bool,
    copy: unsafe fn(*const T, *mut T, usize),
    in_place: DirectInPlaceFn<T>,
    grad_weight: DirectGradWeightFn<T>,
}

impl<T> fmt::Debug for DirectKernel<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DirectKernel({})", self.isa)
    }
}

impl<T: Element> DirectKernel<T> {
    /// `out[j] (+)= Σ_r Σ_t w[r·taps + t] · rows[r][j + t·dil]` for every `j` of
    /// `out`, starting from `out` (`accumulate`) or from `bias`. Each row slice
    /// starts at the element the first output reads. With `stream` (and not
    /// `accumulate`), whole aligned vectors are written with non-temporal stores
    /// where the level has them (see [`rows`](Self::rows)).
    ///
    /// # Panics
    /// If a row is shorter than `out.len() + (taps-1)·dil`, `w` is shorter than
    /// `rows.len()·taps`, or there are more than [`DIRECT_MAX_ROWS`] rows.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    pub fn row(
        &self,
        rows: &[&[T]],
        taps: usize,
        dil: usize,
        w: &[T],
        out: &mut [T],
        bias: T,
        accumulate: bool,
        stream: bool,
    ) {
        let n = out.len();
        if n == 0 || taps == 0 {
            return;
        }
        let need = n + (taps - 1) * dil;
        assert!(
            rows.len() <= DIRECT_MAX_ROWS
                && w.len() >= rows.len() * taps
                && rows.iter().all(|r| r.len() >= need),
            "direct row out of bounds"
        );
        with_row_ptrs(rows, |ptrs| {
            // SAFETY: supported level (see `direct_kernel_f32`); every row holds
            // the `need` elements it is read at (assert), `w` its taps, `out` its
            // n outputs.
            unsafe {
                (self.row)(
                    ptrs,
                    taps,
                    dil,
                    w.as_ptr(),
                    out.as_mut_ptr(),
                    n,
                    bias,
                    accumulate,
                    stream,
                )
            }
        })
    }
}

impl<T: Element> DirectKernel<T> {
    /// `out[j] (+)= Σ_e w[e] · taps[e][j]` for every `j` of `out`, starting from
    /// `out` (`accumulate`) or from `bias`: one output row over an explicit tap
    /// list (the non-zero taps of a sparse kernel). Each tap slice starts at the
    /// element the first output reads; bit `e` of `fetch` marks a tap that starts
    /// a new input row (prefetched ahead; a hint only).
    ///
    /// # Panics
    /// If a tap slice is shorter than `out`, `w` is shorter than `taps`, or there
    /// are more than [`DIRECT_MAX_TAPS`] taps.
    #[inline]
    pub fn taps(
        &self,
        taps: &[&[T]],
        w: &[T],
        fetch: u64,
        out: &mut [T],
        bias: T,
        accumulate: bool,
    ) {
        let n = out.len();
        if n == 0 {
            return;
        }
        assert!(
            taps.len() <= DIRECT_MAX_TAPS
                && w.len() >= taps.len()
                && taps.iter().all(|t| t.len() >= n),
            "direct taps out of bounds"
        );
        let mut ptrs = [std::ptr::null::<T>(); DIRECT_MAX_TAPS];
        for (p, t) in ptrs.iter_mut().zip(taps) {
            *p = t.as_ptr();
        }
        // SAFETY: supported level (see `direct_kernel_f32`); every tap slice holds
        // the n elements it is read at (assert), `w` its weights, `out` n outputs.
        unsafe {
            (self.taps)(
                &ptrs[..taps.len()],
                w.as_ptr(),
                fetch,
                out.as_mut_ptr(),
                n,
                bias,
                accumulate,
            )
        }
    }

    /// `out.len() / width` consecutive output rows of `width` values (stride and
    /// dilation 1 between rows) read in place from a zero-padded input: kernel
    /// plane `d` reads plane `planes[d]` (`None`: a padding plane) through `g`, rows
    /// and columns outside the input as zeros (`zero`, and lanes left out of the
    /// loads): `out[y][j] (+)= Σ_d Σ_k Σ_t w[(d·kh + k)·taps + t] · x_d[y + k - top][j + t·dil - left]`.
    /// Rows go `rows_per_block` at a time, as [`slab`](Self::slab), with no padded
    /// copy.
    ///
    /// # Panics
    /// If `out` is not whole rows, a plane is shorter than `g` says, `zero` is
    /// shorter than a row, there are more than [`IN_PLACE_MAX_TAPS`] taps or more
    /// planes than [`DIRECT_MAX_ROWS`]` / (rows_per_block + kh - 1)`, or `w` is
    /// short.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    pub fn in_place(
        &self,
        planes: &[Option<&[T]>],
        zero: &[T],
        g: InPlaceRows,
        (kh, taps, dil): (usize, usize, usize),
        w: &[T],
        out: &mut [T],
        width: usize,
        bias: T,
        accumulate: bool,
    ) {
        if width == 0 || out.is_empty() || taps == 0 || kh == 0 || planes.is_empty() {
            return;
        }
        let span = g
            .in_rows
            .checked_sub(1)
            .map_or(Some(0), |r| r.checked_mul(g.stride)?.checked_add(g.len));
        assert!(
            out.len().is_multiple_of(width)
                && taps <= IN_PLACE_MAX_TAPS
                && zero.len() >= g.len
                && span.is_some_and(|s| planes.iter().flatten().all(|p| p.len() >= s))
                && planes.len() * (self.rows_per_block + kh - 1) <= DIRECT_MAX_ROWS
                && w.len() >= planes.len() * kh * taps,
            "direct in-place rows out of bounds"
        );
        let mut ptrs = [std::ptr::null::<T>(); DIRECT_MAX_ROWS];
        for (p, s) in ptrs.iter_mut().zip(planes) {
            *p = s.map_or(std::ptr::null(), |s| s.as_ptr());
        }
        // SAFETY: supported level (see `direct_kernel_f32`); every plane holds
        // its `in_rows` rows of `len` elements `stride` apart (asserts), `zero` a
        // row, `w` its taps, `out` its rows; the row tables fit.
        unsafe {
            (self.in_place)(
                &ptrs[..planes.len()],
                zero.as_ptr(),
                g,
                (kh, taps, dil),
                w.as_ptr(),
                out.as_mut_ptr(),
                (width, out.len() / width),
                bias,
                accumulate,
            )
        }
    }

    /// The weight gradient of one channel pair over `s.rows` output rows, in
    /// correlation form: `out[r·taps + t] += Σ_m Σ_j x[m·xs + r·rs + t·dil + j] ·
    /// g[m·gs + j]` ([`microkernel::direct_grad_weight`]). Nothing is read or
    /// written for empty geometry.
    ///
    /// # Panics
    /// If `x`, `g` or `out` is shorter than `s` says (or its extent overflows).
    #[inline]
    pub fn grad_weight(&self, x: &[T], g: &[T], s: GradWeightRows, out: &mut [T]) {
        if s.rows == 0 || s.n == 0 || s.kh == 0 || s.taps == 0 {
            return;
        }
        let last = |parts: &[(usize, usize)]| {
            parts
                .iter()
                .try_fold(s.n, |acc, &(c, st)| acc.checked_add(c.checked_mul(st)?))
        };
        let x_need = last(&[(s.rows - 1, s.xs), (s.kh - 1, s.rs), (s.taps - 1, s.dil)]);
        let g_need = last(&[(s.rows - 1, s.gs)]);
        assert!(
            x_need.is_some_and(|e| x.len() >= e)
                && g_need.is_some_and(|e| g.len() >= e)
                && out.len() >= s.kh * s.taps,
            "direct weight gradient out of bounds"
        );
        // SAFETY: supported level (see `direct_kernel_f32`); `x` and `g` hold
        // every element the geometry reads, `out` its sums (asserts).
        unsafe { (self.grad_weight)(x.as_ptr(), g.as_ptr(), s, out.as_mut_ptr()) }
    }

    /// `dst = src`, inline (short rows, where a `memcpy` call costs as much as the
    /// copy).
    ///
    /// # Panics
    /// If the lengths differ.
    #[inline]
    pub fn copy(&self, src: &[T], dst: &mut [T]) {
        assert_eq!(
            src.len(),
            dst.len(),
            "copy between slices of different lengths"
        );
        // SAFETY: supported level (see `direct_kernel_f32`); both hold `len`
        // elements, and `&`/`&mut` slices do not overlap.
        unsafe { (self.copy)(src.as_ptr(), dst.as_mut_ptr(), dst.len()) }
    }

    /// Whether every value of `x` is finite (no infinity, no NaN).
    #[inline]
    pub fn all_finite(&self, x: &[T]) -> bool {
        // SAFETY: supported level (see `direct_kernel_f32`); `x` holds its length.
        unsafe { (self.finite)(x.as_ptr(), x.len()) }
    }

    /// `rows_per_block` output rows at once, for stride and dilation 1 between
    /// rows, over one or more kernel planes: in plane `d`, output row `r` sums kernel
    /// row `kh` against input row `inp[d·(R + kh - 1) + r + kh]`:
    /// `out[r][j] (+)= Σ_d Σ_kh Σ_t w[(d·kh + kh)·taps + t] · inp[..][j + t·dil]`.
    /// Each input slice starts at the element the first output reads. With
    /// `stream` (and not `accumulate`), rows aligned alike are written with
    /// non-temporal stores where the level has them: for outputs too large to
    /// stay in cache, whose lines then need not be read before they are written.
    ///
    /// # Panics
    /// If `out` does not hold `rows_per_block` rows of equal length, `inp` does not
    /// hold a whole number of planes of `rows_per_block + kh - 1` rows, each long
    /// enough, or `w` is short.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    pub fn rows(
        &self,
        inp: &[&[T]],
        kh: usize,
        taps: usize,
        dil: usize,
        w: &[T],
        out: &mut [&mut [T]],
        bias: T,
        accumulate: bool,
        stream: bool,
    ) {
        let r = self.rows_per_block;
        let n = out.first().map_or(0, |o| o.len());
        if n == 0 || taps == 0 || kh == 0 {
            return;
        }
        let need = n + (taps - 1) * dil;
        assert!(
            out.len() == r
                && out.iter().all(|o| o.len() == n)
                && !inp.is_empty()
                && inp.len().is_multiple_of(r + kh - 1)
                && inp.len() <= DIRECT_MAX_ROWS
                && kh <= DIRECT_MAX_ROWS
                && inp.iter().all(|i| i.len() >= need)
                && w.len() >= inp.len() / (r + kh - 1) * kh * taps,
            "direct rows out of bounds"
        );
        let mut op = [std::ptr::null_mut::<T>(); 8];
        for (p, o) in op.iter_mut().zip(out.iter_mut()) {
            *p = o.as_mut_ptr();
        }
        with_row_ptrs(inp, |ip| {
            // SAFETY: supported level (see `direct_kernel_f32`); every input row
            // holds the `need` elements it is read at, `w` its taps, each output row
            // n values (asserts); the rows are distinct `&mut` slices, so writes do
            // not alias.
            unsafe {
                (self.rows)(
                    ip,
                    kh,
                    taps,
                    dil,
                    w.as_ptr(),
                    &op[..r],
                    n,
                    bias,
                    accumulate,
                    stream,
                )
            }
        })
    }

    /// `out.len() / width` consecutive output rows of `width` values (stride and
    /// dilation 1 between rows) from a slab of padded input rows `stride` apart:
    /// kernel plane `d` reads slab `planes[d]`, and output row `y` sums kernel row
    /// `kh'` against its row `y + kh'` from the row's start:
    /// `out[y][j] (+)= Σ_d Σ_kh' Σ_t w[(d·kh + kh')·taps + t] · planes[d][(y + kh')·stride + j + t·dil]`.
    /// Rows go through [`rows`](Self::rows)' kernel `rows_per_block` at a time, so
    /// a whole task is one call.
    ///
    /// # Panics
    /// If `out` is not whole rows, the planes' rows (`stride` apart) are shorter than
    /// `width + (taps-1)·dil` or fewer than `out.len() / width + kh - 1`, there are
    /// more planes than [`DIRECT_MAX_ROWS`]` / (rows_per_block + kh - 1)`, or `w`
    /// is short.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    pub fn slab(
        &self,
        planes: &[&[T]],
        stride: usize,
        kh: usize,
        taps: usize,
        dil: usize,
        w: &[T],
        out: &mut [T],
        width: usize,
        bias: T,
        accumulate: bool,
    ) {
        if width == 0 || out.is_empty() || taps == 0 || kh == 0 || planes.is_empty() {
            return;
        }
        let rows = out.len() / width;
        let need = (taps - 1)
            .checked_mul(dil)
            .and_then(|s| s.checked_add(width));
        let span = (rows + kh - 2)
            .checked_mul(stride)
            .zip(need)
            .and_then(|(a, b)| a.checked_add(b));
        assert!(
            out.len().is_multiple_of(width)
                && need.is_some_and(|n| n <= stride)
                && span.is_some_and(|s| planes.iter().all(|p| p.len() >= s))
                && planes.len() * (self.rows_per_block + kh - 1) <= DIRECT_MAX_ROWS
                && w.len() >= planes.len() * kh * taps,
            "direct slab out of bounds"
        );
        let mut ptrs = [std::ptr::null::<T>(); DIRECT_MAX_ROWS];
        for (p, s) in ptrs.iter_mut().zip(planes) {
            *p = s.as_ptr();
        }
        // SAFETY: supported level (see `direct_kernel_f32`); every plane holds its
        // `rows + kh - 1` rows of `need` elements `stride` apart (asserts: the last
        // row ends at `span`), `w` its taps, `out` its rows; the row tables fit.
        unsafe {
            (self.slab)(
                &ptrs[..planes.len()],
                stride,
                kh,
                taps,
                dil,
                w.as_ptr(),
                out.as_mut_ptr(),
                width,
                rows,
                bias,
                accumulate,
            )
        }
    }
}

macro_rules! direct_table {
    ($f:ident, $t:ty, $portable:expr, $avx2:expr, $avx512:expr) => {
        /// The direct kernel of `isa`, or `None` for `Scalar` or a level this CPU
        /// lacks: the only way to obtain one, so holding it proves the level.
        pub fn $f(isa: Isa) -> Option<DirectKernel<$t>> {
            if !isa.is_supported() {
                return None;
            }
            #[allow(clippy::type_complexity)]
            let ((row, rows, taps, slab, finite, copy, in_place, grad_weight), rows_per_block): (
                (
                    DirectRowFn<$t>,
                    DirectRowsFn<$t>,
                    DirectTapsFn<$t>,
                    DirectSlabFn<$t>,
                    unsafe fn(*const $t, usize) -> bool,
                    unsafe fn(*const $t, *mut $t, usize),
                    DirectInPlaceFn<$t>,
                    DirectGradWeightFn<$t>,
                ),
                usize,
            ) = match isa {
                Isa::Scalar => return None,
                Isa::Portable => ($portable, 2),
                #[cfg(target_arch = "x86_64")]
                Isa::Avx2 => ($avx2, 2),
                #[cfg(target_arch = "x86_64")]
                Isa::Avx512 => ($avx512, avx512::DIRECT_ROWS),
                #[cfg(not(target_arch = "x86_64"))]
                _ => return None,
            };
            Some(DirectKernel {
                isa,
                rows_per_block,
                row,
                rows,
                taps,
                slab,
                finite,
                copy,
                in_place,
                grad_weight,
            })
        }
    };
}

direct_table!(
    direct_kernel_f32,
    f32,
    (
        portable::direct_row_f32,
        portable::direct_rows_f32,
        portable::direct_taps_f32,
        portable::direct_slab_f32,
        portable::all_finite_f32,
        portable::copy_f32,
        portable::direct_in_place_f32,
        portable::direct_grad_weight_f32
    ),
    (
        avx2::direct_row_f32,
        avx2::direct_rows_f32,
        avx2::direct_taps_f32,
        avx2::direct_slab_f32,
        avx2::all_finite_f32,
        avx2::copy_f32,
        avx2::direct_in_place_f32,
        avx2::direct_grad_weight_f32
    ),
    (
        avx512::direct_row_f32,
        avx512::direct_rows_f32,
        avx512::direct_taps_f32,
        avx512::direct_slab_f32,
        avx512::all_finite_f32,
        avx512::copy_f32,
        avx512::direct_in_place_f32,
        avx512::direct_grad_weight_f32
    )
);
direct_table!(
    direct_kernel_f64,
    f64,
    (
        portable::direct_row_f64,
        portable::direct_rows_f64,
        portable::direct_taps_f64,
        portable::direct_slab_f64,
        portable::all_finite_f64,
        portable::copy_f64,
        portable::direct_in_place_f64,
        portable::direct_grad_weight_f64
    ),
    (
        avx2::direct_row_f64,
        avx2::direct_rows_f64,
        avx2::direct_taps_f64,
        avx2::direct_slab_f64,
        avx2::all_finite_f64,
        avx2::copy_f64,
        avx2::direct_in_place_f64,
        avx2::direct_grad_weight_f64
    ),
    (
        avx512::direct_row_f64,
        avx512::direct_rows_f64,
        avx512::direct_taps_f64,
        avx512::direct_slab_f64,
        avx512::all_finite_f64,
        avx512::copy_f64,
        avx512::direct_in_place_f64,
        avx512::direct_grad_weight_f64
    )
);
