//! Tensor ops. Primitive ops become graph nodes; everything else is composed from them here.
//!
//! Contract violations (shapes that do not broadcast, bad axes, bad reshapes) panic with a
//! message naming the op, the shapes and the dtypes, like ndarray and numpy.

use crate::dtype::{DType, Scalar};
use crate::graph::{self, Op};
use crate::ops::{BinaryOp, ReduceOp, UnaryOp};
use crate::view::Movement;

use super::Tensor;

#[track_caller]
fn normalize_axis(op: &str, axis: isize, shape: &[usize]) -> usize {
    let n = shape.len() as isize;
    let a = if axis < 0 { axis + n } else { axis };
    if a < 0 || a >= n.max(if n == 0 { 0 } else { 1 }) || (n == 0) {
        panic!("{op}: axis {axis} is out of range for shape {shape:?} ({n} dims)");
    }
    a as usize
}

/// `axes` normalized (negative counts from the end) and sorted. A repeated axis is a contract
/// violation, as in numpy (`sum(&[1, -1])` on a 2-D tensor names axis 1 twice).
#[track_caller]
fn normalize_axes(op: &str, axes: &[isize], shape: &[usize]) -> Vec<usize> {
    let mut out = Vec::with_capacity(axes.len());
    for &a in axes {
        let n = normalize_axis(op, a, shape);
        assert!(
            !out.contains(&n),
            "{op}: axis {n} appears more than once in {axes:?} (shape {shape:?})"
        );
        out.push(n);
    }
    out.sort_unstable();
    out
}

/// The number of elements of `shape`, or a panic naming `op` when it does not fit in `usize`.
#[track_caller]
pub(crate) fn checked_numel(op: &str, shape: &[usize]) -> usize {
    match shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d)) {
        Some(n) => n,
        None => panic!("{op}: shape {shape:?} has more elements than fit in usize"),
    }
}

/// The numpy broadcast of two shapes.
#[track_caller]
fn broadcast_shape(op: &str, a: &[usize], b: &[usize], da: DType, db: DType) -> Vec<usize> {
    let n = a.len().max(b.len());
    // A loop, not a closure: the panic must report the caller's location (#[track_caller]).
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let x = if i + a.len() >= n {
            a[i + a.len() - n]
        } else {
            1
        };
        let y = if i + b.len() >= n {
            b[i + b.len() - n]
        } else {
            1
        };
        out.push(match (x, y) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => panic!("{op}: shapes {a:?} ({da}) and {b:?} ({db}) cannot be broadcast together"),
        });
    }
    out
}

impl Tensor {
    #[track_caller]
    fn node_of(&self, op: Op, srcs: Vec<&Tensor>, dtype: DType, shape: Vec<usize>) -> Tensor {
        for s in &srcs {
            assert!(
                s.device() == self.device(),
                "{op:?}: operands are on different devices ({} and {}); move one with .to(&device)",
                self.device().name(),
                s.device().name()
            );
        }
        let srcs = srcs.into_iter().map(|s| s.node.clone()).collect();
        Tensor::wrap(graph::intern(op, srcs, dtype, shape, self.device()))
    }

    /// This tensor on `other`'s device if it is a constant (constants have no data to move).
    #[track_caller]
    fn on_device_of(&self, other: &Tensor) -> Tensor {
        match self.node.op.const_value() {
            Some(s) if self.device() != other.device() => {
                Tensor::constant(s, self.shape(), other.device())
            }
            _ => self.clone(),
        }
    }

    /// Broadcasts to `shape` (numpy rules; panics naming `op` otherwise).
    #[track_caller]
    fn broadcast_to(&self, op: &str, shape: &[usize]) -> Tensor {
        if self.shape() == shape {
            return self.clone();
        }
        let n = shape.len();
        assert!(
            self.ndim() <= n,
            "{op}: cannot broadcast {:?} to {shape:?}",
            self.shape()
        );
        let mut padded = vec![1; n - self.ndim()];
        padded.extend_from_slice(self.shape());
        let r = self.reshape_usize(&padded);
        r.expand(shape)
    }

