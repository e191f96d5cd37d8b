//! Random-graph differential tests: random shapes, op chains, movement ops and reductions,
//! checked oracle vs CPU interpreter vs wgpu.

mod common;
use common::*;
use kiln::{DType, Tensor};
use proptest::prelude::*;

/// One step applied to the running tensor (arguments are reduced modulo what fits).
#[derive(Clone, Debug)]
enum Step {
    Unary(u8),
    BinarySelf(u8),
    BinaryInput(u8),
    Reduce(u8, usize, bool),
    Permute(usize),
    Flip(usize),
    Pad(usize, usize, usize),
    Shrink(usize, usize),
    ReshapeFlat,
    ExpandNew(usize),
    Contiguous,
    /// Through a narrower float dtype and back (its rounding, its packed or native storage).
    Narrow(u8),
    /// A joining, slicing or sorting op along an axis (`shape_step`).
    Shape(u8, usize),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        1 => (0u8..6).prop_map(Step::Unary),
        1 => (0u8..5).prop_map(Step::BinarySelf),
        1 => (0u8..5).prop_map(Step::BinaryInput),
        1 => (0u8..4, 0usize..4, any::<bool>()).prop_map(|(o, a, k)| Step::Reduce(o, a, k)),
        8 => movement(8),
        1 => (0u8..4).prop_map(Step::Narrow),
    ]
}

/// The steps that move elements without computing (views, `contiguous`, and the first
/// `shape_kinds` kinds of `shape_step`), which apply to any dtype.
fn movement(shape_kinds: u8) -> impl Strategy<Value = Step> {
    prop_oneof![
        (0usize..6).prop_map(Step::Permute),
        (0usize..4).prop_map(Step::Flip),
        (0usize..4, 0usize..3, 0usize..3).prop_map(|(a, b, c)| Step::Pad(a, b, c)),
        (0usize..4, 0usize..3).prop_map(|(a, b)| Step::Shrink(a, b)),
        Just(Step::ReshapeFlat),
        (1usize..4).prop_map(Step::ExpandNew),
        Just(Step::Contiguous),
        (0..shape_kinds, 0usize..4).prop_map(|(k, a)| Step::Shape(k, a)),
    ]
}

/// roll, cat with its own flip, a backwards strided slice, reflect padding, a sort, argmax,
/// tril and logsumexp along axis `a` (modulo the rank), where the shape allows.
fn shape_step(x: &Tensor, k: u8, a: usize) -> Tensor {
    let nd = x.ndim();
    if nd == 0 {
        return x.clone();
    }
    let ax = (a % nd) as isize;
    let len = x.shape()[a % nd];
    match k {
        0 => x.roll(len as isize / 2 + 1, ax),
        1 if x.numel() < 2000 => Tensor::cat(&[x, &x.flip(&[ax])], ax),
        2 => x.slice(ax, -1, isize::MIN, -2),
        3 if len > 1 && x.numel() < 2000 => {
            let mut p = vec![(0, 0); nd];
            p[a % nd] = (len - 1, 1);
            x.pad_with(&p, kiln::PadMode::Reflect)
        }
        4 if len <= 64 => x.sort(ax, a % 2 == 1).0,
        5 if len > 0 => x.argmax(ax).cast(x.dtype()),
        6 if nd >= 2 => x.tril(a as isize % 3 - 1),
        // Over an empty axis logsumexp is -inf, and -inf - -inf later may fold to 0 under a
        // driver's fast math (WGSL promises no IEEE infinities): keep graphs finite.
        7 if len > 0 => x.logsumexp(&[ax]),
        _ => x.clone(),
    }
}

/// Reduction `op` (0 sum, 1 max, 2 min, 3 mean) over axis `a`; sum and max keep the axis
/// when `keep`.
fn reduce_step(x: &Tensor, op: u8, a: isize, keep: bool) -> Tensor {
    match (op, keep) {
        (0, false) => x.sum(&[a]),
        (0, true) => x.sum_keepdim(&[a]),
        (1, false) => x.max(&[a]),
        (1, true) => x.max_keepdim(&[a]),
        (2, _) => x.min(&[a]),
        _ => x.mean(&[a]),
    }
}

