//! Shared loads (the `SHARE` opt, see `codegen/share`): the lanes of a subgroup split the
//! loads of a buffer that all of them make, and hand the elements out by broadcast.
//!
//! ```text
//! slots:     a load's distinct accesses within one lane (one per vector where the load
//!            vectorizes), numbered row-major over the upcast and unroll parts it reads
//! chunk j  = load at slot j·S + (subgroup lane mod S)     masked past the last slot
//! slot q   = subgroup_broadcast(chunk q / S, from lane q mod S)
//! ```
//! S is the device's smallest subgroup size, so lanes 0..S exist in every subgroup
//! (`shared_loads` keeps workgroups whole subgroups). A chunk's index is the load's index with
//! each tile part's value the digit of the slot number `j·S + lane`: the same index the lane
//! owning that slot would compute, hence the same alignment for vector loads. Padding on the
//! axes the load reads masks it, as in the plain load; lanes that sit in padding along other
//! axes receive real elements where the plain load would read 0, but their contributions
//! and stores are masked anyway.

use std::rc::Rc;

use crate::dtype::{DType, Scalar};
use crate::ops::BinaryOp;
use crate::view::symbolic::Lin;

use super::super::ast::{AstNode, ExprRef};
use super::super::ir::{Ref, Special, UOp};
use super::super::shaped::AxisKind;
use super::super::share::shared_loads;
use super::vector::VectorAccess;
use super::{Key, Linearizer};

/// How one shared load's accesses map to slots, in the nest being emitted.
#[derive(Debug)]
pub(super) struct ShareTile {
    /// The lane parts the load reads (indices into `Lanes::parts`), outermost first, each
    /// with its number of slot digits (its size, divided by the vector width for the part
    /// the vectors run along) and its stride in the slot number.
    parts: Vec<(usize, usize, usize)>,
    /// The part the vectors run along (index into `Lanes::parts`) and their width; `None`
    /// when the load is read element by element.
    vector: Option<(usize, u8)>,
    /// Distinct accesses per lane.
    slots: usize,
}

