//! The linearizer: (kernel AST, opts) → linear IR.
//!
//! The optimized kernel's parts (see `opt`) become values: global parts ← the flat workgroup
//! id, local and group parts ← the flat invocation id (the group lanes fastest, shared by every
//! grouped nest and the GROUPOUT parts), reduce parts ← nested `Range` loops, loop parts ←
//! `Range` loops around the stores, and upcast and unroll parts ← *lanes*: the code is emitted once per
//! lane with the part's value a constant (memo key (expression, lane)). Every domain axis is an
//! affine expression of those, substituted into the AST's symbolic indices and re-simplified,
//! which is where a contiguous load folds back to `gid*n + lid`.
//!
//! Layout of the emitted program:
//! ```text
//! for each reduce nest (reduces over the same axes, in dependency order):
//!   acc[r][u] = identity                      one per reduce r and upcast lane u
//!   for r0 { for r1 {                          reduce parts
//!     [STAGE: tile[lid + k·lanes] = buf[..]; barrier]   (the loads below read the tiles)
//!     acc[r][u] = acc[r][u] ⊕ [mask ?] src(u, unroll lane)   for every unroll lane
//!     [STAGE: barrier]
//!   } }
//!   [group: local[..] = acc; barrier; tree steps (if g < n-s: combine; barrier); read slot 0,
//!    or with subgroups: subgroup reduce; first lane: local[subgroup] = it; barrier; fold]
//! for l0 { ..                                  loop parts (GROUPOUT's rest of a column axis)
//!   for each store, upcast lane: out[index] = value  (masked: padding; the group leader
//!                                                     unless GROUPOUT spread the outputs)
//! }
//! ```
//! Guards never become control flow around code that may contain a barrier: a padded axis
//! masks loads (they read nothing), reduce contributions (they add the identity) and stores.
//! Pure instructions are hash-consed within their block (CSE), so lanes that share a load or an
//! index computation share the instruction. Loads and stores whose lanes touch contiguous,
//! aligned elements along an upcast or unroll part of size 2 or 4·k become one vector access.

use std::collections::HashMap;

use crate::dtype::{DType, Scalar};
use crate::ops::{BinaryOp, ReduceOp};
use crate::view::symbolic::{Lin, Ranges, Valid};

use super::arena::Arena;
use super::ast::{AstNode, ExprRef, KernelAst};
use super::ir::{Inst, Program, Ref, Special, UOp};
use super::shaped::{AxisKind, Shaped};
use super::stage::StageTile;
use crate::target::DeviceLimits;

mod group;
mod index;
mod indexing;
mod nest;
mod scan;
mod share;
mod stage;
mod store;
mod vector;

/// Hash-consing key of a pure instruction: (tag, operands..., dtype, width).
type CseKey = (u8, u64, u64, u64, u64, DType, u8);

#[derive(Clone, PartialEq, Eq, Hash)]
enum Key {
    Lin(Lin),
    Valid(Valid),
    Node(ExprRef, usize),
    Cse(CseKey),
    /// A read of a staged tile: (buffer, position in the tile).
    Staged(usize, Lin),
    /// A shared load's chunk `j` (see `share.rs`): (load, j).
    SharedChunk(ExprRef, usize),
    /// A shared load's broadcast value of one slot: (load, slot).
    SharedSlot(ExprRef, usize),
    /// The status stores of a failed index check, by their mask (lanes that check the same
    /// index store once).
    Flagged(Ref),
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
    /// `KernelAst::expr_axes`: the axes each expression varies over.
    expr_axes: Vec<Vec<u32>>,
    /// Axes with a loop part (GROUPOUT), whose values exist only inside the store loops.
    looped_axes: Vec<usize>,
    in_store_loops: bool,
    /// Per part, its value from the variables (`None` for lane parts, which are constants
    /// per lane).
    part_value: Vec<Option<Lin>>,
    /// The staged tiles of the nest being emitted, with their workgroup arrays: their loads
    /// read the tile (see `stage.rs`).
    active_stages: Vec<(StageTile, Ref)>,
    /// `DeviceLimits::subgroup_sizes`: grouped reductions over whole workgroups combine
    /// through subgroups where they are known (see `group.rs`).
    subgroup_sizes: Option<(usize, usize)>,
    /// For shared loads (`share.rs`): the loads the subgroups split, the variable holding
    /// the subgroup lane mod S, and S.
    shared_exprs: Vec<ExprRef>,
    share_lane: Option<(u32, usize)>,
    /// Per shared load and nest (its reduce axes), how its accesses map to slots.
    share_tiles: HashMap<(ExprRef, Vec<usize>), std::rc::Rc<share::ShareTile>>,
    /// Each scan's accumulator per upcast lane, defined before the store loops.
    scan_accs: HashMap<(ExprRef, usize), Ref>,
}

