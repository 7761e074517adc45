//! Test support shared by the integration tests: the conformance-file reader, the
//! random-problem strategy, and `check_plan_against_reference`, which runs any plan
//! factory (a path, an ISA level, a thread count) against the scalar reference.
#![allow(dead_code)]

use proptest::prelude::*;
use xcorr::isa::Isa;
use xcorr::{reference, Element, Op, Padding, PaddingMode, Plan, Problem};

/// Makes the plan under test for a problem (e.g. `|p| Plan::with_path(p, Path::Im2col)`).
pub type PlanFactory<'a> = &'a dyn Fn(&Problem) -> xcorr::Result<Plan>;

/// Makes the plan under test for a problem at a level (e.g.
/// `|p, isa| Plan::with_path(p, Path::Direct)?.with_isa(isa)`).
pub type LevelPlanFactory<'a> = &'a dyn Fn(&Problem, Isa) -> xcorr::Result<Plan>;

// ---------------------------------------------------------------- deterministic data

/// SplitMix64, so a test case is reproduced from its seed alone.
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [-1, 1), exactly representable in f32.
    pub fn unit(&mut self) -> f64 {
        ((self.next_u64() >> 40) as f64 / (1u64 << 23) as f64) * 2.0 - 1.0
    }
    pub fn vec<T: Element>(&mut self, n: usize) -> Vec<T> {
        (0..n).map(|_| T::from_f64(self.unit())).collect()
    }
}

// ---------------------------------------------------------------- random problems

/// The largest padding `mode` allows on an axis of `len` (PyTorch's limits).
fn pad_limit(mode: PaddingMode, len: usize) -> usize {
    match mode {
        PaddingMode::Reflect => len - 1,
        PaddingMode::Circular => len,
        _ => usize::MAX,
    }
}

/// A random valid problem: 1-3 axes, groups, stride, dilation, asymmetric padding,
/// every padding mode, both ops. Kernels are shrunk to fit the padded input and
/// padding is clamped to each mode's limit, so nothing is rejected.
pub fn problem_strategy() -> impl Strategy<Value = Problem> {
    let axis = (
        1usize..=7,
        1usize..=4,
        1usize..=3,
        1usize..=2,
        0usize..=3,
        0usize..=3,
    );
    (
        1usize..=3,
        1usize..=2,
        1usize..=3,
        1usize..=3,
        1usize..=3,
        prop::collection::vec(axis, 3),
        prop_oneof![
            Just(PaddingMode::Zeros),
            Just(PaddingMode::Reflect),
            Just(PaddingMode::Replicate),
            Just(PaddingMode::Circular)
        ],
        prop_oneof![Just(Op::Correlation), Just(Op::Convolution)],
    )
        .prop_map(|(dims, batch, groups, cin_g, cout_g, axes, mode, op)| {
            let mut input = vec![];
            let mut kernel = vec![];
            let mut stride = vec![];
            let mut dilation = vec![];
            let mut pads = vec![];
            for &(l, k, s, d, b, a) in &axes[..dims] {
                let limit = pad_limit(mode, l);
                let (b, a) = (b.min(limit), a.min(limit));
                let padded = l + b + a;
                let k = k.min((padded - 1) / d + 1);
                input.push(l);
                kernel.push(k);
                stride.push(s);
                dilation.push(d);
                pads.push((b, a));
            }
            Problem::builder()
                .batch(batch)
                .channels(cin_g * groups, cout_g * groups)
                .groups(groups)
                .input(input)
                .kernel(kernel)
                .stride(stride)
                .dilation(dilation)
                .padding(Padding::explicit(&pads))
                .padding_mode(mode)
                .op(op)
                .build()
                .expect("strategy builds only valid problems")
        })
}

