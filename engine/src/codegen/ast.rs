//! The kernel AST: what one kernel computes, before any optimization.
//!
//! A kernel is a loop domain `full_shape` (one variable per axis: variable `i` ranges over
//! `0..full_shape[i]`), a list of global buffers, a hash-consed expression DAG ([`Expr`] in a
//! [`UniqueArena`]) over loads and constants, and the stores of its outputs.
//!
//! - Every [`AstNode::Reduce`] names the axes it reduces, as tinygrad's REDUCE keeps its
//!   ranges. The axes that some reduce names are the kernel's *reduce axes*; the others are its
//!   *output axes*. Several reduces may share their axes (one loop nest computes them all) or
//!   reduce different axes, one after another, a later one reading an earlier one's result
//!   (softmax: the max over one copy of the row, then the sum of `exp(x - max)` over another).
//! - Every [`Store`] carries its own index and validity mask over the output axes, so outputs
//!   need not be the row-major image of the loop domain.
//! - Index expressions are symbolic ([`Lin`]) over the axis variables.
//!
//! Arena order is a topological order (an expression's operands come before it), which every
//! analysis here relies on to stay linear in the number of distinct expressions.

use std::fmt;

use crate::dtype::{DType, Scalar};
use crate::ops::{BinaryOp, IndexOp, ReduceOp, UnaryOp};
use crate::view::symbolic::{Lin, Valid};

use super::arena::{Handle, UniqueArena};

/// A handle to an expression of a kernel AST.
pub type ExprRef = Handle<Expr>;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum AstNode {
    /// `valid ? buf[index] : 0`.
    Load {
        buf: usize,
        index: Lin,
        valid: Valid,
    },
    /// The constant's bits (its dtype is the expression's).
    Const(u32),
    /// Kernel parameter `i`: a scalar passed at launch (user constants), so that a new value
    /// does not make a new program.
    Param(usize),
    /// The value of an index expression over the domain's variables (i32): what `iota`
    /// lowers to.
    Index(Lin),
    Unary(UnaryOp, ExprRef),
    Binary(BinaryOp, ExprRef, ExprRef),
    Where(ExprRef, ExprRef, ExprRef),
    /// Conversion to the expression's dtype.
    Cast(ExprRef),
    /// The operand's 32 bits as the expression's dtype.
    Bitcast(ExprRef),
    /// `valid ? src : 0`: the zeros of a padded computed value.
    Gate(Valid, ExprRef),
    /// Reduction of `src` over `axes` (sorted, non-empty) of the kernel's domain.
    Reduce {
        op: ReduceOp,
        src: ExprRef,
        axes: Vec<usize>,
    },
    /// An index (i32 or u32) checked as `KernelAst::checks[check]` says: the position it
    /// names (i32), or 0 where it is out of range, and then, where `valid` holds, the
    /// kernel's status buffer records the check and the index.
    CheckIndex {
        src: ExprRef,
        check: usize,
        valid: Valid,
    },
    /// `valid ? buf[base + stride * pos] : 0`: a read at a computed position `pos` (an i32
    /// `CheckIndex`, so within the buffer) along an axis of stride `stride`.
    Gather {
        buf: usize,
        base: Lin,
        stride: usize,
        pos: ExprRef,
        valid: Valid,
    },
    /// An inclusive scan along the kernel's scan axis.
    Scan(ScanOf),
}

/// The running fold of `src` along the kernel's scan axis (`KernelAst::scan_axis`), from
/// `init` (which does not vary along it) or the identity: each lane walks the axis in order
/// and stores as it goes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ScanOf {
    pub op: ReduceOp,
    pub src: ExprRef,
    pub init: Option<ExprRef>,
}

/// One index check of a kernel: the op it speaks for, the length of the axis, and whether
/// the index is u32 (the status buffer then holds its bits as u32).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IndexCheck {
    pub op: IndexOp,
    pub len: usize,
    pub unsigned: bool,
}

/// One expression: an op and its dtype (part of the hash-consing key, so casts of one value
/// to two dtypes stay two expressions).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Expr {
    pub op: AstNode,
    pub dtype: DType,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BufArg {
    pub dtype: DType,
    pub numel: usize,
    pub output: bool,
}

