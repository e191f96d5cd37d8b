//! The stores: the loops around them (GROUPOUT's loop parts), and each output lane's masked,
//! possibly vector, store.

use crate::dtype::{DType, Scalar};
use crate::ops::BinaryOp;
use crate::view::symbolic::{Lin, Valid};

use super::super::ast::{ScatterAt, Store};
use super::super::ir::{Ref, UOp};
use super::{vector, Linearizer, VAR_LOCAL};

impl Linearizer<'_> {
    /// The stores, inside the loops of `loop_parts` (GROUPOUT's rest of a column axis; their
    /// variables are numbered from `first_var`).
    pub(super) fn stores(&mut self, loop_parts: &[usize], first_var: usize) {
        let groups = self.shaped.group_size();
        // Grouped reductions leave their result in every group lane: one of them stores it,
        // unless GROUPOUT spread the outputs over the group lanes.
        let outputs_grouped = self
            .shaped
            .group_sets()
            .iter()
            .any(|(nest, _)| nest.is_empty());
        let leader = if groups > 1 && !outputs_grouped {
            let lid = self.var_refs[VAR_LOCAL as usize].expect("local id");
            let gi = self.constant(Scalar::I32(groups as i32));
            let gpos = self.binary(BinaryOp::Mod, lid, gi, DType::I32);
            let zero = self.constant(Scalar::I32(0));
            Some(self.binary(BinaryOp::CmpEq, gpos, zero, DType::Bool))
        } else {
            None
        };
        self.define_scans();
        for (j, &i) in loop_parts.iter().enumerate() {
            let r = self.open(UOp::Range {
                end: self.shaped.parts[i].size as i64,
            });
            self.var_refs[first_var + j] = Some(r);
        }
        self.in_store_loops = true;
        for s in self.ast.stores.clone() {
            if let Some(at) = &s.scatter {
                self.scatter_stores(&s, at, leader);
                continue;
            }
            let buf = s.buf;
            let d = self.ast.bufs[buf].dtype;
            let mut done = vec![false; self.lanes.upcast];
            for u in 0..self.lanes.upcast {
                if done[u] {
                    continue;
                }
                let lane = self.lanes.id(u, 0);
                let (idx, v) = self.store_access(&s.index, &s.valid, lane);
                if v.is_never() {
                    continue;
                }
                let (index_ast, valid_ast) = (s.index.clone(), s.valid.clone());
                let of = move |lz: &mut Self, l: usize| lz.store_access(&index_ast, &valid_ast, l);
                let vector = if d == DType::Bool {
                    None
                } else {
                    self.vector_of(lane, &idx, &v, &of)
                };
                let (value, index) = match vector {
                    Some(vector::VectorAccess {
                        first,
                        width: w,
                        pos: 0,
                        stride,
                        ..
                    }) => {
                        let comps: Vec<usize> =
                            (0..w as usize).map(|t| first + t * stride).collect();
                        let vals: Vec<Ref> = comps
                            .iter()
                            .map(|&l| {
                                done[self.lanes.upcast_of(l)] = true;
                                self.node(s.value, l)
                            })
                            .collect();
                        let vec = self.push(UOp::Vectorize(vals), d, w);
                        (vec, self.lin(&idx))
                    }
                    _ => {
                        let value = self.node(s.value, lane);
                        (value, self.lin(&idx))
                    }
                };
                let valid = self.valid(&v);
                let mask = self.and(valid, leader);
                done[u] = true;
                self.push(
                    UOp::Store {
                        buf,
                        index,
                        value,
                        mask,
                    },
                    d,
                    1,
                );
            }
        }
        for j in (0..loop_parts.len()).rev() {
            self.close(UOp::EndRange);
            self.var_refs[first_var + j] = None;
        }
    }

    /// A scatter's stores: each lane folds its value into the element at its position,
    /// atomically (lanes of any workgroup may meet there).
    fn scatter_stores(&mut self, s: &Store, at: &ScatterAt, leader: Option<Ref>) {
        let d = self.ast.bufs[s.buf].dtype;
        for u in 0..self.lanes.upcast {
            let lane = self.lanes.id(u, 0);
            let (idx, v) = self.store_access(&s.index, &s.valid, lane);
            if v.is_never() {
                continue;
            }
            let pos = self.node(at.pos, lane);
            let index = self.at_position(&idx, at.stride, pos);
            let value = self.node(s.value, lane);
            let valid = self.valid(&v);
            let mask = self.and(valid, leader);
            self.push(
                UOp::Scatter {
                    buf: s.buf,
                    index,
                    value,
                    mask,
                    op: at.op,
                },
                d,
                1,
            );
        }
    }

    fn store_access(&mut self, index: &Lin, valid: &Valid, lane: usize) -> (Lin, Valid) {
        let mut v = self.subst_valid(valid, lane);
        let g = self.pad_guard(lane, false);
        v.and_all(&g, &self.ranges);
        (self.subst(index, lane), v)
    }
}
