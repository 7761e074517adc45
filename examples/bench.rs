//! The benchmark driver, in the manner of oneDNN's benchdnn: one program that times
//! any problem and checks it against the reference.
//!
//! ```text
//! cargo run --release --example bench -- [OPTIONS] [WORKLOAD|DESCRIPTOR ...]
//!
//!   WORKLOAD       a name from the workloads file (default: all of them)
//!   gemm<M>x<N>x<K>  the GEMM engine alone (`xcorr::gemm::gemm`), e.g. gemm1024x1024x1024
//!   DESCRIPTOR     a problem, e.g. n1_ic64_oc64_g1_i56x56_k3x3_s1_d1_p1_zeros_xcorr
//!                  tokens (any order, `_`-separated; defaults in brackets):
//!                    n<N> [1]  ic<C_in> [1]  oc<C_out> [1]  g<groups> [1]
//!                    i<L>x<L>... (sets the dimension count)   k<k>x<k>...
//!                    s<s>[x<s>...] [1]  d<d>[x<d>...] [1]
//!                    p<p> | p<b>:<a>x<b>:<a>... | pvalid | psame | pfull [pvalid]
//!                    zeros | reflect | replicate | circular [zeros]
//!                    xcorr | conv [xcorr]
//!   --workloads-file PATH   [../shared/peers/workloads.json]
//!   --path P[,P..]   reference, im2col, direct, winograd, auto (the estimate-mode
//!                    planner), measure (the measure-mode planner), or all
//!                    (= auto,im2col,direct,winograd)
//!                    (default: auto)
//!   --isa I[,I..]    scalar, portable, avx2, avx512 (default: the active level)
//!   --threads T[,T..]  (default: 1,2)
//!   --dtype f32|f64  (default: f32)
//!   --pass fwd|bwd|bwd_input|bwd_weight
//!                    time the forward pass, the input and weight gradients
//!                    together, or one of them (default: fwd)
//!   --rank1          weights of rank 1 per (co, ci) kernel (an outer product of two
//!                    vectors, as a Gaussian blur): the direct path takes the
//!                    separable route for them
//!   --zeros F        a fraction F of each kernel's taps set to zero (a fixed
//!                    scattered pattern; the direct path skips zero taps)
//!   --packed         time `Plan::forward_packed`: the weights packed once before
//!                    the timed calls (as inference engines prepare constant
//!                    weights), not by every call
//!   --copy           also time a plain copy of each problem's bytes (its input
//!                    read, its output written: the memory floor of a filter), at
//!                    each thread count, as a row `<workload>:copy`
//!   --check          compare with the reference (conformance tolerance rule)
//!   --json           one JSON object per line instead of a table
//!   --peak G1,G2     peak GFLOP/s for 1 and 2 threads (default: measured at start)
//!   --peak adjacent  %peak against a ~1 ms probe of the peak run just before each
//!                    timed call (the median of the calls' ratios): on a noisy
//!                    host, a neighbour that slows both cancels out
//!   --min-time S     seconds of timed calls per case (default 0.5)
//! ```
//!
//! Timing: at least 2 warm-up calls and 0.1 s, then single calls until `--min-time`
//! and at least 5 calls; the median is reported, with the fastest call. GFLOP/s
//! counts 2 per multiply-add; `GB/s` is the compulsory traffic (input + output
//! bytes) per second, shown for single-channel problems.

use std::time::Instant;

use xcorr::isa::Isa;
use xcorr::{reference, within_tolerance, Element, Padding, Path, Plan, Problem};

/// The weights timed: dense pseudo-random values, rank-1 kernels, or kernels with
/// a fraction of zero taps.
#[derive(Clone, Copy, PartialEq)]
enum Weights {
    Dense,
    Rank1,
    Zeros(f64),
}

struct Case {
    name: String,
    problem: Problem,
}