/// `if valid { buf[index] = value }`, over the output axes; or, for a scatter, a fold of
/// `value` into `buf[index + stride * pos]`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Store {
    pub buf: usize,
    pub index: Lin,
    pub valid: Valid,
    pub value: ExprRef,
    pub scatter: Option<ScatterAt>,
}

/// Where a scatter's store lands and how it combines: `buf[index + stride * pos]` becomes
/// `op(buf[..], value)`, atomically (lanes may meet at one element), and the buffer starts
/// at `op`'s identity (zero bits: a sum, or the max of u32).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ScatterAt {
    pub op: ReduceOp,
    /// An i32 `CheckIndex`: within the axis.
    pub pos: ExprRef,
    pub stride: usize,
}

impl Store {
    /// The expressions the store reads: its value, and a scatter's position.
    pub fn operands(&self) -> Vec<ExprRef> {
        std::iter::once(self.value)
            .chain(self.scatter.as_ref().map(|s| s.pos))
            .collect()
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct KernelAst {
    pub full_shape: Vec<usize>,
    pub bufs: Vec<BufArg>,
    pub exprs: UniqueArena<Expr>,
    pub stores: Vec<Store>,
    /// The index checks (`AstNode::CheckIndex`). A kernel with any has one more buffer, last:
    /// its status (two i32 words, zeroed before the launch: 1 + the failed check's number,
    /// and the index; see [`KernelAst::status_buf`]).
    pub checks: Vec<IndexCheck>,
    /// The output axis a scan walks in order, in one lane (a loop around the stores that no
    /// opt may split).
    pub scan_axis: Option<usize>,
}

impl KernelAst {
    /// The loads of input buffer `buf` (at least one), or why there are none: the buffer is
    /// out of range, an output, or not loaded. For the opts on a buffer (STAGE, SHARE).
    pub fn input_loads(&self, buf: usize) -> Result<Vec<ExprRef>, String> {
        let arg = self.bufs.get(buf).ok_or_else(|| {
            format!(
                "buffer {buf} is out of range: the kernel has {} buffers",
                self.bufs.len()
            )
        })?;
        if arg.output {
            return Err(format!("buffer {buf} is an output"));
        }
        let loads: Vec<ExprRef> = self
            .exprs
            .iter()
            .filter(|(_, e)| matches!(&e.op, AstNode::Load { buf: b, .. } if *b == buf))
            .map(|(h, _)| h)
            .collect();
        if loads.is_empty() {
            return Err(format!("buffer {buf} is not loaded"));
        }
        Ok(loads)
    }

    pub fn new(full_shape: Vec<usize>) -> KernelAst {
        KernelAst {
            full_shape,
            bufs: vec![],
            exprs: UniqueArena::new(),
            stores: vec![],
            checks: vec![],
            scan_axis: None,
        }
    }

    /// The status buffer of a kernel with index checks (the last buffer).
    pub fn status_buf(&self) -> Option<usize> {
        (!self.checks.is_empty()).then(|| self.bufs.len() - 1)
    }

    /// Inclusive ranges of the axis variables, for the simplifier.
    pub fn var_ranges(&self) -> Vec<(i64, i64)> {
        self.full_shape.iter().map(|&d| (0, d as i64 - 1)).collect()
    }

    /// Sorted axes reduced by some `Reduce`.
    pub fn reduce_axes(&self) -> Vec<usize> {
        let mut axes: Vec<usize> = self
            .exprs
            .iter()
            .filter_map(|(_, e)| match &e.op {
                AstNode::Reduce { axes, .. } => Some(axes.clone()),
                _ => None,
            })
            .flatten()
            .collect();
        axes.sort_unstable();
        axes.dedup();
        axes
    }

    pub fn output_axes(&self) -> Vec<usize> {
        let red = self.reduce_axes();
        (0..self.full_shape.len())
            .filter(|a| !red.contains(a))
            .collect()
    }

    pub fn output_numel(&self) -> usize {
        self.output_axes()
            .iter()
            .map(|&a| self.full_shape[a])
            .product()
    }

    /// The dtype of each parameter, in index order.
    pub fn param_dtypes(&self) -> Vec<DType> {
        let mut out: Vec<Option<DType>> = vec![];
        for (_, e) in self.exprs.iter() {
            if let AstNode::Param(i) = e.op {
                if out.len() <= i {
                    out.resize(i + 1, None);
                }
                out[i] = Some(e.dtype);
            }
        }
        out.into_iter()
            .map(|d| d.expect("parameters are numbered densely"))
            .collect()
    }

    pub fn has_reduce(&self) -> bool {
        self.exprs
            .iter()
            .any(|(_, e)| matches!(e.op, AstNode::Reduce { .. }))
    }

    /// The row-major index of the current element among the given axes.
    pub fn row_major_index(&self, axes: &[usize]) -> Lin {
        let mut stride = 1i64;
        let mut flat = Lin::constant(0);
        for &a in axes.iter().rev() {
            flat = flat.add(&Lin::var(a as u32).scale(stride));
            stride *= self.full_shape[a] as i64;
        }
        flat
    }

    /// Adds an expression (or returns the identical existing one).
    pub fn push(&mut self, op: AstNode, dtype: DType) -> ExprRef {
        self.exprs.insert(Expr { op, dtype })
    }

    pub fn constant(&mut self, s: Scalar) -> ExprRef {
        self.push(AstNode::Const(s.to_bits()), s.dtype())
    }

    /// For every expression, the reduces it (transitively) reads, as a sorted list of handles.
    /// One pass in arena order: linear in the number of expressions.
    pub fn reduce_deps(&self) -> Vec<Vec<ExprRef>> {
        let mut deps: Vec<Vec<ExprRef>> = Vec::with_capacity(self.exprs.len());
        for (h, e) in self.exprs.iter() {
            let mut d: Vec<ExprRef> =
                e.op.operands()
                    .into_iter()
                    .flat_map(|o| deps[o.index()].iter().copied())
                    .collect();
            if matches!(e.op, AstNode::Reduce { .. }) {
                d.push(h);
            }
            d.sort_unstable();
            d.dedup();
            deps.push(d);
        }
        deps
    }

    /// The reduce nests (the axes of each set of reduces over the same axes), in arena order.
    pub fn nests(&self) -> Vec<Vec<usize>> {
        let mut out: Vec<Vec<usize>> = vec![];
        for (_, e) in self.exprs.iter() {
            if let AstNode::Reduce { axes, .. } = &e.op {
                if !out.contains(axes) {
                    out.push(axes.clone());
                }
            }
        }
        out
    }

    /// For every expression, the domain axes its value varies over (sorted): the axes its
    /// loads and gates index, through its operands, less the axes of any reduce on the way
    /// (a reduce's value is one per point of the axes it does not reduce). One pass in arena
    /// order.
    pub fn expr_axes(&self) -> Vec<Vec<u32>> {
        let mut out: Vec<Vec<u32>> = Vec::with_capacity(self.exprs.len());
        for (_, e) in self.exprs.iter() {
            let mut v: Vec<u32> =
                e.op.operands()
                    .iter()
                    .flat_map(|o| out[o.index()].iter().copied())
                    .collect();
            v.extend(e.op.index_vars());
            if let (AstNode::Scan(_), Some(axis)) = (&e.op, self.scan_axis) {
                v.push(axis as u32);
            }
            if let AstNode::Reduce { axes, .. } = &e.op {
                v.retain(|a| !axes.contains(&(*a as usize)));
            }
            v.sort_unstable();
            v.dedup();
            out.push(v);
        }
        out
    }

    /// How many values each reduction folds (the product of the axes it reduces), in arena
    /// order.
    pub fn reduce_lengths(&self) -> impl Iterator<Item = usize> + '_ {
        self.exprs.iter().filter_map(|(_, e)| match &e.op {
            AstNode::Reduce { axes, .. } => {
                Some(axes.iter().map(|&a| self.full_shape[a]).product())
            }
            _ => None,
        })
    }

    /// Output axes (longer than 1) that no reduce's value varies over: the *columns* of a
    /// kernel whose reductions are per row, as softmax's tail over its row. The lanes of one
    /// workgroup can share such axes (GROUPOUT) and compute each row's reductions once.
    pub fn column_axes(&self) -> Vec<usize> {
        let axes = self.expr_axes();
        let mut read = vec![false; self.full_shape.len()];
        let mut any_reduce = false;
        for (h, e) in self.exprs.iter() {
            if matches!(e.op, AstNode::Reduce { .. }) {
                any_reduce = true;
                for &a in &axes[h.index()] {
                    read[a as usize] = true;
                }
            }
        }
        if !any_reduce {
            return vec![];
        }
        self.output_axes()
            .into_iter()
            .filter(|&a| !read[a] && self.full_shape[a] > 1)
            .collect()
    }

    /// Estimated ALU ops of the whole kernel (for GFLOPS in DEBUG and traces): each ALU
    /// expression counts once per point of the axes it varies over and of the axes where it
    /// is computed (see below). Two passes over the arena.
    pub fn flop_estimate(&self) -> u64 {
        // Axes each expression varies over (a bit set; axes past 63 saturate to "all"), before
        // (`span`) and after (`axes`) a reduce removes its own.
        let n = self.exprs.len();
        let mut span: Vec<u64> = Vec::with_capacity(n);
        let mut axes: Vec<u64> = Vec::with_capacity(n);
        let out_mask: u64 = self
            .output_axes()
            .iter()
            .filter(|&&a| a < 64)
            .fold(0, |m, &a| m | 1 << a);
        let size_of = |mask: u64| -> u64 {
            (0..self.full_shape.len().min(64))
                .filter(|a| mask & (1 << a) != 0)
                .map(|a| self.full_shape[a] as u64)
                .product()
        };
        for (_, e) in self.exprs.iter() {
            let mut m =
                e.op.operands()
                    .iter()
                    .fold(0u64, |m, o| m | axes[o.index()]);
            for v in e.op.index_vars() {
                m |= 1u64.checked_shl(v).unwrap_or(0);
            }
            span.push(m);
            if let AstNode::Reduce { axes: red, .. } = &e.op {
                for &a in red.iter().filter(|&&a| a < 64) {
                    m &= !(1 << a);
                }
            }
            axes.push(m);
        }
        // Where each expression is computed, as the sets of axes it runs over: the stores'
        // values at every output point; a reduce's source once per point of that source's own
        // axes (a broadcast nest runs once per row, not once per output); operands wherever
        // their users run. An expression used in two places (a row's max, read by the sum's
        // nest and by the tail) is computed in both, not over their union.
        let mut context: Vec<Vec<u64>> = vec![vec![]; n];
        for st in &self.stores {
            for o in st.operands() {
                if !context[o.index()].contains(&out_mask) {
                    context[o.index()].push(out_mask);
                }
            }
        }
        for (h, e) in self.exprs.iter().collect::<Vec<_>>().into_iter().rev() {
            let ctx = match &e.op {
                AstNode::Reduce { .. } => vec![span[h.index()]],
                _ => context[h.index()].clone(),
            };
            for o in e.op.operands() {
                for &c in &ctx {
                    if !context[o.index()].contains(&c) {
                        context[o.index()].push(c);
                    }
                }
            }
        }
        let mut flops = 0u64;
        for (h, e) in self.exprs.iter() {
            let counted = matches!(
                e.op,
                AstNode::Unary(..)
                    | AstNode::Binary(..)
                    | AstNode::Where(..)
                    | AstNode::Reduce { .. }
            );
            if !counted {
                continue;
            }
            // A reduce folds once per point of its source; the rest run where they are used.
            let work = match e.op {
                AstNode::Reduce { .. } => size_of(span[h.index()]),
                _ => context[h.index()]
                    .iter()
                    .map(|&c| size_of(span[h.index()] | c))
                    .fold(0u64, u64::saturating_add)
                    .max(size_of(span[h.index()])),
            };
            flops = flops.saturating_add(work);
        }
        flops
    }
}

impl AstNode {
    /// The expressions this one reads.
    pub fn operands(&self) -> Vec<ExprRef> {
        match self {
            AstNode::Load { .. } | AstNode::Const(_) | AstNode::Param(_) | AstNode::Index(_) => {
                vec![]
            }
            AstNode::Unary(_, a) | AstNode::Cast(a) | AstNode::Bitcast(a) | AstNode::Gate(_, a) => {
                vec![*a]
            }
            AstNode::CheckIndex { src, .. } => vec![*src],
            AstNode::Gather { pos, .. } => vec![*pos],
            AstNode::Scan(s) => std::iter::once(s.src).chain(s.init).collect(),
            AstNode::Reduce { src, .. } => vec![*src],
            AstNode::Binary(_, a, b) => vec![*a, *b],
            AstNode::Where(c, a, b) => vec![*c, *a, *b],
        }
    }

