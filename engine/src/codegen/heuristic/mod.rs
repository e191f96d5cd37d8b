//! The hand-coded heuristics: the default opt list of a kernel, in the spirit of tinygrad's
//! `hand_coded_optimizations`. Each step proposes opts through [`apply_opts`], so a proposal
//! that does not fit the kernel or the device is skipped, never applied half-way. What each
//! choice measured on lavapipe is in BENCHMARKS.md ("Why the heuristics choose what they do").
//!
//! Where a layout wants whole multiples (runs of 16, vec4s over the lanes, a 32-row tile)
//! and an axis is not one, the axis is padded to it (PADTO; the tail is masked) when that
//! adds at most an eighth (`padded_within`), so odd sizes keep the layout of the nearby
//! power of two.
//!
//! The steps, in the order `choose` tries them:
//! - `own_rows` (`rows.rs`): when some output axes are columns (no reduction varies along
//!   them, as softmax's tail along its row), every reduce nest is grouped over the same
//!   lanes and the last column axis spread over them with GROUPOUT, other columns looped:
//!   each row's max, sum and tail run once, in one workgroup of 16 to 256 lanes. A row that
//!   splits into at most 64 elements per lane is held in registers, read once. A row along
//!   a strided axis whose batch axis is contiguous takes 4 neighbouring rows per lane.
//! - `matvec` (`reduce.rs`): a sum of a product of two loads over one output axis: UNROLL 4
//!   where the row is contiguous, GROUP over 8 lanes, LOCAL 4 rows, UPCAST 4 rows per lane.
//! - `group_few_outputs` (`group.rs`): fewer than 2048 outputs: GROUP the longest reduce
//!   part over up to 256 lanes (after an UNROLL 4 where it is read contiguously), and the
//!   other nests over as many lanes where they divide; several short nests (a chunked
//!   softmax's statistics) share 16 lanes. A column sum takes `column_reduce`'s layout, and
//!   on a CPU adapter a contiguous reduction `grouped_runs`' (`runs.rs`).
//! - `shared_tile` (`share.rs`): on a CPU adapter with subgroups, a two-axis register tile
//!   of 32 rows x 8 columns over 16 lanes, SHAREing the inputs that do not read the columns.
//! - `upcast_broadcast_axes` and `grow_register_tile` (`tile.rs`): UPCAST the output axes
//!   some input broadcasts along (a matmul's rows and columns) to a 4x4 tile, grown to 8x8
//!   (16x16 on a CPU adapter, over two axes every load broadcasts one of).
//! - `unroll_last_reduce`: UNROLL the last reduce part whole when it is at most 32 long,
//!   else by 4; on a CPU adapter a contiguous row reduction walks runs of 16 per step.
//! - `upcast_outputs`: nothing upcast yet: 4 outputs per lane on the last output axis (vec4
//!   stores), a 4x4 tile for a transpose (16 wide on a CPU adapter), or on a CPU adapter an
//!   elementwise kernel's runs of 16 per lane (`cpu_elementwise`).
//! - `fill_workgroup` (`locals.rs`): LOCAL up to 3 output axes, expanded axes first, up to
//!   128 lanes per workgroup, padding an axis of odd factors to whole groups of 8 or 16.
//! - `stage_shared_inputs` (`stage.rs`): on a GPU, STAGE each input that at least 8 lanes of
//!   a register-tiled workgroup share through workgroup memory.
//! - `bound_loops`: on a device that stops long loops, UNROLL until every loop fits.

mod group;
mod locals;
mod reduce;
mod rows;
mod runs;
mod share;
mod stage;
mod tile;

use group::group_few_outputs;
use locals::fill_workgroup;
use reduce::matvec;
use rows::own_rows;
use share::shared_tile;
use stage::stage_shared_inputs;
use tile::{grow_register_tile, upcast_broadcast_axes};

use super::ast::{AstNode, KernelAst};
use super::linearize::loop_iterations;
use super::opt::{apply_opts, Opt, OptOp};
use super::shaped::{AxisKind, Shaped};
use crate::target::DeviceLimits;
use crate::view::symbolic::Atom;

