//! Lowering: one kernel's roots → a [`KernelAst`]. Walking from each output toward the loads,
//! movement ops re-index symbolically (see `view`), realized or materialized nodes become
//! loads, reductions of the kernel's domain reduce its own axes, broadcast nests get fresh
//! axes, and everything else is inlined.

use crate::hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use crate::codegen::ast::{
    AstNode, BufArg, ExprRef, IndexCheck, KernelAst, ScanOf, ScatterAt, Store,
};
use crate::dtype::{DType, Scalar};
use crate::graph::{NodeRef, Op};
use crate::ops::{IndexOp, ReduceOp};
use crate::view::symbolic::{Lin, Valid};
use crate::view::unflatten;

use super::{is_barrier, Domain, ScheduleItem, Walk, Walker};

struct Lowerer<'a> {
    ast: KernelAst,
    lowered: HashMap<(u64, Vec<Lin>, Valid), ExprRef>,
    ranges: Vec<(i64, i64)>,
    root: NodeRef,
    fused: HashSet<u64>,
    broadcast: HashSet<u64>,
    forced: &'a HashSet<u64>,
    input_bufs: Vec<NodeRef>,
    buf_of: HashMap<u64, usize>,
    params: Vec<Scalar>,
    param_nodes: Vec<NodeRef>,
    /// The graph reduction each broadcast nest's `Reduce` expression computes.
    nest_nodes: HashMap<ExprRef, u64>,
}

/// Whether a graph constant becomes a kernel parameter (a value passed at launch) rather than
/// a literal in the program. User constants (`x * 0.5`, `x + c` in a loop over `c`) must not
/// compile a program each; 0, 1, -1 and bools stay literal, where a later simplifier (and a
/// reader) can see them. Parameters are 32-bit words, like every kiln value.
pub(crate) fn is_param(s: Scalar) -> bool {
    match s.widen() {
        Scalar::Bool(_) => false,
        Scalar::F32(v) => !(v == 0.0 && v.is_sign_positive()) && v != 1.0 && v != -1.0,
        Scalar::I32(v) => !(-1..=1).contains(&v),
        Scalar::U32(v) => v > 1,
        s => unreachable!("{} is not a register value", s.dtype()),
    }
}

/// A kernel lowered to its AST, with the nodes whose buffers it reads (in `ast.bufs` order,
/// inputs only) and the nodes it realizes (in `ast.bufs` order, outputs only).
pub(super) struct Lowered {
    pub item: ScheduleItem,
    pub inputs: Vec<NodeRef>,
    pub outputs: Vec<NodeRef>,
}

pub(super) fn lower_kernel(
    domain: Domain,
    roots: &[NodeRef],
    walks: &HashMap<u64, Walk>,
    forced: &HashSet<u64>,
) -> Lowered {
    lower_kernel_with_nests(domain, roots, walks, forced).0
}

