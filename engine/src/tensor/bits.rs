//! Logical and bitwise ops, and shifts with every amount defined.

use crate::dtype::{DType, Scalar};
use crate::graph::Op;
use crate::ops::BinaryOp;

use super::ops::user_op;
use super::Tensor;

/// Bits in every integer dtype kiln has: shifts by this much or more are defined here.

impl Tensor {
    /// Elementwise `a && b`, each operand read as bool (`!= 0`).
    #[track_caller]
    pub fn logical_and(&self, other: &Tensor) -> Tensor {
        self.logical(BinaryOp::And, other, "logical_and")
    }
    /// Elementwise `a || b`, each operand read as bool (`!= 0`).
    #[track_caller]
    pub fn logical_or(&self, other: &Tensor) -> Tensor {
        self.logical(BinaryOp::Or, other, "logical_or")
    }
    /// Elementwise `a != b` as bools, each operand read as bool (`!= 0`).
    #[track_caller]
    pub fn logical_xor(&self, other: &Tensor) -> Tensor {
        self.logical(BinaryOp::Xor, other, "logical_xor")
    }

    #[track_caller]
    fn logical(&self, op: BinaryOp, other: &Tensor, name: &'static str) -> Tensor {
        let _op = user_op(name);
        self.cast(DType::Bool).binary(op, &other.cast(DType::Bool))
    }

    /// Elementwise bitwise and of integer (or bool) tensors, with promotion (also `&`).
    #[track_caller]
    pub fn bitwise_and(&self, other: &Tensor) -> Tensor {
        self.bitwise(BinaryOp::And, other, "bitwise_and")
    }
    /// Elementwise bitwise or of integer (or bool) tensors, with promotion (also `|`).
    #[track_caller]
    pub fn bitwise_or(&self, other: &Tensor) -> Tensor {
        self.bitwise(BinaryOp::Or, other, "bitwise_or")
    }
    /// Elementwise bitwise xor of integer (or bool) tensors, with promotion (also `^`).
    #[track_caller]
    pub fn bitwise_xor(&self, other: &Tensor) -> Tensor {
        self.bitwise(BinaryOp::Xor, other, "bitwise_xor")
    }

    #[track_caller]
    fn bitwise(&self, op: BinaryOp, other: &Tensor, name: &'static str) -> Tensor {
        let _op = user_op(name);
        let (a, b) = self.coerce(other, name);
        assert!(
            !a.dtype().is_float(),
            "{name}: not defined for {} and {} (integer or bool operands only)",
            self.dtype(),
            other.dtype()
        );
        a.binary_same(op, &b)
    }

    /// Elementwise bitwise not of an integer tensor, logical not of a bool one (numpy's `~`,
    /// also `!`).
    #[track_caller]
    pub fn bitwise_not(&self) -> Tensor {
        let _op = user_op("bitwise_not");
        let ones = match self.dtype() {
            DType::Bool => Scalar::Bool(true),
            d if d.is_int() => Scalar::from_bits(u32::MAX, d),
            d => panic!("bitwise_not: not defined for {d}"),
        };
        let ones = Tensor::constant(ones, self.shape(), self.device());
        self.binary_same(BinaryOp::Xor, &ones)
    }

    /// `self << amount`, elementwise on integers (also `<<`). A shift by the dtype's width or
    /// more (32; 8 for u8 and i8; a negative amount read as a u32) gives 0, as numpy's
    /// `left_shift` does.
    #[track_caller]
    pub fn shl(&self, amount: &Tensor) -> Tensor {
        let _op = user_op("shl");
        let (x, s) = self.shift_operands(amount, "shl");
        let shifted = x.binary_same(BinaryOp::Shl, &s);
        shifted_past_width(&s, x.dtype()).where_(&x.scalar_like(0.0), &shifted)
    }

    /// `self >> amount`, elementwise on integers (also `>>`): arithmetic for i32, logical for
    /// u32, as numpy's `right_shift` (i8 and u8 likewise). A shift by the dtype's width or
    /// more (or by a negative amount, read as a u32) gives the sign fill: -1 for a negative
    /// signed value, else 0.
    #[track_caller]
    pub fn shr(&self, amount: &Tensor) -> Tensor {
        let _op = user_op("shr");
        let (x, s) = self.shift_operands(amount, "shr");
        let shifted = x.binary_same(BinaryOp::Shr, &s);
        let zero = x.scalar_like(0.0);
        let fill = match x.dtype().is_signed_int() {
            true => x.lt(&zero).where_(&x.scalar_like(-1.0), &zero),
            false => zero,
        };
        shifted_past_width(&s, x.dtype()).where_(&fill, &shifted)
    }

    /// The same 32 bits read as `dtype` (torch's `view(dtype)`, tinygrad's `bitcast`):
    /// between f32, i32 and u32.
    ///
    /// ```
    /// use kiln_engine::{DType, Device, Tensor};
    /// let x = Tensor::from_slice_on(&[1.0f32, -2.0], &[2], &Device::cpu())?;
    /// assert_eq!(x.bitcast(DType::U32).to_vec::<u32>()?, vec![0x3f80_0000, 0xc000_0000]);
    /// # Ok::<(), kiln_engine::Error>(())
    /// ```
    #[track_caller]
    pub fn bitcast(&self, dtype: DType) -> Tensor {
        let _op = user_op("bitcast");
        let words = [DType::F32, DType::I32, DType::U32];
        assert!(
            words.contains(&self.dtype()) && words.contains(&dtype),
            "bitcast: {} to {}: only between f32, i32 and u32",
            self.dtype(),
            dtype
        );
        if dtype == self.dtype() {
            return self.clone();
        }
        self.node_of(Op::Bitcast(dtype), vec![self], dtype, self.shape().to_vec())
    }

    #[track_caller]
    fn shift_operands(&self, amount: &Tensor, name: &str) -> (Tensor, Tensor) {
        let (x, s) = self.coerce(amount, name);
        assert!(
            x.dtype().is_int(),
            "{name}: not defined for {} and {} (integer operands only)",
            self.dtype(),
            amount.dtype()
        );
        (x, s)
    }
}

/// Where a shift amount (an integer tensor) is `dtype`'s width or more, reading it as a u32.
#[track_caller]
fn shifted_past_width(amount: &Tensor, dtype: DType) -> Tensor {
    let s = amount.cast(DType::U32);
    s.ge(&s.scalar_like(dtype.bits() as f64))
}
