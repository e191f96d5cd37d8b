//! `std::ops` for tensors: `+ - * /` between tensors and with `f32` scalars, and unary `-`.
//! They live apart from the inherent methods so that, inside `ops.rs`, `x.sub(&y)` resolves to
//! the inherent `&self` method and not to `std::ops::Sub::sub(self, ..)`.

use crate::dtype::Scalar;

use super::Tensor;

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
