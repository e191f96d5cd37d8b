//! The cost rule for broadcast nests: where a reduction read through a broadcast may run as
//! a nest of its consumer's kernel (computed once per value, or cheaply recomputed per slice
//! of a long row) rather than in a kernel of its own.

use crate::codegen::ast::{AstNode, ExprRef, KernelAst};

use crate::target::MAX_ROW;

/// A row longer than [`MAX_ROW`] is sliced over workgroups only where each slice is at
/// least this many times the nests' work it recomputes.
pub const NEST_RECOMPUTE_RATIO: usize = 4;

/// The cost rule for broadcast reductions: fused into a kernel, a reduction runs once per
/// point of the output axes outside the columns (`KernelAst::column_axes`, which the
/// optimizer spreads over one workgroup's lanes with GROUPOUT). That is once per value it
/// has exactly when its value varies over every such axis; otherwise it would be recomputed
/// for every point of the others, and it is materialized instead (a kernel of its own and a
/// round trip through memory: the cheaper of the two). Every reduction's value must also vary
/// only over output axes (nests run one after another, not inside each other), and the row
/// must be at most [`MAX_ROW`] long (or sliced, see [`NEST_RECOMPUTE_RATIO`]), and no
/// axis empty.
pub(super) fn broadcast_nests_pay(ast: &KernelAst) -> bool {
    matches!(nest_cost(ast), NestCost::Pays)
}

/// What [`broadcast_nests_pay`] found.
pub(super) enum NestCost {
    Pays,
    /// These nests vary over another nest's reduce axes (a nest inside a nest, as a chunked
    /// softmax's per-chunk sums inside the sum over chunks): materializing just them may
    /// let the others pay.
    Inner(Vec<ExprRef>),
    /// The kernel's nests do not pay as a set.
    None,
}

pub(super) fn nest_cost(ast: &KernelAst) -> NestCost {
    // An empty axis drops out of index math (its stride never counts), so a nest inside an
    // empty reduction would look independent of it and read an empty input: empty tensors
    // keep their reductions apart, where an empty kernel is never launched.
    if ast.full_shape.contains(&0) {
        return NestCost::None;
    }
    let out = ast.output_axes();
    let axes = ast.expr_axes();
    let inner: Vec<ExprRef> = ast
        .exprs
        .iter()
        .filter(|(h, e)| {
            matches!(e.op, AstNode::Reduce { .. })
                && axes[h.index()]
                    .iter()
                    .any(|&a| !out.contains(&(a as usize)))
        })
        .map(|(h, _)| h)
        .collect();
    if !inner.is_empty() {
        return NestCost::Inner(inner);
    }
    let columns = ast.column_axes();
    let row: usize = columns.iter().map(|&c| ast.full_shape[c]).product();
    if row > MAX_ROW {
        // Too long for one workgroup: the outer columns stay on the grid and each workgroup
        // owns a slice of the row along the last column, recomputing the nests for it. That
        // pays only when the nests are small next to the slice (a chunked softmax's tail
        // combines a few partial statistics per row).
        let slice = columns.last().map_or(1, |&c| ast.full_shape[c]);
        let nest_work: usize = ast.reduce_lengths().sum();
        if slice > MAX_ROW || nest_work * NEST_RECOMPUTE_RATIO > slice {
            return NestCost::None;
        }
    }
    let recomputed = ast.exprs.iter().any(|(h, e)| {
        matches!(e.op, AstNode::Reduce { .. })
            && out.iter().any(|&a| {
                ast.full_shape[a] > 1
                    && !columns.contains(&a)
                    && !axes[h.index()].contains(&(a as u32))
            })
    });
    if recomputed {
        NestCost::None
    } else {
        NestCost::Pays
    }
}
