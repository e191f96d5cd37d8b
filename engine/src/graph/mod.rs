//! The lazy graph: immutable, hash-consed nodes of primitive ops.
//!
//! Building the same expression twice yields the same node (a global intern table keyed by op,
//! sources, dtype, shape and device), so shared subexpressions are computed once. The table holds
//! only weak references: once no tensor refers to a node, the node, its sources and its buffer
//! are freed. dtype and shape are computed when a node is built; the tensor layer checks the
//! operands first and panics with a message that names the op and the shapes.
//!
//! A node is either lazy (it has sources) or realized (it has a device buffer). Realizing a node
//! drops its sources, so a long chain of realized steps does not keep its history alive.

pub mod oracle;

use crate::hash::FxHashMap as HashMap;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use crate::dtype::{DType, Scalar};
use crate::ops::{BinaryOp, IndexOp, ReduceOp, UnaryOp};
use crate::runtime::{Buffer, Device};
use crate::view::Movement;

/// A primitive op of the lazy graph.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    /// Data that came from the host (`from_slice`); realized from birth. The id makes every
    /// upload a distinct node.
    Source(u64),
    /// One value broadcast over the node's shape (dtype, bits).
    Const(DType, u32),
    /// `0, 1, .., n - 1` (i32) over the node's 1-D shape `[n]`: computed from the index
    /// inside the kernel that reads it, so `arange` uploads nothing.
    Iota,
    Unary(UnaryOp),
    Binary(BinaryOp),
    /// `cond ? a : b`, sources (cond, a, b).
    Where,
    Cast(DType),
    /// The same 32 bits read as another 32-bit dtype (f32, i32, u32).
    Bitcast(DType),
    /// Reduce over the given (sorted) axes, keeping them as size 1.
    Reduce(ReduceOp, Vec<usize>),
    Movement(Movement),
    /// Forces its source to be materialized in a contiguous buffer.
    Contiguous,
    /// Its source's value, through which no gradient flows (`Tensor::detach`).
    Detach,
    /// An index (i32 or u32) checked against an axis of `len`: the position it names
    /// (i32; negative indices wrap where `op` does), or 0 with the kernel's error flag set
    /// when it is out of range (a read of anything computed from it is then an `Err`).
    CheckIndex {
        len: usize,
        op: IndexOp,
    },
    /// `x` read along `axis` at a computed position: sources (x, positions), the positions
    /// an i32 `CheckIndex` of the node's shape; `x` has that shape but along `axis`, and is
    /// always read from a buffer (the scheduler materializes it).
    Gather(usize),
    /// The inclusive scan (running sum, product, max or min) along the axis. Sources `(x)`,
    /// or `(x, init)` with `init` of `x`'s shape but 1 along the axis: the value the running
    /// fold starts from (a chunk's offset). Always the root of its own kernel.
    Scan(ReduceOp, usize),
    /// Values combined into positions along `axis`: sources (positions, values), both of
    /// the index's shape, the positions an i32 `CheckIndex`. The node (of the target's
    /// shape) starts at `op`'s identity, and each value, in row-major order of the index,
    /// folds into the element at its position along `axis` and its own index on the other
    /// axes (which are within the target's). Sum of i32, u32, f32 or max of u32: what
    /// device atomics do. Always the root of its own kernel, whose lanes walk the index.
    Scatter(ReduceOp, usize),
}

