//! Plans: a problem plus the path chosen to compute it.
//!
//! A [`Plan`] is made once per problem and reused for every call. It is the one
//! entry point that the layer, the convenience API, the tests and the benchmark
//! driver go through, so a new path is a new module plus an entry in
//! [`Path`] and in [`Plan::new`]'s choice.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use crate::element::Element;
use crate::error::{check_len, Buffer, Result, XcorrError};
use crate::geometry::Problem;
use crate::isa::Isa;
use crate::parallel;
use crate::paths::direct::Direct;
use crate::paths::direct_grad::DirectGradWeight;
use crate::paths::direct_strided::StridedDirect;
use crate::paths::im2col::{self, GradInput, Im2col};
use crate::paths::separable::Separable;
use crate::paths::winograd::Winograd;
use crate::paths::Weights;
use crate::reference;

/// An algorithm that computes a problem. Names are stable (they appear in exported
/// plans and on the benchmark driver's command line).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Path {
    /// The scalar oracle in [`crate::reference`]: plain loops, f64 accumulation.
    Reference,
    /// Implicit im2col + GEMM: multi-channel layers (`paths/im2col.rs`).
    Im2col,
    /// SIMD-tiled direct correlation: filters, depthwise and grouped layers
    /// (`paths/direct.rs`); it takes the separable route by itself for rank-1
    /// kernels that are large enough to gain.
    Direct,
    /// Two 1-D passes for a rank-1 2-D kernel (`paths/separable.rs`); a call whose
    /// kernel is not rank 1 fails with `PathUnsupported`.
    Separable,
    /// Winograd F(2×2, 3×3) on the GEMM engine: 2-D 3×3 layers with stride 1,
    /// dilated ones through their phases (`paths/winograd.rs`); gradients on
    /// im2col. Its error follows `Σ|w|·max|x|` over each output's window, not
    /// `Σ|x·w|`: the planner takes it only when allowed
    /// (`Planner::with_winograd`).
    Winograd,
}

impl Path {
    /// Every path, in the order the planner considers them.
    pub const ALL: &'static [Path] = &[
        Path::Reference,
        Path::Im2col,
        Path::Direct,
        Path::Separable,
        Path::Winograd,
    ];

    /// The stable name: `reference`, `im2col`, `direct`.
    pub fn name(self) -> &'static str {
        match self {
            Path::Reference => "reference",
            Path::Im2col => "im2col",
            Path::Direct => "direct",
            Path::Separable => "separable",
            Path::Winograd => "winograd",
        }
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Path {
    type Err = XcorrError;
    fn from_str(s: &str) -> Result<Path> {
        Path::ALL
            .iter()
            .copied()
            .find(|p| p.name() == s)
            .ok_or_else(|| XcorrError::InvalidArgument {
                what: "path name",
                value: s.to_string(),
            })
    }
}

/// What a plan runs: the path with the state it built for the problem.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Algo {
    Reference,
    Im2col(Arc<Gemm>),
    /// The direct forward (with the separable route where it applies); gradients
    /// run on the GEMM engine.
    Direct(Arc<(Direct, Option<Separable>, Option<Gemm>)>),
    /// The direct path of a strided row: per-plane stride-1 problems on the
    /// input split by phase; gradients as for `Direct`.
    StridedDirect(Arc<(StridedDirect, Option<Gemm>)>),
    /// The separable route only.
    Separable(Arc<(Separable, Option<Gemm>)>),
    /// Winograd, with the GEMM engine for the gradients and for inputs or weights
    /// that are not finite.
    Winograd(Arc<(Winograd, Gemm)>),
}

/// The gradients' state for a problem: the im2col geometry (forward and weight
/// gradient), the derived problem whose forward pass is the input gradient, and
/// for plans of the direct paths the direct weight gradient.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Gemm {
    fwd: Im2col,
    grad_input: GradInput,
    grad_weight_direct: Option<DirectGradWeight>,
}

