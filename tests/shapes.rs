//! Huge and degenerate shapes: element counts past `u32`/`i32`, products that
//! overflow, 1-element inputs, kernels as large as the padded input, strides
//! larger than the input. Each gives a correct result or a typed error; no index
//! wraps silently.

mod common;

use common::{check_levels_against_reference_all, check_plan_against_reference_all};
use xcorr::{Padding, PaddingMode, Path, Plan, Problem, XcorrError};

#[test]
fn a_three_billion_sample_signal_plans_without_touching_memory() {
    // 3·10⁹ samples: past u32 and i32. Shape-only: build, plan, size the workspace.
    let n = 3_000_000_000usize;
    let p = Problem::builder()
        .input([n])
        .kernel([31])
        .padding(Padding::Same)
        .build()
        .unwrap();
    assert_eq!(p.input_len(), n);
    assert_eq!(p.output_len(), n);
    assert_eq!(p.flops(), 2 * 31 * n as u128);
    for path in [Path::Direct, Path::Im2col] {
        let plan = Plan::with_path(&p, path).unwrap();
        // The direct path needs no scratch for a correlated signal: it reads the
        // weights in place and has no padded rows to fill.
        if path == Path::Direct {
            assert_eq!(plan.workspace_len::<f32>(), 0);
        }
        // Calls with buffers of the wrong size are refused before anything runs.
        let e = plan
            .forward::<f32>(&[0.0; 4], &[0.0; 31], None, &mut [0.0; 4])
            .unwrap_err();
        assert!(matches!(e, XcorrError::BufferLength { expected, .. } if expected == n));
    }
    // The padding-mode arithmetic at coordinates past i32.
    let big = 5_000_000_000usize;
    assert_eq!(PaddingMode::Circular.source(big as isize + 3, big), Some(3));
    assert_eq!(
        PaddingMode::Reflect.source(big as isize, big),
        Some(big - 2)
    );
    assert_eq!(PaddingMode::Replicate.source(-7, big), Some(0));
    assert_eq!(PaddingMode::Zeros.source(big as isize, big), None);
}

#[test]
fn a_2d_problem_past_i32_has_exact_counts() {
    let p = Problem::builder()
        .batch(3)
        .channels(16, 32)
        .input([40_000, 40_000])
        .kernel(3)
        .stride(2)
        .padding(Padding::Same)
        .build()
        .unwrap();
    assert_eq!(p.output_shape(), &[20_000, 20_000]);
    assert_eq!(p.output_len(), 3 * 32 * 20_000 * 20_000);
    assert!(p.output_len() > u32::MAX as usize);
    assert_eq!(p.descriptor().parse::<Problem>().unwrap(), p);
    assert!(Plan::new(&p).workspace_len::<f32>() > 0);
}

#[test]
fn degenerate_shapes_compute_correctly() {
    let cases = [
        // 1-element input, 1-element kernel.
        "n1_ic1_oc1_i1_k1",
        "n1_ic2_oc3_i1x1x1_k1x1x1",
        // Kernel exactly as large as the padded input: one output.
        "n1_ic2_oc2_i5x6_k7x8_p1",
        "n1_ic1_oc1_i4_k9_p2:3_reflect",
        "n2_ic1_oc1_i3x3_k5x5_p1_circular_conv",
        // Stride larger than the input.
        "n1_ic1_oc1_i4x4_k2x2_s9",
        "n1_ic3_oc2_i5_k1_s100_p0:0",
        // Dilated kernel spanning the padded input exactly.
        "n1_ic1_oc1_i5x5_k3x3_d3_p1_replicate",
    ];
    for d in cases {
        let p: Problem = d.parse().unwrap();
        for path in [Path::Reference, Path::Im2col, Path::Direct] {
            if Plan::with_path(&p, path).is_ok() {
                check_plan_against_reference_all(&p, 9, &|p| Plan::with_path(p, path));
            }
        }
    }
}

