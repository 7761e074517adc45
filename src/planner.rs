//! The planner: chooses the path for a problem, in the manner of FFTW's plans.
//!
//! * **Estimate** (the default): a cost model, deterministic and without timing,
//!   fast enough to run for every new shape.
//! * **Measure**: times every path that can compute the problem on the real shape
//!   and keeps the fastest. Choices are cached in the planner and can be exported
//!   as a small text file and imported elsewhere, so an application can tune once
//!   and ship the result.
//!
//! Every plan records why its path was chosen (`Plan::describe`).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use crate::element::Element;
use crate::error::{Result, XcorrError};
use crate::geometry::Problem;
use crate::isa::Isa;
use crate::parallel;
use crate::plan::{Path, Plan};

/// How a planner chooses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PlanMode {
    /// A cost model: deterministic, no timing.
    Estimate,
    /// Time the candidate paths on the real shape and keep the fastest.
    Measure,
}

/// The cost model's estimate of a path's time, in cycles of one core (relative
/// units: only comparisons between paths matter).
pub fn estimated_cycles(p: &Problem, path: Path, isa: Isa) -> Option<f64> {
    let flops = p.flops() as f64;
    // FLOPs per cycle of one core at this level: 2 FMA pipes × lanes × 2.
    let peak = match isa {
        Isa::Avx512 => 64.0,
        Isa::Avx2 => 32.0,
        Isa::Portable => 8.0,
        Isa::Scalar => 2.0,
    };
    let bytes = 4.0 * (p.input_len() + p.output_len()) as f64;
    // Compulsory traffic at about 16 bytes per cycle (an L3-resident copy).
    let traffic = bytes / 16.0;
    let (stride, kernel) = (p.stride(), p.kernel_shape());
    match path {
        Path::Reference => Some(flops / 0.5 + traffic),
        // Chosen per call by the direct path (the kernel is only known then).
        Path::Separable => None,
        Path::Im2col => {
            crate::paths::im2col::Im2col::new(p).ok()?;
            // The GEMM fills MR-row tiles with output channels of one group; short
            // reductions are dominated by packing.
            let (mr, _) = gemm_tile(isa);
            let m = p.out_channels_per_group() as f64;
            let fill = m / ((m / mr).ceil() * mr);
            let k = p.reduction_len() as f64;
            let eff = 0.8 * fill * (k / (k + 16.0));
            // Preparing the padded input costs a pass over it; every call also sets
            // up its packing scratch (tens of KiB) and packs the weights.
            let fixed = 4000.0 + p.weight_len() as f64;
            Some(flops / (peak * eff) + traffic + 4.0 * p.input_len() as f64 / 8.0 + fixed)
        }
        Path::Winograd => {
            let (tiles, copies) = crate::paths::winograd::Winograd::new(p)
                .ok()?
                .tiles_per_image();
            // A GEMM of 4/9 of the multiply-adds per output, in MR-row tiles of
            // output channels and NR-tile panels (a last panel partly empty),
            // over a reduction of C_in/g; plus the transforms, about 17 cycles per
            // tile and channel with AVX-512 (measured: res3x3, c128; more with
            // narrower vectors), and the weights'. AVX2's packed-panel tile runs
            // at about half its peak here (c128: 75% of the time in the GEMM at
            // 50%), AVX-512's and the portable one's near theirs.
            let (mr, nr) = gemm_tile(isa);
            let m = p.out_channels_per_group() as f64;
            let fill = m / ((m / mr).ceil() * mr);
            let k = p.in_channels_per_group() as f64;
            // (A dilated kernel's phases are copied in and out: twice the traffic.)
            let tiles = tiles as f64;
            let traffic = if copies { 3.0 * traffic } else { traffic };
            let waste = (tiles / nr).ceil() * nr / tiles;
            let level = if isa == Isa::Avx2 { 0.5 } else { 0.9 };
            let eff = level * fill * (k / (k + 16.0));
            let gemm = flops * 4.0 / 9.0 * waste / (peak * eff);
            let batch = p.batch() as f64;
            let channels = (p.in_channels() + p.out_channels()) as f64;
            let per_tile = 17.0 * 64.0 / peak;
            let transforms =
                per_tile * batch * tiles * channels + 10.0 * p.weight_len() as f64 / 9.0;
            Some(gemm + transforms + traffic + 4000.0)
        }
        Path::Direct => {
            if *stride.last()? != 1 {
                // Per output plane, a stride-1 problem on the input split by
                // phase, after a pass that pads and splits the input planes of
                // its group.
                let route = crate::paths::direct_strided::StridedDirect::new(p).ok()?;
                let (sub, planes) = route.sub_problem();
                // (The sub-problems' own traffic counts the output and the split
                // planes; the split reads the input once, by vector.)
                let split = planes as f64 * 4.0 * sub.input_len() as f64 / 32.0;
                let each = estimated_cycles(sub, Path::Direct, isa)?;
                return Some(planes as f64 * each + split);
            }
            // Efficiency grows with the taps per row (loads amortised over more
            // FMAs) and with row blocking (rows share input loads).
            let kw = *kernel.last()? as f64;
            let multi =
                p.dims() >= 2 && stride[stride.len() - 2] == 1 && p.dilation()[p.dims() - 2] == 1;
            let eff = (0.12 + 0.04 * kw).min(0.55) * if multi { 1.0 } else { 0.7 };
            // Short rows pay the per-row set-up.
            let w = *p.output_shape().last()? as f64;
            let eff = eff * (w / (w + 48.0));
            // A short set-up per block of output rows.
            let rows = (p.output_len() / p.output_shape().last()?) as f64;
            Some(flops / (peak * eff) + traffic + 40.0 * rows)
        }
    }
}