impl Op {
    /// A short readable form: `add`, `const 0.5`, `sum [1]`, `expand([8, 40])`.
    pub fn describe(&self) -> String {
        match self {
            Op::Source(_) => "source".into(),
            Op::Iota => "iota".into(),
            Op::Const(..) => match self.const_value() {
                Some(v) => format!("const {v}"),
                None => "const".into(),
            },
            Op::Unary(u) => u.name().into(),
            Op::Binary(b) => b.name().into(),
            Op::Where => "where".into(),
            Op::Cast(d) => format!("cast {}", d.name()),
            Op::Bitcast(d) => format!("bitcast {}", d.name()),
            Op::Reduce(r, axes) => format!("{} {axes:?}", r.name()),
            Op::Movement(m) => format!("{m:?}").to_lowercase(),
            Op::Contiguous => "contiguous".into(),
            Op::Detach => "detach".into(),
            Op::CheckIndex { len, op } => format!("check_index {} < {len}", op.name()),
            Op::Gather(axis) => format!("gather [{axis}]"),
            Op::Scan(op, axis) => format!("cum{} [{axis}]", op.name()),
            Op::Scatter(op, axis) => format!("scatter_{} [{axis}]", op.name()),
        }
    }
    pub fn is_elementwise(&self) -> bool {
        matches!(
            self,
            Op::Unary(_) | Op::Binary(_) | Op::Where | Op::Cast(_) | Op::Bitcast(_)
        )
    }
    pub fn const_value(&self) -> Option<Scalar> {
        match self {
            Op::Const(d, bits) => Some(Scalar::from_bits(*bits, *d)),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct NodeKey {
    op: Op,
    srcs: Vec<u64>,
    dtype: DType,
    shape: Vec<usize>,
    device: u64,
}

struct NodeState {
    srcs: Vec<NodeRef>,
    buffer: Option<Arc<Buffer>>,
}

/// One node of the lazy graph. Shared through [`NodeRef`].
pub struct Node {
    pub id: u64,
    pub op: Op,
    pub dtype: DType,
    pub shape: Vec<usize>,
    pub device: Device,
    /// A constant or a movement view of one: it holds no data, so realizing it keeps its
    /// sources, and threads share such nodes without claiming them (see `realize.rs`).
    pub constant_view: bool,
    key: NodeKey,
    /// `key`'s hash: the node's bucket in the intern table.
    key_hash: u64,
    state: Mutex<NodeState>,
}

pub type NodeRef = Arc<Node>;

/// The hash-consing table: live nodes by the hash of their key. A bucket holds every live
/// node of that hash (nearly always one), so a node leaving the table removes the dead
/// entries of its bucket and never compares keys: comparing keys (their `Vec`s) twice on
/// every drop was a third of the time of building and dropping graphs.
type InternTable = HashMap<u64, Vec<Weak<Node>>>;

fn intern_table() -> &'static Mutex<InternTable> {
    static TABLE: OnceLock<Mutex<InternTable>> = OnceLock::new();
    TABLE.get_or_init(Default::default)
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// Returns the node for `op(srcs)`, building it only if an identical live node does not exist.
pub fn intern(
    op: Op,
    srcs: Vec<NodeRef>,
    dtype: DType,
    shape: Vec<usize>,
    device: &Device,
) -> NodeRef {
    let key = NodeKey {
        op: op.clone(),
        srcs: srcs.iter().map(|s| s.id).collect(),
        dtype,
        shape: shape.clone(),
        device: device.id(),
    };
    let key_hash = crate::hash::FxBuildHasher::default().hash_one(&key);
    let mut table = intern_table().lock().unwrap();
    let existing = table.get(&key_hash).and_then(|bucket| {
        bucket
            .iter()
            .filter_map(Weak::upgrade)
            .find(|n| n.key == key)
    });
    if let Some(existing) = existing {
        drop(table);
        return existing; // `srcs` drops here, outside the lock
    }
    let constant_view = match op {
        Op::Const(..) => true,
        Op::Movement(_) => srcs[0].constant_view,
        _ => false,
    };
    let node = Arc::new(Node {
        id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
        constant_view,
        op,
        dtype,
        shape,
        device: device.clone(),
        key,
        key_hash,
        state: Mutex::new(NodeState { srcs, buffer: None }),
    });
    table
        .entry(key_hash)
        .or_default()
        .push(Arc::downgrade(&node));
    node
}

/// A realized leaf holding `buffer` (host data uploaded by `from_slice`, or `to(device)`).
pub fn source(buffer: Buffer, dtype: DType, shape: Vec<usize>) -> NodeRef {
    let device = buffer.device().clone();
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let node = intern(Op::Source(id), vec![], dtype, shape, &device);
    node.state.lock().unwrap().buffer = Some(Arc::new(buffer));
    node
}

impl Node {
    pub fn srcs(&self) -> Vec<NodeRef> {
        self.state.lock().unwrap().srcs.clone()
    }
    pub fn src(&self, i: usize) -> NodeRef {
        self.state.lock().unwrap().srcs[i].clone()
    }
    pub fn buffer(&self) -> Option<Arc<Buffer>> {
        self.state.lock().unwrap().buffer.clone()
    }
    pub fn is_realized(&self) -> bool {
        self.state.lock().unwrap().buffer.is_some()
    }
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }
    /// Attaches the computed buffer and drops the sources (the value no longer needs them).
    /// A constant view keeps its sources: they hold no memory, and a thread scheduling a
    /// graph that reads the view without claiming it may still be walking them.
    pub fn set_realized(&self, buffer: Arc<Buffer>) {
        let old_srcs = {
            let mut st = self.state.lock().unwrap();
            st.buffer = Some(buffer);
            if self.constant_view {
                vec![]
            } else {
                std::mem::take(&mut st.srcs)
            }
        };
        drop(old_srcs); // may free upstream nodes; done outside our lock
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        {
            let mut table = intern_table().lock().unwrap();
            if let Some(bucket) = table.get_mut(&self.key_hash) {
                // This node's entry is dead by now (as is any other being dropped meanwhile;
                // its own drop then finds nothing to remove). Not found by address: the
                // iterative drop below moves nodes out of their `Arc` before dropping them.
                bucket.retain(|w| w.strong_count() > 0);
                if bucket.is_empty() {
                    table.remove(&self.key_hash);
                }
            }
        }
        // Free the sources iteratively: letting each `Arc` drop its own sources would recurse
        // once per node of a chain and overflow the stack (a chain of 100,000 ops aborted).
        // A source whose last reference this is gives its sources to the stack first, so its
        // own `drop` finds none.
        let mut stack = std::mem::take(&mut self.state.get_mut().unwrap().srcs);
        while let Some(n) = stack.pop() {
            if let Some(mut last) = Arc::into_inner(n) {
                stack.append(&mut last.state.get_mut().unwrap().srcs);
            }
        }
    }
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Node#{}({:?}, {:?}, {})",
            self.id, self.op, self.shape, self.dtype
        )
    }
}