/// Neighbouring elements one lane takes per step on a CPU adapter (four vec4 loads): a lane
/// there is a SIMD element of one core, and longer contiguous runs pay.
const CPU_RUN: usize = 16;
/// Lanes that cooperate on one reduction when there are few outputs.
const GROUP_SIZE: usize = 256;
/// Longest expression (ALU nodes) that `upcast_outputs` still upcasts: upcasting copies the
/// code per output, and driver compile time grows with it.
const MAX_EXPRS_TO_UPCAST: usize = 64;
/// Lanes per workgroup `fill_workgroup` aims for at most.
const MAX_LOCAL: usize = 128;

/// How the kernel's loads index one domain axis.
#[derive(Clone, Copy, Debug, Default)]
struct AxisUse {
    /// Loads whose index reads the axis.
    readers: usize,
    /// Loads that do not read it (they broadcast along it).
    broadcasters: usize,
    /// Sum over the loads of the axis's stride where it is a plain term.
    stride_sum: i64,
    /// Which loads broadcast along it: bit i for the i-th load (of the first 64).
    broadcast_by: u64,
}

fn axis_uses(ast: &KernelAst) -> Vec<AxisUse> {
    let mut uses = vec![AxisUse::default(); ast.full_shape.len()];
    let loads = ast.exprs.iter().filter_map(|(_, e)| match &e.op {
        AstNode::Load { index, .. } => Some(index),
        _ => None,
    });
    for (load, index) in loads.enumerate() {
        let vars = index.vars();
        for (axis, u) in uses.iter_mut().enumerate() {
            if vars.contains(&(axis as u32)) {
                u.readers += 1;
            } else {
                u.broadcasters += 1;
                u.broadcast_by |= 1u64.checked_shl(load as u32).unwrap_or(0);
            }
        }
        for (atom, coef) in index.terms() {
            if let Atom::Var(v) = atom {
                if let Some(u) = uses.get_mut(*v as usize) {
                    u.stride_sum += coef.abs();
                }
            }
        }
    }
    uses
}

/// Whether some load reads `axis` with stride 1 (its elements along the axis are neighbours).
fn read_contiguously(ast: &KernelAst, axis: usize) -> bool {
    ast.exprs.iter().any(|(_, e)| match &e.op {
        AstNode::Load { index, .. } => index
            .terms()
            .any(|(atom, coef)| *atom == Atom::Var(axis as u32) && coef == 1),
        _ => false,
    })
}

/// An opt list under construction: every push is checked by `apply_opts`.
struct Plan<'a> {
    ast: &'a KernelAst,
    limits: &'a DeviceLimits,
    opts: Vec<Opt>,
    shaped: Shaped,
}

impl Plan<'_> {
    /// Appends `o` if the list stays valid; says whether it did.
    fn push(&mut self, o: Opt) -> bool {
        let mut list = self.opts.clone();
        list.push(o);
        match apply_opts(self.ast, &list, self.limits) {
            Ok(s) => {
                self.opts = list;
                self.shaped = s;
                true
            }
            Err(_) => false,
        }
    }
    /// Indices (into the parts) of the global parts longer than 1.
    fn globals(&self) -> Vec<usize> {
        (0..self.shaped.parts.len())
            .filter(|&i| {
                self.shaped.parts[i].kind == AxisKind::Global && self.shaped.parts[i].size > 1
            })
            .collect()
    }
    fn upcast_size(&self) -> usize {
        self.shaped.size_of(AxisKind::Upcast)
    }
    /// Makes part `part` whole multiples of `tile`: says whether it is, already or padded to
    /// them (PADTO) where that adds at most an eighth ([`padded_within`]).
    fn pad_within(&mut self, part: usize, tile: usize) -> bool {
        let size = self.shaped.parts[part].size;
        size.is_multiple_of(tile)
            || (padded_within(size, tile).is_some()
                && self.push(Opt::new(OptOp::Padto, part, tile)))
    }
}

/// The default opt list for `ast` on a device with `limits`.
pub fn heuristic_opts(ast: &KernelAst, limits: &DeviceLimits) -> Vec<Opt> {
    let mut plan = Plan {
        ast,
        limits,
        opts: vec![],
        shaped: Shaped::new(ast),
    };
    choose(&mut plan);
    bound_loops(&mut plan);
    plan.opts
}