impl Gemm {
    /// `direct`: the input gradient's derived forward pass runs on the direct
    /// path, and so does the weight gradient; with `planned` (a plan the planner
    /// chose, not one forced onto a path), also where the weight gradient's GEMM
    /// would be small (see [`DirectGradWeight::beats_gemm`]).
    fn new(p: &Problem, direct: bool, planned: bool) -> Result<Gemm> {
        Ok(Gemm {
            fwd: Im2col::new(p)?,
            grad_input: GradInput::new(p, direct)?,
            grad_weight_direct: DirectGradWeight::new(p)
                .filter(|_| direct || (planned && DirectGradWeight::beats_gemm(p))),
        })
    }
}

impl Algo {
    fn gemm(&self) -> Option<&Gemm> {
        match self {
            Algo::Reference => None,
            Algo::Im2col(g) => Some(g),
            // Gradients of these paths run on the GEMM engine where it accepts the
            // problem, else on the reference.
            Algo::Direct(d) => d.2.as_ref(),
            Algo::StridedDirect(d) => d.1.as_ref(),
            Algo::Separable(s) => s.1.as_ref(),
            Algo::Winograd(w) => Some(&w.1),
        }
    }
}

/// A problem with its chosen path, ISA level and thread count, ready to execute
/// any number of times (from several threads at once: plans are `Send + Sync`).
///
/// ```
/// use xcorr::{Plan, Problem};
/// let p = Problem::builder().input([3, 3]).kernel([2, 2]).build()?;
/// let plan = Plan::new(&p);
/// let x: Vec<f32> = (0..9).map(|v| v as f32).collect();
/// let mut y = [0.0f32; 4];
/// plan.forward(&x, &[0.0, 1.0, 2.0, 3.0], None, &mut y)?;
/// assert_eq!(y, [19.0, 25.0, 37.0, 43.0]);
/// # Ok::<(), xcorr::XcorrError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    problem: Problem,
    path: Path,
    isa: Isa,
    threads: usize,
    algo: Algo,
    /// Why this path was chosen (the planner's estimate or measurement, or "forced").
    why: String,
}

impl Plan {
    /// Chooses the path for `problem` with the estimate-mode planner, at the active
    /// ISA level ([`Isa::active`]) on the default thread count (the physical cores).
    /// Use a [`Planner`](crate::Planner) for measure mode or other settings.
    pub fn new(problem: &Problem) -> Plan {
        crate::planner::Planner::default().plan::<f32>(problem)
    }

    pub(crate) fn reference_plan(problem: &Problem) -> Plan {
        Plan {
            problem: *problem,
            path: Path::Reference,
            isa: Isa::Scalar,
            threads: 1,
            algo: Algo::Reference,
            why: "forced".into(),
        }
    }

    pub(crate) fn with_reason(mut self, why: String) -> Plan {
        self.why = why;
        self
    }

    /// What this plan runs and why: path, ISA level, threads and the planner's
    /// reason (its estimates or measurements).
    pub fn describe(&self) -> String {
        format!("{self}: {}", self.why)
    }

    /// A plan that uses `path` at the active ISA level.
    ///
    /// # Errors
    /// `PathUnsupported` if that path cannot compute this problem (or no SIMD level
    /// is active for a SIMD path).
    pub fn with_path(problem: &Problem, path: Path) -> Result<Plan> {
        Self::build(problem, path, false)
    }

    /// [`with_path`](Self::with_path) for the planner's choice: `planned` lets
    /// the gradients take the faster route where it is another path's.
    pub(crate) fn build(problem: &Problem, path: Path, planned: bool) -> Result<Plan> {
        let isa = Isa::active();
        let algo = match path {
            Path::Reference => return Ok(Plan::reference_plan(problem)),
            Path::Im2col => Algo::Im2col(Arc::new(Gemm::new(problem, false, planned)?)),
            Path::Direct if problem.stride().last() != Some(&1) => Algo::StridedDirect(Arc::new((
                StridedDirect::new(problem)?,
                Gemm::new(problem, true, planned).ok(),
            ))),
            Path::Direct => {
                let sep = Separable::new(problem).ok().filter(|_| {
                    let (kh, kw) = (problem.kernel_shape()[0], problem.kernel_shape()[1]);
                    kh * kw >= 2 * (kh + kw)
                });
                Algo::Direct(Arc::new((
                    Direct::new(problem)?,
                    sep,
                    Gemm::new(problem, true, planned).ok(),
                )))
            }
            Path::Separable => Algo::Separable(Arc::new((
                Separable::new(problem)?,
                Gemm::new(problem, true, planned).ok(),
            ))),
            Path::Winograd => Algo::Winograd(Arc::new((
                Winograd::new(problem)?,
                Gemm::new(problem, false, planned)?,
            ))),
        };
        if isa == Isa::Scalar {
            return Err(XcorrError::PathUnsupported {
                path: path.name(),
                reason: "the active ISA level is scalar (XCORR_ISA=scalar)".into(),
            });
        }
        Ok(Plan {
            problem: *problem,
            path,
            isa,
            threads: parallel::default_threads(),
            algo,
            why: "forced".into(),
        })
    }

