//! Properties that need no oracle, over random problems with every option:
//! linearity, bias shift, convolution = correlation with the flipped kernel, the
//! adjoint identities of both gradients, finite differences, 1×1 = matrix product.
//! Then every plan against the reference (one line per path).

mod common;

use common::{
    check_levels_against_reference_all, check_plan_against_reference_all, problem_strategy,
    winograd_problem_strategy, Rng,
};
use proptest::prelude::*;
use xcorr::{reference, Op, Path, Plan, Problem};

fn fwd(p: &Problem, x: &[f64], w: &[f64], b: Option<&[f64]>) -> Vec<f64> {
    let mut y = vec![0.0; p.output_len()];
    reference::forward(p, x, w, b, &mut y).unwrap();
    y
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn dot_abs(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x * y).abs()).sum()
}

/// f64 comparison scaled by the magnitude of what was summed.
fn close(got: f64, want: f64, scale: f64) -> bool {
    (got - want).abs() <= 1e-12 * scale.max(f64::MIN_POSITIVE)
}

fn with_op(p: &Problem, op: Op) -> Problem {
    p.to_builder().op(op).build().unwrap()
}

/// The weight flipped on every spatial axis (channels stay in place).
fn flip_spatial(p: &Problem, w: &[f64]) -> Vec<f64> {
    let k = p.kernel_spatial();
    w.chunks(k).flat_map(|c| c.iter().rev().copied()).collect()
}

