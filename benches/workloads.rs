//! Criterion benches over the shared workloads (`../shared/peers/workloads.json`,
//! or `$XCORR_WORKLOADS`): one group per workload, one id per path and ISA level
//! (`auto`, `im2col/avx512`, `direct/avx2`, ...), throughput in FLOPs (2 per
//! multiply-add), so `cargo bench` tracks regressions per path; and `auto/bytes`,
//! the planner's choice again with its throughput in bytes (input and output, the
//! compulsory traffic), for the memory-bound shapes. Criterion takes one throughput
//! per benchmark, hence the second id.
//!
//! `XCORR_BENCH_FILTER=img3,res3x3` limits the workloads; `XCORR_BENCH_THREADS`
//! sets the thread count (default 1).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use xcorr::isa::Isa;
use xcorr::{Padding, Path, Plan, Problem};

fn workloads() -> Vec<(String, Problem)> {
    let path = std::env::var("XCORR_WORKLOADS").unwrap_or_else(|_| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/peers/workloads.json"
        )
        .to_string()
    });
    let Ok(text) = std::fs::read_to_string(&path) else {
        eprintln!("no workloads file at {path}");
        return vec![];
    };
    let doc: serde_json::Value = serde_json::from_str(&text).expect("workloads JSON");
    let filter: Option<Vec<String>> = std::env::var("XCORR_BENCH_FILTER")
        .ok()
        .map(|f| f.split(',').map(String::from).collect());
    doc["workloads"]
        .as_array()
        .expect("workloads array")
        .iter()
        .filter_map(|w| {
            let name = w["name"].as_str()?.to_string();
            if filter.as_ref().is_some_and(|f| !f.contains(&name)) {
                return None;
            }
            let u = |k: &str| w[k].as_u64().map(|v| v as usize);
            let axes = |k: &str| -> Option<Vec<usize>> {
                w[k].as_array()?
                    .iter()
                    .map(|v| v.as_u64().map(|v| v as usize))
                    .collect()
            };
            let p = Problem::builder()
                .batch(u("n")?)
                .channels(u("cin")?, u("cout")?)
                .groups(u("groups")?)
                .input(axes("spatial")?)
                .kernel(axes("kernel")?)
                .stride(u("stride")?)
                .dilation(u("dilation")?)
                .padding(Padding::Uniform(u("pad")?))
                .build()
                .ok()?;
            Some((name, p))
        })
        .collect()
}

fn bench_workloads(c: &mut Criterion) {
    let threads: usize = std::env::var("XCORR_BENCH_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    for (name, p) in workloads() {
        let mut group = c.benchmark_group(&name);
        group.throughput(Throughput::Elements(p.flops() as u64));
        group.sample_size(10);
        let x: Vec<f32> = (0..p.input_len())
            .map(|i| (i % 13) as f32 * 0.1 - 0.6)
            .collect();
        let w: Vec<f32> = (0..p.weight_len())
            .map(|i| (i % 7) as f32 * 0.2 - 0.6)
            .collect();
        let mut y = vec![0.0f32; p.output_len()];
        let mut plans = vec![("auto".to_string(), Plan::new(&p).with_threads(threads))];
        for path in [Path::Im2col, Path::Direct] {
            for isa in Isa::supported().filter(|&i| i != Isa::Scalar) {
                if let Ok(plan) = Plan::with_path(&p, path).and_then(|pl| pl.with_isa(isa)) {
                    plans.push((format!("{path}/{isa}"), plan.with_threads(threads)));
                }
            }
        }
        let auto = plans[0].1.clone();
        plans.push(("auto/bytes".to_string(), auto));
        for (id, plan) in plans {
            if id == "auto/bytes" {
                let bytes = (p.input_len() + p.output_len()) * std::mem::size_of::<f32>();
                group.throughput(Throughput::Bytes(bytes as u64));
            }
            let mut ws = vec![0.0f32; plan.workspace_len::<f32>()];
            group.bench_function(BenchmarkId::from_parameter(id), |b| {
                b.iter(|| {
                    plan.forward_with_workspace(&x, &w, None, &mut y, &mut ws)
                        .unwrap()
                })
            });
        }
        group.finish();
    }
}

criterion_group!(benches, bench_workloads);
criterion_main!(benches);
