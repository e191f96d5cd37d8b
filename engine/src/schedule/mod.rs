//! The scheduler: turns the lazy graph under a set of targets into as few kernels as possible.
//!
//! 0. **Splitting** (`split.rs`). A reduction of more than [`MAX_ROW`] elements per output
//!    is rewritten into two stages (partials, then their reduction) before anything else.
//! 1. **Materialization.** A node gets its own buffer only when it must: it is a requested
//!    target, a `contiguous()`, or a reduction that cannot live inside its consumer's kernel.
//!    A reduction fuses into a consumer kernel when every path from that kernel's output to it
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
//! 2. **Grouping.** Materialized roots with the same loop domain (full shape and reduce axes)
//!    that do not depend on each other become one multi-output kernel, sharing every common
//!    subexpression: `realize(&[x.sum(), x.mean()])` reads `x` once. An elementwise kernel
//!    whose output has as many elements as a reduce kernel's then rides along with it (stored
//!    at the same output index): `realize(&[x.mean(0), x.var(0)])` is 2 kernels. A
//!    materialized reduction whose only kernel is its own joins a reduce kernel of the same
//!    domain that reads it through a broadcast, which computes it as a nest and stores it
//!    (`merge.rs`): a chunked softmax's per-chunk max and sum are one kernel.
//! 3. **Lowering.** Each kernel's roots are lowered to a [`KernelAst`]: walking from the output
//!    toward the loads, movement ops re-index symbolically (see `view`), materialized or realized
//!    nodes become loads, and everything else is inlined.

use crate::hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use crate::codegen::ast::KernelAst;
use crate::dtype::Scalar;
use crate::graph::{toposort, NodeRef, Op};
use crate::target::DeviceLimits;
use crate::view::Movement;

mod buffers;
mod lower;
mod merge;
mod nest_cost;
mod recompute;
mod split;
pub(crate) use lower::is_param;
use lower::{lower_kernel, lower_kernel_with_nests};
use merge::{kernel_barriers, ride_along, store_nests};
pub use nest_cost::NEST_RECOMPUTE_RATIO;
use nest_cost::{broadcast_nests_pay, nest_cost, NestCost};

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

/// The loop domain of a kernel: (full shape, reduce axes).
type Domain = (Vec<usize>, Vec<usize>);

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
    bad: Vec<NodeRef>,
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

