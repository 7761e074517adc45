//! The problem description: one `Problem` type for 1, 2 and 3 spatial dimensions.
//!
//! A problem is built with [`Problem::builder`], validated once with checked
//! arithmetic, and is `Copy` afterwards: every path, plan and test reads it.
//!
//! Internally every problem is stored as 3-D with leading unit axes (a 1-D signal of
//! length L is a `1×1×L` volume with a `1×1×k` kernel), so the loops of the reference and
//! the paths are written once for three axes. The public accessors return only the
//! problem's own axes.

use crate::error::{Buffer, Result, XcorrError};

/// The most spatial axes a problem can have.
pub const MAX_DIMS: usize = 3;

/// The largest extent or element count a problem may have: no buffer of f64 can hold
/// more (allocations are limited to `isize::MAX` bytes). Keeping every padded extent
/// below it lets all index arithmetic run in `isize` without overflow.
pub const MAX_EXTENT: usize = isize::MAX as usize / 8;

/// Cross-correlation (what convolution layers compute) or true convolution.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Op {
    /// `y[o] = Σ x[o·s + t·d] · w[t]` — the default, as in `torch.nn.functional.conv2d`.
    #[default]
    Correlation,
    /// The same with the kernel flipped on every spatial axis (channels are not flipped).
    Convolution,
}

/// How positions outside the input are filled (PyTorch's `padding_mode`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum PaddingMode {
    /// Zeros outside the input.
    #[default]
    Zeros,
    /// Mirror without repeating the edge: `-1 → 1`, `L → L-2`. Needs `pad < L`.
    Reflect,
    /// Clamp to the edge: `-1 → 0`, `L → L-1`. Any padding size.
    Replicate,
    /// Wrap around: `p mod L`. Needs `pad <= L`.
    Circular,
}

impl PaddingMode {
    /// Maps a position `pos` of the padded axis (relative to the input's first element,
    /// so it may be negative or `>= len`) to the input index it copies, or `None` where
    /// the padded value is zero.
    ///
    /// `len` must be at least 1 and at most [`MAX_EXTENT`]. Positions far outside are
    /// handled too (reflect folds periodically, circular wraps); validated problems
    /// only ask within PyTorch's limits.
    #[inline]
    pub fn source(self, pos: isize, len: usize) -> Option<usize> {
        let n = len as isize;
        if (0..n).contains(&pos) {
            return Some(pos as usize);
        }
        match self {
            PaddingMode::Zeros => None,
            PaddingMode::Replicate => Some(pos.clamp(0, n - 1) as usize),
            PaddingMode::Circular => Some(pos.rem_euclid(n) as usize),
            PaddingMode::Reflect => {
                if n == 1 {
                    return Some(0);
                }
                let period = 2 * (n - 1);
                let m = pos.rem_euclid(period);
                Some(if m < n { m } else { period - m } as usize)
            }
        }
    }

    /// A short lowercase name: `zeros`, `reflect`, `replicate`, `circular`.
    pub fn name(self) -> &'static str {
        match self {
            PaddingMode::Zeros => "zeros",
            PaddingMode::Reflect => "reflect",
            PaddingMode::Replicate => "replicate",
            PaddingMode::Circular => "circular",
        }
    }
}

/// How much padding each spatial axis gets, resolved when the problem is built.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Padding {
    /// No padding: the kernel stays inside the input.
    #[default]
    Valid,
    /// Output length `ceil(input / stride)`; the total padding is split evenly and an
    /// odd extra element goes after (PyTorch / TensorFlow `"same"`).
    Same,
    /// Every position where kernel and input overlap: `dilation·(k-1)` on both sides.
    Full,
    /// The same symmetric padding on every axis.
    Uniform(usize),
    /// `(before, after)` per axis, in the order of the input's axes. Only the first
    /// `dims` pairs are used; build it with [`Padding::explicit`].
    Explicit {
        pairs: [(usize, usize); MAX_DIMS],
        dims: usize,
    },
}

