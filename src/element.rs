//! `Element`: the sealed trait for the element types xcorr computes in (f32, f64).
//!
//! It carries the arithmetic and constants that the reference, the fast paths and
//! the tests share, including the tolerance rule of the conformance vectors.

use std::fmt::{Debug, Display};
use std::iter::Sum;
use std::ops::{Add, AddAssign, Div, Mul, MulAssign, Neg, Sub, SubAssign};

use crate::{PackedWeights, Plan, Result};

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// A floating-point element type: `f32` or `f64`. Sealed: no other type can implement it.
pub trait Element:
    sealed::Sealed
    + Copy
    + Default
    + Debug
    + Display
    + PartialEq
    + PartialOrd
    + Send
    + Sync
    + 'static
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + AddAssign
    + SubAssign
    + MulAssign
    + Sum
{
    const ZERO: Self;
    const ONE: Self;
    /// Machine epsilon (distance from 1.0 to the next larger value).
    const EPSILON: Self;
    /// `"f32"` or `"f64"`.
    const NAME: &'static str;
    /// Relative term of the conformance tolerance rule: `|got - want| <= REL·scale + ABS`.
    const TOL_REL: f64;
    /// Absolute term of the conformance tolerance rule.
    const TOL_ABS: f64;

    fn to_f64(self) -> f64;
    /// Rounds an f64 to this type (round to nearest).
    fn from_f64(v: f64) -> Self;
    fn abs(self) -> Self;
    /// `self * a + b`, fused where the hardware has it.
    fn mul_add(self, a: Self, b: Self) -> Self;
    fn is_finite(self) -> bool;

    /// The GEMM microkernel of `isa` for this type, or `None` for `Scalar` or a level
    /// this CPU lacks (the kernel tables live in `crate::isa`).
    #[doc(hidden)]
    fn gemm_kernel(isa: crate::isa::Isa) -> Option<crate::isa::GemmKernel<Self>>;

    /// The direct-correlation kernel of `isa` for this type (see `crate::isa`).
    #[doc(hidden)]
    fn direct_kernel(isa: crate::isa::Isa) -> Option<crate::isa::DirectKernel<Self>>;

    // `Plan`'s entry points, one per public method that reaches the paths. A generic
    // function is compiled again in every crate that calls it; these are not
    // generic, so the paths are compiled once, here, for f32 and f64, not again
    // in each caller (each test binary, example, fuzz target and user crate).
    #[doc(hidden)]
    fn plan_forward(
        plan: &Plan,
        input: &[Self],
        weight: &[Self],
        bias: Option<&[Self]>,
        output: &mut [Self],
        workspace: &mut [Self],
    ) -> Result<()>;
    #[doc(hidden)]
    fn plan_forward_packed(
        plan: &Plan,
        input: &[Self],
        weights: &PackedWeights<Self>,
        bias: Option<&[Self]>,
        output: &mut [Self],
        workspace: &mut [Self],
    ) -> Result<()>;
    #[doc(hidden)]
    fn plan_pack_weights(plan: &Plan, weight: &[Self]) -> Result<PackedWeights<Self>>;
    #[doc(hidden)]
    #[allow(clippy::too_many_arguments)]
    fn plan_forward_separable(
        plan: &Plan,
        input: &[Self],
        col: &[Self],
        row: &[Self],
        bias: Option<&[Self]>,
        output: &mut [Self],
        workspace: &mut [Self],
    ) -> Result<()>;
    #[doc(hidden)]
    fn plan_backward_input(
        plan: &Plan,
        weight: &[Self],
        grad_output: &[Self],
        grad_input: &mut [Self],
        workspace: &mut [Self],
    ) -> Result<()>;
    #[doc(hidden)]
    fn plan_backward_weight(
        plan: &Plan,
        input: &[Self],
        grad_output: &[Self],
        grad_weight: &mut [Self],
        workspace: &mut [Self],
    ) -> Result<()>;
    #[doc(hidden)]
    fn plan_backward_bias(plan: &Plan, grad_output: &[Self], grad_bias: &mut [Self]) -> Result<()>;
}

