//! Reductions and the composites built on them (mean, var, std, layer_norm; softmax in
//! `softmax.rs`).

use crate::dtype::DType;
use crate::graph::Op;
use crate::ops::{BinaryOp, ReduceOp};

use super::ops::{normalize_axes, normalize_axis};
use super::Tensor;

impl Tensor {
    #[track_caller]
    pub(super) fn reduce(&self, op: ReduceOp, name: &str, axes: &[isize], keepdim: bool) -> Tensor {
        let ax = normalize_axes(name, axes, self.shape());
        if matches!(op, ReduceOp::Max | ReduceOp::Min) {
            // numpy raises: a maximum of nothing has no value (-inf would be a silent answer).
            if let Some(&a) = ax.iter().find(|&&a| self.shape()[a] == 0) {
                panic!(
                    "{name}: axis {a} of shape {:?} is empty, and a {name} of no elements has no value",
                    self.shape()
                );
            }
        }
        // numpy: sums of bools count; max/min of bools are any/all.
        let x = match (op, self.dtype()) {
            (ReduceOp::Sum | ReduceOp::Prod, DType::Bool) => self.cast(DType::I32),
            (_, DType::Bool) => {
                return self
                    .cast(DType::U32)
                    .reduce(op, name, axes, keepdim)
                    .cast(DType::Bool)
            }
            _ => self.clone(),
        };
        let kept: Vec<usize> = x
            .shape()
            .iter()
            .enumerate()
            .map(|(i, &d)| if ax.contains(&i) { 1 } else { d })
            .collect();
        // Axes of size 1 reduce nothing: only the others become a reduction (a softmax over
        // a length-1 axis is then elementwise).
        let real: Vec<usize> = ax.iter().copied().filter(|&a| x.shape()[a] != 1).collect();
        let r = if real.is_empty() {
            x
        } else {
            x.node_of(Op::Reduce(op, real), vec![&x], x.dtype(), kept)
        };
        if keepdim {
            r
        } else {
            let squeezed: Vec<usize> = r
                .shape()
                .iter()
                .enumerate()
                .filter(|(i, _)| !ax.contains(i))
                .map(|(_, &d)| d)
                .collect();
            r.reshape_usize(&squeezed)
        }
    }

    #[track_caller]
    pub(super) fn all_axes(&self) -> Vec<isize> {
        (0..self.ndim() as isize).collect()
    }

    #[track_caller]
    pub fn sum(&self, axes: &[isize]) -> Tensor {
        self.reduce(ReduceOp::Sum, "sum", axes, false)
    }
    #[track_caller]
    pub fn sum_keepdim(&self, axes: &[isize]) -> Tensor {
        self.reduce(ReduceOp::Sum, "sum", axes, true)
    }
    #[track_caller]
    pub fn sum_all(&self) -> Tensor {
        self.sum(&self.all_axes())
    }
    #[track_caller]
    pub fn max(&self, axes: &[isize]) -> Tensor {
        self.reduce(ReduceOp::Max, "max", axes, false)
    }
    #[track_caller]
    pub fn max_keepdim(&self, axes: &[isize]) -> Tensor {
        self.reduce(ReduceOp::Max, "max", axes, true)
    }
    #[track_caller]
    pub fn max_all(&self) -> Tensor {
        self.max(&self.all_axes())
    }
    #[track_caller]
    pub fn min(&self, axes: &[isize]) -> Tensor {
        self.reduce(ReduceOp::Min, "min", axes, false)
    }
    #[track_caller]
    pub fn min_keepdim(&self, axes: &[isize]) -> Tensor {
        self.reduce(ReduceOp::Min, "min", axes, true)
    }
    #[track_caller]
    pub fn min_all(&self) -> Tensor {
        self.min(&self.all_axes())
    }
    #[track_caller]
    pub fn prod(&self, axes: &[isize]) -> Tensor {
        self.reduce(ReduceOp::Prod, "prod", axes, false)
    }

    #[track_caller]
    pub(super) fn mean_impl(&self, axes: &[isize], keepdim: bool) -> Tensor {
        let x = self.float();
        let s = x.reduce(ReduceOp::Sum, "mean", axes, keepdim);
        let ax = normalize_axes("mean", axes, self.shape());
        let n: usize = ax.iter().map(|&a| self.shape()[a]).product();
        s.binary_same(BinaryOp::Div, &s.scalar_like(n as f64))
    }
    /// Arithmetic mean in f32 (integers are cast), as numpy's `mean`.
    #[track_caller]
    pub fn mean(&self, axes: &[isize]) -> Tensor {
        self.mean_impl(axes, false)
    }
    #[track_caller]
    pub fn mean_keepdim(&self, axes: &[isize]) -> Tensor {
        self.mean_impl(axes, true)
    }
    #[track_caller]
    pub fn mean_all(&self) -> Tensor {
        self.mean(&self.all_axes())
    }

    #[track_caller]
    pub(super) fn var_impl(
        &self,
        name: &str,
        axes: &[isize],
        correction: f64,
        keepdim: bool,
    ) -> Tensor {
        let x = self.float();
        let ax = normalize_axes(name, axes, self.shape());
        let n: usize = ax.iter().map(|&a| self.shape()[a]).product();
        let d = x.sub(&x.mean_keepdim(axes));
        let s = (&d * &d).reduce(ReduceOp::Sum, name, axes, keepdim);
        // numpy: n - ddof <= 0 divides by zero (inf or nan), it does not raise.
        s.binary_same(
            BinaryOp::Div,
            &s.scalar_like((n as f64 - correction).max(0.0)),
        )
    }
    /// Variance `Σ(x - mean)² / (n - correction)` over `axes`: `correction` is numpy's `ddof`
    /// (0 for the population variance, 1 for the sample variance). In f32 (integers are cast).
    #[track_caller]
    pub fn var(&self, axes: &[isize], correction: f64) -> Tensor {
        self.var_impl("var", axes, correction, false)
    }
    #[track_caller]
    pub fn var_keepdim(&self, axes: &[isize], correction: f64) -> Tensor {
        self.var_impl("var", axes, correction, true)
    }
    /// Standard deviation: `sqrt(var(axes, correction))`.
    #[track_caller]
    pub fn std(&self, axes: &[isize], correction: f64) -> Tensor {
        self.var_impl("std", axes, correction, false).sqrt()
    }
    #[track_caller]
    pub fn std_keepdim(&self, axes: &[isize], correction: f64) -> Tensor {
        self.var_impl("std", axes, correction, true).sqrt()
    }
    /// `(x - mean) / sqrt(var + eps)` along `axis`, with the population variance (PyTorch's
    /// `layer_norm` over the last axis, without the affine part; multiply and add for that).
    #[track_caller]
    pub fn layer_norm(&self, axis: isize, eps: f64) -> Tensor {
        normalize_axis("layer_norm", axis, self.shape());
        let x = self.float();
        let d = x.sub(&x.mean_keepdim(&[axis]));
        let var = (&d * &d).mean_keepdim(&[axis]);
        d.mul(&var.add(&var.scalar_like(eps)).rsqrt())
    }
}