impl Padding {
    /// Explicit `(before, after)` padding for each axis (1 to 3 pairs).
    pub fn explicit(pairs: &[(usize, usize)]) -> Padding {
        let mut p = [(0, 0); MAX_DIMS];
        for (dst, src) in p.iter_mut().zip(pairs) {
            *dst = *src;
        }
        Padding::Explicit {
            pairs: p,
            dims: pairs.len(),
        }
    }
}

/// Per-axis builder arguments: a single `usize` applies to every axis; an array,
/// slice or `Vec` gives one value per axis.
pub trait IntoAxes {
    /// Writes the values into `out`; returns `None` for "same on every axis", else
    /// the number of axes given.
    #[doc(hidden)]
    fn into_axes(self, out: &mut [usize; MAX_DIMS]) -> Option<usize>;
}

impl IntoAxes for usize {
    fn into_axes(self, out: &mut [usize; MAX_DIMS]) -> Option<usize> {
        *out = [self; MAX_DIMS];
        None
    }
}

impl IntoAxes for &[usize] {
    fn into_axes(self, out: &mut [usize; MAX_DIMS]) -> Option<usize> {
        for (dst, src) in out.iter_mut().zip(self) {
            *dst = *src;
        }
        Some(self.len())
    }
}

impl<const N: usize> IntoAxes for [usize; N] {
    fn into_axes(self, out: &mut [usize; MAX_DIMS]) -> Option<usize> {
        self.as_slice().into_axes(out)
    }
}

impl<const N: usize> IntoAxes for &[usize; N] {
    fn into_axes(self, out: &mut [usize; MAX_DIMS]) -> Option<usize> {
        self.as_slice().into_axes(out)
    }
}

impl IntoAxes for &Vec<usize> {
    fn into_axes(self, out: &mut [usize; MAX_DIMS]) -> Option<usize> {
        self.as_slice().into_axes(out)
    }
}

impl IntoAxes for Vec<usize> {
    fn into_axes(self, out: &mut [usize; MAX_DIMS]) -> Option<usize> {
        self.as_slice().into_axes(out)
    }
}

/// A per-axis argument as the builder keeps it until `build` checks its axis count.
#[derive(Clone, Copy, Debug)]
struct AxesArg {
    values: [usize; MAX_DIMS],
    /// `None`: one value for every axis.
    count: Option<usize>,
}

impl AxesArg {
    fn all(v: usize) -> Self {
        AxesArg {
            values: [v; MAX_DIMS],
            count: None,
        }
    }

    fn from(v: impl IntoAxes) -> Self {
        let mut values = [0; MAX_DIMS];
        let count = v.into_axes(&mut values);
        AxesArg { values, count }
    }

    /// Resolves to `dims` values, right-aligned into a 3-axis array filled with `fill`.
    fn resolve(&self, what: &'static str, dims: usize, fill: usize) -> Result<[usize; MAX_DIMS]> {
        let mut out = [fill; MAX_DIMS];
        match self.count {
            None => out[MAX_DIMS - dims..].fill(self.values[0]),
            Some(c) if c == dims => out[MAX_DIMS - dims..].copy_from_slice(&self.values[..dims]),
            Some(c) => {
                return Err(XcorrError::AxisCount {
                    what,
                    expected: dims,
                    got: c,
                })
            }
        }
        Ok(out)
    }
}

/// Builder for [`Problem`]; see [`Problem::builder`].
#[derive(Clone, Debug)]
pub struct ProblemBuilder {
    batch: usize,
    in_channels: usize,
    out_channels: usize,
    groups: usize,
    input: Option<AxesArg>,
    kernel: Option<AxesArg>,
    stride: AxesArg,
    dilation: AxesArg,
    padding: Padding,
    padding_mode: PaddingMode,
    op: Op,
}

