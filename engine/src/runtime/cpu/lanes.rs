//! The interpreter's values: one instruction's value for every invocation it runs
//! ([`Lanes`]), and the elementwise ops over them, by the scalar semantics of `ops`.

use half::{bf16, f16};

use crate::dtype::{write_element, DType, Scalar};
use crate::ops::{BinaryOp, Semantics, UnaryOp};

/// Values of one instruction for every lane of the workgroup.
#[derive(Clone, Debug)]
pub(super) enum Lanes {
    F32(Vec<f32>),
    I32(Vec<i32>),
    U32(Vec<u32>),
    Bool(Vec<bool>),
    F16(Vec<f16>),
    BF16(Vec<bf16>),
    U8(Vec<u8>),
    I8(Vec<i8>),
}

/// `$body` with `$v` bound to the vector of whichever variant `$lanes` is, and `$wrap` to
/// that variant's constructor.
macro_rules! each {
    ($lanes:expr, |$v:ident, $wrap:ident| $body:expr) => {
        match $lanes {
            Lanes::F32($v) => {
                let $wrap = Lanes::F32;
                $body
            }
            Lanes::I32($v) => {
                let $wrap = Lanes::I32;
                $body
            }
            Lanes::U32($v) => {
                let $wrap = Lanes::U32;
                $body
            }
            Lanes::Bool($v) => {
                let $wrap = Lanes::Bool;
                $body
            }
            Lanes::F16($v) => {
                let $wrap = Lanes::F16;
                $body
            }
            Lanes::BF16($v) => {
                let $wrap = Lanes::BF16;
                $body
            }
            Lanes::U8($v) => {
                let $wrap = Lanes::U8;
                $body
            }
            Lanes::I8($v) => {
                let $wrap = Lanes::I8;
                $body
            }
        }
    };
}

/// `$body` with `$x`, `$y` bound to the vectors of two `Lanes` of one variant; `$other`
/// when they differ.
macro_rules! each_pair {
    ($a:expr, $b:expr, |$x:ident, $y:ident, $wrap:ident| $body:expr, $other:expr) => {
        match ($a, $b) {
            (Lanes::F32($x), Lanes::F32($y)) => {
                let $wrap = Lanes::F32;
                $body
            }
            (Lanes::I32($x), Lanes::I32($y)) => {
                let $wrap = Lanes::I32;
                $body
            }
            (Lanes::U32($x), Lanes::U32($y)) => {
                let $wrap = Lanes::U32;
                $body
            }
            (Lanes::Bool($x), Lanes::Bool($y)) => {
                let $wrap = Lanes::Bool;
                $body
            }
            (Lanes::F16($x), Lanes::F16($y)) => {
                let $wrap = Lanes::F16;
                $body
            }
            (Lanes::BF16($x), Lanes::BF16($y)) => {
                let $wrap = Lanes::BF16;
                $body
            }
            (Lanes::U8($x), Lanes::U8($y)) => {
                let $wrap = Lanes::U8;
                $body
            }
            (Lanes::I8($x), Lanes::I8($y)) => {
                let $wrap = Lanes::I8;
                $body
            }
            _ => $other,
        }
    };
}

impl Lanes {
    pub(super) fn splat(s: Scalar, n: usize) -> Lanes {
        Lanes::from_bits(std::iter::repeat_n(s.to_bits(), n), s.dtype())
    }
    /// Lanes of dtype `d` from each lane's bits ([`Scalar::to_bits`]).
    pub(super) fn from_bits(bits: impl Iterator<Item = u32>, d: DType) -> Lanes {
        match d {
            DType::F32 => Lanes::F32(bits.map(f32::from_bits).collect()),
            DType::I32 => Lanes::I32(bits.map(|b| b as i32).collect()),
            DType::U32 => Lanes::U32(bits.collect()),
            DType::Bool => Lanes::Bool(bits.map(|b| b != 0).collect()),
            DType::F16 => Lanes::F16(bits.map(|b| f16::from_bits(b as u16)).collect()),
            DType::BF16 => Lanes::BF16(bits.map(|b| bf16::from_bits(b as u16)).collect()),
            DType::U8 => Lanes::U8(bits.map(|b| b as u8).collect()),
            DType::I8 => Lanes::I8(bits.map(|b| b as u8 as i8).collect()),
        }
    }
    pub(super) fn dtype(&self) -> DType {
        match self {
            Lanes::F32(_) => DType::F32,
            Lanes::I32(_) => DType::I32,
            Lanes::U32(_) => DType::U32,
            Lanes::Bool(_) => DType::Bool,
            Lanes::F16(_) => DType::F16,
            Lanes::BF16(_) => DType::BF16,
            Lanes::U8(_) => DType::U8,
            Lanes::I8(_) => DType::I8,
        }
    }
    pub(super) fn len(&self) -> usize {
        each!(self, |v, _w| v.len())
    }
    /// Lane `lane`'s bits ([`Scalar::to_bits`]).
    pub(super) fn bits(&self, lane: usize) -> u32 {
        match self {
            Lanes::F32(v) => v[lane].to_bits(),
            Lanes::I32(v) => v[lane] as u32,
            Lanes::U32(v) => v[lane],
            Lanes::Bool(v) => v[lane] as u32,
            Lanes::F16(v) => v[lane].to_bits() as u32,
            Lanes::BF16(v) => v[lane].to_bits() as u32,
            Lanes::U8(v) => v[lane] as u32,
            Lanes::I8(v) => v[lane] as u8 as u32,
        }
    }
    pub(super) fn i32s(&self) -> &[i32] {
        match self {
            Lanes::I32(v) => v,
            other => panic!("interpreter: expected i32 lanes, got {other:?}"),
        }
    }
    pub(super) fn bools(&self) -> &[bool] {
        match self {
            Lanes::Bool(v) => v,
            other => panic!("interpreter: expected bool lanes, got {other:?}"),
        }
    }
    /// Copies the active lanes of `src` into `self`.
    pub(super) fn assign_masked(&mut self, src: &Lanes, mask: &[bool]) {
        macro_rules! copy {
            ($a:expr, $b:expr) => {
                for ((d, s), &m) in $a.iter_mut().zip($b.iter()).zip(mask) {
                    if m {
                        *d = *s;
                    }
                }
            };
        }
        each_pair!(
            self,
            src,
            |a, b, _w| copy!(a, b),
            panic!("interpreter: assign between dtypes")
        )
    }
}

