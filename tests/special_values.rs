//! IEEE special values propagate on every path as they do in the reference (which
//! multiplies zero padding like PyTorch's pad-then-convolve): NaN where the reference
//! gives NaN, the same infinity where it gives an infinity.

mod common;

use common::{problem_strategy, winograd_problem_strategy, Rng};
use proptest::prelude::*;
use xcorr::isa::Isa;
use xcorr::{reference, Path, Plan, Problem, XcorrError};

fn sprinkle(v: &mut [f32], r: &mut Rng) {
    let n = v.len();
    for _ in 0..(1 + n / 16) {
        let i = (r.next_u64() as usize) % n;
        v[i] = match r.next_u64() % 3 {
            0 => f32::INFINITY,
            1 => f32::NEG_INFINITY,
            _ => f32::NAN,
        };
    }
}

fn same_kind(got: f32, want: f32) -> bool {
    if want.is_nan() {
        got.is_nan()
    } else if want.is_infinite() {
        got == want
    } else {
        got.is_finite()
    }
}

fn check(p: &Problem, seed: u64) {
    let mut r = Rng(seed);
    let mut x: Vec<f32> = r.vec(p.input_len());
    let mut w: Vec<f32> = r.vec(p.weight_len());
    if seed.is_multiple_of(2) {
        sprinkle(&mut x, &mut r);
    } else {
        sprinkle(&mut w, &mut r);
    }
    let mut want = vec![0.0f32; p.output_len()];
    reference::forward(p, &x, &w, None, &mut want).unwrap();
    for &path in Path::ALL {
        for isa in Isa::supported() {
            let Ok(plan) = Plan::with_path(p, path).and_then(|pl| pl.with_isa(isa)) else {
                continue;
            };
            let mut got = vec![0.0f32; p.output_len()];
            match plan.forward(&x, &w, None, &mut got) {
                Ok(()) => {}
                Err(XcorrError::PathUnsupported { .. }) => continue,
                Err(e) => panic!("{plan}: {e}"),
            }
            for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                assert!(same_kind(*g, *w), "{plan}: y[{i}] = {g}, reference {w}");
            }
        }
    }
}

#[test]
fn infinite_weight_at_a_zero_padded_border_gives_nan_everywhere() {
    let p: Problem = "n1_ic1_oc1_i9x40_k3x3_p1".parse().unwrap();
    for seed in 0..4 {
        check(&p, seed);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn special_values_propagate_like_the_reference(p in problem_strategy(), seed: u64) {
        check(&p, seed);
    }

    /// The Winograd path finds non-finite inputs by its outputs (and then runs
    /// im2col): every problem it takes, dilated ones included.
    #[test]
    fn winograd_special_values_propagate_like_the_reference(
        p in winograd_problem_strategy(),
        seed: u64,
    ) {
        check(&p, seed);
    }
}

/// Fuzz finding (backward target): an infinite weight made the input gradient NaN
/// at input elements that no term reaches (the reference, like PyTorch, gives 0).
#[test]
fn infinite_weight_leaves_untouched_inputs_at_zero_gradient() {
    let bytes = include_bytes!("regressions/backward-inf-weight-untouched-input.bin");
    assert!(!bytes.is_empty());
    let p: Problem = "n2_ic1_oc1_g1_i5_k3_s1_d3_p1:1_circular_conv"
        .parse()
        .unwrap();
    let w = [0.5f32, f32::INFINITY, -1.0];
    let gy: Vec<f32> = (0..p.output_len()).map(|i| i as f32 + 1.0).collect();
    let mut want = vec![0.0f32; p.input_len()];
    reference::backward_input(&p, &w, &gy, &mut want).unwrap();
    for &path in Path::ALL {
        for isa in Isa::supported() {
            let Ok(plan) = Plan::with_path(&p, path).and_then(|pl| pl.with_isa(isa)) else {
                continue;
            };
            let mut got = vec![0.0f32; p.input_len()];
            plan.backward_input(&w, &gy, &mut got).unwrap();
            for (g, w) in got.iter().zip(&want) {
                assert!(
                    same_kind(*g, *w) && (!w.is_finite() || g == w),
                    "{plan}: {got:?} vs {want:?}"
                );
            }
        }
    }
}

/// The direct path's strided-row route adds zero weights to ragged phases (a
/// kernel that the stride does not divide); planes with an infinity or NaN are
/// summed term by term instead, so no `0·∞` appears where the definition has no
/// term.
#[test]
fn strided_direct_route_keeps_special_values() {
    for d in [
        "n1_ic4_oc4_g4_i20x21_k3x3_s2x2_p1_zeros_xcorr",
        "n1_ic2_oc4_g2_i15x16_k5x3_s2x3_p2:2x1:1_reflect_conv",
        "n2_ic1_oc1_i301_k3_s2_p1_circular_xcorr",
    ] {
        let p: Problem = d.parse().unwrap();
        assert!(Plan::with_path(&p, Path::Direct).is_ok(), "{p}");
        for seed in 0..6 {
            check(&p, seed);
        }
    }
}

/// Fuzz finding (backward target): the direct weight gradient skipped the zero
/// padding planes of a 3-D problem, so an infinite output gradient gave 0 there
/// where the definition's `0·∞` gives NaN.
#[test]
fn direct_weight_gradient_sums_zero_padding_planes() {
    let bytes = include_bytes!("regressions/backward-direct-weight-zero-plane.bin");
    assert!(!bytes.is_empty());
    let p: Problem = "n1_ic2_oc1_g1_i1x1x12_k2x2x1_s1x1x1_d1x3x3_p0:3x1:3x2:4_zeros_xcorr"
        .parse()
        .unwrap();
    let mut r = Rng(5);
    let x: Vec<f32> = r.vec(p.input_len());
    let mut gy: Vec<f32> = r.vec(p.output_len());
    gy[0] = f32::INFINITY;
    let mut want = vec![0.0f32; p.weight_len()];
    reference::backward_weight(&p, &x, &gy, &mut want).unwrap();
    assert!(want.iter().any(|v| v.is_nan()), "{want:?}");
    for &path in Path::ALL {
        for isa in Isa::supported() {
            let Ok(plan) = Plan::with_path(&p, path).and_then(|pl| pl.with_isa(isa)) else {
                continue;
            };
            let mut got = vec![0.0f32; p.weight_len()];
            plan.backward_weight(&x, &gy, &mut got).unwrap();
            for (g, w) in got.iter().zip(&want) {
                assert!(same_kind(*g, *w), "{plan}: {got:?} vs {want:?}");
            }
        }
    }
}
