//! Differential fuzzing of the gradients: input, weight and bias gradients of every
//! path, at every ISA level, on 1 and 2 threads, compared with the reference.
#![no_main]

mod common;

use libfuzzer_sys::arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use xcorr::isa::Isa;
use xcorr::{check, Path, Plan, XcorrError};

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(Some(p)) = common::problem(&mut u) else {
        return;
    };
    let x = common::values(&mut u, p.input_len());
    let w = common::values(&mut u, p.weight_len());
    let gy = common::values(&mut u, p.output_len());
    for &path in Path::ALL {
        for isa in Isa::supported() {
            for threads in [1, 2] {
                let Ok(plan) = Plan::with_path(&p, path).and_then(|pl| pl.with_isa(isa)) else {
                    continue;
                };
                let plan = plan.with_threads(threads);
                match check::backward(&plan, &x, &w, &gy) {
                    Ok(Ok(())) | Err(XcorrError::PathUnsupported { .. }) => {}
                    Ok(Err(m)) => panic!("{plan}: {m}"),
                    Err(e) => panic!("{plan}: unexpected error {e}"),
                }
            }
        }
    }
});