impl ProblemBuilder {
    /// Batch size N (default 1).
    pub fn batch(mut self, n: usize) -> Self {
        self.batch = n;
        self
    }
    /// Input and output channel counts (default 1 and 1).
    pub fn channels(mut self, in_channels: usize, out_channels: usize) -> Self {
        self.in_channels = in_channels;
        self.out_channels = out_channels;
        self
    }
    /// Group count (default 1). Both channel counts must be multiples of it;
    /// `groups == in_channels` is a depthwise convolution.
    pub fn groups(mut self, groups: usize) -> Self {
        self.groups = groups;
        self
    }
    /// Spatial extent of the input; its length sets the number of dimensions (1 to 3).
    pub fn input(mut self, shape: impl IntoAxes) -> Self {
        self.input = Some(AxesArg::from(shape));
        self
    }
    /// Kernel extent per axis (or one value for every axis).
    pub fn kernel(mut self, shape: impl IntoAxes) -> Self {
        self.kernel = Some(AxesArg::from(shape));
        self
    }
    /// Stride per axis (or one value for every axis); default 1.
    pub fn stride(mut self, stride: impl IntoAxes) -> Self {
        self.stride = AxesArg::from(stride);
        self
    }
    /// Dilation per axis (or one value for every axis); default 1.
    pub fn dilation(mut self, dilation: impl IntoAxes) -> Self {
        self.dilation = AxesArg::from(dilation);
        self
    }
    /// Padding amounts (default [`Padding::Valid`]).
    pub fn padding(mut self, padding: Padding) -> Self {
        self.padding = padding;
        self
    }
    /// What padded positions hold (default [`PaddingMode::Zeros`]).
    pub fn padding_mode(mut self, mode: PaddingMode) -> Self {
        self.padding_mode = mode;
        self
    }
    /// Correlation (default) or convolution.
    pub fn op(mut self, op: Op) -> Self {
        self.op = op;
        self
    }

