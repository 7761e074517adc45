//! Differential fuzzing of the gradients: input, weight and bias gradients of every
//! path, at every ISA level, on 1 and 2 threads, compared with the reference
//! (computed once per input) under the crate's rule (`xcorr::check::close`).
#![no_main]

mod common;

use libfuzzer_sys::arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use xcorr::isa::Isa;
use xcorr::{check, reference, Path, Plan, XcorrError};

fn compare(what: &str, plan: &Plan, got: &[f32], want: &[f32], scale: &[f64], terms: usize) {
    for (i, ((g, w), s)) in got.iter().zip(want).zip(scale).enumerate() {
        let ok = check::close::<f32>(*g as f64, *w as f64, *s, terms);
        assert!(ok, "{plan}: {what}[{i}] = {g}, reference {w} (scale {s})");
    }
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(Some(p)) = common::problem(&mut u) else {
        return;
    };
    let x = common::values(&mut u, p.input_len());
    let w = common::values(&mut u, p.weight_len());
    let gy = common::values(&mut u, p.output_len());
    let mut want_x = vec![0.0f32; p.input_len()];
    reference::backward_input(&p, &w, &gy, &mut want_x).unwrap();
    let scale_x = reference::scale::backward_input(&p, &w, &gy);
    let mut want_w = vec![0.0f32; p.weight_len()];
    reference::backward_weight(&p, &x, &gy, &mut want_w).unwrap();
    let scale_w = reference::scale::backward_weight(&p, &x, &gy);
    let mut want_b = vec![0.0f32; p.bias_len()];
    reference::backward_bias(&p, &gy, &mut want_b).unwrap();
    let scale_b = reference::scale::backward_bias(&p, &gy);
    let overlap: usize = p.padding().iter().map(|&(b, a)| 1 + b + a).product();
    let terms_x = p.out_channels_per_group() * p.kernel_spatial() * overlap;
    let terms_w = p.batch() * p.output_spatial();
    for &path in Path::ALL {
        for isa in Isa::supported() {
            for threads in [1, 2] {
                let Ok(plan) = Plan::with_path(&p, path).and_then(|pl| pl.with_isa(isa)) else {
                    continue;
                };
                let plan = plan.with_threads(threads);
                let mut gx = vec![0.0f32; p.input_len()];
                match plan.backward_input(&w, &gy, &mut gx) {
                    Ok(()) => {}
                    Err(XcorrError::PathUnsupported { .. }) => continue,
                    Err(e) => panic!("{plan}: unexpected error {e}"),
                }
                compare("grad_input", &plan, &gx, &want_x, &scale_x, terms_x);
                let mut gw = vec![0.0f32; p.weight_len()];
                plan.backward_weight(&x, &gy, &mut gw).unwrap();
                compare("grad_weight", &plan, &gw, &want_w, &scale_w, terms_w);
                let mut gb = vec![0.0f32; p.bias_len()];
                plan.backward_bias(&gy, &mut gb).unwrap();
                compare("grad_bias", &plan, &gb, &want_b, &scale_b, terms_w);
            }
        }
    }
});
