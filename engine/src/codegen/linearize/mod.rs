//! The linearizer: (kernel AST, opts) → linear IR.
//!
//! The optimized kernel's parts (see `opt`) become values: global parts ← the flat workgroup
//! id, local and group parts ← the flat invocation id (group parts fastest), reduce parts ←
//! nested `Range` loops, and upcast and unroll parts ← *lanes*: the code is emitted once per
//! lane with the part's value a constant (memo key (expression, lane)). Every domain axis is an
//! affine expression of those, substituted into the AST's symbolic indices and re-simplified,
//! which is where a contiguous load folds back to `gid*n + lid`.
//!
//! Layout of the emitted program:
//! ```text
//! for each reduce nest (reduces over the same axes, in dependency order):
//!   acc[r][u] = identity                      one per reduce r and upcast lane u
//!   for r0 { for r1 {                          reduce parts
//!     acc[r][u] = acc[r][u] ⊕ [mask ?] src(u, unroll lane)   for every unroll lane
//!   } }
//!   [group: local[..] = acc; barrier; tree steps (if g < n-s: combine; barrier); read slot 0]
//! for each store, upcast lane: out[index] = value  (masked: padding, group leader)
//! ```
//! Guards never become control flow around code that may contain a barrier: a padded axis
//! masks loads (they read nothing), reduce contributions (they add the identity) and stores.
//! Pure instructions are hash-consed within their block (CSE), so lanes that share a load or an
//! index computation share the instruction. Loads and stores whose lanes touch contiguous,
//! aligned elements along an upcast or unroll part of size 2 or 4·k become one vector access.

use std::collections::HashMap;

use crate::dtype::{DType, Scalar};
use crate::ops::{BinaryOp, ReduceOp, UnaryOp};
use crate::view::symbolic::{Lin, Valid};

use super::arena::Arena;
use super::ast::{AstNode, ExprRef, KernelAst};
use super::ir::{Inst, Program, Ref, Special, UOp};
use super::opt::{AxisKind, Shaped};
use crate::runtime::DeviceLimits;

mod group;
mod index;
mod vector;

/// Hash-consing key of a pure instruction: (tag, operands..., dtype, width).
type CseKey = (u8, u64, u64, u64, u64, DType, u8);

#[derive(Clone, PartialEq, Eq, Hash)]
enum Key {
    Lin(Lin),
    Valid(Valid),
    Node(ExprRef, usize),
    Cse(CseKey),
}

/// A float sum whose accumulators each fold more values than this, one after another, is
/// compensated (see `kahan_add`). Below it a plain sum's error is small enough, and
/// matmuls (K up to 8192) keep their single add per product.
const COMPENSATE_ABOVE_FOLDS: usize = 8192;

const VAR_GROUP: u32 = 0;
const VAR_LOCAL: u32 = 1;

/// The lane parts (upcast then unroll) and how a lane id decomposes over them.
struct Lanes {
    /// Indices into `shaped.parts`.
    parts: Vec<usize>,
    /// Number of upcast lanes (a lane id is `upcast_lane * unroll_lanes + unroll_lane`).
    upcast: usize,
    unroll: usize,
}

impl Lanes {
    fn id(&self, u: usize, r: usize) -> usize {
        u * self.unroll + r
    }
    fn upcast_of(&self, lane: usize) -> usize {
        lane / self.unroll
    }
}

struct Linearizer<'a> {
    ast: &'a KernelAst,
    shaped: &'a Shaped,
    insts: Arena<Inst>,
    scopes: Vec<HashMap<Key, Ref>>,
    var_refs: Vec<Option<Ref>>,
    ranges: Vec<(i64, i64)>,
    /// Per domain axis, its value from the non-lane parts.
    base_value: Vec<Lin>,
    lanes: Lanes,
    /// Per lane id, the value of every lane part.
    lane_values: Vec<Vec<usize>>,
    axis_cache: HashMap<usize, Vec<Lin>>,
    /// Axes that PADTO made longer: (axis, real size, is a reduce axis). Computed once; empty
    /// unless some opt padded.
    padded_axes: Vec<(usize, usize, bool)>,
    /// Reduce axes whose loop variables are in scope (the nest being emitted).
    active_reduce_axes: Vec<usize>,
    reduce_values: HashMap<(ExprRef, usize), Ref>,
    /// Workgroup arrays per dtype, for grouped reductions.
    locals: HashMap<DType, (Ref, usize)>,
}

