//! The scalar reference: the definition of correctness.
//!
//! Every quantity xcorr computes is a sum over the *terms* of one bilinear form: a
//! term pairs an output element `o`, a position of the padded input and a weight
//! element `w` wherever `xp·w[w]` contributes to `y[o]`. [`for_each_term`]
//! enumerates them in plain loops straight from the definition: a reflected,
//! replicated or wrapped position names the input element `i` it copies; a
//! zero-padded position is a term whose input value is `0` and that names no
//! element (`None`). Then
//!
//! * forward:       `y[o] = b[c(o)] + Σ xp·w[w]`  (`xp = x[i]`, or `0`)
//! * grad_input:    `gx[i] = Σ gy[o]·w[w]`      (over the terms that name `i`)
//! * grad_weight:   `gw[w] = Σ gy[o]·xp`
//! * grad_bias:     `gb[c] = Σ gy[o]` over the outputs of channel `c`
//!
//! Zero padding is multiplied like any other value, as PyTorch's "pad, then
//! convolve" does, so IEEE special values propagate the same way on every path: an
//! infinite weight meeting a zero-padded border gives `0·∞ = NaN` there.
//!
//! f32 values are accumulated in f64, so the reference is accurate to about one
//! rounding of the final result. No `unsafe`, no tricks: read it in one sitting.

use crate::element::Element;
use crate::error::{check_len, Buffer, Result};
use crate::geometry::{Op, Problem};

/// Calls `f(output_index, input_index, weight_index)` for every term of the problem,
/// in output-major order (all terms of output 0 first, then output 1, ...).
/// `input_index` is `None` for a zero-padded position (value 0).
pub fn for_each_term(p: &Problem, mut f: impl FnMut(usize, Option<usize>, usize)) {
    let (inp, ker, out) = (p.input3(), p.kernel3(), p.output3());
    let (stride, dil, pad) = (p.stride3(), p.dilation3(), p.pad3());
    let (cin_g, cout_g) = (p.in_channels_per_group(), p.out_channels_per_group());
    let mode = p.padding_mode();
    let in_sp = p.input_spatial();
    let k_sp = p.kernel_spatial();

    // The input index that kernel tap `t` of output position `o` reads on axis `a`.
    let source = |a: usize, o: usize, t: usize| {
        let pos = (o * stride[a] + t * dil[a]) as isize - pad[a].0 as isize;
        mode.source(pos, inp[a])
    };
    // Weight tap index on axis `a`: convolution flips every spatial axis.
    let tap = |a: usize, t: usize| match p.op() {
        Op::Correlation => t,
        Op::Convolution => ker[a] - 1 - t,
    };

    let mut o_idx = 0;
    for n in 0..p.batch() {
        for co in 0..p.out_channels() {
            let g = co / cout_g;
            for od in 0..out[0] {
                for oh in 0..out[1] {
                    for ow in 0..out[2] {
                        for ci in 0..cin_g {
                            let c = g * cin_g + ci;
                            let x_base = (n * p.in_channels() + c) * in_sp;
                            let w_base = (co * cin_g + ci) * k_sp;
                            for kd in 0..ker[0] {
                                let id = source(0, od, kd);
                                for kh in 0..ker[1] {
                                    let ih = source(1, oh, kh);
                                    for kw in 0..ker[2] {
                                        let i = match (id, ih, source(2, ow, kw)) {
                                            (Some(id), Some(ih), Some(iw)) => {
                                                Some(x_base + (id * inp[1] + ih) * inp[2] + iw)
                                            }
                                            _ => None,
                                        };
                                        let w = w_base
                                            + (tap(0, kd) * ker[1] + tap(1, kh)) * ker[2]
                                            + tap(2, kw);
                                        f(o_idx, i, w);
                                    }
                                }
                            }
                        }
                        o_idx += 1;
                    }
                }
            }
        }
    }
    debug_assert_eq!(o_idx, p.output_len());
}

/// The padded input's value at a term: the element it names, or 0 for zero padding.
fn value<T: Element>(input: &[T], i: Option<usize>) -> f64 {
    i.map_or(0.0, |i| input[i].to_f64())
}

/// Output channel of output element `o`.
fn out_channel(p: &Problem, o: usize) -> usize {
    (o / p.output_spatial()) % p.out_channels()
}

fn store<T: Element>(dst: &mut [T], acc: &[f64]) {
    for (d, &a) in dst.iter_mut().zip(acc) {
        *d = T::from_f64(a);
    }
}