fn load_workloads(path: &str) -> Result<Vec<Case>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    let doc: serde_json::Value = serde_json::from_str(&text).map_err(|e| format!("{path}: {e}"))?;
    let list = doc["workloads"].as_array().ok_or("no workloads array")?;
    list.iter()
        .map(|w| {
            let u = |k: &str| {
                w[k].as_u64()
                    .map(|v| v as usize)
                    .ok_or(format!("{k} missing"))
            };
            let spatial: Vec<usize> = w["spatial"]
                .as_array()
                .ok_or("spatial")?
                .iter()
                .map(|v| v.as_u64().unwrap_or(0) as usize)
                .collect();
            let kernel: Vec<usize> = w["kernel"]
                .as_array()
                .ok_or("kernel")?
                .iter()
                .map(|v| v.as_u64().unwrap_or(0) as usize)
                .collect();
            let problem = Problem::builder()
                .batch(u("n")?)
                .channels(u("cin")?, u("cout")?)
                .groups(u("groups")?)
                .input(spatial)
                .kernel(kernel)
                .stride(u("stride")?)
                .dilation(u("dilation")?)
                .padding(Padding::Uniform(u("pad")?))
                .build()
                .map_err(|e| e.to_string())?;
            Ok(Case {
                name: w["name"].as_str().unwrap_or("?").to_string(),
                problem,
            })
        })
        .collect()
}

/// Peak GFLOP/s of this machine for `threads` threads: the best level's GEMM
/// microkernel on L1-resident data, which issues FMAs back to back.
fn measure_peak(threads: usize) -> f64 {
    probe_peak::<f32>(threads, Probe::Seconds(0.3))
}

/// How long a peak probe runs: for seconds, or a number of tiles per thread.
#[derive(Clone, Copy)]
enum Probe {
    Seconds(f64),
    Tiles(usize),
}

/// [`measure_peak`]'s loop for `T` on `threads` threads at once, each timing its
/// own loop; the sum of their rates.
fn probe_peak<T: Element>(threads: usize, how: Probe) -> f64 {
    let Some(kern) = T::gemm_kernel(Isa::detected()) else {
        return f64::NAN;
    };
    let kc = 128;
    let work = || {
        let a = vec![T::from_f64(0.5); kc * kern.a_step()];
        let b = vec![T::from_f64(0.25); kc * kern.nr];
        let mut c = vec![T::ZERO; kern.mr * kern.nr];
        let t = Instant::now();
        let mut reps = 0usize;
        match how {
            Probe::Seconds(s) => {
                while t.elapsed().as_secs_f64() < s {
                    for _ in 0..1000 {
                        kern.tile(kc, &a, &b, &mut c, true);
                    }
                    reps += 1000;
                }
            }
            Probe::Tiles(n) => {
                for _ in 0..n {
                    kern.tile(kc, &a, &b, &mut c, true);
                }
                reps = n;
            }
        }
        2.0 * (kc * kern.mr * kern.nr * reps) as f64 / t.elapsed().as_secs_f64() / 1e9
    };
    if threads == 1 {
        return work();
    }
    std::thread::scope(|s| {
        let hs: Vec<_> = (0..threads).map(|_| s.spawn(work)).collect();
        hs.into_iter().map(|h| h.join().unwrap_or(0.0)).sum()
    })
}

/// The peak a row's `%peak` is a fraction of: a fixed figure (`--peak G1,G2`,
/// or measured once at the start), or probed on this many threads just before
/// every timed call (`--peak adjacent`).
#[derive(Clone, Copy)]
enum Peak {
    Fixed(f64),
    Adjacent(usize),
}

/// Tiles of an adjacent probe: about a millisecond of FMAs.
const ADJACENT_TILES: usize = 1500;

