//! `std::ops` for tensors: `+ - * /` between tensors and with `f32` and `i32` scalars (one
//! integer type, so that a literal `1` needs no suffix), and unary `-`.
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
        scalar_operator!($trait, $method, $imp, f32);
        scalar_operator!($trait, $method, $imp, i32);
    };
}
use std::ops::{Add, Div, Mul, Sub};
binary_operator!(Add, add, add);
binary_operator!(Sub, sub, sub);
binary_operator!(Mul, mul, mul);
binary_operator!(Div, div, div);

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