/// Forward pass: `output = input ⋆ weight + bias`.
///
/// # Errors
/// `BufferLength` if any buffer's length differs from the problem's; nothing is written.
pub fn forward<T: Element>(
    p: &Problem,
    input: &[T],
    weight: &[T],
    bias: Option<&[T]>,
    output: &mut [T],
) -> Result<()> {
    p.check_forward(
        input.len(),
        weight.len(),
        bias.map(<[T]>::len),
        output.len(),
    )?;
    let mut acc = vec![0.0f64; p.output_len()];
    if let Some(b) = bias {
        for (o, a) in acc.iter_mut().enumerate() {
            *a = b[out_channel(p, o)].to_f64();
        }
    }
    for_each_term(p, |o, i, w| acc[o] += value(input, i) * weight[w].to_f64());
    store(output, &acc);
    Ok(())
}

/// Gradient of `Σ output·grad_output` with respect to the (unpadded) input.
///
/// # Errors
/// `BufferLength` naming the wrong buffer; nothing is written.
pub fn backward_input<T: Element>(
    p: &Problem,
    weight: &[T],
    grad_output: &[T],
    grad_input: &mut [T],
) -> Result<()> {
    check_len(Buffer::Weight, p.weight_len(), weight.len())?;
    check_len(Buffer::GradOutput, p.output_len(), grad_output.len())?;
    check_len(Buffer::GradInput, p.input_len(), grad_input.len())?;
    let mut acc = vec![0.0f64; p.input_len()];
    for_each_term(p, |o, i, w| {
        if let Some(i) = i {
            acc[i] += grad_output[o].to_f64() * weight[w].to_f64()
        }
    });
    store(grad_input, &acc);
    Ok(())
}

/// Gradient with respect to the (unflipped) weight.
///
/// # Errors
/// `BufferLength` naming the wrong buffer; nothing is written.
pub fn backward_weight<T: Element>(
    p: &Problem,
    input: &[T],
    grad_output: &[T],
    grad_weight: &mut [T],
) -> Result<()> {
    check_len(Buffer::Input, p.input_len(), input.len())?;
    check_len(Buffer::GradOutput, p.output_len(), grad_output.len())?;
    check_len(Buffer::GradWeight, p.weight_len(), grad_weight.len())?;
    let mut acc = vec![0.0f64; p.weight_len()];
    for_each_term(p, |o, i, w| {
        acc[w] += grad_output[o].to_f64() * value(input, i)
    });
    store(grad_weight, &acc);
    Ok(())
}

/// Gradient with respect to the bias: the sum of `grad_output` per output channel.
///
/// # Errors
/// `BufferLength` naming the wrong buffer; nothing is written.
pub fn backward_bias<T: Element>(
    p: &Problem,
    grad_output: &[T],
    grad_bias: &mut [T],
) -> Result<()> {
    check_len(Buffer::GradOutput, p.output_len(), grad_output.len())?;
    check_len(Buffer::GradBias, p.bias_len(), grad_bias.len())?;
    let mut acc = vec![0.0f64; p.bias_len()];
    for (o, g) in grad_output.iter().enumerate() {
        acc[out_channel(p, o)] += g.to_f64();
    }
    store(grad_bias, &acc);
    Ok(())
}

/// Tolerance scales: per element, the sum of `|term|` over its terms (plus `|bias|`
/// for the forward), as `shared/conformance/README.md` defines them. Tests compare
/// a fast path against the reference with `|got - want| <= c·K·eps·scale`.
pub mod scale {
    use super::*;

    /// `Σ|x·w| + |b|` per output element.
    pub fn forward<T: Element>(
        p: &Problem,
        input: &[T],
        weight: &[T],
        bias: Option<&[T]>,
    ) -> Vec<f64> {
        let mut acc = vec![0.0f64; p.output_len()];
        if let Some(b) = bias {
            for (o, a) in acc.iter_mut().enumerate() {
                *a = b[out_channel(p, o)].to_f64().abs();
            }
        }
        for_each_term(p, |o, i, w| {
            acc[o] += (value(input, i) * weight[w].to_f64()).abs()
        });
        acc
    }

