//! One-shot helpers for the single-channel case: `correlate` / `convolve` an array
//! with a kernel in `valid`, `same` or `full` mode, with `scipy.signal.correlate`'s
//! semantics. They build a problem and a plan, allocate the output and run.

use crate::element::Element;
use crate::error::{check_len, Buffer, Result, XcorrError};
use crate::geometry::{Op, Padding, PaddingMode, Problem, MAX_DIMS};
use crate::plan::Plan;

/// A dense row-major array of 1 to 3 axes: a signal, an image or a volume.
#[derive(Clone, Debug, PartialEq)]
pub struct Array<T> {
    shape: Vec<usize>,
    data: Vec<T>,
}

impl<T: Element> Array<T> {
    /// Wraps `data` as an array of `shape` (1 to 3 axes, none of them 0).
    ///
    /// # Errors
    /// `UnsupportedDims`, `ZeroSize`, `Overflow`, or `BufferLength` if
    /// `data.len()` is not the product of `shape`.
    pub fn new(shape: &[usize], data: Vec<T>) -> Result<Self> {
        if !(1..=MAX_DIMS).contains(&shape.len()) {
            return Err(XcorrError::UnsupportedDims { dims: shape.len() });
        }
        if let Some(a) = shape.iter().position(|&s| s == 0) {
            return Err(XcorrError::ZeroSize {
                what: "array extent",
                axis: Some(a),
            });
        }
        let len = shape
            .iter()
            .try_fold(1usize, |a, &b| a.checked_mul(b))
            .ok_or(XcorrError::Overflow {
                what: "array element count",
            })?;
        check_len(Buffer::ArrayData, len, data.len())?;
        Ok(Array {
            shape: shape.to_vec(),
            data,
        })
    }

    /// A 2-D array from rows of equal length.
    ///
    /// ```
    /// let k = xcorr::Array::from_rows(&[[0.0f32, 1.0], [2.0, 3.0]]);
    /// assert_eq!(k.shape(), &[2, 2]);
    /// ```
    pub fn from_rows<const W: usize>(rows: &[[T; W]]) -> Self {
        Array {
            shape: vec![rows.len(), W],
            data: rows.iter().flatten().copied().collect(),
        }
    }

    /// A 1-D array.
    pub fn from_slice(values: &[T]) -> Self {
        Array {
            shape: vec![values.len()],
            data: values.to_vec(),
        }
    }

    /// An array of `shape` whose element at flat index `i` is `f(i)`.
    ///
    /// # Errors
    /// As [`Array::new`].
    pub fn from_fn(shape: &[usize], f: impl FnMut(usize) -> T) -> Result<Self> {
        let len = shape.iter().try_fold(1usize, |a, &b| a.checked_mul(b));
        let len = len.ok_or(XcorrError::Overflow {
            what: "array element count",
        })?;
        Array::new(shape, (0..len).map(f).collect())
    }

    pub fn shape(&self) -> &[usize] {
        &self.shape
    }
    pub fn data(&self) -> &[T] {
        &self.data
    }
    pub fn data_mut(&mut self) -> &mut [T] {
        &mut self.data
    }
    pub fn into_data(self) -> Vec<T> {
        self.data
    }
    /// The array transposed (axes reversed); a copy.
    pub fn transposed(&self) -> Self {
        let s = &self.shape;
        let mut out = Vec::with_capacity(self.data.len());
        match s.len() {
            1 => out.extend_from_slice(&self.data),
            2 => {
                for c in 0..s[1] {
                    out.extend((0..s[0]).map(|r| self.data[r * s[1] + c]));
                }
            }
            _ => {
                for c in 0..s[2] {
                    for b in 0..s[1] {
                        out.extend((0..s[0]).map(|a| self.data[(a * s[1] + b) * s[2] + c]));
                    }
                }
            }
        }
        Array {
            shape: s.iter().rev().copied().collect(),
            data: out,
        }
    }
    /// The array reversed on every axis (what convolution does to its kernel).
    pub fn flipped(&self) -> Self {
        Array {
            shape: self.shape.clone(),
            data: self.data.iter().rev().copied().collect(),
        }
    }
}

/// Output size of [`correlate`] and [`convolve`], as in `scipy.signal.correlate`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Only where the kernel lies inside the input: `L - K + 1` (if the kernel is the
    /// larger on every axis, the operands swap, as SciPy does).
    Valid,
    /// As large as the input, centred on the `full` result.
    #[default]
    Same,
    /// Every overlap: `L + K - 1`.
    Full,
}

/// `scipy.signal.correlate(input, kernel, mode)` for 1-, 2- or 3-axis arrays.
///
/// ```
/// use xcorr::{correlate, Array, Mode};
/// let x = Array::from_fn(&[3, 3], |i| i as f32)?;
/// let k = Array::from_rows(&[[0.0, 1.0], [2.0, 3.0]]);
/// let y = correlate(&x, &k, Mode::Valid)?;
/// assert_eq!(y.data(), &[19.0, 25.0, 37.0, 43.0]);
/// # Ok::<(), xcorr::XcorrError>(())
/// ```
///
/// # Errors
/// `AxisCount` if input and kernel have different axis counts; `KernelTooLarge` in
/// `valid` mode when neither array contains the other.
pub fn correlate<T: Element>(input: &Array<T>, kernel: &Array<T>, mode: Mode) -> Result<Array<T>> {
    filter(input, kernel, mode, PaddingMode::Zeros, Op::Correlation)
}

