//! The primitive op vocabulary shared by every layer (graph, kernel AST, linear IR) and the
//! reference scalar semantics used by the graph oracle.
//!
//! Everything users call that is not here (sub, exp, log, sigmoid, softmax, matmul...) is
//! composed from these in `tensor/`.

use crate::dtype::{DType, Scalar};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnaryOp {
    Neg,
    Exp2,
    Log2,
    Sin,
    /// A primitive rather than `sin(π/2 - x)`: that shift rounds away the low bits of large
    /// arguments (`cos(1e7)` would be off by 0.26).
    Cos,
    Sqrt,
    Recip,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    Add,
    Mul,
    /// True division; floats only.
    Div,
    /// Truncated remainder (`fmod`); floats only.
    Mod,
    /// numpy's `maximum`: NaN when either operand is NaN.
    Max,
    /// numpy's `minimum`: NaN when either operand is NaN.
    Min,
    /// `a < b`, result Bool.
    CmpLt,
    /// `a == b`, result Bool.
    CmpEq,
    /// Bitwise on integers, logical on Bool.
    And,
    Or,
    Xor,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReduceOp {
    Sum,
    Prod,
    Max,
    Min,
}

impl UnaryOp {
    pub fn name(self) -> &'static str {
        match self {
            UnaryOp::Neg => "neg",
            UnaryOp::Exp2 => "exp2",
            UnaryOp::Log2 => "log2",
            UnaryOp::Sin => "sin",
            UnaryOp::Cos => "cos",
            UnaryOp::Sqrt => "sqrt",
            UnaryOp::Recip => "recip",
        }
    }
    /// Transcendental ops exist for floats only; `Neg` for every numeric dtype.
    pub fn float_only(self) -> bool {
        !matches!(self, UnaryOp::Neg)
    }
}

impl BinaryOp {
    pub fn name(self) -> &'static str {
        match self {
            BinaryOp::Add => "add",
            BinaryOp::Mul => "mul",
            BinaryOp::Div => "div",
            BinaryOp::Mod => "mod",
            BinaryOp::Max => "maximum",
            BinaryOp::Min => "minimum",
            BinaryOp::CmpLt => "lt",
            BinaryOp::CmpEq => "eq",
            BinaryOp::And => "and",
            BinaryOp::Or => "or",
            BinaryOp::Xor => "xor",
        }
    }
    pub fn is_comparison(self) -> bool {
        matches!(self, BinaryOp::CmpLt | BinaryOp::CmpEq)
    }
    /// The dtype of `a op b` for operands of dtype `d`.
    pub fn out_dtype(self, d: DType) -> DType {
        if self.is_comparison() {
            DType::Bool
        } else {
            d
        }
    }
}

impl ReduceOp {
    pub fn name(self) -> &'static str {
        match self {
            ReduceOp::Sum => "sum",
            ReduceOp::Prod => "prod",
            ReduceOp::Max => "max",
            ReduceOp::Min => "min",
        }
    }
    /// The accumulator's starting value.
    pub fn identity(self, d: DType) -> Scalar {
        match (self, d) {
            (ReduceOp::Sum, d) => Scalar::from_f64(0.0, d),
            (ReduceOp::Prod, d) => Scalar::from_f64(1.0, d),
            (ReduceOp::Max, DType::F32) => Scalar::F32(f32::NEG_INFINITY),
            (ReduceOp::Max, DType::I32) => Scalar::I32(i32::MIN),
            (ReduceOp::Max, DType::U32) => Scalar::U32(0),
            (ReduceOp::Max, DType::Bool) => Scalar::Bool(false),
            (ReduceOp::Min, DType::F32) => Scalar::F32(f32::INFINITY),
            (ReduceOp::Min, DType::I32) => Scalar::I32(i32::MAX),
            (ReduceOp::Min, DType::U32) => Scalar::U32(u32::MAX),
            (ReduceOp::Min, DType::Bool) => Scalar::Bool(true),
        }
    }
    /// The binary op that folds one more element into the accumulator.
    pub fn combine(self, acc: Scalar, x: Scalar) -> Scalar {
        match self {
            ReduceOp::Sum => eval_binary(BinaryOp::Add, acc, x),
            ReduceOp::Prod => eval_binary(BinaryOp::Mul, acc, x),
            ReduceOp::Max => eval_binary(BinaryOp::Max, acc, x),
            ReduceOp::Min => eval_binary(BinaryOp::Min, acc, x),
        }
    }
}

/// numpy's `maximum` on f32: NaN if either operand is NaN (Rust's `f32::max` returns the
/// other operand instead).
pub fn max_f32(x: f32, y: f32) -> f32 {
    if x.is_nan() || y.is_nan() {
        f32::NAN
    } else {
        x.max(y)
    }
}

