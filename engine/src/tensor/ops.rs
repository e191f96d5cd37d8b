//! Tensor ops. Primitive ops become graph nodes; everything else is composed from them here.
//!
//! Contract violations (shapes that do not broadcast, bad axes, bad reshapes) panic with a
//! message naming the op, the shapes and the dtypes, like ndarray and numpy.

use crate::dtype::{DType, Scalar};
use crate::graph::{self, Op};
use crate::ops::{BinaryOp, UnaryOp};
use crate::runtime::Device;

use super::Tensor;

thread_local! {
    static USER_OP: std::cell::Cell<Option<&'static str>> = const { std::cell::Cell::new(None) };
}

/// While the returned guard lives, contract violations are reported under `name`: the op the
/// user called (`softmax`), not the primitive inside it that found the violation (`max`).
/// The outermost op wins, so composites of composites report what the user wrote.
pub(super) fn user_op(name: &'static str) -> UserOp {
    UserOp(USER_OP.with(|op| {
        op.get().is_none() && {
            op.set(Some(name));
            true
        }
    }))
}

/// See [`user_op`]; it clears the name when the outermost op returns (or unwinds).
pub(super) struct UserOp(bool);

impl Drop for UserOp {
    fn drop(&mut self) {
        if self.0 {
            USER_OP.with(|op| op.set(None));
        }
    }
}

/// The name under which a violation found by `op` is reported (see [`user_op`]).
/// A 0-d u32 constant (bit patterns and shift amounts of the random, select and sort code).
pub(super) fn u32_const(v: u32, device: &Device) -> Tensor {
    Tensor::constant(Scalar::U32(v), &[], device)
}

pub(super) fn reported(op: &str) -> &str {
    USER_OP.with(|u| u.get()).unwrap_or(op)
}

