//! Every error the foundation defines has a test that triggers it, checks the
//! variant and its values, and that the message names the offending value.
//! Calls that fail must leave their output untouched.

use xcorr::{
    correlate, filters, Array, Buffer, Conv, Mode, Padding, PaddingMode, Path, Plan, Problem,
    XcorrError,
};

fn b2() -> xcorr::ProblemBuilder {
    Problem::builder().input([8, 8]).kernel([3, 3])
}

fn msg(e: &XcorrError) -> String {
    e.to_string()
}

#[test]
fn missing_shapes() {
    let e = Problem::builder().kernel(3).build().unwrap_err();
    assert_eq!(
        e,
        XcorrError::Missing {
            what: "input shape"
        }
    );
    let e = Problem::builder().input([4]).build().unwrap_err();
    assert_eq!(
        e,
        XcorrError::Missing {
            what: "kernel shape"
        }
    );
    // A single number cannot say how many axes the input has.
    let e = Problem::builder().input(4).kernel(1).build().unwrap_err();
    assert!(matches!(e, XcorrError::Missing { .. }));
}

#[test]
fn unsupported_dims() {
    let e = Problem::builder()
        .input([2, 2, 2, 2])
        .kernel(1)
        .build()
        .unwrap_err();
    assert_eq!(e, XcorrError::UnsupportedDims { dims: 4 });
    assert!(msg(&e).contains('4'));
    let e = Problem::builder()
        .input(Vec::new())
        .kernel(1)
        .build()
        .unwrap_err();
    assert_eq!(e, XcorrError::UnsupportedDims { dims: 0 });
}

#[test]
fn axis_count_mismatch() {
    let e = b2().kernel([3, 3, 3]).build().unwrap_err();
    assert_eq!(
        e,
        XcorrError::AxisCount {
            what: "kernel shape",
            expected: 2,
            got: 3
        }
    );
    let e = b2().stride([1]).build().unwrap_err();
    assert_eq!(
        e,
        XcorrError::AxisCount {
            what: "stride",
            expected: 2,
            got: 1
        }
    );
    let e = b2().dilation([1, 1, 1]).build().unwrap_err();
    assert!(matches!(
        e,
        XcorrError::AxisCount {
            what: "dilation",
            ..
        }
    ));
    let e = b2()
        .padding(Padding::explicit(&[(1, 1)]))
        .build()
        .unwrap_err();
    assert!(matches!(
        e,
        XcorrError::AxisCount {
            what: "padding",
            expected: 2,
            got: 1
        }
    ));
    assert!(msg(&e).contains("padding has 1 axes"));
}

#[test]
fn zero_sizes() {
    let cases = [
        (b2().batch(0), "batch"),
        (b2().channels(0, 1), "in_channels"),
        (b2().channels(1, 0), "out_channels"),
        (b2().groups(0), "groups"),
    ];
    for (b, what) in cases {
        assert_eq!(
            b.build().unwrap_err(),
            XcorrError::ZeroSize { what, axis: None }
        );
    }
    let e = b2().input([8, 0]).build().unwrap_err();
    assert_eq!(
        e,
        XcorrError::ZeroSize {
            what: "input extent",
            axis: Some(1)
        }
    );
    assert!(msg(&e).contains("axis 1"));
    let e = b2().kernel([0, 3]).build().unwrap_err();
    assert_eq!(
        e,
        XcorrError::ZeroSize {
            what: "kernel extent",
            axis: Some(0)
        }
    );
}

#[test]
fn zero_stride_and_dilation() {
    assert_eq!(
        b2().stride([1, 0]).build().unwrap_err(),
        XcorrError::ZeroStride { axis: 1 }
    );
    assert_eq!(
        b2().stride(0).build().unwrap_err(),
        XcorrError::ZeroStride { axis: 0 }
    );
    let e = b2().dilation([0, 1]).build().unwrap_err();
    assert_eq!(e, XcorrError::ZeroDilation { axis: 0 });
    assert!(msg(&e).contains("dilation is 0 on axis 0"));
}