#[test]
fn empty_and_overflowing_problems_are_typed_errors() {
    assert!(matches!(
        "n0_i4_k3".parse::<Problem>(),
        Err(XcorrError::ZeroSize { what: "batch", .. })
    ));
    let e = Problem::builder()
        .batch(usize::MAX / 2)
        .input([4])
        .kernel(1)
        .build()
        .unwrap_err();
    assert!(matches!(e, XcorrError::Overflow { .. }));
}

/// Fuzz finding (hostile_geometry): a stride far longer than the padded input made
/// the im2col path's workspace size overflow; padding far beyond the input must not
/// blow up plan creation either.
#[test]
fn huge_strides_and_paddings_plan_cleanly() {
    let bytes = include_bytes!("regressions/hostile_geometry-huge-stride-phases.bin");
    assert!(!bytes.is_empty());
    let p = Problem::builder()
        .channels(2, 3)
        .input([5, 6])
        .kernel([2, 3])
        .stride([usize::MAX / 64, 1 << 40])
        .build()
        .unwrap();
    for path in [Path::Im2col, Path::Direct] {
        match Plan::with_path(&p, path) {
            Ok(plan) => {
                assert!(plan.workspace_len::<f32>() < 1 << 20);
                check_plan_against_reference_all(&p, 3, &|p| Plan::with_path(p, path));
            }
            Err(e) => assert!(matches!(e, XcorrError::PathUnsupported { .. }), "{e}"),
        }
    }
    // Padding of 2^40 on both sides of a 3-wide input: valid, huge output; plans
    // are refused or cheap, never a panic or an allocation of that size.
    let wide = Problem::builder()
        .input([3])
        .kernel([2])
        .stride(1 << 30)
        .padding(Padding::Uniform(1 << 40))
        .build()
        .unwrap();
    assert!(matches!(
        Plan::with_path(&wide, Path::Im2col),
        Err(XcorrError::PathUnsupported { .. })
    ));
    let plan = Plan::new(&wide);
    assert!(plan.workspace_len::<f32>() < 1 << 20, "{}", plan.describe());
    check_plan_against_reference_all(&wide, 5, &|p| Ok(Plan::new(p)));
}

/// Review finding: a rank-1 kernel with a huge stride along the rows made the
/// separable route's strip size wrap, and `forward` panicked allocating it.
#[test]
fn rank_one_kernel_with_a_huge_row_stride_runs_on_the_direct_path() {
    let p = Problem::builder()
        .input([40, 30])
        .kernel([5, 5])
        .stride([usize::MAX / 1024, 1])
        .padding(Padding::Uniform(2))
        .build()
        .unwrap();
    let w: Vec<f32> = (0..25)
        .map(|i| ((i / 5 + 1) * (i % 5 + 1)) as f32)
        .collect();
    let plan = Plan::with_path(&p, Path::Direct).unwrap();
    assert!(plan.workspace_len::<f32>() < 1 << 20);
    let x: Vec<f32> = (0..p.input_len()).map(|i| (i % 7) as f32).collect();
    match xcorr::check::forward(&plan, &x, &w, None) {
        Ok(r) => assert!(r.is_ok(), "{r:?}"),
        Err(e) => panic!("{e}"),
    }
    assert!(matches!(
        Plan::with_path(&p, Path::Separable),
        Err(XcorrError::PathUnsupported { .. })
    ));
}