/// `op` over every lane, by the scalar semantics of `ops::Semantics`.
pub(super) fn unary(op: UnaryOp, a: &Lanes) -> Lanes {
    fn each<T: Semantics>(op: UnaryOp, v: &[T]) -> Vec<T> {
        v.iter().map(|&x| T::unary(op, x)).collect()
    }
    each!(a, |v, wrap| wrap(each(op, v)))
}

/// `a op b` over every lane, by the scalar semantics of `ops::Semantics`.
pub(super) fn binary(op: BinaryOp, a: &Lanes, b: &Lanes) -> Lanes {
    fn each<T: Semantics>(op: BinaryOp, x: &[T], y: &[T], wrap: fn(Vec<T>) -> Lanes) -> Lanes {
        let pairs = x.iter().zip(y);
        match op.is_comparison() {
            true => Lanes::Bool(pairs.map(|(&p, &q)| T::compare(op, p, q)).collect()),
            false => wrap(pairs.map(|(&p, &q)| T::binary(op, p, q)).collect()),
        }
    }
    each_pair!(
        a,
        b,
        |x, y, wrap| each(op, x, y, wrap),
        panic!("interpreter: {} on {a:?} and {b:?}", op.name())
    )
}

pub(super) fn select(c: &[bool], a: &Lanes, b: &Lanes) -> Lanes {
    macro_rules! sel {
        ($x:expr, $y:expr) => {
            c.iter()
                .zip($x.iter().zip($y.iter()))
                .map(|(&c, (&p, &q))| if c { p } else { q })
                .collect()
        };
    }
    each_pair!(
        a,
        b,
        |x, y, wrap| wrap(sel!(x, y)),
        panic!("interpreter: where between dtypes")
    )
}

/// Value conversions: `Scalar::cast` lane by lane, the one rule on every path.
pub(super) fn cast(a: &Lanes, to: DType) -> Lanes {
    let from = a.dtype();
    let bits = (0..a.len()).map(|l| Scalar::from_bits(a.bits(l), from).cast(to).to_bits());
    Lanes::from_bits(bits, to)
}

/// Element `idx[l]` of a buffer of `numel` elements held in `data` becomes `v[l]`, for every
/// lane `l` where `on(l)`, with the dtype dispatch hoisted out of the loop (this is the
/// interpreter's hottest path on elementwise kernels).
pub(super) fn store_scalars(
    data: &mut [u32],
    numel: usize,
    idx: &[i32],
    v: &Lanes,
    on: impl Fn(usize) -> bool,
    kernel: &str,
) {
    let dtype = v.dtype();
    let mut put = |l: usize, bits: u32| {
        let i = idx[l];
        assert!(
            i >= 0 && (i as usize) < numel,
            "interpreter: store out of bounds: [{i}] in {kernel}"
        );
        write_element(data, dtype, i as usize, bits);
    };
    match v {
        Lanes::F32(x) => (0..x.len())
            .filter(|&l| on(l))
            .for_each(|l| put(l, x[l].to_bits())),
        Lanes::I32(x) => (0..x.len())
            .filter(|&l| on(l))
            .for_each(|l| put(l, x[l] as u32)),
        Lanes::U32(x) => (0..x.len()).filter(|&l| on(l)).for_each(|l| put(l, x[l])),
        other => (0..other.len())
            .filter(|&l| on(l))
            .for_each(|l| put(l, other.bits(l))),
    }
}