    /// Both operands broadcast and promoted to a common dtype.
    #[track_caller]
    fn coerce(&self, other: &Tensor, op: &str) -> (Tensor, Tensor) {
        let a = self.on_device_of(other);
        let b = other.on_device_of(self);
        let shape = broadcast_shape(op, a.shape(), b.shape(), a.dtype(), b.dtype());
        let d = DType::promote(a.dtype(), b.dtype());
        (
            a.cast(d).broadcast_to(op, &shape),
            b.cast(d).broadcast_to(op, &shape),
        )
    }

    #[track_caller]
    fn binary(&self, op: BinaryOp, other: &Tensor) -> Tensor {
        let (a, b) = self.coerce(other, op.name());
        a.binary_same(op, &b)
    }

    /// A binary primitive on operands that already agree in shape and dtype.
    #[track_caller]
    fn binary_same(&self, op: BinaryOp, b: &Tensor) -> Tensor {
        let d = self.dtype();
        if matches!(op, BinaryOp::Div | BinaryOp::Mod) {
            assert!(
                d.is_float(),
                "{}: integer operands must be cast to a float dtype first (got {d})",
                op.name()
            );
        }
        if matches!(op, BinaryOp::And | BinaryOp::Or | BinaryOp::Xor) {
            assert!(!d.is_float(), "{}: not defined for {d}", op.name());
        }
        self.node_of(
            Op::Binary(op),
            vec![self, b],
            op.out_dtype(d),
            self.shape().to_vec(),
        )
    }

    #[track_caller]
    fn unary(&self, op: UnaryOp) -> Tensor {
        let x = if op.float_only() && !self.dtype().is_float() {
            self.cast(DType::F32)
        } else {
            self.clone()
        };
        x.node_of(Op::Unary(op), vec![&x], x.dtype(), x.shape().to_vec())
    }

    #[track_caller]
    fn scalar_like(&self, v: f64) -> Tensor {
        Tensor::full_on(self.shape(), v, self.dtype(), self.device())
    }

    #[track_caller]
    fn float(&self) -> Tensor {
        if self.dtype().is_float() {
            self.clone()
        } else {
            self.cast(DType::F32)
        }
    }

    // ---- unary ----

    /// `-x`. Not defined for bool (use `logical_not`); wraps for u32.
    #[track_caller]
    pub fn neg(&self) -> Tensor {
        assert!(
            self.dtype() != DType::Bool,
            "neg: not defined for bool (use logical_not)"
        );
        self.unary(UnaryOp::Neg)
    }
    #[track_caller]
    pub fn exp2(&self) -> Tensor {
        self.unary(UnaryOp::Exp2)
    }
    #[track_caller]
    pub fn log2(&self) -> Tensor {
        self.unary(UnaryOp::Log2)
    }
    #[track_caller]
    pub fn exp(&self) -> Tensor {
        self.float().mul_scalar(std::f64::consts::LOG2_E).exp2()
    }
    #[track_caller]
    pub fn log(&self) -> Tensor {
        self.log2().mul_scalar(std::f64::consts::LN_2)
    }
    #[track_caller]
    pub fn sqrt(&self) -> Tensor {
        self.unary(UnaryOp::Sqrt)
    }
    #[track_caller]
    pub fn rsqrt(&self) -> Tensor {
        self.sqrt().recip()
    }
    #[track_caller]
    pub fn recip(&self) -> Tensor {
        self.unary(UnaryOp::Recip)
    }
    #[track_caller]
    pub fn sin(&self) -> Tensor {
        self.unary(UnaryOp::Sin)
    }
    #[track_caller]
    pub fn cos(&self) -> Tensor {
        // cos(x) = sin(π/2 - x)
        self.float()
            .neg()
            .add_scalar(std::f64::consts::FRAC_PI_2)
            .sin()
    }
    #[track_caller]
    pub fn sigmoid(&self) -> Tensor {
        self.float().neg().exp().add_scalar(1.0).recip()
    }
    #[track_caller]
    pub fn tanh(&self) -> Tensor {
        // tanh(x) = 2·sigmoid(2x) - 1
        self.float()
            .mul_scalar(2.0)
            .sigmoid()
            .mul_scalar(2.0)
            .add_scalar(-1.0)
    }
    #[track_caller]
    pub fn relu(&self) -> Tensor {
        self.maximum(&self.scalar_like(0.0))
    }
    #[track_caller]
    pub fn abs(&self) -> Tensor {
        match self.dtype() {
            DType::Bool | DType::U32 => self.clone(),
            _ => self.lt(&self.scalar_like(0.0)).where_(&self.neg(), self),
        }
    }
    /// Logical not of a bool tensor (`x != 0` for others).
    #[track_caller]
    pub fn logical_not(&self) -> Tensor {
        let b = self.cast(DType::Bool);
        b.binary_same(BinaryOp::Xor, &b.scalar_like(1.0))
    }