    /// Validates everything and computes the output shape.
    ///
    /// # Errors
    /// Any of the geometry variants of [`XcorrError`]: a missing input or kernel shape,
    /// 0 or more than 3 axes, per-axis values for the wrong axis count, a zero size,
    /// stride or dilation, channels not divisible by groups, reflect/circular padding
    /// beyond PyTorch's limits, a dilated kernel longer than the padded input, or
    /// element counts whose product overflows.
    pub fn build(&self) -> Result<Problem> {
        let input_arg = self.input.ok_or(XcorrError::Missing {
            what: "input shape",
        })?;
        let kernel_arg = self.kernel.ok_or(XcorrError::Missing {
            what: "kernel shape",
        })?;
        let dims = match input_arg.count {
            Some(d) => d,
            None => {
                return Err(XcorrError::Missing {
                    what: "input shape per axis (a single number cannot set the dimension count)",
                })
            }
        };
        if !(1..=MAX_DIMS).contains(&dims) {
            return Err(XcorrError::UnsupportedDims { dims });
        }
        let lead = MAX_DIMS - dims;
        let input = input_arg.resolve("input shape", dims, 1)?;
        let kernel = kernel_arg.resolve("kernel shape", dims, 1)?;
        let stride = self.stride.resolve("stride", dims, 1)?;
        let dilation = self.dilation.resolve("dilation", dims, 1)?;

        for (what, v) in [
            ("batch", self.batch),
            ("in_channels", self.in_channels),
            ("out_channels", self.out_channels),
            ("groups", self.groups),
        ] {
            if v == 0 {
                return Err(XcorrError::ZeroSize { what, axis: None });
            }
        }
        for a in 0..dims {
            let i = lead + a;
            if input[i] == 0 {
                return Err(XcorrError::ZeroSize {
                    what: "input extent",
                    axis: Some(a),
                });
            }
            if kernel[i] == 0 {
                return Err(XcorrError::ZeroSize {
                    what: "kernel extent",
                    axis: Some(a),
                });
            }
            if stride[i] == 0 {
                return Err(XcorrError::ZeroStride { axis: a });
            }
            if dilation[i] == 0 {
                return Err(XcorrError::ZeroDilation { axis: a });
            }
        }
        for (what, c) in [
            ("in_channels", self.in_channels),
            ("out_channels", self.out_channels),
        ] {
            if !c.is_multiple_of(self.groups) {
                return Err(XcorrError::ChannelsNotDivisible {
                    what,
                    channels: c,
                    groups: self.groups,
                });
            }
        }

        let overflow = |what| XcorrError::Overflow { what };
        let mut dilated = [1; MAX_DIMS];
        for i in 0..MAX_DIMS {
            dilated[i] = (kernel[i] - 1)
                .checked_mul(dilation[i])
                .and_then(|v| v.checked_add(1))
                .filter(|&v| v <= MAX_EXTENT)
                .ok_or(overflow("dilated kernel extent"))?;
        }

        let mut pad = [(0usize, 0usize); MAX_DIMS];
        for a in 0..dims {
            let i = lead + a;
            pad[i] = match self.padding {
                Padding::Valid => (0, 0),
                Padding::Full => (dilated[i] - 1, dilated[i] - 1),
                Padding::Uniform(p) => (p, p),
                Padding::Explicit { pairs, dims: d } => {
                    if d != dims {
                        return Err(XcorrError::AxisCount {
                            what: "padding",
                            expected: dims,
                            got: d,
                        });
                    }
                    pairs[a]
                }
                Padding::Same => {
                    // ceil(L / s) outputs need (out-1)·s + dilated input positions.
                    let out = input[i].div_ceil(stride[i]);
                    let needed = (out - 1)
                        .checked_mul(stride[i])
                        .and_then(|v| v.checked_add(dilated[i]))
                        .ok_or(overflow("same padding"))?;
                    let total = needed.saturating_sub(input[i]);
                    (total / 2, total - total / 2)
                }
            };
        }

        for a in 0..dims {
            let i = lead + a;
            let (b, e) = pad[i];
            let len = input[i];
            match self.padding_mode {
                PaddingMode::Reflect if b >= len || e >= len => {
                    return Err(XcorrError::ReflectPaddingTooLarge {
                        axis: a,
                        pad: b.max(e),
                        input: len,
                    })
                }
                PaddingMode::Circular if b > len || e > len => {
                    return Err(XcorrError::CircularPaddingTooLarge {
                        axis: a,
                        pad: b.max(e),
                        input: len,
                    })
                }
                _ => {}
            }
        }

        let mut output = [1; MAX_DIMS];
        for a in 0..dims {
            let i = lead + a;
            let padded = input[i]
                .checked_add(pad[i].0)
                .and_then(|v| v.checked_add(pad[i].1))
                .filter(|&v| v <= MAX_EXTENT)
                .ok_or(overflow("padded input extent"))?;
            if dilated[i] > padded {
                return Err(XcorrError::KernelTooLarge {
                    axis: a,
                    dilated_kernel: dilated[i],
                    padded_input: padded,
                });
            }
            output[i] = (padded - dilated[i]) / stride[i] + 1;
        }

        let problem = Problem {
            dims,
            batch: self.batch,
            in_channels: self.in_channels,
            out_channels: self.out_channels,
            groups: self.groups,
            input,
            kernel,
            stride,
            dilation,
            pad,
            output,
            padding_mode: self.padding_mode,
            op: self.op,
        };
        // Every count a path may compute is checked here, once.
        problem.checked_counts()?;
        Ok(problem)
    }
}

/// A validated convolution / cross-correlation problem.
///
/// Layouts are row-major: input `[N, C_in, spatial...]` (NCW / NCHW / NCDHW),
/// weight `[C_out, C_in/groups, k...]`, bias `[C_out]`, output `[N, C_out, out...]`.
///
/// ```
/// use xcorr::{Problem, Padding};
/// let p = Problem::builder()
///     .channels(3, 8)
///     .input([32, 32])
///     .kernel(3)
///     .stride(2)
///     .padding(Padding::Same)
///     .build()?;
/// assert_eq!(p.output_shape(), &[16, 16]);
/// assert_eq!(p.output_len(), 8 * 16 * 16);
/// # Ok::<(), xcorr::XcorrError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Problem {
    dims: usize,
    batch: usize,
    in_channels: usize,
    out_channels: usize,
    groups: usize,
    // Right-aligned 3-axis forms: leading axes are 1 (extent, stride, dilation) or 0 (pad).
    input: [usize; MAX_DIMS],
    kernel: [usize; MAX_DIMS],
    stride: [usize; MAX_DIMS],
    dilation: [usize; MAX_DIMS],
    pad: [(usize, usize); MAX_DIMS],
    output: [usize; MAX_DIMS],
    padding_mode: PaddingMode,
    op: Op,
}