/// Lowers `ast` shaped by `shaped` (from `apply_opts`) to a [`Program`].
pub fn linearize(ast: &KernelAst, shaped: &Shaped, limits: &DeviceLimits) -> Program {
    let parts = &shaped.parts;
    let num_groups = shaped.num_groups();
    let local_size = shaped.local_size();
    let loop_parts: Vec<usize> = (0..parts.len())
        .filter(|&i| parts[i].kind == AxisKind::Reduce)
        .collect();

    // Variable space: 0 = group id, 1 = local id, 2.. = reduce loop variables.
    let mut ranges = vec![(0, num_groups as i64 - 1), (0, local_size as i64 - 1)];
    ranges.extend(loop_parts.iter().map(|&i| (0, parts[i].size as i64 - 1)));

    // Each non-lane part's value in terms of the variables.
    let mut part_value: Vec<Option<Lin>> = vec![None; parts.len()];
    let decompose = |kinds: &[AxisKind], var: u32, part_value: &mut Vec<Option<Lin>>| {
        let idx: Vec<usize> = (0..parts.len())
            .filter(|&i| kinds.contains(&parts[i].kind))
            .collect();
        let mut stride = 1i64;
        for &i in idx.iter().rev() {
            let size = parts[i].size as i64;
            // An empty part leaves nothing to run (its kernel is never launched).
            part_value[i] = Some(if size == 0 {
                Lin::constant(0)
            } else {
                Lin::var(var).div(stride, &ranges).rem(size, &ranges)
            });
            stride *= size.max(1);
        }
    };
    decompose(&[AxisKind::Global], VAR_GROUP, &mut part_value);
    decompose(
        &[AxisKind::Local, AxisKind::GroupReduce],
        VAR_LOCAL,
        &mut part_value,
    );
    for (j, &i) in loop_parts.iter().enumerate() {
        part_value[i] = Some(Lin::var(2 + j as u32));
    }
    let mut base_value = vec![Lin::constant(0); ast.full_shape.len()];
    for (i, p) in parts.iter().enumerate() {
        if let Some(v) = &part_value[i] {
            base_value[p.axis] = base_value[p.axis].add(&v.scale(p.mult as i64));
        }
    }

    let upcast: Vec<usize> = (0..parts.len())
        .filter(|&i| parts[i].kind == AxisKind::Upcast)
        .collect();
    let unroll: Vec<usize> = (0..parts.len())
        .filter(|&i| parts[i].kind == AxisKind::Unroll)
        .collect();
    let lanes = Lanes {
        upcast: upcast.iter().map(|&i| parts[i].size).product(),
        unroll: unroll.iter().map(|&i| parts[i].size).product(),
        parts: upcast.iter().chain(&unroll).copied().collect(),
    };
    let lane_values: Vec<Vec<usize>> = (0..lanes.upcast * lanes.unroll)
        .map(|mut id| {
            let mut v = vec![0; lanes.parts.len()];
            for (k, &i) in lanes.parts.iter().enumerate().rev() {
                v[k] = id % parts[i].size;
                id /= parts[i].size;
            }
            v
        })
        .collect();

    let mut lz = Linearizer {
        ast,
        shaped,
        insts: Arena::new(),
        scopes: vec![HashMap::new()],
        var_refs: vec![None; ranges.len()],
        ranges,
        base_value,
        lanes,
        lane_values,
        axis_cache: HashMap::new(),
        padded_axes: {
            let red = ast.reduce_axes();
            (0..ast.full_shape.len())
                .filter(|&a| shaped.padded[a] > ast.full_shape[a])
                .map(|a| (a, ast.full_shape[a], red.contains(&a)))
                .collect()
        },
        active_reduce_axes: vec![],
        reduce_values: HashMap::new(),
        locals: HashMap::new(),
    };
    lz.var_refs[VAR_GROUP as usize] = Some(lz.emit(UOp::Special(Special::GroupId), DType::I32));
    lz.var_refs[VAR_LOCAL as usize] = Some(if local_size > 1 {
        lz.emit(UOp::Special(Special::LocalId), DType::I32)
    } else {
        lz.constant(Scalar::I32(0))
    });

    lz.reduce_nests(&loop_parts, limits.workgroup_memory_bytes);
    lz.stores();

    let (name, colored_name) = kernel_name(ast, shaped);
    let sizes = |kinds: &[AxisKind]| -> Vec<usize> {
        parts
            .iter()
            .filter(|p| kinds.contains(&p.kind))
            .map(|p| p.size)
            .collect()
    };
    Program {
        name,
        colored_name,
        insts: lz.insts,
        bufs: ast.bufs.clone(),
        global_sizes: sizes(&[AxisKind::Global]),
        local_sizes: sizes(&[AxisKind::Local, AxisKind::GroupReduce]),
        opts: shaped.opts.clone(),
        flops: ast.flop_estimate(),
        params: ast.param_dtypes(),
        loop_iterations: loop_iterations(ast, shaped),
        binding_window: limits.binding_window(),
    }
}

