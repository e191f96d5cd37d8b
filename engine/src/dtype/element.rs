//! The `Element` trait: the Rust types a tensor's data can be read from and written to.

use std::fmt;

use half::{bf16, f16};

use super::{DType, Scalar};

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for i32 {}
    impl Sealed for u32 {}
    impl Sealed for bool {}
    impl Sealed for half::f16 {}
    impl Sealed for half::bf16 {}
    impl Sealed for u8 {}
    impl Sealed for i8 {}
}

/// A Rust scalar type that maps to a kiln [`DType`]: `f32`, `i32`, `u32`, `bool`, `u8`, `i8`,
/// [`half::f16`] and [`half::bf16`] (re-exported as `kiln::f16` and `kiln::bf16`).
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
element!(f16, F16);
element!(bf16, BF16);
element!(u8, U8);
element!(i8, I8);
