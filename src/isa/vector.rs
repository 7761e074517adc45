//! `Vector`: the SIMD operations the kernel bodies are written in, one
//! implementation per ISA level and element type.
//!
//! Every method is `#[inline(always)]` and `unsafe`: it must be called from a
//! function compiled with the level's target features (the `#[target_feature]`
//! wrappers in each level's module), where the intrinsics inline into straight
//! vector code.

use crate::element::Element;

/// A SIMD vector of `LANES` elements of `Elem`.
pub trait Vector: Copy {
    type Elem: Element;
    /// A set of lanes ([`lanes`](Self::lanes)): a mask register or vector.
    type Lanes: Copy;
    const LANES: usize;

    /// # Safety
    /// The CPU must support the level; called from a matching `#[target_feature]` fn.
    unsafe fn zero() -> Self;
    /// # Safety
    /// As [`zero`](Self::zero).
    unsafe fn splat(v: Self::Elem) -> Self;
    /// Loads `LANES` elements (unaligned).
    /// # Safety
    /// `p..p+LANES` must be readable; and as [`zero`](Self::zero).
    unsafe fn load(p: *const Self::Elem) -> Self;
    /// Loads the first `n < LANES` elements; the other lanes are 0 and their memory
    /// is never touched.
    /// # Safety
    /// `p..p+n` must be readable; and as [`zero`](Self::zero).
    unsafe fn load_partial(p: *const Self::Elem, n: usize) -> Self;
    /// The lane set `lo..hi` (`lo <= hi <= LANES`) for [`load_in`](Self::load_in),
    /// made once and used for many loads.
    /// # Safety
    /// As [`zero`](Self::zero).
    unsafe fn lanes(lo: usize, hi: usize) -> Self::Lanes;
    /// Loads the lanes of `lanes` (made by [`lanes`](Self::lanes)`(lo, hi)`) of
    /// the vector whose lane 0 is at `p`; the other lanes are 0 and their memory
    /// is never touched (a row read in place, its zero padding left out by lane).
    /// # Safety
    /// `p + lo .. p + hi` must be readable (`p` itself may lie outside the
    /// allocation: it is only offset with wrapping arithmetic); and as
    /// [`zero`](Self::zero).
    unsafe fn load_in(p: *const Self::Elem, lanes: Self::Lanes) -> Self;
    /// Stores the lanes of `lanes` (made by [`lanes`](Self::lanes)`(lo, hi)`) to
    /// the vector whose lane 0 is at `p`; the other lanes' memory is never
    /// touched.
    /// # Safety
    /// `p + lo .. p + hi` must be writable (`p` itself may lie outside the
    /// allocation: it is only offset with wrapping arithmetic); and as
    /// [`zero`](Self::zero).
    unsafe fn store_in(self, p: *mut Self::Elem, lanes: Self::Lanes);
    /// Stores `LANES` elements (unaligned).
    /// # Safety
    /// `p..p+LANES` must be writable; and as [`zero`](Self::zero).
    unsafe fn store(self, p: *mut Self::Elem);
    /// Stores the first `n < LANES` elements and nothing else.
    /// # Safety
    /// `p..p+n` must be writable; and as [`zero`](Self::zero).
    unsafe fn store_partial(self, p: *mut Self::Elem, n: usize);
    /// `a·b + c`, fused where the level has FMA.
    /// # Safety
    /// As [`zero`](Self::zero).
    unsafe fn fmadd(a: Self, b: Self, c: Self) -> Self;
    /// # Safety
    /// As [`zero`](Self::zero).
    unsafe fn add(self, o: Self) -> Self;
    /// `self - o`.
    /// # Safety
    /// As [`zero`](Self::zero).
    unsafe fn sub(self, o: Self) -> Self;
    /// The lanes of `a` and `b` alternated, `a0 b0 a1 b1 …`: the first `LANES`
    /// of them, then the rest.
    /// # Safety
    /// As [`zero`](Self::zero).
    #[inline(always)]
    unsafe fn interleave(a: Self, b: Self) -> (Self, Self) {
        // SAFETY: the buffers hold 2·LANES <= 32 elements; every access is inside.
        unsafe {
            let (mut x, mut y, mut z) = (
                [Self::Elem::ZERO; 16],
                [Self::Elem::ZERO; 16],
                [Self::Elem::ZERO; 32],
            );
            a.store(x.as_mut_ptr());
            b.store(y.as_mut_ptr());
            for i in 0..Self::LANES {
                z[2 * i] = x[i];
                z[2 * i + 1] = y[i];
            }
            (
                Self::load(z.as_ptr()),
                Self::load(z.as_ptr().add(Self::LANES)),
            )
        }
    }
    /// The even and the odd lanes of the `2·LANES` values `a` then `b`:
    /// `(a0 a2 … b0 b2 …, a1 a3 … b1 b3 …)` (the inverse of
    /// [`interleave`](Self::interleave)).
    /// # Safety
    /// As [`zero`](Self::zero).
    #[inline(always)]
    unsafe fn deinterleave(a: Self, b: Self) -> (Self, Self) {
        // SAFETY: the buffers hold 2·LANES <= 32 elements; every access is inside.
        unsafe {
            let (mut z, mut x, mut y) = (
                [Self::Elem::ZERO; 32],
                [Self::Elem::ZERO; 16],
                [Self::Elem::ZERO; 16],
            );
            a.store(z.as_mut_ptr());
            b.store(z.as_mut_ptr().add(Self::LANES));
            for i in 0..Self::LANES {
                x[i] = z[2 * i];
                y[i] = z[2 * i + 1];
            }
            (Self::load(x.as_ptr()), Self::load(y.as_ptr()))
        }
    }
    /// Vector registers of the level (16, or 32 with AVX-512): how many
    /// accumulators a kernel may keep.
    const REGISTERS: usize = 16;
    /// Whether [`shift`](Self::shift) is one instruction, so that kernels may
    /// build a tap's shifted input from two loaded vectors instead of loading it.
    const SHIFTS: bool = false;
    /// The window of `LANES` lanes starting at lane `K` of `a` followed by `b`
    /// (`a[K..]` then `b[..K]`), `0 < K < LANES`: the input of the tap `K`
    /// columns on, from the vectors at offsets 0 and `LANES`.
    /// # Safety
    /// As [`zero`](Self::zero).
    #[inline(always)]
    unsafe fn shift<const K: usize>(a: Self, b: Self) -> Self {
        // SAFETY: the buffer holds 2·LANES <= 32 elements; every access is inside.
        unsafe {
            let mut z = [Self::Elem::ZERO; 32];
            a.store(z.as_mut_ptr());
            b.store(z.as_mut_ptr().add(Self::LANES));
            Self::load(z.as_ptr().add(K))
        }
    }
    /// Hints that `p` will be read soon (no-op where the level has no prefetch).
    /// # Safety
    /// As [`zero`](Self::zero); `p` need not be dereferenceable.
    #[inline(always)]
    unsafe fn prefetch(_p: *const Self::Elem) {}
    /// `LANES` values at `p`, or the first `n < LANES` of them (the rest zero):
    /// a row's last vector.
    /// # Safety
    /// As [`load`](Self::load) for `n == LANES`, else as
    /// [`load_partial`](Self::load_partial).
    #[inline(always)]
    unsafe fn load_upto(p: *const Self::Elem, n: usize) -> Self {
        // SAFETY: the caller's contract, case by case.
        unsafe {
            if n == Self::LANES {
                Self::load(p)
            } else {
                Self::load_partial(p, n)
            }
        }
    }
    /// Stores all lanes at `p`, or the first `n < LANES`.
    /// # Safety
    /// As [`store`](Self::store) for `n == LANES`, else as
    /// [`store_partial`](Self::store_partial).
    #[inline(always)]
    unsafe fn store_upto(self, p: *mut Self::Elem, n: usize) {
        // SAFETY: the caller's contract, case by case.
        unsafe {
            if n == Self::LANES {
                self.store(p)
            } else {
                self.store_partial(p, n)
            }
        }
    }
    /// Hints that `p` will be read later: its line is fetched into L2, not L1
    /// (no-op where the level has no prefetch).
    /// # Safety
    /// As [`zero`](Self::zero); `p` need not be dereferenceable.
    #[inline(always)]
    unsafe fn prefetch_l2(_p: *const Self::Elem) {}
    /// Hints that `p` will be written soon: its line is fetched for ownership
    /// ahead of the store (no-op where the level has no such prefetch).
    /// # Safety
    /// As [`zero`](Self::zero); `p` need not be dereferenceable.
    #[inline(always)]
    unsafe fn prefetch_write(_p: *const Self::Elem) {}
    /// Whether [`store_stream`](Self::store_stream) bypasses the caches.
    const STREAMS: bool = false;
    /// Stores `LANES` elements at `p`, aligned to `LANES` elements, past the
    /// caches where the level can (a non-temporal store; [`fence`](Self::fence)
    /// before the data is handed to another thread), else as [`store`](Self::store).
    /// # Safety
    /// As [`store`](Self::store), with `p` aligned to `LANES` elements.
    #[inline(always)]
    unsafe fn store_stream(self, p: *mut Self::Elem) {
        // SAFETY: the caller's contract.
        unsafe { self.store(p) }
    }
    /// Orders the streaming stores before any later store (no-op where the level
    /// has none).
    /// # Safety
    /// As [`zero`](Self::zero).
    #[inline(always)]
    unsafe fn fence() {}
    /// Copies of each value in a packed GEMM A panel ([`splat_packed`](Self::splat_packed)):
    /// 1, or more where a broadcast from memory costs a shuffle that a load of
    /// pre-broadcast copies does not.
    const A_COPIES: usize = 1;
    /// All lanes set to the packed A value at `p` (`A_COPIES` copies of it there).
    /// # Safety
    /// `p..p + A_COPIES` must be readable; and as [`zero`](Self::zero).
    #[inline(always)]
    unsafe fn splat_packed(p: *const Self::Elem) -> Self {
        // SAFETY: the caller's contract.
        unsafe { Self::splat(*p) }
    }
    /// Sum of the lanes.
    /// # Safety
    /// As [`zero`](Self::zero).
    unsafe fn reduce_add(self) -> Self::Elem;
}
