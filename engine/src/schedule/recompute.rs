//! Recompute or materialize: the rule for an elementwise value read through an expand.
//!
//! Elementwise producers are normally recomputed inside each consumer (no kernel launch, no
//! round trip through memory). Read through an expand, though, a producer is recomputed once
//! per copy: in `a.exp().matmul(&b)` the matmul broadcasts `a` over `b`'s N columns, so a
//! fused `exp` runs N times per element of `a` instead of once. The rule: a producer whose
//! ALU cost per element is at least [`MIN_COST`] (a transcendental op, or four plain ones) and
//! which an expand multiplies at least [`MIN_FACTOR`] times is materialized. Writing it once
//! and reading it back costs 8 bytes an element, against `cost x (factor - 1)` recomputed ops.
//! Producers whose value depends on a reduction are left alone: those are row values (a
//! softmax's `log(sum)`), which the row-owning kernel recomputes cheaply beside its nests, and
//! materializing them would split it.

use crate::graph::{NodeRef, Op};
use crate::hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use crate::ops::UnaryOp;

/// ALU cost per element (see [`op_cost`]) from which recomputing per copy is not worth it.
pub const MIN_COST: u32 = 4;
/// Copies an expand makes from which the rule applies.
pub const MIN_FACTOR: usize = 4;

/// The cost of one element of `op`: a transcendental unary op counts 4, any other ALU op 1.
fn op_cost(op: &Op) -> u32 {
    match op {
        Op::Unary(
            UnaryOp::Neg
            | UnaryOp::Floor
            | UnaryOp::Ceil
            | UnaryOp::Trunc
            | UnaryOp::Round
            | UnaryOp::SignBit,
        ) => 1,
        Op::Unary(_) => 4,
        Op::Binary(_) | Op::Where | Op::Cast(_) | Op::Bitcast(_) => 1,
        _ => 0,
    }
}

/// The producers `nodes` (topologically sorted) should materialize under the rule, given the
/// nodes already `forced`.
pub(super) fn expensive_broadcast_producers(
    nodes: &[NodeRef],
    forced: &HashSet<u64>,
) -> Vec<NodeRef> {
    // Cost of computing one element of each node inside a consumer; None when its value
    // depends on a fused reduction.
    let mut cost: HashMap<u64, Option<u32>> = HashMap::default();
    let mut out: Vec<NodeRef> = vec![];
    for n in nodes {
        let c = if n.is_realized() || forced.contains(&n.id) {
            Some(0)
        } else {
            match &n.op {
                Op::Reduce(..) => None,
                Op::Source(_) | Op::Const(..) => Some(0),
                op => n.srcs().iter().try_fold(op_cost(op), |acc, s| {
                    cost[&s.id].map(|c| acc.saturating_add(c).min(1 << 20))
                }),
            }
        };
        cost.insert(n.id, c);
        let Op::Movement(crate::view::Movement::Expand(_)) = &n.op else {
            continue;
        };
        let src = n.src(0);
        let factor = n.numel() / src.numel().max(1);
        // The value expanded: through any other movement ops.
        let mut p = src;
        while matches!(p.op, Op::Movement(_)) && !p.is_realized() && !forced.contains(&p.id) {
            p = p.src(0);
        }
        let producer = p.op.is_elementwise() && !p.is_realized() && !forced.contains(&p.id);
        if producer
            && factor >= MIN_FACTOR
            && cost[&p.id].is_some_and(|c| c >= MIN_COST)
            && !out.iter().any(|o| o.id == p.id)
        {
            out.push(p);
        }
    }
    out
}
