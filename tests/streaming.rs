//! Streaming stores and prefetching: the direct path writes outputs too large to
//! stay cached (images and signals) with non-temporal stores (aligned vectors
//! only; the columns before the first aligned one, and rows aligned differently,
//! stored as usual). The values must be bitwise those of ordinary stores, at every
//! alignment, row length and kernel shape, on every level; and a problem large
//! enough to take the streaming route must still match the reference. Likewise the
//! in-place rows' prefetch of the next block (on or off per CPU) changes no bit.

mod common;

use common::{check_forward_threads, vector_levels, Rng};
use xcorr::isa::{InPlaceRows, Isa, NextRows};
use xcorr::{Element, Path, Plan, Problem};

/// One `DirectKernel::rows` call with and without streaming, on output rows at
/// element offset `skew` from a 64-element boundary, `pitch` elements apart.
fn rows_agree<T: Element>(isa: Isa, kh: usize, taps: usize, dil: usize, n: usize, skew: usize) {
    let kern = T::direct_kernel(isa).unwrap();
    let r = kern.rows_per_block;
    let mut rng = Rng((kh * 1000 + taps * 100 + n * 7 + skew) as u64);
    let len = n + (taps - 1) * dil;
    let inputs: Vec<Vec<T>> = (0..r + kh - 1).map(|_| rng.vec(len)).collect();
    let inp: Vec<&[T]> = inputs.iter().map(|v| v.as_slice()).collect();
    let w: Vec<T> = rng.vec(kh * taps);
    let bias = T::from_f64(0.25);
    // Equal pitches multiple of 64 keep every row aligned alike (the streaming
    // route); a pitch one more than that misaligns them (the ordinary one).
    for pitch in [
        (n + skew).div_ceil(64) * 64 + 64,
        (n + skew).div_ceil(64) * 64 + 65,
    ] {
        let run = |stream: bool| {
            // Over-allocate so that the rows can start anywhere within a line.
            let mut buf = vec![T::from_f64(f64::NAN); r * pitch + 128];
            let base = buf.as_ptr().align_offset(64).min(64) + skew;
            {
                let mut rows: Vec<&mut [T]> = buf[base..]
                    .chunks_mut(pitch)
                    .take(r)
                    .map(|c| &mut c[..n])
                    .collect();
                kern.rows(&inp, kh, taps, dil, &w, &mut rows, bias, false, stream);
            }
            (0..r)
                .flat_map(|i| buf[base + i * pitch..][..n].to_vec())
                .map(|v| v.to_f64().to_bits())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            run(false),
            run(true),
            "{isa} {}: {kh}x{taps} d{dil}, n {n}, skew {skew}, pitch {pitch}",
            std::any::type_name::<T>()
        );
    }
}

/// One `DirectKernel::row` call (a signal row) with and without streaming, its
/// output at element offset `skew` from a 64-element boundary.
fn row_agrees<T: Element>(isa: Isa, rows: usize, taps: usize, dil: usize, n: usize, skew: usize) {
    let kern = T::direct_kernel(isa).unwrap();
    let mut rng = Rng((rows * 1000 + taps * 100 + n * 7 + skew) as u64);
    let len = n + (taps - 1) * dil;
    let inputs: Vec<Vec<T>> = (0..rows).map(|_| rng.vec(len)).collect();
    let inp: Vec<&[T]> = inputs.iter().map(|v| v.as_slice()).collect();
    let w: Vec<T> = rng.vec(rows * taps);
    let run = |stream: bool| {
        let mut buf = vec![T::from_f64(f64::NAN); n + 128];
        let base = buf.as_ptr().align_offset(64).min(64) + skew;
        kern.row(
            &inp,
            taps,
            dil,
            &w,
            &mut buf[base..base + n],
            T::from_f64(0.5),
            false,
            stream,
        );
        buf[base..base + n]
            .iter()
            .map(|v| v.to_f64().to_bits())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        run(false),
        run(true),
        "{isa} {}: {rows} rows x {taps} taps d{dil}, n {n}, skew {skew}",
        std::any::type_name::<T>()
    );
}

