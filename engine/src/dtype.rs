//! Element types: the `DType` enum, host scalars (`Scalar`), the `Element` trait that maps Rust
//! types to dtypes, and the promotion lattice used by binary ops.

use std::fmt;

/// The element type of a tensor.
///
/// `F32`, `I32`, `U32` and `Bool` are supported today. Every dtype is stored on devices in 4
/// bytes (a `Bool` is a `u32` that is 0 or 1) because WGSL storage buffers cannot hold `bool`
/// and sub-word stores need atomics. The enum is `non_exhaustive` so F16, BF16, U8, I8 and I64
/// can be added without breaking users.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum DType {
    /// `bool`, stored as a 0/1 `u32`.
    Bool,
    /// `u32`.
    U32,
    /// `i32`.
    I32,
    /// `f32`.
    F32,
}

impl DType {
    /// Bytes per element in a device buffer.
    pub fn storage_bytes(self) -> usize {
        4
    }
    /// Whether the dtype is a floating-point type.
    pub fn is_float(self) -> bool {
        matches!(self, DType::F32)
    }
    /// Whether the dtype is an integer type (not bool).
    pub fn is_int(self) -> bool {
        matches!(self, DType::I32 | DType::U32)
    }
    /// Short name used in kernel names, errors and DEBUG output (numpy's spelling).
    pub fn name(self) -> &'static str {
        match self {
            DType::Bool => "bool",
            DType::U32 => "u32",
            DType::I32 => "i32",
            DType::F32 => "f32",
        }
    }

    /// The least dtype both operands convert to without surprise.
    ///
    /// The lattice is `bool < u32, i32 < f32`, as numpy orders these. numpy sends `u32 ⊔ i32` to
    /// i64, which kiln does not have yet; like JAX with 64-bit types disabled we pick `i32`.
    pub fn promote(a: DType, b: DType) -> DType {
        use DType::*;
        match (a, b) {
            (x, y) if x == y => x,
            (F32, _) | (_, F32) => F32,
            (I32, _) | (_, I32) => I32,
            (U32, _) | (_, U32) => U32,
            _ => Bool,
        }
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One host-side value of any dtype. Used for constants in the graph and the kernel IR, and by
/// the oracle and the CPU interpreter.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Scalar {
    /// A `bool` value.
    Bool(bool),
    /// A `u32` value.
    U32(u32),
    /// An `i32` value.
    I32(i32),
    /// An `f32` value.
    F32(f32),
}

impl Scalar {
    /// The value's dtype.
    pub fn dtype(self) -> DType {
        match self {
            Scalar::Bool(_) => DType::Bool,
            Scalar::U32(_) => DType::U32,
            Scalar::I32(_) => DType::I32,
            Scalar::F32(_) => DType::F32,
        }
    }

    /// Converts `v` to `dtype` with the semantics of a `cast` (float to int truncates and
    /// saturates, anything to bool is `!= 0`).
    pub fn from_f64(v: f64, dtype: DType) -> Scalar {
        match dtype {
            DType::Bool => Scalar::Bool(v != 0.0),
            DType::U32 => Scalar::U32(v as u32),
            DType::I32 => Scalar::I32(v as i32),
            DType::F32 => Scalar::F32(v as f32),
        }
    }

    /// The value as an `f64` (exact for every dtype kiln has; bools are 0 and 1).
    pub fn to_f64(self) -> f64 {
        match self {
            Scalar::Bool(b) => b as u8 as f64,
            Scalar::U32(v) => v as f64,
            Scalar::I32(v) => v as f64,
            Scalar::F32(v) => v as f64,
        }
    }

    /// `cast` semantics shared by the oracle and the CPU interpreter (they match WGSL's value
    /// conversions: float to int truncates toward zero and saturates; i32 <-> u32 reinterprets
    /// the bits).
    pub fn cast(self, to: DType) -> Scalar {
        match (self, to) {
            (s, t) if s.dtype() == t => s,
            (Scalar::I32(v), DType::U32) => Scalar::U32(v as u32),
            (Scalar::U32(v), DType::I32) => Scalar::I32(v as i32),
            (Scalar::F32(v), DType::Bool) => Scalar::Bool(v != 0.0),
            (s, DType::Bool) => Scalar::Bool(s.to_bits() != 0),
            (Scalar::F32(v), DType::I32) => Scalar::I32(f32_to_i32(v)),
            (Scalar::F32(v), DType::U32) => Scalar::U32(f32_to_u32(v)),
            (s, t) => Scalar::from_f64(s.to_f64(), t),
        }
    }

    /// The 4-byte device representation.
    pub fn to_bits(self) -> u32 {
        match self {
            Scalar::Bool(b) => b as u32,
            Scalar::U32(v) => v,
            Scalar::I32(v) => v as u32,
            Scalar::F32(v) => v.to_bits(),
        }
    }

    /// The value of `dtype` whose 4-byte device representation is `bits`.
    pub fn from_bits(bits: u32, dtype: DType) -> Scalar {
        match dtype {
            DType::Bool => Scalar::Bool(bits != 0),
            DType::U32 => Scalar::U32(bits),
            DType::I32 => Scalar::I32(bits as i32),
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
            Scalar::U32(v) => write!(f, "{v}"),
            Scalar::I32(v) => write!(f, "{v}"),
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

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for i32 {}
    impl Sealed for u32 {}
    impl Sealed for bool {}
}

/// A Rust scalar type that maps to a kiln [`DType`]: `f32`, `i32`, `u32` and `bool`.
pub trait Element: sealed::Sealed + Copy + Send + Sync + fmt::Debug + 'static {
    /// The kiln dtype of this Rust type.
    const DTYPE: DType;
    /// The value as a [`Scalar`].
    fn to_scalar(self) -> Scalar;
    /// `None` when the scalar is of another dtype.
    fn from_scalar(s: Scalar) -> Option<Self>;
}

macro_rules! element {
    ($t:ty, $variant:ident) => {
        impl Element for $t {
            const DTYPE: DType = DType::$variant;
            fn to_scalar(self) -> Scalar {
                Scalar::$variant(self)
            }
            fn from_scalar(s: Scalar) -> Option<Self> {
                match s {
                    Scalar::$variant(v) => Some(v),
                    _ => None,
                }
            }
        }
    };
}
element!(f32, F32);
element!(i32, I32);
element!(u32, U32);
element!(bool, Bool);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn promotion_is_a_lattice() {
        use DType::*;
        let all = [Bool, U32, I32, F32];
        for a in all {
            for b in all {
                assert_eq!(DType::promote(a, b), DType::promote(b, a));
                assert_eq!(
                    DType::promote(a, DType::promote(a, b)),
                    DType::promote(a, b)
                );
            }
        }
        assert_eq!(DType::promote(Bool, U32), U32);
        assert_eq!(DType::promote(U32, I32), I32);
        assert_eq!(DType::promote(I32, F32), F32);
    }

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
}
