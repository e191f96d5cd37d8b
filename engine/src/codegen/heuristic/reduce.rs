//! `matvec` and `column_reduce`: reductions with a layout of their own. A matvec
//! groups each row's reduction over a few lanes (tinygrad's matvec path); a reduction along
//! a strided axis whose outputs are contiguous (a column sum) spreads the lanes across the
//! outputs and splits the reduction among a few.

use super::{
    apply_opts, group_nest, read_contiguously, AstNode, AxisUse, Opt, OptOp, Plan, CPU_RUN,
};

/// A reduction along a strided axis whose innermost output axis is contiguous in every load
/// that reads it (`x.mean(0)`, `x.var(0)` of a row-major matrix). Grouped over 256 lanes
/// each lane would stride through memory alone; instead each lane takes 4 adjacent outputs
/// (vec4 loads along a row), 16 lanes sit side by side across the outputs, and 8 lanes share
/// the reduction (its other nests too, where they divide). On a CPU adapter each lane takes
/// [`CPU_RUN`] adjacent outputs (four vec4 loads per row) and 8 lanes sit across them.
/// Says whether it applied; the plan is unchanged when it did not.
pub(super) fn column_reduce(
    plan: &mut Plan,
    uses: &[AxisUse],
    r: usize,
    reduce_part: usize,
) -> bool {
    const LANES_ALONG: usize = 8;
    let Some(&out) = plan.globals().last() else {
        return false;
    };
    let (o, red) = (
        uses[plan.shaped.parts[out].axis],
        uses[plan.shaped.parts[reduce_part].axis],
    );
    let contiguous = o.readers > 0 && o.stride_sum == o.readers as i64;
    let strided = red.readers > 0 && red.stride_sum > red.readers as i64;
    if !contiguous || !strided {
        return false;
    }
    let reduce_axis = plan.shaped.parts[reduce_part].axis;
    let before = (plan.opts.clone(), plan.shaped.clone());
    // (outputs per lane, lanes across them), the CPU layout tried first on a CPU adapter.
    let cpu = (CPU_RUN, 8);
    let gpu = (4, 16);
    let layouts = if plan.limits.cpu_adapter {
        vec![cpu, gpu]
    } else {
        vec![gpu]
    };
    // An output axis the layout does not divide is padded to it (within an eighth: mean(0)
    // and var(0) of 4000x1000 pad 1000 outputs to 1024).
    let ok = layouts.into_iter().any(|(per_lane, across)| {
        let ok = plan.pad_within(out, per_lane * across)
            && plan.push(Opt::new(OptOp::Upcast, out, per_lane))
            && plan.push(Opt::new(OptOp::Local, out, across))
            && plan.push(Opt::new(OptOp::Group, r, LANES_ALONG));
        if !ok {
            (plan.opts, plan.shaped) = before.clone();
        }
        ok
    });
    if !ok {
        return false;
    }
    for nest in plan.ast.nests() {
        if !nest.contains(&reduce_axis) {
            group_nest(plan, &nest, LANES_ALONG, 1);
        }
    }
    true
}

/// tinygrad's matvec path: `sum(a * b)` over one reduce part where the output has one axis
/// (a matrix-vector product): GROUP the reduction over 8 lanes, 4 rows per workgroup, 4 rows
/// per lane. Applies only when every step fits.
pub(super) fn matvec(plan: &mut Plan) -> bool {
    const THREADS_PER_ROW: usize = 8;
    const BLOCK: usize = 4;
    const ROWS_PER_THREAD: usize = 4;
    let ast = plan.ast;
    let mut reduces = ast.exprs.iter().filter_map(|(_, e)| match &e.op {
        AstNode::Reduce { op, src, .. } => Some((*op, *src)),
        _ => None,
    });
    let (Some((crate::ops::ReduceOp::Sum, src)), None) = (reduces.next(), reduces.next()) else {
        return false;
    };
    let AstNode::Binary(crate::ops::BinaryOp::Mul, a, b) = ast.exprs[src].op else {
        return false;
    };
    let is_load = |h| matches!(ast.exprs[h].op, AstNode::Load { .. });
    let globals = plan.globals();
    if !is_load(a) || !is_load(b) || globals.len() != 1 || plan.shaped.reduce_parts().len() != 1 {
        return false;
    }
    let rows = plan.shaped.parts[globals[0]].size;
    let k = plan.shaped.parts[plan.shaped.reduce_parts()[0]].size;
    if !k.is_multiple_of(THREADS_PER_ROW) || !rows.is_multiple_of(BLOCK * ROWS_PER_THREAD) {
        return false;
    }
    let before = plan.opts.clone();
    // A row read contiguously: each lane takes 4 neighbours (vec4 loads) before the group
    // splits the row.
    let reduce_axis = plan.shaped.parts[plan.shaped.reduce_parts()[0]].axis;
    if read_contiguously(ast, reduce_axis) && k.is_multiple_of(4 * THREADS_PER_ROW) {
        plan.push(Opt::new(OptOp::Unroll, 0, 4));
    }
    let ok = plan.push(Opt::new(OptOp::Group, 0, THREADS_PER_ROW))
        && plan.push(Opt::new(OptOp::Local, globals[0], BLOCK))
        && plan.push(Opt::new(OptOp::Upcast, globals[0], ROWS_PER_THREAD));
    if !ok {
        plan.opts = before;
        plan.shaped = apply_opts(ast, &plan.opts, plan.limits).expect("was valid");
    }
    ok
}
