//! The public GEMM (`xcorr::gemm`) at every level this CPU has, f32 and f64: every
//! edge tile in m and n, reductions across KC blocks, leading dimensions wider than
//! the rows, 1 and 2 threads. Each operand's buffer ends exactly where its matrix
//! ends, so under AddressSanitizer (CI's ASan step runs the integration tests) a
//! read or write past any of them is reported; the gaps between rows of C must
//! come back untouched.
//!
//! (The library's unit tests check the same loop nest with a small KC; this file
//! goes through the public entry points with the blocking the running CPU gets.)

use xcorr::gemm::{gemm, gemm_with_workspace, gemm_workspace_len, Blocking};
use xcorr::isa::Isa;
use xcorr::Element;

/// Elements of a `rows × cols` matrix with leading dimension `ld`, and not one more.
fn extent(rows: usize, cols: usize, ld: usize) -> usize {
    if rows == 0 || cols == 0 {
        0
    } else {
        (rows - 1) * ld + cols
    }
}

/// Small integers: every product and partial sum is exact in f32 for the
/// reductions below, so the result must equal the naive loop exactly, whatever
/// the summation order.
fn matrix<T: Element>(rows: usize, cols: usize, ld: usize, seed: usize) -> Vec<T> {
    (0..extent(rows, cols, ld))
        .map(|i| T::from_f64(((i * (2 * seed + 5) + seed) % 11) as f64 - 5.0))
        .collect()
}

fn check<T: Element>(isa: Isa, threads: usize, m: usize, n: usize, k: usize, pad: usize) {
    let (lda, ldb, ldc) = (k + pad, n + 2 * pad, n + pad);
    let a = matrix::<T>(m, k, lda, 1);
    let b = matrix::<T>(k, n, ldb, 2);
    let sentinel = T::from_f64(-7777.0);
    let mut c = vec![sentinel; extent(m, n, ldc)];
    gemm(isa, threads, m, n, k, &a, lda, &b, ldb, &mut c, ldc).unwrap();
    for i in 0..m {
        for j in 0..ldc.min(c.len().saturating_sub(i * ldc)) {
            let want = if j < n {
                (0..k)
                    .map(|kk| a[i * lda + kk].to_f64() * b[kk * ldb + j].to_f64())
                    .sum::<f64>()
            } else {
                sentinel.to_f64()
            };
            assert_eq!(
                c[i * ldc + j].to_f64(),
                want,
                "{isa} {} {threads}T m{m} n{n} k{k} pad{pad}: C[{i}][{j}]",
                T::NAME
            );
        }
    }
}

/// Tile, KC and the L2-sized KC of full panels of the level's kernel for `T`
/// (the scalar level has none: a nominal 4 × 8 tile still walks small edge
/// cases there).
fn shape<T: Element>(isa: Isa) -> (usize, usize, usize, usize) {
    T::gemm_kernel(isa).map_or((4, 8, 16, 32), |kern| {
        let blocking = Blocking::for_kernel(&kern);
        (kern.mr, kern.nr, blocking.kc, blocking.kc_l2)
    })
}

fn every_edge<T: Element>() {
    for isa in Isa::supported() {
        let (mr, nr, kc, kc_l2) = shape::<T>(isa);
        for m in 1..=3 * mr + 1 {
            check::<T>(isa, 1, m, 5, 7, 1);
        }
        for n in 1..=3 * nr + 1 {
            check::<T>(isa, 1, 3, n, 4, 3);
        }
        // Reductions of one, and around one and two KC blocks.
        for k in [1, 2, kc - 1, kc, kc + 1, 2 * kc + 1] {
            check::<T>(isa, 1, mr + 1, nr + 3, k, 0);
        }
        // Full panels take blocks of up to `kc_l2` rows (the edge panel KC).
        for k in [kc_l2 - 1, kc_l2 + 1, 2 * kc_l2 + 1] {
            check::<T>(isa, 1, mr + 1, 2 * nr + 3, k, 1);
        }
        for threads in [1, 2] {
            check::<T>(isa, threads, 3 * mr + 1, 3 * nr + 1, kc + 3, 2);
        }
    }
}

#[test]
fn every_edge_tile_f32() {
    every_edge::<f32>();
}

#[test]
fn every_edge_tile_f64() {
    every_edge::<f64>();
}

/// Degenerate sizes are fine and write nothing outside C.
#[test]
fn empty_dimensions() {
    for isa in Isa::supported() {
        for (m, n, k) in [(0, 3, 2), (3, 0, 2), (0, 0, 0), (2, 3, 0)] {
            check::<f32>(isa, 1, m, n, k, 1);
        }
    }
}

/// Scratch of exactly the reported length suffices (refusing a shorter one is
/// `errors.rs`'s), at 1 and 2 threads, and matches the scalar loops.
#[test]
fn workspace_of_exact_length() {
    for isa in Isa::supported() {
        let (m, n, k) = (37, 29, 41);
        let (a, b) = (matrix::<f32>(m, k, k, 1), matrix::<f32>(k, n, n, 2));
        let mut want = vec![0.0f32; m * n];
        gemm(Isa::Scalar, 1, m, n, k, &a, k, &b, n, &mut want, n).unwrap();
        for threads in [1, 2] {
            let mut c = vec![0.0f32; m * n];
            let mut ws = vec![0.0f32; gemm_workspace_len::<f32>(isa, threads, m, n, k)];
            gemm_with_workspace(isa, threads, m, n, k, &a, k, &b, n, &mut c, n, &mut ws).unwrap();
            assert_eq!(c, want, "{isa} {threads}T");
        }
    }
}