/// Kernels longer than a vector (the direct row kernel pairs taps one vector apart)
/// and rows long enough for whole blocks, at every level, 1-D and 2-D, both ops,
/// every padding mode; with a dilation the pairing is off and the plain loop runs.
#[test]
fn long_kernels_on_the_direct_path_match_the_reference_at_every_level() {
    let cases = [
        "n1_ic1_oc1_i700_k17_p8_zeros_xcorr",
        "n1_ic1_oc1_i700_k31_p15_reflect_xcorr",
        "n1_ic1_oc1_i900_k32_p3:40_replicate_conv",
        "n1_ic1_oc1_i1000_k33_p0_zeros_xcorr",
        "n2_ic2_oc1_i650_k47_p23_circular_xcorr",
        "n1_ic1_oc1_i800_k70_p1_zeros_conv",
        "n1_ic1_oc1_i800_k20_d2_p19_zeros_xcorr",
        "n1_ic1_oc1_i9x300_k2x40_s2x1_p1:1x20:20_zeros_xcorr",
        "n1_ic1_oc1_i12x300_k5x18_p2:2x9:9_reflect_xcorr",
    ];
    for d in cases {
        let p: Problem = d.parse().unwrap();
        check_levels_against_reference_all(&p, 21, false, &|p, isa| {
            Plan::with_path(p, Path::Direct)?.with_isa(isa)
        });
    }
}

/// Narrow rows with border columns are padded into a stack slab per task (2-D) or a
/// strip per block (3-D, and rows too wide for the slab): every padding mode,
/// depthwise and grouped, several tasks per plane and partial blocks, at every
/// level, bitwise identical across thread counts.
#[test]
fn narrow_rows_through_the_padded_strip_match_the_reference() {
    let cases = [
        "n1_ic3_oc3_g3_i70x40_k3x3_p1_zeros_xcorr",
        "n1_ic2_oc2_g2_i37x50_k3x3_p1_circular_xcorr",
        "n2_ic2_oc4_g2_i13x50_k5x5_p2_replicate_conv",
        "n1_ic1_oc1_i9x100_k3x7_p1:1x3:3_reflect_xcorr",
        "n1_ic2_oc2_g2_i9x20x30_k3x3x3_p1_reflect_xcorr",
        "n1_ic1_oc1_i6x10x300_k3x3x3_p1:1x1:1x1:2_zeros_conv",
        // Two input channels per group accumulate over one task slab, dilated
        // along W; and rows too wide for the slab (the per-block strips).
        "n1_ic4_oc2_g2_i67x90_k3x5_d1x2_p1:1x4:4_replicate_xcorr",
        "n1_ic1_oc1_i70x500_k7x7_p3_reflect_conv",
    ];
    for d in cases {
        let p: Problem = d.parse().unwrap();
        check_levels_against_reference_all(&p, 23, false, &|p, isa| {
            Plan::with_path(p, Path::Direct)?.with_isa(isa)
        });
        common::check_thread_invariance(&p, 24);
    }
}