#[test]
fn channels_not_divisible_by_groups() {
    let e = b2().channels(6, 4).groups(4).build().unwrap_err();
    assert_eq!(
        e,
        XcorrError::ChannelsNotDivisible {
            what: "in_channels",
            channels: 6,
            groups: 4
        }
    );
    assert!(msg(&e).contains("in_channels = 6 is not divisible by groups = 4"));
    let e = b2().channels(6, 4).groups(3).build().unwrap_err();
    assert!(matches!(
        e,
        XcorrError::ChannelsNotDivisible {
            what: "out_channels",
            channels: 4,
            ..
        }
    ));
}

#[test]
fn kernel_larger_than_padded_input() {
    let e = Problem::builder()
        .input([5, 4])
        .kernel([3, 5])
        .build()
        .unwrap_err();
    assert_eq!(
        e,
        XcorrError::KernelTooLarge {
            axis: 1,
            dilated_kernel: 5,
            padded_input: 4
        }
    );
    // Dilation counts: 3 taps at dilation 3 span 7.
    let e = Problem::builder()
        .input([6])
        .kernel([3])
        .dilation(3)
        .build()
        .unwrap_err();
    assert_eq!(
        e,
        XcorrError::KernelTooLarge {
            axis: 0,
            dilated_kernel: 7,
            padded_input: 6
        }
    );
    // ... and padding makes room for it.
    assert!(Problem::builder()
        .input([6])
        .kernel([3])
        .dilation(3)
        .padding(Padding::explicit(&[(0, 1)]))
        .build()
        .is_ok());
}

#[test]
fn reflect_and_circular_limits() {
    let e = Problem::builder()
        .input([4, 3])
        .kernel(1)
        .padding(Padding::explicit(&[(0, 0), (1, 3)]))
        .padding_mode(PaddingMode::Reflect)
        .build()
        .unwrap_err();
    assert_eq!(
        e,
        XcorrError::ReflectPaddingTooLarge {
            axis: 1,
            pad: 3,
            input: 3
        }
    );
    assert!(msg(&e).contains("reflect padding 3 on axis 1"));
    let ok = Problem::builder()
        .input([3])
        .kernel(1)
        .padding(Padding::Uniform(3))
        .padding_mode(PaddingMode::Circular)
        .build();
    assert!(ok.is_ok(), "circular allows pad == length");
    let e = Problem::builder()
        .input([3])
        .kernel(1)
        .padding(Padding::Uniform(4))
        .padding_mode(PaddingMode::Circular)
        .build()
        .unwrap_err();
    assert_eq!(
        e,
        XcorrError::CircularPaddingTooLarge {
            axis: 0,
            pad: 4,
            input: 3
        }
    );
}

#[test]
fn size_products_overflow() {
    let big = xcorr::MAX_EXTENT;
    let e = Problem::builder()
        .input([big, 4])
        .kernel(1)
        .build()
        .unwrap_err();
    assert_eq!(
        e,
        XcorrError::Overflow {
            what: "input spatial size"
        }
    );
    // Valid shapes whose extents no buffer could hold are refused too, so index
    // arithmetic in isize cannot overflow (found by fuzzing: a huge padding).
    let e = Problem::builder()
        .input([2])
        .kernel(1)
        .stride(usize::MAX)
        .padding(Padding::Uniform(usize::MAX / 4))
        .build()
        .unwrap_err();
    assert_eq!(
        e,
        XcorrError::Overflow {
            what: "padded input extent"
        }
    );
    let e = Problem::builder()
        .channels(1 << 30, 1)
        .input([1 << 30, 8])
        .kernel(1)
        .build()
        .unwrap_err();
    assert_eq!(
        e,
        XcorrError::Overflow {
            what: "input element count"
        }
    );
    let e = Problem::builder()
        .channels(1 << 20, 1)
        .input([1 << 22, 1 << 22])
        .kernel(1)
        .build()
        .unwrap_err();
    assert!(matches!(e, XcorrError::Overflow { .. }), "{e:?}");
    let e = Problem::builder()
        .input([8])
        .kernel([usize::MAX])
        .dilation(2)
        .build()
        .unwrap_err();
    assert_eq!(
        e,
        XcorrError::Overflow {
            what: "dilated kernel extent"
        }
    );
    let e = Problem::builder()
        .input([usize::MAX])
        .kernel(1)
        .padding(Padding::Uniform(1))
        .build()
        .unwrap_err();
    assert_eq!(
        e,
        XcorrError::Overflow {
            what: "padded input extent"
        }
    );
    assert!(msg(&e).contains("overflows"));
    let e = Array::<f32>::new(&[usize::MAX, 2], vec![]).unwrap_err();
    assert!(matches!(e, XcorrError::Overflow { .. }));
}