/// [`lower_kernel`], also saying which graph reduction each broadcast nest's `Reduce`
/// expression computes (the scheduler materializes single nests by it).
pub(super) fn lower_kernel_with_nests(
    (full_shape, reduce_axes, walker): Domain,
    roots: &[NodeRef],
    walks: &HashMap<u64, Walk>,
    forced: &HashSet<u64>,
) -> (Lowered, HashMap<ExprRef, u64>) {
    let mut ast = KernelAst::new(full_shape.clone());
    if let Walker::Scan(axis) = walker {
        ast.scan_axis = Some(axis);
    }
    let ranges = ast.var_ranges();
    // Outputs are stored row-major over the output axes of the domain.
    let out_axes: Vec<usize> = (0..full_shape.len())
        .filter(|a| !reduce_axes.contains(a))
        .collect();
    let out_index = ast.row_major_index(&out_axes);
    let mut lw = Lowerer {
        ast,
        lowered: HashMap::default(),
        ranges,
        root: roots[0].clone(),
        fused: HashSet::default(),
        broadcast: HashSet::default(),
        forced,
        input_bufs: vec![],
        buf_of: HashMap::default(),
        params: vec![],
        param_nodes: vec![],
        nest_nodes: HashMap::default(),
    };
    let mut outputs = vec![];
    let mut values = vec![];
    for root in roots {
        lw.root = root.clone();
        lw.fused = walks[&root.id].fused.iter().map(|r| r.id).collect();
        lw.broadcast = walks[&root.id].broadcast.iter().map(|r| r.id).collect();
        let idx: Vec<Lin> = if reduce_axes.is_empty() {
            (0..root.shape.len()).map(|a| Lin::var(a as u32)).collect()
        } else {
            unflatten(&out_index, &root.shape, &lw.ranges)
        };
        let store = match &root.op {
            Op::Scatter(op, axis) => lw.lower_scatter(root, *op, *axis, &idx),
            _ => (
                lw.lower(root, &idx, &Valid::always()),
                out_index.clone(),
                None,
            ),
        };
        values.push(store);
        outputs.push(root.clone());
    }
    // Outputs come after inputs in the buffer list.
    for (root, (value, index, scatter)) in outputs.iter().zip(values) {
        lw.ast.bufs.push(BufArg {
            dtype: root.dtype,
            numel: root.numel(),
            output: true,
        });
        let b = lw.ast.bufs.len() - 1;
        lw.ast.stores.push(Store {
            buf: b,
            index,
            valid: Valid::always(),
            value,
            scatter,
        });
    }
    if !lw.ast.checks.is_empty() {
        lw.ast.bufs.push(BufArg {
            dtype: DType::I32,
            numel: 2,
            output: true,
        });
    }
    let lowered = Lowered {
        item: ScheduleItem {
            ast: lw.ast,
            params: lw.params,
            param_nodes: lw.param_nodes,
        },
        inputs: lw.input_bufs,
        outputs,
    };
    (lowered, lw.nest_nodes)
}

