//! `*_with_workspace` (and `forward_packed_with_workspace`) allocates nothing: a counting global allocator around every
//! fast path, forward and backward, on 1 and 2 threads. One test in its own binary,
//! so no other test allocates while it counts.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use common::Rng;
use xcorr::{Path, Plan, Problem};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static HERE: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

// SAFETY: forwards to the system allocator, only counting calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        let _ = HERE.try_with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        let _ = HERE.try_with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations during `f`: on this thread exactly for one thread; for a pool, the
/// least over three runs of the global count (idle pool workers may allocate on
/// their own between calls; an allocation inside the call shows in every run).
fn allocations_during(threads: usize, mut f: impl FnMut()) -> usize {
    if threads == 1 {
        let before = HERE.with(|c| c.get());
        f();
        return HERE.with(|c| c.get()) - before;
    }
    (0..3)
        .map(|_| {
            let before = ALLOCATIONS.load(Ordering::SeqCst);
            f();
            ALLOCATIONS.load(Ordering::SeqCst) - before
        })
        .min()
        .unwrap_or(0)
}

#[test]
fn execute_with_workspace_allocates_nothing() {
    let problems = [
        "n1_ic8_oc16_g1_i20x20_k3x3_s1_d1_p1_zeros_xcorr",
        "n2_ic6_oc4_g2_i23x9_k3x3_s1_d1_p1:2x0:1_reflect_conv",
        "n2_ic4_oc4_g4_i33x17_k5x3_s1_d2_psame_reflect_conv",
        "n1_ic1_oc1_g1_i5000_k7_s1_d1_p3_circular_xcorr",
        "n1_ic3_oc8_g1_i9x9x9_k3x3x3_s2_d1_p1_replicate_xcorr",
        // The direct path's strided-row route.
        "n1_ic4_oc4_g4_i20x21_k3x3_s2_d1_p1_reflect_conv",
    ];
    for d in problems {
        let p: Problem = d.parse().unwrap();
        for path in [Path::Im2col, Path::Direct, Path::Winograd] {
            let Ok(plan) = Plan::with_path(&p, path) else {
                continue;
            };
            for threads in [1, 2] {
                let plan = plan.clone().with_threads(threads);
                let mut r = Rng(7);
                let (x, w, b) = (
                    r.vec::<f32>(p.input_len()),
                    r.vec::<f32>(p.weight_len()),
                    r.vec::<f32>(p.bias_len()),
                );
                let mut y = vec![0.0f32; p.output_len()];
                let mut ws = vec![0.0f32; plan.workspace_len::<f32>()];
                let mut gx = vec![0.0f32; p.input_len()];
                let mut wsi = vec![0.0f32; plan.backward_input_workspace_len::<f32>()];
                let mut gw = vec![0.0f32; p.weight_len()];
                let mut wsw = vec![0.0f32; plan.backward_weight_workspace_len::<f32>()];
                let packed = plan.pack_weights(&w).unwrap();
                // Warm up: the first parallel call builds the thread pool.
                plan.forward_with_workspace(&x, &w, Some(&b), &mut y, &mut ws)
                    .unwrap();
                let n = allocations_during(threads, || {
                    plan.forward_with_workspace(&x, &w, Some(&b), &mut y, &mut ws)
                        .unwrap();
                    plan.forward_packed_with_workspace(&x, &packed, Some(&b), &mut y, &mut ws)
                        .unwrap();
                    plan.backward_input_with_workspace(&w, &y, &mut gx, &mut wsi)
                        .unwrap();
                    plan.backward_weight_with_workspace(&x, &y, &mut gw, &mut wsw)
                        .unwrap();
                });
                assert_eq!(n, 0, "{plan}: {n} allocations in execute");
            }
        }
    }
    gemm_with_workspace_allocates_nothing();
}

/// `gemm_with_workspace` allocates nothing either, on 1 and 2 threads (called
/// from the one test of this binary).
fn gemm_with_workspace_allocates_nothing() {
    use xcorr::gemm::{gemm_with_workspace, gemm_workspace_len};
    let (m, n, k) = (100, 200, 60);
    let mut r = Rng(3);
    let (a, b) = (r.vec::<f32>(m * k), r.vec::<f32>(k * n));
    let mut c = vec![0.0f32; m * n];
    let isa = xcorr::isa::Isa::active();
    let mut ws = vec![0.0f32; gemm_workspace_len::<f32>(isa, 2, m, n, k)];
    for threads in [1, 2] {
        gemm_with_workspace(isa, threads, m, n, k, &a, k, &b, n, &mut c, n, &mut ws).unwrap();
        let count = allocations_during(threads, || {
            gemm_with_workspace(isa, threads, m, n, k, &a, k, &b, n, &mut c, n, &mut ws).unwrap();
        });
        assert_eq!(count, 0, "{threads} threads: {count} allocations");
    }
}
