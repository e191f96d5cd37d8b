//! The hand-coded heuristics: the default opt list of a kernel, in the spirit of tinygrad's
//! `hand_coded_optimizations`. Each step proposes opts through [`apply_opts`], so a proposal
//! that does not fit the kernel or the device is skipped, never applied half-way.
//!
//! Where a layout wants whole multiples (runs of 16, vec4s over the lanes, a 32-row tile)
//! and an axis is not one, the axis is padded to it (PADTO; the tail is masked) when that
//! adds at most an eighth (`padded_within`), rather than left to whatever divides it: on
//! lavapipe, odd sizes ran 2.9-8x the time per element of the nearby power of two before
//! (softmax of 4096x4000 5x, exp().sqrt() of 4095x4095 8x) and 0.6-2.1x after (BENCHMARKS.md).
//!
//! In order:
//! 0. **Rows owned by a workgroup**: when some output axes are columns (no reduction varies
//!    along them, as softmax's tail along its row), every reduce nest is grouped over the
//!    same lanes (UNROLL 4 first where it divides, for vec4 loads) and the last column axis is
//!    spread over them with GROUPOUT (UPCAST 4 first where it divides), other columns looped:
//!    each row's max, sum and tail run once, in one workgroup of 16 to 256 lanes (about 128
//!    elements of the row per lane). A row of one column axis that splits into at most 64
//!    elements per lane (4096 over 64 lanes) is held instead: each lane's share unrolled
//!    whole in the tail and in every nest, so that CSE leaves one load per element and the
//!    row is read once (softmax and layernorm of 4096x1024 and 4096x4096: 1.2-1.34x faster
//!    on lavapipe than looping, four interleaved rounds). On a CPU adapter each lane's share
//!    is taken in runs of 16 neighbours rather than vec4s strided across the lanes. A row
//!    the shares do not divide is padded to whole shares (4000 to 4096). A row along a
//!    strided axis (softmax(0)) whose batch axis is contiguous takes 4 neighbouring rows per
//!    lane first, so that its loads are vec4s across them.
//! 1. **Matvec**: a sum of a product of two loads, one output axis: UNROLL 4 where the row is
//!    contiguous (vec4 loads), GROUP the reduction over 8 lanes, LOCAL 4 rows per workgroup,
//!    UPCAST 4 rows per lane.
//! 2. **Grouped reduction** when there are few outputs (< 2048): GROUP the longest reduce part
//!    (after an UNROLL 4 where it is read contiguously) over up to 256 lanes (a divisor of
//!    its size, else PADTO first), and the other nests over as many lanes where they divide.
//!    This also bounds each lane's loop: a 2^20-element sum loops 4096 times per lane (1024
//!    after the UNROLL), not 2^20. Several nests of at most 4096 elements each (a chunked
//!    softmax's max, then sum) share groups of 16 lanes instead, each nest with vec4 loads.
//!    A reduction along a strided axis whose outputs are contiguous (a column sum) instead
//!    takes 4 adjacent outputs per lane, 16 lanes across them and 8 along the reduction
//!    (`column_reduce`; on a CPU adapter 16 outputs per lane and 8 lanes across; the outputs
//!    padded to that where needed). On a CPU adapter a reduction of one nest read
//!    contiguously instead groups 8 lanes, each walking its own contiguous run 16 elements
//!    per step (`runs.rs`; the run cut into the fewest pieces that divide it).
//! 3. **Upcast expanded axes**: while there are at least 1024 outputs and fewer than 32 per
//!    lane, UPCAST by 4 (or 3) an output axis that some input does not read (stride 0: the
//!    rows and columns of a matmul), preferring axes fewer inputs read, then smaller strides;
//!    a 4x4 tile then grows to 8x8 (each of those axes by 2 more, innermost first; 4x8 when
//!    the outputs are too few), and on a CPU adapter a two-axis tile to 16x16; there the
//!    tile takes two axes that every load broadcasts one of (conv2d: output channels and
//!    columns, not 4x4x4).
//!    3a. On a CPU adapter with subgroups, a two-axis tile instead takes 32 rows x 8 columns
//!    per lane, 16 lanes along the columns only, UNROLL 4, and SHAREs the inputs that do not
//!    read the columns (`a` of a matmul, conv2d's weights) over each subgroup (`share.rs`);
//!    a side the tile does not divide is padded to it first where that adds at most 1/8.
//! 4. **Unroll** the last reduce part: whole when it is at most 32 long, else by 4.
//!    On a CPU adapter (llvmpipe), a reduction of whole rows along a contiguous axis unrolls
//!    it by 16 instead (4 vec4 loads per step; padded to whole runs where needed) and keeps
//!    one output per lane (no step 5).
//! 5. **Upcast 4** on the last output axis when nothing is upcast yet (vec4 loads and stores
//!    on contiguous data), for kernels of at most 64 ALU expressions.
//!    5a. A transpose gets a 4x4 tile (16x4 on a CPU adapter, 16 along the stored axis).
//!    5b. On a CPU adapter (llvmpipe), an elementwise kernel of at most 16 ALU expressions
//!    instead takes 16 neighbours per lane and up to 128 lanes along the same axis (the
//!    axis padded to whole runs over 128 down to 16 lanes where no divisor gives 16).
//! 6. **Locals**: up to 3 output axes, expanded axes first, each taking the largest of 16, 8,
//!    4, 3, 2 (32 for the first axis) that divides it, up to 128 lanes (where none does, its
//!    largest divisor up to that size: 125 takes 25 or 5; where that is under 8, the axis is
//!    padded to a multiple of 8 or 16 instead: 4095 takes 16, not 3); then the chosen sizes
//!    double (in the same order, where they divide) until the workgroup has 128 lanes.
//! 7. **Bounded loops**: on a device that stops long loops (`max_loop_iterations`), UNROLL the
//!    longest reduce part until every loop fits.
//! 8. **Workgroup-memory tiles** (after step 6, before 7): on a GPU (not a CPU adapter), a
//!    register-tiled kernel STAGEs each input that at least 8 lanes of its workgroup share
//!    (`stage.rs`).