/// Narrow rows through per-thread slabs, or read in place: 3-D tasks of several
/// output planes that share padded input planes (a ring), with depth strides and
/// dilations, padding modes that map two kernel planes to one input plane,
/// grouped channels that accumulate, volumes whose depth is no multiple of the
/// planes per task, and planes too large for a slab (tasks of rows); zero-padded
/// rows read in place with every edge case of their lane sets; at every level,
/// bitwise identical on 1, 2, 3 and 5 threads (more threads than a small
/// workspace has slabs wait for one).
#[test]
fn narrow_slab_tasks_match_the_reference_at_every_level() {
    let cases = [
        "n1_ic1_oc1_i19x12x40_k3x3x3_p1_zeros_xcorr",
        "n1_ic1_oc1_i21x9x33_k3x3x3_s2x1x1_p1_reflect_conv",
        "n1_ic1_oc1_i17x8x20_k3x3x3_d2x1x1_p2:2x1:1x1:1_replicate_xcorr",
        "n1_ic1_oc1_i3x7x20_k3x3x3_p1_circular_xcorr",
        "n2_ic4_oc4_g2_i11x10x24_k3x3x5_p1:1x1:1x2:2_zeros_xcorr",
        "n1_ic2_oc2_g2_i5x9x17_k5x3x3_p2:2x1:1x1:1_reflect_xcorr",
        "n1_ic1_oc1_i4x200x400_k3x3x3_p1_zeros_xcorr",
        "n1_ic1_oc1_i130x100_k3x3_p1_zeros_conv",
        // Read in place (zero padding, at most 8 taps a row, on the levels with
        // masked loads): padding wider than a vector, uneven and wide on the
        // right, rows of 1 to 5 columns and of no whole number of vectors,
        // dilated taps, 8 and 9 taps (the slab), padding rows beyond the kernel,
        // rows without border columns, valid problems in any mode.
        "n1_ic1_oc1_i20x30_k3x3_p1:1x12:12_zeros_xcorr",
        "n1_ic2_oc2_g2_i9x37_k3x5_p1:1x1:9_zeros_conv",
        "n1_ic1_oc1_i7x1_k3x3_p1_zeros_xcorr",
        "n1_ic1_oc1_i7x5_k3x3_p1:1x0:0_zeros_xcorr",
        "n1_ic1_oc1_i70x50_k3x3_d1x3_p1:1x3:3_zeros_xcorr",
        "n1_ic1_oc1_i12x41_k3x8_p1:1x4:3_zeros_xcorr",
        "n1_ic1_oc1_i12x41_k3x9_p1:1x4:4_zeros_xcorr",
        "n1_ic1_oc1_i10x33_k3x3_p4:4x1:1_zeros_xcorr",
        "n2_ic4_oc4_g2_i70x64_k3x3_p1:1x0:0_zeros_xcorr",
        "n1_ic1_oc1_i6x30x30_k3x3x3_p0_reflect_xcorr",
        "n1_ic3_oc3_g3_i19x112_k3x3_p0_circular_conv",
    ];
    for d in cases {
        let p: Problem = d.parse().unwrap();
        check_levels_against_reference_all(&p, 31, false, &|p, isa| {
            Plan::with_path(p, Path::Direct)?.with_isa(isa)
        });
        for isa in common::vector_levels() {
            let plan = Plan::with_path(&p, Path::Direct)
                .and_then(|pl| pl.with_isa(isa))
                .unwrap();
            let mut r = common::Rng(32);
            let (x, w, b) = (
                r.vec::<f32>(p.input_len()),
                r.vec::<f32>(p.weight_len()),
                r.vec::<f32>(p.bias_len()),
            );
            let run = |t: usize| {
                let mut y = vec![f32::NAN; p.output_len()];
                let plan = plan.clone().with_threads(t);
                let mut ws = vec![0.0f32; plan.workspace_len::<f32>()];
                plan.forward_with_workspace(&x, &w, Some(&b), &mut y, &mut ws)
                    .unwrap();
                y.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
            };
            let one = run(1);
            for t in [2, 3, 5] {
                assert_eq!(one, run(t), "{d} at {isa} on {t} threads");
            }
        }
    }
}

/// The im2col path's grid columns: several full panels whose B rows are read in
/// place (one output row or several per panel, padding columns between them,
/// rows between 3-D planes), a packed last panel, strides, dilation, groups, every
/// padding mode; and packed panels whose tiles accumulate in place in the output;
/// at every level, bitwise identical across thread counts.
#[test]
fn im2col_grid_columns_match_the_reference_at_every_level() {
    let cases = [
        "n2_ic3_oc5_i20x30_k3x3_p1_zeros_xcorr",
        "n1_ic2_oc3_i6x7x20_k3x3x3_p1_reflect_conv",
        "n1_ic4_oc6_i25x40_k3x3_s2_p1_circular_xcorr",
        "n1_ic3_oc4_i18x50_k3x3_d2_p2_replicate_xcorr",
        "n2_ic4_oc4_g2_i16x60_k3x3_p1_zeros_conv",
        "n1_ic5_oc7_i300_k5_p2_zeros_xcorr",
        "n1_ic3_oc20_i12x70_k3x3_p1_zeros_xcorr",
        "n1_ic6_oc9_i10x100_k1x1_p0_zeros_xcorr",
        // Packed B with tiles written in place in the output: channels 4 KiB apart
        // (crowding L1), and a grid with too many padding columns.
        "n1_ic3_oc5_i30x40_k3x3_s3_p1_zeros_xcorr",
        "n1_ic2_oc4_i33x51_k5x5_s4_p2_replicate_xcorr",
        "n1_ic2_oc3_i20x61_k3x3_s5x7_p1_circular_xcorr",
        "n1_ic20_oc9_i32x32_k1x1_p0_zeros_xcorr",
        "n2_ic2_oc40_i6x10_k5x5_p4_reflect_conv",
    ];
    for d in cases {
        let p: Problem = d.parse().unwrap();
        check_levels_against_reference_all(&p, 25, false, &|p, isa| {
            Plan::with_path(p, Path::Im2col)?.with_isa(isa)
        });
        common::check_thread_invariance(&p, 26);
    }
}

