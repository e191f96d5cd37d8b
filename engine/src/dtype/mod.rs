//! Element types: the `DType` enum and its promotion lattice, host scalars (`Scalar`), the
//! `Element` trait that maps Rust types to dtypes, and how elements are packed into the
//! 32-bit words of a device buffer.

use std::fmt;

mod element;
mod packing;
mod scalar;

pub use element::Element;
pub use packing::{pack_words, read_element, unpack_words, write_element};
pub use scalar::Scalar;

/// The element type of a tensor.
///
/// `F32`, `I32`, `U32` and `Bool` take 4 bytes on a device (a `Bool` is a `u32` that is 0 or
/// 1, because WGSL storage buffers cannot hold `bool`). `F16` and `BF16` take 2 bytes and `U8`
/// and `I8` one: they are packed into 32-bit words and computed in registers of f32, u32 or
/// i32, rounded or wrapped back to their type after every op (see [`DType::register`]). The
/// enum is `non_exhaustive` so more dtypes can be added without breaking users.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum DType {
    /// `bool`, stored as a 0/1 `u32`.
    Bool,
    /// `u8`, four to a word.
    U8,
    /// `i8`, four to a word.
    I8,
    /// `u32`.
    U32,
    /// `i32`.
    I32,
    /// IEEE half precision (`half::f16`), two to a word.
    F16,
    /// bfloat16 (`half::bf16`: f32's exponent, 8 significant bits), two to a word.
    BF16,
    /// `f32`.
    F32,
}

impl DType {
    /// Every dtype, in the lattice's order within each kind.
    pub const ALL: [DType; 8] = [
        DType::Bool,
        DType::U8,
        DType::I8,
        DType::U32,
        DType::I32,
        DType::F16,
        DType::BF16,
        DType::F32,
    ];

    /// Bytes per element in a device buffer.
    pub fn storage_bytes(self) -> usize {
        match self {
            DType::U8 | DType::I8 => 1,
            DType::F16 | DType::BF16 => 2,
            DType::Bool | DType::U32 | DType::I32 | DType::F32 => 4,
        }
    }
    /// Bytes of a device buffer of `numel` elements: whole 32-bit words.
    pub fn buffer_bytes(self, numel: usize) -> usize {
        (numel * self.storage_bytes()).div_ceil(4) * 4
    }
    /// Whether elements are packed several to a 32-bit word.
    pub fn is_packed(self) -> bool {
        self.storage_bytes() < 4
    }
    /// The 4-byte dtype a value of this dtype is computed in inside a kernel: f16 and bf16 in
    /// f32, u8 in u32, i8 in i32 (each op's result is then rounded or wrapped back).
    pub fn register(self) -> DType {
        match self {
            DType::F16 | DType::BF16 => DType::F32,
            DType::U8 => DType::U32,
            DType::I8 => DType::I32,
            d => d,
        }
    }
    /// Whether the dtype is a floating-point type.
    pub fn is_float(self) -> bool {
        matches!(self, DType::F32 | DType::F16 | DType::BF16)
    }
    /// Whether the dtype is an integer type (not bool).
    pub fn is_int(self) -> bool {
        matches!(self, DType::I32 | DType::U32 | DType::U8 | DType::I8)
    }
    /// Whether the dtype is a signed integer type.
    pub fn is_signed_int(self) -> bool {
        matches!(self, DType::I32 | DType::I8)
    }
    /// Bits of the dtype's values (1 for bool).
    pub fn bits(self) -> u32 {
        match self {
            DType::Bool => 1,
            d => d.storage_bytes() as u32 * 8,
        }
    }
    /// Short name used in kernel names, errors and DEBUG output (numpy's spelling).
    pub fn name(self) -> &'static str {
        match self {
            DType::Bool => "bool",
            DType::U8 => "u8",
            DType::I8 => "i8",
            DType::U32 => "u32",
            DType::I32 => "i32",
            DType::F16 => "f16",
            DType::BF16 => "bf16",
            DType::F32 => "f32",
        }
    }

    /// The least dtype both operands convert to without surprise (README.md writes the whole
    /// table).
    ///
    /// Bool is below everything. Integers of one signedness promote to the wider; mixed
    /// signedness gives i32 (numpy gives u8 ⊔ i8 = i16 and u32 ⊔ i32 = i64; kiln has neither,
    /// and like JAX with 64-bit types disabled picks i32). A float with an integer keeps the
    /// float (as JAX and PyTorch do), and two different floats meet at f32 (f16 ⊔ bf16 = f32).
    pub fn promote(a: DType, b: DType) -> DType {
        use DType::*;
        match (a, b) {
            (x, y) if x == y => x,
            (x, y) if x.is_float() && y.is_float() => F32,
            (x, _) if x.is_float() => x,
            (_, y) if y.is_float() => y,
            (Bool, y) => y,
            (x, Bool) => x,
            (x, y) if !x.is_signed_int() && !y.is_signed_int() => U32,
            _ => I32,
        }
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn promotion_is_a_lattice() {
        for a in DType::ALL {
            for b in DType::ALL {
                let ab = DType::promote(a, b);
                assert_eq!(ab, DType::promote(b, a), "{a} {b}");
                assert_eq!(DType::promote(a, ab), ab, "{a} {b}");
                for c in DType::ALL {
                    assert_eq!(
                        DType::promote(ab, c),
                        DType::promote(a, DType::promote(b, c)),
                        "{a} {b} {c}"
                    );
                }
            }
        }
        use DType::*;
        assert_eq!(DType::promote(Bool, U32), U32);
        assert_eq!(DType::promote(U32, I32), I32);
        assert_eq!(DType::promote(I32, F32), F32);
        assert_eq!(DType::promote(U8, I8), I32);
        assert_eq!(DType::promote(F16, BF16), F32);
        assert_eq!(DType::promote(I32, F16), F16);
    }
}