/// Lowers `ast` shaped by `shaped` (from `apply_opts`) to a [`Program`].
pub fn linearize(ast: &KernelAst, shaped: &Shaped, limits: &DeviceLimits) -> Program {
    let parts = &shaped.parts;
    let of_kind =
        |k: AxisKind| -> Vec<usize> { (0..parts.len()).filter(|&i| parts[i].kind == k).collect() };
    let loop_parts = of_kind(AxisKind::Reduce);
    let store_loop_parts = of_kind(AxisKind::Loop);
    // Variable space: 0 = group id, 1 = local id, then the reduce loop variables, then the
    // variables of the loops around the stores.
    let first_store_loop = 2 + loop_parts.len();
    let mut ranges = vec![
        (0, shaped.num_groups() as i64 - 1),
        (0, shaped.local_size() as i64 - 1),
    ];
    ranges.extend(
        loop_parts
            .iter()
            .chain(&store_loop_parts)
            .map(|&i| (0, parts[i].size as i64 - 1)),
    );
    let part_value = part_values(shaped, &ranges, &loop_parts, &store_loop_parts);
    let mut base_value = vec![Lin::constant(0); ast.full_shape.len()];
    for (i, p) in parts.iter().enumerate() {
        if let Some(v) = &part_value[i] {
            base_value[p.axis] = base_value[p.axis].add(&v.scale(p.mult as i64));
        }
    }
    let (lanes, lane_values) = lanes_of(shaped);
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
        expr_axes: ast.expr_axes(),
        looped_axes: store_loop_parts.iter().map(|&i| parts[i].axis).collect(),
        in_store_loops: false,
        part_value,
        active_stages: vec![],
        subgroup_sizes: limits.subgroup_sizes,
        shared_exprs: vec![],
        share_lane: None,
        share_tiles: HashMap::new(),
        scan_accs: HashMap::new(),
    };
    lz.var_refs[VAR_GROUP as usize] = Some(lz.emit(UOp::Special(Special::GroupId), DType::I32));
    lz.var_refs[VAR_LOCAL as usize] = Some(if shaped.local_size() > 1 {
        lz.emit(UOp::Special(Special::LocalId), DType::I32)
    } else {
        lz.constant(Scalar::I32(0))
    });
    lz.define_share_lane();
    lz.reduce_nests(&loop_parts, limits.workgroup_memory_bytes);
    lz.stores(&store_loop_parts, first_store_loop);
    program(ast, shaped, limits, lz.insts)
}

/// Each non-lane part's value in terms of the variables (`None` for upcast and unroll
/// parts, which are lanes): global parts are digits of the group id, local parts digits of
/// the local id above the group lanes, each grouped nest's parts digits of the group lanes
/// (every user of the group lanes reads all of them), and loop parts their own variables.
fn part_values(
    shaped: &Shaped,
    ranges: &dyn Ranges,
    loop_parts: &[usize],
    store_loop_parts: &[usize],
) -> Vec<Option<Lin>> {
    let parts = &shaped.parts;
    let mut part_value: Vec<Option<Lin>> = vec![None; parts.len()];
    // The parts in `idx` (canonical order, outermost first) are the digits of `var / below`.
    let mut decompose = |idx: &[usize], var: u32, below: i64| {
        let mut stride = below;
        for &i in idx.iter().rev() {
            let size = parts[i].size as i64;
            // An empty part leaves nothing to run (its kernel is never launched).
            part_value[i] = Some(if size == 0 {
                Lin::constant(0)
            } else {
                Lin::var(var).div(stride, ranges).rem(size, ranges)
            });
            stride *= size.max(1);
        }
    };
    let of_kind =
        |k: AxisKind| -> Vec<usize> { (0..parts.len()).filter(|&i| parts[i].kind == k).collect() };
    decompose(&of_kind(AxisKind::Global), VAR_GROUP, 1);
    decompose(
        &of_kind(AxisKind::Local),
        VAR_LOCAL,
        shaped.group_size() as i64,
    );
    for (nest, _) in shaped.group_sets() {
        let idx: Vec<usize> = of_kind(AxisKind::Group)
            .into_iter()
            .filter(|&i| shaped.nest_of[parts[i].axis] == nest)
            .collect();
        decompose(&idx, VAR_LOCAL, 1);
    }
    for (j, &i) in loop_parts.iter().chain(store_loop_parts).enumerate() {
        part_value[i] = Some(Lin::var(2 + j as u32));
    }
    part_value
}