#[track_caller]
pub(super) fn normalize_axis(op: &str, axis: isize, shape: &[usize]) -> usize {
    let op = reported(op);
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
    let op = reported(op);
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
    let op = reported(op);
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
    let op = reported(op);
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

    /// Panics, naming the op the user called, when `other` lives on another device.
    #[track_caller]
    pub(super) fn assert_same_device(&self, op: &str, other: &Tensor) {
        let op = reported(op);
        assert!(
            self.device() == other.device(),
            "{op}: operands are on different devices ({} and {}); move one with .to(&device)",
            self.device().name(),
            other.device().name()
        );
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
        let op = reported(op);
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
        let expandable = padded.iter().zip(shape).all(|(&s, &d)| s == d || s == 1);
        if let (Some(s), true) = (self.node.op.const_value(), expandable) {
            // A broadcast constant is a constant of the new shape (what the reshape and the
            // expand below end in, see `movement`), built without the reshaped one in
            // between: `x * 0.5` is the commonest op, and every node costs a hash-consing.
            return Tensor::constant(s, shape, self.device());
        }
        let r = self.reshape_usize(&padded);
        r.expand(shape)
    }

    /// Both operands broadcast and promoted to a common dtype.
    #[track_caller]
    pub(super) fn coerce(&self, other: &Tensor, op: &str) -> (Tensor, Tensor) {
        let a = self.on_device_of(other);
        let b = other.on_device_of(self);
        a.assert_same_device(op, &b);
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
        assert!(
            self.shape() == b.shape() && d == b.dtype(),
            "{}: operands of shapes {:?} and {:?}, dtypes {d} and {} reached a primitive unbroadcast (kiln bug)",
            op.name(),
            self.shape(),
            b.shape(),
            b.dtype()
        );
        if matches!(op, BinaryOp::Div | BinaryOp::Mod) {
            assert!(
                d.is_float(),
                "{}: integer operands must be cast to a float dtype first (got {d})",
                op.name()
            );
        }
        if matches!(op, BinaryOp::Shl | BinaryOp::Shr) {
            assert!(d.is_int(), "{}: not defined for {d}", op.name());
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

    /// `f` of the tensor in f32, for composites: integers are cast to f32 (the result stays
    /// f32), and f16 and bf16 are computed in f32 and rounded once at the end (as PyTorch's
    /// opmath does: `exp`'s `x · log2 e` rounded to f16 would be off by up to 0.5%).
    #[track_caller]
    pub(super) fn in_f32(&self, f: impl FnOnce(Tensor) -> Tensor) -> Tensor {
        match self.dtype() {
            d @ (DType::F16 | DType::BF16) => {
                let r = f(self.cast(DType::F32));
                if r.dtype() == DType::F32 {
                    r.cast(d)
                } else {
                    r
                }
            }
            _ => f(self.float()),
        }
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
    /// `2^x`, elementwise (integers are cast to f32 first, as for every transcendental op).
    #[track_caller]
    pub fn exp2(&self) -> Tensor {
        self.unary(UnaryOp::Exp2)
    }
    /// The base-2 logarithm, elementwise.
    #[track_caller]
    pub fn log2(&self) -> Tensor {
        self.unary(UnaryOp::Log2)
    }
    /// `e^x`, elementwise (within a few ulp over the whole range: a range reduction, not
    /// `exp2(x · log2 e)`).
    #[track_caller]
    pub fn exp(&self) -> Tensor {
        let _op = user_op("exp");
        self.in_f32(|x| x.unary(UnaryOp::Exp))
    }
    /// The natural logarithm, elementwise (within a few ulp near 1 too, where WGSL lets
    /// `log2` be off by 2^-21 absolute).
    #[track_caller]
    pub fn log(&self) -> Tensor {
        let _op = user_op("log");
        self.in_f32(|x| x.unary(UnaryOp::Log))
    }
    /// The square root, elementwise.
    #[track_caller]
    pub fn sqrt(&self) -> Tensor {
        self.unary(UnaryOp::Sqrt)
    }
    /// `1 / sqrt(x)`, elementwise.
    #[track_caller]
    pub fn rsqrt(&self) -> Tensor {
        let _op = user_op("rsqrt");
        self.in_f32(|x| x.sqrt().recip())
    }
    /// `1 / x`, elementwise.
    #[track_caller]
    pub fn recip(&self) -> Tensor {
        self.unary(UnaryOp::Recip)
    }
    /// The sine (radians), elementwise.
    #[track_caller]
    pub fn sin(&self) -> Tensor {
        self.unary(UnaryOp::Sin)
    }
    /// The cosine (radians), elementwise.
    #[track_caller]
    pub fn cos(&self) -> Tensor {
        self.unary(UnaryOp::Cos)
    }
    /// `1 / (1 + e^-x)`, elementwise.
    #[track_caller]
    pub fn sigmoid(&self) -> Tensor {
        let _op = user_op("sigmoid");
        self.in_f32(|x| x.neg().exp().add_scalar(1.0).recip())
    }
    /// The hyperbolic tangent, elementwise.
    #[track_caller]
    pub fn tanh(&self) -> Tensor {
        let _op = user_op("tanh");
        // Far from 0: sign(x)·(1 - e)/(1 + e) with e = exp(-2|x|) <= 1, which cannot overflow.
        // Near 0 that cancels (the old 2·sigmoid(2x) - 1 gave tanh(1e-7) 19% off and
        // tanh(1e-10) = 0), so for |x| < 0.3 the odd Taylor series to x^9 takes over: its first
        // dropped term is < 6e-8 of the result there, and the exp form's cancellation error is
        // < 3e-7 above it.
        self.in_f32(|x| {
            let ax = x.abs();
            let e = ax.mul_scalar(-2.0).exp();
            let one = x.scalar_like(1.0);
            let far = one.sub(&e).div(&one.add(&e));
            let far = x.lt(&x.scalar_like(0.0)).where_(&far.neg(), &far);
            let x2 = x.mul(&x);
            let series = [-1.0 / 3.0, 2.0 / 15.0, -17.0 / 315.0, 62.0 / 2835.0]
                .iter()
                .rev()
                .fold(x.scalar_like(0.0), |acc, &c| acc.mul(&x2).add_scalar(c));
            let near = x.mul(&series.mul(&x2).add_scalar(1.0));
            ax.lt(&x.scalar_like(0.3)).where_(&near, &far)
        })
    }
    /// `max(x, 0)`, elementwise, in the tensor's dtype.
    #[track_caller]
    pub fn relu(&self) -> Tensor {
        let _op = user_op("relu");
        self.maximum(&self.scalar_like(0.0))
    }
    /// The absolute value, elementwise, in the tensor's dtype.
    #[track_caller]
    pub fn abs(&self) -> Tensor {
        let _op = user_op("abs");
        match self.dtype() {
            DType::Bool | DType::U32 | DType::U8 => self.clone(),
            // `0 - x` where `x <= 0`, so that -0 gives +0, as numpy's `abs`.
            _ => {
                let zero = self.scalar_like(0.0);
                self.le(&zero).where_(&zero.sub(self), self)
            }
        }
    }
    /// Logical not of a bool tensor (`x != 0` for others).
    #[track_caller]
    pub fn logical_not(&self) -> Tensor {
        let _op = user_op("logical_not");
        let b = self.cast(DType::Bool);
        b.binary_same(BinaryOp::Xor, &b.scalar_like(1.0))
    }

    #[track_caller]
    pub(crate) fn add_scalar(&self, v: f64) -> Tensor {
        self.binary_same(BinaryOp::Add, &self.scalar_like(v))
    }
    #[track_caller]
    pub(crate) fn mul_scalar(&self, v: f64) -> Tensor {
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

    /// `self + other` with numpy broadcasting and dtype promotion (also the `+` operator).
    #[track_caller]
    pub fn add(&self, other: &Tensor) -> Tensor {
        self.binary(BinaryOp::Add, other)
    }
    /// `a - b` (wraps for u32; not defined for bool).
    #[track_caller]
    pub fn sub(&self, other: &Tensor) -> Tensor {
        let _op = user_op("sub");
        let (a, b) = self.coerce(other, "sub");
        assert!(
            a.dtype() != DType::Bool,
            "sub: not defined for bool operands"
        );
        a.binary_same(BinaryOp::Add, &b.neg())
    }
    /// `self * other` with numpy broadcasting and dtype promotion (also the `*` operator).
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
    /// Logical and / or of bool tensors of one shape.
    #[track_caller]
    pub(super) fn and(&self, other: &Tensor) -> Tensor {
        self.binary_same(BinaryOp::And, other)
    }
    #[track_caller]
    pub(super) fn or(&self, other: &Tensor) -> Tensor {
        self.binary_same(BinaryOp::Or, other)
    }

    /// numpy's `maximum` (NaN if either operand is; `or` on bools).
    #[track_caller]
    pub fn maximum(&self, other: &Tensor) -> Tensor {
        self.binary(BinaryOp::Max, other)
    }
    /// numpy's `minimum` (NaN if either operand is; `and` on bools).
    #[track_caller]
    pub fn minimum(&self, other: &Tensor) -> Tensor {
        self.binary(BinaryOp::Min, other)
    }
    /// numpy's `clip`: `minimum(maximum(x, lo), hi)` (NaN stays NaN).
    #[track_caller]
    pub fn clamp(&self, lo: f64, hi: f64) -> Tensor {
        let _op = user_op("clamp");
        assert!(lo <= hi, "clamp: lo {lo} is above hi {hi}");
        self.maximum(&self.scalar_like(lo))
            .minimum(&self.scalar_like(hi))
    }
    /// `self < other`, elementwise, as bool (broadcasting and promotion as for `add`).
    #[track_caller]
    pub fn lt(&self, other: &Tensor) -> Tensor {
        self.binary(BinaryOp::CmpLt, other)
    }
    /// `self > other`, elementwise, as bool.
    #[track_caller]
    pub fn gt(&self, other: &Tensor) -> Tensor {
        let _op = user_op("gt");
        other.binary(BinaryOp::CmpLt, self)
    }
    /// `self <= other`, elementwise, as bool.
    #[track_caller]
    pub fn le(&self, other: &Tensor) -> Tensor {
        let _op = user_op("le");
        let (a, b) = self.coerce(other, "le");
        a.binary_same(BinaryOp::CmpLt, &b)
            .binary_same(BinaryOp::Or, &a.binary_same(BinaryOp::CmpEq, &b))
    }
    /// `self >= other`, elementwise, as bool.
    #[track_caller]
    pub fn ge(&self, other: &Tensor) -> Tensor {
        let _op = user_op("ge");
        other.le(self)
    }
    /// `self == other`, elementwise, as bool (NaN equals nothing).
    #[track_caller]
    pub fn eq(&self, other: &Tensor) -> Tensor {
        self.binary(BinaryOp::CmpEq, other)
    }
    /// `self != other`, elementwise, as bool.
    #[track_caller]
    pub fn ne(&self, other: &Tensor) -> Tensor {
        let _op = user_op("ne");
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
