//! Tensor ops. Primitive ops become graph nodes; everything else is composed from them here.
//!
//! Contract violations (shapes that do not broadcast, bad axes, bad reshapes) panic with a
//! message naming the op, the shapes and the dtypes, like ndarray and numpy.

use crate::dtype::DType;
use crate::graph::{self, Op};
use crate::ops::{BinaryOp, UnaryOp};

use super::Tensor;

#[track_caller]
pub(super) fn normalize_axis(op: &str, axis: isize, shape: &[usize]) -> usize {
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
pub(super) fn normalize_axes(op: &str, axes: &[isize], shape: &[usize]) -> Vec<usize> {
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
pub(super) fn broadcast_shape(
    op: &str,
    a: &[usize],
    b: &[usize],
    da: DType,
    db: DType,
) -> Vec<usize> {
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
    pub(super) fn node_of(
        &self,
        op: Op,
        srcs: Vec<&Tensor>,
        dtype: DType,
        shape: Vec<usize>,
    ) -> Tensor {
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
    pub(super) fn on_device_of(&self, other: &Tensor) -> Tensor {
        match self.node.op.const_value() {
            Some(s) if self.device() != other.device() => {
                Tensor::constant(s, self.shape(), other.device())
            }
            _ => self.clone(),
        }
    }

    /// Broadcasts to `shape` (numpy rules; panics naming `op` otherwise).
    #[track_caller]
    pub(super) fn broadcast_to(&self, op: &str, shape: &[usize]) -> Tensor {
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
    pub(super) fn coerce(&self, other: &Tensor, op: &str) -> (Tensor, Tensor) {
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
    pub(super) fn binary(&self, op: BinaryOp, other: &Tensor) -> Tensor {
        let (a, b) = self.coerce(other, op.name());
        a.binary_same(op, &b)
    }

    /// A binary primitive on operands that already agree in shape and dtype.
    #[track_caller]
    pub(super) fn binary_same(&self, op: BinaryOp, b: &Tensor) -> Tensor {
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
    pub(super) fn unary(&self, op: UnaryOp) -> Tensor {
        let x = if op.float_only() && !self.dtype().is_float() {
            self.cast(DType::F32)
        } else {
            self.clone()
        };
        x.node_of(Op::Unary(op), vec![&x], x.dtype(), x.shape().to_vec())
    }

    #[track_caller]
    pub(super) fn scalar_like(&self, v: f64) -> Tensor {
        Tensor::full_on(self.shape(), v, self.dtype(), self.device())
    }

    #[track_caller]
    pub(super) fn float(&self) -> Tensor {
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
    pub(super) fn add_scalar(&self, v: f64) -> Tensor {
        self.binary_same(BinaryOp::Add, &self.scalar_like(v))
    }
    #[track_caller]
    pub(super) fn mul_scalar(&self, v: f64) -> Tensor {
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
}
