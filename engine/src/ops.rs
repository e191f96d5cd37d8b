//! The primitive op vocabulary shared by every layer (graph, kernel AST, linear IR) and its
//! scalar semantics ([`Semantics`]), the one table the graph oracle and the CPU interpreter
//! evaluate.
//!
//! Everything users call that is not here (sub, exp, log, sigmoid, softmax, matmul...) is
//! composed from these in `tensor/`.

use half::{bf16, f16};

use crate::dtype::{DType, Scalar};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnaryOp {
    Neg,
    /// `e^x`: its own primitive so that each device computes it with a range reduction
    /// (`exp2(x · log2 e)` rounds the product, an error growing with `|x|`).
    Exp,
    Exp2,
    /// The natural logarithm: its own primitive so that each device can be accurate near 1,
    /// where WGSL lets `log2` be off by 2^-21 absolute.
    Log,
    Log2,
    Sin,
    /// A primitive rather than `sin(π/2 - x)`: that shift rounds away the low bits of large
    /// arguments (`cos(1e7)` would be off by 0.26).
    Cos,
    Sqrt,
    Recip,
    /// Rounds down to an integral value (floats only).
    Floor,
    /// Rounds up to an integral value.
    Ceil,
    /// Rounds toward zero.
    Trunc,
    /// Rounds to the nearest integral value, halves to even (numpy's `round`).
    Round,
    /// 1 where the sign bit is set (negative numbers, -0, NaNs with the bit), else 0, in the
    /// operand's dtype: read from the bits, so that no optimizer treating -0 as +0 loses it.
    SignBit,
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
    /// Bitwise on integers, logical on Bool.
    Or,
    /// Bitwise on integers, logical on Bool.
    Xor,
    /// `a << (b mod 32)` on integers (the shift amount's low 5 bits, as WGSL takes them).
    Shl,
    /// `a >> (b mod 32)` on integers: arithmetic for i32, logical for u32.
    Shr,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReduceOp {
    Sum,
    Prod,
    Max,
    Min,
}

/// The op an index check speaks for: what an out-of-range index error names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IndexOp {
    Gather,
    IndexSelect,
    Scatter,
    ScatterAdd,
    OneHot,
}

impl IndexOp {
    pub fn name(self) -> &'static str {
        match self {
            IndexOp::Gather => "gather",
            IndexOp::IndexSelect => "index_select",
            IndexOp::Scatter => "scatter",
            IndexOp::ScatterAdd => "scatter_add",
            IndexOp::OneHot => "one_hot",
        }
    }

    /// Whether a negative index counts from the end of the axis, as numpy's `take`,
    /// `take_along_axis` and `add.at` do (a class of `one_hot` cannot be negative).
    pub fn wraps_negative(self) -> bool {
        !matches!(self, IndexOp::OneHot)
    }

    /// The position `i` names on an axis of `len`, or `None` when it is out of range.
    pub fn check(self, i: i64, len: usize) -> Option<usize> {
        let len = len as i64;
        let w = if i < 0 && self.wraps_negative() {
            i + len
        } else {
            i
        };
        (0..len).contains(&w).then_some(w as usize)
    }
}

