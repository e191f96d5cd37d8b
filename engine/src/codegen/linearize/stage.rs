//! Staged loads (the `STAGE` opt, see `codegen/stage`): each iteration of a nest's reduce
//! loop, the lanes of the workgroup copy a tile of the buffer into workgroup memory together,
//! then every lane reads its values of it there.
//!
//! ```text
//! var<workgroup> tile: array<T, len>;             declared before the nest's loops
//! for r0 { ..                                     the nest's reduce loops
//!   tile[lid + c·lanes] = buf[index at that tile position]   c = 0, 1, ..  (an `if` for a
//!   barrier                                                  last partial copy)
//!   acc ⊕= f(tile[position of (local id, upcast lane, unroll lane)], ..)
//!   barrier                                       before the next iteration's copy
//! }
//! ```
//! A tile position is row-major over the tile's parts (`StageTile::parts`); a copy's
//! position is split back into those parts' values, the parts that are fixed during the
//! iteration (global parts, the reduce loop variables) keep theirs, and the load's index,
//! validity and padding guards are evaluated there: a masked element is copied as 0, as the
//! load would have read it. Both barriers are reached by every lane (the loop's trip count
//! is the same in every lane; only the copies sit inside an `if`).

use crate::dtype::{DType, Scalar};
use crate::ops::BinaryOp;
use crate::view::symbolic::Lin;

use super::super::ast::{AstNode, ExprRef};
use super::super::ir::{Ref, UOp};
use super::super::shaped::AxisKind;
use super::super::stage::{stage_tile, StageTile};
use super::{Key, Linearizer, VAR_LOCAL};

impl Linearizer<'_> {
    /// The tiles staged in the nest over `axes`, each with its workgroup array, declared here
    /// (before the nest's loops open).
    pub(super) fn define_stages(&mut self, axes: &[usize]) -> Vec<(StageTile, Ref)> {
        let mut out = vec![];
        for &buf in &self.shaped.staged {
            let tile = stage_tile(self.ast, self.shaped, buf)
                .expect("apply_opts checked every staged tile");
            if tile.nest != axes {
                continue;
            }
            let d = self.ast.exprs[tile.load].dtype;
            let local = self.push(UOp::DefineLocal { len: tile.len }, d, 1);
            out.push((tile, local));
        }
        out
    }

    /// At the top of an iteration of the nest's loops: every lane copies its share of each
    /// tile, then a barrier. The tiles' loads read the tiles until [`Self::end_stages`].
    pub(super) fn fill_stages(&mut self, stages: Vec<(StageTile, Ref)>) {
        if stages.is_empty() {
            return;
        }
        let lanes = self.shaped.local_size();
        for (tile, local) in &stages {
            let AstNode::Load { buf, index, valid } = self.ast.exprs[tile.load].op.clone() else {
                unreachable!("a staged tile belongs to a load")
            };
            let d = self.ast.exprs[tile.load].dtype;
            for copy in 0..tile.len.div_ceil(lanes) {
                let pos = Lin::var(VAR_LOCAL).add_const((copy * lanes) as i64);
                let partial = (copy + 1) * lanes > tile.len;
                if partial {
                    let at = self.lin(&pos);
                    let len = self.constant(Scalar::I32(tile.len as i32));
                    let inside = self.binary(BinaryOp::CmpLt, at, len, DType::Bool);
                    self.open(UOp::If(inside));
                }
                let vals = self.copy_axis_values(tile, &pos);
                let (idx, v) = self.access_at(&index, &valid, &vals);
                let index = self.lin(&idx);
                let valid = self.valid(&v);
                let value = self.emit(UOp::Load { buf, index, valid }, d);
                let slot = self.lin(&pos);
                self.push(
                    UOp::StoreLocal {
                        local: *local,
                        index: slot,
                        value,
                    },
                    d,
                    1,
                );
                if partial {
                    self.close(UOp::EndIf);
                }
            }
        }
        self.push(UOp::Barrier, DType::Bool, 1);
        self.active_stages = stages;
    }

    /// At the bottom of an iteration: a barrier, so that no lane's next copy overwrites a tile
    /// another lane still reads.
    pub(super) fn end_stages(&mut self) {
        if !self.active_stages.is_empty() {
            self.push(UOp::Barrier, DType::Bool, 1);
            self.active_stages.clear();
        }
    }

    /// The value of every domain axis at tile position `pos`: the tile's parts take their
    /// digits of `pos`, the other parts their values in this iteration (the axes the load
    /// reads have no other lane parts: every local, upcast and unroll part of them is in the
    /// tile).
    fn copy_axis_values(&self, tile: &StageTile, pos: &Lin) -> Vec<Lin> {
        let parts = &self.shaped.parts;
        let mut vals = vec![Lin::constant(0); self.ast.full_shape.len()];
        for (i, p) in parts.iter().enumerate() {
            let v = match tile.parts.iter().position(|&t| t == i) {
                Some(k) => pos
                    .div(tile.strides[k] as i64, &self.ranges)
                    .rem(p.size as i64, &self.ranges),
                None => match &self.part_value[i] {
                    Some(v) => v.clone(),
                    None => continue, // a lane part of an axis the load does not read
                },
            };
            vals[p.axis] = vals[p.axis].add(&v.scale(p.mult as i64));
        }
        vals
    }

    /// The value of staged load `e` in `lane`: one read of its tile, shared by the lanes at
    /// the same position.
    pub(super) fn staged_read(&mut self, e: ExprRef, lane: usize) -> Ref {
        let (tile, local) = self
            .active_stages
            .iter()
            .find(|(t, _)| t.load == e)
            .cloned()
            .expect("called for an active staged load");
        let mut pos = Lin::constant(0);
        for (k, &i) in tile.parts.iter().enumerate() {
            let digit = match self.shaped.parts[i].kind {
                AxisKind::Local => self.part_value[i].clone().expect("local parts have values"),
                _ => {
                    let at = self
                        .lanes
                        .parts
                        .iter()
                        .position(|&j| j == i)
                        .expect("upcast and unroll parts are lane parts");
                    Lin::constant(self.lane_values[lane][at] as i64)
                }
            };
            pos = pos.add(&digit.scale(tile.strides[k] as i64));
        }
        let key = Key::Staged(tile.buf, pos.clone());
        if let Some(r) = self.lookup(&key) {
            return r;
        }
        let index = self.lin(&pos);
        let d = self.ast.exprs[e].dtype;
        let r = self.push(UOp::LoadLocal { local, index }, d, 1);
        self.remember(key, r)
    }
}