#[test]
fn wrong_buffer_lengths_name_the_buffer_and_write_nothing() {
    let p = b2().channels(2, 3).padding(Padding::Same).build().unwrap();
    let plan = Plan::new(&p);
    let (x, w, b) = (
        vec![1.0f32; p.input_len()],
        vec![1.0f32; p.weight_len()],
        vec![0.5f32; 3],
    );
    let mut y = vec![-7.0f32; p.output_len()];
    let cases: [(Buffer, xcorr::Result<()>); 4] = [
        (Buffer::Input, plan.forward(&x[1..], &w, None, &mut y)),
        (Buffer::Weight, plan.forward(&x, &w[..5], None, &mut y)),
        (Buffer::Bias, plan.forward(&x, &w, Some(&b[..2]), &mut y)),
        (Buffer::Output, plan.forward(&x, &w, None, &mut [0.0; 3])),
    ];
    for (buffer, r) in cases {
        match r.unwrap_err() {
            XcorrError::BufferLength { buffer: got, .. } => assert_eq!(got, buffer),
            e => panic!("{e:?}"),
        }
    }
    assert!(y.iter().all(|&v| v == -7.0), "a failed call wrote output");
    let e = plan.forward(&x, &w, None, &mut [0.0; 5]).unwrap_err();
    assert_eq!(
        e,
        XcorrError::BufferLength {
            buffer: Buffer::Output,
            expected: p.output_len(),
            got: 5
        }
    );
    assert!(msg(&e).contains(&format!(
        "output buffer has 5 elements but the problem needs {}",
        p.output_len()
    )));

    let g = vec![1.0f32; p.output_len()];
    let mut gx = vec![-7.0f32; p.input_len()];
    let e = plan.backward_input(&w, &g[1..], &mut gx).unwrap_err();
    assert!(matches!(
        e,
        XcorrError::BufferLength {
            buffer: Buffer::GradOutput,
            ..
        }
    ));
    let e = plan.backward_input(&w, &g, &mut gx[1..]).unwrap_err();
    assert!(matches!(
        e,
        XcorrError::BufferLength {
            buffer: Buffer::GradInput,
            ..
        }
    ));
    let mut gw = vec![-7.0f32; p.weight_len()];
    let e = plan.backward_weight(&x, &g, &mut gw[1..]).unwrap_err();
    assert!(matches!(
        e,
        XcorrError::BufferLength {
            buffer: Buffer::GradWeight,
            ..
        }
    ));
    let e = plan.backward_bias(&g, &mut [0.0f32; 2]).unwrap_err();
    assert!(matches!(
        e,
        XcorrError::BufferLength {
            buffer: Buffer::GradBias,
            ..
        }
    ));
    assert!(gx.iter().chain(&gw).all(|&v| v == -7.0));

    let e = plan
        .forward_with_workspace(&x, &w, None, &mut y, &mut [0.0f32; 3])
        .unwrap_err();
    assert!(matches!(
        e,
        XcorrError::BufferLength {
            buffer: Buffer::Workspace,
            ..
        }
    ));
}