/// The upcast and unroll parts as lanes, and each lane's value of those parts.
fn lanes_of(shaped: &Shaped) -> (Lanes, Vec<Vec<usize>>) {
    let parts = &shaped.parts;
    let of_kind =
        |k: AxisKind| -> Vec<usize> { (0..parts.len()).filter(|&i| parts[i].kind == k).collect() };
    let (upcast, unroll) = (of_kind(AxisKind::Upcast), of_kind(AxisKind::Unroll));
    let lanes = Lanes {
        upcast: upcast.iter().map(|&i| parts[i].size).product(),
        unroll: unroll.iter().map(|&i| parts[i].size).product(),
        parts: upcast.iter().chain(&unroll).copied().collect(),
    };
    let lane_values = (0..lanes.upcast * lanes.unroll)
        .map(|mut id| {
            let mut v = vec![0; lanes.parts.len()];
            for (k, &i) in lanes.parts.iter().enumerate().rev() {
                v[k] = id % parts[i].size;
                id /= parts[i].size;
            }
            v
        })
        .collect();
    (lanes, lane_values)
}

/// The program around the instructions: name, buffers, grid and workgroup sizes, opts.
fn program(ast: &KernelAst, shaped: &Shaped, limits: &DeviceLimits, insts: Arena<Inst>) -> Program {
    let (name, colored_name) = kernel_name(ast, shaped);
    let sizes = |kind: AxisKind| -> Vec<usize> {
        shaped
            .parts
            .iter()
            .filter(|p| p.kind == kind)
            .map(|p| p.size)
            .collect()
    };
    let mut local_sizes = sizes(AxisKind::Local);
    if shaped.group_size() > 1 {
        local_sizes.push(shaped.group_size());
    }
    Program {
        name,
        colored_name,
        insts,
        bufs: ast.bufs.clone(),
        global_sizes: sizes(AxisKind::Global),
        local_sizes,
        opts: shaped.opts.clone(),
        flops: ast.flop_estimate(),
        params: ast.param_dtypes(),
        loop_iterations: loop_iterations(ast, shaped),
        binding_window: limits.binding_window(),
        native_f16: limits.native_f16,
    }
}

/// The most iterations one loop runs per invocation: for each reduce nest, the product of the
/// sizes of its loop (reduce-kind) parts, which is how often its innermost loop body runs;
/// for the stores, the product of the loop parts around them.
pub fn loop_iterations(ast: &KernelAst, shaped: &Shaped) -> u64 {
    let stores: u64 = shaped
        .parts
        .iter()
        .filter(|p| p.kind == AxisKind::Loop)
        .map(|p| p.size as u64)
        .product();
    ast.nests()
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
        .max(if stores > 1 { stores } else { 0 })
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
            AstNode::Load { .. } if self.active_stages.iter().any(|(t, _)| t.load == e) => {
                self.staged_read(e, lane)
            }
            AstNode::Load { .. } if self.is_shared_load(e) => self.shared_read(e, lane),
            AstNode::Load { buf, index, valid } => self.load(buf, &index, &valid, d, lane),
            AstNode::Const(bits) => self.constant(Scalar::from_bits(bits, d)),
            AstNode::Param(i) => self.emit(UOp::Param(i), d),
            AstNode::Index(index) => {
                let index = self.subst(&index, lane);
                self.lin(&index)
            }
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
            AstNode::Bitcast(a) => {
                let a = self.node(a, lane);
                self.emit(UOp::Bitcast(a), d)
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
            AstNode::CheckIndex { src, check, valid } => self.check_index(src, check, &valid, lane),
            AstNode::Gather {
                buf,
                base,
                stride,
                pos,
                valid,
            } => self.gather(buf, &base, stride, pos, &valid, d, lane),
            AstNode::Scan(s) => self.scan_step(e, &s, lane),
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
            // Lanes reading forwards, or backwards (a flipped view: the same aligned vector,
            // its components taken in reverse).
            let access = match self.vector_of(lane, &idx, &v, &of) {
                Some(a) => Some((a, false)),
                None => self
                    .reversed_vector_of(lane, &idx, &v, &of)
                    .map(|a| (a, true)),
            };
            if let Some((
                vector::VectorAccess {
                    width: w, pos: t, ..
                },
                reversed,
            )) = access
            {
                let (low, component) = match reversed {
                    false => (-(t as i64), t),
                    true => (t as i64 + 1 - w as i64, w - 1 - t),
                };
                let base = self.lin(&idx.add_const(low));
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
                return self.emit(UOp::Gep(vec, component), d);
            }
        }
        let index = self.lin(&idx);
        let valid = self.valid(&v);
        self.emit(UOp::Load { buf, index, valid }, d)
    }

    // ---- stores ----
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
        UOp::Bitcast(a) => (9, r(*a), 0, 0, 0),
        UOp::Load { buf, index, valid } => (6, *buf as u64, r(*index), valid.map_or(0, r), 0),
        UOp::Gep(a, lane) => (7, r(*a), *lane as u64, 0, 0),
        UOp::Param(i) => (8, *i as u64, 0, 0, 0),
        _ => return None,
    };
    Some((k.0, k.1, k.2, k.3, k.4, dtype, width))
}
