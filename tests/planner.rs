//! The planner: estimate and measure modes agree with the reference, choices
//! export and import, and plans are `Send + Sync` and usable from several threads.

mod common;

use common::{check_plan_against_reference_all, problem_strategy, Rng};
use proptest::prelude::*;
use xcorr::isa::Isa;
use xcorr::{Padding, Path, Plan, PlanMode, Planner, Problem};

#[test]
fn plans_are_send_sync_and_shareable() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Plan>();
    assert_send_sync::<Planner>();
    let p: Problem = "n1_ic4_oc8_i24x24_k3x3_p1".parse().unwrap();
    let plan = Plan::new(&p);
    let mut r = Rng(3);
    let (x, w) = (r.vec::<f32>(p.input_len()), r.vec::<f32>(p.weight_len()));
    let mut want = vec![0.0f32; p.output_len()];
    plan.forward(&x, &w, None, &mut want).unwrap();
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..20 {
                    let mut y = vec![0.0f32; p.output_len()];
                    plan.forward(&x, &w, None, &mut y).unwrap();
                    assert!(y.iter().zip(&want).all(|(a, b)| a.to_bits() == b.to_bits()));
                }
            });
        }
    });
}

#[test]
fn estimate_picks_the_path_the_shape_wants() {
    let cases = [
        ("n1_ic64_oc64_i56x56_k3x3_p1", Path::Im2col),
        ("n1_ic256_oc64_i56x56_k1x1", Path::Im2col),
        ("n1_ic1_oc1_i2048x2048_k11x11_p5", Path::Direct),
        ("n1_ic32_oc32_g32_i112x112_k3x3_p1", Path::Direct),
        ("n1_ic1_oc1_i4194304_k31_p15", Path::Direct),
        // A stride along the rows: the direct path's phase-split route (1T:
        // 0.19-0.23 ms against im2col's 0.45-0.83).
        ("n1_ic1_oc1_i512x512_k5x5_s2_p2", Path::Direct),
        ("n1_ic32_oc32_g32_i112x112_k3x3_s2_p1", Path::Direct),
        // Not for a multi-channel layer.
        ("n1_ic64_oc128_i56x56_k3x3_s2_p1", Path::Im2col),
    ];
    if Isa::active() == Isa::Scalar {
        return;
    }
    for (d, want) in cases {
        let plan = Plan::new(&d.parse().unwrap());
        assert_eq!(plan.path(), want, "{}", plan.describe());
        assert!(plan.describe().contains("estimate"), "{}", plan.describe());
    }
}

/// Winograd is chosen only by a planner that allows it, and then for the 3×3
/// layers of stride 1 it computes faster (dilated ones too), not for strided or
/// single-channel ones.
#[test]
fn winograd_is_chosen_only_where_allowed() {
    if Isa::active() != Isa::Avx512 {
        return;
    }
    let allowed = Planner::new(PlanMode::Estimate).with_winograd(true);
    let cases = [
        ("n1_ic64_oc64_i56x56_k3x3_p1", Path::Winograd),
        ("n1_ic128_oc128_i28x28_k3x3_p1", Path::Winograd),
        ("n1_ic64_oc128_i56x56_k3x3_s2_p1", Path::Im2col),
        ("n1_ic64_oc64_i56x56_k3x3_d2_p2", Path::Winograd),
        ("n1_ic1_oc1_i2048x2048_k3x3_p1", Path::Direct),
        ("n1_ic32_oc32_g32_i112x112_k3x3_p1", Path::Direct),
    ];
    for (d, want) in cases {
        let p: Problem = d.parse().unwrap();
        let plan = allowed.plan::<f32>(&p);
        assert_eq!(plan.path(), want, "{}", plan.describe());
        assert_ne!(Plan::new(&p).path(), Path::Winograd, "{d}");
    }
}

#[test]
fn measured_choices_export_and_import() {
    let planner = Planner::new(PlanMode::Measure).with_threads(1);
    let probs: Vec<Problem> = [
        "n1_ic8_oc8_i16x16_k3x3_p1",
        "n1_ic1_oc1_i300_k5_psame_reflect",
    ]
    .iter()
    .map(|d| d.parse().unwrap())
    .collect();
    let chosen: Vec<Path> = probs
        .iter()
        .map(|p| planner.plan::<f32>(p).path())
        .collect();
    let text = planner.export();
    assert!(text.starts_with("xcorr-plans 1\n"));
    assert_eq!(text.lines().count(), 3, "{text}");
    let other = Planner::new(PlanMode::Measure).with_threads(1);
    assert_eq!(other.import(&text).unwrap(), 2);
    for (p, path) in probs.iter().zip(&chosen) {
        let plan = other.plan::<f32>(p);
        assert_eq!(plan.path(), *path);
        assert!(plan.describe().contains("cache"), "{}", plan.describe());
    }
    assert_eq!(other.export(), text);
    assert!(other.import("nonsense").is_err());
    assert!(other.import("xcorr-plans 1\ni4_k3 f32 1 avx512").is_err());
    assert!(other
        .import("xcorr-plans 1\ni4_k3 f16 1 avx512 im2col")
        .is_err());
}

#[test]
fn tiny_plans_are_cheap_to_make() {
    let p = Problem::builder()
        .input([3, 3])
        .kernel([2, 2])
        .build()
        .unwrap();
    let t = std::time::Instant::now();
    for _ in 0..1000 {
        std::hint::black_box(Plan::new(&p));
    }
    // Well under a millisecond each in estimate mode (generous for a noisy host).
    assert!(t.elapsed().as_secs_f64() / 1000.0 < 1e-3);
    let big = Problem::builder()
        .channels(512, 512)
        .input([128, 128])
        .kernel(3)
        .padding(Padding::Same)
        .build()
        .unwrap();
    let t = std::time::Instant::now();
    std::hint::black_box(Plan::new(&big));
    assert!(t.elapsed().as_secs_f64() < 1e-2);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn estimate_and_measure_plans_match_reference(p in problem_strategy(), seed: u64) {
        check_plan_against_reference_all(&p, seed, &|p| Ok(Planner::default().plan::<f32>(p)));
        let measure = Planner::new(PlanMode::Measure).with_threads(2);
        check_plan_against_reference_all(&p, seed, &|p| Ok(measure.plan::<f64>(p)));
    }
}
