//! Differential fuzzing of the forward pass: an arbitrary problem (1-3 axes, every
//! option, small sizes) and arbitrary data (NaN and infinities included) through
//! every path, at every ISA level this CPU has, on 1 and 2 threads, and through the
//! estimate-mode planner, compared with the reference under the crate's rule
//! (`xcorr::check::close`; the Winograd path over its own scale,
//! `reference::scale::forward_mixed`).
#![no_main]

mod common;

use libfuzzer_sys::arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use xcorr::isa::Isa;
use xcorr::{check, reference, Path, Plan, XcorrError};

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(Some(p)) = common::problem(&mut u) else {
        return;
    };
    let x = common::values(&mut u, p.input_len());
    let w = common::values(&mut u, p.weight_len());
    let b = common::values(&mut u, p.bias_len());
    let mut want = vec![0.0f32; p.output_len()];
    reference::forward(&p, &x, &w, Some(&b), &mut want).unwrap();
    let scale = reference::scale::forward(&p, &x, &w, Some(&b));
    // The Winograd path's bound (the crate's rule over its own scale).
    let mixed = reference::scale::forward_mixed(&p, &x, &w, Some(&b));
    let mut plans = vec![Plan::new(&p)];
    for &path in Path::ALL {
        for isa in Isa::supported() {
            for threads in [1, 2] {
                if let Ok(plan) = Plan::with_path(&p, path).and_then(|pl| pl.with_isa(isa)) {
                    plans.push(plan.with_threads(threads));
                }
            }
        }
    }
    let mut got = vec![0.0f32; p.output_len()];
    for plan in &plans {
        got.fill(-1234.5);
        match plan.forward(&x, &w, Some(&b), &mut got) {
            Ok(()) => {}
            Err(XcorrError::PathUnsupported { .. }) => continue,
            Err(e) => panic!("{plan}: unexpected error {e}"),
        }
        let scale = if plan.path() == Path::Winograd { &mixed } else { &scale };
        for (i, ((g, wv), s)) in got.iter().zip(&want).zip(scale).enumerate() {
            let ok = check::close::<f32>(*g as f64, *wv as f64, *s, p.reduction_len() + 1);
            assert!(ok, "{plan}: y[{i}] = {g}, reference {wv} (scale {s})");
        }
    }
});
