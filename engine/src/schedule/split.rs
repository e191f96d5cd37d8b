//! Two-stage reductions: a reduction of many elements per output becomes a first stage of
//! partial results over many lanes and workgroups, and a small second stage over the partials.
//!
//! Why: one lane looping over millions of elements is slow (it leaves every other core idle)
//! and some drivers stop it (llvmpipe ends a loop after 65,535 iterations, silently). After the
//! split no reduction folds more than [`MAX_ROW`] elements per output, so every kernel's loops
//! stay bounded whatever opts run it (NOOPT included), and the heuristics' grouped reductions
//! spread the first stage over the whole device. Each partial sum also covers fewer elements,
//! so float error grows more slowly (a tree of two levels).
//!
//! The split is a rewrite of the lazy graph, as in tinygrad's `split_reduceop`: a reduction of
//! `x` becomes `reduce(reduce(reshape(x)))`, and every node above it is rebuilt on the new
//! sources. The scheduler then sees an ordinary graph (the inner reduction is read from inside
//! the outer one, so it is materialized) and gives the user's targets the buffers of their
//! rebuilt counterparts.

use crate::dtype::Scalar;
use crate::graph::{intern, NodeRef, Op};
use crate::hash::FxHashMap as HashMap;
use crate::ops::ReduceOp;
use crate::target::MAX_ROW;
use crate::view::Movement;

/// Prefer at least this many elements per partial result: fewer make the second stage and the
/// partials buffer grow for no gain.
const MIN_INNER: usize = 1 << 10;
/// Prefer up to this many partials per output when the reduction is long enough (enough
/// workgroups to fill a GPU; llvmpipe needs far fewer).
const PREFERRED_PARTIALS: usize = 256;

/// Elements folded per output by a reduce node.
fn reduce_len(n: &NodeRef) -> usize {
    match &n.op {
        Op::Reduce(_, axes) => {
            let src = n.src(0);
            axes.iter().map(|&a| src.shape[a]).product()
        }
        _ => 0,
    }
}

/// A reduction to split. One whose source cannot be indexed at all (past `i32`) is left
/// whole, so that the device's refusal names the shape the user reduced.
fn is_long_reduce(n: &NodeRef) -> bool {
    !n.is_realized()
        && matches!(n.op, Op::Reduce(..))
        && reduce_len(n) > MAX_ROW
        && n.src(0).numel() <= i32::MAX as usize
}

/// When the graph under `targets` (`nodes`, in topological order) holds a long reduction:
/// the targets rebuilt with every long reduction split (`None` when there is none). A
/// returned target has the shape, dtype and value of the target at the same position.
pub fn split_long_reductions(nodes: &[NodeRef], targets: &[NodeRef]) -> Option<Vec<NodeRef>> {
    if !nodes.iter().any(is_long_reduce) {
        return None;
    }
    let mut rebuilt: HashMap<u64, NodeRef> = HashMap::default();
    for n in nodes {
        if n.is_realized() {
            continue; // a leaf: its value is already there
        }
        let srcs = n.srcs();
        let new_srcs: Vec<NodeRef> = srcs
            .iter()
            .map(|s| rebuilt.get(&s.id).cloned().unwrap_or_else(|| s.clone()))
            .collect();
        let changed = srcs.iter().zip(&new_srcs).any(|(a, b)| a.id != b.id);
        let new = match &n.op {
            Op::Reduce(op, axes) if is_long_reduce(n) => split_reduce(*op, axes, &new_srcs[0]),
            _ if changed => intern(n.op.clone(), new_srcs, n.dtype, n.shape.clone(), &n.device),
            _ => continue,
        };
        rebuilt.insert(n.id, new);
    }
    Some(
        targets
            .iter()
            .map(|t| rebuilt.get(&t.id).cloned().unwrap_or_else(|| t.clone()))
            .collect(),
    )
}