/// Number of live graph nodes (for leak tests and DEBUG).
pub fn live_nodes() -> usize {
    intern_table().lock().unwrap().values().map(Vec::len).sum()
}

/// The nodes one kernel computes: everything reachable from its `outputs` without passing
/// through a node in `inputs` (the buffers it reads) or a realized node, sources first. What
/// `DEBUG=5` and traces show as the ops fused into a kernel.
pub fn fused_nodes(outputs: &[NodeRef], inputs: &[NodeRef]) -> Vec<NodeRef> {
    let mut seen: crate::hash::FxHashSet<u64> = inputs.iter().map(|n| n.id).collect();
    let mut order = vec![];
    let mut stack: Vec<(NodeRef, bool)> = outputs.iter().map(|r| (r.clone(), false)).collect();
    while let Some((n, expanded)) = stack.pop() {
        if expanded {
            order.push(n);
            continue;
        }
        if n.is_realized() || !seen.insert(n.id) {
            continue;
        }
        stack.push((n.clone(), true));
        stack.extend(n.srcs().into_iter().rev().map(|s| (s, false)));
    }
    order
}

/// All nodes reachable from `roots` without passing through a realized node, sources first.
pub fn toposort(roots: &[NodeRef]) -> Vec<NodeRef> {
    let mut seen = crate::hash::FxHashSet::default();
    let mut order = vec![];
    let mut stack: Vec<(NodeRef, bool)> = roots.iter().rev().map(|r| (r.clone(), false)).collect();
    while let Some((n, expanded)) = stack.pop() {
        if expanded {
            order.push(n);
            continue;
        }
        if !seen.insert(n.id) {
            continue;
        }
        stack.push((n.clone(), true));
        if !n.is_realized() {
            for s in n.srcs().into_iter().rev() {
                if !seen.contains(&s.id) {
                    stack.push((s, false));
                }
            }
        }
    }
    order
}
