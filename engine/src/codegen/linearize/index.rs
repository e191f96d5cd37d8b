//! Index math of the linearizer: the value of every domain axis in a lane, substitution into
//! the AST's symbolic indices, padding guards, and symbolic expressions → `i32` instructions.

use crate::dtype::{DType, Scalar};
use crate::ops::BinaryOp;
use crate::view::symbolic::{Atom, Lin, Valid};

use super::super::ir::Ref;
use super::super::shaped::Part;
use super::{Key, Linearizer};

impl Linearizer<'_> {
    /// The value of every domain axis in `lane`.
    pub(super) fn axis_values(&mut self, lane: usize) -> Vec<Lin> {
        if let Some(v) = self.axis_cache.get(&lane) {
            return v.clone();
        }
        let mut vals = self.base_value.clone();
        for (k, &i) in self.lanes.parts.iter().enumerate() {
            let p: Part = self.shaped.parts[i];
            let v = self.lane_values[lane][k] * p.mult;
            vals[p.axis] = vals[p.axis].add_const(v as i64);
        }
        self.axis_cache.insert(lane, vals.clone());
        vals
    }

    pub(super) fn subst(&mut self, l: &Lin, lane: usize) -> Lin {
        let vals = self.axis_values(lane);
        l.substitute(&|v| vals[v as usize].clone(), &self.ranges)
    }
    pub(super) fn subst_valid(&mut self, v: &Valid, lane: usize) -> Valid {
        let vals = self.axis_values(lane);
        v.substitute(&|x| vals[x as usize].clone(), &self.ranges)
    }

    /// Validity of `lane` on padded axes: output axes always (those the stores loop over only
    /// inside that loop: no reduction varies along them), reduce axes of the active nest.
    pub(super) fn pad_guard(&mut self, lane: usize, reduce: bool) -> Valid {
        let mut g = Valid::always();
        if self.padded_axes.is_empty() {
            return g; // the common case: no PADTO, nothing to guard
        }
        let vals = self.axis_values(lane);
        for &(axis, size, is_reduce) in &self.padded_axes {
            let wanted = if reduce {
                self.active_reduce_axes.contains(&axis)
            } else {
                !is_reduce && (self.in_store_loops || !self.looped_axes.contains(&axis))
            };
            if wanted {
                g.and(vals[axis].clone(), 0, size as i64 - 1, &self.ranges);
            }
        }
        g
    }
    /// Every guard that applies to code in `lane` right now.
    pub(super) fn lane_guard(&mut self, lane: usize) -> Valid {
        let mut g = self.pad_guard(lane, false);
        let r = self.pad_guard(lane, true);
        g.and_all(&r, &self.ranges);
        g
    }

    pub(super) fn lin(&mut self, l: &Lin) -> Ref {
        let k = Key::Lin(l.clone());
        if let Some(r) = self.lookup(&k) {
            return r;
        }
        let mut acc: Option<Ref> = None;
        for (atom, coef) in l.terms() {
            let a = match atom {
                Atom::Var(v) => self.var_refs[*v as usize]
                    .unwrap_or_else(|| panic!("linearizer: variable v{v} used outside its loop")),
                Atom::Div(x, c) | Atom::Mod(x, c) => {
                    let x = self.lin(x);
                    let c = self.constant(Scalar::I32(*c as i32));
                    let op = if matches!(atom, Atom::Div(..)) {
                        BinaryOp::Div
                    } else {
                        BinaryOp::Mod
                    };
                    self.binary(op, x, c, DType::I32)
                }
            };
            let term = if coef == 1 {
                a
            } else {
                let k = self.constant(Scalar::I32(coef as i32));
                self.binary(BinaryOp::Mul, a, k, DType::I32)
            };
            acc = Some(match acc {
                None => term,
                Some(prev) => self.binary(BinaryOp::Add, prev, term, DType::I32),
            });
        }
        let c = l.const_part();
        let r = match acc {
            None => self.constant(Scalar::I32(c as i32)),
            Some(a) if c == 0 => a,
            Some(a) => {
                let k = self.constant(Scalar::I32(c as i32));
                self.binary(BinaryOp::Add, a, k, DType::I32)
            }
        };
        self.remember(k, r)
    }

    /// `None` when always valid.
    pub(super) fn valid(&mut self, v: &Valid) -> Option<Ref> {
        if v.is_always() {
            return None;
        }
        let k = Key::Valid(v.clone());
        if let Some(r) = self.lookup(&k) {
            return Some(r);
        }
        let mut acc: Option<Ref> = None;
        if v.is_never() {
            acc = Some(self.constant(Scalar::Bool(false)));
        }
        for (l, lo, hi) in v.constraints().to_vec() {
            let (vlo, vhi) = l.range(&self.ranges);
            let x = self.lin(&l);
            if vlo < lo {
                let c = self.constant(Scalar::I32(lo as i32 - 1));
                let t = self.binary(BinaryOp::CmpLt, c, x, DType::Bool);
                acc = self.and(acc, Some(t));
            }
            if vhi > hi {
                let c = self.constant(Scalar::I32(hi as i32 + 1));
                let t = self.binary(BinaryOp::CmpLt, x, c, DType::Bool);
                acc = self.and(acc, Some(t));
            }
        }
        let r = acc.unwrap_or_else(|| self.constant(Scalar::Bool(true)));
        Some(self.remember(k, r))
    }

    /// A load's index and validity where every domain axis has the value `vals` gives it,
    /// masked on the padded axes the load reads: what a staged copy or a shared chunk loads
    /// for the lanes it stands in for (which may lie in padding along other axes).
    pub(super) fn access_at(&self, index: &Lin, valid: &Valid, vals: &[Lin]) -> (Lin, Valid) {
        let at = |x: u32| vals[x as usize].clone();
        let mut v = valid.substitute(&at, &self.ranges);
        let read: Vec<u32> = index.vars().into_iter().chain(valid.vars()).collect();
        for &(axis, size, _) in &self.padded_axes {
            if read.contains(&(axis as u32)) {
                v.and(vals[axis].clone(), 0, size as i64 - 1, &self.ranges);
            }
        }
        (index.substitute(&at, &self.ranges), v)
    }

    /// The substituted index and validity (with lane guards) of a load in `lane`.
    pub(super) fn load_access(&mut self, index: &Lin, valid: &Valid, lane: usize) -> (Lin, Valid) {
        let mut v = self.subst_valid(valid, lane);
        let g = self.lane_guard(lane);
        v.and_all(&g, &self.ranges);
        (self.subst(index, lane), v)
    }
}
