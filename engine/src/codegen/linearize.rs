//! The linearizer: (kernel AST, opts) → linear IR.
//!
//! The optimized kernel's loop parts (see `opt`) become: global parts ← the flat workgroup id,
//! local and group parts ← the flat invocation id, reduce parts ← nested `Range` loops. Every
//! original axis is then an affine expression of those, substituted into the AST's symbolic
//! indices and re-simplified, which is where a contiguous load folds back to `gid*n + lid`.
//!
//! Layout of the emitted program:
//! ```text
//! [if output in bounds] {                  (kernels without a group reduce)
//!   acc = identity                         (one per Reduce node)
//!   for r0 { for r1 { [if reduce in bounds] { acc = acc ⊕ value } } }
//!   [group: local[lid] = acc; barrier; tree halving with barriers; acc = local[0]]
//!   [if lid == 0] { out[index] = epilogue(acc) }
//! }
//! ```

use std::collections::HashMap;

use crate::dtype::{DType, Scalar};
use crate::ops::{BinaryOp, ReduceOp};
use crate::view::symbolic::{Atom, Lin, Valid};

use super::ast::{AstNode, AstRef, KernelAst};
use super::ir::{Inst, Program, Ref, Special, UOp};
use super::opt::{AxisKind, Shaped};

#[derive(Clone, PartialEq, Eq, Hash)]
enum Key {
    Lin(Lin),
    Valid(Valid),
    Ast(AstRef),
    Const(DType, u32),
}

struct Linearizer<'a> {
    ast: &'a KernelAst,
    insts: Vec<Inst>,
    scopes: Vec<HashMap<Key, Ref>>,
    var_refs: Vec<Ref>,
    ranges: Vec<(i64, i64)>,
    axis_value: Vec<Lin>,
    reduce_values: HashMap<AstRef, Ref>,
}

const VAR_GROUP: u32 = 0;
const VAR_LOCAL: u32 = 1;