impl Linearizer<'_> {
    /// Finds the loads the subgroups split and declares the subgroup lane variable (lane
    /// mod S) they split by, when the kernel shares any buffer. Called once, before any loop
    /// opens.
    pub(super) fn define_share_lane(&mut self) {
        let Some((smallest, largest)) = self.subgroup_sizes else {
            return;
        };
        for &buf in &self.shaped.shared {
            let loads = shared_loads(self.ast, self.shaped, buf, self.subgroup_sizes)
                .expect("apply_opts checked every shared buffer");
            self.shared_exprs.extend(loads);
        }
        if self.shared_exprs.is_empty() {
            return;
        }
        let lane = self.emit(UOp::Special(Special::SubgroupInvocationId), DType::I32);
        let lane = if smallest == largest {
            lane
        } else {
            let s = self.constant(Scalar::I32(smallest as i32));
            self.binary(BinaryOp::Mod, lane, s, DType::I32)
        };
        self.ranges.push((0, smallest as i64 - 1));
        self.var_refs.push(Some(lane));
        self.share_lane = Some((self.var_refs.len() as u32 - 1, smallest));
    }

    /// Whether `e` is a load the lanes of a subgroup split.
    pub(super) fn is_shared_load(&self, e: ExprRef) -> bool {
        self.shared_exprs.contains(&e)
    }

    /// The value of shared load `e` in `lane`.
    pub(super) fn shared_read(&mut self, e: ExprRef, lane: usize) -> Ref {
        let (_, s) = self.share_lane.expect("called for a shared load");
        let tile = self.share_tile(e);
        let values = &self.lane_values[lane];
        let mut slot = 0;
        let mut component = 0;
        for &(k, _, stride) in &tile.parts {
            let mut digit = values[k];
            if let Some((part, w)) = tile.vector {
                if part == k {
                    component = (digit % w as usize) as u8;
                    digit /= w as usize;
                }
            }
            slot += digit * stride;
        }
        let d = self.ast.exprs[e].dtype;
        let width = tile.vector.map_or(1, |(_, w)| w);
        let key = Key::SharedSlot(e, slot);
        let value = match self.lookup(&key) {
            Some(v) => v,
            None => {
                let chunk = self.shared_chunk(e, &tile, slot / s);
                let from = (slot % s) as u32;
                let v = self.emit_w(
                    UOp::SubgroupBroadcast {
                        value: chunk,
                        lane: from,
                    },
                    d,
                    width,
                );
                self.remember(key, v)
            }
        };
        if width == 1 {
            value
        } else {
            self.emit(UOp::Gep(value, component), d)
        }
    }

    /// Chunk `j` of shared load `e`: each lane loads slot `j·S + lane`.
    fn shared_chunk(&mut self, e: ExprRef, tile: &ShareTile, j: usize) -> Ref {
        let key = Key::SharedChunk(e, j);
        if let Some(r) = self.lookup(&key) {
            return r;
        }
        let (var, s) = self.share_lane.expect("called for a shared load");
        let AstNode::Load { buf, index, valid } = self.ast.exprs[e].op.clone() else {
            unreachable!("a shared load")
        };
        let slot = Lin::var(var).add_const((j * s) as i64);
        let mut vals = self.base_value.clone();
        for &(k, digits, stride) in &tile.parts {
            let p = self.shaped.parts[self.lanes.parts[k]];
            let mut digit = slot
                .div(stride as i64, &self.ranges)
                .rem(digits as i64, &self.ranges);
            if let Some((part, w)) = tile.vector {
                if part == k {
                    digit = digit.scale(w as i64);
                }
            }
            vals[p.axis] = vals[p.axis].add(&digit.scale(p.mult as i64));
        }
        let (idx, mut v) = self.access_at(&index, &valid, &vals);
        if (j + 1) * s > tile.slots {
            v.and(slot, 0, tile.slots as i64 - 1, &self.ranges);
        }
        let index = self.lin(&idx);
        let valid = self.valid(&v);
        let d = self.ast.exprs[e].dtype;
        let width = tile.vector.map_or(1, |(_, w)| w);
        let r = self.emit_w(UOp::Load { buf, index, valid }, d, width);
        self.remember(key, r)
    }

    /// The slots of shared load `e` in the nest being emitted (computed once per nest).
    fn share_tile(&mut self, e: ExprRef) -> Rc<ShareTile> {
        let key = (e, self.active_reduce_axes.clone());
        if let Some(t) = self.share_tiles.get(&key) {
            return t.clone();
        }
        let AstNode::Load { index, valid, .. } = self.ast.exprs[e].op.clone() else {
            unreachable!("a shared load")
        };
        let read: Vec<u32> = index.vars().into_iter().chain(valid.vars()).collect();
        let in_tile: Vec<usize> = (0..self.lanes.parts.len())
            .filter(|&k| {
                let p = self.shaped.parts[self.lanes.parts[k]];
                let active =
                    p.kind == AxisKind::Upcast || self.active_reduce_axes.contains(&p.axis);
                p.size > 1 && active && read.contains(&(p.axis as u32))
            })
            .collect();
        // Vectors where every lane's access vectorizes alike (else element by element).
        let lanes = self.lanes.upcast * self.lanes.unroll;
        let of = {
            let (index, valid) = (index.clone(), valid.clone());
            move |lz: &mut Self, l: usize| lz.load_access(&index, &valid, l)
        };
        let mut vector: Option<(usize, u8)> = None;
        for lane in 0..lanes {
            let (idx, v) = self.load_access(&index, &valid, lane);
            let this = match self.vector_of(lane, &idx, &v, &of) {
                Some(VectorAccess { width, part, .. }) if in_tile.contains(&part) => {
                    Some((part, width))
                }
                _ => None,
            };
            if this.is_none() || (lane > 0 && this != vector) {
                vector = None;
                break;
            }
            vector = this;
        }
        let mut parts = vec![];
        let mut slots = 1;
        for &k in in_tile.iter().rev() {
            let size = self.shaped.parts[self.lanes.parts[k]].size;
            let digits = match vector {
                Some((part, w)) if part == k => size / w as usize,
                _ => size,
            };
            parts.push((k, digits, slots));
            slots *= digits;
        }
        parts.reverse();
        let tile = Rc::new(ShareTile {
            parts,
            vector,
            slots,
        });
        self.share_tiles.insert(key, tile.clone());
        tile
    }
}
