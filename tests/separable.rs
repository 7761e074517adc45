//! The separable route: rank-1 detection (exact and almost-rank-1 kernels), the
//! factored API, and results within the tolerance rule at every level and thread
//! count, through forced `separable` plans and the `direct` path's own choice.

mod common;

use common::{assert_close, Rng};
use proptest::prelude::*;
use xcorr::isa::Isa;
use xcorr::{filters, reference, Op, Padding, PaddingMode, Path, Plan, Problem, XcorrError};

fn problem(
    h: usize,
    w: usize,
    kh: usize,
    kw: usize,
    mode: PaddingMode,
    op: Op,
    c: usize,
) -> Problem {
    Problem::builder()
        .batch(2)
        .channels(c, c)
        .groups(c)
        .input([h, w])
        .kernel([kh, kw])
        .padding(Padding::Same)
        .padding_mode(mode)
        .op(op)
        .build()
        .unwrap()
}

/// Runs `plan` and compares with the reference under `c·K·eps·Σ|x·w|`.
fn check(plan: &Plan, x: &[f32], w: &[f32], b: &[f32]) {
    let p = plan.problem();
    let mut got = vec![f32::NAN; p.output_len()];
    let mut ws = vec![f32::NAN; plan.workspace_len::<f32>()];
    plan.forward_with_workspace(x, w, Some(b), &mut got, &mut ws)
        .unwrap();
    let mut want = vec![0.0; p.output_len()];
    reference::forward(p, x, w, Some(b), &mut want).unwrap();
    let s = reference::scale::forward(p, x, w, Some(b));
    assert_close(&plan.to_string(), &got, &want, &s, p.reduction_len() + 1);
}

#[test]
fn detection_accepts_rank_one_and_refuses_almost_rank_one() {
    use xcorr::Array;
    let g = filters::gaussian::<f32>(11, 2.0).unwrap();
    let (u, v) = filters::separate(&g).unwrap();
    for (i, ui) in u.iter().enumerate() {
        for (j, vj) in v.iter().enumerate() {
            let w = g.data()[i * 11 + j];
            assert!((ui * vj - w).abs() <= 4.0 * f32::EPSILON * w.abs());
        }
    }
    for k in [
        filters::sobel_x::<f32>(),
        filters::sobel_y(),
        filters::box_blur(5).unwrap(),
    ] {
        assert!(filters::separate(&k).is_some(), "{k:?}");
    }
    assert!(filters::separate(&filters::sharpen::<f32>()).is_none());
    assert!(filters::separate(&filters::edge_detection::<f32>()).is_none());
    // Almost rank 1: one weight off by 1e-4 relative.
    let mut near = g.clone();
    near.data_mut()[17] *= 1.0 + 1e-4;
    assert!(filters::separate(&near).is_none());
    assert!(filters::separate(&Array::new(&[3, 3], vec![0.0f32; 9]).unwrap()).is_none());
}

#[test]
fn forced_separable_refuses_a_rank_two_kernel_and_writes_nothing() {
    let p = problem(16, 16, 3, 3, PaddingMode::Zeros, Op::Correlation, 1);
    let plan = Plan::with_path(&p, Path::Separable).unwrap();
    let x = vec![1.0f32; p.input_len()];
    let mut y = vec![-5.0f32; p.output_len()];
    let e = plan.forward(&x, filters::sharpen::<f32>().data(), None, &mut y);
    assert!(
        matches!(
            e,
            Err(XcorrError::PathUnsupported {
                path: "separable",
                ..
            })
        ),
        "{e:?}"
    );
    assert!(y.iter().all(|&v| v == -5.0));
    let p3: Problem = "i8x8x8_k3x3x3".parse().unwrap();
    assert!(Plan::with_path(&p3, Path::Separable).is_err());
}

#[test]
fn factored_api_matches_the_outer_product() {
    let p = problem(40, 70, 7, 5, PaddingMode::Reflect, Op::Convolution, 2);
    let mut r = Rng(11);
    let (col, row): (Vec<f32>, Vec<f32>) = (r.vec(2 * 7), r.vec(2 * 5));
    let w: Vec<f32> = (0..2)
        .flat_map(|c| {
            let (col, row) = (&col, &row);
            (0..7).flat_map(move |i| (0..5).map(move |j| col[c * 7 + i] * row[c * 5 + j]))
        })
        .collect();
    let x: Vec<f32> = r.vec(p.input_len());
    let plan = Plan::with_path(&p, Path::Separable).unwrap();
    let mut got = vec![0.0f32; p.output_len()];
    let mut ws = vec![0.0f32; plan.workspace_len::<f32>()];
    plan.forward_separable(&x, &col, &row, None, &mut got, &mut ws)
        .unwrap();
    let mut want = vec![0.0f32; p.output_len()];
    reference::forward(&p, &x, &w, None, &mut want).unwrap();
    let s = reference::scale::forward(&p, &x, &w, None);
    assert_close("factored", &got, &want, &s, 36);
    let e = Plan::with_path(&p, Path::Im2col)
        .unwrap()
        .forward_separable(&x, &col, &row, None, &mut got, &mut ws);
    assert!(matches!(e, Err(XcorrError::PathUnsupported { .. })));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Rank-1 kernels through the separable and direct paths, every level, 1 and 2 threads.
    #[test]
    fn rank_one_kernels_match_reference(
        h in 1usize..40, w in 1usize..70, kh in 1usize..8, kw in 1usize..8,
        mode in prop_oneof![Just(PaddingMode::Zeros), Just(PaddingMode::Reflect),
                            Just(PaddingMode::Replicate), Just(PaddingMode::Circular)],
        conv: bool, c in 1usize..3, seed: u64,
    ) {
        let op = if conv { Op::Convolution } else { Op::Correlation };
        let Ok(p) = Problem::builder().batch(2).channels(c, c).groups(c).input([h, w]).kernel([kh, kw])
            .padding(Padding::Same).padding_mode(mode).op(op).build() else { return Ok(()) };
        let mut r = Rng(seed);
        let (u, v): (Vec<f32>, Vec<f32>) = (r.vec(c * kh), r.vec(c * kw));
        // Products of f32 values rounded to f32: rank 1 to within an ulp.
        let wt: Vec<f32> = (0..c).flat_map(|ch| {
            let (u, v) = (&u, &v);
            (0..kh).flat_map(move |i| (0..kw).map(move |j| u[ch * kh + i] * v[ch * kw + j]))
        }).collect();
        let (x, b): (Vec<f32>, Vec<f32>) = (r.vec(p.input_len()), r.vec(c));
        for isa in Isa::supported().filter(|&i| i != Isa::Scalar) {
            for threads in [1, 2] {
                for path in [Path::Separable, Path::Direct] {
                    let plan = Plan::with_path(&p, path).unwrap().with_isa(isa).unwrap().with_threads(threads);
                    match plan.forward(&x, &wt, Some(&b), &mut vec![0.0; p.output_len()]) {
                        Ok(()) => check(&plan, &x, &wt, &b),
                        // A zero factor makes the product kernel all zero: not rank 1.
                        Err(XcorrError::PathUnsupported { .. }) => prop_assert!(path == Path::Separable),
                        Err(e) => prop_assert!(false, "{}", e),
                    }
                }
            }
        }
    }
}