    /// The same plan on another ISA level (a SIMD path needs a SIMD level).
    ///
    /// # Errors
    /// `InvalidArgument` if the CPU lacks `isa`; `PathUnsupported` for `Scalar` on a
    /// SIMD path.
    pub fn with_isa(mut self, isa: Isa) -> Result<Plan> {
        isa.require()?;
        if self.path == Path::Reference {
            return Ok(self);
        }
        if isa == Isa::Scalar {
            return Err(XcorrError::PathUnsupported {
                path: self.path.name(),
                reason: "it needs a SIMD level, not scalar".into(),
            });
        }
        self.isa = isa;
        Ok(self)
    }

    /// The same plan on `threads` threads (at least 1). Results are bitwise
    /// identical for every thread count.
    pub fn with_threads(mut self, threads: usize) -> Plan {
        if self.path != Path::Reference {
            self.threads = threads.max(1);
        }
        self
    }

    pub fn problem(&self) -> &Problem {
        &self.problem
    }

    pub fn path(&self) -> Path {
        self.path
    }

    pub fn isa(&self) -> Isa {
        self.isa
    }

    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Threads a call actually uses: one for problems too small to pay for a
    /// hand-off to the pool (results are the same for every thread count).
    fn run_threads(&self) -> usize {
        if self.problem.flops() < 1 << 18 {
            1
        } else {
            self.threads
        }
    }

    fn no_kernels<T: Element>(&self) -> XcorrError {
        XcorrError::PathUnsupported {
            path: self.path.name(),
            reason: format!("no {} kernels at level {}", T::NAME, self.isa),
        }
    }

    fn gemm_kernel<T: Element>(&self) -> Result<crate::isa::GemmKernel<T>> {
        T::gemm_kernel(self.isa).ok_or_else(|| self.no_kernels::<T>())
    }

    /// Elements of scratch space that [`forward_with_workspace`](Self::forward_with_workspace) needs.
    pub fn workspace_len<T: Element>(&self) -> usize {
        match &self.algo {
            Algo::Reference => 0,
            Algo::Im2col(g) => T::gemm_kernel(self.isa)
                .map_or(0, |k| g.fwd.workspace_len(k.a_shape(), self.threads)),
            Algo::Direct(d) => {
                d.0.workspace_len(self.threads)
                    .max(d.1.as_ref().map_or(0, |s| s.workspace_len(self.threads)))
            }
            Algo::Separable(s) => s.0.workspace_len(self.threads),
            Algo::StridedDirect(d) => d.0.workspace_len(self.threads),
            Algo::Winograd(w) => T::gemm_kernel(self.isa).map_or(0, |k| {
                w.0.workspace_len(k.a_shape(), k.nr, self.threads)
                    .max(w.1.fwd.workspace_len(k.a_shape(), self.threads))
            }),
        }
    }

    /// Elements of scratch space that [`backward_input_with_workspace`](Self::backward_input_with_workspace) needs.
    pub fn backward_input_workspace_len<T: Element>(&self) -> usize {
        match (self.algo.gemm(), T::gemm_kernel(self.isa)) {
            (Some(g), Some(k)) => g.grad_input.workspace_len(k.a_shape(), self.threads),
            _ => 0,
        }
    }