impl Problem {
    /// A builder with batch 1, one input and one output channel, one group, stride 1,
    /// dilation 1, `valid` zero padding and cross-correlation. Input and kernel shapes
    /// must be set.
    pub fn builder() -> ProblemBuilder {
        ProblemBuilder {
            batch: 1,
            in_channels: 1,
            out_channels: 1,
            groups: 1,
            input: None,
            kernel: None,
            stride: AxesArg::all(1),
            dilation: AxesArg::all(1),
            padding: Padding::Valid,
            padding_mode: PaddingMode::Zeros,
            op: Op::Correlation,
        }
    }

    /// A builder holding every setting of this problem, to change some and rebuild.
    pub fn to_builder(&self) -> ProblemBuilder {
        let s = self.axes();
        ProblemBuilder {
            batch: self.batch,
            in_channels: self.in_channels,
            out_channels: self.out_channels,
            groups: self.groups,
            input: Some(AxesArg::from(&self.input[s.clone()])),
            kernel: Some(AxesArg::from(&self.kernel[s.clone()])),
            stride: AxesArg::from(&self.stride[s.clone()]),
            dilation: AxesArg::from(&self.dilation[s.clone()]),
            padding: Padding::explicit(&self.pad[s.clone()]),
            padding_mode: self.padding_mode,
            op: self.op,
        }
    }

    /// The same problem with another batch size.
    ///
    /// # Errors
    /// `ZeroSize` for a batch of 0, `Overflow` if the element counts overflow.
    pub fn with_batch(&self, batch: usize) -> Result<Problem> {
        self.to_builder().batch(batch).build()
    }

    fn axes(&self) -> std::ops::Range<usize> {
        MAX_DIMS - self.dims..MAX_DIMS
    }

    /// Number of spatial dimensions (1, 2 or 3).
    pub fn dims(&self) -> usize {
        self.dims
    }
    pub fn batch(&self) -> usize {
        self.batch
    }
    pub fn in_channels(&self) -> usize {
        self.in_channels
    }
    pub fn out_channels(&self) -> usize {
        self.out_channels
    }
    pub fn groups(&self) -> usize {
        self.groups
    }
    /// Input channels per group (the weight's second axis).
    pub fn in_channels_per_group(&self) -> usize {
        self.in_channels / self.groups
    }
    /// Output channels per group.
    pub fn out_channels_per_group(&self) -> usize {
        self.out_channels / self.groups
    }
    /// Spatial extent of the input, one entry per axis.
    pub fn input_shape(&self) -> &[usize] {
        &self.input[self.axes()]
    }
    /// Spatial extent of the kernel.
    pub fn kernel_shape(&self) -> &[usize] {
        &self.kernel[self.axes()]
    }
    /// Spatial extent of the output.
    pub fn output_shape(&self) -> &[usize] {
        &self.output[self.axes()]
    }
    pub fn stride(&self) -> &[usize] {
        &self.stride[self.axes()]
    }
    pub fn dilation(&self) -> &[usize] {
        &self.dilation[self.axes()]
    }
    /// `(before, after)` padding per axis, resolved from `valid` / `same` / `full`.
    pub fn padding(&self) -> &[(usize, usize)] {
        &self.pad[self.axes()]
    }
    pub fn padding_mode(&self) -> PaddingMode {
        self.padding_mode
    }
    pub fn op(&self) -> Op {
        self.op
    }

    /// The 3-axis forms (leading unit axes) that paths loop over.
    pub fn input3(&self) -> [usize; MAX_DIMS] {
        self.input
    }
    pub fn kernel3(&self) -> [usize; MAX_DIMS] {
        self.kernel
    }
    pub fn output3(&self) -> [usize; MAX_DIMS] {
        self.output
    }
    pub fn stride3(&self) -> [usize; MAX_DIMS] {
        self.stride
    }
    pub fn dilation3(&self) -> [usize; MAX_DIMS] {
        self.dilation
    }
    pub fn pad3(&self) -> [(usize, usize); MAX_DIMS] {
        self.pad
    }