    /// `|b| + Σ_ci (Σ_taps |w|)·max |x|` per output element, the maximum over the
    /// element's window: the scale of the Winograd path's bound, whose
    /// transforms mix every input of a window with every weight before the sum,
    /// so that its error follows these magnitudes rather than `Σ|x·w|`.
    pub fn forward_mixed<T: Element>(
        p: &Problem,
        input: &[T],
        weight: &[T],
        bias: Option<&[T]>,
    ) -> Vec<f64> {
        let (cin_g, taps) = (p.in_channels_per_group(), p.kernel_spatial());
        let n = p.output_len() * cin_g;
        let (mut max_x, mut sum_w) = (vec![0.0f64; n], vec![0.0f64; n]);
        for_each_term(p, |o, i, w| {
            let k = o * cin_g + (w / taps) % cin_g;
            max_x[k] = max_x[k].max(value(input, i).abs());
            sum_w[k] += weight[w].to_f64().abs();
        });
        (0..p.output_len())
            .map(|o| {
                let b = bias.map_or(0.0, |b| b[out_channel(p, o)].to_f64().abs());
                let k = o * cin_g..(o + 1) * cin_g;
                b + max_x[k.clone()]
                    .iter()
                    .zip(&sum_w[k])
                    .map(|(x, w)| x * w)
                    .sum::<f64>()
            })
            .collect()
    }

    /// `Σ|gy·w|` per input element.
    pub fn backward_input<T: Element>(p: &Problem, weight: &[T], grad_output: &[T]) -> Vec<f64> {
        let mut acc = vec![0.0f64; p.input_len()];
        for_each_term(p, |o, i, w| {
            if let Some(i) = i {
                acc[i] += (grad_output[o].to_f64() * weight[w].to_f64()).abs()
            }
        });
        acc
    }

    /// `Σ|gy·x|` per weight element.
    pub fn backward_weight<T: Element>(p: &Problem, input: &[T], grad_output: &[T]) -> Vec<f64> {
        let mut acc = vec![0.0f64; p.weight_len()];
        for_each_term(p, |o, i, w| {
            acc[w] += (grad_output[o].to_f64() * value(input, i)).abs()
        });
        acc
    }

    /// `Σ|gy|` per output channel.
    pub fn backward_bias<T: Element>(p: &Problem, grad_output: &[T]) -> Vec<f64> {
        let mut acc = vec![0.0f64; p.bias_len()];
        for (o, g) in grad_output.iter().enumerate() {
            acc[out_channel(p, o)] += g.to_f64().abs();
        }
        acc
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::Padding;

    #[test]
    fn worked_example() {
        let p = Problem::builder()
            .input([3, 3])
            .kernel([2, 2])
            .build()
            .unwrap();
        let x: Vec<f64> = (0..9).map(f64::from).collect();
        let w = [0.0, 1.0, 2.0, 3.0];
        let mut y = [0.0; 4];
        forward(&p, &x, &w, None, &mut y).unwrap();
        assert_eq!(y, [19.0, 25.0, 37.0, 43.0]);
    }

    #[test]
    fn convolution_flips_the_kernel() {
        let p = Problem::builder()
            .input([3, 3])
            .kernel([2, 2])
            .op(Op::Convolution)
            .build()
            .unwrap();
        let x: Vec<f32> = (0..9).map(|v| v as f32).collect();
        let mut y = [0.0f32; 4];
        forward(&p, &x, &[3.0, 2.0, 1.0, 0.0], None, &mut y).unwrap();
        assert_eq!(y, [19.0, 25.0, 37.0, 43.0]);
    }

    #[test]
    fn zero_padding_is_multiplied_like_pytorch() {
        // An infinite weight meets the zero-padded border: 0·∞ = NaN there, as in
        // torch's F.pad + conv1d; inside, ∞ plus finite terms stays ∞.
        let p = Problem::builder()
            .input([3])
            .kernel([3])
            .padding(Padding::Same)
            .build()
            .unwrap();
        let mut y = [0.0f32; 3];
        forward(
            &p,
            &[1.0, 1.0, 1.0],
            &[f32::INFINITY, 1.0, 1.0],
            None,
            &mut y,
        )
        .unwrap();
        assert!(y[0].is_nan());
        assert_eq!(&y[1..], &[f32::INFINITY, f32::INFINITY]);
    }

    #[test]
    fn wrong_lengths_write_nothing() {
        let p = Problem::builder()
            .input([4])
            .kernel([2])
            .padding(Padding::Same)
            .build()
            .unwrap();
        let mut y = [7.0f32; 4];
        let e = forward(&p, &[1.0; 3], &[1.0; 2], None, &mut y).unwrap_err();
        assert!(matches!(
            e,
            crate::XcorrError::BufferLength {
                buffer: Buffer::Input,
                expected: 4,
                got: 3
            }
        ));
        assert_eq!(y, [7.0; 4]);
    }
}
