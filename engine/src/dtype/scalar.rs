//! One host-side value of any dtype, and the one definition of a value conversion (`cast`)
//! that the oracle, the CPU interpreter and the WGSL renderer all follow.

use std::fmt;

use half::{bf16, f16};

use super::DType;

/// One host-side value of any dtype. Used for constants in the graph and the kernel IR, and by
/// the oracle and the CPU interpreter.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Scalar {
    /// A `bool` value.
    Bool(bool),
    /// A `u8` value.
    U8(u8),
    /// An `i8` value.
    I8(i8),
    /// A `u32` value.
    U32(u32),
    /// An `i32` value.
    I32(i32),
    /// An `f16` value.
    F16(f16),
    /// A `bf16` value.
    BF16(bf16),
    /// An `f32` value.
    F32(f32),
}

impl Scalar {
    /// The value's dtype.
    pub fn dtype(self) -> DType {
        match self {
            Scalar::Bool(_) => DType::Bool,
            Scalar::U8(_) => DType::U8,
            Scalar::I8(_) => DType::I8,
            Scalar::U32(_) => DType::U32,
            Scalar::I32(_) => DType::I32,
            Scalar::F16(_) => DType::F16,
            Scalar::BF16(_) => DType::BF16,
            Scalar::F32(_) => DType::F32,
        }
    }

    /// Converts `v` to `dtype` with the semantics of a `cast` from f32 (float to int truncates
    /// and saturates, anything to bool is `!= 0`). Integers are exact up to 2^24.
    pub fn from_f64(v: f64, dtype: DType) -> Scalar {
        match dtype {
            // Integers directly, so values past f32's 24 bits survive (`i32::MAX`).
            DType::I32 => Scalar::I32(v as i32),
            DType::U32 => Scalar::U32(v as u32),
            d => Scalar::F32(v as f32).cast(d),
        }
    }

    /// The value as an `f64` (exact for every dtype kiln has; bools are 0 and 1).
    pub fn to_f64(self) -> f64 {
        match self {
            Scalar::Bool(b) => b as u8 as f64,
            Scalar::U8(v) => v as f64,
            Scalar::I8(v) => v as f64,
            Scalar::U32(v) => v as f64,
            Scalar::I32(v) => v as f64,
            Scalar::F16(v) => v.to_f64(),
            Scalar::BF16(v) => v.to_f64(),
            Scalar::F32(v) => v as f64,
        }
    }

    /// The value in its register dtype ([`DType::register`]): f16 and bf16 as f32, u8 as u32,
    /// i8 as i32 (exact).
    pub fn widen(self) -> Scalar {
        match self {
            Scalar::U8(v) => Scalar::U32(v as u32),
            Scalar::I8(v) => Scalar::I32(v as i32),
            Scalar::F16(v) => Scalar::F32(v.to_f32()),
            Scalar::BF16(v) => Scalar::F32(v.to_f32()),
            s => s,
        }
    }

    /// `cast` semantics shared by the oracle, the CPU interpreter and (spelled in WGSL) the
    /// renderer: Rust's `as` between the register values.
    ///
    /// - to bool: `!= 0` (NaN is true);
    /// - between integers: wraps (keeps the low bits, sign-extending from i8);
    /// - float to integer: truncates toward zero, saturates at the target's bounds, NaN is 0;
    /// - to f16 or bf16: through f32 (an integer is first rounded to f32), then rounded to
    ///   nearest even, as `half` does; from f16 or bf16: exact.
    pub fn cast(self, to: DType) -> Scalar {
        let v = self.widen();
        match (v, to) {
            (s, t) if s.dtype() == t => s,
            (Scalar::F32(x), DType::Bool) => Scalar::Bool(x != 0.0),
            (s, DType::Bool) => Scalar::Bool(s.to_bits() != 0),
            (Scalar::F32(x), DType::F16) => Scalar::F16(f16::from_f32(x)),
            (Scalar::F32(x), DType::BF16) => Scalar::BF16(bf16::from_f32(x)),
            (Scalar::F32(x), DType::I32) => Scalar::I32(f32_to_i32(x)),
            (Scalar::F32(x), DType::U32) => Scalar::U32(f32_to_u32(x)),
            (Scalar::F32(x), DType::U8) => Scalar::U8(x as u8),
            (Scalar::F32(x), DType::I8) => Scalar::I8(x as i8),
            (s, t) if t.is_float() => Scalar::F32(s.int_value() as f32).cast(t),
            (s, DType::U32) => Scalar::U32(s.int_value() as u32),
            (s, DType::I32) => Scalar::I32(s.int_value() as i32),
            (s, DType::U8) => Scalar::U8(s.int_value() as u8),
            (s, DType::I8) => Scalar::I8(s.int_value() as i8),
            (s, t) => unreachable!("cast {} to {t}", s.dtype()),
        }
    }

    /// An integer or bool register value as i64 (u32 zero-extended).
    fn int_value(self) -> i64 {
        match self {
            Scalar::Bool(b) => b as i64,
            Scalar::U32(v) => v as i64,
            Scalar::I32(v) => v as i64,
            s => unreachable!("int_value of {}", s.dtype()),
        }
    }