    /// Full input shape `[N, C_in, spatial...]`.
    pub fn input_dims(&self) -> Vec<usize> {
        let mut v = vec![self.batch, self.in_channels];
        v.extend_from_slice(self.input_shape());
        v
    }
    /// Full weight shape `[C_out, C_in/groups, k...]`.
    pub fn weight_dims(&self) -> Vec<usize> {
        let mut v = vec![self.out_channels, self.in_channels_per_group()];
        v.extend_from_slice(self.kernel_shape());
        v
    }
    /// Full output shape `[N, C_out, out...]`.
    pub fn output_dims(&self) -> Vec<usize> {
        let mut v = vec![self.batch, self.out_channels];
        v.extend_from_slice(self.output_shape());
        v
    }

    // Counts were checked for overflow in `build`, so plain products cannot wrap here.

    /// Input spatial elements per channel.
    pub fn input_spatial(&self) -> usize {
        self.input.iter().product()
    }
    /// Kernel taps per (output, input) channel pair.
    pub fn kernel_spatial(&self) -> usize {
        self.kernel.iter().product()
    }
    /// Output spatial elements per channel.
    pub fn output_spatial(&self) -> usize {
        self.output.iter().product()
    }
    /// Elements of the input tensor.
    pub fn input_len(&self) -> usize {
        self.batch * self.in_channels * self.input_spatial()
    }
    /// Elements of the weight tensor.
    pub fn weight_len(&self) -> usize {
        self.out_channels * self.in_channels_per_group() * self.kernel_spatial()
    }
    /// Elements of the bias vector (`C_out`).
    pub fn bias_len(&self) -> usize {
        self.out_channels
    }
    /// Elements of the output tensor.
    pub fn output_len(&self) -> usize {
        self.batch * self.out_channels * self.output_spatial()
    }
    /// Terms summed into each output element (`C_in/groups · Πk`), the `K` of the
    /// tolerance bound.
    pub fn reduction_len(&self) -> usize {
        self.in_channels_per_group() * self.kernel_spatial()
    }
    /// Multiply-adds of the forward pass.
    pub fn macs(&self) -> u128 {
        self.output_len() as u128 * self.reduction_len() as u128
    }
    /// Floating-point operations of the forward pass (2 per multiply-add).
    pub fn flops(&self) -> u128 {
        2 * self.macs()
    }

    fn checked_counts(&self) -> Result<()> {
        let prod = |v: &[usize], what: &'static str| {
            v.iter()
                .try_fold(1usize, |a, &b| a.checked_mul(b))
                .filter(|&n| n <= MAX_EXTENT)
                .ok_or(XcorrError::Overflow { what })
        };
        let cin_g = self.in_channels / self.groups;
        let in_sp = prod(&self.input, "input spatial size")?;
        prod(
            &[self.batch, self.in_channels, in_sp],
            "input element count",
        )?;
        let k_sp = prod(&self.kernel, "kernel size")?;
        prod(&[self.out_channels, cin_g, k_sp], "weight element count")?;
        let out_sp = prod(&self.output, "output spatial size")?;
        prod(
            &[self.batch, self.out_channels, out_sp],
            "output element count",
        )?;
        prod(&[cin_g, k_sp], "reduction length")?;
        // MACs fit in u128 as the product of two usizes; the FLOP count doubles that.
        (self.batch as u128 * self.out_channels as u128 * out_sp as u128)
            .checked_mul(cin_g as u128 * k_sp as u128)
            .and_then(|m| m.checked_mul(2))
            .ok_or(XcorrError::Overflow { what: "FLOP count" })?;
        Ok(())
    }

    /// Checks the buffers of a forward call.
    ///
    /// # Errors
    /// `BufferLength` naming the first buffer whose length is wrong.
    pub fn check_forward(
        &self,
        input: usize,
        weight: usize,
        bias: Option<usize>,
        output: usize,
    ) -> Result<()> {
        use crate::error::check_len;
        check_len(Buffer::Input, self.input_len(), input)?;
        check_len(Buffer::Weight, self.weight_len(), weight)?;
        if let Some(b) = bias {
            check_len(Buffer::Bias, self.bias_len(), b)?;
        }
        check_len(Buffer::Output, self.output_len(), output)
    }

    /// The problem as a descriptor, the syntax `Problem::from_str` (`FromStr`) and the
    /// benchmark driver read, e.g. `n1_ic64_oc64_g1_i56x56_k3x3_s1x1_d1x1_p1:1x1:1_zeros_xcorr`.
    pub fn descriptor(&self) -> String {
        let join = |v: &[usize]| {
            v.iter()
                .map(|x| x.to_string())
                .collect::<Vec<_>>()
                .join("x")
        };
        let pads = self
            .padding()
            .iter()
            .map(|(b, a)| format!("{b}:{a}"))
            .collect::<Vec<_>>()
            .join("x");
        format!(
            "n{}_ic{}_oc{}_g{}_i{}_k{}_s{}_d{}_p{}_{}_{}",
            self.batch,
            self.in_channels,
            self.out_channels,
            self.groups,
            join(self.input_shape()),
            join(self.kernel_shape()),
            join(self.stride()),
            join(self.dilation()),
            pads,
            self.padding_mode.name(),
            match self.op {
                Op::Correlation => "xcorr",
                Op::Convolution => "conv",
            }
        )
    }
}

