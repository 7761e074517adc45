//! The paths: each computes a problem a different way. The reference path lives in
//! `crate::reference`; the fast paths live here, one module each, and the plan
//! (`crate::plan`) chooses between them.

pub(crate) mod direct;
pub(crate) mod direct_grad;
pub(crate) mod direct_strided;
pub(crate) mod im2col;
pub mod separable;
pub(crate) mod winograd;

/// The weights a forward pass gets: as given (each call packs them into its
/// workspace) or packed once before, in the path's own layout
/// ([`PackedWeights`](crate::plan::PackedWeights)).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Weights<'a, T> {
    Raw(&'a [T]),
    Packed(&'a [T]),
}
