//! A learnable convolution layer: weight, optional bias and geometry, with forward,
//! backward (accumulating gradients) and a plain SGD step.

use crate::element::Element;
use crate::error::{check_len, Buffer, Result};
use crate::geometry::Problem;
use crate::plan::Plan;

/// A convolution layer `Y = X ⋆ W + b` for 1, 2 or 3 spatial dimensions.
///
/// The problem fixes channels, kernel, stride, dilation, padding and op; the batch
/// size of each call is read off the input's length.
///
/// ```
/// use xcorr::{Conv, Problem};
/// let p = Problem::builder().input([3, 3]).kernel([2, 2]).build()?;
/// let mut conv = Conv::new(p, vec![0.0f32, 1.0, 2.0, 3.0], None)?;
/// let x: Vec<f32> = (0..9).map(|v| v as f32).collect();
/// assert_eq!(conv.forward(&x)?, [19.0, 25.0, 37.0, 43.0]);
/// let gx = conv.backward(&x, &[1.0; 4])?;
/// assert_eq!(conv.grad_weight(), &[8.0, 12.0, 20.0, 24.0]);
/// assert_eq!(gx.len(), 9);
/// conv.sgd_step(0.5);
/// assert_eq!(conv.weight(), &[-4.0, -5.0, -8.0, -9.0]);
/// # Ok::<(), xcorr::XcorrError>(())
/// ```
#[derive(Clone, Debug)]
pub struct Conv<T: Element> {
    plan: Plan,
    weight: Vec<T>,
    bias: Option<Vec<T>>,
    grad_weight: Vec<T>,
    grad_bias: Option<Vec<T>>,
}

impl<T: Element> Conv<T> {
    /// A layer with the given weight `[C_out, C_in/groups, k...]` and optional bias `[C_out]`.
    ///
    /// # Errors
    /// `BufferLength` if the weight or bias length does not match the problem.
    pub fn new(problem: Problem, weight: Vec<T>, bias: Option<Vec<T>>) -> Result<Self> {
        check_len(Buffer::Weight, problem.weight_len(), weight.len())?;
        if let Some(b) = &bias {
            check_len(Buffer::Bias, problem.bias_len(), b.len())?;
        }
        Ok(Conv {
            plan: Plan::new(&problem),
            grad_weight: vec![T::ZERO; weight.len()],
            grad_bias: bias.as_ref().map(|b| vec![T::ZERO; b.len()]),
            weight,
            bias,
        })
    }

    /// A layer initialised as PyTorch does (uniform in `±1/sqrt(fan_in)`, for weight
    /// and bias), from a deterministic generator seeded with `seed`.
    pub fn random(problem: Problem, with_bias: bool, seed: u64) -> Self {
        let bound = 1.0 / (problem.reduction_len() as f64).sqrt();
        let mut rng = SplitMix64(seed);
        let mut draw = |n: usize| -> Vec<T> {
            (0..n)
                .map(|_| T::from_f64((rng.next_f64() * 2.0 - 1.0) * bound))
                .collect()
        };
        let weight = draw(problem.weight_len());
        let bias = with_bias.then(|| draw(problem.bias_len()));
        // Lengths come from the problem itself, so this cannot fail.
        Conv {
            plan: Plan::new(&problem),
            grad_weight: vec![T::ZERO; weight.len()],
            grad_bias: bias.as_ref().map(|b| vec![T::ZERO; b.len()]),
            weight,
            bias,
        }
    }

    /// The problem for a batch size of 1 (or the one the layer was built with).
    pub fn problem(&self) -> &Problem {
        self.plan.problem()
    }
    pub fn weight(&self) -> &[T] {
        &self.weight
    }
    pub fn weight_mut(&mut self) -> &mut [T] {
        &mut self.weight
    }
    pub fn bias(&self) -> Option<&[T]> {
        self.bias.as_deref()
    }
    /// Weight gradient accumulated since the last [`zero_grad`](Self::zero_grad).
    pub fn grad_weight(&self) -> &[T] {
        &self.grad_weight
    }
    /// Bias gradient accumulated since the last [`zero_grad`](Self::zero_grad).
    pub fn grad_bias(&self) -> Option<&[T]> {
        self.grad_bias.as_deref()
    }

    /// The plan for the batch size that `input_len` implies.
    fn plan_for(&self, input_len: usize) -> Result<Plan> {
        let p = self.plan.problem();
        let per_sample = p.input_len() / p.batch();
        if input_len == p.input_len() {
            return Ok(self.plan.clone());
        }
        if input_len == 0 || !input_len.is_multiple_of(per_sample) {
            return Err(crate::XcorrError::BufferLength {
                buffer: Buffer::Input,
                expected: per_sample * input_len.div_ceil(per_sample).max(1),
                got: input_len,
            });
        }
        Ok(Plan::new(&p.with_batch(input_len / per_sample)?))
    }

    /// `Y = X ⋆ W + b` for a batch of any size.
    ///
    /// # Errors
    /// `BufferLength` if the input is not a whole number of samples.
    pub fn forward(&self, input: &[T]) -> Result<Vec<T>> {
        let plan = self.plan_for(input.len())?;
        let mut out = vec![T::ZERO; plan.problem().output_len()];
        plan.forward(input, &self.weight, self.bias.as_deref(), &mut out)?;
        Ok(out)
    }

    /// Adds the gradients of `Σ Y·grad_output` to the weight and bias gradients and
    /// returns the gradient with respect to the input.
    ///
    /// # Errors
    /// `BufferLength` if the input or `grad_output` does not match; no gradient changes.
    pub fn backward(&mut self, input: &[T], grad_output: &[T]) -> Result<Vec<T>> {
        let plan = self.plan_for(input.len())?;
        let p = plan.problem();
        check_len(Buffer::GradOutput, p.output_len(), grad_output.len())?;
        let mut gx = vec![T::ZERO; p.input_len()];
        plan.backward_input(&self.weight, grad_output, &mut gx)?;
        let mut gw = vec![T::ZERO; p.weight_len()];
        plan.backward_weight(input, grad_output, &mut gw)?;
        for (acc, g) in self.grad_weight.iter_mut().zip(&gw) {
            *acc += *g;
        }
        if let Some(acc) = &mut self.grad_bias {
            let mut gb = vec![T::ZERO; p.bias_len()];
            plan.backward_bias(grad_output, &mut gb)?;
            for (a, g) in acc.iter_mut().zip(&gb) {
                *a += *g;
            }
        }
        Ok(gx)
    }

    /// Clears the accumulated gradients.
    pub fn zero_grad(&mut self) {
        self.grad_weight.fill(T::ZERO);
        if let Some(g) = &mut self.grad_bias {
            g.fill(T::ZERO);
        }
    }

    /// `W -= lr·dW`, `b -= lr·db`, then clears the gradients.
    pub fn sgd_step(&mut self, lr: T) {
        for (w, g) in self.weight.iter_mut().zip(&self.grad_weight) {
            *w -= lr * *g;
        }
        if let (Some(b), Some(g)) = (&mut self.bias, &self.grad_bias) {
            for (b, g) in b.iter_mut().zip(g) {
                *b -= lr * *g;
            }
        }
        self.zero_grad();
    }
}

/// SplitMix64: a tiny, well-mixed deterministic generator for weight initialisation.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}