/// Times calls of `f`: the median and fastest call, in seconds, and the percent
/// of `peak` that a call of `gflop` GFLOP reaches (an adjacent peak is probed
/// with `T`'s microkernel). With an adjacent peak, each
/// timed call follows a short probe and the percent is the median over the calls
/// of their own ratio to the probe before them: a noisy neighbour that slows
/// both (a busy sibling hyperthread, a lower clock) cancels out. (The probe
/// leaves its ~28 KiB of operands in L1: calls of well under a millisecond
/// start with a colder L1 than back-to-back calls do.)
fn time_calls<T: Element>(
    min_time: f64,
    gflop: f64,
    peak: Peak,
    mut f: impl FnMut(),
) -> (f64, f64, f64) {
    let t = Instant::now();
    let mut warm = 0;
    while warm < 2 || t.elapsed().as_secs_f64() < 0.1 {
        f();
        warm += 1;
    }
    let mut times = vec![];
    let mut pcts = vec![];
    let t = Instant::now();
    while times.len() < 5 || t.elapsed().as_secs_f64() < min_time {
        let probed = match peak {
            Peak::Adjacent(threads) => Some(probe_peak::<T>(threads, Probe::Tiles(ADJACENT_TILES))),
            Peak::Fixed(_) => None,
        };
        let s = Instant::now();
        f();
        let secs = s.elapsed().as_secs_f64();
        times.push(secs);
        if let Some(g) = probed {
            pcts.push(100.0 * gflop / secs / g);
        }
        if times.len() >= 3 && times[0] > 0.5 && t.elapsed().as_secs_f64() > min_time {
            break;
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(|a, b| a.total_cmp(b));
        v[v.len() / 2]
    };
    let med = median(&mut times);
    let pct = match peak {
        Peak::Adjacent(_) => median(&mut pcts),
        // The median call against the fixed figure, as the GFLOP/s column.
        Peak::Fixed(g) => 100.0 * gflop / med / g,
    };
    (med, times[0], pct)
}

struct Row {
    workload: String,
    descriptor: String,
    path: String,
    isa: String,
    threads: usize,
    dtype: &'static str,
    median_ms: f64,
    min_ms: f64,
    gflops: f64,
    pct_peak: f64,
    gbs: Option<f64>,
    check: Option<bool>,
}

/// The gradients a backward pass times (neither: the forward pass).
#[derive(Clone, Copy, Debug, Default)]
struct Grads {
    input: bool,
    weight: bool,
}

#[allow(clippy::too_many_arguments)]
fn run_case<T: Element>(
    case: &Case,
    plan: &Plan,
    check: bool,
    min_time: f64,
    peak: Peak,
    bwd: Grads,
    weights: Weights,
    packed: bool,
) -> Row {
    let p = plan.problem();
    let x: Vec<T> = (0..p.input_len())
        .map(|i| T::from_f64(((i * 7919) % 2001) as f64 / 1000.0 - 1.0))
        .collect();
    let w: Vec<T> = if weights == Weights::Rank1 {
        let (kh, kw) = (p.kernel_shape()[0], *p.kernel_shape().last().unwrap_or(&1));
        let taps = p.kernel_spatial();
        (0..p.weight_len())
            .map(|i| {
                let (r, c) = ((i % taps) / kw % kh, i % kw);
                let g =
                    |x: usize, n: usize| (-((x as f64 - (n / 2) as f64) / 2.0).powi(2) / 2.0).exp();
                T::from_f64(g(r, kh) * g(c, kw) / 10.0)
            })
            .collect()
    } else {
        let zeros = match weights {
            Weights::Zeros(f) => f,
            _ => 0.0,
        };
        let taps = p.kernel_spatial();
        (0..p.weight_len())
            .map(|i| {
                // Tap t is zero when its scrambled rank falls below the fraction.
                let t = i % taps;
                if ((t * 7919 + 13) % taps) < (zeros * taps as f64).round() as usize {
                    T::ZERO
                } else {
                    T::from_f64(((i * 104729) % 2001) as f64 / 1000.0 - 1.0)
                }
            })
            .collect()
    };
    let b: Vec<T> = (0..p.bias_len())
        .map(|i| T::from_f64(i as f64 * 0.01))
        .collect();
    let mut y = vec![T::ZERO; p.output_len()];
    let mut ws = vec![T::ZERO; plan.workspace_len::<T>()];
    if bwd.input || bwd.weight {
        // A non-zero output gradient, so that `--check` compares real sums.
        let gy: Vec<T> = (0..p.output_len())
            .map(|i| T::from_f64(((i * 6007) % 2001) as f64 / 1000.0 - 1.0))
            .collect();
        let mut gx = vec![T::ZERO; p.input_len()];
        let mut gw = vec![T::ZERO; p.weight_len()];
        let mut wsi = vec![T::ZERO; plan.backward_input_workspace_len::<T>()];
        let mut wsw = vec![T::ZERO; plan.backward_weight_workspace_len::<T>()];
        // One pass of the forward's size per gradient.
        let passes = usize::from(bwd.input) + usize::from(bwd.weight);
        let gflop = passes as f64 * p.flops() as f64 / 1e9;
        let (med, min, pct_peak) = time_calls::<T>(min_time, gflop, peak, || {
            if bwd.input {
                plan.backward_input_with_workspace(&w, &gy, &mut gx, &mut wsi)
                    .expect("backward_input");
            }
            if bwd.weight {
                plan.backward_weight_with_workspace(&x, &gy, &mut gw, &mut wsw)
                    .expect("backward_weight");
            }
        });
        let within = |got: &[T], want: &[T], scale: &[f64]| {
            got.iter()
                .zip(want)
                .zip(scale)
                .all(|((g, w), s)| within_tolerance::<T>(g.to_f64(), w.to_f64(), *s))
        };
        let check = check.then(|| {
            let ok_x = !bwd.input || {
                let mut want = vec![T::ZERO; p.input_len()];
                reference::backward_input(p, &w, &gy, &mut want).expect("reference");
                within(&gx, &want, &reference::scale::backward_input(p, &w, &gy))
            };
            let ok_w = !bwd.weight || {
                let mut want = vec![T::ZERO; p.weight_len()];
                reference::backward_weight(p, &x, &gy, &mut want).expect("reference");
                within(&gw, &want, &reference::scale::backward_weight(p, &x, &gy))
            };
            ok_x && ok_w
        });
        let gflops = gflop / med;
        return Row {
            workload: case.name.clone()
                + match (bwd.input, bwd.weight) {
                    (true, true) => ":bwd",
                    (true, false) => ":bwd_input",
                    _ => ":bwd_weight",
                },
            descriptor: p.descriptor(),
            path: plan.path().name().to_string(),
            isa: plan.isa().name().to_string(),
            threads: plan.threads(),
            dtype: T::NAME,
            median_ms: med * 1e3,
            min_ms: min * 1e3,
            gflops,
            pct_peak,
            gbs: None,
            check,
        };
    }
    let gflop = p.flops() as f64 / 1e9;
    let (med, min, pct_peak) = if packed {
        let pw = plan.pack_weights(&w).expect("pack_weights");
        time_calls::<T>(min_time, gflop, peak, || {
            plan.forward_packed_with_workspace(&x, &pw, Some(&b), &mut y, &mut ws)
                .expect("forward_packed");
        })
    } else {
        time_calls::<T>(min_time, gflop, peak, || {
            plan.forward_with_workspace(&x, &w, Some(&b), &mut y, &mut ws)
                .expect("forward");
        })
    };
    let check = check.then(|| {
        let mut want = vec![T::ZERO; p.output_len()];
        reference::forward(p, &x, &w, Some(&b), &mut want).expect("reference");
        let scale = reference::scale::forward(p, &x, &w, Some(&b));
        y.iter()
            .zip(&want)
            .zip(&scale)
            .all(|((g, w), s)| within_tolerance::<T>(g.to_f64(), w.to_f64(), *s))
    });
    let gflops = gflop / med;
    let single = p.in_channels() == 1 && p.out_channels() == 1;
    let bytes = ((p.input_len() + p.output_len()) * std::mem::size_of::<T>()) as f64;
    Row {
        workload: case.name.clone() + if packed { ":packed" } else { "" },
        descriptor: p.descriptor(),
        path: plan.path().name().to_string(),
        isa: plan.isa().name().to_string(),
        threads: plan.threads(),
        dtype: T::NAME,
        median_ms: med * 1e3,
        min_ms: min * 1e3,
        gflops,
        pct_peak,
        gbs: single.then(|| bytes / med / 1e9),
        check,
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut workloads_file = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/peers/workloads.json"
    )
    .to_string();
    let (mut paths, mut isas, mut threads) = (vec!["auto".to_string()], vec![], vec![1usize, 2]);
    let (mut dtype, mut check, mut json, mut peaks, mut min_time) =
        ("f32".to_string(), false, false, None, 0.5);
    let (mut bwd, mut packed, mut copy) = (Grads::default(), false, false);
    let mut weights = Weights::Dense;
    let mut adjacent = false;
    let mut names = vec![];
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        let mut val = || it.next().unwrap_or_else(|| panic!("{a} needs a value"));
        match a.as_str() {
            "--workloads-file" => workloads_file = val(),
            "--path" => paths = val().split(',').map(String::from).collect(),
            "--isa" => {
                isas = val()
                    .split(',')
                    .map(|s| s.parse::<Isa>().expect("isa"))
                    .collect()
            }
            "--threads" => {
                threads = val()
                    .split(',')
                    .map(|s| s.parse().expect("threads"))
                    .collect()
            }
            "--dtype" => dtype = val(),
            "--check" => check = true,
            "--packed" => packed = true,
            "--copy" => copy = true,
            "--pass" => {
                let pass = val();
                bwd = Grads {
                    input: pass == "bwd" || pass == "bwd_input",
                    weight: pass == "bwd" || pass == "bwd_weight",
                };
                if !bwd.input && !bwd.weight && pass != "fwd" {
                    panic!("unknown pass {pass} (fwd, bwd, bwd_input, bwd_weight)");
                }
            }
            "--rank1" => weights = Weights::Rank1,
            "--zeros" => weights = Weights::Zeros(val().parse().expect("fraction")),
            "--json" => json = true,
            "--peak" => match val().as_str() {
                "adjacent" => adjacent = true,
                v => {
                    peaks = Some(
                        v.split(',')
                            .map(|s| s.parse::<f64>().expect("peak"))
                            .collect::<Vec<_>>(),
                    )
                }
            },
            "--min-time" => min_time = val().parse().expect("seconds"),
            "-h" | "--help" => {
                println!("see the doc comment of examples/bench.rs");
                return;
            }
            _ => names.push(a),
        }
    }
    if paths == ["all"] {
        paths = ["auto", "im2col", "direct", "winograd"]
            .map(String::from)
            .to_vec();
    }
    let workloads = load_workloads(&workloads_file).unwrap_or_else(|e| {
        eprintln!("workloads: {e}");
        vec![]
    });
    // `gemm<M>x<N>x<K>`: the GEMM engine alone (`xcorr::gemm::gemm`).
    let (gemms, names): (Vec<String>, Vec<String>) =
        names.into_iter().partition(|n| parse_gemm(n).is_some());
    let only_gemm = names.is_empty() && !gemms.is_empty();
    let cases: Vec<Case> = if only_gemm {
        vec![]
    } else if names.is_empty() {
        workloads
    } else {
        names
            .iter()
            .map(|n| match workloads.iter().find(|w| &w.name == n) {
                Some(w) => Case {
                    name: w.name.clone(),
                    problem: w.problem,
                },
                None => Case {
                    name: "-".into(),
                    problem: n.parse::<Problem>().unwrap_or_else(|e| panic!("{n}: {e}")),
                },
            })
            .collect()
    };
    let peaks: Vec<f64> = match peaks {
        Some(v) => v,
        None if adjacent => vec![],
        None => {
            let top = threads.iter().copied().max().unwrap_or(1);
            let measured: Vec<f64> = (1..=top).map(measure_peak).collect();
            let shown: Vec<String> = measured
                .iter()
                .enumerate()
                .map(|(i, g)| format!("{}T {g:.1} GFLOP/s", i + 1))
                .collect();
            eprintln!(
                "measured peak (f32 FMA, {}): {}",
                Isa::detected(),
                shown.join(", ")
            );
            measured
        }
    };
    let peak_for = |t: usize| -> Peak {
        if adjacent {
            return Peak::Adjacent(t);
        }
        Peak::Fixed(
            peaks
                .get(t - 1)
                .or(peaks.last())
                .copied()
                .unwrap_or(f64::NAN),
        )
    };
    if !json {
        println!(
            "{:<10} {:<9} {:<8} {:>2} {:<4} {:>10} {:>10} {:>8} {:>6} {:>7} {:>5}  descriptor",
            "workload",
            "path",
            "isa",
            "T",
            "type",
            "median ms",
            "min ms",
            "GFLOP/s",
            "%peak",
            "GB/s",
            "check"
        );
    }
    let isa_list = if isas.is_empty() {
        vec![Isa::active()]
    } else {
        isas.clone()
    };
    for g in &gemms {
        let (m, n, k) = parse_gemm(g).expect("gemm descriptor");
        for &isa in &isa_list {
            for &t in &threads {
                let row = match dtype.as_str() {
                    "f64" => run_gemm::<f64>(g, (m, n, k), isa, t, check, min_time, peak_for(t)),
                    _ => run_gemm::<f32>(g, (m, n, k), isa, t, check, min_time, peak_for(t)),
                };
                print_row(&row, json, "gemm");
            }
        }
    }
    for case in &cases {
        if copy {
            for &t in &threads {
                let row = match dtype.as_str() {
                    "f64" => run_copy::<f64>(case, t, min_time),
                    _ => run_copy::<f32>(case, t, min_time),
                };
                print_row(&row, json, "copy");
            }
        }
        for path in &paths {
            for &isa in &isa_list {
                for &t in &threads {
                    let plan = match path.as_str() {
                        "auto" => Ok(Plan::new(&case.problem)),
                        "measure" => {
                            let planner =
                                xcorr::Planner::new(xcorr::PlanMode::Measure).with_threads(t);
                            Ok(match dtype.as_str() {
                                "f64" => planner.plan::<f64>(&case.problem),
                                _ => planner.plan::<f32>(&case.problem),
                            })
                        }
                        name => name
                            .parse::<Path>()
                            .and_then(|p| Plan::with_path(&case.problem, p)),
                    };
                    let plan = match plan.and_then(|pl| pl.with_isa(isa)) {
                        Ok(pl) => pl.with_threads(t),
                        Err(e) => {
                            eprintln!("{} {path} {isa}: {e}", case.name);
                            continue;
                        }
                    };
                    let row = match dtype.as_str() {
                        "f64" => run_case::<f64>(
                            case,
                            &plan,
                            check,
                            min_time,
                            peak_for(t),
                            bwd,
                            weights,
                            packed,
                        ),
                        _ => run_case::<f32>(
                            case,
                            &plan,
                            check,
                            min_time,
                            peak_for(t),
                            bwd,
                            weights,
                            packed,
                        ),
                    };
                    print_row(&row, json, path);
                }
            }
        }
    }
}

