//! Weights packed once (`Plan::pack_weights`, `Plan::forward_packed`): bitwise the
//! results of `Plan::forward` on every path, level, element type and thread
//! count, including the routes that read the weights as given (non-finite
//! values on Winograd); packed weights of another plan are refused before
//! anything is written.

mod common;

use common::Rng;
use xcorr::isa::Isa;
use xcorr::{Element, Path, Plan, Problem, XcorrError};

const PROBLEMS: &[&str] = &[
    // Winograd-able layers, one with its last chunk split between threads.
    "n1_ic8_oc16_g1_i20x20_k3x3_s1_d1_p1_zeros_xcorr",
    "n3_ic20_oc20_g1_i14x13_k3x3_s1_d1_psame_reflect_conv",
    "n2_ic6_oc4_g2_i23x9_k3x3_s1_d1_p1:2x0:1_circular_conv",
    "n1_ic9_oc10_g1_i19x22_k3x3_s1_d2x3_p2:1x3:2_reflect_xcorr",
    // Strided, dilated, 1-D, 3-D, depthwise, single-channel.
    "n1_ic5_oc7_g1_i17x15_k3x3_s2_d2_p1_replicate_xcorr",
    "n2_ic3_oc4_g1_i40_k5_s1_d1_p2_zeros_conv",
    "n1_ic3_oc8_g1_i9x9x9_k3x3x3_s2_d1_p1_replicate_xcorr",
    "n1_ic8_oc8_g8_i12x12_k3x3_s1_d1_p1_zeros_xcorr",
    "n1_ic1_oc1_g1_i33x31_k5x5_s1_d1_psame_reflect_xcorr",
];

fn bits<T: Element>(v: &[T]) -> Vec<u64> {
    v.iter().map(|x| x.to_f64().to_bits()).collect()
}

fn packed_matches_forward<T: Element>(p: &Problem, plan: &Plan, x: &[T], w: &[T], b: &[T]) {
    let mut want = vec![T::ZERO; p.output_len()];
    plan.forward(x, w, Some(b), &mut want).unwrap();
    // Packed on two threads, used on one and on two.
    let packed = plan.clone().with_threads(2).pack_weights(w).unwrap();
    assert_eq!(packed.problem(), p);
    for threads in [1, 2] {
        let plan = plan.clone().with_threads(threads);
        let mut got = vec![T::ZERO; p.output_len()];
        plan.forward_packed(x, &packed, Some(b), &mut got).unwrap();
        assert_eq!(
            bits(&got),
            bits(&want),
            "{plan}: packed differs ({})",
            T::NAME
        );
    }
}

#[test]
fn packed_weights_give_bitwise_the_forward_results() {
    for d in PROBLEMS {
        let p: Problem = d.parse().unwrap();
        for &path in Path::ALL {
            for isa in Isa::supported() {
                let Ok(plan) = Plan::with_path(&p, path).and_then(|pl| pl.with_isa(isa)) else {
                    continue;
                };
                let mut r = Rng(3);
                let (x, w, b) = (
                    r.vec::<f32>(p.input_len()),
                    r.vec::<f32>(p.weight_len()),
                    r.vec::<f32>(p.bias_len()),
                );
                let mut probe = vec![0.0f32; p.output_len()];
                if let Err(XcorrError::PathUnsupported { .. }) =
                    plan.forward(&x, &w, Some(&b), &mut probe)
                {
                    continue; // `separable` with a kernel that is not rank 1
                }
                packed_matches_forward::<f32>(&p, &plan, &x, &w, &b);
                let (x, w, b) = (
                    r.vec::<f64>(p.input_len()),
                    r.vec::<f64>(p.weight_len()),
                    r.vec::<f64>(p.bias_len()),
                );
                packed_matches_forward::<f64>(&p, &plan, &x, &w, &b);
            }
        }
    }
}

/// Winograd's transformed weights would spread a non-finite value through a
/// tile: such weights (or inputs) take the im2col route, packed or not.
#[test]
fn winograd_packed_with_non_finite_values_takes_the_same_route() {
    let p: Problem = PROBLEMS[0].parse().unwrap();
    let plan = Plan::with_path(&p, Path::Winograd).unwrap();
    let mut r = Rng(5);
    let (x, mut w, b) = (
        r.vec::<f32>(p.input_len()),
        r.vec::<f32>(p.weight_len()),
        r.vec::<f32>(p.bias_len()),
    );
    let mut xn = x.clone();
    xn[17] = f32::INFINITY;
    packed_matches_forward::<f32>(&p, &plan, &xn, &w, &b);
    w[40] = f32::NAN;
    packed_matches_forward::<f32>(&p, &plan, &x, &w, &b);
}

#[test]
fn packed_weights_of_another_plan_are_refused() {
    let p: Problem = PROBLEMS[0].parse().unwrap();
    let q: Problem = "n1_ic8_oc16_g1_i20x20_k3x3_s1_d1_p1_zeros_conv"
        .parse()
        .unwrap();
    let im2col = Plan::with_path(&p, Path::Im2col).unwrap();
    let mut r = Rng(9);
    let (x, w) = (r.vec::<f32>(p.input_len()), r.vec::<f32>(p.weight_len()));
    let packed = im2col.pack_weights(&w).unwrap();
    let mut others = vec![
        Plan::with_path(&p, Path::Winograd).unwrap(),
        Plan::with_path(&q, Path::Im2col).unwrap(),
    ];
    if let Some(lower) = Isa::supported().find(|&i| i != Isa::Scalar && i != im2col.isa()) {
        others.push(im2col.clone().with_isa(lower).unwrap());
    }
    for other in others {
        let mut y = vec![7.0f32; p.output_len()];
        let err = other.forward_packed(&x, &packed, None, &mut y).unwrap_err();
        assert!(
            matches!(
                err,
                XcorrError::InvalidArgument {
                    what: "packed weights",
                    ..
                }
            ),
            "{other}: {err}"
        );
        assert!(
            y.iter().all(|&v| v == 7.0),
            "{other}: wrote before refusing"
        );
    }
    // Wrong lengths, as for `forward`.
    let mut y = vec![0.0f32; p.output_len()];
    assert!(matches!(
        im2col.forward_packed(&x[1..], &packed, None, &mut y),
        Err(XcorrError::BufferLength { .. })
    ));
    assert!(matches!(
        im2col.pack_weights(&w[1..]),
        Err(XcorrError::BufferLength { .. })
    ));
}
