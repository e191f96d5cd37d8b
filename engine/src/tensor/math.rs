//! Elementwise math beyond the primitives' names: rounding, signs, float classes and the
//! activations composed from them.

use crate::dtype::DType;
use crate::ops::UnaryOp;

use super::ops::user_op;
use super::Tensor;

impl Tensor {
    /// Rounds down (numpy's `floor`); integers are returned as they are.
    #[track_caller]
    pub fn floor(&self) -> Tensor {
        self.rounded(UnaryOp::Floor)
    }
    /// Rounds up (numpy's `ceil`); integers are returned as they are.
    #[track_caller]
    pub fn ceil(&self) -> Tensor {
        self.rounded(UnaryOp::Ceil)
    }
    /// Rounds toward zero (numpy's `trunc`); integers are returned as they are.
    #[track_caller]
    pub fn trunc(&self) -> Tensor {
        self.rounded(UnaryOp::Trunc)
    }
    /// Rounds to the nearest integral value, halves to even (numpy's `round`: 2.5 gives 2);
    /// integers are returned as they are.
    #[track_caller]
    pub fn round(&self) -> Tensor {
        self.rounded(UnaryOp::Round)
    }

    #[track_caller]
    fn rounded(&self, op: UnaryOp) -> Tensor {
        match self.dtype() {
            DType::Bool => panic!("{}: not defined for bool", op.name()),
            DType::I32 | DType::U32 => self.clone(),
            DType::F32 => self.unary(op),
        }
    }

    /// -1, 0 or 1 by the sign (numpy's `sign`: NaN stays NaN, both zeros give 0).
    #[track_caller]
    pub fn sign(&self) -> Tensor {
        let _op = user_op("sign");
        assert!(self.dtype() != DType::Bool, "sign: not defined for bool");
        let zero = self.scalar_like(0.0);
        let keep_nan = self.isnan().where_(self, &zero);
        let negative = self.lt(&zero).where_(&self.scalar_like(-1.0), &keep_nan);
        zero.lt(self).where_(&self.scalar_like(1.0), &negative)
    }

    /// `x * x`, in the tensor's dtype.
    #[track_caller]
    pub fn square(&self) -> Tensor {
        let _op = user_op("square");
        self.mul(self)
    }

    /// Whether each element is NaN (never, for integers and bools).
    #[track_caller]
    pub fn isnan(&self) -> Tensor {
        let _op = user_op("isnan");
        self.ne(self)
    }
    /// Whether each element is +inf or -inf (never, for integers and bools).
    #[track_caller]
    pub fn isinf(&self) -> Tensor {
        let _op = user_op("isinf");
        match self.dtype() {
            DType::F32 => self.abs().eq(&self.scalar_like(f64::INFINITY)),
            _ => Tensor::full_on(self.shape(), 0.0, DType::Bool, self.device()),
        }
    }
    /// Whether each element is neither infinite nor NaN (always, for integers and bools).
    #[track_caller]
    pub fn isfinite(&self) -> Tensor {
        let _op = user_op("isfinite");
        match self.dtype() {
            DType::F32 => self.abs().lt(&self.scalar_like(f64::INFINITY)),
            _ => Tensor::full_on(self.shape(), 1.0, DType::Bool, self.device()),
        }
    }

    /// `x` where it is positive, `slope * x` elsewhere (torch's `leaky_relu`), in f32 for
    /// integers.
    #[track_caller]
    pub fn leaky_relu(&self, slope: f64) -> Tensor {
        let _op = user_op("leaky_relu");
        let x = self.float();
        x.scalar_like(0.0)
            .lt(&x)
            .where_(&x, &x.mul(&x.scalar_like(slope)))
    }

    /// `x * sigmoid(x)` (the SiLU or swish activation).
    #[track_caller]
    pub fn silu(&self) -> Tensor {
        let _op = user_op("silu");
        let x = self.float();
        x.mul(&x.sigmoid())
    }
}