/// Lowers `ast` shaped by `shaped` (from `apply_opts`) to a [`Program`].
pub fn linearize(ast: &KernelAst, shaped: &Shaped) -> Program {
    let num_groups = shaped.size_of(AxisKind::Global);
    let local_size = shaped.local_size();
    let reduce_parts = shaped.of_kind(AxisKind::Reduce);

    // Variable space: 0 = group id, 1 = local id, 2.. = reduce loop variables.
    let mut ranges = vec![(0, num_groups as i64 - 1), (0, local_size as i64 - 1)];
    ranges.extend(reduce_parts.iter().map(|p| (0, p.size as i64 - 1)));

    // Each part's value in terms of the variables.
    let mut part_value = vec![Lin::constant(0); shaped.parts.len()];
    for (kind, var) in [
        (AxisKind::Global, VAR_GROUP),
        (AxisKind::Local, VAR_LOCAL),
        (AxisKind::GroupReduce, VAR_LOCAL),
    ] {
        let mut stride = 1i64;
        let idx: Vec<usize> = (0..shaped.parts.len())
            .filter(|&i| shaped.parts[i].kind == kind)
            .collect();
        for &i in idx.iter().rev() {
            let size = shaped.parts[i].size as i64;
            part_value[i] = Lin::var(var).div(stride, &ranges).rem(size, &ranges);
            stride *= size;
        }
    }
    let mut loop_var = 2u32;
    for (i, p) in shaped.parts.iter().enumerate() {
        if p.kind == AxisKind::Reduce {
            part_value[i] = Lin::var(loop_var);
            loop_var += 1;
        }
    }
    let mut axis_value = vec![Lin::constant(0); ast.full_shape.len()];
    let mut out_guard = Valid::always();
    let mut red_guard = Valid::always();
    for (i, p) in shaped.parts.iter().enumerate() {
        axis_value[p.axis] = axis_value[p.axis].add(&part_value[i].scale(p.mult as i64));
    }
    for (axis, v) in axis_value.iter().enumerate() {
        let guard = if ast.reduce_axes.contains(&axis) {
            &mut red_guard
        } else {
            &mut out_guard
        };
        guard.and(v.clone(), 0, ast.full_shape[axis] as i64 - 1, &ranges);
    }

    let mut lz = Linearizer {
        ast,
        insts: vec![],
        scopes: vec![HashMap::new()],
        var_refs: vec![0; ranges.len()],
        ranges,
        axis_value,
        reduce_values: HashMap::new(),
    };
    lz.var_refs[VAR_GROUP as usize] = lz.push(UOp::Special(Special::GroupId), DType::I32);
    lz.var_refs[VAR_LOCAL as usize] = if local_size > 1 {
        lz.push(UOp::Special(Special::LocalId), DType::I32)
    } else {
        lz.constant(Scalar::I32(0))
    };

    let group = shaped.of_kind(AxisKind::GroupReduce);
    assert!(
        group.is_empty() || out_guard.is_always(),
        "group reduce with a masked output axis"
    );
    let guarded = !out_guard.is_always();
    if guarded {
        let g = lz.valid(&out_guard);
        lz.open(UOp::If(g));
    }

    // Reductions: one accumulator each, one shared loop nest.
    let reduces: Vec<(AstRef, ReduceOp, AstRef)> = ast
        .nodes
        .iter()
        .enumerate()
        .filter_map(|(i, n)| match n {
            AstNode::Reduce(op, src) => Some((i, *op, *src)),
            _ => None,
        })
        .collect();
    let accs: Vec<Ref> = reduces
        .iter()
        .map(|&(r, op, _)| lz.push(UOp::DefineAcc(op.identity(ast.dtypes[r])), ast.dtypes[r]))
        .collect();
    // An empty reduce domain (a 0-sized reduce axis) never runs its body: the accumulators
    // keep their identity, and no load with an impossible index is emitted.
    let empty_reduce = red_guard.is_never() || reduce_parts.iter().any(|p| p.size == 0);
    if !reduces.is_empty() && empty_reduce {
        for (&(r, _, _), &acc) in reduces.iter().zip(&accs) {
            lz.reduce_values.insert(r, acc);
        }
    } else if !reduces.is_empty() {
        for (j, p) in reduce_parts.iter().enumerate() {
            let r = lz.open(UOp::Range { end: p.size as i64 });
            lz.var_refs[2 + j] = r;
        }
        let red_if = !red_guard.is_always();
        if red_if {
            let g = lz.valid(&red_guard);
            lz.open(UOp::If(g));
        }
        for (&(r, op, src), &acc) in reduces.iter().zip(&accs) {
            let v = lz.node(src);
            let combined = lz.combine(op, acc, v, ast.dtypes[r]);
            lz.push(
                UOp::Assign {
                    acc,
                    value: combined,
                },
                ast.dtypes[r],
            );
        }
        if red_if {
            lz.close(UOp::EndIf);
        }
        for _ in &reduce_parts {
            lz.close(UOp::EndRange);
        }
        if group.is_empty() {
            for (&(r, _, _), &acc) in reduces.iter().zip(&accs) {
                lz.reduce_values.insert(r, acc);
            }
        } else {
            lz.group_reduce(&reduces, &accs, group.iter().map(|p| p.size).product());
        }
    }

    // Stores (only one thread of a group reduce writes).
    let leader_if = !group.is_empty();
    if leader_if {
        let lid = lz.var_refs[VAR_LOCAL as usize];
        let zero = lz.constant(Scalar::I32(0));
        let is_leader = lz.push(UOp::Binary(BinaryOp::CmpEq, lid, zero), DType::Bool);
        lz.open(UOp::If(is_leader));
    }
    let out_index = lz.subst(&ast.output_index());
    for &(buf, v) in &ast.stores {
        let value = lz.node(v);
        let index = lz.lin(&out_index);
        lz.push(UOp::Store { buf, index, value }, ast.bufs[buf].dtype);
    }
    if leader_if {
        lz.close(UOp::EndIf);
    }
    if guarded {
        lz.close(UOp::EndIf);
    }

    let (name, colored_name) = kernel_name(ast, shaped);
    Program {
        name,
        colored_name,
        insts: lz.insts,
        bufs: ast.bufs.clone(),
        local_size,
        num_groups,
        opts: shaped.opts.clone(),
        flops: ast.flop_estimate(),
    }
}

/// tinygrad's naming: `r_` for kernels with a reduction, `E_` otherwise, then the loop part
/// sizes (global, local, group, reduce), colored by kind unless NO_COLOR is set.
fn kernel_name(ast: &KernelAst, shaped: &Shaped) -> (String, String) {
    let prefix = if ast.reduce_axes.is_empty() { "E" } else { "r" };
    let mut plain = prefix.to_string();
    let mut colored = prefix.to_string();
    let no_color = std::env::var_os("NO_COLOR").is_some();
    for (kind, color) in [
        (AxisKind::Global, 34),
        (AxisKind::Local, 36),
        (AxisKind::GroupReduce, 32),
        (AxisKind::Reduce, 31),
    ] {
        for p in shaped.of_kind(kind) {
            plain.push_str(&format!("_{}", p.size));
            if no_color {
                colored.push_str(&format!("_{}", p.size));
            } else {
                colored.push_str(&format!("_\x1b[{color}m{}\x1b[0m", p.size));
            }
        }
    }
    (plain, colored)
}