mod reduce;
mod rows;
mod runs;
mod share;
mod stage;

use std::cmp::Reverse;

use reduce::{column_reduce, matvec};
use rows::own_rows;
use runs::grouped_runs;
use share::shared_tile;
use stage::stage_shared_inputs;

use super::ast::{AstNode, KernelAst};
use super::linearize::loop_iterations;
use super::opt::{apply_opts, AxisKind, Opt, OptOp, Shaped};
use crate::target::DeviceLimits;
use crate::view::symbolic::Atom;

/// Neighbouring outputs one lane of an elementwise kernel computes on a CPU adapter (four
/// vec4 loads per input). On lavapipe, exp/log/sqrt over 2^24 floats ran 18-27 ms with 16
/// per lane and 128 lanes against 24-36 ms with 4 (the GPU layout), and (a+b)*c over
/// 4096x4096 56-61 against 69-72 ms (four interleaved rounds each); 16 per lane strided by
/// the workgroup (what a GPU coalesces) was no faster than 4.
const CPU_RUN: usize = 16;
/// Lanes that cooperate on one reduction when there are few outputs.
const GROUP_SIZE: usize = 256;
/// Lanes that cooperate on one reduction when its kernel has several nests.
const MULTI_NEST_GROUP_SIZE: usize = 16;
/// The most values each of those lanes folds.
const MULTI_NEST_MAX_PER_LANE: usize = 256;
/// Outputs below which a reduction is split across a workgroup.
const FEW_OUTPUTS: usize = 2048;
/// Longest expression (ALU nodes) that step 5 still upcasts.
const MAX_EXPRS_TO_UPCAST: usize = 64;
/// Lanes per workgroup the LOCAL step aims for at most.
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

/// 7. Keep every loop under the device's iteration bound (llvmpipe stops longer loops and the
///    result is wrong): unroll the longest reduce part until the nest fits, if it can.
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

