//! Grouped reductions: the accumulators of the lanes of a workgroup combined by a tree through
//! workgroup memory, with a barrier after every step (outside any `if`).

use crate::dtype::{DType, Scalar};
use crate::ops::{BinaryOp, ReduceOp};

use super::super::ast::ExprRef;
use super::super::ir::{Ref, Special, UOp};
use super::{Linearizer, VAR_LOCAL};

/// The most subgroup partials one lane folds; more take the tree, which is then as fast.
const MAX_SUBGROUP_PARTIALS: usize = 16;

impl Linearizer<'_> {
    /// Reduction of every accumulator across the `g` group lanes of the workgroup (the
    /// fastest-varying part of the local id): through subgroups where `subgroup_slots`
    /// allows, else by a tree. Accumulators go through one workgroup array per
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
            if let Some(slots) = self.subgroup_slots(g, d) {
                let batch = (wg_bytes / (slots * 4)).clamp(1, items.len());
                for chunk in items.chunks(batch) {
                    self.subgroup_combine(nest, chunk, accs, canon, d, slots);
                }
                continue;
            }
            let batch = per_array.min(items.len());
            let len = batch * lsize;
            let local = self.workgroup_array(d, len);
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

    /// Partials one lane folds after the subgroups have combined their lanes, when the
    /// device has subgroup operations, the `g` group lanes are the whole workgroup (a
    /// subgroup then never straddles two rows, however the device maps lanes to subgroups)
    /// and a multiple of the largest subgroup (so that every subgroup is full: on lavapipe a
    /// sum over 143 lanes lost the 7 of its partial last subgroup), at most
    /// [`MAX_SUBGROUP_PARTIALS`]; `None` for the tree.
    fn subgroup_slots(&self, g: usize, d: DType) -> Option<usize> {
        let (min, max) = self.subgroup_sizes?;
        let slots = g / min;
        let whole = g == self.shaped.local_size() && g.is_multiple_of(max);
        (whole && d != DType::Bool && slots <= MAX_SUBGROUP_PARTIALS).then_some(slots)
    }

    /// Subgroup form of the combine: each subgroup reduces its lanes' accumulators in
    /// registers, its first lane writes the partial to slot `subgroup_id`, a barrier, then
    /// every lane folds the `num_subgroups` partials (slots past it hold nothing: `slots`
    /// is sized for the smallest subgroups), and a barrier before the array is reused. Two
    /// barriers and one write per subgroup, where the tree writes every lane's value and
    /// passes a barrier per level (see `MAX_SUBGROUP_PARTIALS` for what it buys).
    fn subgroup_combine(
        &mut self,
        nest: &[(ExprRef, ReduceOp, ExprRef)],
        chunk: &[(usize, usize)],
        accs: &[Vec<Ref>],
        canon: &[Vec<usize>],
        d: DType,
        slots: usize,
    ) {
        let len = chunk.len() * slots;
        let local = self.workgroup_array(d, len);
        let lane = self.emit(UOp::Special(Special::SubgroupInvocationId), DType::I32);
        let id = self.emit(UOp::Special(Special::SubgroupId), DType::I32);
        let count = self.emit(UOp::Special(Special::NumSubgroups), DType::I32);
        let partials: Vec<Ref> = chunk
            .iter()
            .map(|&(n, u)| {
                let op = nest[n].1;
                self.push(
                    UOp::SubgroupReduce {
                        op,
                        value: accs[n][u],
                    },
                    d,
                    1,
                )
            })
            .collect();
        let zero = self.constant(Scalar::I32(0));
        let first = self.binary(BinaryOp::CmpEq, lane, zero, DType::Bool);
        self.open(UOp::If(first));
        for (j, &p) in partials.iter().enumerate() {
            let off = self.constant(Scalar::I32((j * slots) as i32));
            let index = self.binary(BinaryOp::Add, id, off, DType::I32);
            self.push(
                UOp::StoreLocal {
                    local,
                    index,
                    value: p,
                },
                d,
                1,
            );
        }
        self.close(UOp::EndIf);
        self.push(UOp::Barrier, DType::Bool, 1);
        for (j, &(n, u)) in chunk.iter().enumerate() {
            let op = nest[n].1;
            let mut acc: Option<Ref> = None;
            for i in 0..slots {
                let index = self.constant(Scalar::I32((j * slots + i) as i32));
                let v = self.push(UOp::LoadLocal { local, index }, d, 1);
                // Subgroup 0 always exists; the others only when the device ran that many.
                let v = if i == 0 {
                    v
                } else {
                    let at = self.constant(Scalar::I32(i as i32));
                    let present = self.binary(BinaryOp::CmpLt, at, count, DType::Bool);
                    let identity = self.constant(op.identity(d));
                    self.push(UOp::Where(present, v, identity), d, 1)
                };
                acc = Some(match acc {
                    None => v,
                    Some(a) => self.combine(op, a, v, d),
                });
            }
            let v = acc.expect("at least one slot");
            for (w, _) in canon[n].iter().enumerate().filter(|(_, &c)| c == u) {
                self.reduce_values.insert((nest[n].0, w), v);
            }
        }
        // Every lane has read its results before the array is reused.
        self.push(UOp::Barrier, DType::Bool, 1);
    }

    /// The kernel's workgroup array of `d` with at least `len` elements: the one an earlier
    /// grouped nest declared when it is long enough, else a new one.
    fn workgroup_array(&mut self, d: DType, len: usize) -> Ref {
        match self.locals.get(&d) {
            Some(&(l, have)) if have >= len => l,
            _ => {
                let l = self.push(UOp::DefineLocal { len }, d, 1);
                self.locals.insert(d, (l, len));
                l
            }
        }
    }
}