    #[track_caller]
    fn add_scalar(&self, v: f64) -> Tensor {
        self.binary_same(BinaryOp::Add, &self.scalar_like(v))
    }
    #[track_caller]
    fn mul_scalar(&self, v: f64) -> Tensor {
        self.binary_same(BinaryOp::Mul, &self.scalar_like(v))
    }

    /// Converts to `dtype` (float → int truncates and saturates; → bool is `!= 0`).
    #[track_caller]
    pub fn cast(&self, dtype: DType) -> Tensor {
        if dtype == self.dtype() {
            return self.clone();
        }
        if let Some(s) = self.node.op.const_value() {
            return Tensor::constant(s.cast(dtype), self.shape(), self.device());
        }
        self.node_of(Op::Cast(dtype), vec![self], dtype, self.shape().to_vec())
    }

    // ---- binary ----

    #[track_caller]
    pub fn add(&self, other: &Tensor) -> Tensor {
        self.binary(BinaryOp::Add, other)
    }
    /// `a - b` (wraps for u32; not defined for bool).
    #[track_caller]
    pub fn sub(&self, other: &Tensor) -> Tensor {
        let (a, b) = self.coerce(other, "sub");
        assert!(
            a.dtype() != DType::Bool,
            "sub: not defined for bool operands"
        );
        a.binary_same(BinaryOp::Add, &b.neg())
    }
    #[track_caller]
    pub fn mul(&self, other: &Tensor) -> Tensor {
        self.binary(BinaryOp::Mul, other)
    }
    /// True division: integer operands give f32 (as numpy's `/`).
    #[track_caller]
    pub fn div(&self, other: &Tensor) -> Tensor {
        let (a, b) = self.coerce(other, "div");
        a.float().binary_same(BinaryOp::Div, &b.float())
    }
    /// `a ** b` in f32 (integer operands are cast). Negative bases give real results for
    /// integral exponents and NaN otherwise, as numpy's float power does.
    #[track_caller]
    pub fn pow(&self, other: &Tensor) -> Tensor {
        let (a, b) = self.coerce(other, "pow");
        let (a, b) = (a.float(), b.float());
        let magnitude = b.mul(&a.abs().log2()).exp2();
        let zero = a.scalar_like(0.0);
        let is_int = b.binary_same(BinaryOp::Mod, &a.scalar_like(1.0)).eq(&zero);
        let is_odd = b
            .binary_same(BinaryOp::Mod, &a.scalar_like(2.0))
            .abs()
            .eq(&a.scalar_like(1.0));
        let negative = is_odd.where_(&magnitude.neg(), &magnitude);
        let signed = is_int.where_(&negative, &a.scalar_like(f64::NAN));
        let result = a.lt(&zero).where_(&signed, &magnitude);
        b.eq(&zero).where_(&a.scalar_like(1.0), &result)
    }
    #[track_caller]
    pub fn maximum(&self, other: &Tensor) -> Tensor {
        let (a, b) = self.coerce(other, "maximum");
        let op = if a.dtype() == DType::Bool {
            BinaryOp::Or
        } else {
            BinaryOp::Max
        };
        a.binary_same(op, &b)
    }
    #[track_caller]
    pub fn minimum(&self, other: &Tensor) -> Tensor {
        let (a, b) = self.coerce(other, "minimum");
        b.binary_same(BinaryOp::CmpLt, &a).where_(&b, &a)
    }
    #[track_caller]
    pub fn lt(&self, other: &Tensor) -> Tensor {
        self.binary(BinaryOp::CmpLt, other)
    }
    #[track_caller]
    pub fn gt(&self, other: &Tensor) -> Tensor {
        other.binary(BinaryOp::CmpLt, self)
    }
    #[track_caller]
    pub fn le(&self, other: &Tensor) -> Tensor {
        let (a, b) = self.coerce(other, "le");
        a.binary_same(BinaryOp::CmpLt, &b)
            .binary_same(BinaryOp::Or, &a.binary_same(BinaryOp::CmpEq, &b))
    }
    #[track_caller]
    pub fn ge(&self, other: &Tensor) -> Tensor {
        other.le(self)
    }
    #[track_caller]
    pub fn eq(&self, other: &Tensor) -> Tensor {
        self.binary(BinaryOp::CmpEq, other)
    }
    #[track_caller]
    pub fn ne(&self, other: &Tensor) -> Tensor {
        self.eq(other).logical_not()
    }