impl UnaryOp {
    pub fn name(self) -> &'static str {
        match self {
            UnaryOp::Neg => "neg",
            UnaryOp::Exp => "exp",
            UnaryOp::Exp2 => "exp2",
            UnaryOp::Log => "log",
            UnaryOp::Log2 => "log2",
            UnaryOp::Sin => "sin",
            UnaryOp::Cos => "cos",
            UnaryOp::Sqrt => "sqrt",
            UnaryOp::Recip => "recip",
            UnaryOp::Floor => "floor",
            UnaryOp::Ceil => "ceil",
            UnaryOp::Trunc => "trunc",
            UnaryOp::Round => "round",
            UnaryOp::SignBit => "signbit",
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
            BinaryOp::Shl => "shl",
            BinaryOp::Shr => "shr",
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
        let (lowest, highest) = match d {
            DType::Bool => (0.0, 1.0),
            DType::U8 => (0.0, u8::MAX as f64),
            DType::I8 => (i8::MIN as f64, i8::MAX as f64),
            DType::U32 => (0.0, u32::MAX as f64),
            DType::I32 => (i32::MIN as f64, i32::MAX as f64),
            _ => (f64::NEG_INFINITY, f64::INFINITY),
        };
        match self {
            ReduceOp::Sum => Scalar::from_f64(0.0, d),
            ReduceOp::Prod => Scalar::from_f64(1.0, d),
            ReduceOp::Max => Scalar::from_f64(lowest, d),
            ReduceOp::Min => Scalar::from_f64(highest, d),
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

/// The scalar semantics of the elementwise primitives on one element type: the one
/// definition that the graph oracle ([`eval_unary`], [`eval_binary`]) and the CPU
/// interpreter (over whole lanes) evaluate, so the two cannot drift. The WGSL renderer spells
/// the same rules in WGSL (NaN-propagating max/min, wrapping integers).
pub trait Semantics: Copy {
    /// `op(x)`. Panics, naming the op and dtype, where the op is not defined for the type.
    fn unary(op: UnaryOp, x: Self) -> Self;
    /// `a op b` for the ops whose result has the operands' type (not the comparisons).
    fn binary(op: BinaryOp, a: Self, b: Self) -> Self;
    /// `a < b` (`CmpLt`) or `a == b` (`CmpEq`).
    fn compare(op: BinaryOp, a: Self, b: Self) -> bool;
}

fn undefined(op: &str, dtype: DType) -> ! {
    panic!("{op} is not defined for {dtype}")
}

impl Semantics for f32 {
    #[inline]
    fn unary(op: UnaryOp, x: f32) -> f32 {
        match op {
            UnaryOp::Neg => -x,
            UnaryOp::Exp => x.exp(),
            UnaryOp::Exp2 => x.exp2(),
            UnaryOp::Log => x.ln(),
            UnaryOp::Log2 => x.log2(),
            UnaryOp::Sin => x.sin(),
            UnaryOp::Cos => x.cos(),
            UnaryOp::Sqrt => x.sqrt(),
            UnaryOp::Recip => 1.0 / x,
            UnaryOp::Floor => x.floor(),
            UnaryOp::Ceil => x.ceil(),
            UnaryOp::Trunc => x.trunc(),
            UnaryOp::Round => x.round_ties_even(),
            UnaryOp::SignBit => x.is_sign_negative() as u8 as f32,
        }
    }
    #[inline]
    fn binary(op: BinaryOp, a: f32, b: f32) -> f32 {
        match op {
            BinaryOp::Add => a + b,
            BinaryOp::Mul => a * b,
            BinaryOp::Div => a / b,
            BinaryOp::Mod => a % b,
            BinaryOp::Max => max_f32(a, b),
            BinaryOp::Min => min_f32(a, b),
            op => undefined(op.name(), DType::F32),
        }
    }
    #[inline]
    fn compare(op: BinaryOp, a: f32, b: f32) -> bool {
        match op {
            BinaryOp::CmpLt => a < b,
            BinaryOp::CmpEq => a == b,
            op => undefined(op.name(), DType::F32),
        }
    }
}

/// Integers wrap (as WGSL's do); `/` and `%` truncate, for the index math of kernels.
macro_rules! integer_semantics {
    ($t:ty, $dtype:expr) => {
        impl Semantics for $t {
            #[inline]
            fn unary(op: UnaryOp, x: $t) -> $t {
                match op {
                    UnaryOp::Neg => x.wrapping_neg(),
                    op => undefined(op.name(), $dtype),
                }
            }
            #[inline]
            fn binary(op: BinaryOp, a: $t, b: $t) -> $t {
                match op {
                    BinaryOp::Add => a.wrapping_add(b),
                    BinaryOp::Mul => a.wrapping_mul(b),
                    BinaryOp::Div => a.wrapping_div(b),
                    BinaryOp::Mod => a.wrapping_rem(b),
                    BinaryOp::Max => a.max(b),
                    BinaryOp::Min => a.min(b),
                    BinaryOp::And => a & b,
                    BinaryOp::Or => a | b,
                    BinaryOp::Xor => a ^ b,
                    // `wrapping_sh*` take the amount mod 32; `>>` is arithmetic on i32.
                    BinaryOp::Shl => a.wrapping_shl(b as u32),
                    BinaryOp::Shr => a.wrapping_shr(b as u32),
                    op => undefined(op.name(), $dtype),
                }
            }
            #[inline]
            fn compare(op: BinaryOp, a: $t, b: $t) -> bool {
                match op {
                    BinaryOp::CmpLt => a < b,
                    BinaryOp::CmpEq => a == b,
                    op => undefined(op.name(), $dtype),
                }
            }
        }
    };
}
integer_semantics!(i32, DType::I32);
integer_semantics!(u32, DType::U32);

/// The packed dtypes compute in their register type (f32, u32 or i32) and round or wrap the
/// result back, exactly as a kernel does (see `DType::register`).
macro_rules! narrow_semantics {
    ($t:ty, $wide:ty, $widen:expr, $narrow:expr) => {
        impl Semantics for $t {
            #[inline]
            fn unary(op: UnaryOp, x: $t) -> $t {
                $narrow(<$wide>::unary(op, $widen(x)))
            }
            #[inline]
            fn binary(op: BinaryOp, a: $t, b: $t) -> $t {
                $narrow(<$wide>::binary(op, $widen(a), $widen(b)))
            }
            #[inline]
            fn compare(op: BinaryOp, a: $t, b: $t) -> bool {
                <$wide>::compare(op, $widen(a), $widen(b))
            }
        }
    };
}
narrow_semantics!(f16, f32, f16::to_f32, f16::from_f32);
narrow_semantics!(bf16, f32, bf16::to_f32, bf16::from_f32);
narrow_semantics!(u8, u32, |x: u8| x as u32, |x: u32| x as u8);
narrow_semantics!(i8, i32, |x: i8| x as i32, |x: i32| x as i8);

/// Bools are logical: `+` and `max` are or, `*` and `min` are and, negation is the identity.
impl Semantics for bool {
    #[inline]
    fn unary(op: UnaryOp, x: bool) -> bool {
        match op {
            UnaryOp::Neg => x,
            op => undefined(op.name(), DType::Bool),
        }
    }
    #[inline]
    fn binary(op: BinaryOp, a: bool, b: bool) -> bool {
        match op {
            BinaryOp::Add | BinaryOp::Max | BinaryOp::Or => a | b,
            BinaryOp::Mul | BinaryOp::Min | BinaryOp::And => a & b,
            BinaryOp::Xor => a ^ b,
            op => undefined(op.name(), DType::Bool),
        }
    }
    #[inline]
    fn compare(op: BinaryOp, a: bool, b: bool) -> bool {
        match op {
            BinaryOp::CmpLt => !a & b,
            BinaryOp::CmpEq => a == b,
            op => undefined(op.name(), DType::Bool),
        }
    }
}

/// [`Semantics::unary`] on a [`Scalar`].
pub fn eval_unary(op: UnaryOp, x: Scalar) -> Scalar {
    match x {
        Scalar::F32(v) => Scalar::F32(f32::unary(op, v)),
        Scalar::I32(v) => Scalar::I32(i32::unary(op, v)),
        Scalar::U32(v) => Scalar::U32(u32::unary(op, v)),
        Scalar::Bool(v) => Scalar::Bool(bool::unary(op, v)),
        Scalar::F16(v) => Scalar::F16(f16::unary(op, v)),
        Scalar::BF16(v) => Scalar::BF16(bf16::unary(op, v)),
        Scalar::U8(v) => Scalar::U8(u8::unary(op, v)),
        Scalar::I8(v) => Scalar::I8(i8::unary(op, v)),
    }
}

/// [`Semantics::binary`] or [`Semantics::compare`] on two [`Scalar`]s of one dtype.
pub fn eval_binary(op: BinaryOp, a: Scalar, b: Scalar) -> Scalar {
    fn apply<T: Semantics>(op: BinaryOp, a: T, b: T, wrap: fn(T) -> Scalar) -> Scalar {
        match op.is_comparison() {
            true => Scalar::Bool(T::compare(op, a, b)),
            false => wrap(T::binary(op, a, b)),
        }
    }
    match (a, b) {
        (Scalar::F32(x), Scalar::F32(y)) => apply(op, x, y, Scalar::F32),
        (Scalar::I32(x), Scalar::I32(y)) => apply(op, x, y, Scalar::I32),
        (Scalar::U32(x), Scalar::U32(y)) => apply(op, x, y, Scalar::U32),
        (Scalar::Bool(x), Scalar::Bool(y)) => apply(op, x, y, Scalar::Bool),
        (Scalar::F16(x), Scalar::F16(y)) => apply(op, x, y, Scalar::F16),
        (Scalar::BF16(x), Scalar::BF16(y)) => apply(op, x, y, Scalar::BF16),
        (Scalar::U8(x), Scalar::U8(y)) => apply(op, x, y, Scalar::U8),
        (Scalar::I8(x), Scalar::I8(y)) => apply(op, x, y, Scalar::I8),
        (a, b) => panic!(
            "{} is not defined for {} and {}",
            op.name(),
            a.dtype(),
            b.dtype()
        ),
    }
}