/// The bodies of `Element`'s `plan_*` entry points (the same for both types).
macro_rules! plan_entries {
    () => {
        fn plan_forward(
            plan: &Plan,
            input: &[Self],
            weight: &[Self],
            bias: Option<&[Self]>,
            output: &mut [Self],
            workspace: &mut [Self],
        ) -> Result<()> {
            plan.forward_mono(input, weight, bias, output, workspace)
        }
        fn plan_forward_packed(
            plan: &Plan,
            input: &[Self],
            weights: &PackedWeights<Self>,
            bias: Option<&[Self]>,
            output: &mut [Self],
            workspace: &mut [Self],
        ) -> Result<()> {
            plan.forward_packed_mono(input, weights, bias, output, workspace)
        }
        fn plan_pack_weights(plan: &Plan, weight: &[Self]) -> Result<PackedWeights<Self>> {
            plan.pack_weights_mono(weight)
        }
        fn plan_forward_separable(
            plan: &Plan,
            input: &[Self],
            col: &[Self],
            row: &[Self],
            bias: Option<&[Self]>,
            output: &mut [Self],
            workspace: &mut [Self],
        ) -> Result<()> {
            plan.forward_separable_mono(input, col, row, bias, output, workspace)
        }
        fn plan_backward_input(
            plan: &Plan,
            weight: &[Self],
            grad_output: &[Self],
            grad_input: &mut [Self],
            workspace: &mut [Self],
        ) -> Result<()> {
            plan.backward_input_mono(weight, grad_output, grad_input, workspace)
        }
        fn plan_backward_weight(
            plan: &Plan,
            input: &[Self],
            grad_output: &[Self],
            grad_weight: &mut [Self],
            workspace: &mut [Self],
        ) -> Result<()> {
            plan.backward_weight_mono(input, grad_output, grad_weight, workspace)
        }
        fn plan_backward_bias(
            plan: &Plan,
            grad_output: &[Self],
            grad_bias: &mut [Self],
        ) -> Result<()> {
            plan.backward_bias_mono(grad_output, grad_bias)
        }
    };
}

impl Element for f32 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
    const EPSILON: Self = f32::EPSILON;
    const NAME: &'static str = "f32";
    const TOL_REL: f64 = 1e-5;
    const TOL_ABS: f64 = 1e-6;

    #[inline(always)]
    fn to_f64(self) -> f64 {
        self as f64
    }
    #[inline(always)]
    fn from_f64(v: f64) -> Self {
        v as f32
    }
    #[inline(always)]
    fn abs(self) -> Self {
        f32::abs(self)
    }
    #[inline(always)]
    fn mul_add(self, a: Self, b: Self) -> Self {
        f32::mul_add(self, a, b)
    }
    #[inline(always)]
    fn is_finite(self) -> bool {
        f32::is_finite(self)
    }
    fn gemm_kernel(isa: crate::isa::Isa) -> Option<crate::isa::GemmKernel<Self>> {
        crate::isa::gemm_kernel_f32(isa)
    }
    fn direct_kernel(isa: crate::isa::Isa) -> Option<crate::isa::DirectKernel<Self>> {
        crate::isa::direct_kernel_f32(isa)
    }
    plan_entries!();
}

impl Element for f64 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
    const EPSILON: Self = f64::EPSILON;
    const NAME: &'static str = "f64";
    const TOL_REL: f64 = 1e-12;
    const TOL_ABS: f64 = 0.0;

    #[inline(always)]
    fn to_f64(self) -> f64 {
        self
    }
    #[inline(always)]
    fn from_f64(v: f64) -> Self {
        v
    }
    #[inline(always)]
    fn abs(self) -> Self {
        f64::abs(self)
    }
    #[inline(always)]
    fn mul_add(self, a: Self, b: Self) -> Self {
        f64::mul_add(self, a, b)
    }
    #[inline(always)]
    fn is_finite(self) -> bool {
        f64::is_finite(self)
    }
    fn gemm_kernel(isa: crate::isa::Isa) -> Option<crate::isa::GemmKernel<Self>> {
        crate::isa::gemm_kernel_f64(isa)
    }
    fn direct_kernel(isa: crate::isa::Isa) -> Option<crate::isa::DirectKernel<Self>> {
        crate::isa::direct_kernel_f64(isa)
    }
    plan_entries!();
}

/// The conformance tolerance rule for element type `T`:
/// `|got - want| <= T::TOL_REL · scale + T::TOL_ABS`, where `scale` is the sum of
/// `|x·w|` over the terms of that element (see `shared/conformance/README.md`).
///
/// Non-finite values must match exactly in kind: NaN against NaN, and an infinity
/// against the same infinity.
pub fn within_tolerance<T: Element>(got: f64, want: f64, scale: f64) -> bool {
    if !want.is_finite() || !got.is_finite() {
        return (want.is_nan() && got.is_nan()) || want == got;
    }
    (got - want).abs() <= T::TOL_REL * scale + T::TOL_ABS
}
