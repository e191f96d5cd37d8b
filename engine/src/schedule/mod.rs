//! The scheduler: turns the lazy graph under a set of targets into as few kernels as possible.
//!
//! The passes, each in its own file:
//!
//! 0. **Splitting** (`split.rs`). A reduction of more than `target::MAX_ROW` elements per output
//!    is rewritten into two stages (partials, then their reduction) before anything else.
//! 1. **Materialization** (`settle.rs`). A node gets its own buffer only when it must: it
//!    is a requested target, a `contiguous()`, or a reduction that cannot live inside its
//!    consumer's kernel. A reduction fuses into a consumer kernel when every path from that kernel's output to it
//!    goes only through elementwise ops and reshapes (the consumer's output domain *is* the
//!    reduction's output domain, element for element): matmul + bias + relu is one kernel.
//!    Reached through another movement op (broadcast back, as in softmax) or from inside
//!    another reduction, it becomes a *broadcast nest*: axes of its own in the consumer's
//!    domain, computed before the stores. `nest_cost.rs` keeps that only where the
//!    heuristics' GROUPOUT form computes it once per value (softmax, layernorm: one kernel),
//!    or recomputes small nests per slice of a row too long for one workgroup (a chunked
//!    softmax's tail); otherwise, under NOOPT, or when reached by kernels of different loop
//!    domains, it is materialized (a nest inside another nest's reduction alone, first).
//!    Elementwise producers are never materialized for their own sake: they are recomputed
//!    inside each consumer (cheap, and it saves a round trip through memory).
//! 2. **Grouping** (`group.rs`, then `merge.rs`). Materialized roots with the same loop
//!    domain (full shape and reduce axes) that do not depend on each other become one multi-output kernel, sharing every common
//!    subexpression: `realize(&[x.sum(), x.mean()])` reads `x` once. An elementwise kernel
//!    whose output has as many elements as a reduce kernel's then rides along with it (stored
//!    at the same output index): `realize(&[x.mean(0), x.var(0)])` is 2 kernels. A
//!    materialized reduction whose only kernel is its own joins a reduce kernel of the same
//!    domain that reads it through a broadcast, which computes it as a nest and stores it
//!    (`merge.rs`): a chunked softmax's per-chunk max and sum are one kernel.
//! 3. **Ordering and lowering** (`order.rs`, `lower.rs`). Producers first; each kernel's
//!    roots are lowered to a [`KernelAst`]: walking from the output toward the loads, movement ops re-index symbolically (see `view`), materialized or realized
//!    nodes become loads, and everything else is inlined.

use crate::hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use crate::codegen::ast::KernelAst;
use crate::dtype::Scalar;
use crate::graph::{toposort, NodeRef, Op};
use crate::target::DeviceLimits;
use crate::view::Movement;

mod buffers;
mod group;
mod lower;
mod merge;
mod nest_cost;
mod order;
mod recompute;
mod settle;
mod split;
pub(crate) use lower::is_param;
use merge::{ride_along, store_nests};
pub use nest_cost::NEST_RECOMPUTE_RATIO;

/// One kernel to run: its AST and the values of its parameters. Which nodes it reads and
/// writes is said by the [`Step`] that runs it.
#[derive(Debug)]
pub struct ScheduleItem {
    pub ast: KernelAst,
    /// Values of the AST's `Param`s, in index order.
    pub params: Vec<Scalar>,
    /// For each parameter, a constant node it came from (the schedule cache reads a new
    /// graph's values through them).
    pub param_nodes: Vec<NodeRef>,
}

/// A step of a schedule, over node handles `N`: graph nodes, or their positions in the
/// schedule cache's key. Every layer above the scheduler (realize, `kiln::Schedule`, the
/// schedule cache, traces) uses this one step type.
#[derive(Clone, Debug)]
pub enum Step<N = NodeRef> {
    /// Run the schedule's kernel number `kernel`, reading `inputs` and producing `outputs` (in
    /// the kernel's buffer order: inputs first).
    Kernel {
        kernel: usize,
        inputs: Vec<N>,
        outputs: Vec<N>,
    },
    /// `node` shares the buffer of `of` (a reshape of a materialized value is the same bytes).
    Alias { node: N, of: N },
}

impl<N> Step<N> {
    /// The same step over other node handles, or `None` where `f` has none for a node.
    pub fn try_map<M>(&self, mut f: impl FnMut(&N) -> Option<M>) -> Option<Step<M>> {
        Some(match self {
            Step::Kernel {
                kernel,
                inputs,
                outputs,
            } => Step::Kernel {
                kernel: *kernel,
                inputs: inputs.iter().map(&mut f).collect::<Option<_>>()?,
                outputs: outputs.iter().map(&mut f).collect::<Option<_>>()?,
            },
            Step::Alias { node, of } => Step::Alias {
                node: f(node)?,
                of: f(of)?,
            },
        })
    }
}

/// What the scheduler produces: the kernels, and the steps that run them in order.
#[derive(Debug, Default)]
pub struct Scheduled {
    pub steps: Vec<Step>,
    pub kernels: Vec<ScheduleItem>,
}

