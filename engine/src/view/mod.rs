//! Views: how the six movement ops (reshape, permute, expand, pad, shrink, flip) re-index their
//! source without copying.
//!
//! A movement op is a map from an index into its result to an index into its source, plus a
//! validity condition (false in padding). Lowering a kernel walks from the stored output toward
//! the loads and applies these maps to symbolic index vectors ([`symbolic::Lin`]), so any stack
//! of views composes into one index expression and one mask per load. Where tinygrad keeps an
//! explicit stack of (shape, strides, offset, mask) views and merges them, kiln composes the
//! maps and lets the simplifier do the merging: a reshape of a contiguous view folds back to the
//! flat index, a reshape of a permuted view keeps exactly the div/mod it needs. No movement op
//! ever copies data by itself; a copy happens only inside the consumer kernel.

pub mod symbolic;

use symbolic::{Lin, Ranges, Valid};

/// A movement op with its arguments (already checked against the source shape).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Movement {
    Reshape(Vec<usize>),
    Permute(Vec<usize>),
    Expand(Vec<usize>),
    /// (before, after) zero padding per axis.
    Pad(Vec<(usize, usize)>),
    /// (start, end) per axis, end exclusive.
    Shrink(Vec<(usize, usize)>),
    /// Per axis: reverse it or not.
    Flip(Vec<bool>),
}

impl Movement {
    pub fn name(&self) -> &'static str {
        match self {
            Movement::Reshape(_) => "reshape",
            Movement::Permute(_) => "permute",
            Movement::Expand(_) => "expand",
            Movement::Pad(_) => "pad",
            Movement::Shrink(_) => "shrink",
            Movement::Flip(_) => "flip",
        }
    }

    /// The result shape of applying this op to `src` (arguments are validated by the tensor
    /// layer, which knows how to phrase the error).
    pub fn out_shape(&self, src: &[usize]) -> Vec<usize> {
        match self {
            Movement::Reshape(s) | Movement::Expand(s) => s.clone(),
            Movement::Permute(p) => p.iter().map(|&i| src[i]).collect(),
            Movement::Pad(p) => src.iter().zip(p).map(|(d, (b, a))| d + b + a).collect(),
            Movement::Shrink(s) => s.iter().map(|(b, e)| e - b).collect(),
            Movement::Flip(_) => src.to_vec(),
        }
    }

    /// Maps an index into the result (`idx`, one expression per result axis) to an index into
    /// the source of shape `src`, narrowing `valid` where the op pads.
    pub fn source_index(
        &self,
        src: &[usize],
        idx: &[Lin],
        valid: &mut Valid,
        r: &dyn Ranges,
    ) -> Vec<Lin> {
        match self {
            Movement::Reshape(shape) => {
                let flat = flatten(idx, shape);
                unflatten(&flat, src, r)
            }
            Movement::Permute(perm) => {
                let mut out = vec![Lin::constant(0); src.len()];
                for (i, &p) in perm.iter().enumerate() {
                    out[p] = idx[i].clone();
                }
                out
            }
            Movement::Expand(shape) => src
                .iter()
                .zip(shape)
                .zip(idx)
                .map(|((&s, &d), i)| {
                    if s == 1 && d != 1 {
                        Lin::constant(0)
                    } else {
                        i.clone()
                    }
                })
                .collect(),
            Movement::Pad(pads) => src
                .iter()
                .zip(pads)
                .zip(idx)
                .map(|((&d, &(before, after)), i)| {
                    if before + after > 0 {
                        valid.and(i.clone(), before as i64, (before + d) as i64 - 1, r);
                    }
                    i.add_const(-(before as i64))
                })
                .collect(),
            Movement::Shrink(bounds) => bounds
                .iter()
                .zip(idx)
                .map(|(&(start, _), i)| i.add_const(start as i64))
                .collect(),
            Movement::Flip(axes) => src
                .iter()
                .zip(axes)
                .zip(idx)
                .map(|((&d, &f), i)| {
                    if f {
                        i.scale(-1).add_const(d as i64 - 1)
                    } else {
                        i.clone()
                    }
                })
                .collect(),
        }
    }
}

/// Row-major strides of a contiguous buffer of `shape`.
pub fn strides(shape: &[usize]) -> Vec<i64> {
    let mut out = vec![0i64; shape.len()];
    let mut acc = 1i64;
    for (o, &d) in out.iter_mut().zip(shape).rev() {
        *o = acc;
        acc *= d as i64;
    }
    out
}

/// The row-major flat index of `idx` in a contiguous buffer of `shape`.
pub fn flatten(idx: &[Lin], shape: &[usize]) -> Lin {
    idx.iter()
        .zip(strides(shape))
        .fold(Lin::constant(0), |acc, (i, s)| acc.add(&i.scale(s)))
}

/// The inverse of [`flatten`]: the index into `shape` of the flat position `flat`.
pub fn unflatten(flat: &Lin, shape: &[usize], r: &dyn Ranges) -> Vec<Lin> {
    shape
        .iter()
        .zip(strides(shape))
        .map(|(&d, s)| {
            // Size-1 axes are always 0; in an empty shape (s == 0 after a 0-sized axis) nothing
            // is ever indexed.
            if d <= 1 || s == 0 {
                Lin::constant(0)
            } else {
                flat.div(s, r).rem(d as i64, r)
            }
        })
        .collect()
}