/// Keeps every loop under the device's iteration bound (llvmpipe stops longer loops and the
/// result is wrong): unroll the longest reduce part until the nest fits, if it can.
fn bound_loops(plan: &mut Plan) {
    let Some(limit) = plan.limits.max_loop_iterations else {
        return;
    };
    while loop_iterations(plan.ast, &plan.shaped) > limit {
        let reds = plan.shaped.reduce_parts();
        let Some((r, &i)) = reds
            .iter()
            .enumerate()
            .max_by_key(|(_, &i)| plan.shaped.parts[i].size)
        else {
            return;
        };
        let size = plan.shaped.parts[i].size;
        let unrolled = [32, 16, 8, 4, 2]
            .iter()
            .any(|&d| size.is_multiple_of(d) && plan.push(Opt::new(OptOp::Unroll, r, d)));
        if !unrolled {
            return; // the device refuses the kernel with a clear error at launch
        }
    }
}

/// Every step but `bound_loops`, in order (see the module docs).
fn choose(plan: &mut Plan) {
    scan_by_vectors(plan);
    let uses = axis_uses(plan.ast);
    let reduces = !plan.shaped.reduce_parts().is_empty();
    if own_rows(plan) || matvec(plan) || group_few_outputs(plan, &uses) {
        return;
    }
    let all_loads = loads_mask(plan.ast);
    // Two axes such that every load broadcasts along one of them (a matmul's rows and
    // columns): a tile over them loads each input along one side only.
    let complementary =
        |a: usize, b: usize| (uses[a].broadcast_by | uses[b].broadcast_by) == all_loads;
    if shared_tile(plan, &uses, &complementary) {
        return;
    }
    // A long expression is not tiled either: the tile copies it per output (an advection
    // with four gathers, tiled 8x8, was 0.5 MB of WGSL that drivers compiled for minutes).
    let upcasted = match alu_exprs(plan.ast) <= MAX_EXPRS_TO_UPCAST {
        true => upcast_broadcast_axes(plan, &uses, &complementary),
        false => vec![],
    };
    grow_register_tile(plan, &upcasted);
    let cpu_row_walk = unroll_last_reduce(plan);
    if !cpu_row_walk && upcast_outputs(plan, reduces) {
        return;
    }
    fill_workgroup(plan, &uses);
    stage_shared_inputs(plan);
}

/// A scan's lane folds 4 neighbours per step of its walk: one vector load and store for
/// four scalar ones, and a quarter of the loop's steps.
fn scan_by_vectors(plan: &mut Plan) {
    let Some(axis) = plan.ast.scan_axis else {
        return;
    };
    let walk = plan.shaped.parts.iter().position(|p| p.axis == axis);
    if let Some(i) = walk {
        if plan.shaped.parts[i].size.is_multiple_of(4) {
            plan.push(Opt::new(OptOp::Upcast, i, 4));
        }
    }
}

/// Bit i set for the i-th load of the kernel (the first 64, as `AxisUse::broadcast_by`).
fn loads_mask(ast: &KernelAst) -> u64 {
    let loads = ast
        .exprs
        .iter()
        .filter(|(_, e)| matches!(e.op, AstNode::Load { .. }))
        .count();
    u64::MAX.checked_shr(64 - loads.min(64) as u32).unwrap_or(0)
}

/// UNROLLs the last reduce part: whole when it is at most 32 long, else by 4 (the register
/// budget refuses what a large tile leaves no room for). On a CPU adapter, a lane that
/// reduces whole rows along a contiguous axis walks `CPU_RUN` neighbours per step instead
/// and keeps one output: says whether it did (then no outputs are upcast).
fn unroll_last_reduce(plan: &mut Plan) -> bool {
    let reds = plan.shaped.reduce_parts();
    let Some(&last) = reds.last() else {
        return false;
    };
    let has_unroll = plan.shaped.size_of(AxisKind::Unroll) > 1;
    if plan.upcast_size() > 4 && has_unroll {
        return false;
    }
    let size = plan.shaped.parts[last].size;
    let r = reds.len() - 1;
    if size <= 32 {
        plan.push(Opt::new(OptOp::Unroll, r, 0));
    } else if plan.limits.cpu_adapter
        && plan.upcast_size() == 1
        && read_contiguously(plan.ast, plan.shaped.parts[last].axis)
        && unroll_runs(plan, last, r)
    {
        unroll_other_nests(plan, r);
        return true;
    } else if size.is_multiple_of(4) {
        plan.push(Opt::new(OptOp::Unroll, r, 4));
    }
    false
}

