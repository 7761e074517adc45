//! Arbitrary numbers, absurd ones included, fed to the problem builder, a plan with
//! buffers of arbitrary lengths, and `correlate`. The only acceptable outcomes are a
//! result or a typed error: any panic (overflow, index, allocation) is a finding.
#![no_main]

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use xcorr::{correlate, Array, Mode, Op, Padding, PaddingMode, Plan, Problem};

/// Mostly small numbers (so some problems are valid and run), sometimes huge ones.
fn size(u: &mut Unstructured) -> Result<usize> {
    Ok(match u.int_in_range(0u8..=9)? {
        0 => u.arbitrary::<usize>()?,
        1 => usize::MAX - u.int_in_range(0..=3)?,
        _ => u.int_in_range(0..=9)?,
    })
}

fn axes(u: &mut Unstructured, n: usize) -> Result<Vec<usize>> {
    (0..n).map(|_| size(u)).collect()
}

fn run(u: &mut Unstructured) -> Result<()> {
    let dims = u.int_in_range(0..=4)?;
    let kdims = if u.ratio(1, 8)? {
        u.int_in_range(0..=4)?
    } else {
        dims
    };
    let padding = match u.int_in_range(0..=4)? {
        0 => Padding::Valid,
        1 => Padding::Same,
        2 => Padding::Full,
        3 => Padding::Uniform(size(u)?),
        _ => {
            let n = if u.ratio(1, 8)? {
                u.int_in_range(0..=3)?
            } else {
                dims.min(3)
            };
            let pairs: Vec<(usize, usize)> = (0..n)
                .map(|_| Ok((size(u)?, size(u)?)))
                .collect::<Result<_>>()?;
            Padding::explicit(&pairs)
        }
    };
    let mode = *u.choose(&[
        PaddingMode::Zeros,
        PaddingMode::Reflect,
        PaddingMode::Replicate,
        PaddingMode::Circular,
    ])?;
    let op = if u.arbitrary()? {
        Op::Correlation
    } else {
        Op::Convolution
    };
    let built = Problem::builder()
        .batch(size(u)?)
        .channels(size(u)?, size(u)?)
        .groups(size(u)?)
        .input(axes(u, dims)?)
        .kernel(axes(u, kdims)?)
        .stride(axes(u, dims)?)
        .dilation(axes(u, dims)?)
        .padding(padding)
        .padding_mode(mode)
        .op(op)
        .build();
    if let Ok(p) = built {
        // Run only problems small enough to compute; lengths may be off by a little.
        if p.input_len() <= 4096 && p.output_len() <= 4096 && p.macs() <= 200_000 {
            let jitter = |u: &mut Unstructured, n: usize| -> Result<usize> {
                Ok(if u.ratio(1, 4)? {
                    n + u.int_in_range(0..=2)? - 1.min(n)
                } else {
                    n
                })
            };
            let x = vec![0.5f32; jitter(u, p.input_len())?];
            let w = vec![-0.25f32; jitter(u, p.weight_len())?];
            let b = vec![1.0f32; jitter(u, p.bias_len())?];
            let mut y = vec![f32::NAN; jitter(u, p.output_len())?];
            let lengths_right = x.len() == p.input_len()
                && w.len() == p.weight_len()
                && b.len() == p.bias_len()
                && y.len() == p.output_len();
            let path = *u.choose(xcorr::Path::ALL)?;
            let plan = match Plan::with_path(&p, path) {
                Ok(plan) => plan,
                Err(xcorr::XcorrError::PathUnsupported { .. }) => Plan::new(&p),
                Err(e) => panic!("{p}: {path} refused a valid problem: {e}"),
            };
            y.fill(f32::NAN);
            match plan.forward(&x, &w, Some(&b), &mut y) {
                Ok(()) => {
                    assert!(lengths_right, "{plan}: success with wrong lengths");
                    assert!(y.iter().all(|v| v.is_finite()), "{plan}: unwritten output");
                }
                Err(xcorr::XcorrError::PathUnsupported { .. }) => {
                    assert!(
                        y.iter().all(|v| v.is_nan()),
                        "{plan}: refused call wrote output"
                    )
                }
                Err(_) => {
                    assert!(!lengths_right, "{plan}: error with right lengths");
                    assert!(
                        y.iter().all(|v| v.is_nan()),
                        "{plan}: failed call wrote output"
                    );
                }
            }
            // The gradients with the same buffers (the output doubles as grad_output).
            let mut gx = vec![f32::NAN; x.len()];
            let r = plan.backward_input(&w, &y, &mut gx);
            assert_eq!(
                r.is_ok(),
                w.len() == p.weight_len() && y.len() == p.output_len() && x.len() == p.input_len(),
                "{plan}: backward_input"
            );
            let mut gw = vec![f32::NAN; w.len()];
            let r = plan.backward_weight(&x, &y, &mut gw);
            assert_eq!(
                r.is_ok(),
                lengths_right
                    || (x.len() == p.input_len()
                        && w.len() == p.weight_len()
                        && y.len() == p.output_len()),
                "{plan}: backward_weight"
            );
        }
    }

    // The one-shot API with arbitrary shapes.
    let d = u.int_in_range(1..=3)?;
    let xs: Vec<usize> = (0..d)
        .map(|_| u.int_in_range(0..=12))
        .collect::<Result<_>>()?;
    let ks: Vec<usize> = (0..d)
        .map(|_| u.int_in_range(0..=12))
        .collect::<Result<_>>()?;
    let mode = *u.choose(&[Mode::Valid, Mode::Same, Mode::Full])?;
    let xn: usize = xs.iter().product();
    let kn: usize = ks.iter().product();
    if let (Ok(x), Ok(k)) = (
        Array::new(&xs, vec![1.0f64; xn]),
        Array::new(&ks, vec![1.0f64; kn]),
    ) {
        if let Ok(y) = correlate(&x, &k, mode) {
            assert_eq!(y.data().len(), y.shape().iter().product::<usize>());
        }
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let _ = run(&mut Unstructured::new(data));
});