/// Review finding: a narrow output row whose kernel span is huge (dilation and
/// padding near the extent limit) must not overflow the padded strip's size.
#[test]
fn narrow_rows_with_a_huge_dilated_span_do_not_overflow_the_strip() {
    // 32 input rows of a block × a strip row of 1.5·2^59 elements: 1.5·2^64.
    let span = (1usize << 59) + (1 << 58);
    let p = Problem::builder()
        .input([32, 3])
        .kernel([29, 2])
        .dilation([1, span])
        .padding(xcorr::Padding::explicit(&[(14, 14), (span / 2, span / 2)]))
        .build()
        .unwrap();
    assert!(p.output_dims().last().copied().unwrap_or(0) <= 512);
    for path in [Path::Reference, Path::Direct] {
        if let Ok(plan) = Plan::with_path(&p, path) {
            let x = vec![1.0f32; p.input_len()];
            let w = vec![1.0f32; p.weight_len()];
            let mut y = vec![0.0f32; p.output_len()];
            plan.forward(&x, &w, None, &mut y).unwrap();
            let mut want = vec![0.0f32; p.output_len()];
            xcorr::reference::forward(&p, &x, &w, None, &mut want).unwrap();
            assert_eq!(y, want, "{plan}");
        }
    }
}

/// Border columns of kernels with 25 taps or more run through the vector kernels
/// from padded edge strips: wide rows (no narrow strip), the multi-row kernel and
/// the single-row one (a stride along H), tall kernels (64-row tables, and more
/// rows than one call takes), 3-D, every padding mode, asymmetric and dilated,
/// a signal split into segments, and a padding too wide for the strip buffer
/// (the scalar border instead). Every level, and 1 and 2 threads bitwise.
#[test]
fn vector_border_columns_match_the_reference_at_every_level() {
    let cases = [
        "n1_ic1_oc1_i20x600_k5x5_p2_zeros_xcorr",
        // 5×5 blocks by tap column, over 5 kernel planes and 2 input channels.
        "n1_ic2_oc1_i6x9x611_k5x5x5_p2:2x1:3x2:2_reflect_xcorr",
        "n1_ic1_oc1_i20x600_k7x9_p3:2x1:7_reflect_conv",
        "n1_ic2_oc2_i16x620_k5x6_s2x1_p2:2x3:3_replicate_xcorr",
        "n1_ic1_oc1_i50x530_k31x31_p15_circular_xcorr",
        "n1_ic1_oc1_i80x520_k45x5_p22:22x2:2_zeros_conv",
        "n1_ic1_oc1_i80x520_k70x3_p1:1x1:1_replicate_xcorr",
        "n1_ic1_oc1_i6x8x600_k3x3x3_d1x1x2_p1:1x1:1x2:2_reflect_xcorr",
        "n1_ic1_oc1_i40000_k41_p20_zeros_xcorr",
        "n1_ic1_oc1_i40000_k41_p7:33_circular_conv",
        "n1_ic1_oc1_i3x700_k3x30_p1:1x4500:4500_zeros_xcorr",
    ];
    for d in cases {
        let p: Problem = d.parse().unwrap();
        check_levels_against_reference_all(&p, 5, false, &|p, isa| {
            Plan::with_path(p, Path::Direct)?.with_isa(isa)
        });
        common::check_thread_invariance(&p, 9);
    }
}