/// [`schedule`] of `targets` whose graph is `nodes` (topologically sorted, sources first).
fn schedule_sorted(
    targets: &[NodeRef],
    nodes: Vec<NodeRef>,
    limits: &DeviceLimits,
    fuse_broadcast: bool,
) -> Scheduled {
    let target_ids: HashSet<u64> = targets.iter().map(|t| t.id).collect();
    // Forced barriers: always materialized, never recomputed by a consumer.
    let mut forced: HashSet<u64> = nodes
        .iter()
        .filter(|n| !n.is_realized() && matches!(n.op, Op::Contiguous))
        .map(|n| n.id)
        .collect();

    bound_fused_depth(&nodes, &mut forced);
    for p in recompute::expensive_broadcast_producers(&nodes, &forced) {
        forced.insert(p.id);
    }

    // Fixpoint: materialize reductions until every remaining one fuses cleanly, and partial
    // results until no kernel reads more buffers than the adapter binds.
    let (roots, mut walks, reads) = loop {
        let roots: Vec<NodeRef> = nodes
            .iter()
            .filter(|n| !n.is_realized() && (target_ids.contains(&n.id) || forced.contains(&n.id)))
            .cloned()
            .collect();
        let mut walks = HashMap::default();
        let mut to_force = HashSet::default();
        let mut users: HashMap<u64, HashSet<Domain>> = HashMap::default();
        for root in &roots {
            let mut w = walk_root(root, &forced, fuse_broadcast);
            for b in &w.bad {
                to_force.insert(b.id);
            }
            // One reduce domain per kernel: keep the first, materialize the others.
            if let Some(first) = w.fused.first().map(reduce_domain) {
                for r in w.fused.iter().filter(|r| reduce_domain(r) != first) {
                    to_force.insert(r.id);
                }
                w.fused.retain(|r| reduce_domain(r) == first);
            }
            let dom = root_domain(root, &w);
            for r in &w.fused {
                users.entry(r.id).or_default().insert(dom.clone());
            }
            walks.insert(root.id, w);
        }
        // A reduction fused into kernels of different domains would be computed twice.
        for (id, doms) in &users {
            if doms.len() > 1 {
                to_force.insert(*id);
            }
        }
        to_force.retain(|id| !forced.contains(id));
        if to_force.is_empty() {
            // Every walk is final: check that each kernel's broadcast nests pay for themselves.
            for root in &roots {
                let w = &walks[&root.id];
                if w.broadcast.is_empty() {
                    continue;
                }
                let alone = std::slice::from_ref(root);
                let (item, nest_nodes) =
                    lower_kernel_with_nests(root_domain(root, w), alone, &walks, &forced);
                let all = || w.broadcast.iter().map(|r| r.id);
                match nest_cost(&item.item.ast) {
                    NestCost::Pays => {}
                    NestCost::None => to_force.extend(all()),
                    NestCost::Inner(exprs) => {
                        let ids: Option<Vec<u64>> =
                            exprs.iter().map(|e| nest_nodes.get(e).copied()).collect();
                        match ids {
                            Some(ids) => to_force.extend(ids),
                            None => to_force.extend(all()),
                        }
                    }
                }
            }
        }
        if to_force.is_empty() {
            let (reads, changed) = buffers::bound_reads(&nodes, &mut forced, limits);
            if !changed {
                break (roots, walks, reads);
            }
            continue;
        }
        forced.extend(to_force);
    };

    // Barriers as seen by lowering: realized nodes and forced materializations.
    let mut steps = vec![];
    let mut kernel_roots: Vec<NodeRef> = vec![];
    for root in &roots {
        if let Some(base) = reshape_of_barrier(root, &forced) {
            steps.push((root.clone(), base));
        } else {
            kernel_roots.push(root.clone());
        }
    }

    // Dependencies between roots: a root reads the forced roots its walk stops at.
    let deps: HashMap<u64, HashSet<u64>> = kernel_roots
        .iter()
        .map(|r| (r.id, barrier_inputs(r, &forced)))
        .collect();
    // A read of an alias (a reshape of a materialized node) is a read of its base.
    let alias_base: HashMap<u64, u64> = steps.iter().map(|(n, base)| (n.id, base.id)).collect();
    // Roots in topological order (`nodes` is sources first): a root can only read roots that
    // come before it, which bounds every reachability search below.
    let position: HashMap<u64, usize> = roots.iter().enumerate().map(|(i, r)| (r.id, i)).collect();
    let depends = |a: u64, b: u64| -> bool {
        // does a (transitively) read b? Only roots between b and a in topological order can
        // be on the way.
        let floor = position[&b];
        let mut stack = vec![a];
        let mut seen = HashSet::default();
        while let Some(x) = stack.pop() {
            if !seen.insert(x) {
                continue;
            }
            for &d in deps.get(&x).into_iter().flatten() {
                let d = resolve_alias(d, &alias_base);
                if d == b {
                    return true;
                }
                if position.get(&d).is_some_and(|&p| p > floor) {
                    stack.push(d);
                }
            }
        }
        false
    };

    // Group roots by domain. A root joins a group only if the groups stay acyclic: checking
    // member against root is not enough, since {a1, a2} and {b} are a cycle when a1 reads b
    // and b reads a2.
    let mut groups: Vec<(Domain, Vec<NodeRef>)> = vec![];
    // The buffers each group's kernel reads, while the adapter's bindings limit them.
    let mut group_reads: Vec<HashSet<u64>> = vec![];
    let mut groups_of_domain: HashMap<Domain, Vec<usize>> = HashMap::default();
    for root in &kernel_roots {
        let dom = root_domain(root, &walks[&root.id]);
        let root_reads = reads.of(root.id);
        let mut placed = false;
        // Members were placed earlier, so they come first in topological order and cannot
        // read `root`: only `root` reading a member rules a group out. The newest groups of
        // the domain are the candidates; a chain of thousands of kernels (see
        // `MAX_FUSED_DEPTH`) would otherwise make this quadratic in groups and searches.
        let candidates = groups_of_domain.get(&dom).cloned().unwrap_or_default();
        for &g in candidates.iter().rev().take(GROUP_CANDIDATES) {
            let compatible = groups[g].1.iter().all(|m| !depends(root.id, m.id));
            let new_reads = root_reads.iter().filter(|r| !group_reads[g].contains(r));
            let outputs = groups[g].1.iter().chain([root]);
            let bindings = reads.bindings(&group_reads[g])
                + reads.bindings(new_reads)
                + outputs
                    .map(|o| limits.bindings_for(o.numel()))
                    .sum::<usize>();
            let fits = bindings <= reads.limit;
            if !compatible || !fits {
                continue;
            }
            groups[g].1.push(root.clone());
            // Broadcast nests that pay alone may not together (one row's max along each
            // axis leaves no column): lower the merged kernel and check.
            let nests_pay = || {
                let members = &groups[g].1;
                !members.iter().any(|m| !walks[&m.id].broadcast.is_empty())
                    || broadcast_nests_pay(
                        &lower_kernel(dom.clone(), members, &walks, &forced).item.ast,
                    )
            };
            if groups_acyclic(&groups, &deps, &alias_base) && nests_pay() {
                group_reads[g].extend(root_reads);
                placed = true;
                break;
            }
            groups[g].1.pop();
        }
        if !placed {
            groups_of_domain
                .entry(dom.clone())
                .or_default()
                .push(groups.len());
            groups.push((dom, vec![root.clone()]));
            group_reads.push(root_reads.iter().copied().collect());
        }
    }

    let has_broadcast = |m: &NodeRef| !walks[&m.id].broadcast.is_empty();
    ride_along(
        &mut groups,
        group_reads,
        &reads,
        &deps,
        &alias_base,
        limits,
        &has_broadcast,
    );
    let mut deps = deps;
    let stored_nests = store_nests(
        &mut groups,
        &mut walks,
        &mut deps,
        &forced,
        &reads,
        &alias_base,
        limits,
        fuse_broadcast,
    );
    groups.retain(|(_, members)| !members.is_empty());

    // Order kernels so that producers run first.
    let mut ordered = Scheduled::default();
    let mut done: HashSet<u64> = nodes
        .iter()
        .filter(|n| n.is_realized())
        .map(|n| n.id)
        .collect();
    let mut pending_groups = groups;
    let mut pending_alias = steps;
    while !pending_groups.is_empty() || !pending_alias.is_empty() {
        let before = pending_groups.len() + pending_alias.len();
        pending_alias.retain(|(node, base)| {
            if done.contains(&base.id) {
                ordered.steps.push(Step::Alias {
                    node: node.clone(),
                    of: base.clone(),
                });
                done.insert(node.id);
                false
            } else {
                true
            }
        });
        let mut i = 0;
        while i < pending_groups.len() {
            let ready = pending_groups[i]
                .1
                .iter()
                .all(|r| deps[&r.id].iter().all(|d| done.contains(d)));
            if ready {
                let (dom, members) = pending_groups.remove(i);
                for m in &members {
                    done.insert(m.id);
                }
                // A kernel that stores a nest computes it instead of loading it.
                let own_forced = kernel_barriers(&members, &forced, &stored_nests);
                let lowered = lower_kernel(dom, &members, &walks, &own_forced);
                ordered.steps.push(Step::Kernel {
                    kernel: ordered.kernels.len(),
                    inputs: lowered.inputs,
                    outputs: lowered.outputs,
                });
                ordered.kernels.push(lowered.item);
            } else {
                i += 1;
            }
        }
        assert!(
            pending_groups.len() + pending_alias.len() < before,
            "scheduler: dependency cycle between kernels (this is a kiln bug)"
        );
    }
    ordered
}