    /// Elements of scratch space that [`backward_weight_with_workspace`](Self::backward_weight_with_workspace) needs.
    pub fn backward_weight_workspace_len<T: Element>(&self) -> usize {
        match (self.algo.gemm(), T::gemm_kernel(self.isa)) {
            (Some(g), Some(k)) => match &g.grad_weight_direct {
                Some(d) => d.workspace_len(self.threads),
                None => g.fwd.grad_weight_workspace_len(k.a_shape()),
            },
            _ => 0,
        }
    }

    /// `output = input ⋆ weight + bias`.
    ///
    /// # Errors
    /// `BufferLength` naming the first buffer of the wrong length; nothing is written.
    pub fn forward<T: Element>(
        &self,
        input: &[T],
        weight: &[T],
        bias: Option<&[T]>,
        output: &mut [T],
    ) -> Result<()> {
        let mut ws = vec![T::ZERO; self.workspace_len::<T>()];
        self.forward_with_workspace(input, weight, bias, output, &mut ws)
    }

    /// [`forward`](Self::forward) with caller-provided scratch of
    /// [`workspace_len`](Self::workspace_len) elements; allocates nothing.
    ///
    /// # Errors
    /// `BufferLength` naming the first buffer of the wrong length; nothing is written.
    pub fn forward_with_workspace<T: Element>(
        &self,
        input: &[T],
        weight: &[T],
        bias: Option<&[T]>,
        output: &mut [T],
        workspace: &mut [T],
    ) -> Result<()> {
        T::plan_forward(self, input, weight, bias, output, workspace)
    }

    pub(crate) fn forward_mono<T: Element>(
        &self,
        input: &[T],
        weight: &[T],
        bias: Option<&[T]>,
        output: &mut [T],
        workspace: &mut [T],
    ) -> Result<()> {
        self.forward_given(input, Given::Raw(weight), bias, output, workspace)
    }

    /// Packs `weight` once for [`forward_packed`](Self::forward_packed): the
    /// im2col path's A panels, Winograd's transformed weights (other paths keep
    /// a copy). For a layer whose weights stay fixed over many calls, as
    /// inference engines prepare their constant weights; the results are bitwise
    /// those of [`forward`](Self::forward). Allocates the packed weights.
    ///
    /// # Errors
    /// `BufferLength` if `weight` has the wrong length; `PathUnsupported` if this
    /// plan's level has no kernels for `T`.
    pub fn pack_weights<T: Element>(&self, weight: &[T]) -> Result<PackedWeights<T>> {
        T::plan_pack_weights(self, weight)
    }

    pub(crate) fn pack_weights_mono<T: Element>(&self, weight: &[T]) -> Result<PackedWeights<T>> {
        check_len(Buffer::Weight, self.problem.weight_len(), weight.len())?;
        let mut pw = PackedWeights {
            problem: self.problem,
            path: self.path,
            isa: self.isa,
            weight: Vec::new(),
            packed: Vec::new(),
            finite: true,
        };
        match &self.algo {
            Algo::Im2col(g) => {
                let kern = self.gemm_kernel::<T>()?;
                pw.packed = vec![T::ZERO; g.fwd.packed_a_len(kern.a_shape())];
                g.fwd
                    .pack_weights(&kern, self.threads, weight, &mut pw.packed);
            }
            Algo::Winograd(w) => {
                let kern = self.gemm_kernel::<T>()?;
                // The im2col route of non-finite inputs reads the weights as given.
                pw.weight = weight.to_vec();
                pw.finite = self.all_finite(weight)?;
                if pw.finite {
                    pw.packed = vec![T::ZERO; w.0.packed_weights_len(kern.a_shape())];
                    w.0.pack_weights(&kern, self.threads, weight, &mut pw.packed);
                }
            }
            Algo::Reference | Algo::Direct(_) | Algo::StridedDirect(_) | Algo::Separable(_) => {
                pw.weight = weight.to_vec()
            }
        }
        Ok(pw)
    }

