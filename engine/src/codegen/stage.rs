//! Workgroup-memory tiling (the `STAGE` opt): what one staged input looks like under a shape.
//!
//! In a register-tiled matmul every lane loads, per step of the reduction, its rows of `a` and
//! its columns of `b`; lanes of one workgroup that share a row load the same elements of `a`
//! again. STAGE makes the workgroup load them once: at the top of each iteration of the reduce
//! loop, the lanes copy the *tile* of the buffer that the whole workgroup reads in that
//! iteration into workgroup memory together (neighbouring lanes copying neighbouring
//! elements, so the copy coalesces), a barrier, then each lane reads its values from the tile,
//! and a barrier again before the next iteration overwrites it. That is the block tiling of
//! the fastest published WGSL matmuls (gpu.cpp: 64x64 blocks, BK=8, 8x8 outputs per thread).
//!
//! The tile of a staged load spans the parts of the axes the load reads that vary within one
//! iteration: its local parts (the lanes), its upcast parts (each lane's outputs) and the
//! nest's unroll parts (the reduce steps of one iteration). Its other parts (global parts:
//! the workgroup; reduce loop parts: the iteration) are fixed while the tile is live.
//!
//! What STAGE requires, and `stage_buffer` / `stage_tile` check (an opt list that breaks one
//! is an `OptError` naming it):
//! - the buffer is an input read by exactly one load, and only inside the reduces of one nest
//!   (the tile belongs to that nest's loop), with an index that varies along that nest's axes;
//! - the nest still has a reduce loop (the tile is refilled once per iteration), no group
//!   lanes (GROUP and GROUPOUT split the reduction itself over the lanes), and some local
//!   axis the load does not read, so that lanes really share elements;
//! - the tile fits the device's workgroup memory (with everything else the kernel keeps
//!   there), and each lane copies at most [`MAX_COPIES_PER_LANE`] elements of it.
//!
//! The linearizer's side (the copy, the barriers, the reads) is `linearize/stage.rs`.

use super::ast::{AstNode, ExprRef, KernelAst};
use super::shaped::{AxisKind, Shaped};
use crate::view::symbolic::Atom;

/// Elements of a tile one lane copies per iteration, at most: each copy is emitted as code.
pub const MAX_COPIES_PER_LANE: usize = 64;

/// The tile of one staged buffer under a shape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StageTile {
    pub buf: usize,
    /// The buffer's one load.
    pub load: ExprRef,
    /// The axes of the reduce nest the load feeds.
    pub nest: Vec<usize>,
    /// Indices into `Shaped::parts` of the tile's parts, outermost first: the last is the part
    /// with the smallest stride in the buffer, so that neighbouring lanes copy neighbouring
    /// elements.
    pub parts: Vec<usize>,
    /// Per tile part, its stride within the tile (row-major over `parts`).
    pub strides: Vec<usize>,
    /// Elements in the tile.
    pub len: usize,
}

impl StageTile {
    pub fn bytes(&self) -> usize {
        self.len * 4 // registers are 4 bytes, packed dtypes too (see `DType::register`)
    }
}

