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
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (0u8..6).prop_map(Step::Unary),
        (0u8..5).prop_map(Step::BinarySelf),
        (0u8..5).prop_map(Step::BinaryInput),
        (0u8..4, 0usize..4, any::<bool>()).prop_map(|(o, a, k)| Step::Reduce(o, a, k)),
        (0usize..6).prop_map(Step::Permute),
        (0usize..4).prop_map(Step::Flip),
        (0usize..4, 0usize..3, 0usize..3).prop_map(|(a, b, c)| Step::Pad(a, b, c)),
        (0usize..4, 0usize..3).prop_map(|(a, b)| Step::Shrink(a, b)),
        Just(Step::ReshapeFlat),
        (1usize..4).prop_map(Step::ExpandNew),
        Just(Step::Contiguous),
        (0u8..4).prop_map(Step::Narrow),
    ]
}

fn apply(x: &Tensor, other: &Tensor, s: &Step) -> Tensor {
    let nd = x.ndim();
    match s {
        Step::Unary(k) => match k {
            0 => x.neg(),
            1 => x.mul(&x.sigmoid()),
            2 => x
                .abs()
                .add(&Tensor::full_on(&[], 1.0, DType::F32, x.device()))
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
                3 => x.ge(other).cast(DType::F32),
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
            match (op, keep) {
                (0, false) => x.sum(&a),
                (0, true) => x.sum_keepdim(&a),
                (1, false) => x.max(&a),
                (1, true) => x.max_keepdim(&a),
                (2, _) => x.min(&a),
                _ => x.mean(&a),
            }
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
            n.cast(DType::F32)
        }
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
        seed in any::<u64>(),
    ) {
        // Sometimes one long axis, so that reductions take the grouped (GROUP/PADTO) paths.
        if let Some(i) = long {
            shape.truncate(2);
            if let Some(last) = shape.last_mut() {
                *last = [64, 100, 257, 1024][i];
            }
        }
        let input = rand_input(DType::F32, &shape, seed);
        let last = shape.last().copied().unwrap_or(1).max(1);
        let other = rand_input(DType::F32, &[last], seed ^ 1);
        check3_tol(&format!("{shape:?} {steps:?}"), &[input, other], 1e-4, 1e-3, |t| {
            steps.iter().fold(t[0].clone(), |x, s| apply(&x, &t[1], s))
        });
    }
}