/// Cases per property: 96, or `PROPTEST_CASES` (CI's AddressSanitizer run takes
/// fewer: the same properties, at a tenth of the speed).
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(96)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn linear_in_input_and_weight(p in problem_strategy(), seed: u64) {
        let mut r = Rng(seed);
        let (x1, x2, w1, w2) = (
            r.vec::<f64>(p.input_len()), r.vec::<f64>(p.input_len()),
            r.vec::<f64>(p.weight_len()), r.vec::<f64>(p.weight_len()),
        );
        let (a, b) = (r.unit() * 3.0, r.unit() * 3.0);
        let mix = |u: &[f64], v: &[f64]| -> Vec<f64> {
            u.iter().zip(v).map(|(u, v)| a * u + b * v).collect()
        };
        let (y1, y2) = (fwd(&p, &x1, &w1, None), fwd(&p, &x2, &w1, None));
        let ymix = fwd(&p, &mix(&x1, &x2), &w1, None);
        let (s1, s2) = (
            reference::scale::forward(&p, &x1, &w1, None),
            reference::scale::forward(&p, &x2, &w1, None),
        );
        for i in 0..ymix.len() {
            let scale = 4.0 * (a.abs() * s1[i] + b.abs() * s2[i]);
            prop_assert!(close(ymix[i], a * y1[i] + b * y2[i], scale), "x-linearity at {}", i);
        }
        let y3 = fwd(&p, &x1, &w2, None);
        let ymix = fwd(&p, &x1, &mix(&w1, &w2), None);
        let s3 = reference::scale::forward(&p, &x1, &w2, None);
        for i in 0..ymix.len() {
            let scale = 4.0 * (a.abs() * s1[i] + b.abs() * s3[i]);
            prop_assert!(close(ymix[i], a * y1[i] + b * y3[i], scale), "w-linearity at {}", i);
        }
    }

    #[test]
    fn bias_shifts_each_channel(p in problem_strategy(), seed: u64) {
        let mut r = Rng(seed);
        let (x, w, b) = (r.vec::<f64>(p.input_len()), r.vec::<f64>(p.weight_len()), r.vec::<f64>(p.bias_len()));
        let y0 = fwd(&p, &x, &w, None);
        let yb = fwd(&p, &x, &w, Some(&b));
        let s = reference::scale::forward(&p, &x, &w, Some(&b));
        let per_channel = p.output_spatial();
        for (i, (y0, yb)) in y0.iter().zip(&yb).enumerate() {
            let c = (i / per_channel) % p.out_channels();
            prop_assert!(close(*yb, y0 + b[c], 4.0 * s[i]));
        }
    }

    #[test]
    fn convolution_is_correlation_with_flipped_kernel(p in problem_strategy(), seed: u64) {
        let mut r = Rng(seed);
        let (x, w) = (r.vec::<f64>(p.input_len()), r.vec::<f64>(p.weight_len()));
        let conv = fwd(&with_op(&p, Op::Convolution), &x, &w, None);
        let corr = fwd(&with_op(&p, Op::Correlation), &x, &flip_spatial(&p, &w), None);
        let s = reference::scale::forward(&p, &x, &w, None);
        for i in 0..conv.len() {
            prop_assert!(close(conv[i], corr[i], 4.0 * s[i]));
        }
    }

    /// `<X ⋆ W, G> == <X, grad_input(G)>` and `== <W, grad_weight(X, G)>`.
    #[test]
    fn gradients_are_adjoints(p in problem_strategy(), seed: u64) {
        let mut r = Rng(seed);
        let (x, w, g) = (r.vec::<f64>(p.input_len()), r.vec::<f64>(p.weight_len()), r.vec::<f64>(p.output_len()));
        let y = fwd(&p, &x, &w, None);
        let lhs = dot(&y, &g);
        let scale = dot_abs(&reference::scale::forward(&p, &x, &w, None), &g) * 8.0;
        let mut gx = vec![0.0; p.input_len()];
        reference::backward_input(&p, &w, &g, &mut gx).unwrap();
        prop_assert!(close(dot(&x, &gx), lhs, scale), "input adjoint {} vs {}", dot(&x, &gx), lhs);
        let mut gw = vec![0.0; p.weight_len()];
        reference::backward_weight(&p, &x, &g, &mut gw).unwrap();
        prop_assert!(close(dot(&w, &gw), lhs, scale), "weight adjoint {} vs {}", dot(&w, &gw), lhs);
        let mut gb = vec![0.0; p.bias_len()];
        reference::backward_bias(&p, &g, &mut gb).unwrap();
        let total: f64 = g.iter().sum();
        prop_assert!(close(gb.iter().sum(), total, g.iter().map(|v| v.abs()).sum::<f64>() * 4.0));
    }

    /// Central differences of `L(W) = <Y(W), G>` match the weight gradient. L is
    /// linear in W, so the difference quotient is exact up to rounding.
    #[test]
    fn weight_gradient_matches_finite_differences(p in problem_strategy(), seed: u64) {
        let mut r = Rng(seed);
        let (x, w, g) = (r.vec::<f64>(p.input_len()), r.vec::<f64>(p.weight_len()), r.vec::<f64>(p.output_len()));
        let mut gw = vec![0.0; p.weight_len()];
        reference::backward_weight(&p, &x, &g, &mut gw).unwrap();
        let scale_w = reference::scale::backward_weight(&p, &x, &g);
        let loss = |w: &[f64]| dot(&fwd(&p, &x, w, None), &g);
        let h = 0.5;
        for j in (0..w.len()).step_by(1 + w.len() / 6) {
            let (mut wp, mut wm) = (w.clone(), w.clone());
            wp[j] += h;
            wm[j] -= h;
            let fd = (loss(&wp) - loss(&wm)) / (2.0 * h);
            let scale = dot_abs(&reference::scale::forward(&p, &x, &wp, None), &g) * 64.0 + scale_w[j];
            prop_assert!(close(fd, gw[j], scale), "w[{}]: fd {} vs grad {}", j, fd, gw[j]);
        }
    }

    /// A 1×1 kernel with stride 1, no padding and one group is a channel-mixing
    /// matrix product per pixel.
    #[test]
    fn pointwise_is_matrix_product(
        dims in 1usize..=3, n in 1usize..=2, cin in 1usize..=5, cout in 1usize..=5,
        extent in 1usize..=5, seed: u64,
    ) {
        let p = Problem::builder().batch(n).channels(cin, cout)
            .input(vec![extent; dims]).kernel(1).build().unwrap();
        let mut r = Rng(seed);
        let (x, w) = (r.vec::<f64>(p.input_len()), r.vec::<f64>(p.weight_len()));
        let y = fwd(&p, &x, &w, None);
        let px = p.input_spatial();
        for b in 0..n {
            for co in 0..cout {
                for q in 0..px {
                    let mut want = 0.0;
                    let mut scale = 0.0;
                    for ci in 0..cin {
                        let t = w[co * cin + ci] * x[(b * cin + ci) * px + q];
                        want += t;
                        scale += t.abs();
                    }
                    prop_assert!(close(y[(b * cout + co) * px + q], want, 4.0 * scale));
                }
            }
        }
    }

    /// Every path against the reference, forward and backward, f32 and f64.
    #[test]
    fn reference_path_matches_reference(p in problem_strategy(), seed: u64) {
        check_plan_against_reference_all(&p, seed, &|p| Plan::with_path(p, Path::Reference));
    }

    #[test]
    fn planned_matches_reference(p in problem_strategy(), seed: u64) {
        check_plan_against_reference_all(&p, seed, &|p| Ok(Plan::new(p)));
    }

    #[test]
    fn im2col_matches_reference_at_every_isa(p in problem_strategy(), seed: u64) {
        check_levels_against_reference_all(&p, seed, false, &|p, isa| {
            Ok(Plan::with_path(p, Path::Im2col)?.with_isa(isa)?.with_threads(2))
        });
    }

    #[test]
    fn direct_matches_reference_at_every_isa(p in problem_strategy(), seed: u64) {
        match Plan::with_path(&p, Path::Direct) {
            Ok(_) => check_levels_against_reference_all(&p, seed, false, &|p, isa| {
                Ok(Plan::with_path(p, Path::Direct)?.with_isa(isa)?.with_threads(2))
            }),
            Err(e) => prop_assert!(p.stride().last() != Some(&1), "{}: {}", p, e),
        }
    }

    #[test]
    fn winograd_matches_reference_at_every_isa(p in winograd_problem_strategy(), seed: u64) {
        check_levels_against_reference_all(&p, seed, true, &|p, isa| {
            Ok(Plan::with_path(p, Path::Winograd)?.with_isa(isa)?.with_threads(2))
        });
        common::check_thread_invariance(&p, seed);
    }

    /// Every path gives bitwise the same output on 1 and 2 threads.
    #[test]
    fn threads_do_not_change_results(p in problem_strategy(), seed: u64) {
        common::check_thread_invariance(&p, seed);
    }
}

/// Problems large enough to run on two threads whose chunk count is odd: the
/// last chunk is split between the threads by output channels (grouped and not,
/// output channels a multiple of the tile rows and not).
#[test]
fn winograd_tail_chunk_split_across_threads_matches_reference() {
    for (batch, groups, cin_g, cout_g) in [(3, 1, 20, 20), (1, 2, 9, 17), (5, 1, 16, 32)] {
        let p = Problem::builder()
            .batch(batch)
            .channels(cin_g * groups, cout_g * groups)
            .groups(groups)
            .input([14, 13])
            .kernel([3, 3])
            .padding(xcorr::Padding::Same)
            .build()
            .unwrap();
        check_levels_against_reference_all(&p, 7, true, &|p, isa| {
            Ok(Plan::with_path(p, Path::Winograd)?
                .with_isa(isa)?
                .with_threads(2))
        });
        common::check_thread_invariance(&p, 11);
    }
}
