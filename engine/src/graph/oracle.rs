//! The graph oracle: a deliberately naive host evaluator of the lazy graph, one simple loop per
//! primitive, sharing nothing with the scheduler, the views or the code generator. Tests compare
//! it with the CPU interpreter and with wgpu.

use crate::hash::FxHashMap as HashMap;

use crate::dtype::{unpack_words, DType, Scalar};
use crate::error::{Error, Result};
use crate::ops::{eval_binary, eval_unary, IndexOp, ReduceOp};
use crate::view::Movement;

use super::{toposort, NodeRef, Op};

/// A host array: row-major values with their shape and dtype.
#[derive(Clone, Debug, PartialEq)]
pub struct HostArray {
    /// The shape.
    pub shape: Vec<usize>,
    /// The element type.
    pub dtype: DType,
    /// The values, row-major.
    pub data: Vec<Scalar>,
}

impl HostArray {
    /// The values as `f64`s.
    pub fn to_f64(&self) -> Vec<f64> {
        self.data.iter().map(|s| s.to_f64()).collect()
    }
}

fn multi_index(mut flat: usize, shape: &[usize]) -> Vec<usize> {
    let mut idx = vec![0; shape.len()];
    for (i, &d) in shape.iter().enumerate().rev() {
        idx[i] = flat % d.max(1);
        flat /= d.max(1);
    }
    idx
}

fn flat_index(idx: &[usize], shape: &[usize]) -> usize {
    idx.iter().zip(shape).fold(0, |acc, (&i, &d)| acc * d + i)
}

/// Evaluates `node` on the host. Realized nodes are read from their buffers.
pub fn evaluate(node: &NodeRef) -> Result<HostArray> {
    // Sources first, so every node's arguments are ready when it is reached: no recursion,
    // whatever the depth of the graph.
    let mut memo: HashMap<u64, HostArray> = HashMap::default();
    for n in toposort(std::slice::from_ref(node)) {
        let value = eval(&n, &memo)?;
        memo.insert(n.id, value);
    }
    Ok(memo.remove(&node.id).expect("the root is evaluated last"))
}

/// The value of `n`, whose sources are all in `memo` (or which is realized).
fn eval(n: &NodeRef, memo: &HashMap<u64, HostArray>) -> Result<HostArray> {
    let numel = n.numel();
    let out = |data: Vec<Scalar>| HostArray {
        shape: n.shape.clone(),
        dtype: n.dtype,
        data,
    };
    let result = if let Some(buf) = n.buffer() {
        out(unpack_words(&buf.read_words()?, n.dtype, numel))
    } else {
        let srcs = n.srcs();
        let args: Vec<&HostArray> = srcs.iter().map(|s| &memo[&s.id]).collect();
        match &n.op {
            Op::Source(_) => unreachable!("sources are realized"),
            Op::Const(..) => out(vec![n.op.const_value().expect("const"); numel]),
            Op::Iota => out((0..numel).map(|i| Scalar::I32(i as i32)).collect()),
            Op::Unary(op) => out(args[0].data.iter().map(|&x| eval_unary(*op, x)).collect()),
            Op::Binary(op) => out(args[0]
                .data
                .iter()
                .zip(&args[1].data)
                .map(|(&a, &b)| eval_binary(*op, a, b))
                .collect()),
            Op::Where => out((0..numel)
                .map(|i| {
                    if args[0].data[i] == Scalar::Bool(true) {
                        args[1].data[i]
                    } else {
                        args[2].data[i]
                    }
                })
                .collect()),
            Op::Cast(d) => out(args[0].data.iter().map(|x| x.cast(*d)).collect()),
            Op::Bitcast(d) => out(args[0]
                .data
                .iter()
                .map(|x| Scalar::from_bits(x.to_bits(), *d))
                .collect()),
            Op::Contiguous | Op::Detach => out(args[0].data.clone()),
            Op::CheckIndex { len, op } => out(check_indices(&args[0].data, *len, *op)?),
            Op::Gather(axis) => out(gather(args[0], &args[1].data, &n.shape, *axis)),
            Op::Scan(op, axis) => out(scan(*op, *axis, args[0], args.get(1).copied())),
            Op::Scatter(op, axis) => out(scatter(*op, *axis, args[0], &args[1].data, n)),
            Op::Reduce(op, axes) => {
                let mut acc = vec![op.identity(n.dtype); numel];
                let src_shape = &srcs[0].shape;
                for (i, &x) in args[0].data.iter().enumerate() {
                    let mut idx = multi_index(i, src_shape);
                    for &a in axes {
                        idx[a] = 0;
                    }
                    let o = flat_index(&idx, &n.shape);
                    acc[o] = op.combine(acc[o], x);
                }
                out(acc)
            }
            Op::Movement(mv) => {
                let src_shape = &srcs[0].shape;
                let zero = Scalar::from_f64(0.0, n.dtype);
                let data = (0..numel)
                    .map(|o| {
                        let idx = multi_index(o, &n.shape);
                        let src_idx: Option<Vec<usize>> = match mv {
                            Movement::Reshape(_) => return args[0].data[o],
                            Movement::Permute(p) => {
                                let mut s = vec![0; p.len()];
                                for (i, &pi) in p.iter().enumerate() {
                                    s[pi] = idx[i];
                                }
                                Some(s)
                            }
                            Movement::Expand(_) => Some(
                                idx.iter()
                                    .zip(src_shape)
                                    .map(|(&i, &d)| if d == 1 { 0 } else { i })
                                    .collect(),
                            ),
                            Movement::Pad(p) => idx
                                .iter()
                                .zip(p)
                                .zip(src_shape)
                                .map(|((&i, &(b, _)), &d)| (i >= b && i < b + d).then(|| i - b))
                                .collect(),
                            Movement::Shrink(s) => {
                                Some(idx.iter().zip(s).map(|(&i, &(b, _))| i + b).collect())
                            }
                            Movement::Flip(f) => Some(
                                idx.iter()
                                    .zip(f)
                                    .zip(src_shape)
                                    .map(|((&i, &f), &d)| if f { d - 1 - i } else { i })
                                    .collect(),
                            ),
                        };
                        match src_idx {
                            Some(s) => args[0].data[flat_index(&s, src_shape)],
                            None => zero,
                        }
                    })
                    .collect();
                out(data)
            }
        }
    };
    Ok(result)
}

