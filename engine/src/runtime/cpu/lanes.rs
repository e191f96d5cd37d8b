//! The interpreter's values: one instruction's value for every invocation it runs
//! ([`Lanes`]), and the elementwise ops over them, by the scalar semantics of `ops`.

use crate::dtype::{DType, Scalar};
use crate::ops::{BinaryOp, Semantics, UnaryOp};

/// Values of one instruction for every lane of the workgroup.
#[derive(Clone, Debug)]
pub(super) enum Lanes {
    F32(Vec<f32>),
    I32(Vec<i32>),
    U32(Vec<u32>),
    Bool(Vec<bool>),
}

impl Lanes {
    pub(super) fn splat(s: Scalar, n: usize) -> Lanes {
        match s {
            Scalar::F32(v) => Lanes::F32(vec![v; n]),
            Scalar::I32(v) => Lanes::I32(vec![v; n]),
            Scalar::U32(v) => Lanes::U32(vec![v; n]),
            Scalar::Bool(v) => Lanes::Bool(vec![v; n]),
        }
    }
    pub(super) fn from_bits(bits: impl Iterator<Item = u32>, d: DType) -> Lanes {
        match d {
            DType::F32 => Lanes::F32(bits.map(f32::from_bits).collect()),
            DType::I32 => Lanes::I32(bits.map(|b| b as i32).collect()),
            DType::U32 => Lanes::U32(bits.collect()),
            DType::Bool => Lanes::Bool(bits.map(|b| b != 0).collect()),
        }
    }
    pub(super) fn dtype(&self) -> DType {
        match self {
            Lanes::F32(_) => DType::F32,
            Lanes::I32(_) => DType::I32,
            Lanes::U32(_) => DType::U32,
            Lanes::Bool(_) => DType::Bool,
        }
    }
    pub(super) fn len(&self) -> usize {
        match self {
            Lanes::F32(v) => v.len(),
            Lanes::I32(v) => v.len(),
            Lanes::U32(v) => v.len(),
            Lanes::Bool(v) => v.len(),
        }
    }
    pub(super) fn bits(&self, lane: usize) -> u32 {
        match self {
            Lanes::F32(v) => v[lane].to_bits(),
            Lanes::I32(v) => v[lane] as u32,
            Lanes::U32(v) => v[lane],
            Lanes::Bool(v) => v[lane] as u32,
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
        match (self, src) {
            (Lanes::F32(a), Lanes::F32(b)) => copy!(a, b),
            (Lanes::I32(a), Lanes::I32(b)) => copy!(a, b),
            (Lanes::U32(a), Lanes::U32(b)) => copy!(a, b),
            (Lanes::Bool(a), Lanes::Bool(b)) => copy!(a, b),
            _ => panic!("interpreter: assign between dtypes"),
        }
    }
}

/// `op` over every lane, by the scalar semantics of `ops::Semantics`.
pub(super) fn unary(op: UnaryOp, a: &Lanes) -> Lanes {
    fn each<T: Semantics>(op: UnaryOp, v: &[T]) -> Vec<T> {
        v.iter().map(|&x| T::unary(op, x)).collect()
    }
    match a {
        Lanes::F32(v) => Lanes::F32(each(op, v)),
        Lanes::I32(v) => Lanes::I32(each(op, v)),
        Lanes::U32(v) => Lanes::U32(each(op, v)),
        Lanes::Bool(v) => Lanes::Bool(each(op, v)),
    }
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
    match (a, b) {
        (Lanes::F32(x), Lanes::F32(y)) => each(op, x, y, Lanes::F32),
        (Lanes::I32(x), Lanes::I32(y)) => each(op, x, y, Lanes::I32),
        (Lanes::U32(x), Lanes::U32(y)) => each(op, x, y, Lanes::U32),
        (Lanes::Bool(x), Lanes::Bool(y)) => each(op, x, y, Lanes::Bool),
        (a, b) => panic!("interpreter: {} on {a:?} and {b:?}", op.name()),
    }
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
    match (a, b) {
        (Lanes::F32(x), Lanes::F32(y)) => Lanes::F32(sel!(x, y)),
        (Lanes::I32(x), Lanes::I32(y)) => Lanes::I32(sel!(x, y)),
        (Lanes::U32(x), Lanes::U32(y)) => Lanes::U32(sel!(x, y)),
        (Lanes::Bool(x), Lanes::Bool(y)) => Lanes::Bool(sel!(x, y)),
        _ => panic!("interpreter: where between dtypes"),
    }
}

/// Value conversions: `Scalar::cast` lane by lane, the one rule on every path.
pub(super) fn cast(a: &Lanes, to: DType) -> Lanes {
    let from = a.dtype();
    let bits = (0..a.len()).map(|l| Scalar::from_bits(a.bits(l), from).cast(to).to_bits());
    Lanes::from_bits(bits, to)
}

/// `data[idx[l]] = v[l]` for every lane `l` where `on(l)`, with the dtype dispatch hoisted out
/// of the loop (this is the interpreter's hottest path on elementwise kernels).
pub(super) fn store_scalars(
    data: &mut [u32],
    idx: &[i32],
    v: &Lanes,
    on: impl Fn(usize) -> bool,
    kernel: &str,
) {
    let numel = data.len();
    let mut put = |l: usize, bits: u32| {
        let i = idx[l];
        assert!(
            i >= 0 && (i as usize) < numel,
            "interpreter: store out of bounds: [{i}] in {kernel}"
        );
        data[i as usize] = bits;
    };
    match v {
        Lanes::F32(x) => (0..x.len())
            .filter(|&l| on(l))
            .for_each(|l| put(l, x[l].to_bits())),
        Lanes::I32(x) => (0..x.len())
            .filter(|&l| on(l))
            .for_each(|l| put(l, x[l] as u32)),
        Lanes::U32(x) => (0..x.len()).filter(|&l| on(l)).for_each(|l| put(l, x[l])),
        Lanes::Bool(x) => (0..x.len())
            .filter(|&l| on(l))
            .for_each(|l| put(l, x[l] as u32)),
    }
}