/// Times a plain copy of a problem's bytes: its input read into a buffer of its
/// output's size (from its start again where the output is larger), by the
/// standard library's `copy_from_slice` (memcpy), in `threads` equal parts on a
/// pool of that many threads.
fn run_copy<T: Element>(case: &Case, threads: usize, min_time: f64) -> Row {
    use rayon::prelude::*;
    let p = &case.problem;
    let src: Vec<T> = (0..p.input_len()).map(|i| T::from_f64(i as f64)).collect();
    let mut dst = vec![T::ZERO; p.output_len()];
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("thread pool");
    let part = dst.len().div_ceil(threads).max(1);
    let (med, min, _) = time_calls::<T>(min_time, 0.0, Peak::Fixed(f64::NAN), || {
        pool.install(|| {
            dst.par_chunks_mut(part).enumerate().for_each(|(i, d)| {
                let mut at = (i * part) % src.len();
                for piece in d.chunks_mut(src.len()) {
                    let (head, tail) = piece.split_at_mut(piece.len().min(src.len() - at));
                    head.copy_from_slice(&src[at..at + head.len()]);
                    tail.copy_from_slice(&src[..tail.len()]);
                    at = 0;
                }
            })
        })
    });
    let bytes = ((src.len() + dst.len()) * std::mem::size_of::<T>()) as f64;
    Row {
        workload: case.name.clone() + ":copy",
        descriptor: p.descriptor(),
        path: "copy".into(),
        isa: "-".into(),
        threads,
        dtype: T::NAME,
        median_ms: med * 1e3,
        min_ms: min * 1e3,
        gflops: 0.0,
        pct_peak: 0.0,
        gbs: Some(bytes / med / 1e9),
        check: None,
    }
}

