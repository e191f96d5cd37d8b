//! Subgroup-shared loads (the `SHARE` opt): what a shared input requires of a shape.
//!
//! In a register-tiled matmul whose lanes sit side by side along the columns only, every lane
//! of a workgroup reads the same rows of `a`: per step of the reduction each lane loads the
//! same `TM` elements as its neighbours. SHARE makes the lanes of each subgroup load them
//! once between them: lane `s` of the subgroup loads elements `s`, `s + S`, `s + 2S`, .. of
//! that set (S the device's smallest subgroup size), and every lane takes each element from
//! the lane that loaded it with a subgroup broadcast. No workgroup memory and no barrier.
//!
//! Where it pays: on a CPU adapter (llvmpipe) a buffer load is a loop over the SIMD lanes,
//! one scalar load each, while a broadcast is a register shuffle (BENCHMARKS.md, "SHARE").
//! On a GPU it replaces TM loads per lane by TM/S loads and TM shuffles (the register
//! blocking of warp-level matmuls); not measured there.
//!
//! What SHARE requires, and `share_buffer` / `shared_loads` check (an opt list that breaks it
//! is an `OptError` naming it):
//! - the device has subgroups, and every workgroup is a whole number of the largest ones (a
//!   partial subgroup could lack the lane that loads an element);
//! - the buffer is an input of a dtype subgroups can broadcast (not bool), not staged;
//! - some load of it reads only axes the lanes of a workgroup agree on: no local, group or
//!   loop part (then all lanes of a subgroup load the same set of elements), and some
//!   upcast or unroll part (else each lane loads one element, and there is nothing to
//!   split). Those loads are shared; the buffer's other loads stay per lane (`a.T @ a`
//!   shares the load of the rows, not of the columns).
//!
//! The linearizer's side (the split loads and the broadcasts) is `linearize/share.rs`.

use super::ast::{AstNode, ExprRef, KernelAst};
use super::shaped::{AxisKind, Shaped};
use crate::dtype::DType;

/// The loads of `buf`, or why `buf` cannot be shared in any shape.
pub fn share_buffer(ast: &KernelAst, buf: usize) -> Result<Vec<ExprRef>, String> {
    let loads = ast.input_loads(buf)?;
    if ast.bufs[buf].dtype == DType::Bool {
        return Err(format!(
            "buffer {buf} holds bools, which subgroups do not broadcast"
        ));
    }
    Ok(loads)
}

/// The loads of `buf` that the subgroups split under `shaped`, on a device whose subgroups
/// hold `subgroup_sizes` (smallest, largest) invocations; why none, if none.
pub fn shared_loads(
    ast: &KernelAst,
    shaped: &Shaped,
    buf: usize,
    subgroup_sizes: Option<(usize, usize)>,
) -> Result<Vec<ExprRef>, String> {
    let loads = share_buffer(ast, buf)?;
    let Some((_, largest)) = subgroup_sizes else {
        return Err("the device has no subgroup operations".into());
    };
    if shaped.staged.contains(&buf) {
        return Err(format!("buffer {buf} is staged through workgroup memory"));
    }
    let lanes = shaped.local_size();
    if !lanes.is_multiple_of(largest) {
        return Err(format!(
            "{lanes} lanes per workgroup are not a whole number of subgroups of up to \
             {largest} (a partial subgroup could lack the lane that loads an element)"
        ));
    }
    let mut shared = vec![];
    let mut why = String::new();
    for load in loads {
        let AstNode::Load { index, valid, .. } = &ast.exprs[load].op else {
            unreachable!("share_buffer returns loads")
        };
        let mut vars = index.vars();
        vars.extend(valid.vars());
        let reads = |axis: usize| vars.contains(&(axis as u32));
        let mut splits = false;
        let mut agreed = true;
        for p in shaped.parts.iter().filter(|p| p.size > 1 && reads(p.axis)) {
            match p.kind {
                AxisKind::Local | AxisKind::Group | AxisKind::Loop => {
                    why = format!(
                        "buffer {buf} is read along axis {}, which the lanes of a workgroup \
                         split (a {:?} part): they load different elements",
                        p.axis, p.kind
                    );
                    agreed = false;
                    break;
                }
                AxisKind::Upcast | AxisKind::Unroll => splits = true,
                AxisKind::Global | AxisKind::Reduce => {}
            }
        }
        if agreed && !splits && why.is_empty() {
            why = format!(
                "buffer {buf} is read along no upcast or unroll part: each lane loads one \
                 element of it, nothing to split"
            );
        }
        if agreed && splits {
            shared.push(load);
        }
    }
    if shared.is_empty() {
        return Err(why);
    }
    Ok(shared)
}