fn parse_axes(s: &str) -> Result<Vec<usize>> {
    s.split('x')
        .map(|v| {
            v.parse::<usize>().map_err(|_| XcorrError::InvalidArgument {
                what: "descriptor number",
                value: v.to_string(),
            })
        })
        .collect()
}

impl std::str::FromStr for Problem {
    type Err = XcorrError;

    /// Parses a descriptor: `_`-separated tokens in any order (defaults in
    /// parentheses) `n<N>` (1), `ic<C_in>` (1), `oc<C_out>` (1), `g<groups>` (1),
    /// `i<L>x<L>...` (sets the dimension count), `k<k>x<k>...`, `s<s>[x...]` (1),
    /// `d<d>[x...]` (1), `p<p>` | `p<b>:<a>x<b>:<a>...` | `pvalid` | `psame` | `pfull`
    /// (pvalid), `zeros` | `reflect` | `replicate` | `circular` (zeros), `xcorr` |
    /// `conv` (xcorr).
    fn from_str(d: &str) -> Result<Problem> {
        let bad = |t: &str| XcorrError::InvalidArgument {
            what: "descriptor token",
            value: t.to_string(),
        };
        let mut b = Problem::builder();
        let (mut ic, mut oc) = (1, 1);
        for tok in d.split('_').filter(|t| !t.is_empty()) {
            let num = |prefix: usize| tok[prefix..].parse::<usize>().map_err(|_| bad(tok));
            let axes = |prefix: usize| -> Result<AxesArg> {
                let v = parse_axes(&tok[prefix..])?;
                Ok(if v.len() == 1 {
                    AxesArg::all(v[0])
                } else {
                    AxesArg::from(v)
                })
            };
            match tok {
                "zeros" => b.padding_mode = PaddingMode::Zeros,
                "reflect" => b.padding_mode = PaddingMode::Reflect,
                "replicate" => b.padding_mode = PaddingMode::Replicate,
                "circular" => b.padding_mode = PaddingMode::Circular,
                "xcorr" => b.op = Op::Correlation,
                "conv" => b.op = Op::Convolution,
                "pvalid" => b.padding = Padding::Valid,
                "psame" => b.padding = Padding::Same,
                "pfull" => b.padding = Padding::Full,
                t if t.starts_with("ic") => ic = num(2)?,
                t if t.starts_with("oc") => oc = num(2)?,
                t if t.starts_with('n') => b.batch = num(1)?,
                t if t.starts_with('g') => b.groups = num(1)?,
                t if t.starts_with('i') => b.input = Some(AxesArg::from(parse_axes(&t[1..])?)),
                t if t.starts_with('k') => b.kernel = Some(axes(1)?),
                t if t.starts_with('s') => b.stride = axes(1)?,
                t if t.starts_with('d') => b.dilation = axes(1)?,
                t if t.starts_with('p') && t.contains(':') => {
                    let pairs = t[1..]
                        .split('x')
                        .map(|pr| {
                            let (x, y) = pr.split_once(':').ok_or_else(|| bad(tok))?;
                            Ok((
                                x.parse().map_err(|_| bad(tok))?,
                                y.parse().map_err(|_| bad(tok))?,
                            ))
                        })
                        .collect::<Result<Vec<(usize, usize)>>>()?;
                    if pairs.len() > MAX_DIMS {
                        return Err(bad(tok));
                    }
                    b.padding = Padding::explicit(&pairs);
                }
                t if t.starts_with('p') => b.padding = Padding::Uniform(num(1)?),
                _ => return Err(bad(tok)),
            }
        }
        b.channels(ic, oc).build()
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.descriptor())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_mode_sources_follow_pytorch() {
        // L = 4: positions -2..6
        let src =
            |m: PaddingMode| -> Vec<Option<usize>> { (-2..6).map(|p| m.source(p, 4)).collect() };
        assert_eq!(
            src(PaddingMode::Zeros),
            [None, None, Some(0), Some(1), Some(2), Some(3), None, None]
        );
        assert_eq!(
            src(PaddingMode::Reflect),
            [2, 1, 0, 1, 2, 3, 2, 1].map(Some)
        );
        assert_eq!(
            src(PaddingMode::Replicate),
            [0, 0, 0, 1, 2, 3, 3, 3].map(Some)
        );
        assert_eq!(
            src(PaddingMode::Circular),
            [2, 3, 0, 1, 2, 3, 0, 1].map(Some)
        );
    }