/// Prepared images past 4M elements go through the im2col path band by band, one
/// band buffer per thread (grid columns read in place, packed pixel panels, 1-D,
/// 3-D, strides, dilation, groups, every padding mode): forward at every level in
/// f32 and f64 against the reference, bitwise equal on 1 and 2 threads; and the
/// input gradient, whose derived forward pass is banded too, and the weight
/// gradient, which reduces band after band. The workspace stays bounded whatever
/// the image size.
#[test]
fn banded_im2col_matches_the_reference_at_every_level() {
    let cases = [
        "n1_ic4_oc3_i1030x1030_k3x3_p1_zeros_xcorr",
        "n2_ic8_oc4_i530000_k5_p2_reflect_conv",
        "n1_ic2_oc1_i128x128x130_k3x3x3_p1_circular_xcorr",
        "n1_ic4_oc4_i1030x1040_k3x3_s2_p1_replicate_xcorr",
        "n1_ic4_oc4_g2_i1030x1030_k3x3_d2_p2_reflect_xcorr",
        "n1_ic4_oc2_i1030x1030_k3x3_d1x200_p1:1x0:0_zeros_conv",
    ];
    im2col_forward_at_every_level(&cases, 31);
    // The input gradient of a banded problem.
    let p: Problem = "n1_ic4_oc4_i1030x1030_k3x3_p1_replicate_xcorr"
        .parse()
        .unwrap();
    let mut r = common::Rng(5);
    let w: Vec<f64> = (0..p.weight_len()).map(|_| r.unit()).collect();
    let gy: Vec<f64> = (0..p.output_len()).map(|_| r.unit()).collect();
    let mut want = vec![0.0f64; p.input_len()];
    xcorr::reference::backward_input(&p, &w, &gy, &mut want).unwrap();
    let s = xcorr::reference::scale::backward_input(&p, &w, &gy);
    let plan = Plan::with_path(&p, Path::Im2col).unwrap();
    let mut gx = vec![f64::NAN; p.input_len()];
    plan.backward_input(&w, &gy, &mut gx).unwrap();
    common::assert_close("banded grad_input", &gx, &want, &s, 4 * 9 * 9);
    // The weight gradient of banded problems: the pixel reduction summed band
    // after band (2-D, and 3-D with a batch of two), the same on 1 and 2 threads.
    for d in [
        "n1_ic4_oc4_i1030x1030_k3x3_p1_replicate_xcorr",
        "n2_ic2_oc3_i128x128x130_k3x3x3_s1x1x2_p1_zeros_conv",
    ] {
        let p: Problem = d.parse().unwrap();
        let mut r = common::Rng(8);
        let x: Vec<f64> = (0..p.input_len()).map(|_| r.unit()).collect();
        let gy: Vec<f64> = (0..p.output_len()).map(|_| r.unit()).collect();
        let mut want = vec![0.0f64; p.weight_len()];
        xcorr::reference::backward_weight(&p, &x, &gy, &mut want).unwrap();
        let s = xcorr::reference::scale::backward_weight(&p, &x, &gy);
        let terms = p.batch() * p.output_spatial();
        for isa in xcorr::isa::Isa::supported().filter(|&i| i != xcorr::isa::Isa::Scalar) {
            let plan = Plan::with_path(&p, Path::Im2col)
                .and_then(|pl| pl.with_isa(isa))
                .unwrap();
            let run = |t: usize| {
                let mut gw = vec![f64::NAN; p.weight_len()];
                plan.clone()
                    .with_threads(t)
                    .backward_weight(&x, &gy, &mut gw)
                    .unwrap();
                gw
            };
            let (g1, g2) = (run(1), run(2));
            common::assert_close(&format!("{plan} grad_weight"), &g1, &want, &s, terms);
            assert_eq!(g1, g2, "{plan}: grad_weight depends on the thread count");
        }
    }
    // A 64-channel 4096×4096 layer: the forward workspace is the packed weights
    // and one band (a few rows) per thread, not the 1.1G-element prepared image;
    // and it does not grow with the image's height.
    let ws = |d: &str| {
        let p: Problem = d.parse().unwrap();
        Plan::with_path(&p, Path::Im2col)
            .unwrap()
            .with_threads(2)
            .workspace_len::<f32>()
    };
    let big = ws("n1_ic64_oc64_i4096x4096_k3x3_p1");
    assert!(big < 1 << 22, "{big}");
    assert_eq!(big, ws("n1_ic64_oc64_i40000x4096_k3x3_p1"));
    let grad_ws = |d: &str| {
        let p: Problem = d.parse().unwrap();
        Plan::with_path(&p, Path::Im2col)
            .unwrap()
            .backward_weight_workspace_len::<f32>()
    };
    let big = grad_ws("n1_ic64_oc64_i4096x4096_k3x3_p1");
    assert!(big < 1 << 22, "{big}");
    assert_eq!(big, grad_ws("n1_ic64_oc64_i40000x4096_k3x3_p1"));
}

