//! Reduce nests: accumulators per reduce and (canonical) upcast lane, the `Range` loops of
//! the nest's reduce parts, Kahan-compensated long float sums, and the hand-off to grouped
//! reductions (`group.rs`).

use crate::dtype::{DType, Scalar};
use crate::ops::{BinaryOp, ReduceOp, UnaryOp};

use super::super::ast::{AstNode, ExprRef};
use super::super::ir::{Ref, UOp};
use super::super::shaped::AxisKind;
use super::{identity, Linearizer, COMPENSATE_ABOVE_FOLDS, VAR_GROUP};

impl Linearizer<'_> {
    /// `acc += v` with Kahan's compensation: `comp` carries the low bits each addition rounds
    /// away, so the error of a lane's sum stays a few ulps however many values it folds,
    /// instead of growing with their count (a sequential f32 sum of 2^26 values of 0.1 was
    /// 2.5e-3 off). Plain IR adds: neither device reassociates them.
    fn kahan_add(&mut self, acc: Ref, comp: Ref, v: Ref) {
        let f = DType::F32;
        let neg_comp = self.push(UOp::Unary(UnaryOp::Neg, comp), f, 1);
        let y = self.push(UOp::Binary(BinaryOp::Add, v, neg_comp), f, 1);
        let t = self.push(UOp::Binary(BinaryOp::Add, acc, y), f, 1);
        // A compiler that reassociates floats (llvmpipe's does) rewrites (acc + y) - acc to
        // y and the compensation to 0. Multiplying t by a 1.0 it cannot prove is 1.0 keeps
        // the subtraction real.
        let one = self.opaque_one();
        let t_seen = self.push(UOp::Binary(BinaryOp::Mul, t, one), f, 1);
        let neg_acc = self.push(UOp::Unary(UnaryOp::Neg, acc), f, 1);
        let gained = self.push(UOp::Binary(BinaryOp::Add, t_seen, neg_acc), f, 1);
        let neg_y = self.push(UOp::Unary(UnaryOp::Neg, y), f, 1);
        let lost = self.push(UOp::Binary(BinaryOp::Add, gained, neg_y), f, 1);
        self.push(
            UOp::Assign {
                acc: comp,
                value: lost,
            },
            f,
            1,
        );
        self.push(UOp::Assign { acc, value: t }, f, 1);
    }

    /// 1.0, computed from the workgroup id (`gid < i32::MAX`), so that no compiler can
    /// treat it as the constant it is.
    fn opaque_one(&mut self) -> Ref {
        let gid = self.var_refs[VAR_GROUP as usize].expect("group id");
        let max = self.constant(Scalar::I32(i32::MAX));
        let lt = self.binary(BinaryOp::CmpLt, gid, max, DType::Bool);
        self.emit(UOp::Cast(lt), DType::F32)
    }

    pub(super) fn combine(&mut self, op: ReduceOp, a: Ref, b: Ref, d: DType) -> Ref {
        // Not hash-consed: `a` is an accumulator or a workgroup-memory read.
        match op {
            ReduceOp::Sum => self.push(UOp::Binary(BinaryOp::Add, a, b), d, 1),
            ReduceOp::Prod => self.push(UOp::Binary(BinaryOp::Mul, a, b), d, 1),
            ReduceOp::Max => self.push(UOp::Binary(BinaryOp::Max, a, b), d, 1),
            ReduceOp::Min => self.push(UOp::Binary(BinaryOp::Min, a, b), d, 1),
        }
    }

    // ---- reductions ----

    /// Emits every reduce nest in dependency order: a nest is the reduces over one set of axes
    /// whose own inputs are already computed.
    pub(super) fn reduce_nests(&mut self, loop_parts: &[usize], wg_bytes: usize) {
        let deps = self.ast.reduce_deps();
        let mut pending: Vec<(ExprRef, ReduceOp, ExprRef, Vec<usize>)> = self
            .ast
            .exprs
            .iter()
            .filter_map(|(h, e)| match &e.op {
                AstNode::Reduce { op, src, axes } => Some((h, *op, *src, axes.clone())),
                _ => None,
            })
            .collect();
        let mut done: Vec<ExprRef> = vec![];
        while !pending.is_empty() {
            let ready: Vec<usize> = (0..pending.len())
                .filter(|&i| deps[pending[i].2.index()].iter().all(|d| done.contains(d)))
                .collect();
            let axes = pending[*ready.first().expect("reduce dependencies are acyclic")]
                .3
                .clone();
            let nest: Vec<(ExprRef, ReduceOp, ExprRef)> = ready
                .iter()
                .filter(|&&i| pending[i].3 == axes)
                .map(|&i| (pending[i].0, pending[i].1, pending[i].2))
                .collect();
            pending.retain(|p| !nest.iter().any(|n| n.0 == p.0));
            self.nest(&nest, &axes, loop_parts, wg_bytes);
            done.extend(nest.iter().map(|n| n.0));
        }
    }

    /// One reduce nest: its accumulators, the loops over its own reduce parts folding every
    /// unroll lane into them, then the combination across group lanes.
    fn nest(
        &mut self,
        nest: &[(ExprRef, ReduceOp, ExprRef)],
        axes: &[usize],
        loop_parts: &[usize],
        wg_bytes: usize,
    ) {
        let parts = &self.shaped.parts;
        let own_loops: Vec<(usize, usize)> = loop_parts
            .iter()
            .enumerate()
            .filter(|(_, &i)| axes.contains(&parts[i].axis))
            .map(|(j, &i)| (j, i))
            .collect();
        let empty = own_loops.iter().any(|&(_, i)| parts[i].size == 0)
            || axes.iter().any(|&a| self.ast.full_shape[a] == 0);
        let own_unroll = self.own_unroll_lanes(axes);
        // Values each accumulator folds in one after another.
        let folds: usize = own_loops
            .iter()
            .map(|&(_, i)| parts[i].size)
            .product::<usize>()
            * own_unroll.len();
        // Upcast lanes that differ only along axes a reduce's value does not vary over (a
        // row's max under an upcast column) share one accumulator: the canonical lane's.
        let canon: Vec<Vec<usize>> = nest
            .iter()
            .map(|&(r, _, _)| self.canonical_upcast_lanes(r))
            .collect();
        let mut accs = self.define_accumulators(nest, &canon);
        let comps = self.compensation_terms(nest, folds);
        if !empty {
            let folding = Folding {
                own_unroll: &own_unroll,
                canon: &canon,
                accs: &accs,
                comps: &comps,
            };
            self.fold_loops(nest, axes, &own_loops, &folding);
            self.subtract_compensation(&mut accs, &comps, &canon);
        }
        let groups: usize = self
            .shaped
            .parts
            .iter()
            .filter(|p| p.kind == AxisKind::Group && axes.contains(&p.axis))
            .map(|p| p.size)
            .product();
        if groups > 1 {
            self.group_reduce(nest, &accs, &canon, groups, wg_bytes);
        } else {
            for (&(r, _, _), row) in nest.iter().zip(&accs) {
                for (u, &acc) in row.iter().enumerate() {
                    self.reduce_values.insert((r, u), acc);
                }
            }
        }
    }

    /// The unroll lanes of the nest over `axes`: those whose other unroll parts are 0.
    fn own_unroll_lanes(&self, axes: &[usize]) -> Vec<usize> {
        let parts = &self.shaped.parts;
        (0..self.lanes.unroll)
            .filter(|&r| {
                let lane = self.lanes.id(0, r);
                self.lanes.parts.iter().enumerate().all(|(k, &i)| {
                    parts[i].kind != AxisKind::Unroll
                        || axes.contains(&parts[i].axis)
                        || self.lane_values[lane][k] == 0
                })
            })
            .collect()
    }

    /// One accumulator per reduce and canonical upcast lane (the other lanes share it).
    fn define_accumulators(
        &mut self,
        nest: &[(ExprRef, ReduceOp, ExprRef)],
        canon: &[Vec<usize>],
    ) -> Vec<Vec<Ref>> {
        let mut accs: Vec<Vec<Ref>> = vec![];
        for (&(r, op, _), canon) in nest.iter().zip(canon) {
            let d = self.ast.exprs[r].dtype;
            let mut row: Vec<Ref> = vec![];
            for u in 0..self.lanes.upcast {
                let acc = match canon[u] == u {
                    true => self.push(UOp::DefineAcc(identity(op, d)), d, 1),
                    false => row[canon[u]],
                };
                row.push(acc);
            }
            accs.push(row);
        }
        accs
    }

    /// Kahan compensation terms, for the float sums that fold many values per lane.
    fn compensation_terms(
        &mut self,
        nest: &[(ExprRef, ReduceOp, ExprRef)],
        folds: usize,
    ) -> Vec<Option<Vec<Ref>>> {
        nest.iter()
            .map(|&(r, op, _)| {
                let d = self.ast.exprs[r].dtype;
                let compensated =
                    op == ReduceOp::Sum && d == DType::F32 && folds > COMPENSATE_ABOVE_FOLDS;
                compensated.then(|| {
                    (0..self.lanes.upcast)
                        .map(|_| self.push(UOp::DefineAcc(Scalar::F32(0.0)), d, 1))
                        .collect()
                })
            })
            .collect()
    }

    /// The nest's loops (with its staged tiles), folding each unroll lane's value into the
    /// accumulators; padded elements contribute the identity.
    fn fold_loops(
        &mut self,
        nest: &[(ExprRef, ReduceOp, ExprRef)],
        axes: &[usize],
        own_loops: &[(usize, usize)],
        f: &Folding<'_>,
    ) {
        self.active_reduce_axes = axes.to_vec();
        let stages = self.define_stages(axes);
        for &(j, i) in own_loops {
            let r = self.open(UOp::Range {
                end: self.shaped.parts[i].size as i64,
            });
            self.var_refs[2 + j] = Some(r);
        }
        self.fill_stages(stages);
        for (n, (&(r, op, src), row)) in nest.iter().zip(f.accs).enumerate() {
            let d = self.ast.exprs[r].dtype;
            for (u, &acc) in row.iter().enumerate() {
                if f.canon[n][u] != u {
                    continue;
                }
                for &ur in f.own_unroll {
                    let lane = self.lanes.id(u, ur);
                    let mut v = self.node(src, lane);
                    let g = self.pad_guard(lane, true);
                    if let Some(c) = self.valid(&g) {
                        let id = self.constant(identity(op, d));
                        v = self.emit(UOp::Where(c, v, id), d);
                    }
                    match &f.comps[n] {
                        Some(comp) => self.kahan_add(acc, comp[u], v),
                        None => {
                            let c = self.combine(op, acc, v, d);
                            self.push(UOp::Assign { acc, value: c }, d, 1);
                        }
                    }
                }
            }
        }
        self.end_stages();
        for &(j, _) in own_loops.iter().rev() {
            self.close(UOp::EndRange);
            self.var_refs[2 + j] = None;
        }
        self.active_reduce_axes.clear();
    }

    /// A compensated sum is its accumulator minus the error still carried.
    fn subtract_compensation(
        &mut self,
        accs: &mut [Vec<Ref>],
        comps: &[Option<Vec<Ref>>],
        canon: &[Vec<usize>],
    ) {
        for ((row, comp), canon) in accs.iter_mut().zip(comps).zip(canon) {
            let Some(comp) = comp else { continue };
            for u in 0..self.lanes.upcast {
                if canon[u] != u {
                    row[u] = row[canon[u]];
                    continue;
                }
                let minus = self.push(UOp::Unary(UnaryOp::Neg, comp[u]), DType::F32, 1);
                let fixed = UOp::Binary(BinaryOp::Add, row[u], minus);
                row[u] = self.push(fixed, DType::F32, 1);
            }
        }
    }

    /// For every upcast lane, the lane with the same value of `r`: its upcast digits along
    /// axes `r` does not vary over set to 0 (lane ids are row-major over the upcast parts).
    fn canonical_upcast_lanes(&self, r: ExprRef) -> Vec<usize> {
        let varies = &self.expr_axes[r.index()];
        let parts = &self.shaped.parts;
        let upcast_parts: Vec<usize> = self
            .lanes
            .parts
            .iter()
            .copied()
            .filter(|&i| parts[i].kind == AxisKind::Upcast)
            .collect();
        (0..self.lanes.upcast)
            .map(|u| {
                let values = &self.lane_values[self.lanes.id(u, 0)];
                upcast_parts.iter().enumerate().fold(0, |c, (k, &i)| {
                    let kept = varies.contains(&(parts[i].axis as u32));
                    c * parts[i].size + if kept { values[k] } else { 0 }
                })
            })
            .collect()
    }
}

/// What `fold_loops` folds: the nest's unroll lanes, each reduce's canonical upcast lanes,
/// its accumulators and compensation terms.
struct Folding<'a> {
    own_unroll: &'a [usize],
    canon: &'a [Vec<usize>],
    accs: &'a [Vec<Ref>],
    comps: &'a [Option<Vec<Ref>>],
}