    /// `output = input ⋆ weight + bias` with the weights packed by
    /// [`pack_weights`](Self::pack_weights) (of a plan for the same problem, path
    /// and ISA level; any thread count).
    ///
    /// # Errors
    /// `InvalidArgument` if `weights` were packed for another problem, path or
    /// level; `BufferLength` naming the first buffer of the wrong length; nothing
    /// is written.
    pub fn forward_packed<T: Element>(
        &self,
        input: &[T],
        weights: &PackedWeights<T>,
        bias: Option<&[T]>,
        output: &mut [T],
    ) -> Result<()> {
        let mut ws = vec![T::ZERO; self.workspace_len::<T>()];
        self.forward_packed_with_workspace(input, weights, bias, output, &mut ws)
    }

    /// [`forward_packed`](Self::forward_packed) with caller-provided scratch of
    /// [`workspace_len`](Self::workspace_len) elements; allocates nothing.
    ///
    /// # Errors
    /// As [`forward_packed`](Self::forward_packed).
    pub fn forward_packed_with_workspace<T: Element>(
        &self,
        input: &[T],
        weights: &PackedWeights<T>,
        bias: Option<&[T]>,
        output: &mut [T],
        workspace: &mut [T],
    ) -> Result<()> {
        T::plan_forward_packed(self, input, weights, bias, output, workspace)
    }

    pub(crate) fn forward_packed_mono<T: Element>(
        &self,
        input: &[T],
        weights: &PackedWeights<T>,
        bias: Option<&[T]>,
        output: &mut [T],
        workspace: &mut [T],
    ) -> Result<()> {
        let (p, w) = (&self.problem, weights);
        if (w.problem, w.path, w.isa) != (*p, self.path, self.isa) {
            return Err(XcorrError::InvalidArgument {
                what: "packed weights",
                value: format!(
                    "packed for {} via {} ({}), used with {} via {} ({})",
                    w.problem, w.path, w.isa, p, self.path, self.isa
                ),
            });
        }
        self.forward_given(input, Given::Packed(weights), bias, output, workspace)
    }

    /// Whether every value of `x` is finite (the direct kernels' vector scan).
    fn all_finite<T: Element>(&self, x: &[T]) -> Result<bool> {
        T::direct_kernel(self.isa)
            .ok_or_else(|| self.no_kernels::<T>())
            .map(|d| d.all_finite(x))
    }

    fn forward_given<T: Element>(
        &self,
        input: &[T],
        weight: Given<'_, T>,
        bias: Option<&[T]>,
        output: &mut [T],
        workspace: &mut [T],
    ) -> Result<()> {
        let p = &self.problem;
        let weight_len = match weight {
            Given::Raw(w) => w.len(),
            Given::Packed(_) => p.weight_len(),
        };
        p.check_forward(input.len(), weight_len, bias.map(<[T]>::len), output.len())?;
        check_len(
            Buffer::Workspace,
            self.workspace_len::<T>(),
            workspace.len(),
        )?;
        // The weights as given, for the routes that read them.
        let raw = match weight {
            Given::Raw(w) => w,
            Given::Packed(pw) => &pw.weight,
        };
        match &self.algo {
            Algo::Reference => reference::forward(p, input, raw, bias, output),
            Algo::Im2col(g) => {
                let kern = self.gemm_kernel::<T>()?;
                let weight = match weight {
                    Given::Raw(w) => Weights::Raw(w),
                    Given::Packed(pw) => Weights::Packed(&pw.packed),
                };
                g.fwd.forward(
                    &kern,
                    self.run_threads(),
                    input,
                    weight,
                    bias,
                    output,
                    workspace,
                );
                Ok(())
            }
            Algo::Direct(d) => {
                let kern = T::direct_kernel(self.isa).ok_or_else(|| self.no_kernels::<T>())?;
                let threads = self.run_threads();
                match &d.1 {
                    Some(sep) if sep.factor_all(raw, workspace) => {
                        sep.forward(&kern, threads, input, bias, output, workspace)
                    }
                    _ => {
                        d.0.forward(&kern, threads, input, raw, bias, output, workspace)
                    }
                }
                Ok(())
            }
            Algo::StridedDirect(d) => {
                let kern = T::direct_kernel(self.isa).ok_or_else(|| self.no_kernels::<T>())?;
                let gemm = self.gemm_kernel::<T>()?;
                let threads = self.run_threads();
                d.0.forward(&kern, &gemm, threads, input, raw, bias, output, workspace);
                Ok(())
            }
            Algo::Separable(s) => {
                let kern = T::direct_kernel(self.isa).ok_or_else(|| self.no_kernels::<T>())?;
                if !s.0.factor_all(raw, workspace) {
                    return Err(XcorrError::PathUnsupported {
                        path: "separable",
                        reason: "the kernel is not rank 1 (within 4 ulp per weight)".into(),
                    });
                }
                s.0.forward(&kern, self.run_threads(), input, bias, output, workspace);
                Ok(())
            }
            Algo::Winograd(w) => {
                let kern = self.gemm_kernel::<T>()?;
                let weight = match weight {
                    Given::Raw(w) => self.all_finite(w)?.then_some(Weights::Raw(w)),
                    Given::Packed(pw) => pw.finite.then_some(Weights::Packed(&pw.packed)),
                };
                let (threads, ws) = (self.run_threads(), workspace);
                // Non-finite weights are found before (the packing scans them);
                // non-finite inputs by the outputs they make non-finite, which
                // are then computed again on im2col (see `winograd::Finite`).
                let direct = T::direct_kernel(self.isa).ok_or_else(|| self.no_kernels::<T>())?;
                let finite = |x: &[T]| direct.all_finite(x);
                let done = match weight {
                    Some(weight) => {
                        w.0.forward(&kern, threads, input, weight, bias, output, ws, &finite)
                    }
                    None => false,
                };
                if !done {
                    w.1.fwd
                        .forward(&kern, threads, input, Weights::Raw(raw), bias, output, ws);
                }
                Ok(())
            }
        }
    }