/// The im2col tiles that store straight into the output (AVX-512; grid panels
/// whose vectors meet at most two output rows): reductions longer than one
/// block of them (`ic240` 3×3: 2160 rows, summed in two blocks that add to the
/// output), channel counts that leave a partial tile, rows narrower than a
/// vector (which go through the C buffer), 1-D and 3-D grids, bias; every level
/// (the others through the C buffer), 1 and 2 threads bitwise equal.
#[test]
fn im2col_tiles_stored_into_the_output_match_the_reference() {
    let cases = [
        "n1_ic240_oc17_i9x21_k3x3_p1_zeros_xcorr",
        "n2_ic6_oc9_i13x37_k3x3_p1_zeros_conv",
        "n1_ic5_oc11_i20x7_k3x3_p1_zeros_xcorr",
        "n1_ic3_oc8_i40_k5_p2_zeros_xcorr",
        "n1_ic2_oc10_i5x6x35_k3x3x3_p1_zeros_xcorr",
        "n1_ic4_oc8_i19x33_k3x3_d2_p2_zeros_xcorr",
        "n1_ic4_oc16_i19x50_k5x5_s2_p2_reflect_xcorr",
    ];
    im2col_forward_at_every_level(&cases, 17);
}

/// The im2col forward pass of each problem `cases` describes, at every vector
/// level, against the reference (f32 on 1 and 2 threads, bitwise equal; f64).
fn im2col_forward_at_every_level(cases: &[&str], seed: u64) {
    for d in cases {
        let p: Problem = d.parse().unwrap();
        let mut r = common::Rng(seed);
        let x: Vec<f64> = (0..p.input_len()).map(|_| r.unit()).collect();
        let w: Vec<f64> = (0..p.weight_len()).map(|_| r.unit()).collect();
        let b: Vec<f64> = (0..p.bias_len()).map(|_| r.unit()).collect();
        let plans: Vec<Plan> = common::vector_levels()
            .map(|isa| {
                Plan::with_path(&p, Path::Im2col)
                    .and_then(|pl| pl.with_isa(isa))
                    .unwrap()
            })
            .collect();
        common::check_forward_threads(&plans, &x, &w, &b);
    }
}