/// The most iterations one loop runs per invocation: for each reduce nest, the product of the
/// sizes of its loop (reduce-kind) parts, which is how often its innermost loop body runs.
pub fn loop_iterations(ast: &KernelAst, shaped: &Shaped) -> u64 {
    let mut nests: Vec<Vec<usize>> = vec![];
    for (_, e) in ast.exprs.iter() {
        if let AstNode::Reduce { axes, .. } = &e.op {
            if !nests.contains(axes) {
                nests.push(axes.clone());
            }
        }
    }
    nests
        .iter()
        .map(|axes| {
            shaped
                .parts
                .iter()
                .filter(|p| p.kind == AxisKind::Reduce && axes.contains(&p.axis))
                .map(|p| p.size as u64)
                .product::<u64>()
        })
        .max()
        .unwrap_or(0)
}

/// tinygrad's naming: `r_` for kernels with a reduction, `E_` otherwise, then the part sizes
/// in canonical order, colored by kind unless NO_COLOR is set.
pub fn kernel_name(ast: &KernelAst, shaped: &Shaped) -> (String, String) {
    let prefix = if ast.has_reduce() { "r" } else { "E" };
    let mut plain = prefix.to_string();
    let mut colored = prefix.to_string();
    let no_color = std::env::var_os("NO_COLOR").is_some();
    for p in &shaped.parts {
        plain.push_str(&format!("_{}", p.size));
        if no_color {
            colored.push_str(&format!("_{}", p.size));
        } else {
            colored.push_str(&format!("_\x1b[{}m{}\x1b[0m", p.kind.color(), p.size));
        }
    }
    (plain, colored)
}

fn identity(op: ReduceOp, d: DType) -> Scalar {
    op.identity(d)
}

