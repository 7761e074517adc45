//! Zero taps: the direct path sums only the non-zero taps of sparse kernels (large
//! kernels with most taps zero: at least 4 in 5 in 2-D and 3-D, 2 in 3 on one
//! kernel row, so every kernel here is that sparse). The result must be the
//! reference's, at every ISA level, bitwise the same on 1 and 2 threads, and an
//! infinity or a NaN that only a skipped tap reads must still make the output NaN,
//! as `0·∞` does in the reference.

mod common;

use common::{check_forward_threads, Rng};
use xcorr::isa::Isa;
use xcorr::{reference, Path, Plan, Problem};

/// Weights from `seed` with tap `t` of each kernel zero where `zero(t)`.
fn sparse_weights(p: &Problem, seed: u64, zero: impl Fn(usize) -> bool) -> Vec<f64> {
    let mut r = Rng(seed);
    let taps = p.kernel_spatial();
    (0..p.weight_len())
        .map(|i| if zero(i % taps) { 0.0 } else { r.unit() })
        .collect()
}

fn direct_plans(p: &Problem) -> Vec<Plan> {
    Isa::supported()
        .filter(|&isa| isa != Isa::Scalar)
        .map(|isa| {
            Plan::with_path(p, Path::Direct)
                .and_then(|pl| pl.with_isa(isa))
                .unwrap_or_else(|e| panic!("{p} {isa}: {e}"))
        })
        .collect()
}

/// Forward through the direct path at every level on 1 and 2 threads, against the
/// reference (the tolerance rule), and the two thread counts bitwise equal.
fn check(desc: &str, zero: impl Fn(usize) -> bool) {
    let p: Problem = desc.parse().unwrap();
    let mut r = Rng(7);
    let x: Vec<f64> = (0..p.input_len()).map(|_| r.unit()).collect();
    let w = sparse_weights(&p, 11, zero);
    let b: Vec<f64> = (0..p.bias_len()).map(|_| r.unit()).collect();
    check_forward_threads(&direct_plans(&p), &x, &w, &b);
}

#[test]
fn sparse_signal_kernels_match_the_reference() {
    // 31 taps, 3 of 4 zero, every padding mode, both ops, a short and a long row.
    for pad in [
        "pvalid",
        "p15",
        "p15_reflect",
        "p9:21_replicate",
        "p15_circular",
    ] {
        for op in ["xcorr", "conv"] {
            for len in [300, 40_000] {
                check(&format!("n1_ic1_oc1_i{len}_k31_{pad}_{op}"), |t| t % 4 != 1);
            }
        }
    }
    // Dilated, and two input channels that accumulate.
    check("n2_ic2_oc3_i5000_k24_d3_p30", |t| t % 3 != 0);
}

#[test]
fn sparse_image_and_volume_kernels_match_the_reference() {
    // 11x11 with 5 of 6 zero (every 6th tap kept); rows past the narrow limit.
    check("n1_ic1_oc1_i40x700_k11x11_p5", |t| t % 6 != 2);
    check("n1_ic1_oc1_i40x700_k11x11_p5_reflect_conv", |t| t % 6 != 2);
    check(
        "n1_ic2_oc2_i30x600_k11x11_s2x1_d2x1_p7:7x5:5_circular",
        |t| t % 6 != 0,
    );
    // Only the first and last rows of a 13x13 kernel (whole zero rows inside).
    check("n1_ic1_oc1_i30x650_k13x13_p6_replicate", |t| {
        t / 13 != 0 && t / 13 != 12
    });
    // More non-zero taps than one kernel call takes (21x21, a sixth kept: 74).
    check("n1_ic1_oc1_i40x600_k21x21_p10", |t| t % 6 != 3);
    // 3-D: 4x4x4, an eighth kept.
    check("n1_ic1_oc2_i6x8x600_k4x4x4_p2:2x2:2x1:1", |t| t % 8 != 0);
    // Depthwise, and a kernel of zeros only (the output is the bias).
    check("n1_ic3_oc3_g3_i12x600_k8x8_p3", |t| t % 6 != 1);
    check("n1_ic1_oc1_i12x600_k8x8_p3", |_| true);
}

#[test]
fn an_infinity_only_a_skipped_tap_reads_still_gives_nan() {
    // Kernel 1x31 with only taps 10 and 20 non-zero: input column c is read by a
    // non-zero tap of some output, but near the ends by zero taps only.
    let p: Problem = "n1_ic1_oc1_i1x2000_k1x31_p0:0x15:15".parse().unwrap();
    let w: Vec<f32> = (0..31)
        .map(|t| if t == 10 || t == 20 { 0.5 } else { 0.0 })
        .collect();
    for (pos, value) in [
        (0, f32::INFINITY),
        (3, f32::NAN),
        (1000, f32::NEG_INFINITY),
        (1998, f32::INFINITY),
    ] {
        let mut x = vec![1.0f32; p.input_len()];
        x[pos] = value;
        let mut want = vec![0.0f32; p.output_len()];
        reference::forward(&p, &x, &w, None, &mut want).unwrap();
        for plan in direct_plans(&p) {
            for t in [1, 2] {
                let mut y = vec![0.0f32; p.output_len()];
                plan.clone()
                    .with_threads(t)
                    .forward(&x, &w, None, &mut y)
                    .unwrap();
                for (i, (g, r)) in y.iter().zip(&want).enumerate() {
                    let same = if r.is_nan() { g.is_nan() } else { g == r };
                    assert!(same, "{plan} x[{pos}]={value}: y[{i}] = {g}, reference {r}");
                }
            }
        }
    }
    // 2-D: a kernel of one row and one more tap (whole zero rows between) and
    // non-finite values sprinkled.
    let p: Problem = "n1_ic1_oc1_i24x640_k9x9_p4".parse().unwrap();
    let w: Vec<f32> = (0..81)
        .map(|t| if t / 9 == 0 || t == 80 { 0.25 } else { 0.0 })
        .collect();
    let mut r = Rng(3);
    for round in 0..6 {
        let mut x: Vec<f32> = r.vec(p.input_len());
        for _ in 0..3 {
            let i = (r.next_u64() as usize) % x.len();
            x[i] = [f32::INFINITY, f32::NEG_INFINITY, f32::NAN][round % 3];
        }
        let mut want = vec![0.0f32; p.output_len()];
        reference::forward(&p, &x, &w, None, &mut want).unwrap();
        for plan in direct_plans(&p) {
            let mut y = vec![0.0f32; p.output_len()];
            plan.forward(&x, &w, None, &mut y).unwrap();
            for (i, (g, r)) in y.iter().zip(&want).enumerate() {
                let ok = if r.is_nan() {
                    g.is_nan()
                } else if r.is_infinite() {
                    g == r
                } else {
                    g.is_finite()
                };
                assert!(ok, "{plan} round {round}: y[{i}] = {g}, reference {r}");
            }
        }
    }
}