impl Lowerer<'_> {
    /// The kernel's buffer argument for `n` (a realized or materialized node).
    fn input_buf(&mut self, n: &NodeRef) -> usize {
        match self.buf_of.get(&n.id) {
            Some(&b) => b,
            None => {
                self.ast.bufs.push(BufArg {
                    dtype: n.dtype,
                    numel: n.numel(),
                    output: false,
                });
                self.input_bufs.push(n.clone());
                let b = self.ast.bufs.len() - 1;
                self.buf_of.insert(n.id, b);
                b
            }
        }
    }

    fn load(&mut self, n: &NodeRef, idx: &[Lin], valid: &Valid) -> ExprRef {
        if valid.is_never() {
            return self.ast.constant(Scalar::from_f64(0.0, n.dtype));
        }
        let buf = self.input_buf(n);
        let index = crate::view::flatten(idx, &n.shape);
        self.ast.push(
            AstNode::Load {
                buf,
                index,
                valid: valid.clone(),
            },
            n.dtype,
        )
    }

    fn lower(&mut self, n: &NodeRef, idx: &[Lin], valid: &Valid) -> ExprRef {
        let key = (n.id, idx.to_vec(), valid.clone());
        if let Some(&r) = self.lowered.get(&key) {
            return r;
        }
        let r = self.lower_uncached(n, idx, valid);
        self.lowered.insert(key, r);
        r
    }

    fn lower_uncached(&mut self, n: &NodeRef, idx: &[Lin], valid: &Valid) -> ExprRef {
        if is_barrier(n, &self.root, self.forced) {
            return self.load(n, idx, valid);
        }
        let d = n.dtype;
        match &n.op {
            Op::Source(_) => self.load(n, idx, valid),
            Op::Iota => self.ast.push(AstNode::Index(idx[0].clone()), DType::I32),
            Op::Const(..) => {
                let s = n.op.const_value().expect("const");
                if !is_param(s) {
                    return self.ast.constant(s);
                }
                let index = match self.params.iter().position(|p| p.key() == s.key()) {
                    Some(i) => i,
                    None => {
                        self.params.push(s);
                        self.param_nodes.push(n.clone());
                        self.params.len() - 1
                    }
                };
                self.ast.push(AstNode::Param(index), s.dtype())
            }
            Op::Unary(op) => {
                let a = self.lower(&n.src(0), idx, valid);
                self.ast.push(AstNode::Unary(*op, a), d)
            }
            Op::Binary(op) => {
                let a = self.lower(&n.src(0), idx, valid);
                let b = self.lower(&n.src(1), idx, valid);
                self.ast.push(AstNode::Binary(*op, a, b), d)
            }
            Op::Where => {
                let c = self.lower(&n.src(0), idx, valid);
                let a = self.lower(&n.src(1), idx, valid);
                let b = self.lower(&n.src(2), idx, valid);
                self.ast.push(AstNode::Where(c, a, b), d)
            }
            Op::Cast(_) => {
                let a = self.lower(&n.src(0), idx, valid);
                self.ast.push(AstNode::Cast(a), d)
            }
            Op::Bitcast(_) => {
                let a = self.lower(&n.src(0), idx, valid);
                self.ast.push(AstNode::Bitcast(a), d)
            }
            Op::Contiguous | Op::Detach => self.lower(&n.src(0), idx, valid),
            Op::CheckIndex { len, op } => self.lower_check(n, *len, *op, idx, valid),
            Op::Gather(axis) => self.lower_gather(n, *axis, idx, valid),
            Op::Scan(op, axis) => self.lower_scan(n, *op, *axis, idx, valid),
            Op::Scatter(..) => {
                unreachable!("scheduler: a scatter not at its kernel's root (kiln bug)")
            }
            Op::Reduce(op, axes) if !self.fused.contains(&n.id) => {
                self.lower_nest(n, *op, axes, idx, valid)
            }
            Op::Reduce(op, axes) => {
                let src = n.src(0);
                let full: Vec<Lin> = (0..src.shape.len()).map(|a| Lin::var(a as u32)).collect();
                let v = self.lower(&src, &full, &Valid::always());
                self.ast.push(
                    AstNode::Reduce {
                        op: *op,
                        src: v,
                        axes: axes.clone(),
                    },
                    d,
                )
            }
            Op::Movement(mv) => {
                let src = n.src(0);
                let mut inner = valid.clone();
                let src_idx = mv.source_index(&src.shape, idx, &mut inner, &self.ranges);
                if inner.is_never() {
                    return self.ast.constant(Scalar::from_f64(0.0, d));
                }
                let v = self.lower(&src, &src_idx, &inner);
                if inner == *valid || matches!(self.ast.exprs[v].op, AstNode::Load { .. }) {
                    return v; // loads are gated by their own mask
                }
                // Padding of a computed value: the pad's own constraints gate it to zero.
                let mut own = Valid::always();
                let mut scratch = Valid::always();
                let _ = mv.source_index(&src.shape, idx, &mut scratch, &self.ranges);
                own.and_all(&scratch, &self.ranges);
                self.ast.push(AstNode::Gate(own, v), d)
            }
        }
    }

    /// A reduction that is not the kernel's own: a broadcast nest with fresh domain axes for
    /// the reduced ones, the output index for the others.
    fn lower_nest(
        &mut self,
        n: &NodeRef,
        op: ReduceOp,
        axes: &[usize],
        idx: &[Lin],
        valid: &Valid,
    ) -> ExprRef {
        let d = n.dtype;
        assert!(
            self.broadcast.contains(&n.id),
            "scheduler: unfused reduce reached lowering (kiln bug)"
        );
        // A nest of its own: fresh domain axes for the reduced ones, the output index
        // for the others (reduced axes are kept as size 1: their index is 0).
        let src = n.src(0);
        let mut fresh = vec![];
        let src_idx: Vec<Lin> = (0..src.shape.len())
            .map(|a| {
                if axes.contains(&a) {
                    let v = self.ast.full_shape.len();
                    self.ast.full_shape.push(src.shape[a]);
                    self.ranges.push((0, src.shape[a] as i64 - 1));
                    fresh.push(v);
                    Lin::var(v as u32)
                } else {
                    idx[a].clone()
                }
            })
            .collect();
        // The output's mask guards the reduction's loads too (a padded row reads
        // nothing).
        let v = self.lower(&src, &src_idx, valid);
        let r = self.ast.push(
            AstNode::Reduce {
                op,
                src: v,
                axes: fresh,
            },
            d,
        );
        self.nest_nodes.insert(r, n.id);
        r
    }

    fn lower_check(
        &mut self,
        n: &NodeRef,
        len: usize,
        op: IndexOp,
        idx: &[Lin],
        valid: &Valid,
    ) -> ExprRef {
        let src = n.src(0);
        let value = self.lower(&src, idx, valid);
        let c = IndexCheck {
            op,
            len,
            unsigned: src.dtype == DType::U32,
        };
        let check = match self.ast.checks.iter().position(|x| *x == c) {
            Some(i) => i,
            None => {
                self.ast.checks.push(c);
                self.ast.checks.len() - 1
            }
        };
        let node = AstNode::CheckIndex {
            src: value,
            check,
            valid: valid.clone(),
        };
        self.ast.push(node, DType::I32)
    }

    /// A read of the gathered buffer at the checked positions (the position along `axis`
    /// is data; the other axes index as the result's).
    fn lower_gather(&mut self, n: &NodeRef, axis: usize, idx: &[Lin], valid: &Valid) -> ExprRef {
        if valid.is_never() {
            return self.ast.constant(Scalar::from_f64(0.0, n.dtype));
        }
        let (x, positions) = (n.src(0), n.src(1));
        let pos = self.lower(&positions, idx, valid);
        let buf = self.input_buf(&x);
        let mut at = idx.to_vec();
        at[axis] = Lin::constant(0);
        let node = AstNode::Gather {
            buf,
            base: crate::view::flatten(&at, &x.shape),
            stride: x.shape[axis + 1..].iter().product(),
            pos,
            valid: valid.clone(),
        };
        self.ast.push(node, n.dtype)
    }

    /// A scatter, at the root of its kernel (whose domain is the index): the value and the
    /// position at each index element, and where along the other axes it lands.
    fn lower_scatter(
        &mut self,
        n: &NodeRef,
        op: ReduceOp,
        axis: usize,
        idx: &[Lin],
    ) -> (ExprRef, Lin, Option<ScatterAt>) {
        let always = Valid::always();
        let pos = self.lower(&n.src(0), idx, &always);
        let value = self.lower(&n.src(1), idx, &always);
        let mut at = idx.to_vec();
        at[axis] = Lin::constant(0);
        let base = crate::view::flatten(&at, &n.shape);
        let stride = n.shape[axis + 1..].iter().product();
        (value, base, Some(ScatterAt { op, pos, stride }))
    }

    /// A scan, at the root of its kernel: its source along the walk, its start (which does
    /// not vary along the axis) at position 0 of it.
    fn lower_scan(
        &mut self,
        n: &NodeRef,
        op: ReduceOp,
        axis: usize,
        idx: &[Lin],
        valid: &Valid,
    ) -> ExprRef {
        assert!(
            n.id == self.root.id && self.ast.scan_axis == Some(axis),
            "scheduler: a scan not at the root of its kernel (kiln bug)"
        );
        let src = self.lower(&n.src(0), idx, valid);
        let init = n.srcs().get(1).map(|init| {
            let mut at = idx.to_vec();
            at[axis] = Lin::constant(0);
            self.lower(init, &at, valid)
        });
        self.ast
            .push(AstNode::Scan(ScanOf { op, src, init }), n.dtype)
    }
}
