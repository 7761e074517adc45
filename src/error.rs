//! `XcorrError`: one variant per way a problem or a call can be wrong.
//!
//! Every check happens before any output is written, so an `Err` always means
//! "nothing was computed" — never a partial result.

use std::fmt;

/// Which buffer of a call had the wrong length.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Buffer {
    Input,
    Weight,
    Bias,
    Output,
    GradOutput,
    GradInput,
    GradWeight,
    GradBias,
    Workspace,
    /// The data of an [`Array`](crate::Array) against its shape.
    ArrayData,
}

impl fmt::Display for Buffer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Buffer::Input => "input",
            Buffer::Weight => "weight",
            Buffer::Bias => "bias",
            Buffer::Output => "output",
            Buffer::GradOutput => "grad_output",
            Buffer::GradInput => "grad_input",
            Buffer::GradWeight => "grad_weight",
            Buffer::GradBias => "grad_bias",
            Buffer::Workspace => "workspace",
            Buffer::ArrayData => "array data",
        })
    }
}

/// Everything that can be wrong with a problem description or a call.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum XcorrError {
    /// A required part of the problem was never given (e.g. the input shape).
    Missing { what: &'static str },
    /// The number of spatial axes is not 1, 2 or 3.
    UnsupportedDims { dims: usize },
    /// A per-axis value was given for a different number of axes than the input has.
    AxisCount {
        what: &'static str,
        expected: usize,
        got: usize,
    },
    /// A size that must be at least 1 is 0 (`axis` is the spatial axis, if any).
    ZeroSize {
        what: &'static str,
        axis: Option<usize>,
    },
    /// A stride of 0 on `axis`.
    ZeroStride { axis: usize },
    /// A dilation of 0 on `axis`.
    ZeroDilation { axis: usize },
    /// A channel count that is not a multiple of the group count.
    ChannelsNotDivisible {
        what: &'static str,
        channels: usize,
        groups: usize,
    },
    /// The dilated kernel, `dilation·(k-1)+1`, is longer than the padded input on `axis`.
    KernelTooLarge {
        axis: usize,
        dilated_kernel: usize,
        padded_input: usize,
    },
    /// Reflect padding needs `pad < input length` on each side (PyTorch's rule).
    ReflectPaddingTooLarge {
        axis: usize,
        pad: usize,
        input: usize,
    },
    /// Circular padding needs `pad <= input length` on each side (PyTorch's rule).
    CircularPaddingTooLarge {
        axis: usize,
        pad: usize,
        input: usize,
    },
    /// A buffer's length does not match what the problem needs.
    BufferLength {
        buffer: Buffer,
        expected: usize,
        got: usize,
    },
    /// A product of sizes does not fit in `usize` (or the FLOP count in `u128`).
    Overflow { what: &'static str },
    /// An argument outside its documented domain (e.g. a Gaussian sigma <= 0).
    InvalidArgument { what: &'static str, value: String },
    /// The requested path cannot compute this problem (e.g. `separable` on a rank-2 kernel).
    PathUnsupported { path: &'static str, reason: String },
}

impl fmt::Display for XcorrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use XcorrError::*;
        match self {
            Missing { what } => write!(f, "the problem has no {what}; set it on the builder"),
            UnsupportedDims { dims } => write!(
                f,
                "{dims} spatial dimensions given; xcorr supports 1, 2 or 3"
            ),
            AxisCount {
                what,
                expected,
                got,
            } => write!(
                f,
                "{what} has {got} axes but the input has {expected} spatial axes"
            ),
            ZeroSize {
                what,
                axis: Some(a),
            } => write!(f, "{what} is 0 on axis {a}; every size must be at least 1"),
            ZeroSize { what, axis: None } => {
                write!(f, "{what} is 0; it must be at least 1")
            }
            ZeroStride { axis } => write!(f, "stride is 0 on axis {axis}; it must be at least 1"),
            ZeroDilation { axis } => {
                write!(f, "dilation is 0 on axis {axis}; it must be at least 1")
            }
            ChannelsNotDivisible {
                what,
                channels,
                groups,
            } => write!(
                f,
                "{what} = {channels} is not divisible by groups = {groups}"
            ),
            KernelTooLarge {
                axis,
                dilated_kernel,
                padded_input,
            } => write!(
                f,
                "on axis {axis} the dilated kernel spans {dilated_kernel} but the padded input is only {padded_input} long"
            ),
            ReflectPaddingTooLarge { axis, pad, input } => write!(
                f,
                "reflect padding {pad} on axis {axis} must be smaller than the input length {input}"
            ),
            CircularPaddingTooLarge { axis, pad, input } => write!(
                f,
                "circular padding {pad} on axis {axis} must not exceed the input length {input}"
            ),
            BufferLength {
                buffer,
                expected,
                got,
            } => write!(
                f,
                "{buffer} buffer has {got} elements but the problem needs {expected}"
            ),
            Overflow { what } => write!(f, "{what} overflows the machine's integer range"),
            InvalidArgument { what, value } => write!(f, "invalid {what}: {value}"),
            PathUnsupported { path, reason } => {
                write!(f, "path `{path}` cannot compute this problem: {reason}")
            }
        }
    }
}

impl std::error::Error for XcorrError {}

/// The crate's result type.
pub type Result<T, E = XcorrError> = std::result::Result<T, E>;

/// Checks a buffer length, naming the buffer on mismatch.
pub(crate) fn check_len(buffer: Buffer, expected: usize, got: usize) -> Result<()> {
    if expected == got {
        Ok(())
    } else {
        Err(XcorrError::BufferLength {
            buffer,
            expected,
            got,
        })
    }
}