/// Steps 1-6 and 8 (see the module docs).
fn choose(plan: &mut Plan) {
    let (ast, limits) = (plan.ast, plan.limits);
    let uses = axis_uses(ast);
    let out_n = ast.output_numel();
    let reduce_parts = plan.shaped.reduce_parts();

    if own_rows(plan) || matvec(plan) {
        return;
    }

    // 2. Few outputs: split the longest reduction across a workgroup.
    if !reduce_parts.is_empty() && out_n < FEW_OUTPUTS {
        let (r, &i) = reduce_parts
            .iter()
            .enumerate()
            .max_by_key(|(_, &i)| plan.shaped.parts[i].size)
            .expect("non-empty");
        let size = plan.shaped.parts[i].size;
        if size >= 64 && (column_reduce(plan, &uses, r, i) || grouped_runs(plan)) {
            return;
        }
        if size >= 64 {
            // Several nests (a chunk's max, then its sum of exp(x - max)) each pass a tree of
            // barriers: share them among fewer lanes. On lavapipe a chunked softmax's
            // statistics over [64, 25, 1600] took 22-33 ms grouped over 200 lanes and 9-10 ms
            // over 16-50, with vec4 loads in every nest (interleaved runs).
            // (Only where every lane still folds few values one after another: a long sum
            // split over 16 lanes drifts, 2048 copies of 0.1 per lane by 1.6e-5.)
            let multi_nest = ast.nests().len() > 1
                && ast
                    .reduce_lengths()
                    .all(|n| n <= MULTI_NEST_GROUP_SIZE * MULTI_NEST_MAX_PER_LANE);
            let cap = if multi_nest {
                MULTI_NEST_GROUP_SIZE
            } else {
                GROUP_SIZE
            }
            .min(limits.max_workgroup_size);
            let axis = plan.shaped.parts[i].axis;
            // Read contiguously: each lane takes 4 neighbours (vec4 loads) before the group
            // splits the rest. On lavapipe the first stage of sum_all of 4096x4096 took
            // 26-28 ms with it and 29-44 without (three interleaved runs).
            let vec4 = read_contiguously(ast, axis)
                && size.is_multiple_of(4)
                && size / 4 >= 64
                && largest_divisor(size / 4, cap) >= 16
                && plan.push(Opt::new(OptOp::Unroll, r, 4));
            let size = if vec4 { size / 4 } else { size };
            let d = largest_divisor(size, cap);
            let g = if d >= 16 {
                plan.push(Opt::new(OptOp::Group, r, d)).then_some(d)
            } else {
                let n = cap.min(size.next_power_of_two());
                (plan.push(Opt::new(OptOp::Padto, i, n)) && plan.push(Opt::new(OptOp::Group, r, n)))
                    .then_some(n)
            };
            // The other nests share the group lanes where they divide into them.
            if let Some(g) = g {
                for nest in ast.nests() {
                    if !nest.contains(&axis) {
                        group_nest(plan, &nest, g, if multi_nest { 4 } else { 1 });
                    }
                }
            }
            return;
        }
    }

    // 3. Upcast axes that some input broadcasts along (register tiles of a matmul).
    //    On a CPU adapter the tile takes two axes that every load broadcasts one of (a
    //    matmul's rows and columns; conv2d's output channels and columns, not its rows and
    //    columns, which the image reads both): each load then varies along one side of the
    //    tile only, and the tile grows to 16x16 below. On lavapipe conv2d of x(8,32,64,64)
    //    and w(64,32,3,3) ran 183-194 ms so against 466-476 ms with the 4x4x4 tile (three
    //    interleaved rounds; channels x columns 8x16 or 16x8x2 in between).
    // Every load, as `broadcast_by` numbers them (the first 64).
    let loads = ast
        .exprs
        .iter()
        .filter(|(_, e)| matches!(e.op, AstNode::Load { .. }))
        .count();
    let all_loads = u64::MAX.checked_shr(64 - loads.min(64) as u32).unwrap_or(0);
    let complementary =
        |a: usize, b: usize| (uses[a].broadcast_by | uses[b].broadcast_by) == all_loads;
    if shared_tile(plan, &uses, &complementary) {
        return;
    }
    let mut upcasted: Vec<usize> = vec![];
    while out_n / plan.upcast_size().max(1) >= 1024 && plan.upcast_size() < 32 {
        if limits.cpu_adapter && upcasted.len() == 2 && complementary(upcasted[0], upcasted[1]) {
            break;
        }
        let cpu_pair = limits.cpu_adapter
            && upcasted.len() == 1
            && plan.globals().into_iter().any(|i| {
                let axis = plan.shaped.parts[i].axis;
                axis != upcasted[0] && complementary(upcasted[0], axis)
            });
        let mut choices: Vec<(usize, i64, usize, usize)> = vec![];
        for i in plan.globals() {
            let part = plan.shaped.parts[i];
            if upcasted.contains(&part.axis) || uses[part.axis].broadcasters == 0 {
                continue;
            }
            if cpu_pair && !complementary(upcasted[0], part.axis) {
                continue;
            }
            for amount in [3, 4] {
                if part.size.is_multiple_of(amount) {
                    let u = uses[part.axis];
                    choices.push((u.readers, u.stride_sum, i, amount));
                }
            }
        }
        choices.sort();
        let Some(&(_, _, i, amount)) = choices.first() else {
            break;
        };
        let axis = plan.shaped.parts[i].axis;
        if !plan.push(Opt::new(OptOp::Upcast, i, amount)) {
            break;
        }
        upcasted.push(axis);
    }
    // An 8x8 register tile rather than 4x4 (4x8 where the outputs are too few for 8x8):
    // each upcast axis once more by 2, the innermost first. On lavapipe, matmul 1024^3 ran
    // 25-30% faster with 32 accumulators than with 16, and 8x8 ran another 25-40% faster
    // than 4x8 (a@b and a.T@b alike, three alternating runs each); 8x8 outputs per thread
    // is also what the fastest published WGSL matmuls use (gpu.cpp). On a CPU adapter the
    // tile grows once more, to 16x16 where the outputs allow: values that spill go to the
    // stack, while each load from a buffer is a loop over the lanes, so loading less per FMA
    // pays. On lavapipe matmul 1024^3 ran a median 132 ms with 16x16 against 206 ms with 8x8
    // (121-215 against 180-232, five interleaved rounds; 8x16 and 16x8 in between), but a
    // 16x16 tile takes llvmpipe 1.4 s to compile against 0.5 s (Mesa's disk cache keeps it).
    let rounds = if limits.cpu_adapter { 2 } else { 1 };
    let mut by_depth = upcasted.clone();
    by_depth.sort_unstable_by(|a, b| b.cmp(a));
    for _ in 0..rounds {
        // (Only a tile over two axes: conv2d's 4x4x4 tile grown to 256 outputs ran no faster
        // on lavapipe, 175-295 ms against 178-278, and took 2 s to compile.)
        let size = plan.upcast_size();
        let grow = upcasted.len() >= 2 && (size == 16 || (upcasted.len() == 2 && size == 64));
        if !grow {
            break;
        }
        for &axis in by_depth.iter().take(2) {
            if out_n / (plan.upcast_size() * 2) < 1024 {
                break;
            }
            let Some(i) = plan
                .globals()
                .into_iter()
                .find(|&i| plan.shaped.parts[i].axis == axis)
            else {
                break;
            };
            if !plan.shaped.parts[i].size.is_multiple_of(2)
                || !plan.push(Opt::new(OptOp::Upcast, i, 2))
            {
                break;
            }
        }
    }

    // 4. Unroll the last reduce part. On a CPU adapter, a lane that reduces whole rows along a
    //    contiguous axis walks CPU_RUN neighbours per step (four vec4 loads) instead of 4,
    //    and keeps one output (step 5 skipped): on lavapipe, max(1) of 4096x4096 ran 16-17 ms
    //    so against 19.5-22 ms with UNROLL 4 and UPCAST 4 (four interleaved rounds).
    let reds = plan.shaped.reduce_parts();
    let mut cpu_row_walk = false;
    if let Some(&last) = reds.last() {
        let has_unroll = plan.shaped.size_of(AxisKind::Unroll) > 1;
        // (The register budget refuses an unroll the tile leaves no room for.)
        if plan.upcast_size() <= 4 || !has_unroll {
            let size = plan.shaped.parts[last].size;
            let r = reds.len() - 1;
            if size <= 32 {
                plan.push(Opt::new(OptOp::Unroll, r, 0));
            } else if limits.cpu_adapter
                && plan.upcast_size() == 1
                && read_contiguously(ast, plan.shaped.parts[last].axis)
                && unroll_runs(plan, last, r)
            {
                cpu_row_walk = true;
            } else if size.is_multiple_of(4) {
                plan.push(Opt::new(OptOp::Unroll, r, 4));
            }
        }
    }

    // 5. Nothing upcast yet: 4 outputs per lane on the last output axis (vec4 access), unless
    //    the kernel is a long expression: upcasting copies its code per lane, and driver
    //    compile time grows with it (1000 chained ops took 4x as long to compile upcast).
    let alu_exprs = ast
        .exprs
        .iter()
        .filter(|(_, e)| {
            !matches!(
                e.op,
                AstNode::Load { .. } | AstNode::Const(_) | AstNode::Param(_)
            )
        })
        .count();
    if plan.upcast_size() == 1 && alu_exprs <= MAX_EXPRS_TO_UPCAST && !cpu_row_walk {
        // The output's innermost axis: the stores are contiguous along it.
        let last = plan.globals().last().copied();
        let stored = last.map(|i| plan.shaped.parts[i].axis);
        if limits.cpu_adapter
            && reduce_parts.is_empty()
            && alu_exprs <= MAX_EXPRS_TO_UPCAST / 4
            && last.is_some_and(|i| cpu_elementwise(plan, i))
        {
            return;
        }
        // 5a. A transpose: an input is contiguous along another output axis. A 4x4 tile per
        //     lane then loads 4 vec4 along the input and stores 4 vec4 along the output; on
        //     lavapipe, a 64^4 permute(3,2,1,0) ran 3.2x faster so (with the locals below on
        //     the input's axes: 140 ms against 443-476, three interleaved runs). On a CPU
        //     adapter the tile is 16 wide along the stored axis: 62-65 ms against 75-94 ms
        //     for 4x4 (four interleaved rounds; 4 along the stored axis and 16 along the
        //     input's, or 8x8, measured in between).
        let transposed = |plan: &Plan| {
            plan.globals().into_iter().find(|&i| {
                let p = plan.shaped.parts[i];
                Some(p.axis) != stored && read_contiguously(ast, p.axis) && p.size.is_multiple_of(4)
            })
        };
        if let Some(i) = last.filter(|&i| plan.shaped.parts[i].size.is_multiple_of(4)) {
            let wide = limits.cpu_adapter
                && transposed(plan).is_some()
                && plan.shaped.parts[i].size.is_multiple_of(CPU_RUN);
            plan.push(Opt::new(OptOp::Upcast, i, if wide { CPU_RUN } else { 4 }));
        }
        if let Some(i) = transposed(plan) {
            plan.push(Opt::new(OptOp::Upcast, i, 4));
        }
    }

    // 6. Locals: expanded axes first, then the axes the loads read with the smallest strides
    //    (neighbouring lanes read neighbouring memory), then the later (inner) axes.
    let mut ranked: Vec<(bool, usize)> = plan
        .globals()
        .into_iter()
        .map(|i| (uses[plan.shaped.parts[i].axis].broadcasters > 0, i))
        .collect();
    let stride = |i: usize| {
        let u = uses[plan.shaped.parts[i].axis];
        if u.readers == 0 {
            i64::MAX
        } else {
            u.stride_sum
        }
    };
    ranked.sort_by_key(|&(expanded, i)| (Reverse(expanded), stride(i), Reverse(i)));
    let mut lanes = 1;
    let mut chosen: Vec<(usize, usize)> = vec![];
    for &(_, i) in ranked.iter().take(3) {
        let size = plan.shaped.parts[i].size;
        let first = Some(&i) == plan.globals().first();
        let sizes: &[usize] = if first {
            &[32, 16, 8, 4, 3, 2]
        } else {
            &[16, 8, 4, 3, 2]
        };
        let cap = sizes[0].min(MAX_LOCAL / lanes);
        let mut n = sizes
            .iter()
            .copied()
            .find(|&n| size.is_multiple_of(n) && n <= cap)
            .unwrap_or(1);
        // Fewer than 8 lanes (4095 = 3^2·5·7·13 takes 3): pad the axis to whole groups of 8
        // (16 for the first) where that adds at most an eighth. On lavapipe max(1) of
        // 4095x4095 ran 15-18 ms over 128 lanes of padded rows against 27-33 ms over 3 (five
        // interleaved rounds). An axis already split (PADTO refuses it) takes its largest
        // divisor that fits instead: a one-lane workgroup fills one SIMD lane of eight on
        // llvmpipe. Matmul 1000^3 on lavapipe (125 after an 8x8 tile), three interleaved
        // rounds: 288-493 ms with 25x5 lanes, 1019-1211 ms with none.
        let want = sizes[1].min(cap);
        if n < 8 {
            if want > n && plan.pad_within(i, want) {
                n = want;
            } else {
                n = n.max(largest_divisor(size, cap));
            }
        }
        if n > 1 {
            chosen.push((i, n));
            lanes *= n;
        }
    }
    // Fill the workgroup up to MAX_LOCAL lanes: double the chosen sizes, in rank order, where
    // they still divide. An elementwise kernel's one axis got 32 lanes above; on lavapipe
    // exp/log/sqrt over 2^24 floats ran 1.6-2x faster with 128 lanes (fewer, larger
    // workgroups: each costs the driver a dispatch), and 128-1024 measured the same.
    loop {
        let mut grew = false;
        for (i, n) in chosen.iter_mut() {
            if lanes * 2 <= MAX_LOCAL && plan.shaped.parts[*i].size.is_multiple_of(*n * 2) {
                *n *= 2;
                lanes *= 2;
                grew = true;
            }
        }
        if !grew {
            break;
        }
    }
    // LOCAL keeps global parts in place (a global part of size 1 stays), so indices hold.
    chosen.sort();
    for (i, n) in chosen {
        plan.push(Opt::new(OptOp::Local, i, n));
    }
    stage_shared_inputs(plan);
}