/// `gemm<M>x<N>x<K>` -> `(M, N, K)`.
fn parse_gemm(s: &str) -> Option<(usize, usize, usize)> {
    let v: Vec<usize> = s
        .strip_prefix("gemm")?
        .split('x')
        .map(|d| d.parse().ok())
        .collect::<Option<_>>()?;
    match v[..] {
        [m, n, k] if m > 0 && n > 0 && k > 0 => Some((m, n, k)),
        _ => None,
    }
}

/// Times `C = A·B` (row-major, tight leading dimensions) through `xcorr::gemm::gemm`;
/// `--check` compares with an f64 triple loop under the conformance rule.
#[allow(clippy::too_many_arguments)]
fn run_gemm<T: Element>(
    name: &str,
    (m, n, k): (usize, usize, usize),
    isa: Isa,
    threads: usize,
    check: bool,
    min_time: f64,
    peak: Peak,
) -> Row {
    let a: Vec<T> = (0..m * k)
        .map(|i| T::from_f64(((i * 7919) % 2001) as f64 / 1000.0 - 1.0))
        .collect();
    let b: Vec<T> = (0..k * n)
        .map(|i| T::from_f64(((i * 104729) % 2001) as f64 / 1000.0 - 1.0))
        .collect();
    let mut c = vec![T::ZERO; m * n];
    // The packing workspace made once, as a hot loop would (`gemm` allocates it
    // per call).
    let mut ws = vec![T::ZERO; xcorr::gemm::gemm_workspace_len::<T>(isa, threads, m, n, k)];
    let gflop = 2.0 * (m * n * k) as f64 / 1e9;
    let (med, min, pct_peak) = time_calls::<T>(min_time, gflop, peak, || {
        xcorr::gemm::gemm_with_workspace(isa, threads, m, n, k, &a, k, &b, n, &mut c, n, &mut ws)
            .expect("gemm")
    });
    let check = check.then(|| {
        (0..m).all(|i| {
            (0..n).all(|j| {
                let (mut want, mut scale) = (0.0f64, 0.0f64);
                for kk in 0..k {
                    let p = a[i * k + kk].to_f64() * b[kk * n + j].to_f64();
                    want += p;
                    scale += p.abs();
                }
                within_tolerance::<T>(c[i * n + j].to_f64(), want, scale)
            })
        })
    });
    let gflops = gflop / med;
    Row {
        workload: "gemm".into(),
        descriptor: name.into(),
        path: "gemm".into(),
        isa: isa.to_string(),
        threads,
        dtype: T::NAME,
        median_ms: med * 1e3,
        min_ms: min * 1e3,
        gflops,
        pct_peak,
        gbs: None,
        check,
    }
}

fn print_row(r: &Row, json: bool, asked: &str) {
    let check = match r.check {
        Some(true) => "pass",
        Some(false) => "fail",
        None => "-",
    };
    let path = if asked == "auto" {
        format!("auto:{}", r.path)
    } else {
        r.path.clone()
    };
    if json {
        let obj = serde_json::json!({
            "workload": r.workload, "descriptor": r.descriptor, "path": path, "isa": r.isa,
            "threads": r.threads, "dtype": r.dtype, "median_ms": r.median_ms, "min_ms": r.min_ms,
            "gflops": r.gflops, "pct_peak": r.pct_peak, "gbs": r.gbs,
            "check": r.check.map(|c| if c { "pass" } else { "fail" }),
        });
        println!("{obj}");
    } else {
        println!(
            "{:<10} {:<9} {:<8} {:>2} {:<4} {:>10.3} {:>10.3} {:>8.1} {:>6.1} {:>7} {:>5}  {}",
            r.workload,
            path,
            r.isa,
            r.threads,
            r.dtype,
            r.median_ms,
            r.min_ms,
            r.gflops,
            r.pct_peak,
            r.gbs.map_or("-".into(), |g| format!("{g:.1}")),
            check,
            r.descriptor
        );
    }
}