/// The GEMM microkernel's tile, MR × NR, at `isa` (from the kernel table where
/// the CPU has the level; else that level's usual shape).
fn gemm_tile(isa: Isa) -> (f64, f64) {
    crate::isa::gemm_kernel_f32(isa).map_or(
        if isa == Isa::Avx512 {
            (8.0, 48.0)
        } else {
            (4.0, 24.0)
        },
        |k| (k.mr as f64, k.nr as f64),
    )
}

/// The estimate-mode choice: the path with the lowest modelled cost, and why.
/// Winograd is not a candidate (see [`Planner::with_winograd`]).
pub fn estimate(p: &Problem, isa: Isa) -> (Path, String) {
    estimate_among(p, isa, &[Path::Im2col, Path::Direct])
}

/// The paths a planner chooses between: Winograd only where allowed.
fn candidates(winograd: bool) -> &'static [Path] {
    if winograd {
        &[Path::Im2col, Path::Direct, Path::Winograd]
    } else {
        &[Path::Im2col, Path::Direct]
    }
}

fn estimate_among(p: &Problem, isa: Isa, paths: &[Path]) -> (Path, String) {
    if isa == Isa::Scalar {
        return (Path::Reference, "no SIMD level is active".into());
    }
    let mut costs: Vec<(Path, f64)> = paths
        .iter()
        .copied()
        .filter_map(|path| estimated_cycles(p, path, isa).map(|c| (path, c)))
        .collect();
    costs.sort_by(|a, b| a.1.total_cmp(&b.1));
    let why = costs
        .iter()
        .map(|(path, c)| format!("{path} ~{:.2} Mcycles", c / 1e6))
        .collect::<Vec<_>>()
        .join(", ");
    match costs.first() {
        Some(&(path, _)) => (path, format!("estimate: {why}")),
        None => (Path::Reference, "no SIMD path accepts this problem".into()),
    }
}