/// The node whose buffer `id` reads (an alias is a reshape of a materialized node).
fn resolve_alias(mut id: u64, alias_base: &HashMap<u64, u64>) -> u64 {
    while let Some(&b) = alias_base.get(&id) {
        id = b;
    }
    id
}

/// How many of a domain's groups (the newest) a root may try to join.
const GROUP_CANDIDATES: usize = 64;

/// The longest chain of graph nodes one kernel may fuse. Lowering and linearizing walk such
/// chains recursively, and a kernel of a million ops would take a driver minutes to compile;
/// past this depth a node is materialized, so a chain of n ops runs as n / 256 kernels of one
/// program. Real expressions are far shallower (`pow` is about 40 deep).
pub const MAX_FUSED_DEPTH: usize = 256;

/// Forces a materialization wherever a fused chain would pass [`MAX_FUSED_DEPTH`]. Movement
/// ops are cut only at twice the depth, since materializing an expand or a pad costs memory.
fn bound_fused_depth(nodes: &[NodeRef], forced: &mut HashSet<u64>) {
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

/// Whether the graph of groups (an edge where a member of one reads a member of another) has
/// no cycle. Kahn's algorithm; a read of an alias counts as a read of its base.
fn groups_acyclic(
    groups: &[(Domain, Vec<NodeRef>)],
    deps: &HashMap<u64, HashSet<u64>>,
    alias_base: &HashMap<u64, u64>,
) -> bool {
    let mut group_of: HashMap<u64, usize> = HashMap::default();
    for (g, (_, members)) in groups.iter().enumerate() {
        for m in members {
            group_of.insert(m.id, g);
        }
    }
    let mut edges: Vec<HashSet<usize>> = vec![HashSet::default(); groups.len()];
    let mut indegree = vec![0usize; groups.len()];
    for (g, (_, members)) in groups.iter().enumerate() {
        for m in members {
            for &d in deps.get(&m.id).into_iter().flatten() {
                if let Some(&h) = group_of.get(&resolve_alias(d, alias_base)) {
                    if h != g && edges[h].insert(g) {
                        indegree[g] += 1;
                    }
                }
            }
        }
    }
    let mut ready: Vec<usize> = (0..groups.len()).filter(|&g| indegree[g] == 0).collect();
    let mut seen = 0;
    while let Some(g) = ready.pop() {
        seen += 1;
        for &h in &edges[g] {
            indegree[h] -= 1;
            if indegree[h] == 0 {
                ready.push(h);
            }
        }
    }
    seen == groups.len()
}

fn reduce_domain(r: &NodeRef) -> Domain {
    match &r.op {
        Op::Reduce(_, axes) => (r.src(0).shape.clone(), axes.clone()),
        _ => unreachable!("not a reduce"),
    }
}

fn root_domain(root: &NodeRef, w: &Walk) -> Domain {
    match w.fused.first() {
        Some(r) => reduce_domain(r),
        None => (root.shape.clone(), vec![]),
    }
}

pub(super) fn is_barrier(n: &NodeRef, root: &NodeRef, forced: &HashSet<u64>) -> bool {
    n.id != root.id && (n.is_realized() || forced.contains(&n.id))
}

fn walk_root(root: &NodeRef, forced: &HashSet<u64>, broadcast: bool) -> Walk {
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
            Op::Movement(Movement::Reshape(_)) | Op::Contiguous => stack.push((n.src(0), mode)),
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
    // both its domain's reduce and a nest (lowering keys reductions by node): materialize it.
    let both: Vec<NodeRef> = w
        .broadcast
        .iter()
        .filter(|b| w.fused.iter().any(|f| f.id == b.id))
        .cloned()
        .collect();
    for b in both {
        w.broadcast.retain(|x| x.id != b.id);
        if !w.bad.iter().any(|x| x.id == b.id) {
            w.bad.push(b);
        }
    }
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
fn barrier_inputs(root: &NodeRef, forced: &HashSet<u64>) -> HashSet<u64> {
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