    #[test]
    fn same_padding_puts_odd_extra_after() {
        let p = Problem::builder()
            .input([10])
            .kernel([4])
            .padding(Padding::Same)
            .build()
            .unwrap();
        assert_eq!(p.padding(), &[(1, 2)]);
        assert_eq!(p.output_shape(), &[10]);
        let p = Problem::builder()
            .input([10, 7])
            .kernel(3)
            .stride(2)
            .padding(Padding::Same)
            .build()
            .unwrap();
        assert_eq!(p.output_shape(), &[5, 4]);
        // rows: out 5 needs 4*2+3 = 11 -> total 1 -> (0, 1); cols: out 4 needs 9 -> total 2
        assert_eq!(p.padding(), &[(0, 1), (1, 1)]);
    }

    #[test]
    fn full_padding_and_counts() {
        let p = Problem::builder()
            .batch(2)
            .channels(4, 6)
            .groups(2)
            .input([5, 6, 7])
            .kernel([2, 3, 1])
            .dilation([2, 1, 1])
            .padding(Padding::Full)
            .build()
            .unwrap();
        assert_eq!(p.padding(), &[(2, 2), (2, 2), (0, 0)]);
        assert_eq!(p.output_shape(), &[7, 8, 7]);
        assert_eq!(p.weight_dims(), vec![6, 2, 2, 3, 1]);
        assert_eq!(p.output_len(), 2 * 6 * 7 * 8 * 7);
        assert_eq!(p.flops(), 2 * (2 * 6 * 7 * 8 * 7) as u128 * 12);
        assert_eq!(p.with_batch(3).unwrap().batch(), 3);
        assert_eq!(p.to_builder().build().unwrap(), p);
        assert_eq!(p.descriptor().parse::<Problem>().unwrap(), p);
    }

    #[test]
    fn descriptors_round_trip_and_reject_junk() {
        let p: Problem = "n2_ic4_oc6_g2_i9x8_k3x2_s2x1_d1x2_psame_reflect_conv"
            .parse()
            .unwrap();
        assert_eq!(p.output_shape(), &[5, 8]);
        assert_eq!(p.descriptor().parse::<Problem>().unwrap(), p);
        for bad in ["i4_q3", "i4_k3_p1:2:3", "i4_kx", "", "i4x4x4x4_k1"] {
            assert!(bad.parse::<Problem>().is_err(), "{bad}");
        }
    }
}
