//! Plans: a problem plus the path chosen to compute it.
//!
//! A [`Plan`] is made once per problem and reused for every call. It is the one
//! entry point that the layer, the convenience API, the tests and the benchmark
//! driver go through, so a new path is a new module plus an entry in
//! [`Path`] and in [`Plan::new`]'s choice.

use std::fmt;
use std::str::FromStr;

use crate::element::Element;
use crate::error::{check_len, Buffer, Result, XcorrError};
use crate::geometry::Problem;
use crate::reference;

/// An algorithm that computes a problem. Names are stable (they appear in exported
/// plans and on the benchmark driver's command line).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Path {
    /// The scalar oracle in [`crate::reference`]: plain loops, f64 accumulation.
    Reference,
}

impl Path {
    /// Every path, in the order the planner considers them.
    pub const ALL: &'static [Path] = &[Path::Reference];

    /// The stable name: `reference`.
    pub fn name(self) -> &'static str {
        match self {
            Path::Reference => "reference",
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

/// A problem with its chosen path, ready to execute any number of times.
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
}

impl Plan {
    /// Chooses the path for `problem`.
    pub fn new(problem: &Problem) -> Plan {
        Plan {
            problem: *problem,
            path: Path::Reference,
        }
    }

    /// A plan that uses `path`.
    ///
    /// # Errors
    /// `PathUnsupported` if that path cannot compute this problem.
    pub fn with_path(problem: &Problem, path: Path) -> Result<Plan> {
        match path {
            Path::Reference => Ok(Plan {
                problem: *problem,
                path,
            }),
        }
    }

    pub fn problem(&self) -> &Problem {
        &self.problem
    }

    pub fn path(&self) -> Path {
        self.path
    }

    /// Elements of scratch space that the `_with_workspace` calls need.
    pub fn workspace_len<T: Element>(&self) -> usize {
        match self.path {
            Path::Reference => 0,
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
    /// [`workspace_len`](Self::workspace_len) elements.
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
        let p = &self.problem;
        p.check_forward(
            input.len(),
            weight.len(),
            bias.map(<[T]>::len),
            output.len(),
        )?;
        check_len(
            Buffer::Workspace,
            self.workspace_len::<T>(),
            workspace.len(),
        )?;
        match self.path {
            Path::Reference => reference::forward(p, input, weight, bias, output),
        }
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
        match self.path {
            Path::Reference => {
                reference::backward_input(&self.problem, weight, grad_output, grad_input)
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
        match self.path {
            Path::Reference => {
                reference::backward_weight(&self.problem, input, grad_output, grad_weight)
            }
        }
    }

    /// Gradient with respect to the bias.
    ///
    /// # Errors
    /// `BufferLength` naming the wrong buffer; nothing is written.
    pub fn backward_bias<T: Element>(&self, grad_output: &[T], grad_bias: &mut [T]) -> Result<()> {
        reference::backward_bias(&self.problem, grad_output, grad_bias)
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} via {}", self.problem, self.path)
    }
}