/// The loop domain of a kernel: (full shape, reduce axes, how its lanes walk it).
type Domain = (Vec<usize>, Vec<usize>, Walker);

/// How a kernel's lanes walk its domain, beyond a plain loop over it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) enum Walker {
    Plain,
    /// Along this axis in order (a scan).
    Scan(usize),
    /// Over the index of this scatter node (a kernel of its own), storing at positions.
    Scatter(u64),
}

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Mode {
    /// Index of the root's output, element for element (only elementwise ops and reshapes so far).
    Identity,
    /// Re-indexed by a movement op other than reshape.
    Other,
    /// Inside the input of a fused reduction.
    InsideReduce,
}

pub(super) struct Walk {
    /// Reductions whose output domain is the kernel's (reached through elementwise ops and
    /// reshapes only): they share the kernel's loop domain.
    pub(super) fused: Vec<NodeRef>,
    /// Reductions reached through other movement ops or from inside another reduction (a
    /// row's max broadcast back over the row): each gets axes of its own in the kernel's
    /// domain, a reduce nest that runs before the stores (see `broadcast_nests_pay`).
    pub(super) broadcast: Vec<NodeRef>,
    pub(super) bad: Vec<NodeRef>,
}

/// Builds the schedule for realizing `targets` (which must all be unrealized and on one device)
/// with kernels that fit the storage bindings of a device with `limits`. `broadcast_nests`
/// lets reductions read through a broadcast fuse into their consumers as nests of their own
/// (off under NOOPT: only the optimizer's GROUPOUT form makes them pay). `nodes` is
/// `toposort(targets)`, which the caller already has (the schedule cache keys on it).
pub fn schedule(
    targets: &[NodeRef],
    nodes: Vec<NodeRef>,
    limits: &DeviceLimits,
    broadcast_nests: bool,
) -> Scheduled {
    let Some(rebuilt) = split::split_long_reductions(&nodes, targets) else {
        return schedule_sorted(targets, nodes, limits, broadcast_nests);
    };
    // Long reductions were split: schedule the rebuilt graph, then hand each target the
    // buffer of its rebuilt counterpart (same shape and dtype).
    let mut scheduled = schedule_sorted(&rebuilt, toposort(&rebuilt), limits, broadcast_nests);
    for (target, new) in targets.iter().zip(&rebuilt) {
        if target.id != new.id {
            scheduled.steps.push(Step::Alias {
                node: target.clone(),
                of: new.clone(),
            });
        }
    }
    scheduled
}

/// [`schedule`] of `targets` whose graph is `nodes` (topologically sorted, sources first),
/// in named passes: decide what is materialized, group the roots into kernels by domain,
/// merge kernels that can share, then order them.
fn schedule_sorted(
    targets: &[NodeRef],
    nodes: Vec<NodeRef>,
    limits: &DeviceLimits,
    fuse_broadcast: bool,
) -> Scheduled {
    let mut forced = settle::forced_barriers(&nodes);
    let settle::Settled {
        roots,
        mut walks,
        reads,
    } = settle::settle_barriers(targets, &nodes, &mut forced, limits, fuse_broadcast);
    // A root that reshapes a materialized node is an alias of its buffer, not a kernel.
    let (aliases, kernel_roots): (Vec<NodeRef>, Vec<NodeRef>) = roots
        .iter()
        .cloned()
        .partition(|r| reshape_of_barrier(r, &forced).is_some());
    let aliases: Vec<(NodeRef, NodeRef)> = aliases
        .into_iter()
        .map(|r| {
            let base = reshape_of_barrier(&r, &forced).expect("an alias");
            (r, base)
        })
        .collect();
    let mut deps = group::RootDeps::new(&roots, &kernel_roots, &aliases, &forced);
    let (mut groups, group_reads) =
        group::group_by_domain(&kernel_roots, &walks, &reads, &deps, &forced, limits);
    let has_broadcast = |m: &NodeRef| !walks[&m.id].broadcast.is_empty();
    ride_along(
        &mut groups,
        group_reads,
        &reads,
        &deps.deps,
        &deps.alias_base,
        limits,
        &has_broadcast,
    );
    let stored_nests = store_nests(
        &mut groups,
        &mut walks,
        &mut deps.deps,
        &forced,
        &reads,
        &deps.alias_base,
        limits,
        fuse_broadcast,
    );
    groups.retain(|(_, members)| !members.is_empty());
    let lowering = order::Lowering {
        walks: &walks,
        forced: &forced,
        stored_nests: &stored_nests,
    };
    order::order_kernels(&nodes, groups, aliases, &deps.deps, &lowering)
}

/// The longest chain of graph nodes one kernel may fuse. Lowering and linearizing walk such
/// chains recursively, and a kernel of a million ops would take a driver minutes to compile;
/// past this depth a node is materialized, so a chain of n ops runs as n / 256 kernels of one
/// program. Real expressions are far shallower (`pow` is about 40 deep).
pub const MAX_FUSED_DEPTH: usize = 256;

