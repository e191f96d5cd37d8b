//! `std::ops` for tensors: `+ - * / %` between tensors and with `f32` and `i32` scalars (one
//! integer type, so that a literal `1` needs no suffix), `& | ^ << >>` between integer or
//! bool tensors and with `i32` scalars, unary `-` and `!`.
//! They live apart from the inherent methods so that, inside `ops.rs`, `x.sub(&y)` resolves to
//! the inherent `&self` method and not to `std::ops::Sub::sub(self, ..)`.

use crate::dtype::{DType, Element, Scalar};

use super::Tensor;

/// A Rust scalar as the other operand of a tensor: numpy's weak scalars. It takes the
/// tensor's dtype where its kind fits (an integer with any numeric tensor, a float with a
/// float tensor), so `int_tensor + 1` stays an integer tensor and `x * 2.0` keeps `x`'s
/// float dtype; otherwise (a float with an integer tensor, anything with bools) it keeps its
/// own dtype and the usual promotion applies.
fn weak_scalar(s: Scalar, like: &Tensor) -> Tensor {
    let d = like.dtype();
    let s = match s {
        Scalar::I32(_) | Scalar::U32(_) if d != DType::Bool => s.cast(d),
        Scalar::F32(_) if d.is_float() => s.cast(d),
        _ => s,
    };
    Tensor::constant(s, &[], like.device())
}

macro_rules! scalar_operator {
    ($trait:ident, $method:ident, $imp:ident, $t:ty) => {
        impl $trait<$t> for &Tensor {
            type Output = Tensor;
            #[track_caller]
            fn $method(self, rhs: $t) -> Tensor {
                Tensor::$imp(self, &weak_scalar(rhs.to_scalar(), self))
            }
        }
        impl $trait<$t> for Tensor {
            type Output = Tensor;
            #[track_caller]
            fn $method(self, rhs: $t) -> Tensor {
                Tensor::$imp(&self, &weak_scalar(rhs.to_scalar(), &self))
            }
        }
        impl $trait<&Tensor> for $t {
            type Output = Tensor;
            #[track_caller]
            fn $method(self, rhs: &Tensor) -> Tensor {
                Tensor::$imp(&weak_scalar(self.to_scalar(), rhs), rhs)
            }
        }
        impl $trait<Tensor> for $t {
            type Output = Tensor;
            #[track_caller]
            fn $method(self, rhs: Tensor) -> Tensor {
                Tensor::$imp(&weak_scalar(self.to_scalar(), &rhs), &rhs)
            }
        }
    };
}

macro_rules! binary_operator {
    ($trait:ident, $method:ident, $imp:ident; $($scalar:ty),*) => {
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
        $(scalar_operator!($trait, $method, $imp, $scalar);)*
    };
}
use std::ops::{Add, BitAnd, BitOr, BitXor, Div, Mul, Rem, Shl, Shr, Sub};
binary_operator!(Add, add, add; f32, i32);
binary_operator!(Sub, sub, sub; f32, i32);
binary_operator!(Mul, mul, mul; f32, i32);
binary_operator!(Div, div, div; f32, i32);
binary_operator!(Rem, rem, rem; f32, i32);
binary_operator!(BitAnd, bitand, bitwise_and; i32);
binary_operator!(BitOr, bitor, bitwise_or; i32);
binary_operator!(BitXor, bitxor, bitwise_xor; i32);
binary_operator!(Shl, shl, shl; i32);
binary_operator!(Shr, shr, shr; i32);

/// `!t`: logical not of a bool tensor, bitwise not of an integer one (numpy's `~`).
impl std::ops::Not for &Tensor {
    type Output = Tensor;
    #[track_caller]
    fn not(self) -> Tensor {
        Tensor::bitwise_not(self)
    }
}
impl std::ops::Not for Tensor {
    type Output = Tensor;
    #[track_caller]
    fn not(self) -> Tensor {
        Tensor::bitwise_not(&self)
    }
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
