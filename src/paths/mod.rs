//! The paths: each computes a problem a different way. The reference path lives in
//! `crate::reference`; the fast paths live here, one module each, and the plan
//! (`crate::plan`) chooses between them.

pub(crate) mod direct;
pub(crate) mod im2col;
pub mod separable;
pub(crate) mod winograd;
