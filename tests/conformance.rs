//! Golden vectors from PyTorch (float64): every case forward and backward, in f32 and
//! f64, through the public API, with the tolerance rule of the conformance README.
//!
//! The file is `$XCORR_CONFORMANCE`, by default `../shared/conformance/conv_golden.json`
//! beside the repository. A missing file fails the test: it is never skipped.

mod common;

use serde_json::Value;
use xcorr::isa::Isa;
use xcorr::{within_tolerance, Element, Op, Padding, PaddingMode, Path, Plan, Problem};

fn golden_path() -> std::path::PathBuf {
    match std::env::var_os("XCORR_CONFORMANCE") {
        Some(p) => p.into(),
        None => std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../shared/conformance/conv_golden.json"),
    }
}

fn load() -> Vec<Value> {
    let path = golden_path();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "conformance file {} cannot be read ({e}); set XCORR_CONFORMANCE",
            path.display()
        )
    });
    let doc: Value = serde_json::from_str(&text).expect("conformance file is not JSON");
    assert_eq!(doc["format"], "conv-golden", "not a conv-golden file");
    let cases = doc["cases"].as_array().expect("no cases array").clone();
    if let Some(n) = doc["num_cases"].as_u64() {
        assert_eq!(cases.len() as u64, n, "num_cases disagrees with the cases");
    }
    assert!(!cases.is_empty(), "conformance file has no cases");
    cases
}

fn usizes(v: &Value) -> Vec<usize> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_u64().expect("integer") as usize)
        .collect()
}

fn floats(v: &Value) -> Option<Vec<f64>> {
    v.as_array()
        .map(|a| a.iter().map(|x| x.as_f64().expect("number")).collect())
}

fn problem_of(c: &Value) -> Problem {
    let input_shape = usizes(&c["input_shape"]);
    let weight_shape = usizes(&c["weight_shape"]);
    let pads: Vec<(usize, usize)> = c["padding"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let p = usizes(p);
            (p[0], p[1])
        })
        .collect();
    let mode = match c["padding_mode"].as_str().unwrap() {
        "zeros" => PaddingMode::Zeros,
        "reflect" => PaddingMode::Reflect,
        "replicate" => PaddingMode::Replicate,
        "circular" => PaddingMode::Circular,
        m => panic!("unknown padding mode {m}"),
    };
    let op = match c["op"].as_str().unwrap() {
        "cross_correlation" => Op::Correlation,
        "convolution" => Op::Convolution,
        o => panic!("unknown op {o}"),
    };
    let p = Problem::builder()
        .batch(c["batch"].as_u64().unwrap() as usize)
        .channels(
            c["in_channels"].as_u64().unwrap() as usize,
            c["out_channels"].as_u64().unwrap() as usize,
        )
        .groups(c["groups"].as_u64().unwrap() as usize)
        .input(&input_shape[2..])
        .kernel(&weight_shape[2..])
        .stride(usizes(&c["stride"]))
        .dilation(usizes(&c["dilation"]))
        .padding(Padding::explicit(&pads))
        .padding_mode(mode)
        .op(op)
        .build()
        .unwrap_or_else(|e| panic!("{}: problem rejected: {e}", c["name"]));
    assert_eq!(p.output_dims(), usizes(&c["output_shape"]), "{}", c["name"]);
    p
}

/// Compares `got` with the golden `want` under the tolerance rule; one message per
/// failing element (at most a few per tensor).
fn compare<T: Element>(
    case: &str,
    tensor: &str,
    got: &[T],
    want: &[f64],
    scale: &[f64],
    failures: &mut Vec<String>,
) {
    let mut n = 0;
    for (i, ((g, w), s)) in got.iter().zip(want).zip(scale).enumerate() {
        let g = g.to_f64();
        if !within_tolerance::<T>(g, *w, *s) {
            n += 1;
            if n <= 3 {
                failures.push(format!(
                    "{case} [{}] {tensor}[{i}]: got {g:e}, want {w:e}, |diff| {:e} > bound {:e}",
                    T::NAME,
                    (g - w).abs(),
                    T::TOL_REL * s + T::TOL_ABS
                ));
            }
        }
    }
    if got.len() != want.len() {
        failures.push(format!(
            "{case} {tensor}: length {} vs {}",
            got.len(),
            want.len()
        ));
    }
}