impl Linearizer<'_> {
    // ---- instruction emission ----

    fn push(&mut self, op: UOp, dtype: DType, width: u8) -> Ref {
        self.insts.append(Inst { op, dtype, width })
    }

    /// Emits a pure instruction, reusing an identical one already in scope. Instructions that
    /// read an accumulator are never shared: the accumulator changes under them.
    fn emit_w(&mut self, op: UOp, dtype: DType, width: u8) -> Ref {
        let reads_acc = op
            .operands()
            .iter()
            .any(|r| matches!(self.insts[*r].op, UOp::DefineAcc(_)));
        let key = if reads_acc {
            None
        } else {
            cse_key(&op, dtype, width)
        };
        if let Some(k) = &key {
            if let Some(r) = self.lookup(&Key::Cse(*k)) {
                return r;
            }
        }
        let r = self.push(op, dtype, width);
        if let Some(k) = key {
            self.remember(Key::Cse(k), r);
        }
        r
    }
    fn emit(&mut self, op: UOp, dtype: DType) -> Ref {
        self.emit_w(op, dtype, 1)
    }
    fn open(&mut self, op: UOp) -> Ref {
        let dtype = if matches!(op, UOp::Range { .. }) {
            DType::I32
        } else {
            DType::Bool
        };
        let r = self.push(op, dtype, 1);
        self.scopes.push(HashMap::new());
        r
    }
    fn close(&mut self, op: UOp) {
        self.scopes.pop();
        self.push(op, DType::Bool, 1);
    }
    fn lookup(&self, k: &Key) -> Option<Ref> {
        self.scopes.iter().rev().find_map(|s| s.get(k).copied())
    }
    fn remember(&mut self, k: Key, r: Ref) -> Ref {
        self.scopes.last_mut().expect("scope").insert(k, r);
        r
    }
    fn constant(&mut self, s: Scalar) -> Ref {
        self.emit(UOp::Const(s), s.dtype())
    }
    fn binary(&mut self, op: BinaryOp, a: Ref, b: Ref, d: DType) -> Ref {
        self.emit(UOp::Binary(op, a, b), d)
    }
    fn and(&mut self, a: Option<Ref>, b: Option<Ref>) -> Option<Ref> {
        match (a, b) {
            (Some(a), Some(b)) => Some(self.binary(BinaryOp::And, a, b, DType::Bool)),
            (a, None) => a,
            (None, b) => b,
        }
    }

    // ---- expressions ----

    fn node(&mut self, e: ExprRef, lane: usize) -> Ref {
        if let AstNode::Reduce { .. } = self.ast.exprs[e].op {
            let u = self.lanes.upcast_of(lane);
            return *self
                .reduce_values
                .get(&(e, u))
                .expect("reduce values are computed before their users");
        }
        let k = Key::Node(e, lane);
        if let Some(v) = self.lookup(&k) {
            return v;
        }
        let d = self.ast.exprs[e].dtype;
        let v = match self.ast.exprs[e].op.clone() {
            AstNode::Load { buf, index, valid } => self.load(buf, &index, &valid, d, lane),
            AstNode::Const(bits) => self.constant(Scalar::from_bits(bits, d)),
            AstNode::Param(i) => self.emit(UOp::Param(i), d),
            AstNode::Unary(op, a) => {
                let a = self.node(a, lane);
                self.emit(UOp::Unary(op, a), d)
            }
            AstNode::Binary(op, a, b) => {
                let (a, b) = (self.node(a, lane), self.node(b, lane));
                self.emit(UOp::Binary(op, a, b), d)
            }
            AstNode::Where(c, a, b) => {
                let (c, a, b) = (self.node(c, lane), self.node(a, lane), self.node(b, lane));
                self.emit(UOp::Where(c, a, b), d)
            }
            AstNode::Cast(a) => {
                let a = self.node(a, lane);
                self.emit(UOp::Cast(a), d)
            }
            AstNode::Gate(valid, a) => {
                let valid = self.subst_valid(&valid, lane);
                let a = self.node(a, lane);
                match self.valid(&valid) {
                    None => a,
                    Some(c) => {
                        let zero = self.constant(Scalar::from_f64(0.0, d));
                        self.emit(UOp::Where(c, a, zero), d)
                    }
                }
            }
            AstNode::Reduce { .. } => unreachable!("handled above"),
        };
        self.remember(k, v)
    }

    fn load(&mut self, buf: usize, index: &Lin, valid: &Valid, d: DType, lane: usize) -> Ref {
        let (idx, v) = self.load_access(index, valid, lane);
        let numel = self.ast.bufs[buf].numel as i64;
        let impossible = idx.as_const().is_some_and(|i| i < 0 || i >= numel);
        if v.is_never() || impossible {
            // Never read: either masked off, or code that no valid lane reaches.
            return self.constant(Scalar::from_f64(0.0, d));
        }
        if d != DType::Bool {
            let (index_ast, valid_ast) = (index.clone(), valid.clone());
            let of = move |lz: &mut Self, l: usize| lz.load_access(&index_ast, &valid_ast, l);
            if let Some((_, w, t, _)) = self.vector_of(lane, &idx, &v, &of) {
                let base = self.lin(&idx.add_const(-(t as i64)));
                let valid = self.valid(&v);
                let vec = self.emit_w(
                    UOp::Load {
                        buf,
                        index: base,
                        valid,
                    },
                    d,
                    w,
                );
                return self.emit(UOp::Gep(vec, t), d);
            }
        }
        let index = self.lin(&idx);
        let valid = self.valid(&v);
        self.emit(UOp::Load { buf, index, valid }, d)
    }

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

    fn combine(&mut self, op: ReduceOp, a: Ref, b: Ref, d: DType) -> Ref {
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
    fn reduce_nests(&mut self, loop_parts: &[usize], wg_bytes: usize) {
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

    fn nest(
        &mut self,
        nest: &[(ExprRef, ReduceOp, ExprRef)],
        axes: &[usize],
        loop_parts: &[usize],
        wg_bytes: usize,
    ) {
        let parts = self.shaped.parts.clone();
        let own_loops: Vec<(usize, usize)> = loop_parts
            .iter()
            .enumerate()
            .filter(|(_, &i)| axes.contains(&parts[i].axis))
            .map(|(j, &i)| (j, i))
            .collect();
        // Unroll lanes of this nest: the lane ids whose other unroll parts are 0.
        let own_unroll: Vec<usize> = (0..self.lanes.unroll)
            .filter(|&r| {
                let lane = self.lanes.id(0, r);
                self.lanes.parts.iter().enumerate().all(|(k, &i)| {
                    parts[i].kind != AxisKind::Unroll
                        || axes.contains(&parts[i].axis)
                        || self.lane_values[lane][k] == 0
                })
            })
            .collect();
        let nu = self.lanes.upcast;
        let accs: Vec<Vec<Ref>> = nest
            .iter()
            .map(|&(r, op, _)| {
                let d = self.ast.exprs[r].dtype;
                (0..nu)
                    .map(|_| self.push(UOp::DefineAcc(identity(op, d)), d, 1))
                    .collect()
            })
            .collect();
        let empty = own_loops.iter().any(|&(_, i)| parts[i].size == 0)
            || axes.iter().any(|&a| self.ast.full_shape[a] == 0);
        // Values each accumulator folds in one after another.
        let folds: usize = own_loops
            .iter()
            .map(|&(_, i)| parts[i].size)
            .product::<usize>()
            * own_unroll.len();
        let compensated = |op: ReduceOp, d: DType| {
            op == ReduceOp::Sum && d == DType::F32 && folds > COMPENSATE_ABOVE_FOLDS
        };
        // Kahan compensation terms, for the float sums that fold many values per lane.
        let comps: Vec<Option<Vec<Ref>>> = nest
            .iter()
            .map(|&(r, op, _)| {
                let d = self.ast.exprs[r].dtype;
                compensated(op, d).then(|| {
                    (0..nu)
                        .map(|_| self.push(UOp::DefineAcc(Scalar::F32(0.0)), d, 1))
                        .collect()
                })
            })
            .collect();
        let mut accs = accs;
        if !empty {
            self.active_reduce_axes = axes.to_vec();
            for &(j, i) in &own_loops {
                let r = self.open(UOp::Range {
                    end: parts[i].size as i64,
                });
                self.var_refs[2 + j] = Some(r);
            }
            for ((&(r, op, src), row), comp) in nest.iter().zip(&accs).zip(&comps) {
                let d = self.ast.exprs[r].dtype;
                for (u, &acc) in row.iter().enumerate() {
                    for &ur in &own_unroll {
                        let lane = self.lanes.id(u, ur);
                        let mut v = self.node(src, lane);
                        let g = self.pad_guard(lane, true);
                        if let Some(c) = self.valid(&g) {
                            let id = self.constant(identity(op, d));
                            v = self.emit(UOp::Where(c, v, id), d);
                        }
                        match comp {
                            Some(comp) => self.kahan_add(acc, comp[u], v),
                            None => {
                                let c = self.combine(op, acc, v, d);
                                self.push(UOp::Assign { acc, value: c }, d, 1);
                            }
                        }
                    }
                }
            }
            for &(j, _) in own_loops.iter().rev() {
                self.close(UOp::EndRange);
                self.var_refs[2 + j] = None;
            }
            self.active_reduce_axes.clear();
            // A compensated sum is its accumulator minus the error still carried.
            for (row, comp) in accs.iter_mut().zip(&comps) {
                if let Some(comp) = comp {
                    for (acc, &c) in row.iter_mut().zip(comp) {
                        let minus = self.push(UOp::Unary(UnaryOp::Neg, c), DType::F32, 1);
                        *acc = self.push(UOp::Binary(BinaryOp::Add, *acc, minus), DType::F32, 1);
                    }
                }
            }
        }
        let groups: usize = parts
            .iter()
            .filter(|p| p.kind == AxisKind::GroupReduce && axes.contains(&p.axis))
            .map(|p| p.size)
            .product();
        if groups > 1 {
            self.group_reduce(nest, &accs, groups, wg_bytes);
        } else {
            for (&(r, _, _), row) in nest.iter().zip(&accs) {
                for (u, &acc) in row.iter().enumerate() {
                    self.reduce_values.insert((r, u), acc);
                }
            }
        }
    }

    // ---- stores ----

    fn stores(&mut self) {
        let groups = self.shaped.size_of(AxisKind::GroupReduce);
        let leader = if groups > 1 {
            let lid = self.var_refs[VAR_LOCAL as usize].expect("local id");
            let gi = self.constant(Scalar::I32(groups as i32));
            let gpos = self.binary(BinaryOp::Mod, lid, gi, DType::I32);
            let zero = self.constant(Scalar::I32(0));
            Some(self.binary(BinaryOp::CmpEq, gpos, zero, DType::Bool))
        } else {
            None
        };
        for s in self.ast.stores.clone() {
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
                    Some((first, w, 0, stride)) => {
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
    }

    fn store_access(&mut self, index: &Lin, valid: &Valid, lane: usize) -> (Lin, Valid) {
        let mut v = self.subst_valid(valid, lane);
        let g = self.pad_guard(lane, false);
        v.and_all(&g, &self.ranges);
        (self.subst(index, lane), v)
    }
}

fn cse_key(op: &UOp, dtype: DType, width: u8) -> Option<CseKey> {
    let r = |h: Ref| h.index() as u64 + 1;
    let k = match op {
        UOp::Special(s) => (0, *s as u64, 0, 0, 0),
        UOp::Const(c) => (1, c.to_bits() as u64, 0, 0, 0),
        UOp::Unary(o, a) => (2, *o as u64, r(*a), 0, 0),
        UOp::Binary(o, a, b) => (3, *o as u64, r(*a), r(*b), 0),
        UOp::Where(c, a, b) => (4, r(*c), r(*a), r(*b), 0),
        UOp::Cast(a) => (5, r(*a), 0, 0, 0),
        UOp::Load { buf, index, valid } => (6, *buf as u64, r(*index), valid.map_or(0, r), 0),
        UOp::Gep(a, lane) => (7, r(*a), *lane as u64, 0, 0),
        UOp::Param(i) => (8, *i as u64, 0, 0, 0),
        _ => return None,
    };
    Some((k.0, k.1, k.2, k.3, k.4, dtype, width))
}