impl Linearizer<'_> {
    fn push(&mut self, op: UOp, dtype: DType) -> Ref {
        self.insts.push(Inst { op, dtype });
        self.insts.len() - 1
    }
    fn open(&mut self, op: UOp) -> Ref {
        let dtype = if matches!(op, UOp::Range { .. }) {
            DType::I32
        } else {
            DType::Bool
        };
        let r = self.push(op, dtype);
        self.scopes.push(HashMap::new());
        r
    }
    fn close(&mut self, op: UOp) {
        self.scopes.pop();
        self.push(op, DType::Bool);
    }
    fn lookup(&self, k: &Key) -> Option<Ref> {
        self.scopes.iter().rev().find_map(|s| s.get(k).copied())
    }
    fn remember(&mut self, k: Key, r: Ref) -> Ref {
        self.scopes.last_mut().expect("scope").insert(k, r);
        r
    }
    fn constant(&mut self, s: Scalar) -> Ref {
        let k = Key::Const(s.dtype(), s.to_bits());
        if let Some(r) = self.lookup(&k) {
            return r;
        }
        let r = self.push(UOp::Const(s), s.dtype());
        self.remember(k, r)
    }

    /// An original-axis expression rewritten over the kernel's variables.
    fn subst(&self, l: &Lin) -> Lin {
        l.substitute(&|v| self.axis_value[v as usize].clone(), &self.ranges)
    }

    fn lin(&mut self, l: &Lin) -> Ref {
        let k = Key::Lin(l.clone());
        if let Some(r) = self.lookup(&k) {
            return r;
        }
        let mut acc: Option<Ref> = None;
        for (atom, coef) in l.terms() {
            let a = match atom {
                Atom::Var(v) => self.var_refs[*v as usize],
                Atom::Div(x, c) | Atom::Mod(x, c) => {
                    let x = self.lin(x);
                    let c = self.constant(Scalar::I32(*c as i32));
                    let op = if matches!(atom, Atom::Div(..)) {
                        BinaryOp::Div
                    } else {
                        BinaryOp::Mod
                    };
                    self.push(UOp::Binary(op, x, c), DType::I32)
                }
            };
            let term = if coef == 1 {
                a
            } else {
                let k = self.constant(Scalar::I32(coef as i32));
                self.push(UOp::Binary(BinaryOp::Mul, a, k), DType::I32)
            };
            acc = Some(match acc {
                None => term,
                Some(prev) => self.push(UOp::Binary(BinaryOp::Add, prev, term), DType::I32),
            });
        }
        let c = l.const_part();
        let r = match acc {
            None => self.constant(Scalar::I32(c as i32)),
            Some(a) if c == 0 => a,
            Some(a) => {
                let k = self.constant(Scalar::I32(c as i32));
                self.push(UOp::Binary(BinaryOp::Add, a, k), DType::I32)
            }
        };
        self.remember(k, r)
    }

    fn valid(&mut self, v: &Valid) -> Ref {
        let k = Key::Valid(v.clone());
        if let Some(r) = self.lookup(&k) {
            return r;
        }
        let mut acc: Option<Ref> = None;
        if v.is_never() {
            acc = Some(self.constant(Scalar::Bool(false)));
        }
        for (l, lo, hi) in v.constraints().to_vec() {
            let (vlo, vhi) = l.range(&self.ranges);
            let x = self.lin(&l);
            let mut conds = vec![];
            if vlo < lo {
                let c = self.constant(Scalar::I32(lo as i32 - 1));
                conds.push(self.push(UOp::Binary(BinaryOp::CmpLt, c, x), DType::Bool));
            }
            if vhi > hi {
                let c = self.constant(Scalar::I32(hi as i32 + 1));
                conds.push(self.push(UOp::Binary(BinaryOp::CmpLt, x, c), DType::Bool));
            }
            for c in conds {
                acc = Some(match acc {
                    None => c,
                    Some(p) => self.push(UOp::Binary(BinaryOp::And, p, c), DType::Bool),
                });
            }
        }
        let r = acc.unwrap_or_else(|| self.constant(Scalar::Bool(true)));
        self.remember(k, r)
    }

    fn combine(&mut self, op: ReduceOp, acc: Ref, v: Ref, d: DType) -> Ref {
        match op {
            ReduceOp::Sum => self.push(UOp::Binary(BinaryOp::Add, acc, v), d),
            ReduceOp::Prod => self.push(UOp::Binary(BinaryOp::Mul, acc, v), d),
            ReduceOp::Max => self.push(UOp::Binary(BinaryOp::Max, acc, v), d),
            ReduceOp::Min => {
                let lt = self.push(UOp::Binary(BinaryOp::CmpLt, v, acc), DType::Bool);
                self.push(UOp::Where(lt, v, acc), d)
            }
        }
    }

    /// Tree reduction of every accumulator across the `g` invocations of the workgroup.
    fn group_reduce(&mut self, reduces: &[(AstRef, ReduceOp, AstRef)], accs: &[Ref], g: usize) {
        let lid = self.var_refs[VAR_LOCAL as usize];
        let locals: Vec<Ref> = reduces
            .iter()
            .zip(accs)
            .map(|(&(r, _, _), &acc)| {
                let d = self.ast.dtypes[r];
                let local = self.push(UOp::DefineLocal { len: g }, d);
                self.push(
                    UOp::StoreLocal {
                        local,
                        index: lid,
                        value: acc,
                    },
                    d,
                );
                local
            })
            .collect();
        self.push(UOp::Barrier, DType::Bool);
        let mut s = g / 2;
        while s >= 1 {
            let sc = self.constant(Scalar::I32(s as i32));
            let active = self.push(UOp::Binary(BinaryOp::CmpLt, lid, sc), DType::Bool);
            self.open(UOp::If(active));
            let other = self.push(UOp::Binary(BinaryOp::Add, lid, sc), DType::I32);
            for (&(r, op, _), &local) in reduces.iter().zip(&locals) {
                let d = self.ast.dtypes[r];
                let a = self.push(UOp::LoadLocal { local, index: lid }, d);
                let b = self.push(
                    UOp::LoadLocal {
                        local,
                        index: other,
                    },
                    d,
                );
                let c = self.combine(op, a, b, d);
                self.push(
                    UOp::StoreLocal {
                        local,
                        index: lid,
                        value: c,
                    },
                    d,
                );
            }
            self.close(UOp::EndIf);
            self.push(UOp::Barrier, DType::Bool);
            s /= 2;
        }
        let zero = self.constant(Scalar::I32(0));
        for (&(r, _, _), &local) in reduces.iter().zip(&locals) {
            let v = self.push(UOp::LoadLocal { local, index: zero }, self.ast.dtypes[r]);
            self.reduce_values.insert(r, v);
        }
    }

    fn node(&mut self, r: AstRef) -> Ref {
        if let Some(&v) = self.reduce_values.get(&r) {
            return v;
        }
        let k = Key::Ast(r);
        if let Some(v) = self.lookup(&k) {
            return v;
        }
        let d = self.ast.dtypes[r];
        let v = match self.ast.nodes[r].clone() {
            AstNode::Load { buf, index, valid } => {
                let valid =
                    valid.substitute(&|v| self.axis_value[v as usize].clone(), &self.ranges);
                let index = self.subst(&index);
                let numel = self.ast.bufs[buf].numel as i64;
                let impossible = index.as_const().is_some_and(|i| i < 0 || i >= numel);
                if valid.is_never() || impossible {
                    // Never read: either masked off, or code that no valid lane reaches.
                    self.constant(Scalar::from_f64(0.0, d))
                } else {
                    let index = self.lin(&index);
                    let valid = (!valid.is_always()).then(|| self.valid(&valid));
                    self.push(UOp::Load { buf, index, valid }, d)
                }
            }
            AstNode::Const(dt, bits) => self.constant(Scalar::from_bits(bits, dt)),
            AstNode::Unary(op, a) => {
                let a = self.node(a);
                self.push(UOp::Unary(op, a), d)
            }
            AstNode::Binary(op, a, b) => {
                let (a, b) = (self.node(a), self.node(b));
                self.push(UOp::Binary(op, a, b), d)
            }
            AstNode::Where(c, a, b) => {
                let (c, a, b) = (self.node(c), self.node(a), self.node(b));
                self.push(UOp::Where(c, a, b), d)
            }
            AstNode::Cast(_, a) => {
                let a = self.node(a);
                self.push(UOp::Cast(a), d)
            }
            AstNode::Gate(valid, a) => {
                let valid =
                    valid.substitute(&|v| self.axis_value[v as usize].clone(), &self.ranges);
                let a = self.node(a);
                if valid.is_always() {
                    a
                } else {
                    let c = self.valid(&valid);
                    let zero = self.constant(Scalar::from_f64(0.0, d));
                    self.push(UOp::Where(c, a, zero), d)
                }
            }
            AstNode::Reduce(..) => unreachable!("reduce values are computed before their users"),
        };
        self.remember(k, v)
    }
}