    /// The forward pass of a 2-D problem with a rank-1 kernel given by its factors:
    /// `weight[co][i][j] = col[co·kh + i]·row[co·kw + j]` (for convolution, the
    /// factors of the unflipped kernel). Runs the separable route of a `direct` or
    /// `separable` plan; `workspace` as for [`forward_with_workspace`](Self::forward_with_workspace).
    ///
    /// # Errors
    /// `BufferLength` for wrong lengths; `PathUnsupported` on another path or problem.
    pub fn forward_separable<T: Element>(
        &self,
        input: &[T],
        col: &[T],
        row: &[T],
        bias: Option<&[T]>,
        output: &mut [T],
        workspace: &mut [T],
    ) -> Result<()> {
        T::plan_forward_separable(self, input, col, row, bias, output, workspace)
    }

    pub(crate) fn forward_separable_mono<T: Element>(
        &self,
        input: &[T],
        col: &[T],
        row: &[T],
        bias: Option<&[T]>,
        output: &mut [T],
        workspace: &mut [T],
    ) -> Result<()> {
        let p = &self.problem;
        let sep = match &self.algo {
            Algo::Direct(d) => d.1.as_ref(),
            Algo::Separable(s) => Some(&s.0),
            _ => None,
        };
        let sep = sep.ok_or_else(|| XcorrError::PathUnsupported {
            path: self.path.name(),
            reason: "factored kernels run on a 2-D direct or separable plan".into(),
        })?;
        let (kh, kw, co) = (p.kernel_shape()[0], p.kernel_shape()[1], p.out_channels());
        p.check_forward(
            input.len(),
            p.weight_len(),
            bias.map(<[T]>::len),
            output.len(),
        )?;
        check_len(Buffer::Weight, co * kh, col.len())?;
        check_len(Buffer::Weight, co * kw, row.len())?;
        check_len(
            Buffer::Workspace,
            self.workspace_len::<T>(),
            workspace.len(),
        )?;
        let kern = T::direct_kernel(self.isa).ok_or_else(|| self.no_kernels::<T>())?;
        for c in 0..co {
            let f = &mut workspace[c * (kh + kw)..(c + 1) * (kh + kw)];
            let (u, v) = f.split_at_mut(kh);
            let (cu, rv) = (&col[c * kh..(c + 1) * kh], &row[c * kw..(c + 1) * kw]);
            match p.op() {
                crate::Op::Correlation => {
                    u.copy_from_slice(cu);
                    v.copy_from_slice(rv);
                }
                crate::Op::Convolution => {
                    u.iter_mut().zip(cu.iter().rev()).for_each(|(d, s)| *d = *s);
                    v.iter_mut().zip(rv.iter().rev()).for_each(|(d, s)| *d = *s);
                }
            }
        }
        sep.forward(&kern, self.run_threads(), input, bias, output, workspace);
        Ok(())
    }

