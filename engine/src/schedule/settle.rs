//! Deciding what is materialized: the barriers every later pass takes as given.

use crate::graph::{NodeRef, Op};
use crate::hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use crate::target::DeviceLimits;

use super::buffers::{self, Reads};
use super::lower::lower_kernel_with_nests;
use super::nest_cost::{nest_cost, NestCost};
use super::{bound_fused_depth, recompute, reduce_domain, root_domain, walk_root, Domain, Walk};

/// The roots of kernels once the barriers are settled, each root's walk of what it fuses,
/// and the buffers each node's kernel would read.
pub(super) struct Settled {
    pub roots: Vec<NodeRef>,
    pub walks: HashMap<u64, Walk>,
    pub reads: Reads,
}

/// The barriers known before any walk: `contiguous()`, what a gather reads (it loads at
/// computed positions, so from a buffer), chains past `MAX_FUSED_DEPTH`, and expensive
/// producers read through a large expand (`recompute.rs`).
pub(super) fn forced_barriers(nodes: &[NodeRef]) -> HashSet<u64> {
    let mut forced: HashSet<u64> = HashSet::default();
    for n in nodes.iter().filter(|n| !n.is_realized()) {
        match n.op {
            Op::Contiguous => {
                forced.insert(n.id);
            }
            Op::Gather(_) if !n.src(0).is_realized() => {
                forced.insert(n.src(0).id);
            }
            // A scan is a kernel of its own whose lanes walk its axis; what it folds (and
            // starts from) is computed inside that walk, so a reduction there is
            // materialized first.
            // A scatter is a kernel of its own too, whose lanes walk the index.
            Op::Scan(..) | Op::Scatter(..) => {
                forced.insert(n.id);
                for s in n.srcs() {
                    if holds_reduction(&s) {
                        forced.insert(s.id);
                    }
                }
            }
            _ => {}
        }
    }
    bound_fused_depth(nodes, &mut forced);
    for p in recompute::expensive_broadcast_producers(nodes, &forced) {
        forced.insert(p.id);
    }
    forced
}

/// Whether computing `n` in a kernel would fold something: a reduction or a scan reached
/// without passing a realized node.
fn holds_reduction(n: &NodeRef) -> bool {
    let mut seen = HashSet::default();
    let mut stack = vec![n.clone()];
    while let Some(m) = stack.pop() {
        if m.is_realized() || !seen.insert(m.id) {
            continue;
        }
        if matches!(m.op, Op::Reduce(..) | Op::Scan(..) | Op::Contiguous) {
            return true;
        }
        stack.extend(m.srcs());
    }
    false
}

/// The fixpoint: materializes reductions until every remaining one fuses cleanly and every
/// broadcast nest pays for itself, and partial results until no kernel reads more buffers
/// than the adapter binds.
pub(super) fn settle_barriers(
    targets: &[NodeRef],
    nodes: &[NodeRef],
    forced: &mut HashSet<u64>,
    limits: &DeviceLimits,
    fuse_broadcast: bool,
) -> Settled {
    let target_ids: HashSet<u64> = targets.iter().map(|t| t.id).collect();
    loop {
        let roots: Vec<NodeRef> = nodes
            .iter()
            .filter(|n| !n.is_realized() && (target_ids.contains(&n.id) || forced.contains(&n.id)))
            .cloned()
            .collect();
        let (walks, mut to_force) = walk_roots(&roots, forced, fuse_broadcast);
        to_force.retain(|id| !forced.contains(id));
        if to_force.is_empty() {
            to_force = unpaid_nests(&roots, &walks, forced);
        }
        if to_force.is_empty() {
            let (reads, changed) = buffers::bound_reads(nodes, forced, limits);
            if !changed {
                return Settled {
                    roots,
                    walks,
                    reads,
                };
            }
            continue;
        }
        forced.extend(to_force);
    }
}

/// Each root's walk, and the nodes the walks say must be materialized: reductions a walk
/// cannot fuse, every reduce domain of a kernel but its first, and a reduction fused into
/// kernels of different domains (it would be computed twice).
fn walk_roots(
    roots: &[NodeRef],
    forced: &HashSet<u64>,
    fuse_broadcast: bool,
) -> (HashMap<u64, Walk>, HashSet<u64>) {
    let mut walks = HashMap::default();
    let mut to_force = HashSet::default();
    let mut users: HashMap<u64, HashSet<Domain>> = HashMap::default();
    for root in roots {
        let mut w = walk_root(root, forced, fuse_broadcast);
        for b in &w.bad {
            to_force.insert(b.id);
        }
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
    for (id, doms) in &users {
        if doms.len() > 1 {
            to_force.insert(*id);
        }
    }
    (walks, to_force)
}

/// With every walk final: the broadcast nests that do not pay for themselves in their
/// kernel (`nest_cost.rs`), the inner ones alone where that is enough.
fn unpaid_nests(
    roots: &[NodeRef],
    walks: &HashMap<u64, Walk>,
    forced: &HashSet<u64>,
) -> HashSet<u64> {
    let mut to_force = HashSet::default();
    for root in roots {
        let w = &walks[&root.id];
        if w.broadcast.is_empty() {
            continue;
        }
        let alone = std::slice::from_ref(root);
        let (lowered, nest_nodes) =
            lower_kernel_with_nests(root_domain(root, w), alone, walks, forced);
        let all = || w.broadcast.iter().map(|r| r.id);
        match nest_cost(&lowered.item.ast) {
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
    to_force
}