/// Forces a materialization wherever a fused chain would pass [`MAX_FUSED_DEPTH`]. Movement
/// ops are cut only at twice the depth, since materializing an expand or a pad costs memory.
pub(super) fn bound_fused_depth(nodes: &[NodeRef], forced: &mut HashSet<u64>) {
    let mut depth: HashMap<u64, usize> =
        HashMap::with_capacity_and_hasher(nodes.len(), Default::default());
    for n in nodes {
        if n.is_realized() {
            depth.insert(n.id, 0);
            continue;
        }
        let d = 1 + n
            .srcs()
            .iter()
            .map(|s| {
                if forced.contains(&s.id) {
                    0
                } else {
                    depth[&s.id]
                }
            })
            .max()
            .unwrap_or(0);
        let limit = match n.op {
            Op::Movement(_) => 2 * MAX_FUSED_DEPTH,
            _ => MAX_FUSED_DEPTH,
        };
        if d >= limit {
            forced.insert(n.id);
        }
        depth.insert(n.id, d);
    }
}

pub(super) fn reduce_domain(r: &NodeRef) -> Domain {
    match &r.op {
        Op::Reduce(_, axes) => (r.src(0).shape.clone(), axes.clone(), Walker::Plain),
        _ => unreachable!("not a reduce"),
    }
}

pub(super) fn root_domain(root: &NodeRef, w: &Walk) -> Domain {
    match (&root.op, w.fused.first()) {
        (Op::Scan(_, axis), _) => (root.shape.clone(), vec![], Walker::Scan(*axis)),
        (Op::Scatter(..), _) => (root.src(0).shape.clone(), vec![], Walker::Scatter(root.id)),
        (_, Some(r)) => reduce_domain(r),
        (_, None) => (root.shape.clone(), vec![], Walker::Plain),
    }
}

pub(super) fn is_barrier(n: &NodeRef, root: &NodeRef, forced: &HashSet<u64>) -> bool {
    n.id != root.id && (n.is_realized() || forced.contains(&n.id))
}

pub(super) fn walk_root(root: &NodeRef, forced: &HashSet<u64>, broadcast: bool) -> Walk {
    let mut w = Walk {
        fused: vec![],
        broadcast: vec![],
        bad: vec![],
    };
    let mut seen = HashSet::default();
    let mut stack = vec![(root.clone(), Mode::Identity)];
    while let Some((n, mode)) = stack.pop() {
        if is_barrier(&n, root, forced) || !seen.insert((n.id, mode)) {
            continue;
        }
        match &n.op {
            Op::Reduce(..) => {
                if mode == Mode::Identity {
                    if !w.fused.iter().any(|f| f.id == n.id) {
                        w.fused.push(n.clone());
                    }
                    stack.push((n.src(0), Mode::InsideReduce));
                } else if broadcast {
                    if !w.broadcast.iter().any(|f| f.id == n.id) {
                        w.broadcast.push(n.clone());
                    }
                    stack.push((n.src(0), Mode::InsideReduce));
                } else if !w.bad.iter().any(|b| b.id == n.id) {
                    w.bad.push(n.clone());
                }
            }
            Op::Movement(Movement::Reshape(_)) | Op::Contiguous | Op::Detach => {
                stack.push((n.src(0), mode))
            }
            Op::Movement(_) => {
                let m = if mode == Mode::Identity {
                    Mode::Other
                } else {
                    mode
                };
                stack.push((n.src(0), m));
            }
            _ => {
                for s in n.srcs() {
                    stack.push((s, mode));
                }
            }
        }
    }
    // A reduction read both at the kernel's own index and through a movement op cannot be
    // both its domain's reduce and a nest (lowering keys reductions by node): it is a nest,
    // whose value the identity read takes too (logsumexp's `+ max` after the sum of exp).
    w.fused
        .retain(|f| !w.broadcast.iter().any(|b| b.id == f.id));
    w
}

/// `Some(base)` when `root` is only reshapes of a realized or materialized node.
fn reshape_of_barrier(root: &NodeRef, forced: &HashSet<u64>) -> Option<NodeRef> {
    let mut n = root.clone();
    loop {
        if !matches!(n.op, Op::Movement(Movement::Reshape(_))) {
            return None;
        }
        let s = n.src(0);
        if s.is_realized() || forced.contains(&s.id) {
            return Some(s);
        }
        n = s;
    }
}

/// The forced (not yet realized) nodes that `root`'s kernel reads.
pub(super) fn barrier_inputs(root: &NodeRef, forced: &HashSet<u64>) -> HashSet<u64> {
    let mut out = HashSet::default();
    let mut seen = HashSet::default();
    let mut stack = vec![root.clone()];
    while let Some(n) = stack.pop() {
        if !seen.insert(n.id) {
            continue;
        }
        if is_barrier(&n, root, forced) {
            if !n.is_realized() {
                out.insert(n.id);
            }
            continue;
        }
        stack.extend(n.srcs());
    }
    out
}