    /// Gradient of `Σ output·grad_output` with respect to the input.
    ///
    /// # Errors
    /// `BufferLength` naming the wrong buffer; nothing is written.
    pub fn backward_input<T: Element>(
        &self,
        weight: &[T],
        grad_output: &[T],
        grad_input: &mut [T],
    ) -> Result<()> {
        let mut ws = vec![T::ZERO; self.backward_input_workspace_len::<T>()];
        self.backward_input_with_workspace(weight, grad_output, grad_input, &mut ws)
    }

    /// [`backward_input`](Self::backward_input) with caller-provided scratch; allocates nothing.
    ///
    /// # Errors
    /// `BufferLength` naming the wrong buffer; nothing is written.
    pub fn backward_input_with_workspace<T: Element>(
        &self,
        weight: &[T],
        grad_output: &[T],
        grad_input: &mut [T],
        workspace: &mut [T],
    ) -> Result<()> {
        T::plan_backward_input(self, weight, grad_output, grad_input, workspace)
    }

    pub(crate) fn backward_input_mono<T: Element>(
        &self,
        weight: &[T],
        grad_output: &[T],
        grad_input: &mut [T],
        workspace: &mut [T],
    ) -> Result<()> {
        let p = &self.problem;
        check_len(Buffer::Weight, p.weight_len(), weight.len())?;
        check_len(Buffer::GradOutput, p.output_len(), grad_output.len())?;
        check_len(Buffer::GradInput, p.input_len(), grad_input.len())?;
        check_len(
            Buffer::Workspace,
            self.backward_input_workspace_len::<T>(),
            workspace.len(),
        )?;
        match self.algo.gemm() {
            None => reference::backward_input(p, weight, grad_output, grad_input),
            Some(g) => {
                let kern = self.gemm_kernel::<T>()?;
                g.grad_input.run(
                    &kern,
                    self.run_threads(),
                    weight,
                    grad_output,
                    grad_input,
                    workspace,
                );
                Ok(())
            }
        }
    }

    /// Gradient with respect to the (unflipped) weight.
    ///
    /// # Errors
    /// `BufferLength` naming the wrong buffer; nothing is written.
    pub fn backward_weight<T: Element>(
        &self,
        input: &[T],
        grad_output: &[T],
        grad_weight: &mut [T],
    ) -> Result<()> {
        let mut ws = vec![T::ZERO; self.backward_weight_workspace_len::<T>()];
        self.backward_weight_with_workspace(input, grad_output, grad_weight, &mut ws)
    }

    /// [`backward_weight`](Self::backward_weight) with caller-provided scratch; allocates nothing.
    ///
    /// # Errors
    /// `BufferLength` naming the wrong buffer; nothing is written.
    pub fn backward_weight_with_workspace<T: Element>(
        &self,
        input: &[T],
        grad_output: &[T],
        grad_weight: &mut [T],
        workspace: &mut [T],
    ) -> Result<()> {
        T::plan_backward_weight(self, input, grad_output, grad_weight, workspace)
    }