/// `scipy.signal.convolve(input, kernel, mode)`: correlation with the flipped kernel.
///
/// # Errors
/// As [`correlate`].
pub fn convolve<T: Element>(input: &Array<T>, kernel: &Array<T>, mode: Mode) -> Result<Array<T>> {
    filter(input, kernel, mode, PaddingMode::Zeros, Op::Convolution)
}

/// [`correlate`] or [`convolve`] (per `op`) with another padding mode, e.g.
/// `same` size with `Reflect` borders for image filtering.
///
/// # Errors
/// As [`correlate`], plus the padding-mode limits (`ReflectPaddingTooLarge`, ...).
pub fn filter<T: Element>(
    input: &Array<T>,
    kernel: &Array<T>,
    mode: Mode,
    padding_mode: PaddingMode,
    op: Op,
) -> Result<Array<T>> {
    let dims = input.shape.len();
    if kernel.shape.len() != dims {
        return Err(XcorrError::AxisCount {
            what: "kernel shape",
            expected: dims,
            got: kernel.shape.len(),
        });
    }
    let kernel_contains_input = input.shape.iter().zip(&kernel.shape).all(|(l, k)| k >= l);
    if mode == Mode::Valid && kernel_contains_input && kernel.shape != input.shape {
        // SciPy swaps the operands: correlate(a, b) = reverse(correlate(b, a)), and
        // convolution commutes.
        let swapped = filter(kernel, input, mode, padding_mode, op)?;
        return Ok(match op {
            Op::Correlation => swapped.flipped(),
            Op::Convolution => swapped,
        });
    }
    let mut pairs = [(0, 0); MAX_DIMS];
    for (pair, &k) in pairs.iter_mut().zip(&kernel.shape) {
        *pair = match mode {
            Mode::Valid => (0, 0),
            Mode::Same => (k / 2, (k - 1) / 2),
            Mode::Full => (k - 1, k - 1),
        };
    }
    let problem = Problem::builder()
        .input(input.shape.as_slice())
        .kernel(kernel.shape.as_slice())
        .padding(Padding::explicit(&pairs[..dims]))
        .padding_mode(padding_mode)
        .op(op)
        .build()?;
    let mut out = vec![T::ZERO; problem.output_len()];
    Plan::new(&problem).forward(&input.data, &kernel.data, None, &mut out)?;
    Array::new(problem.output_shape(), out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scipy_modes_1d() {
        let x = Array::from_slice(&[1.0f64, 2.0, 3.0, 4.0]);
        let k = Array::from_slice(&[1.0, 10.0]);
        assert_eq!(
            correlate(&x, &k, Mode::Same).unwrap().data(),
            &[10.0, 21.0, 32.0, 43.0]
        );
        assert_eq!(
            convolve(&x, &k, Mode::Same).unwrap().data(),
            &[1.0, 12.0, 23.0, 34.0]
        );
        assert_eq!(
            correlate(&x, &k, Mode::Full).unwrap().data(),
            &[10.0, 21.0, 32.0, 43.0, 4.0]
        );
        let x5 = Array::from_slice(&[1.0f64, 2.0, 3.0, 4.0, 5.0]);
        let k4 = Array::from_slice(&[1.0, 10.0, 100.0, 1000.0]);
        assert_eq!(
            correlate(&x5, &k4, Mode::Same).unwrap().data(),
            &[2100.0, 3210.0, 4321.0, 5432.0, 543.0]
        );
        assert_eq!(
            convolve(&x5, &k4, Mode::Same).unwrap().data(),
            &[12.0, 123.0, 1234.0, 2345.0, 3450.0]
        );
        // Values from scipy.signal 1.x.
        let x3 = Array::from_slice(&[1.0f64, 2.0, 3.0]);
        let k5 = Array::from_slice(&[1.0, 10.0, 100.0, 1000.0, 10000.0]);
        assert_eq!(
            correlate(&x3, &k5, Mode::Valid).unwrap().data(),
            &[32100.0, 3210.0, 321.0]
        );
        assert_eq!(
            correlate(&x3, &k5, Mode::Same).unwrap().data(),
            &[32100.0, 3210.0, 321.0]
        );
    }

    #[test]
    fn valid_needs_one_to_contain_the_other() {
        let x = Array::new(&[2, 5], vec![0.0f32; 10]).unwrap();
        let k = Array::new(&[3, 2], vec![0.0f32; 6]).unwrap();
        assert!(matches!(
            correlate(&x, &k, Mode::Valid),
            Err(XcorrError::KernelTooLarge { axis: 0, .. })
        ));
    }
}