/// `unroll_runs` for the last reduce part of every other nest of a multi-nest kernel, where
/// it reads contiguously (argmax's second walk over the row it found the maximum of): each
/// nest's loop reads the row again. `done` is the reduce part already unrolled.
fn unroll_other_nests(plan: &mut Plan, done: usize) {
    let nest = |plan: &Plan, r: usize| {
        let part = plan.shaped.reduce_parts()[r];
        plan.shaped.nest_of[plan.shaped.parts[part].axis].clone()
    };
    let mut unrolled = vec![nest(plan, done)];
    for r in (0..plan.shaped.reduce_parts().len()).rev() {
        let n = nest(plan, r);
        if unrolled.contains(&n) {
            continue;
        }
        unrolled.push(n);
        let part = plan.shaped.reduce_parts()[r];
        if read_contiguously(plan.ast, plan.shaped.parts[part].axis) {
            unroll_runs(plan, part, r);
        }
    }
}

/// With nothing upcast yet, 4 outputs per lane along the output's innermost axis (vec4
/// stores), and a 4x4 tile where an input is contiguous along another output axis (a
/// transpose: 16 wide along the stored axis on a CPU adapter). On a CPU adapter a short
/// elementwise kernel takes `cpu_elementwise`'s layout instead, which also places its lanes:
/// says whether it did (then the plan is complete). Long expressions are left alone.
fn upcast_outputs(plan: &mut Plan, reduces: bool) -> bool {
    let ast = plan.ast;
    let alu_exprs = alu_exprs(ast);
    if plan.upcast_size() != 1 || alu_exprs > MAX_EXPRS_TO_UPCAST {
        return false;
    }
    let last = plan.globals().last().copied();
    let stored = last.map(|i| plan.shaped.parts[i].axis);
    if plan.limits.cpu_adapter
        && !reduces
        && alu_exprs <= MAX_EXPRS_TO_UPCAST / 2
        && last.is_some_and(|i| cpu_elementwise(plan, i))
    {
        return true;
    }
    let transposed = |plan: &Plan| {
        plan.globals().into_iter().find(|&i| {
            let p = plan.shaped.parts[i];
            Some(p.axis) != stored && read_contiguously(ast, p.axis) && p.size.is_multiple_of(4)
        })
    };
    if let Some(i) = last.filter(|&i| plan.shaped.parts[i].size.is_multiple_of(4)) {
        let wide = plan.limits.cpu_adapter
            && transposed(plan).is_some()
            && plan.shaped.parts[i].size.is_multiple_of(CPU_RUN);
        plan.push(Opt::new(OptOp::Upcast, i, if wide { CPU_RUN } else { 4 }));
    }
    if let Some(i) = transposed(plan) {
        plan.push(Opt::new(OptOp::Upcast, i, 4));
    }
    false
}

/// The kernel's ALU expressions (what upcasting copies per output).
fn alu_exprs(ast: &KernelAst) -> usize {
    ast.exprs
        .iter()
        .filter(|(_, e)| {
            !matches!(
                e.op,
                AstNode::Load { .. } | AstNode::Const(_) | AstNode::Param(_)
            )
        })
        .count()
}

/// `unroll_last_reduce`'s row walk: UNROLL [`CPU_RUN`] of reduce part `r` (part `part`),
/// padded to whole runs first where it is not (within an eighth). Says whether it applied;
/// the plan is unchanged when it did not.
fn unroll_runs(plan: &mut Plan, part: usize, r: usize) -> bool {
    let before = (plan.opts.clone(), plan.shaped.clone());
    if plan.pad_within(part, CPU_RUN) && plan.push(Opt::new(OptOp::Unroll, r, CPU_RUN)) {
        return true;
    }
    (plan.opts, plan.shaped) = before;
    false
}