/// Problems the Winograd path takes: 2-D, 3×3 kernels, stride 1, dilation 1 to
/// 3 per axis, any padding mode, op, batch and grouping; sizes that leave partial
/// tiles (odd outputs), tiles past the padded edge, and phases of a dilated
/// kernel with fewer outputs than others.
pub fn winograd_problem_strategy() -> impl Strategy<Value = Problem> {
    (
        (1usize..=2, 1usize..=2, 1usize..=5, 1usize..=5),
        prop_oneof![Just((1usize, 1usize)), (1usize..=3, 1usize..=3)],
        (
            1usize..=13,
            1usize..=13,
            0usize..=2,
            0usize..=2,
            0usize..=2,
            0usize..=2,
        ),
        prop_oneof![
            Just(PaddingMode::Zeros),
            Just(PaddingMode::Reflect),
            Just(PaddingMode::Replicate),
            Just(PaddingMode::Circular)
        ],
        prop_oneof![Just(Op::Correlation), Just(Op::Convolution)],
    )
        .prop_map(
            |((batch, groups, cin_g, cout_g), (dh, dw), (h, w, t, b, l, r), mode, op)| {
                let (t, b) = (t.min(pad_limit(mode, h)), b.min(pad_limit(mode, h)));
                let (l, r) = (l.min(pad_limit(mode, w)), r.min(pad_limit(mode, w)));
                // The padded input holds at least the dilated 3×3 kernel.
                let (h, w) = (
                    h.max((2 * dh + 1).saturating_sub(t + b)),
                    w.max((2 * dw + 1).saturating_sub(l + r)),
                );
                Problem::builder()
                    .batch(batch)
                    .channels(cin_g * groups, cout_g * groups)
                    .groups(groups)
                    .input([h, w])
                    .kernel([3, 3])
                    .dilation([dh, dw])
                    .padding(Padding::explicit(&[(t, b), (l, r)]))
                    .padding_mode(mode)
                    .op(op)
                    .build()
                    .expect("strategy builds only valid problems")
            },
        )
}

// ---------------------------------------------------------------- comparison

/// The brief's rule for a fast path: `|got - want| <= c·K·eps·scale` with `K` the
/// number of terms of the element (at least 1), on top of the conformance rule's
/// absolute floor for f32 denormal-range results.
pub fn close<T: Element>(got: T, want: T, scale: f64, terms: usize) -> bool {
    const C: f64 = 2.0;
    let (g, w) = (got.to_f64(), want.to_f64());
    if !g.is_finite() || !w.is_finite() {
        return (g.is_nan() && w.is_nan()) || g == w;
    }
    let eps = T::EPSILON.to_f64();
    (g - w).abs() <= C * terms.max(1) as f64 * eps * scale + T::TOL_ABS * 1e-3
}

/// Compares element by element; on failure names the element and both values.
pub fn assert_close<T: Element>(what: &str, got: &[T], want: &[T], scale: &[f64], terms: usize) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, ((&g, &w), &s)) in got.iter().zip(want).zip(scale).enumerate() {
        assert!(
            close(g, w, s, terms),
            "{what}[{i}]: got {g:?}, want {w:?} (scale {s:e}, K {terms})"
        );
    }
}

/// Runs forward and all three gradients of the plan that `make` builds for `p`
/// against the reference, in element type `T`, with data from `seed`.
pub fn check_plan_against_reference<T: Element>(p: &Problem, seed: u64, make: PlanFactory) {
    let plan = make(p).unwrap_or_else(|e| panic!("{p}: plan: {e}"));
    Expected::<T>::new(p, seed, false).check(&plan);
}

/// The levels a path is tested at: every one this CPU has but the scalar one.
pub fn vector_levels() -> impl Iterator<Item = Isa> {
    Isa::supported().filter(|&i| i != Isa::Scalar)
}

/// [`check_plan_against_reference_all`] for the plans `make` builds at every
/// [`vector_levels`] level, the reference computed once for all of them (it takes
/// most of these tests' time). `tile`: a Winograd plan, whose forward pass is
/// held to the scale of `reference::scale::forward_mixed` (that path's
/// documented bound) and its gradients (on im2col) to the usual one.
pub fn check_levels_against_reference_all(
    p: &Problem,
    seed: u64,
    tile: bool,
    make: LevelPlanFactory,
) {
    let plans: Vec<Plan> = vector_levels()
        .map(|isa| make(p, isa).unwrap_or_else(|e| panic!("{p} {isa}: plan: {e}")))
        .collect();
    let f32s = Expected::<f32>::new(p, seed, tile);
    let f64s = Expected::<f64>::new(p, seed, tile);
    for plan in &plans {
        f32s.check(plan);
        f64s.check(plan);
    }
}