fn run_case<T: Element>(c: &Value, plan: &Plan, failures: &mut Vec<String>) {
    let name = c["name"].as_str().unwrap();
    let p = plan.problem();
    let cast = |v: Vec<f64>| -> Vec<T> { v.into_iter().map(T::from_f64).collect() };
    let x = cast(floats(&c["input"]).unwrap());
    let w = cast(floats(&c["weight"]).unwrap());
    let b = floats(&c["bias"]).map(cast);
    let gy = cast(floats(&c["grad_output"]).unwrap());
    let nan = T::from_f64(f64::NAN);

    let mut y = vec![nan; p.output_len()];
    match plan.forward(&x, &w, b.as_deref(), &mut y) {
        Ok(()) => compare(
            name,
            "output",
            &y,
            &floats(&c["output"]).unwrap(),
            &floats(&c["abs_product_sum"]).unwrap(),
            failures,
        ),
        Err(e) => failures.push(format!("{name} [{}] forward: {e}", T::NAME)),
    }

    let mut gx = vec![nan; p.input_len()];
    match plan.backward_input(&w, &gy, &mut gx) {
        Ok(()) => compare(
            name,
            "grad_input",
            &gx,
            &floats(&c["grad_input"]).unwrap(),
            &floats(&c["grad_input_abs_product_sum"]).unwrap(),
            failures,
        ),
        Err(e) => failures.push(format!("{name} [{}] grad_input: {e}", T::NAME)),
    }

    let mut gw = vec![nan; p.weight_len()];
    match plan.backward_weight(&x, &gy, &mut gw) {
        Ok(()) => compare(
            name,
            "grad_weight",
            &gw,
            &floats(&c["grad_weight"]).unwrap(),
            &floats(&c["grad_weight_abs_product_sum"]).unwrap(),
            failures,
        ),
        Err(e) => failures.push(format!("{name} [{}] grad_weight: {e}", T::NAME)),
    }

    if let Some(want) = floats(&c["grad_bias"]) {
        let mut gb = vec![nan; p.bias_len()];
        match plan.backward_bias(&gy, &mut gb) {
            Ok(()) => compare(
                name,
                "grad_bias",
                &gb,
                &want,
                &floats(&c["grad_bias_abs_sum"]).unwrap(),
                failures,
            ),
            Err(e) => failures.push(format!("{name} [{}] grad_bias: {e}", T::NAME)),
        }
    }
}

/// Runs every case through the plans `make` builds; panics with every failure.
fn run_all(label: &str, make: common::PlanFactory) {
    let cases = load();
    let mut failures = vec![];
    let mut ran = 0;
    for c in &cases {
        let p = problem_of(c);
        let plan = match make(&p) {
            Ok(plan) => plan,
            Err(e) => {
                failures.push(format!("{}: no plan: {e}", c["name"]));
                continue;
            }
        };
        run_case::<f32>(c, &plan, &mut failures);
        run_case::<f64>(c, &plan, &mut failures);
        ran += 1;
    }
    assert!(
        failures.is_empty(),
        "{label}: {} failure(s) over {ran} cases:\n{}",
        failures.len(),
        failures.join("\n")
    );
    eprintln!("{label}: {ran} cases passed forward and backward in f32 and f64");
}

#[test]
fn conformance_reference() {
    run_all("reference", &|p| Plan::with_path(p, Path::Reference));
}

#[test]
fn conformance_planned() {
    run_all("planned", &|p| Ok(Plan::new(p)));
}

/// The im2col path at every SIMD level this CPU has, on 1 and 2 threads.
#[test]
fn conformance_im2col_every_isa() {
    for isa in Isa::supported().filter(|&i| i != Isa::Scalar) {
        for threads in [1, 2] {
            run_all(&format!("im2col/{isa}/{threads}T"), &|p| {
                Ok(Plan::with_path(p, Path::Im2col)?
                    .with_isa(isa)?
                    .with_threads(threads))
            });
        }
    }
}

/// The Winograd path at every SIMD level, on 1 and 2 threads, for every case it
/// accepts (2-D 3×3, stride 1, any dilation); it must refuse the others with
/// `PathUnsupported`, and those run on the reference.
#[test]
fn conformance_winograd_every_isa() {
    for isa in Isa::supported().filter(|&i| i != Isa::Scalar) {
        for threads in [1, 2] {
            run_all(
                &format!("winograd/{isa}/{threads}T"),
                &|p| match Plan::with_path(p, Path::Winograd) {
                    Ok(plan) => Ok(plan.with_isa(isa)?.with_threads(threads)),
                    Err(xcorr::XcorrError::PathUnsupported { .. })
                        if p.dims() != 2 || p.kernel_shape() != [3, 3] || p.stride() != [1, 1] =>
                    {
                        Ok(Plan::with_path(p, Path::Reference)?)
                    }
                    Err(e) => Err(e),
                },
            );
        }
    }
}

/// The direct path at every SIMD level, on 1 and 2 threads, for every case it
/// accepts (innermost stride 1); it must refuse the others with `PathUnsupported`.
#[test]
fn conformance_direct_every_isa() {
    for isa in Isa::supported().filter(|&i| i != Isa::Scalar) {
        for threads in [1, 2] {
            run_all(
                &format!("direct/{isa}/{threads}T"),
                &|p| match Plan::with_path(p, Path::Direct) {
                    Ok(plan) => Ok(plan.with_isa(isa)?.with_threads(threads)),
                    Err(xcorr::XcorrError::PathUnsupported { .. })
                        if p.stride().last() != Some(&1) =>
                    {
                        Ok(Plan::with_path(p, Path::Reference)?)
                    }
                    Err(e) => Err(e),
                },
            );
        }
    }
}