    /// `self ? a : b` elementwise, broadcasting all three (a non-bool condition is `!= 0`).
    #[track_caller]
    pub fn where_(&self, a: &Tensor, b: &Tensor) -> Tensor {
        let c = self.on_device_of(a).cast(DType::Bool);
        let (a, b) = (a.on_device_of(&c), b.on_device_of(&c));
        let s1 = broadcast_shape("where", c.shape(), a.shape(), c.dtype(), a.dtype());
        let shape = broadcast_shape(
            "where",
            &s1,
            b.shape(),
            DType::promote(c.dtype(), a.dtype()),
            b.dtype(),
        );
        let d = DType::promote(a.dtype(), b.dtype());
        let (c, a, b) = (
            c.broadcast_to("where", &shape),
            a.cast(d).broadcast_to("where", &shape),
            b.cast(d).broadcast_to("where", &shape),
        );
        c.node_of(Op::Where, vec![&c, &a, &b], d, shape)
    }

    // ---- reductions ----

    #[track_caller]
    fn reduce(&self, op: ReduceOp, name: &str, axes: &[isize], keepdim: bool) -> Tensor {
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
        let r = if ax.is_empty() {
            x
        } else {
            x.node_of(Op::Reduce(op, ax.clone()), vec![&x], x.dtype(), kept)
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
    fn all_axes(&self) -> Vec<isize> {
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
    fn mean_impl(&self, axes: &[isize], keepdim: bool) -> Tensor {
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
    fn var_impl(&self, name: &str, axes: &[isize], correction: f64, keepdim: bool) -> Tensor {
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
        let x = self.float();
        let d = x.sub(&x.mean_keepdim(&[axis]));
        let var = (&d * &d).mean_keepdim(&[axis]);
        d.mul(&var.add(&var.scalar_like(eps)).rsqrt())
    }

    /// `exp(x - max) / sum(exp(x - max))` along `axis`.
    #[track_caller]
    pub fn softmax(&self, axis: isize) -> Tensor {
        let x = self.float();
        let e = x.sub(&x.max_keepdim(&[axis])).exp();
        e.div(&e.sum_keepdim(&[axis]))
    }
    /// `x - max - log(sum(exp(x - max)))` along `axis`.
    #[track_caller]
    pub fn log_softmax(&self, axis: isize) -> Tensor {
        let x = self.float();
        let shifted = x.sub(&x.max_keepdim(&[axis]));
        shifted.sub(&shifted.exp().sum_keepdim(&[axis]).log())
    }

    // ---- movement ----

    #[track_caller]
    fn movement(&self, mv: Movement) -> Tensor {
        let shape = mv.out_shape(self.shape());
        checked_numel(mv.name(), &shape);
        if shape == self.shape() && !matches!(mv, Movement::Flip(_) | Movement::Permute(_)) {
            return self.clone();
        }
        if let Movement::Reshape(_) = mv {
            // reshape(reshape(x)) = reshape(x): keeps graphs small and hash-consing effective.
            if let Op::Movement(Movement::Reshape(_)) = self.node.op {
                if !self.is_realized() {
                    return Tensor {
                        node: self.node.src(0),
                    }
                    .movement(Movement::Reshape(shape));
                }
            }
        }
        if let Some(s) = self.node.op.const_value() {
            if !matches!(mv, Movement::Pad(_)) {
                return Tensor::constant(s, &shape, self.device());
            }
        }
        self.node_of(Op::Movement(mv), vec![self], self.dtype(), shape)
    }

    #[track_caller]
    fn reshape_usize(&self, shape: &[usize]) -> Tensor {
        let n: usize = shape.iter().product();
        assert_eq!(
            n,
            self.numel(),
            "reshape: cannot reshape {:?} ({} elements) to {shape:?}",
            self.shape(),
            self.numel()
        );
        self.movement(Movement::Reshape(shape.to_vec()))
    }

    /// Reshape; one dimension may be -1 and is inferred.
    #[track_caller]
    pub fn reshape(&self, shape: &[isize]) -> Tensor {
        // Panics stay in this body (not in a closure) so that they report the caller's line.
        let msg = || {
            format!(
                "reshape: cannot reshape {:?} ({} elements) to {shape:?}",
                self.shape(),
                self.numel()
            )
        };
        let infer: Vec<usize> = shape
            .iter()
            .enumerate()
            .filter(|(_, &d)| d == -1)
            .map(|(i, _)| i)
            .collect();
        if infer.len() > 1 || shape.iter().any(|&d| d < -1) {
            panic!("{}", msg());
        }
        let known: usize = shape
            .iter()
            .filter(|&&d| d >= 0)
            .map(|&d| d as usize)
            .product();
        let mut out: Vec<usize> = shape.iter().map(|&d| d.max(0) as usize).collect();
        if let Some(&i) = infer.first() {
            if known == 0 || !self.numel().is_multiple_of(known) {
                panic!("{}", msg());
            }
            out[i] = self.numel() / known;
        }
        if out.iter().product::<usize>() != self.numel() {
            panic!("{}", msg());
        }
        self.reshape_usize(&out)
    }

    /// Reorders axes: result axis `i` is source axis `order[i]`.
    #[track_caller]
    pub fn permute(&self, order: &[usize]) -> Tensor {
        let mut seen = vec![false; self.ndim()];
        let ok = order.len() == self.ndim()
            && order
                .iter()
                .all(|&a| a < self.ndim() && !std::mem::replace(&mut seen[a], true));
        assert!(
            ok,
            "permute: {order:?} is not a permutation of the axes of shape {:?}",
            self.shape()
        );
        if order.iter().enumerate().all(|(i, &a)| i == a) {
            return self.clone();
        }
        self.movement(Movement::Permute(order.to_vec()))
    }

    /// Swaps two axes (negative axes count from the end).
    #[track_caller]
    pub fn transpose(&self, a: isize, b: isize) -> Tensor {
        let (a, b) = (
            normalize_axis("transpose", a, self.shape()),
            normalize_axis("transpose", b, self.shape()),
        );
        let mut order: Vec<usize> = (0..self.ndim()).collect();
        order.swap(a, b);
        self.permute(&order)
    }

    /// Broadcasts size-1 axes to `shape` (numpy's `broadcast_to`; leading axes may be added).
    #[track_caller]
    pub fn expand(&self, shape: &[usize]) -> Tensor {
        let fail = || -> ! { panic!("expand: cannot broadcast {:?} to {shape:?}", self.shape()) };
        if shape.len() < self.ndim() {
            fail();
        }
        let mut padded = vec![1; shape.len() - self.ndim()];
        padded.extend_from_slice(self.shape());
        if padded.iter().zip(shape).any(|(&s, &d)| s != d && s != 1) {
            fail();
        }
        self.reshape_usize(&padded)
            .movement(Movement::Expand(shape.to_vec()))
    }

    /// Zero padding: (before, after) per axis.
    #[track_caller]
    pub fn pad(&self, padding: &[(usize, usize)]) -> Tensor {
        assert_eq!(
            padding.len(),
            self.ndim(),
            "pad: {} (before, after) pairs for shape {:?}",
            padding.len(),
            self.shape()
        );
        for (&(b, a), &d) in padding.iter().zip(self.shape()) {
            assert!(
                d.checked_add(b).and_then(|x| x.checked_add(a)).is_some(),
                "pad: padding {padding:?} of shape {:?} gives an axis longer than usize::MAX",
                self.shape()
            );
        }
        if padding.iter().all(|&(b, a)| b == 0 && a == 0) {
            return self.clone();
        }
        self.movement(Movement::Pad(padding.to_vec()))
    }

    /// Keeps `start..end` of each axis.
    #[track_caller]
    pub fn shrink(&self, bounds: &[(usize, usize)]) -> Tensor {
        let ok = bounds.len() == self.ndim()
            && bounds
                .iter()
                .zip(self.shape())
                .all(|(&(s, e), &d)| s <= e && e <= d);
        assert!(
            ok,
            "shrink: bounds {bounds:?} do not fit shape {:?}",
            self.shape()
        );
        self.movement(Movement::Shrink(bounds.to_vec()))
    }

    /// Reverses the given axes.
    #[track_caller]
    pub fn flip(&self, axes: &[usize]) -> Tensor {
        let mut f = vec![false; self.ndim()];
        for &a in axes {
            assert!(
                a < self.ndim(),
                "flip: axis {a} is out of range for shape {:?}",
                self.shape()
            );
            assert!(
                !f[a],
                "flip: axis {a} appears more than once in {axes:?} (shape {:?})",
                self.shape()
            );
            f[a] = true;
        }
        if !f.iter().any(|&x| x) {
            return self.clone();
        }
        self.movement(Movement::Flip(f))
    }

    /// A tensor whose value is materialized in its own contiguous buffer when realized.
    #[track_caller]
    pub fn contiguous(&self) -> Tensor {
        if self.is_realized() {
            return self.clone();
        }
        self.node_of(
            Op::Contiguous,
            vec![self],
            self.dtype(),
            self.shape().to_vec(),
        )
    }

    /// Matrix product with numpy semantics (1-D operands, batches with broadcasting), composed
    /// as a broadcast multiply and a sum so elementwise epilogues fuse into the same kernel.
    #[track_caller]
    pub fn matmul(&self, other: &Tensor) -> Tensor {
        assert!(
            self.ndim() >= 1 && other.ndim() >= 1,
            "matmul: operands must have at least 1 dim, got {:?} and {:?}",
            self.shape(),
            other.shape()
        );
        let a = if self.ndim() == 1 {
            self.reshape_usize(&[1, self.numel()])
        } else {
            self.clone()
        };
        let b = if other.ndim() == 1 {
            other.reshape_usize(&[other.numel(), 1])
        } else {
            other.clone()
        };
        let (m, k) = (a.shape()[a.ndim() - 2], a.shape()[a.ndim() - 1]);
        let (k2, n) = (b.shape()[b.ndim() - 2], b.shape()[b.ndim() - 1]);
        assert_eq!(
            k,
            k2,
            "matmul: {:?} @ {:?}: inner dimensions {k} and {k2} differ",
            self.shape(),
            other.shape()
        );
        let batch = broadcast_shape(
            "matmul",
            &a.shape()[..a.ndim() - 2],
            &b.shape()[..b.ndim() - 2],
            a.dtype(),
            b.dtype(),
        );
        let mut full = batch.clone();
        full.extend([m, n, k]);
        let mut a_src = vec![1; batch.len() + 2 - a.ndim()];
        a_src.extend_from_slice(a.shape());
        let a3 = a.reshape_usize(&a_src);
        let mut a4 = a3.shape()[..batch.len()].to_vec();
        a4.extend([m, 1, k]);
        let a_b = a3.reshape_usize(&a4).expand(&full);
        let bt = b.transpose(-1, -2);
        let mut b_src = vec![1; batch.len() + 2 - bt.ndim()];
        b_src.extend_from_slice(bt.shape());
        let b3 = bt.reshape_usize(&b_src);
        let mut b4 = b3.shape()[..batch.len()].to_vec();
        b4.extend([1, n, k]);
        let b_b = b3.reshape_usize(&b4).expand(&full);
        let out = a_b.mul(&b_b).sum(&[-1]);
        let mut shape = batch;
        if self.ndim() > 1 {
            shape.push(m);
        }
        if other.ndim() > 1 {
            shape.push(n);
        }
        out.reshape_usize(&shape)
    }
}

macro_rules! binary_operator {
    ($trait:ident, $method:ident, $imp:ident) => {
        impl $trait<&Tensor> for &Tensor {
            type Output = Tensor;
            #[track_caller]
            fn $method(self, rhs: &Tensor) -> Tensor {
                Tensor::$imp(self, rhs)
            }
        }
        impl $trait<Tensor> for Tensor {
            type Output = Tensor;
            #[track_caller]
            fn $method(self, rhs: Tensor) -> Tensor {
                Tensor::$imp(&self, &rhs)
            }
        }
        impl $trait<&Tensor> for Tensor {
            type Output = Tensor;
            #[track_caller]
            fn $method(self, rhs: &Tensor) -> Tensor {
                Tensor::$imp(&self, rhs)
            }
        }
        impl $trait<Tensor> for &Tensor {
            type Output = Tensor;
            #[track_caller]
            fn $method(self, rhs: Tensor) -> Tensor {
                Tensor::$imp(self, &rhs)
            }
        }
        impl $trait<f32> for &Tensor {
            type Output = Tensor;
            #[track_caller]
            fn $method(self, rhs: f32) -> Tensor {
                Tensor::$imp(
                    self,
                    &Tensor::constant(Scalar::F32(rhs), &[], self.device()),
                )
            }
        }
        impl $trait<f32> for Tensor {
            type Output = Tensor;
            #[track_caller]
            fn $method(self, rhs: f32) -> Tensor {
                Tensor::$imp(
                    &self,
                    &Tensor::constant(Scalar::F32(rhs), &[], self.device()),
                )
            }
        }
        impl $trait<&Tensor> for f32 {
            type Output = Tensor;
            #[track_caller]
            fn $method(self, rhs: &Tensor) -> Tensor {
                Tensor::$imp(&Tensor::constant(Scalar::F32(self), &[], rhs.device()), rhs)
            }
        }
        impl $trait<Tensor> for f32 {
            type Output = Tensor;
            #[track_caller]
            fn $method(self, rhs: Tensor) -> Tensor {
                Tensor::$imp(
                    &Tensor::constant(Scalar::F32(self), &[], rhs.device()),
                    &rhs,
                )
            }
        }
    };
}
/// Operator traits live in their own module so that, inside this file, `x.sub(&y)` resolves to
/// the inherent `&self` method and not to `std::ops::Sub::sub(self, ..)`.
mod operators {
    use super::*;
    use std::ops::{Add, Div, Mul, Sub};
    binary_operator!(Add, add, add);
    binary_operator!(Sub, sub, sub);
    binary_operator!(Mul, mul, mul);
    binary_operator!(Div, div, div);
}

impl std::ops::Neg for &Tensor {
    type Output = Tensor;
    #[track_caller]
    fn neg(self) -> Tensor {
        Tensor::neg(self)
    }
}
impl std::ops::Neg for Tensor {
    type Output = Tensor;
    #[track_caller]
    fn neg(self) -> Tensor {
        Tensor::neg(&self)
    }
}