    pub(crate) fn backward_weight_mono<T: Element>(
        &self,
        input: &[T],
        grad_output: &[T],
        grad_weight: &mut [T],
        workspace: &mut [T],
    ) -> Result<()> {
        let p = &self.problem;
        check_len(Buffer::Input, p.input_len(), input.len())?;
        check_len(Buffer::GradOutput, p.output_len(), grad_output.len())?;
        check_len(Buffer::GradWeight, p.weight_len(), grad_weight.len())?;
        check_len(
            Buffer::Workspace,
            self.backward_weight_workspace_len::<T>(),
            workspace.len(),
        )?;
        match self.algo.gemm() {
            None => reference::backward_weight(p, input, grad_output, grad_weight),
            Some(Gemm {
                grad_weight_direct: Some(d),
                ..
            }) => {
                let kern = T::direct_kernel(self.isa).ok_or_else(|| self.no_kernels::<T>())?;
                let gemm = self.gemm_kernel::<T>()?;
                d.run(
                    (&kern, &gemm),
                    self.run_threads(),
                    input,
                    grad_output,
                    grad_weight,
                    workspace,
                );
                Ok(())
            }
            Some(g) => {
                let kern = self.gemm_kernel::<T>()?;
                g.fwd.backward_weight(
                    &kern,
                    self.run_threads(),
                    input,
                    grad_output,
                    grad_weight,
                    workspace,
                );
                Ok(())
            }
        }
    }

    /// Gradient with respect to the bias (a per-channel sum; no workspace).
    ///
    /// # Errors
    /// `BufferLength` naming the wrong buffer; nothing is written.
    pub fn backward_bias<T: Element>(&self, grad_output: &[T], grad_bias: &mut [T]) -> Result<()> {
        T::plan_backward_bias(self, grad_output, grad_bias)
    }

    pub(crate) fn backward_bias_mono<T: Element>(
        &self,
        grad_output: &[T],
        grad_bias: &mut [T],
    ) -> Result<()> {
        let p = &self.problem;
        match &self.algo {
            Algo::Reference => reference::backward_bias(p, grad_output, grad_bias),
            Algo::Im2col(_)
            | Algo::Direct(_)
            | Algo::StridedDirect(_)
            | Algo::Separable(_)
            | Algo::Winograd(_) => {
                check_len(Buffer::GradOutput, p.output_len(), grad_output.len())?;
                check_len(Buffer::GradBias, p.bias_len(), grad_bias.len())?;
                im2col::backward_bias(p, grad_output, grad_bias);
                Ok(())
            }
        }
    }
}

/// A forward pass's weights: as given, or packed by [`Plan::pack_weights`].
#[derive(Clone, Copy)]
enum Given<'a, T> {
    Raw(&'a [T]),
    Packed(&'a PackedWeights<T>),
}

/// A plan's weights packed once, in the layout its path reads (the im2col
/// path's A panels, Winograd's transformed weights), so that
/// [`Plan::forward_packed`] skips the packing each call of
/// [`Plan::forward`] does. Made by [`Plan::pack_weights`]; valid with plans of
/// the same problem, path and ISA level, at any thread count.
///
/// ```
/// use xcorr::{Path, Plan, Problem};
/// let p = Problem::builder().channels(2, 2).input([5, 5]).kernel([3, 3]).build()?;
/// let plan = Plan::with_path(&p, Path::Im2col)?;
/// let (x, w) = (vec![1.0f32; 50], vec![0.5f32; 36]);
/// let packed = plan.pack_weights(&w)?;
/// let (mut y, mut y2) = (vec![0.0f32; 18], vec![0.0f32; 18]);
/// plan.forward_packed(&x, &packed, None, &mut y)?;
/// plan.forward(&x, &w, None, &mut y2)?;
/// assert_eq!(y, y2);
/// # Ok::<(), xcorr::XcorrError>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct PackedWeights<T> {
    problem: Problem,
    path: Path,
    isa: Isa,
    /// The weights as given, where a route reads them (the direct and separable
    /// paths; Winograd's im2col route for non-finite values); else empty.
    weight: Vec<T>,
    /// The path's packed form; empty where it has none.
    packed: Vec<T>,
    /// Winograd: every weight is finite, and `packed` holds them transformed.
    finite: bool,
}

impl<T> PackedWeights<T> {
    /// The problem these weights were packed for.
    pub fn problem(&self) -> &Problem {
        &self.problem
    }

    /// Elements held (packed, and as given where a route reads them).
    pub fn elements(&self) -> usize {
        self.weight.len() + self.packed.len()
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} via {} ({}, {} thread{})",
            self.problem,
            self.path,
            self.isa,
            self.threads,
            if self.threads == 1 { "" } else { "s" }
        )
    }
}
