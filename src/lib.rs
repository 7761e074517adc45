//! # xcorr
//!
//! Cross-correlation and convolution in 1, 2 and 3 spatial dimensions, forward and
//! backward, for f32 and f64: `Y = X ⋆ W + b`, the computation of a convolution layer.
//!
//! * [`Problem`] describes one problem (batch, channels, groups, kernel, stride,
//!   dilation, padding and its mode, correlation or convolution) and validates it.
//! * [`Plan`] computes it, forward and backward, through the path chosen for it.
//! * [`reference`](mod@reference) is the scalar oracle every path is tested against.
//! * [`correlate`] / [`convolve`] are SciPy-style one-shot helpers for single-channel
//!   arrays, and [`filters`] holds the classic image kernels.
//! * [`Conv`] is a learnable layer with gradients and an SGD step.
//!
//! ```
//! use xcorr::{correlate, Array, Mode};
//! let x = Array::from_rows(&[[0.0f32, 1.0, 2.0], [3.0, 4.0, 5.0], [6.0, 7.0, 8.0]]);
//! let k = Array::from_rows(&[[0.0, 1.0], [2.0, 3.0]]);
//! assert_eq!(correlate(&x, &k, Mode::Valid)?.data(), &[19.0, 25.0, 37.0, 43.0]);
//! # Ok::<(), xcorr::XcorrError>(())
//! ```
//!
//! Every invalid problem or call returns an [`XcorrError`] naming the offending value;
//! nothing panics and nothing is partially written.

#![doc = include_str!("../README.md")]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_debug_implementations)]

pub mod api;
mod cache;
pub mod check;
pub mod element;
pub mod error;
pub mod filters;
pub mod gemm;
pub mod geometry;
pub mod isa;
pub mod layer;
mod parallel;
mod paths;
pub mod plan;
pub mod planner;
pub mod reference;

pub use api::{convolve, correlate, filter, Array, Mode};
pub use element::{within_tolerance, Element};
pub use error::{Buffer, Result, XcorrError};
pub use geometry::{
    IntoAxes, Op, Padding, PaddingMode, Problem, ProblemBuilder, MAX_DIMS, MAX_EXTENT,
};
pub use layer::Conv;
pub use plan::{PackedWeights, Path, Plan};
pub use planner::{PlanMode, Planner};