/// The reference's forward pass and three gradients for one problem and one data
/// set, with their scales: made once, checked against any number of plans.
pub struct Expected<T> {
    p: Problem,
    x: Vec<T>,
    w: Vec<T>,
    b: Vec<T>,
    gy: Vec<T>,
    /// Forward, input, weight and bias gradient: the reference's result, the
    /// scale of each element and the terms of the tolerance rule.
    parts: [(Vec<T>, Vec<f64>, usize); 4],
}

impl<T: Element> Expected<T> {
    /// Data from `seed`; `tile`: the forward pass under the scale of
    /// `reference::scale::forward_mixed` (Winograd's documented bound).
    pub fn new(p: &Problem, seed: u64, tile: bool) -> Self {
        let mut rng = Rng(seed);
        let x: Vec<T> = rng.vec(p.input_len());
        let w: Vec<T> = rng.vec(p.weight_len());
        let b: Vec<T> = rng.vec(p.bias_len());
        let gy: Vec<T> = rng.vec(p.output_len());

        let mut y = vec![T::ZERO; p.output_len()];
        reference::forward(p, &x, &w, Some(&b), &mut y).unwrap();
        let sy = if tile {
            reference::scale::forward_mixed(p, &x, &w, Some(&b))
        } else {
            reference::scale::forward(p, &x, &w, Some(&b))
        };
        let mut gx = vec![T::ZERO; p.input_len()];
        reference::backward_input(p, &w, &gy, &mut gx).unwrap();
        let sx = reference::scale::backward_input(p, &w, &gy);
        let mut gw = vec![T::ZERO; p.weight_len()];
        reference::backward_weight(p, &x, &gy, &mut gw).unwrap();
        let sw = reference::scale::backward_weight(p, &x, &gy);
        let mut gb = vec![T::ZERO; p.bias_len()];
        reference::backward_bias(p, &gy, &mut gb).unwrap();
        let sb = reference::scale::backward_bias(p, &gy);

        let pixels = p.batch() * p.output_spatial();
        let overlap = p.out_channels_per_group() * p.kernel_spatial() * max_overlap(p);
        Expected {
            p: *p,
            x,
            w,
            b,
            gy,
            parts: [
                (y, sy, p.reduction_len() + 1),
                (gx, sx, overlap),
                (gw, sw, pixels),
                (gb, sb, pixels),
            ],
        }
    }

    /// Runs `plan` (made for this problem) forward and backward on the data and
    /// compares every result under the tolerance rule.
    pub fn check(&self, plan: &Plan) {
        let (p, x, w, gy) = (&self.p, &self.x, &self.w, &self.gy);
        let nan = T::from_f64(f64::NAN);
        let name = |what: &str| format!("{plan} {} {what}", T::NAME);
        let [(y, sy, ky), (gx, sx, kx), (gw, sw, kw), (gb, sb, kb)] = &self.parts;

        let mut got = vec![nan; p.output_len()];
        plan.forward(x, w, Some(&self.b), &mut got).unwrap();
        assert_close(&name("forward"), &got, y, sy, *ky);

        let mut got = vec![nan; p.input_len()];
        plan.backward_input(w, gy, &mut got).unwrap();
        assert_close(&name("grad_input"), &got, gx, sx, *kx);

        let mut got = vec![nan; p.weight_len()];
        plan.backward_weight(x, gy, &mut got).unwrap();
        assert_close(&name("grad_weight"), &got, gw, sw, *kw);

        let mut got = vec![nan; p.bias_len()];
        plan.backward_bias(gy, &mut got).unwrap();
        assert_close(&name("grad_bias"), &got, gb, sb, *kb);
    }
}