/// The one load of `buf` and the axes of the nest it feeds, or why `buf` cannot be staged in
/// any shape.
pub fn stage_buffer(ast: &KernelAst, buf: usize) -> Result<(ExprRef, Vec<usize>), String> {
    let loads = ast.input_loads(buf)?;
    let load = match loads.as_slice() {
        [one] => *one,
        many => {
            return Err(format!(
                "buffer {buf} is loaded at {} different indices (a tile serves one)",
                many.len()
            ))
        }
    };
    // Which expressions reach the load without passing through a reduce (a reduce's value
    // is computed in its own nest).
    let mut reaches = vec![false; ast.exprs.len()];
    for (h, e) in ast.exprs.iter() {
        reaches[h.index()] = h == load
            || (!matches!(e.op, AstNode::Reduce { .. })
                && e.op.operands().iter().any(|o| reaches[o.index()]));
    }
    if ast
        .stores
        .iter()
        .any(|s| s.operands().iter().any(|o| reaches[o.index()]))
    {
        return Err(format!(
            "buffer {buf} is also read outside any reduction (a tile lives in one reduce loop)"
        ));
    }
    let mut nests: Vec<&Vec<usize>> = vec![];
    for (_, e) in ast.exprs.iter() {
        if let AstNode::Reduce { src, axes, .. } = &e.op {
            if reaches[src.index()] && !nests.contains(&axes) {
                nests.push(axes);
            }
        }
    }
    let nest = match nests.as_slice() {
        [one] => (*one).clone(),
        [] => return Err(format!("buffer {buf} is not read by any reduction")),
        _ => {
            return Err(format!(
                "buffer {buf} is read by {} reduce nests (a tile lives in one reduce loop)",
                nests.len()
            ))
        }
    };
    let AstNode::Load { index, valid, .. } = &ast.exprs[load].op else {
        unreachable!("found as a load")
    };
    let mut vars = index.vars();
    vars.extend(valid.vars());
    let red = ast.reduce_axes();
    if !vars.iter().any(|&v| nest.contains(&(v as usize))) {
        return Err(format!(
            "buffer {buf}'s load does not vary along the reduce axes {nest:?}: staging it \
             per iteration would only copy the same elements again"
        ));
    }
    if let Some(v) = vars
        .iter()
        .find(|&&v| red.contains(&(v as usize)) && !nest.contains(&(v as usize)))
    {
        return Err(format!(
            "buffer {buf}'s load reads axis {v}, which another nest reduces"
        ));
    }
    Ok((load, nest))
}

/// The tile of `buf` under `shaped`, or why the shape cannot stage it.
pub fn stage_tile(ast: &KernelAst, shaped: &Shaped, buf: usize) -> Result<StageTile, String> {
    let (load, nest) = stage_buffer(ast, buf)?;
    if shaped.shared.contains(&buf) {
        return Err(format!("buffer {buf} is shared through subgroups"));
    }
    if shaped.group_size() > 1 {
        return Err(
            "STAGE does not combine with GROUP, GROUPTOP or GROUPOUT (the group lanes split \
             the reduction itself)"
                .into(),
        );
    }
    let parts = &shaped.parts;
    let has_loop = parts
        .iter()
        .any(|p| p.kind == AxisKind::Reduce && nest.contains(&p.axis));
    if !has_loop {
        return Err(format!(
            "the nest over axes {nest:?} has no reduce loop left (its tile would be loaded once)"
        ));
    }
    let AstNode::Load { index, valid, .. } = &ast.exprs[load].op else {
        unreachable!("stage_buffer returns a load")
    };
    let mut vars: Vec<usize> = index
        .vars()
        .into_iter()
        .chain(valid.vars())
        .map(|v| v as usize)
        .collect();
    vars.sort_unstable();
    vars.dedup();
    let shares = parts
        .iter()
        .any(|p| p.kind == AxisKind::Local && !vars.contains(&p.axis));
    if !shares {
        return Err(format!(
            "no lanes of a workgroup share buffer {buf}'s elements: its load reads every \
             local axis"
        ));
    }
    // The buffer stride of an axis where the index reads it plainly; an axis read through a
    // division or modulo sorts as the slowest.
    let stride_of = |axis: usize| {
        index
            .terms()
            .find_map(|(atom, coef)| (*atom == Atom::Var(axis as u32)).then_some(coef.abs()))
            .unwrap_or(i64::MAX)
    };
    let mut tile: Vec<usize> = (0..parts.len())
        .filter(|&i| {
            let p = parts[i];
            vars.contains(&p.axis)
                && matches!(
                    p.kind,
                    AxisKind::Local | AxisKind::Upcast | AxisKind::Unroll
                )
        })
        .collect();
    // Outermost first: by buffer stride, descending.
    tile.sort_by_key(|&i| {
        let p = parts[i];
        std::cmp::Reverse(stride_of(p.axis).saturating_mul(p.mult as i64))
    });
    let len: usize = tile.iter().map(|&i| parts[i].size).product();
    let mut strides = vec![0; tile.len()];
    let mut stride = 1;
    for (k, &i) in tile.iter().enumerate().rev() {
        strides[k] = stride;
        stride *= parts[i].size;
    }
    let copies = len.div_ceil(shaped.local_size());
    if copies > MAX_COPIES_PER_LANE {
        return Err(format!(
            "its tile of {len} elements takes {copies} copies per lane (at most \
             {MAX_COPIES_PER_LANE})"
        ));
    }
    Ok(StageTile {
        buf,
        load,
        nest,
        parts: tile,
        strides,
        len,
    })
}