/// An elementwise kernel on a CPU adapter ([`DeviceLimits::cpu_adapter`]): each lane takes
/// [`CPU_RUN`] neighbours of the output's last axis (global part `last`), and the
/// workgroup's lanes lie along that axis too. Not for a transpose (an input contiguous along
/// another axis: `upcast_outputs`' tiles). Says whether it applied; the plan is unchanged
/// when it did not.
fn cpu_elementwise(plan: &mut Plan, last: usize) -> bool {
    let ast = plan.ast;
    let stored = plan.shaped.parts[last].axis;
    let transposed = plan.globals().into_iter().any(|i| {
        let axis = plan.shaped.parts[i].axis;
        axis != stored && read_contiguously(ast, axis)
    });
    if transposed {
        return false;
    }
    let size = plan.shaped.parts[last].size;
    // At least 16 lanes of whole runs: the largest such divisor, else the axis padded to
    // whole runs over 128 down to 16 lanes (a short axis, or one of odd factors like 4095).
    let divides = size
        .is_multiple_of(CPU_RUN)
        .then(|| largest_divisor(size / CPU_RUN, MAX_LOCAL))
        .filter(|&l| l >= 16);
    let padded = || {
        [MAX_LOCAL, 64, 32, 16]
            .into_iter()
            .find(|&l| padded_within(size, CPU_RUN * l).is_some())
    };
    let Some(lanes) = divides.or_else(padded) else {
        return false;
    };
    let before = (plan.opts.clone(), plan.shaped.clone());
    if plan.pad_within(last, CPU_RUN * lanes)
        && plan.push(Opt::new(OptOp::Upcast, last, CPU_RUN))
        && plan.push(Opt::new(OptOp::Local, last, lanes))
    {
        return true;
    }
    (plan.opts, plan.shaped) = before;
    false
}

/// GROUPs the longest reduce part of the nest over `axes` by `g` lanes, after an UNROLL by
/// `run` where it divides (so that each lane loads `run` neighbours: 4 is one vec4; 1 for
/// none) and a PADTO where `g` does not divide it (by at most 2x). Says whether it did; the
/// plan is unchanged when it did not.
fn group_nest(plan: &mut Plan, axes: &[usize], g: usize, run: usize) -> bool {
    let longest = |plan: &Plan| {
        let reds = plan.shaped.reduce_parts();
        reds.iter()
            .enumerate()
            .filter(|(_, &i)| axes.contains(&plan.shaped.parts[i].axis))
            .max_by_key(|(_, &i)| plan.shaped.parts[i].size)
            .map(|(r, &i)| (r, i))
    };
    let Some((_, i)) = longest(plan) else {
        return false;
    };
    let before = (plan.opts.clone(), plan.shaped.clone());
    let size = plan.shaped.parts[i].size;
    // Whole runs over the lanes where padding to them adds at most an eighth, else whole
    // lanes (padding at most doubles the part).
    let tile = if run > 1 && padded_within(size, run * g).is_some() {
        run * g
    } else {
        g
    };
    if !size.is_multiple_of(tile) {
        let padded = size.next_multiple_of(tile);
        if padded > 2 * size || !plan.push(Opt::new(OptOp::Padto, i, tile)) {
            return false;
        }
    }
    let size = plan.shaped.parts[longest(plan).expect("still there").1].size;
    if run > 1 && size.is_multiple_of(run * g) {
        let (r, _) = longest(plan).expect("still there");
        plan.push(Opt::new(OptOp::Unroll, r, run));
    }
    let (r, _) = longest(plan).expect("still there");
    if plan.push(Opt::new(OptOp::Group, r, g)) {
        return true;
    }
    (plan.opts, plan.shaped) = before;
    false
}

/// `n` rounded up to a multiple of `m` where that adds at most an eighth of `n`: how far the
/// heuristics pad an axis (PADTO, the tail masked) for a layout that needs whole multiples,
/// rather than fall to whatever divides an odd size.
fn padded_within(n: usize, m: usize) -> Option<usize> {
    let to = n.next_multiple_of(m);
    (to - n <= n / 8).then_some(to)
}

/// The largest divisor of `n` that is at most `cap`.
fn largest_divisor(n: usize, cap: usize) -> usize {
    (1..=cap.min(n))
        .rev()
        .find(|d| n.is_multiple_of(*d))
        .unwrap_or(1)
}
