//! Reductions and the composites built on them (mean, var, std, layer_norm; softmax in
//! `softmax.rs`).

use crate::dtype::DType;
use crate::graph::Op;
use crate::ops::{BinaryOp, ReduceOp};

use super::ops::{normalize_axes, normalize_axis, reported, user_op};
use super::Tensor;

impl Tensor {
    #[track_caller]
    pub(super) fn reduce(&self, op: ReduceOp, name: &str, axes: &[isize], keepdim: bool) -> Tensor {
        let ax = normalize_axes(name, axes, self.shape());
        if matches!(op, ReduceOp::Max | ReduceOp::Min) {
            // numpy raises: a maximum of nothing has no value (-inf would be a silent answer).
            if let Some(&a) = ax.iter().find(|&&a| self.shape()[a] == 0) {
                panic!(
                    "{}: axis {a} of shape {:?} is empty, and a {name} of no elements has no value",
                    reported(name),
                    self.shape()
                );
            }
        }
        // numpy: sums of bools count; max/min of bools are any/all. f16 and bf16 accumulate
        // in f32 and keep their dtype; u8 and i8 sums and products are u32 and i32 (numpy's
        // are 64-bit), their max and min keep the dtype.
        let x = match (op, self.dtype()) {
            (ReduceOp::Sum | ReduceOp::Prod, DType::Bool) => self.cast(DType::I32),
            (ReduceOp::Sum | ReduceOp::Prod, DType::U8 | DType::I8) => {
                self.cast(self.dtype().register())
            }
            (_, d @ (DType::F16 | DType::BF16 | DType::U8 | DType::I8)) => {
                return self
                    .cast(d.register())
                    .reduce(op, name, axes, keepdim)
                    .cast(d)
            }
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

    /// The sum over `axes` (negative axes count from the end), which are removed. Bools sum as
    /// i32.
    ///
    /// ```
    /// use kiln_engine::{Device, Tensor};
    /// let x = Tensor::from_slice_on(&[1.0f32, 2.0, 3.0, 4.0], &[2, 2], &Device::cpu())?;
    /// assert_eq!(x.sum(&[1]).to_vec::<f32>()?, vec![3.0, 7.0]);
    /// assert_eq!(x.sum(&[0, 1]).item::<f32>()?, 10.0);
    /// # Ok::<(), kiln_engine::Error>(())
    /// ```
    #[track_caller]
    pub fn sum(&self, axes: &[isize]) -> Tensor {
        self.reduce(ReduceOp::Sum, "sum", axes, false)
    }
    /// The sum over `axes`, kept as axes of size 1.
    #[track_caller]
    pub fn sum_keepdim(&self, axes: &[isize]) -> Tensor {
        self.reduce(ReduceOp::Sum, "sum", axes, true)
    }
    /// The sum of every element, as a 0-d tensor.
    #[track_caller]
    pub fn sum_all(&self) -> Tensor {
        let _op = user_op("sum_all");
        self.sum(&self.all_axes())
    }
    /// The maximum over `axes` (NaN if any element is NaN); an empty axis panics, as in numpy.
    #[track_caller]
    pub fn max(&self, axes: &[isize]) -> Tensor {
        self.reduce(ReduceOp::Max, "max", axes, false)
    }
    /// The maximum over `axes`, kept as axes of size 1.
    #[track_caller]
    pub fn max_keepdim(&self, axes: &[isize]) -> Tensor {
        self.reduce(ReduceOp::Max, "max", axes, true)
    }
    /// The maximum of every element, as a 0-d tensor.
    #[track_caller]
    pub fn max_all(&self) -> Tensor {
        let _op = user_op("max_all");
        self.max(&self.all_axes())
    }
    /// The minimum over `axes` (NaN if any element is NaN); an empty axis panics, as in numpy.
    #[track_caller]
    pub fn min(&self, axes: &[isize]) -> Tensor {
        self.reduce(ReduceOp::Min, "min", axes, false)
    }
    /// The minimum over `axes`, kept as axes of size 1.
    #[track_caller]
    pub fn min_keepdim(&self, axes: &[isize]) -> Tensor {
        self.reduce(ReduceOp::Min, "min", axes, true)
    }
    /// The minimum of every element, as a 0-d tensor.
    #[track_caller]
    pub fn min_all(&self) -> Tensor {
        let _op = user_op("min_all");
        self.min(&self.all_axes())
    }
    /// The product over `axes`, which are removed.
    #[track_caller]
    pub fn prod(&self, axes: &[isize]) -> Tensor {
        self.reduce(ReduceOp::Prod, "prod", axes, false)
    }

    /// The product over `axes`, kept as axes of size 1.
    #[track_caller]
    pub fn prod_keepdim(&self, axes: &[isize]) -> Tensor {
        self.reduce(ReduceOp::Prod, "prod_keepdim", axes, true)
    }
    /// The product of every element, as a 0-d tensor.
    #[track_caller]
    pub fn prod_all(&self) -> Tensor {
        let _op = user_op("prod_all");
        self.prod(&self.all_axes())
    }

    /// Whether any element over `axes` is nonzero (NaN counts), as bool; false over an empty
    /// axis (numpy's `any`).
    #[track_caller]
    pub fn any(&self, axes: &[isize]) -> Tensor {
        let _op = user_op("any");
        let nonzero = self.ne(&self.scalar_like(0.0)).cast(DType::U32);
        let count = nonzero.reduce(ReduceOp::Sum, "any", axes, false);
        count.ne(&count.scalar_like(0.0))
    }
    /// Whether every element over `axes` is nonzero (NaN counts), as bool; true over an empty
    /// axis (numpy's `all`).
    #[track_caller]
    pub fn all(&self, axes: &[isize]) -> Tensor {
        let _op = user_op("all");
        let zero = self.eq(&self.scalar_like(0.0)).cast(DType::U32);
        let count = zero.reduce(ReduceOp::Sum, "all", axes, false);
        count.eq(&count.scalar_like(0.0))
    }

    /// `log(sum(exp(x)))` over `axes`, shifted by the maximum so that nothing overflows
    /// (numpy's `logaddexp.reduce`, scipy's `logsumexp`; -inf over an empty axis); f32 for
    /// integers.
    #[track_caller]
    pub fn logsumexp(&self, axes: &[isize]) -> Tensor {
        let _op = user_op("logsumexp");
        let reduced: Vec<usize> = normalize_axes("logsumexp", axes, self.shape());
        let shape: Vec<usize> = (0..self.ndim())
            .filter(|i| !reduced.contains(i))
            .map(|i| self.shape()[i])
            .collect();
        if reduced.iter().any(|&a| self.shape()[a] == 0) {
            // The log of an empty sum, as scipy's logsumexp.
            let dtype = self.float().dtype();
            return Tensor::full_on(&shape, f64::NEG_INFINITY, dtype, self.device());
        }
        self.in_f32(|x| {
            let m = x.max_keepdim(axes);
            // An infinite (or all -inf) maximum shifts by 0: inf - inf would be NaN.
            let shift = m.isfinite().where_(&m, &m.scalar_like(0.0));
            let s = x
                .sub(&shift)
                .exp_shifted()
                .sum_keepdim(axes)
                .log()
                .add(&shift);
            s.reshape_usize(&shape)
        })
    }

    #[track_caller]
    pub(super) fn mean_impl(&self, axes: &[isize], keepdim: bool) -> Tensor {
        self.in_f32(|x| {
            let s = x.reduce(ReduceOp::Sum, "mean", axes, keepdim);
            let ax = normalize_axes("mean", axes, self.shape());
            let n: usize = ax.iter().map(|&a| self.shape()[a]).product();
            s.binary_same(BinaryOp::Div, &s.scalar_like(n as f64))
        })
    }
    /// Arithmetic mean in f32 (integers are cast), as numpy's `mean`.
    #[track_caller]
    pub fn mean(&self, axes: &[isize]) -> Tensor {
        let _op = user_op("mean");
        self.mean_impl(axes, false)
    }
    /// The mean over `axes`, kept as axes of size 1.
    #[track_caller]
    pub fn mean_keepdim(&self, axes: &[isize]) -> Tensor {
        let _op = user_op("mean_keepdim");
        self.mean_impl(axes, true)
    }
    /// The mean of every element, as a 0-d tensor.
    #[track_caller]
    pub fn mean_all(&self) -> Tensor {
        let _op = user_op("mean_all");
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
        self.in_f32(|x| {
            let ax = normalize_axes(name, axes, self.shape());
            let n: usize = ax.iter().map(|&a| self.shape()[a]).product();
            let d = x.sub(&x.mean_keepdim(axes));
            let s = (&d * &d).reduce(ReduceOp::Sum, name, axes, keepdim);
            // numpy: n - ddof <= 0 divides by zero (inf or nan), it does not raise.
            s.binary_same(
                BinaryOp::Div,
                &s.scalar_like((n as f64 - correction).max(0.0)),
            )
        })
    }
    /// Variance `Σ(x - mean)² / (n - correction)` over `axes`: `correction` is numpy's `ddof`
    /// (0 for the population variance, 1 for the sample variance). In f32 (integers are cast).
    #[track_caller]
    pub fn var(&self, axes: &[isize], correction: f64) -> Tensor {
        let _op = user_op("var");
        self.var_impl("var", axes, correction, false)
    }
    /// The variance over `axes` (see [`Tensor::var`]), kept as axes of size 1.
    #[track_caller]
    pub fn var_keepdim(&self, axes: &[isize], correction: f64) -> Tensor {
        let _op = user_op("var_keepdim");
        self.var_impl("var", axes, correction, true)
    }
    /// Standard deviation: `sqrt(var(axes, correction))`.
    #[track_caller]
    pub fn std(&self, axes: &[isize], correction: f64) -> Tensor {
        let _op = user_op("std");
        self.var_impl("std", axes, correction, false).sqrt()
    }
    /// The standard deviation over `axes` (see [`Tensor::std`]), kept as axes of size 1.
    #[track_caller]
    pub fn std_keepdim(&self, axes: &[isize], correction: f64) -> Tensor {
        let _op = user_op("std_keepdim");
        self.var_impl("std", axes, correction, true).sqrt()
    }
    /// `(x - mean) / sqrt(var + eps)` along `axis`, with the population variance (PyTorch's
    /// `layer_norm` over the last axis, without the affine part; multiply and add for that).
    #[track_caller]
    pub fn layer_norm(&self, axis: isize, eps: f64) -> Tensor {
        let _op = user_op("layer_norm");
        normalize_axis("layer_norm", axis, self.shape());
        self.in_f32(|x| {
            let d = x.sub(&x.mean_keepdim(&[axis]));
            let var = (&d * &d).mean_keepdim(&[axis]);
            d.mul(&var.add(&var.scalar_like(eps)).rsqrt())
        })
    }
}