/// `op` over `axes` of `x` in two stages; the result has the reduce node's shape (`x`'s with
/// `axes` set to 1).
fn split_reduce(op: ReduceOp, axes: &[usize], x: &NodeRef) -> NodeRef {
    let out_shape: Vec<usize> = reduced_shape(&x.shape, axes);
    let len: usize = axes.iter().map(|&a| x.shape[a]).product();
    let least = len.div_ceil(MAX_ROW);
    let target = least.max(PREFERRED_PARTIALS.min(len / MIN_INNER)).max(2);

    // Best: split one reduced axis in place into (partials, rest). The partials stay an axis
    // of the first stage's output, each covering a contiguous run of that axis.
    let mut by_size = axes.to_vec();
    by_size.sort_by_key(|&a| std::cmp::Reverse(x.shape[a]));
    for &a in &by_size {
        let n = x.shape[a];
        let Some(d) = (target..=(4 * target).min(n)).find(|d| n.is_multiple_of(*d)) else {
            continue;
        };
        let mut split_shape = x.shape.clone();
        split_shape.splice(a..=a, [d, n / d]);
        let xs = movement(x, Movement::Reshape(split_shape));
        let first_axes: Vec<usize> = axes
            .iter()
            .map(|&b| if b < a { b } else { b + 1 })
            .collect();
        let partials = reduce(op, &xs, first_axes);
        let total = reduce_maybe_split(op, &partials, vec![a]);
        return movement(&total, Movement::Reshape(out_shape));
    }

    // Otherwise merge the reduced axes into one trailing axis and pad it to a multiple of the
    // number of partials with the reduction's identity.
    let nd = x.shape.len();
    let kept: Vec<usize> = (0..nd).filter(|a| !axes.contains(a)).collect();
    let order: Vec<usize> = kept.iter().chain(axes).copied().collect();
    let permuted = if order.iter().enumerate().all(|(i, &a)| i == a) {
        x.clone()
    } else {
        movement(x, Movement::Permute(order))
    };
    let mut merged_shape: Vec<usize> = kept.iter().map(|&a| x.shape[a]).collect();
    merged_shape.push(len);
    let merged = movement(&permuted, Movement::Reshape(merged_shape.clone()));
    let d = target;
    let inner = len.div_ceil(d);
    let padded = pad_last_with_identity(op, &merged, d * inner - len);
    let k = kept.len();
    let mut split_shape = merged_shape;
    split_shape.splice(k..=k, [d, inner]);
    let xs = movement(&padded, Movement::Reshape(split_shape));
    let partials = reduce(op, &xs, vec![k + 1]);
    let total = reduce_maybe_split(op, &partials, vec![k]);
    movement(&total, Movement::Reshape(out_shape))
}

/// The second stage, itself split when the partials are still too many (reductions of more
/// than `MAX_ROW`² elements).
fn reduce_maybe_split(op: ReduceOp, x: &NodeRef, axes: Vec<usize>) -> NodeRef {
    let len: usize = axes.iter().map(|&a| x.shape[a]).product();
    if len > MAX_ROW {
        split_reduce(op, &axes, x)
    } else {
        reduce(op, x, axes)
    }
}

/// `x` padded by `extra` elements on its last axis; the padding holds `op`'s identity.
fn pad_last_with_identity(op: ReduceOp, x: &NodeRef, extra: usize) -> NodeRef {
    if extra == 0 {
        return x.clone();
    }
    let nd = x.shape.len();
    let mut widths = vec![(0, 0); nd];
    widths[nd - 1] = (0, extra);
    let padded = movement(x, Movement::Pad(widths.clone()));
    let identity = op.identity(x.dtype);
    if identity == Scalar::from_f64(0.0, x.dtype) {
        return padded; // a pad already reads zeros
    }
    // A mask that is true inside and false in the padding (a pad of `true` reads `false`).
    let inside = constant(Scalar::Bool(true), &x.shape, x);
    let mask = movement(&inside, Movement::Pad(widths));
    let fill = constant(identity, &padded.shape, x);
    intern(
        Op::Where,
        vec![mask, padded.clone(), fill],
        x.dtype,
        padded.shape.clone(),
        &x.device,
    )
}

fn reduced_shape(shape: &[usize], axes: &[usize]) -> Vec<usize> {
    shape
        .iter()
        .enumerate()
        .map(|(i, &d)| if axes.contains(&i) { 1 } else { d })
        .collect()
}

// The builders below intern graph nodes directly rather than going through `Tensor`: a tensor
// op would realize at once in eager mode, which must not happen inside the scheduler.

fn reduce(op: ReduceOp, x: &NodeRef, axes: Vec<usize>) -> NodeRef {
    let shape = reduced_shape(&x.shape, &axes);
    intern(
        Op::Reduce(op, axes),
        vec![x.clone()],
        x.dtype,
        shape,
        &x.device,
    )
}

fn movement(x: &NodeRef, m: Movement) -> NodeRef {
    let shape = m.out_shape(&x.shape);
    if matches!(m, Movement::Reshape(_)) && shape == x.shape {
        return x.clone();
    }
    intern(Op::Movement(m), vec![x.clone()], x.dtype, shape, &x.device)
}

/// `value` broadcast over `shape`, on `like`'s device.
fn constant(value: Scalar, shape: &[usize], like: &NodeRef) -> NodeRef {
    let d = value.dtype();
    intern(
        Op::Const(d, value.to_bits()),
        vec![],
        d,
        shape.to_vec(),
        &like.device,
    )
}