fn apply(x: &Tensor, other: &Tensor, s: &Step) -> Tensor {
    let nd = x.ndim();
    match s {
        Step::Unary(k) => match k {
            0 => x.neg(),
            1 => x.mul(&x.sigmoid()),
            2 => x
                .abs()
                .add(&Tensor::full_on(&[], 1.0, x.dtype(), x.device()))
                .sqrt(),
            3 => x.sin(),
            4 => x.relu(),
            _ => x.tanh(),
        },
        Step::BinarySelf(k) => match k {
            0 => x.add(x),
            1 => x.mul(x),
            2 => x.maximum(&x.neg()),
            // x < 0.25 - x, i.e. x < 0.125: a threshold away from 0, where exactly cancelling
            // sums (the mean of x - flip(x)) land on either side by rounding alone.
            3 => x.lt(&(&x.neg() + 0.25)).where_(x, &x.exp()),
            _ => x.sub(&x.flip(&(0..nd as isize).collect::<Vec<_>>())),
        },
        Step::BinaryInput(k) => {
            // `other` is 1-D and broadcasts along the last axis when it fits.
            if nd == 0 || x.shape()[nd - 1] != other.numel() {
                return x.clone();
            }
            match k {
                0 => x.add(other),
                1 => x.mul(other),
                2 => x.minimum(other),
                3 => x.ge(other).cast(x.dtype()),
                _ => x.sub(other),
            }
        }
        Step::Reduce(op, axis, keep) => {
            if nd == 0 {
                return x.clone();
            }
            let a = [(*axis % nd) as isize];
            // mean over an empty axis is 0/0 = NaN, and WGSL does not promise IEEE NaN
            // propagation (implementations may assume finite math): keep graphs finite.
            // max/min of nothing is refused at construction, as in numpy: sum instead.
            let len = x.shape()[a[0] as usize];
            let op = if *op != 0 && len == 0 {
                &0
            } else if *op == 0 && len > 8 {
                // A sum over a long axis grows values enough that a later exp/sin chain turns
                // one ulp of summation order (tree vs sequential) into a different answer:
                // take the mean there, which keeps magnitudes as bounded as short axes do.
                &3
            } else {
                op
            };
            reduce_step(x, *op, a[0], *keep)
        }
        Step::Permute(k) => {
            if nd < 2 {
                return x.clone();
            }
            let mut order: Vec<isize> = (0..nd as isize).collect();
            order.rotate_left(1 + k % (nd - 1));
            x.permute(&order)
        }
        Step::Flip(a) if nd > 0 => x.flip(&[(a % nd) as isize]),
        Step::Pad(a, b, c) if nd > 0 && x.numel() < 2000 => {
            let mut p = vec![(0, 0); nd];
            p[a % nd] = (*b, *c);
            x.pad(&p)
        }
        Step::Shrink(a, b) if nd > 0 => {
            let ax = a % nd;
            let d = x.shape()[ax];
            let mut s: Vec<(usize, usize)> = x.shape().iter().map(|&d| (0, d)).collect();
            s[ax] = ((*b).min(d), d);
            x.shrink(&s)
        }
        Step::ReshapeFlat => x.reshape(&[-1]),
        Step::ExpandNew(n) if x.numel() < 500 => {
            let mut s = vec![*n];
            s.extend_from_slice(x.shape());
            x.expand(&s)
        }
        Step::Contiguous => x.contiguous(),
        Step::Narrow(k) => {
            let d = if k % 2 == 0 { DType::F16 } else { DType::BF16 };
            // Odd k stores the narrow values in a buffer of their own between kernels.
            let n = x.cast(d);
            let n = if *k >= 2 { n.contiguous() } else { n };
            n.cast(x.dtype())
        }
        Step::Shape(k, a) => shape_step(x, *k, *a),
        _ => x.clone(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: common::proptest_cases(256), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_graphs_agree(
        mut shape in prop::collection::vec(0usize..6, 0..4),
        long in prop::option::of(0usize..4),
        steps in prop::collection::vec(step(), 1..7),
        dtype in 0usize..3,
        seed in any::<u64>(),
    ) {
        // Sometimes one long axis, so that reductions take the grouped (GROUP/PADTO) paths.
        if let Some(i) = long {
            shape.truncate(2);
            if let Some(last) = shape.last_mut() {
                *last = [64, 100, 257, 1024][i];
            }
        }
        // The graph runs in the input's dtype: f16 and bf16 round after every op, so one
        // ulp of a transcendental may flip a rounding; their tolerances allow a few ulp.
        let (dtype, atol, rtol) = [(DType::F32, 1e-4, 1e-3), (DType::F16, 1e-2, 4e-3), (DType::BF16, 5e-2, 3e-2)][dtype];
        let input = rand_input(dtype, &shape, seed);
        let last = shape.last().copied().unwrap_or(1).max(1);
        let other = rand_input(dtype, &[last], seed ^ 1);
        check3_tol(&format!("{dtype} {shape:?} {steps:?}"), &[input, other], atol, rtol, |t| {
            steps.iter().fold(t[0].clone(), |x, s| apply(&x, &t[1], s))
        });
    }
}

/// One step of an integer graph: exact on every device, so any difference is a bug.
#[derive(Clone, Debug)]
enum IntStep {
    Unary(u8),
    BinarySelf(u8),
    BinaryInput(u8),
    Reduce(u8, usize, bool),
    Cast(u8),
    /// A movement step of the float graph (they do not look at the dtype).
    Move(Step),
    /// A scan (sum, max, prod) along an axis.
    Scan(u8, usize),
    /// A gather along an axis, at positions computed from the values (and flipped).
    Gather(usize),
    /// A scatter (or scatter_add) of the flipped values along an axis, at positions computed
    /// from the values: repeats are common.
    Scatter(usize, bool),
}

const INTS: [DType; 4] = [DType::I32, DType::U32, DType::U8, DType::I8];

fn int_step() -> impl Strategy<Value = IntStep> {
    prop_oneof![
        (0u8..4).prop_map(IntStep::Unary),
        (0u8..8).prop_map(IntStep::BinarySelf),
        (0u8..4).prop_map(IntStep::BinaryInput),
        (0u8..3, 0usize..4, any::<bool>()).prop_map(|(o, a, k)| IntStep::Reduce(o, a, k)),
        (0u8..4).prop_map(IntStep::Cast),
        // logsumexp (shape kind 7) would leave the integers.
        movement(7).prop_map(IntStep::Move),
        (0u8..3, 0usize..4).prop_map(|(o, a)| IntStep::Scan(o, a)),
        (0usize..4).prop_map(IntStep::Gather),
        (0usize..4, any::<bool>()).prop_map(|(a, add)| IntStep::Scatter(a, add)),
    ]
}

fn apply_int(x: &Tensor, other: &Tensor, s: &IntStep) -> Tensor {
    let nd = x.ndim();
    let all_axes: Vec<isize> = (0..nd as isize).collect();
    match s {
        IntStep::Unary(k) => match k {
            0 => x.neg(),
            1 => x.bitwise_not(),
            2 => x.abs(),
            _ => x.square(),
        },
        IntStep::BinarySelf(k) => match k {
            0 => x.add(&x.flip(&all_axes)),
            1 => x.mul(x),
            2 => x.sub(&x.flip(&all_axes)),
            3 => x.bitwise_xor(&(x >> 3)),
            4 => x << 2,
            // Divisors that are never zero, and numpy's flooring of negative quotients.
            5 => x.rem(&(x.flip(&all_axes) | 1)),
            6 => x.floor_div(&(x.flip(&all_axes) | 3)),
            _ => x.maximum(&x.flip(&all_axes)),
        },
        IntStep::BinaryInput(k) => {
            if nd == 0 || x.shape()[nd - 1] != other.numel() {
                return x.clone();
            }
            let other = other.cast(x.dtype());
            match k {
                0 => x.add(&other),
                1 => x.mul(&other),
                // `other` holds zeros: integer remainder by zero is defined as 0.
                2 => x.rem(&other),
                _ => x.minimum(&other),
            }
        }
        IntStep::Reduce(op, axis, keep) => {
            if nd == 0 {
                return x.clone();
            }
            let a = [(*axis % nd) as isize];
            let op = if x.shape()[a[0] as usize] == 0 {
                0
            } else {
                *op
            };
            reduce_step(x, op.min(2), a[0], *keep)
        }
        IntStep::Cast(k) => x.cast(INTS[*k as usize % INTS.len()]),
        IntStep::Move(m) => apply(x, other, m),
        IntStep::Scan(..) | IntStep::Gather(_) | IntStep::Scatter(..) if nd == 0 => x.clone(),
        IntStep::Scan(op, axis) => {
            let a = (*axis % nd) as isize;
            match op {
                0 => x.cumsum(a),
                1 => x.cummax(a),
                _ => x.cumprod(a),
            }
        }
        IntStep::Gather(axis) => {
            let a = *axis % nd;
            let len = x.shape()[a];
            if len == 0 {
                return x.clone();
            }
            let positions = (&x.cast(DType::I32) % len as i32).flip(&[a as isize]);
            x.gather(a as isize, &positions)
        }
        IntStep::Scatter(axis, add) => {
            let a = *axis % nd;
            let len = x.shape()[a];
            if len == 0 {
                return x.clone();
            }
            let positions = &x.cast(DType::I32) % len as i32;
            let all_axes: Vec<isize> = (0..nd as isize).collect();
            let src = x.flip(&all_axes);
            match add {
                true => x.scatter_add(a as isize, &positions, &src),
                false => x.scatter(a as isize, &positions, &src),
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: common::proptest_cases(128), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_integer_graphs_agree_exactly(
        mut shape in prop::collection::vec(0usize..6, 0..4),
        long in prop::option::of(0usize..3),
        dtype in 0usize..4,
        steps in prop::collection::vec(int_step(), 1..7),
        seed in any::<u64>(),
    ) {
        if let Some(i) = long {
            shape.truncate(2);
            if let Some(last) = shape.last_mut() {
                *last = [64, 257, 1024][i];
            }
        }
        let dtype = INTS[dtype];
        let input = rand_input(dtype, &shape, seed);
        let last = shape.last().copied().unwrap_or(1).max(1);
        let other = rand_input(DType::I8, &[last], seed ^ 1);
        check3_tol(&format!("{dtype} {shape:?} {steps:?}"), &[input, other], 0.0, 0.0, |t| {
            let out = steps.iter().fold(t[0].clone(), |x, s| apply_int(&x, &t[1], s));
            assert!(out.dtype().is_int(), "{steps:?} left the integers: {}", out.dtype());
            out
        });
    }
}
