//! The problem and data generator shared by the differential and backward targets.
//!
//! One byte per parameter, in this order (value = first + byte % count), so seed
//! inputs can be written from the conformance cases (`fuzz/seed_corpus.py`):
//! dims(1-3) batch(1-2) groups(1-3) cin_g(1-3) cout_g(1-3) mode(0-3) op(0-1), then
//! per axis: input(1-12) kernel(1-5) stride(1-3) dilation(1-3) pad_before(0-4)
//! pad_after(0-4). Then the data, one byte per value: 255 NaN, 254 +inf, 253 -inf,
//! otherwise `(byte as i8) / 16`; missing bytes read as 0.
#![allow(dead_code)]

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use xcorr::{Op, Padding, PaddingMode, Problem};

fn pick(u: &mut Unstructured, first: usize, count: usize) -> Result<usize> {
    Ok(first + u.arbitrary::<u8>()? as usize % count)
}

/// A valid problem (padding clamped to each mode's limit, kernels fitted), small
/// enough to run through the reference quickly.
pub fn problem(u: &mut Unstructured) -> Result<Option<Problem>> {
    let dims = pick(u, 1, 3)?;
    let batch = pick(u, 1, 2)?;
    let groups = pick(u, 1, 3)?;
    let cin_g = pick(u, 1, 3)?;
    let cout_g = pick(u, 1, 3)?;
    let mode = [
        PaddingMode::Zeros,
        PaddingMode::Reflect,
        PaddingMode::Replicate,
        PaddingMode::Circular,
    ][pick(u, 0, 4)?];
    let op = [Op::Correlation, Op::Convolution][pick(u, 0, 2)?];
    let (mut input, mut kernel, mut stride, mut dilation, mut pads) =
        (vec![], vec![], vec![], vec![], vec![]);
    for _ in 0..dims {
        let l = pick(u, 1, 12)?;
        let k = pick(u, 1, 5)?;
        let s = pick(u, 1, 3)?;
        let d = pick(u, 1, 3)?;
        let limit = match mode {
            PaddingMode::Reflect => l - 1,
            PaddingMode::Circular => l,
            _ => usize::MAX,
        };
        let (b, a) = (pick(u, 0, 5)?.min(limit), pick(u, 0, 5)?.min(limit));
        let k = k.min((l + b + a - 1) / d + 1);
        input.push(l);
        kernel.push(k);
        stride.push(s);
        dilation.push(d);
        pads.push((b, a));
    }
    let p = Problem::builder()
        .batch(batch)
        .channels(cin_g * groups, cout_g * groups)
        .groups(groups)
        .input(input)
        .kernel(kernel)
        .stride(stride)
        .dilation(dilation)
        .padding(Padding::explicit(&pads))
        .padding_mode(mode)
        .op(op)
        .build()
        .ok()
        .filter(|p| p.macs() <= 60_000);
    Ok(p)
}

/// `n` values, with NaN and infinities among them.
pub fn values(u: &mut Unstructured, n: usize) -> Vec<f32> {
    (0..n)
        .map(|_| match u.arbitrary::<u8>().unwrap_or(0) {
            255 => f32::NAN,
            254 => f32::INFINITY,
            253 => f32::NEG_INFINITY,
            b => (b as i8) as f32 / 16.0,
        })
        .collect()
}