    /// The domain variables this node's own indices and masks read (not its operands').
    pub fn index_vars(&self) -> Vec<u32> {
        match self {
            AstNode::Load { index, valid, .. }
            | AstNode::Gather {
                base: index, valid, ..
            } => index.vars().into_iter().chain(valid.vars()).collect(),
            AstNode::Index(index) => index.vars(),
            AstNode::Gate(valid, _) | AstNode::CheckIndex { valid, .. } => valid.vars(),
            _ => vec![],
        }
    }
}

fn fmt_valid(v: &Valid) -> String {
    if v.is_never() {
        return "false".into();
    }
    v.constraints()
        .iter()
        .map(|(l, lo, hi)| format!("{lo} <= {l} <= {hi}"))
        .collect::<Vec<_>>()
        .join(" && ")
}

/// `body`, with its mask unless it always holds.
fn masked(body: String, valid: &Valid) -> String {
    match valid.is_always() {
        true => body,
        false => format!("{body} if {}", fmt_valid(valid)),
    }
}

/// A readable listing: the domain, one line per expression, one per store. Axis variable `i`
/// prints as `v{i}`.
impl fmt::Display for KernelAst {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let red = self.reduce_axes();
        let axes: Vec<String> = self
            .full_shape
            .iter()
            .enumerate()
            .map(|(i, d)| format!("v{i}:{d}{}", if red.contains(&i) { "r" } else { "" }))
            .collect();
        writeln!(f, "domain [{}]", axes.join(", "))?;
        for (i, b) in self.bufs.iter().enumerate() {
            let dir = if b.output { "out" } else { "in" };
            writeln!(f, "  data{i}: {} x {} {dir}", b.numel, b.dtype.name())?;
        }
        for (h, e) in self.exprs.iter() {
            let body = match &e.op {
                AstNode::Load { buf, index, valid } if valid.is_always() => {
                    format!("load data{buf}[{index}]")
                }
                AstNode::Load { buf, index, valid } => {
                    format!("load data{buf}[{index}] if {}", fmt_valid(valid))
                }
                AstNode::Const(bits) => format!("const {}", Scalar::from_bits(*bits, e.dtype)),
                AstNode::Param(i) => format!("param {i}"),
                AstNode::Index(index) => format!("index {index}"),
                AstNode::Unary(op, a) => format!("{} {a}", op.name()),
                AstNode::Binary(op, a, b) => format!("{} {a} {b}", op.name()),
                AstNode::Where(c, a, b) => format!("where {c} {a} {b}"),
                AstNode::Cast(a) => format!("cast {a}"),
                AstNode::Bitcast(a) => format!("bitcast {a}"),
                AstNode::Gate(v, a) => format!("gate {a} if {}", fmt_valid(v)),
                AstNode::Reduce { op, src, axes } => {
                    let ax: Vec<String> = axes.iter().map(|a| format!("v{a}")).collect();
                    format!("reduce_{op:?} {src} over [{}]", ax.join(", ")).to_lowercase()
                }
                AstNode::CheckIndex { src, check, valid } => {
                    let c = self.checks[*check];
                    let body = format!("check {src} < {} ({})", c.len, c.op.name());
                    masked(body, valid)
                }
                AstNode::Scan(ScanOf { op, src, init }) => {
                    let axis = self.scan_axis.expect("a scan kernel has a scan axis");
                    let from = init.map(|i| format!(" from {i}")).unwrap_or_default();
                    format!("cum{} {src} along v{axis}{from}", op.name())
                }
                AstNode::Gather {
                    buf,
                    base,
                    stride,
                    pos,
                    valid,
                } => masked(format!("gather data{buf}[{base} + {stride}*{pos}]"), valid),
            };
            writeln!(f, "  {h:>4} {:<4} {body}", e.dtype.name())?;
        }
        for s in &self.stores {
            let (at, op) = match &s.scatter {
                None => (format!("{}", s.index), "=".to_string()),
                Some(sc) => (
                    format!("{} + {}*{}", s.index, sc.stride, sc.pos),
                    format!("{}=", sc.op.name()),
                ),
            };
            let store = format!("store data{}[{at}] {op} {}", s.buf, s.value);
            writeln!(f, "  {}", masked(store, &s.valid))?;
        }
        Ok(())
    }
}