    /// The value's bits, zero-extended to 32 (the word of a 4-byte dtype; the low 16 or 8
    /// bits of a packed one).
    pub fn to_bits(self) -> u32 {
        match self {
            Scalar::Bool(b) => b as u32,
            Scalar::U8(v) => v as u32,
            Scalar::I8(v) => v as u8 as u32,
            Scalar::U32(v) => v,
            Scalar::I32(v) => v as u32,
            Scalar::F16(v) => v.to_bits() as u32,
            Scalar::BF16(v) => v.to_bits() as u32,
            Scalar::F32(v) => v.to_bits(),
        }
    }

    /// The value of `dtype` whose bits ([`Scalar::to_bits`]) are `bits` (higher bits than the
    /// dtype has are ignored).
    pub fn from_bits(bits: u32, dtype: DType) -> Scalar {
        match dtype {
            DType::Bool => Scalar::Bool(bits != 0),
            DType::U8 => Scalar::U8(bits as u8),
            DType::I8 => Scalar::I8(bits as u8 as i8),
            DType::U32 => Scalar::U32(bits),
            DType::I32 => Scalar::I32(bits as i32),
            DType::F16 => Scalar::F16(f16::from_bits(bits as u16)),
            DType::BF16 => Scalar::BF16(bf16::from_bits(bits as u16)),
            DType::F32 => Scalar::F32(f32::from_bits(bits)),
        }
    }

    /// A key that is equal exactly when the bits are (so NaN constants hash-cons, and 0.0 and
    /// -0.0 stay distinct).
    pub fn key(self) -> (DType, u32) {
        (self.dtype(), self.to_bits())
    }
}

impl fmt::Display for Scalar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scalar::Bool(v) => write!(f, "{v}"),
            Scalar::U8(v) => write!(f, "{v}"),
            Scalar::I8(v) => write!(f, "{v}"),
            Scalar::U32(v) => write!(f, "{v}"),
            Scalar::I32(v) => write!(f, "{v}"),
            Scalar::F16(v) => write!(f, "{:?}", v.to_f32()),
            Scalar::BF16(v) => write!(f, "{:?}", v.to_f32()),
            Scalar::F32(v) => write!(f, "{v:?}"),
        }
    }
}

/// f32 → i32 is Rust's `as` on every path (oracle, constant folding, CPU device, WGSL):
/// truncate toward zero, saturate at `i32::MIN`/`i32::MAX`, NaN gives 0.
pub fn f32_to_i32(v: f32) -> i32 {
    v as i32
}

/// f32 → u32 is Rust's `as`: truncate toward zero, saturate at 0 and `u32::MAX`, NaN gives 0.
pub fn f32_to_u32(v: f32) -> u32 {
    v as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn casts_follow_rusts_as() {
        assert_eq!(Scalar::F32(3e9).cast(DType::I32), Scalar::I32(i32::MAX));
        assert_eq!(Scalar::F32(f32::NAN).cast(DType::U32), Scalar::U32(0));
        assert_eq!(Scalar::F32(1e10).cast(DType::U32), Scalar::U32(u32::MAX));
        assert_eq!(Scalar::F32(-2.7).cast(DType::I32), Scalar::I32(-2));
        assert_eq!(Scalar::F32(-2.7).cast(DType::U32), Scalar::U32(0));
        assert_eq!(Scalar::I32(-1).cast(DType::U32), Scalar::U32(u32::MAX));
        assert_eq!(Scalar::F32(0.5).cast(DType::Bool), Scalar::Bool(true));
        assert_eq!(Scalar::Bool(true).cast(DType::F32), Scalar::F32(1.0));
    }

    #[test]
    fn packed_casts_wrap_saturate_and_round_to_even() {
        assert_eq!(Scalar::I32(300).cast(DType::U8), Scalar::U8(44));
        assert_eq!(Scalar::I32(200).cast(DType::I8), Scalar::I8(-56));
        assert_eq!(Scalar::I8(-1).cast(DType::U32), Scalar::U32(u32::MAX));
        assert_eq!(Scalar::U8(255).cast(DType::I8), Scalar::I8(-1));
        assert_eq!(Scalar::F32(300.0).cast(DType::U8), Scalar::U8(255));
        assert_eq!(Scalar::F32(-300.0).cast(DType::I8), Scalar::I8(-128));
        assert_eq!(Scalar::F16(f16::NAN).cast(DType::U8), Scalar::U8(0));
        // 1 + 2^-11 is halfway between two f16 values: ties go to the even one, 1.0.
        let tie = 1.0 + f32::powi(2.0, -11);
        assert_eq!(Scalar::F32(tie).cast(DType::F16), Scalar::F16(f16::ONE));
        assert_eq!(
            Scalar::F32(1e6).cast(DType::F16),
            Scalar::F16(f16::INFINITY)
        );
        assert_eq!(Scalar::F16(f16::MAX).cast(DType::BF16).to_f64(), 65536.0);
        assert_eq!(Scalar::from_f64(-1.0, DType::U8), Scalar::U8(0));
    }
}
