//! Criterion bench of the reference path: the worked example and a 512×512 3×3 filter.
//! Throughput is in FLOPs (2 per multiply-add), so criterion reports FLOP/s.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use xcorr::{Padding, Path, Plan, Problem};

fn bench_reference(c: &mut Criterion) {
    let mut group = c.benchmark_group("reference");
    let cases = [
        (
            "worked_example_3x3_k2x2",
            Problem::builder()
                .input([3, 3])
                .kernel([2, 2])
                .build()
                .unwrap(),
        ),
        (
            "img512_k3x3",
            Problem::builder()
                .input([512, 512])
                .kernel([3, 3])
                .padding(Padding::Same)
                .build()
                .unwrap(),
        ),
    ];
    for (name, p) in cases {
        let plan = Plan::with_path(&p, Path::Reference).unwrap();
        let x: Vec<f32> = (0..p.input_len()).map(|i| (i % 17) as f32 * 0.1).collect();
        let w: Vec<f32> = (0..p.weight_len()).map(|i| i as f32 * 0.25 - 1.0).collect();
        let mut y = vec![0.0f32; p.output_len()];
        group.throughput(Throughput::Elements(p.flops() as u64));
        group.bench_function(name, |b| {
            b.iter(|| {
                plan.forward(black_box(&x), black_box(&w), None, &mut y)
                    .unwrap()
            })
        });
    }
    group.finish();

    // Tiny problems: the worked example through a prepared plan (with its
    // workspace), against the reference loop alone.
    let mut group = c.benchmark_group("tiny");
    let p = Problem::builder()
        .input([3, 3])
        .kernel([2, 2])
        .build()
        .unwrap();
    let x: Vec<f32> = (0..9).map(|v| v as f32).collect();
    let w = [0.0f32, 1.0, 2.0, 3.0];
    let mut y = [0.0f32; 4];
    group.bench_function("worked_example/reference_loop", |b| {
        b.iter(|| {
            xcorr::reference::forward(&p, black_box(&x), black_box(&w), None, &mut y).unwrap()
        })
    });
    let plan = Plan::new(&p);
    let mut ws = vec![0.0f32; plan.workspace_len::<f32>()];
    group.bench_function(format!("worked_example/plan_{}", plan.path()), |b| {
        b.iter(|| {
            plan.forward_with_workspace(black_box(&x), black_box(&w), None, &mut y, &mut ws)
                .unwrap()
        })
    });
    group.bench_function("worked_example/plan_new", |b| {
        b.iter(|| Plan::new(black_box(&p)))
    });
    // A padded one ("same" 3×3 on 8×8): border columns, read in place by the direct
    // path on AVX2/AVX-512 (padded into a slab at the portable level).
    let p = Problem::builder()
        .input([8, 8])
        .kernel([3, 3])
        .padding(xcorr::Padding::Same)
        .build()
        .unwrap();
    let x: Vec<f32> = (0..64).map(|v| v as f32).collect();
    let w = [1.0f32; 9];
    let mut y = [0.0f32; 64];
    group.bench_function("same_8x8_k3/reference_loop", |b| {
        b.iter(|| {
            xcorr::reference::forward(&p, black_box(&x), black_box(&w), None, &mut y).unwrap()
        })
    });
    let plan = Plan::new(&p);
    let mut ws = vec![0.0f32; plan.workspace_len::<f32>()];
    group.bench_function(format!("same_8x8_k3/plan_{}", plan.path()), |b| {
        b.iter(|| {
            plan.forward_with_workspace(black_box(&x), black_box(&w), None, &mut y, &mut ws)
                .unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, bench_reference);
criterion_main!(benches);
