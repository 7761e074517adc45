//! Classic image kernels as named constructors (2-D, to use with
//! [`correlate`](crate::correlate) or [`filter`](crate::filter)).

use crate::api::Array;
use crate::element::Element;
use crate::error::{Result, XcorrError};

/// The largest size the sized constructors build (its square still fits any
/// `usize` arithmetic, and nobody filters with a larger kernel).
pub const MAX_FILTER_SIZE: usize = 65535;

fn kernel3<T: Element>(rows: [[f64; 3]; 3], scale: f64) -> Array<T> {
    Array::from_rows(&rows.map(|r| r.map(|v| T::from_f64(v * scale))))
}

/// Edge detection (Laplacian-like): `[[-1,-1,-1],[-1,8,-1],[-1,-1,-1]]`.
pub fn edge_detection<T: Element>() -> Array<T> {
    kernel3(
        [[-1.0, -1.0, -1.0], [-1.0, 8.0, -1.0], [-1.0, -1.0, -1.0]],
        1.0,
    )
}

/// Sharpen: `[[0,-1,0],[-1,5,-1],[0,-1,0]]`.
pub fn sharpen<T: Element>() -> Array<T> {
    kernel3([[0.0, -1.0, 0.0], [-1.0, 5.0, -1.0], [0.0, -1.0, 0.0]], 1.0)
}

/// The 3×3 Gaussian blur `1/16·[[1,2,1],[2,4,2],[1,2,1]]`.
pub fn gaussian_blur_3x3<T: Element>() -> Array<T> {
    kernel3(
        [[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]],
        1.0 / 16.0,
    )
}

/// Sobel x (responds to vertical edges): `[[-1,0,1],[-2,0,2],[-1,0,1]]`.
pub fn sobel_x<T: Element>() -> Array<T> {
    kernel3([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]], 1.0)
}

/// Sobel y (responds to horizontal edges): `[[-1,-2,-1],[0,0,0],[1,2,1]]`.
pub fn sobel_y<T: Element>() -> Array<T> {
    kernel3([[-1.0, -2.0, -1.0], [0.0, 0.0, 0.0], [1.0, 2.0, 1.0]], 1.0)
}

/// A normalised 1-D Gaussian of odd `size` and standard deviation `sigma` (sums to 1).
///
/// # Errors
/// `InvalidArgument` for an even or zero size, or a sigma that is not finite and > 0.
pub fn gaussian_1d<T: Element>(size: usize, sigma: f64) -> Result<Array<T>> {
    if size == 0 || size.is_multiple_of(2) || size > MAX_FILTER_SIZE {
        return Err(XcorrError::InvalidArgument {
            what: "Gaussian size (must be odd and at most 65535)",
            value: size.to_string(),
        });
    }
    if !(sigma.is_finite() && sigma > 0.0) {
        return Err(XcorrError::InvalidArgument {
            what: "Gaussian sigma (must be finite and > 0)",
            value: sigma.to_string(),
        });
    }
    let c = (size / 2) as f64;
    let w: Vec<f64> = (0..size)
        .map(|i| (-((i as f64 - c).powi(2)) / (2.0 * sigma * sigma)).exp())
        .collect();
    let sum: f64 = w.iter().sum();
    Ok(Array::from_slice(
        &w.iter().map(|v| T::from_f64(v / sum)).collect::<Vec<_>>(),
    ))
}

/// A normalised `size×size` Gaussian blur of standard deviation `sigma`: the outer
/// product of two [`gaussian_1d`] (so it is separable).
///
/// # Errors
/// As [`gaussian_1d`].
pub fn gaussian<T: Element>(size: usize, sigma: f64) -> Result<Array<T>> {
    let g = gaussian_1d::<f64>(size, sigma)?;
    let g = g.data();
    Array::from_fn(&[size, size], |i| T::from_f64(g[i / size] * g[i % size]))
}

/// A normalised `size×size` box blur (every weight `1/size²`).
///
/// # Errors
/// `InvalidArgument` for a size of 0.
pub fn box_blur<T: Element>(size: usize) -> Result<Array<T>> {
    if size == 0 || size > MAX_FILTER_SIZE {
        return Err(XcorrError::InvalidArgument {
            what: "box blur size (1 to 65535)",
            value: size.to_string(),
        });
    }
    let v = 1.0 / (size * size) as f64;
    Array::from_fn(&[size, size], |_| T::from_f64(v))
}

/// The factors `(u, v)` of a separable 2-D kernel, `kernel[i][j] = u[i]·v[j]`, if it
/// is rank 1 to within 4 ulp per weight (the rule the direct path uses to take the
/// separable route); `None` otherwise.
///
/// ```
/// let (u, v) = xcorr::filters::separate(&xcorr::filters::sobel_x::<f32>()).unwrap();
/// assert_eq!((u.len(), v.len()), (3, 3));
/// assert!(xcorr::filters::separate(&xcorr::filters::sharpen::<f32>()).is_none());
/// ```
pub fn separate<T: Element>(kernel: &Array<T>) -> Option<(Vec<T>, Vec<T>)> {
    let s = kernel.shape();
    if s.len() != 2 {
        return None;
    }
    let (mut u, mut v) = (vec![T::ZERO; s[0]], vec![T::ZERO; s[1]]);
    crate::paths::separable::factor(kernel.data(), s[0], s[1], &mut u, &mut v).then_some((u, v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classic_kernels_are_exact() {
        assert_eq!(
            edge_detection::<f32>().data(),
            &[-1.0, -1.0, -1.0, -1.0, 8.0, -1.0, -1.0, -1.0, -1.0]
        );
        assert_eq!(
            sharpen::<f64>().data(),
            &[0.0, -1.0, 0.0, -1.0, 5.0, -1.0, 0.0, -1.0, 0.0]
        );
        let g = gaussian_blur_3x3::<f32>();
        assert_eq!(g.data()[4], 0.25);
        assert_eq!(g.data()[0], 0.0625);
        assert_eq!(g.data().iter().sum::<f32>(), 1.0);
    }

    #[test]
    fn gaussian_is_normalised_and_symmetric() {
        let g = gaussian::<f64>(7, 1.5).unwrap();
        assert!((g.data().iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert_eq!(g.data()[0], g.data()[48]);
        assert_eq!(g, g.transposed());
        assert!(gaussian_1d::<f32>(4, 1.0).is_err());
        assert!(gaussian_1d::<f32>(5, 0.0).is_err());
        assert!(box_blur::<f32>(0).is_err());
        assert!(box_blur::<f32>(usize::MAX).is_err());
        assert!(gaussian_1d::<f32>(usize::MAX, 1.0).is_err());
        assert!(gaussian::<f32>(usize::MAX - 2, 1.0).is_err());
        assert_eq!(box_blur::<f64>(2).unwrap().data(), &[0.25; 4]);
    }
}