type Key = (Problem, &'static str, usize, Isa);

/// Makes plans; in measure mode, remembers what it measured.
#[derive(Debug)]
pub struct Planner {
    mode: PlanMode,
    isa: Isa,
    threads: usize,
    winograd: bool,
    cache: Mutex<HashMap<Key, Path>>,
}

impl Default for Planner {
    fn default() -> Self {
        Planner::new(PlanMode::Estimate)
    }
}

impl Planner {
    /// A planner at the active ISA level on the default thread count.
    pub fn new(mode: PlanMode) -> Planner {
        Planner {
            mode,
            isa: Isa::active(),
            threads: parallel::default_threads(),
            winograd: false,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Lets the planner choose the Winograd path (`Path::Winograd`), off by
    /// default: its transforms mix every input of an output's window with every
    /// weight, so its rounding error is bounded by `Σ_ci Σ|w|·max|x|` over the
    /// window rather than by `Σ|x·w|`, and an output whose large inputs meet
    /// small weights (a border beside zero padding) can miss the crate's
    /// tolerance rule (`|got - want| <= c·K·eps·Σ|x·w|`). On data of one scale
    /// (images, activations) it meets it; see the README.
    pub fn with_winograd(mut self, allow: bool) -> Planner {
        self.winograd = allow;
        self
    }

    /// Plans on `threads` threads.
    pub fn with_threads(mut self, threads: usize) -> Planner {
        self.threads = threads.max(1);
        self
    }

    /// Plans at ISA level `isa`.
    ///
    /// # Errors
    /// `InvalidArgument` if the CPU lacks it.
    pub fn with_isa(mut self, isa: Isa) -> Result<Planner> {
        self.isa = isa.require()?;
        Ok(self)
    }

    pub fn mode(&self) -> PlanMode {
        self.mode
    }

    /// The plan for `p` in element type `T`.
    pub fn plan<T: Element>(&self, p: &Problem) -> Plan {
        let key = (*p, T::NAME, self.threads, self.isa);
        let known = self
            .cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
            .copied();
        let (path, why) = match (known, self.mode) {
            (Some(path), _) => (path, "measured earlier (planner cache)".to_string()),
            (None, PlanMode::Estimate) => estimate_among(p, self.isa, candidates(self.winograd)),
            (None, PlanMode::Measure) => {
                let (path, why) = self.measure::<T>(p);
                self.cache
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(key, path);
                (path, why)
            }
        };
        self.build(p, path, why)
    }

    fn build(&self, p: &Problem, path: Path, why: String) -> Plan {
        Plan::build(p, path, true)
            .and_then(|pl| pl.with_isa(self.isa))
            .map(|pl| pl.with_threads(self.threads).with_reason(why))
            .unwrap_or_else(|e| Plan::reference_plan(p).with_reason(format!("fallback: {e}")))
    }

    /// Times each candidate on the real shape (forward pass, median of a few calls)
    /// and returns the fastest with the timings.
    fn measure<T: Element>(&self, p: &Problem) -> (Path, String) {
        if self.isa == Isa::Scalar {
            return (Path::Reference, "no SIMD level is active".into());
        }
        let x: Vec<T> = (0..p.input_len())
            .map(|i| T::from_f64((i % 7) as f64 * 0.25 - 0.75))
            .collect();
        let w: Vec<T> = (0..p.weight_len())
            .map(|i| T::from_f64((i % 5) as f64 * 0.5 - 1.0))
            .collect();
        let mut y = vec![T::ZERO; p.output_len()];
        let mut results = vec![];
        for &path in candidates(self.winograd) {
            let Ok(plan) = Plan::with_path(p, path).and_then(|pl| pl.with_isa(self.isa)) else {
                continue;
            };
            let plan = plan.with_threads(self.threads);
            let mut ws = vec![T::ZERO; plan.workspace_len::<T>()];
            let mut times = vec![];
            let start = Instant::now();
            while times.len() < 3 || (times.len() < 15 && start.elapsed().as_secs_f64() < 0.05) {
                let t = Instant::now();
                if plan
                    .forward_with_workspace(&x, &w, None, &mut y, &mut ws)
                    .is_err()
                {
                    break;
                }
                times.push(t.elapsed().as_secs_f64());
            }
            if times.is_empty() {
                continue;
            }
            times.sort_by(f64::total_cmp);
            results.push((path, times[times.len() / 2]));
        }
        results.sort_by(|a, b| a.1.total_cmp(&b.1));
        let why = results
            .iter()
            .map(|(path, t)| format!("{path} {:.3} ms", t * 1e3))
            .collect::<Vec<_>>()
            .join(", ");
        match results.first() {
            Some(&(path, _)) => (path, format!("measured: {why}")),
            None => (Path::Reference, "no SIMD path could run".into()),
        }
    }

    /// The cached choices as text: a header line, then one line per choice:
    /// `descriptor dtype threads isa path`.
    pub fn export(&self) -> String {
        let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        let mut lines: Vec<String> = cache
            .iter()
            .map(|((p, t, th, isa), path)| format!("{} {t} {th} {isa} {path}", p.descriptor()))
            .collect();
        lines.sort();
        format!(
            "xcorr-plans 1\n{}",
            lines.iter().map(|l| format!("{l}\n")).collect::<String>()
        )
    }

    /// Adds the choices of an [`export`](Self::export)ed text to the cache; returns
    /// how many were read.
    ///
    /// # Errors
    /// `InvalidArgument` naming the first malformed line; nothing is added then.
    pub fn import(&self, text: &str) -> Result<usize> {
        let bad = |line: &str| XcorrError::InvalidArgument {
            what: "plan line",
            value: line.to_string(),
        };
        let mut lines = text.lines();
        if lines.next().map(str::trim) != Some("xcorr-plans 1") {
            return Err(bad("missing header `xcorr-plans 1`"));
        }
        let mut entries = vec![];
        for line in lines.map(str::trim).filter(|l| !l.is_empty()) {
            let f: Vec<&str> = line.split_whitespace().collect();
            let [d, t, th, isa, path] = f[..] else {
                return Err(bad(line));
            };
            let dtype = match t {
                "f32" => "f32",
                "f64" => "f64",
                _ => return Err(bad(line)),
            };
            entries.push((
                (
                    d.parse::<Problem>()?,
                    dtype,
                    th.parse::<usize>().map_err(|_| bad(line))?,
                    isa.parse::<Isa>()?,
                ),
                path.parse::<Path>()?,
            ));
        }
        let n = entries.len();
        self.cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend(entries);
        Ok(n)
    }
}