/// Each index's position on an axis of `len`, or the error a kernel would report.
fn check_indices(indices: &[Scalar], len: usize, op: IndexOp) -> Result<Vec<Scalar>> {
    indices
        .iter()
        .map(|x| {
            let i = match *x {
                Scalar::I32(i) => i as i64,
                Scalar::U32(u) => u as i64,
                other => unreachable!("check_index of {}", other.dtype()),
            };
            op.check(i, len)
                .map(|w| Scalar::I32(w as i32))
                .ok_or(Error::IndexOutOfRange {
                    op: op.name(),
                    index: i,
                    len,
                })
        })
        .collect()
}

/// `x` read along `axis` at `positions` (checked, of the result's `shape`).
fn gather(x: &HostArray, positions: &[Scalar], shape: &[usize], axis: usize) -> Vec<Scalar> {
    (0..positions.len())
        .map(|o| {
            let mut idx = multi_index(o, shape);
            idx[axis] = match positions[o] {
                Scalar::I32(i) => i as usize,
                other => unreachable!("gather at {}", other.dtype()),
            };
            x.data[flat_index(&idx, &x.shape)]
        })
        .collect()
}

/// The inclusive scan of `x` along `axis`, each row starting from `init`'s value (or the
/// identity).
fn scan(op: ReduceOp, axis: usize, x: &HostArray, init: Option<&HostArray>) -> Vec<Scalar> {
    let mut data = x.data.clone();
    let len = x.shape[axis];
    let inner: usize = x.shape[axis + 1..].iter().product();
    let rows = x.data.len() / (len * inner).max(1);
    for r in 0..rows {
        for i in 0..inner {
            let start = match init {
                Some(init) => init.data[r * inner + i],
                None => op.identity(x.dtype),
            };
            let mut acc = start;
            for k in 0..len {
                let at = (r * len + k) * inner + i;
                acc = op.combine(acc, data[at]);
                data[at] = acc;
            }
        }
    }
    data
}

/// `values` folded with `op` into the node's shape at `positions` along `axis` (both of the
/// index's shape), from the identity, in row-major order of the index.
fn scatter(
    op: ReduceOp,
    axis: usize,
    positions: &HostArray,
    values: &[Scalar],
    n: &NodeRef,
) -> Vec<Scalar> {
    let mut data = vec![op.identity(n.dtype); n.numel()];
    for (e, &v) in values.iter().enumerate() {
        let mut idx = multi_index(e, &positions.shape);
        idx[axis] = match positions.data[e] {
            Scalar::I32(i) => i as usize,
            other => unreachable!("scatter at {}", other.dtype()),
        };
        let o = flat_index(&idx, &n.shape);
        data[o] = op.combine(data[o], v);
    }
    data
}
