//! Comparing results with the reference, for tests, fuzzing, and users who check
//! their own implementation against xcorr.
//!
//! The rule is the crate's: element by element, `|got - want| <= C·K·eps·scale`,
//! where `scale` is the sum of `|term|` over the element's `K` terms (see
//! [`reference::scale`]); `C = 2`. Special values must
//! match in kind: NaN for NaN, the same infinity for an infinity.

use crate::element::Element;
use crate::error::Result;
use crate::plan::Plan;
use crate::reference;

/// The first element where `got` differs from `want` beyond the rule.
#[derive(Clone, Debug, PartialEq)]
pub struct Mismatch {
    pub tensor: &'static str,
    pub index: usize,
    pub got: f64,
    pub want: f64,
    pub bound: f64,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}[{}]: got {:e}, want {:e} (bound {:e})",
            self.tensor, self.index, self.got, self.want, self.bound
        )
    }
}

/// Whether `got` matches `want` for an element with `terms` terms of total
/// magnitude `scale`, in element type `T`.
pub fn close<T: Element>(got: f64, want: f64, scale: f64, terms: usize) -> bool {
    if want.is_nan() {
        return got.is_nan();
    }
    if want.is_infinite() {
        return got == want;
    }
    if !got.is_finite() {
        // An overflow to infinity where the reference stays finite but huge is
        // within the rule only if the scale itself overflows the type.
        return scale.is_infinite() || scale > T::from_f64(f64::MAX).to_f64();
    }
    let eps = T::EPSILON.to_f64();
    (got - want).abs() <= 2.0 * terms.max(1) as f64 * eps * scale + T::TOL_ABS * 1e-3
}

fn compare<T: Element>(
    tensor: &'static str,
    got: &[T],
    want: &[T],
    scale: &[f64],
    terms: usize,
) -> std::result::Result<(), Mismatch> {
    for (i, ((g, w), s)) in got.iter().zip(want).zip(scale).enumerate() {
        let (g, w) = (g.to_f64(), w.to_f64());
        if !close::<T>(g, w, *s, terms) {
            let bound = 2.0 * terms.max(1) as f64 * T::EPSILON.to_f64() * s;
            return Err(Mismatch {
                tensor,
                index: i,
                got: g,
                want: w,
                bound,
            });
        }
    }
    Ok(())
}

/// Runs `plan` forward and compares it with the reference.
///
/// # Errors
/// `Err(e)` if the plan refused to run (e.g. `PathUnsupported`);
/// `Ok(Err(mismatch))` names the first element beyond the rule.
pub fn forward<T: Element>(
    plan: &Plan,
    input: &[T],
    weight: &[T],
    bias: Option<&[T]>,
) -> Result<std::result::Result<(), Mismatch>> {
    let p = plan.problem();
    let mut got = vec![T::ZERO; p.output_len()];
    plan.forward(input, weight, bias, &mut got)?;
    let mut want = vec![T::ZERO; p.output_len()];
    reference::forward(p, input, weight, bias, &mut want)?;
    // Winograd's bound has its own scale (see `reference::scale::forward_mixed`).
    let scale = if plan.path() == crate::plan::Path::Winograd {
        reference::scale::forward_mixed(p, input, weight, bias)
    } else {
        reference::scale::forward(p, input, weight, bias)
    };
    Ok(compare(
        "output",
        &got,
        &want,
        &scale,
        p.reduction_len() + 1,
    ))
}

/// Runs the plan's three gradients and compares them with the reference.
///
/// # Errors
/// `Err(e)` if the plan refused to run; `Ok(Err(mismatch))` on a mismatch.
pub fn backward<T: Element>(
    plan: &Plan,
    input: &[T],
    weight: &[T],
    grad_output: &[T],
) -> Result<std::result::Result<(), Mismatch>> {
    let p = plan.problem();
    let overlap: usize = p.padding().iter().map(|&(b, a)| 1 + b + a).product();
    let mut got = vec![T::ZERO; p.input_len()];
    plan.backward_input(weight, grad_output, &mut got)?;
    let mut want = vec![T::ZERO; p.input_len()];
    reference::backward_input(p, weight, grad_output, &mut want)?;
    let s = reference::scale::backward_input(p, weight, grad_output);
    let terms = p.out_channels_per_group() * p.kernel_spatial() * overlap;
    if let Err(m) = compare("grad_input", &got, &want, &s, terms) {
        return Ok(Err(m));
    }
    let mut got = vec![T::ZERO; p.weight_len()];
    plan.backward_weight(input, grad_output, &mut got)?;
    let mut want = vec![T::ZERO; p.weight_len()];
    reference::backward_weight(p, input, grad_output, &mut want)?;
    let s = reference::scale::backward_weight(p, input, grad_output);
    let terms = p.batch() * p.output_spatial();
    if let Err(m) = compare("grad_weight", &got, &want, &s, terms) {
        return Ok(Err(m));
    }
    let mut got = vec![T::ZERO; p.bias_len()];
    plan.backward_bias(grad_output, &mut got)?;
    let mut want = vec![T::ZERO; p.bias_len()];
    reference::backward_bias(p, grad_output, &mut want)?;
    let s = reference::scale::backward_bias(p, grad_output);
    Ok(compare("grad_bias", &got, &want, &s, terms))
}