/// numpy's `minimum` on f32: NaN if either operand is NaN.
pub fn min_f32(x: f32, y: f32) -> f32 {
    if x.is_nan() || y.is_nan() {
        f32::NAN
    } else {
        x.min(y)
    }
}

/// Reference semantics of a unary op on one value (the graph oracle's definition).
pub fn eval_unary(op: UnaryOp, x: Scalar) -> Scalar {
    match (op, x) {
        (UnaryOp::Neg, Scalar::F32(v)) => Scalar::F32(-v),
        (UnaryOp::Neg, Scalar::I32(v)) => Scalar::I32(v.wrapping_neg()),
        (UnaryOp::Neg, Scalar::U32(v)) => Scalar::U32(v.wrapping_neg()),
        (UnaryOp::Neg, Scalar::Bool(v)) => Scalar::Bool(v),
        (UnaryOp::Exp2, Scalar::F32(v)) => Scalar::F32(v.exp2()),
        (UnaryOp::Log2, Scalar::F32(v)) => Scalar::F32(v.log2()),
        (UnaryOp::Sin, Scalar::F32(v)) => Scalar::F32(v.sin()),
        (UnaryOp::Cos, Scalar::F32(v)) => Scalar::F32(v.cos()),
        (UnaryOp::Sqrt, Scalar::F32(v)) => Scalar::F32(v.sqrt()),
        (UnaryOp::Recip, Scalar::F32(v)) => Scalar::F32(1.0 / v),
        (op, x) => panic!("{} is not defined for {}", op.name(), x.dtype()),
    }
}

/// Reference semantics of a binary op on two values of one dtype.
pub fn eval_binary(op: BinaryOp, a: Scalar, b: Scalar) -> Scalar {
    use Scalar::*;
    match (op, a, b) {
        (BinaryOp::Add, F32(x), F32(y)) => F32(x + y),
        (BinaryOp::Add, I32(x), I32(y)) => I32(x.wrapping_add(y)),
        (BinaryOp::Add, U32(x), U32(y)) => U32(x.wrapping_add(y)),
        (BinaryOp::Add, Bool(x), Bool(y)) => Bool(x | y),
        (BinaryOp::Mul, F32(x), F32(y)) => F32(x * y),
        (BinaryOp::Mul, I32(x), I32(y)) => I32(x.wrapping_mul(y)),
        (BinaryOp::Mul, U32(x), U32(y)) => U32(x.wrapping_mul(y)),
        (BinaryOp::Mul, Bool(x), Bool(y)) => Bool(x & y),
        (BinaryOp::Div, F32(x), F32(y)) => F32(x / y),
        (BinaryOp::Mod, F32(x), F32(y)) => F32(x % y),
        (BinaryOp::Max, F32(x), F32(y)) => F32(max_f32(x, y)),
        (BinaryOp::Max, I32(x), I32(y)) => I32(x.max(y)),
        (BinaryOp::Max, U32(x), U32(y)) => U32(x.max(y)),
        (BinaryOp::Max, Bool(x), Bool(y)) => Bool(x | y),
        (BinaryOp::Min, F32(x), F32(y)) => F32(min_f32(x, y)),
        (BinaryOp::Min, I32(x), I32(y)) => I32(x.min(y)),
        (BinaryOp::Min, U32(x), U32(y)) => U32(x.min(y)),
        (BinaryOp::Min, Bool(x), Bool(y)) => Bool(x & y),
        (BinaryOp::CmpLt, x, y) => Bool(match (x, y) {
            (F32(x), F32(y)) => x < y,
            (I32(x), I32(y)) => x < y,
            (U32(x), U32(y)) => x < y,
            (Bool(x), Bool(y)) => !x & y,
            _ => unreachable!("operands of one dtype"),
        }),
        (BinaryOp::CmpEq, x, y) => Bool(match (x, y) {
            (F32(x), F32(y)) => x == y,
            (x, y) => x.to_bits() == y.to_bits(),
        }),
        (BinaryOp::And, I32(x), I32(y)) => I32(x & y),
        (BinaryOp::And, U32(x), U32(y)) => U32(x & y),
        (BinaryOp::And, Bool(x), Bool(y)) => Bool(x & y),
        (BinaryOp::Or, I32(x), I32(y)) => I32(x | y),
        (BinaryOp::Or, U32(x), U32(y)) => U32(x | y),
        (BinaryOp::Or, Bool(x), Bool(y)) => Bool(x | y),
        (BinaryOp::Xor, I32(x), I32(y)) => I32(x ^ y),
        (BinaryOp::Xor, U32(x), U32(y)) => U32(x ^ y),
        (BinaryOp::Xor, Bool(x), Bool(y)) => Bool(x ^ y),
        (op, a, b) => panic!(
            "{} is not defined for {} and {}",
            op.name(),
            a.dtype(),
            b.dtype()
        ),
    }
}
