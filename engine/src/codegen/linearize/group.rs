//! Grouped reductions: the accumulators of the lanes of a workgroup combined by a tree through
//! workgroup memory, with a barrier after every step (outside any `if`).

use crate::dtype::{DType, Scalar};
use crate::ops::{BinaryOp, ReduceOp};

use super::super::ast::ExprRef;
use super::super::ir::{Ref, UOp};
use super::{Linearizer, VAR_LOCAL};

impl Linearizer<'_> {
    /// Tree reduction of every accumulator across the `g` group lanes of the workgroup (the
    /// fastest-varying part of the local id). Accumulators go through one workgroup array per
    /// dtype, in batches small enough for the device's workgroup memory. Only canonical upcast
    /// lanes (`canon[n][u] == u`) go through memory; the others share their results.
    pub(super) fn group_reduce(
        &mut self,
        nest: &[(ExprRef, ReduceOp, ExprRef)],
        accs: &[Vec<Ref>],
        canon: &[Vec<usize>],
        g: usize,
        wg_bytes: usize,
    ) {
        let lsize = self.shaped.local_size();
        let lid = self.var_refs[VAR_LOCAL as usize].expect("local id");
        let gi = self.constant(Scalar::I32(g as i32));
        let gpos = self.binary(BinaryOp::Mod, lid, gi, DType::I32);
        // The slot of group lane 0 in this lane's row: (lid / g) * g.
        let row = self.binary(BinaryOp::Div, lid, gi, DType::I32);
        let row0 = self.binary(BinaryOp::Mul, row, gi, DType::I32);
        // (reduce, upcast lane) pairs by dtype.
        let mut by_dtype: Vec<(DType, Vec<(usize, usize)>)> = vec![];
        for (n, &(r, _, _)) in nest.iter().enumerate() {
            let d = self.ast.exprs[r].dtype;
            let slot = match by_dtype.iter().position(|(t, _)| *t == d) {
                Some(i) => i,
                None => {
                    by_dtype.push((d, vec![]));
                    by_dtype.len() - 1
                }
            };
            for (u, &c) in canon[n].iter().enumerate() {
                if c == u {
                    by_dtype[slot].1.push((n, u));
                }
            }
        }
        let per_array = (wg_bytes / (by_dtype.len() * lsize * 4)).max(1);
        for (d, items) in by_dtype {
            let batch = per_array.min(items.len());
            let len = batch * lsize;
            let local = match self.locals.get(&d) {
                Some(&(l, have)) if have >= len => l,
                _ => {
                    let l = self.push(UOp::DefineLocal { len }, d, 1);
                    self.locals.insert(d, (l, len));
                    l
                }
            };
            for chunk in items.chunks(batch) {
                let mut slots = vec![];
                for (j, &(n, u)) in chunk.iter().enumerate() {
                    let off = self.constant(Scalar::I32((j * lsize) as i32));
                    let slot = self.binary(BinaryOp::Add, lid, off, DType::I32);
                    self.push(
                        UOp::StoreLocal {
                            local,
                            index: slot,
                            value: accs[n][u],
                        },
                        d,
                        1,
                    );
                    slots.push(slot);
                }
                self.push(UOp::Barrier, DType::Bool, 1);
                let mut live = g;
                while live > 1 {
                    let s = live.div_ceil(2);
                    let bound = self.constant(Scalar::I32((live - s) as i32));
                    let active = self.binary(BinaryOp::CmpLt, gpos, bound, DType::Bool);
                    self.open(UOp::If(active));
                    let sc = self.constant(Scalar::I32(s as i32));
                    for (j, &(n, _)) in chunk.iter().enumerate() {
                        let op = nest[n].1;
                        let other = self.binary(BinaryOp::Add, slots[j], sc, DType::I32);
                        let a = self.push(
                            UOp::LoadLocal {
                                local,
                                index: slots[j],
                            },
                            d,
                            1,
                        );
                        let b = self.push(
                            UOp::LoadLocal {
                                local,
                                index: other,
                            },
                            d,
                            1,
                        );
                        let c = self.combine(op, a, b, d);
                        self.push(
                            UOp::StoreLocal {
                                local,
                                index: slots[j],
                                value: c,
                            },
                            d,
                            1,
                        );
                    }
                    self.close(UOp::EndIf);
                    self.push(UOp::Barrier, DType::Bool, 1);
                    live = s;
                }
                for (j, &(n, u)) in chunk.iter().enumerate() {
                    let off = self.constant(Scalar::I32((j * lsize) as i32));
                    let slot = self.binary(BinaryOp::Add, row0, off, DType::I32);
                    let v = self.push(UOp::LoadLocal { local, index: slot }, d, 1);
                    for (w, _) in canon[n].iter().enumerate().filter(|(_, &c)| c == u) {
                        self.reduce_values.insert((nest[n].0, w), v);
                    }
                }
                // Every lane has read its results before the array is reused.
                self.push(UOp::Barrier, DType::Bool, 1);
            }
        }
    }
}