/// The direct path's weight gradient (a reduction per channel pair over bands
/// of padded input rows): depthwise with a channel multiplier, grouped with two
/// input channels per group, batches, every padding mode, convolution (flipped
/// taps), strides and dilations along H and D, dilation along W, 1-D signals and
/// rows wide enough for several bands per plane and several chunks per pair
/// (partial sums added in order), taps in one pass and in several (7×7: 49 taps
/// in 5 passes), at every level, bitwise identical across thread counts.
#[test]
fn direct_weight_gradient_matches_the_reference() {
    let cases = [
        "n1_ic8_oc8_g8_i40x40_k3x3_p1_zeros_xcorr",
        "n2_ic4_oc8_g4_i21x30_k3x3_s2x1_p1_reflect_conv",
        "n1_ic4_oc2_g2_i17x25_k5x3_d2x3_p4:4x3:3_replicate_xcorr",
        "n1_ic1_oc1_i30x2100_k3x3_p1_circular_xcorr",
        "n3_ic1_oc1_i9000_k5_d2_p4_zeros_conv",
        "n1_ic2_oc2_g2_i9x12x40_k3x3x3_s2x1x1_d1x2x1_p1:1x2:2x1:1_reflect_xcorr",
        "n1_ic1_oc1_i6x7x300_k2x3x3_p0:0x1:1x1:1_zeros_conv",
        "n1_ic3_oc3_g3_i23x31_k7x7_p3_zeros_xcorr",
    ];
    for d in cases {
        let p: Problem = d.parse().unwrap();
        check_levels_against_reference_all(&p, 29, false, &|p, isa| {
            Plan::with_path(p, Path::Direct)?.with_isa(isa)
        });
        common::check_thread_invariance(&p, 30);
    }
    // Planned (not forced) plans of the GEMM path take this route where their
    // weight gradient's GEMM would be small (few output channels per group, or
    // few columns).
    for d in [
        "n1_ic1_oc8_i64x64_k3x3_p1_zeros_xcorr",
        "n2_ic16_oc16_g4_i20x20_k3x3_p1_reflect_conv",
    ] {
        let p: Problem = d.parse().unwrap();
        check_plan_against_reference_all(&p, 31, &|p| Ok(Plan::new(p)));
        let plan = Plan::new(&p);
        let bits = |t: usize| {
            let mut r = common::Rng(32);
            let (x, gy): (Vec<f32>, Vec<f32>) = (r.vec(p.input_len()), r.vec(p.output_len()));
            let mut gw = vec![0.0f32; p.weight_len()];
            plan.clone()
                .with_threads(t)
                .backward_weight(&x, &gy, &mut gw)
                .unwrap();
            gw.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        };
        assert_eq!(bits(1), bits(2), "{plan}: depends on the thread count");
    }
}

/// A stride along the rows on the direct path (each output plane a stride-1
/// problem on its input planes split by phase): depthwise stride 2 with every
/// padding mode, convolution, a channel multiplier and two input channels per
/// group, rows split by phase too or (dilated between rows) not, strides 3 and 4,
/// kernels that divide by the stride and ragged ones, 1-D signals; every level,
/// bitwise identical across thread counts. Input and weight gradients included.
#[test]
fn strided_rows_on_the_direct_path_match_the_reference() {
    let cases = [
        "n1_ic8_oc8_g8_i40x40_k3x3_s2x2_p1_zeros_xcorr",
        "n2_ic4_oc8_g4_i23x31_k5x5_s2x2_p2_reflect_conv",
        "n1_ic4_oc2_g2_i17x26_k3x4_s2x2_d2x1_p2:2x1:1_replicate_xcorr",
        "n1_ic2_oc2_g2_i30x50_k4x4_s3x3_p1:2x0:3_circular_conv",
        "n1_ic1_oc1_i40x300_k3x3_s1x4_p1_zeros_xcorr",
        "n3_ic1_oc1_i5000_k5_s2_p2_reflect_xcorr",
        "n1_ic2_oc2_g2_i3001_k8_s4_p0_zeros_conv",
    ];
    for d in cases {
        let p: Problem = d.parse().unwrap();
        check_levels_against_reference_all(&p, 33, false, &|p, isa| {
            Plan::with_path(p, Path::Direct)?.with_isa(isa)
        });
        common::check_thread_invariance(&p, 34);
    }
}