#[test]
fn layer_and_api_errors() {
    let p = b2().build().unwrap();
    let e = Conv::<f32>::new(p, vec![0.0; 8], None).unwrap_err();
    assert!(matches!(
        e,
        XcorrError::BufferLength {
            buffer: Buffer::Weight,
            expected: 9,
            got: 8
        }
    ));
    let e = Conv::<f32>::new(p, vec![0.0; 9], Some(vec![0.0; 2])).unwrap_err();
    assert!(matches!(
        e,
        XcorrError::BufferLength {
            buffer: Buffer::Bias,
            ..
        }
    ));
    let conv = Conv::<f32>::random(p, true, 1);
    let e = conv.forward(&[0.0; 65]).unwrap_err();
    assert!(matches!(
        e,
        XcorrError::BufferLength {
            buffer: Buffer::Input,
            got: 65,
            ..
        }
    ));
    assert_eq!(conv.forward(&[0.0; 128]).unwrap().len(), 72, "batch of two");

    let e = Array::new(&[2, 3], vec![0.0f32; 5]).unwrap_err();
    assert!(matches!(
        e,
        XcorrError::BufferLength {
            buffer: Buffer::ArrayData,
            expected: 6,
            got: 5
        }
    ));
    let e = Array::new(&[2, 0], Vec::<f32>::new()).unwrap_err();
    assert!(matches!(e, XcorrError::ZeroSize { .. }));
    let x = Array::from_slice(&[1.0f32; 4]);
    let e = correlate(&x, &filters::sharpen(), Mode::Same).unwrap_err();
    assert_eq!(
        e,
        XcorrError::AxisCount {
            what: "kernel shape",
            expected: 1,
            got: 2
        }
    );
    let e = filters::gaussian::<f32>(5, f64::NAN).unwrap_err();
    assert!(matches!(e, XcorrError::InvalidArgument { .. }));
    assert!(msg(&e).contains("NaN"));
    let e = "fastest".parse::<Path>().unwrap_err();
    assert!(msg(&e).contains("fastest"));
}

/// Fuzz reproducers replayed as plain tests: each file holds the bytes that once
/// crashed a target; here we only check the problem they describe now fails cleanly.
#[test]
fn fuzz_regression_huge_padding() {
    // crash-b3dd722f (hostile_geometry): Padding::Uniform near usize::MAX/2 with a huge
    // stride gave a tiny, "valid" output and overflowed `pos - pad` in the reference.
    let bytes = include_bytes!("regressions/hostile_geometry-huge-padding.bin");
    assert!(!bytes.is_empty());
    for pad in [isize::MAX as usize / 2, usize::MAX / 2 - 3] {
        let r = Problem::builder()
            .input([3])
            .kernel(1)
            .stride(usize::MAX / 4)
            .padding(Padding::Uniform(pad))
            .build();
        assert!(matches!(r, Err(XcorrError::Overflow { .. })), "{r:?}");
    }
}

/// The GEMM's scratch too short (or a buffer): a typed error, C untouched; a
/// longer workspace is fine (one buffer for several sizes).
#[test]
fn gemm_workspace_too_short() {
    use xcorr::gemm::{gemm_with_workspace, gemm_workspace_len};
    use xcorr::isa::Isa;
    let (m, n, k) = (13, 7, 5);
    let (a, b) = (vec![1.0f32; m * k], vec![1.0f32; k * n]);
    for isa in Isa::supported().filter(|&i| i != Isa::Scalar) {
        let need = gemm_workspace_len::<f32>(isa, 2, m, n, k);
        assert!(need >= m * k, "{isa}: {need}");
        let mut c = vec![7.0f32; m * n];
        let mut ws = vec![0.0f32; need - 1];
        let e = gemm_with_workspace(isa, 2, m, n, k, &a, k, &b, n, &mut c, n, &mut ws).unwrap_err();
        assert!(
            matches!(e, XcorrError::BufferLength { buffer: Buffer::Workspace, expected, got } if expected == need && got == need - 1),
            "{e}"
        );
        assert!(msg(&e).contains("workspace"), "{}", msg(&e));
        assert!(c.iter().all(|&v| v == 7.0), "{isa}: wrote before refusing");
        let mut ws = vec![0.0f32; need + 100];
        gemm_with_workspace(isa, 2, m, n, k, &a, k, &b, n, &mut c, n, &mut ws).unwrap();
        assert!(c.iter().all(|&v| v == 5.0));
    }
}