/// How many times one input element can be read per kernel tap at most (padding
/// modes other than zeros map several padded positions onto one element).
fn max_overlap(p: &Problem) -> usize {
    p.padding()
        .iter()
        .map(|&(b, a)| 1 + b + a)
        .product::<usize>()
        .max(1)
}

/// Both element types.
pub fn check_plan_against_reference_all(p: &Problem, seed: u64, make: PlanFactory) {
    check_plan_against_reference::<f32>(p, seed, make);
    check_plan_against_reference::<f64>(p, seed, make);
}

/// Every path at every level: forward (and gradients) bitwise equal on 1 and 2
/// threads, in f32.
pub fn check_thread_invariance(p: &Problem, seed: u64) {
    let mut rng = Rng(seed);
    let x: Vec<f32> = rng.vec(p.input_len());
    let w: Vec<f32> = rng.vec(p.weight_len());
    let b: Vec<f32> = rng.vec(p.bias_len());
    let gy: Vec<f32> = rng.vec(p.output_len());
    for &path in xcorr::Path::ALL {
        for isa in xcorr::isa::Isa::supported() {
            let Ok(plan) = Plan::with_path(p, path).and_then(|pl| pl.with_isa(isa)) else {
                continue;
            };
            let mut probe = vec![0.0f32; p.output_len()];
            if let Err(xcorr::XcorrError::PathUnsupported { .. }) =
                plan.forward(&x, &w, Some(&b), &mut probe)
            {
                continue; // e.g. `separable` with a kernel that is not rank 1
            }
            let run = |threads: usize| {
                let plan = plan.clone().with_threads(threads);
                let mut y = vec![0.0f32; p.output_len()];
                plan.forward(&x, &w, Some(&b), &mut y).unwrap();
                let mut gx = vec![0.0f32; p.input_len()];
                plan.backward_input(&w, &gy, &mut gx).unwrap();
                let mut gw = vec![0.0f32; p.weight_len()];
                plan.backward_weight(&x, &gy, &mut gw).unwrap();
                [y, gx, gw].map(|v| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>())
            };
            assert_eq!(run(1), run(2), "{plan}: results depend on the thread count");
        }
    }
}

/// Forward of each of `plans` (made for one problem) on f64 data `x, w, b` (and
/// the same rounded to f32) against the reference under the tolerance rule, f64
/// once and f32 on 1 and 2 threads, the two f32 results bitwise equal. The
/// reference runs once for all the plans.
pub fn check_forward_threads(plans: &[Plan], x: &[f64], w: &[f64], b: &[f64]) {
    let Some(first) = plans.first() else {
        return;
    };
    let p = first.problem();
    let terms = p.reduction_len() + 1;
    let f32s = |v: &[f64]| v.iter().map(|&f| f as f32).collect::<Vec<_>>();
    let (x32, w32, b32) = (f32s(x), f32s(w), f32s(b));
    let mut want32 = vec![0.0f32; p.output_len()];
    reference::forward(p, &x32, &w32, Some(&b32), &mut want32).unwrap();
    let s32 = reference::scale::forward(p, &x32, &w32, Some(&b32));
    let mut want64 = vec![0.0f64; p.output_len()];
    reference::forward(p, x, w, Some(b), &mut want64).unwrap();
    let s64 = reference::scale::forward(p, x, w, Some(b));
    let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
    for plan in plans {
        assert_eq!(plan.problem(), p, "{plan}: another problem");
        let run = |t: usize| {
            let mut y = vec![f32::NAN; p.output_len()];
            plan.clone()
                .with_threads(t)
                .forward(&x32, &w32, Some(&b32), &mut y)
                .unwrap();
            y
        };
        let (y1, y2) = (run(1), run(2));
        assert_close(&format!("{plan} f32"), &y1, &want32, &s32, terms);
        assert_eq!(
            bits(&y1),
            bits(&y2),
            "{plan}: results depend on the thread count"
        );
        let mut y = vec![f64::NAN; p.output_len()];
        plan.forward(x, w, Some(b), &mut y).unwrap();
        assert_close(&format!("{plan} f64"), &y, &want64, &s64, terms);
    }
}