/// Step 4's row walk: UNROLL [`CPU_RUN`] of reduce part `r` (part `part`), padded to whole
/// runs first where it is not (within an eighth: max(1) of 4095x4095 on lavapipe ran
/// 15-18 ms padded against 46-52 ms, five interleaved rounds). Says whether it applied; the
/// plan is unchanged when it did not.
fn unroll_runs(plan: &mut Plan, part: usize, r: usize) -> bool {
    let before = (plan.opts.clone(), plan.shaped.clone());
    if plan.pad_within(part, CPU_RUN) && plan.push(Opt::new(OptOp::Unroll, r, CPU_RUN)) {
        return true;
    }
    (plan.opts, plan.shaped) = before;
    false
}

/// 5b. An elementwise kernel on a CPU adapter ([`DeviceLimits::cpu_adapter`]): each lane
/// takes [`CPU_RUN`] neighbours of the output's last axis (global part `last`), and the
/// workgroup's lanes lie along that axis too. Not for a transpose (an input contiguous along
/// another axis: 5a's tiles). Says whether it applied; the plan is unchanged when it did not.
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
    // whole runs over 128 down to 16 lanes (a short axis, or one of odd factors like 4095,
    // which the general rules gave 3 lanes: on lavapipe exp().sqrt() of 4095x4095 ran
    // 40-49 ms padded to runs over 128 lanes against 184-214 ms, five interleaved rounds).
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
/// heuristics pad an axis (PADTO, the tail masked) for a layout that needs whole multiples.
/// An odd size otherwise falls to whatever divides it: on lavapipe exp().sqrt() of
/// 4095x4095 took 3x3-lane workgroups and ran 8x the time per element of 4096x4096.
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