/// One `DirectKernel::in_place` call with each choice of the next block's rows
/// that each block prefetches (a per-CPU choice): the same bits.
/// `planes` kernel planes of `kh` rows × `taps` over zero-padded `rows` × `width`
/// inputs ("same" padding); `gap` leaves the middle plane out (a padding plane).
fn in_place_agrees<T: Element>(
    isa: Isa,
    (planes, kh, taps): (usize, usize, usize),
    width: usize,
    rows: usize,
    gap: bool,
) {
    let kern = T::direct_kernel(isa).unwrap();
    let mut rng = Rng((planes * 1000 + kh * 100 + taps * 10 + width + rows) as u64);
    let inputs: Vec<Vec<T>> = (0..planes).map(|_| rng.vec(rows * width)).collect();
    let slices: Vec<Option<&[T]>> = inputs
        .iter()
        .enumerate()
        .map(|(d, v)| (!(gap && d == planes / 2)).then_some(v.as_slice()))
        .collect();
    let w: Vec<T> = rng.vec(planes * kh * taps);
    let zero = vec![T::ZERO; width];
    let run = |next: NextRows| {
        let g = InPlaceRows {
            stride: width,
            in_rows: rows,
            top: kh / 2,
            len: width,
            left: taps / 2,
            next,
        };
        let mut out = vec![T::from_f64(f64::NAN); rows * width];
        kern.in_place(
            &slices,
            &zero,
            g,
            (kh, taps, 1),
            &w,
            &mut out,
            width,
            T::from_f64(0.5),
            false,
        );
        out.iter().map(|v| v.to_f64().to_bits()).collect::<Vec<_>>()
    };
    let none = run(NextRows::None);
    for next in [NextRows::LastPlane, NextRows::All] {
        assert_eq!(
            none,
            run(next),
            "{isa} {}: {planes} planes of {kh}x{taps}, {rows} x {width}, gap {gap}, {next:?}",
            std::any::type_name::<T>()
        );
    }
}

#[test]
fn rows_read_in_place_do_not_depend_on_prefetching() {
    for isa in vector_levels() {
        for (shape, gap) in [
            ((1, 3, 3), false),
            ((1, 5, 5), false),
            ((3, 3, 3), false),
            ((3, 3, 3), true),
            ((1, 1, 7), false),
        ] {
            for (width, rows) in [(1, 1), (9, 5), (16, 8), (37, 13), (112, 11)] {
                in_place_agrees::<f32>(isa, shape, width, rows, gap);
                in_place_agrees::<f64>(isa, shape, width, rows, gap);
            }
        }
    }
}

#[test]
fn streamed_signal_rows_equal_stored_rows() {
    for isa in Isa::supported().filter(|&i| i != Isa::Scalar) {
        for (rows, taps, dil) in [(1, 3, 1), (1, 31, 1), (1, 17, 1), (1, 9, 2), (3, 5, 1)] {
            for n in [1, 9, 16, 200, 1000] {
                for skew in [0, 1, 7, 15] {
                    row_agrees::<f32>(isa, rows, taps, dil, n, skew);
                    row_agrees::<f64>(isa, rows, taps, dil, n, skew);
                }
            }
        }
    }
}

#[test]
fn streamed_rows_equal_stored_rows() {
    for isa in Isa::supported().filter(|&i| i != Isa::Scalar) {
        for (kh, taps, dil) in [(3, 3, 1), (5, 5, 1), (2, 7, 1), (3, 3, 2), (1, 4, 1)] {
            for n in [1, 9, 16, 64, 100, 333] {
                for skew in [0, 1, 3, 8, 15] {
                    rows_agree::<f32>(isa, kh, taps, dil, n, skew);
                    rows_agree::<f64>(isa, kh, taps, dil, n, skew);
                }
            }
        }
    }
}

/// Images whose input and output fill a last-level cache of up to 32 MiB: the
/// route that streams (where the cache is larger, the ordinary route, which must
/// pass too).
#[test]
fn large_images_match_the_reference() {
    for desc in [
        "n1_ic1_oc1_i2048x2048_k3x3_p1",
        "n1_ic1_oc1_i2048x2050_k5x5_p2_conv",
        "n1_ic1_oc1_i4194304_k31_p15",
        "n1_ic1_oc1_i4194309_k3_p1:2_reflect",
    ] {
        let p: Problem = desc.parse().unwrap();
        let mut r = Rng(5);
        let x: Vec<f64> = (0..p.input_len()).map(|_| r.unit()).collect();
        let w: Vec<f64> = (0..p.weight_len()).map(|_| r.unit()).collect();
        let b: Vec<f64> = (0..p.bias_len()).map(|_| r.unit()).collect();
        let plans: Vec<Plan> = vector_levels()
            .map(|isa| {
                Plan::with_path(&p, Path::Direct)
                    .and_then(|pl| pl.with_isa(isa))
                    .unwrap()
            })
            .collect();
        check_forward_threads(&plans, &x, &w, &b);
    }
}
