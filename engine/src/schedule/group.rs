//! Grouping kernel roots by domain into kernels, keeping the kernel graph acyclic and each
//! kernel within the adapter's bindings.

use crate::graph::NodeRef;
use crate::hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use crate::target::DeviceLimits;

use super::buffers::Reads;
use super::lower::lower_kernel;
use super::nest_cost::broadcast_nests_pay;
use super::{barrier_inputs, root_domain, Domain, Walk};

/// A kernel in the making: its loop domain and the roots it computes.
pub(super) type Group = (Domain, Vec<NodeRef>);

/// Which roots each root reads, and the reachability question grouping asks of them.
pub(super) struct RootDeps {
    /// For each kernel root, the forced roots its walk stops at.
    pub deps: HashMap<u64, HashSet<u64>>,
    /// An alias's base: a read of an alias (a reshape of a materialized node) is a read of
    /// its base.
    pub alias_base: HashMap<u64, u64>,
    /// Each root's position in topological order: a root can only read roots before it,
    /// which bounds every reachability search.
    position: HashMap<u64, usize>,
}

impl RootDeps {
    pub fn new(
        roots: &[NodeRef],
        kernel_roots: &[NodeRef],
        aliases: &[(NodeRef, NodeRef)],
        forced: &HashSet<u64>,
    ) -> RootDeps {
        RootDeps {
            deps: kernel_roots
                .iter()
                .map(|r| (r.id, barrier_inputs(r, forced)))
                .collect(),
            alias_base: aliases.iter().map(|(n, base)| (n.id, base.id)).collect(),
            position: roots.iter().enumerate().map(|(i, r)| (r.id, i)).collect(),
        }
    }

    /// Whether root `a` reads root `b`, directly or through other roots. Only roots between
    /// `b` and `a` in topological order can be on the way.
    pub fn depends(&self, a: u64, b: u64) -> bool {
        let floor = self.position[&b];
        let mut stack = vec![a];
        let mut seen = HashSet::default();
        while let Some(x) = stack.pop() {
            if !seen.insert(x) {
                continue;
            }
            for &d in self.deps.get(&x).into_iter().flatten() {
                let d = resolve_alias(d, &self.alias_base);
                if d == b {
                    return true;
                }
                if self.position.get(&d).is_some_and(|&p| p > floor) {
                    stack.push(d);
                }
            }
        }
        false
    }
}

/// Groups roots of one domain into kernels, each root joining the newest group it can:
/// one it does not read, whose bindings stay within the adapter's, whose broadcast nests
/// still pay together, and that keeps the groups acyclic (checking a member against the
/// root is not enough: {a1, a2} and {b} are a cycle when a1 reads b and b reads a2).
/// Returns the groups and the buffers each reads.
pub(super) fn group_by_domain(
    kernel_roots: &[NodeRef],
    walks: &HashMap<u64, Walk>,
    reads: &Reads,
    deps: &RootDeps,
    forced: &HashSet<u64>,
    limits: &DeviceLimits,
) -> (Vec<Group>, Vec<HashSet<u64>>) {
    let mut groups: Vec<Group> = vec![];
    let mut group_reads: Vec<HashSet<u64>> = vec![];
    let mut groups_of_domain: HashMap<Domain, Vec<usize>> = HashMap::default();
    for root in kernel_roots {
        let dom = root_domain(root, &walks[&root.id]);
        let root_reads = reads.of(root.id);
        let mut placed = false;
        // Members were placed earlier, so they come first in topological order and cannot
        // read `root`: only `root` reading a member rules a group out. Only the newest groups
        // are candidates, or a chain of thousands of kernels would be quadratic.
        let candidates = groups_of_domain.get(&dom).cloned().unwrap_or_default();
        for &g in candidates.iter().rev().take(GROUP_CANDIDATES) {
            let compatible = groups[g].1.iter().all(|m| !deps.depends(root.id, m.id));
            let new_reads = root_reads.iter().filter(|r| !group_reads[g].contains(r));
            let outputs = groups[g].1.iter().chain([root]);
            let bindings = reads.bindings(&group_reads[g])
                + reads.bindings(new_reads)
                + outputs
                    .map(|o| limits.bindings_for(o.numel(), o.dtype))
                    .sum::<usize>();
            if !compatible || bindings > reads.limit {
                continue;
            }
            groups[g].1.push(root.clone());
            // Broadcast nests that pay alone may not together (one row's max along each
            // axis leaves no column): lower the merged kernel and check.
            let nests_pay = || {
                let members = &groups[g].1;
                !members.iter().any(|m| !walks[&m.id].broadcast.is_empty())
                    || broadcast_nests_pay(
                        &lower_kernel(dom.clone(), members, walks, forced).item.ast,
                    )
            };
            if groups_acyclic(&groups, &deps.deps, &deps.alias_base) && nests_pay() {
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
    (groups, group_reads)
}

/// The node whose buffer `id` reads (an alias is a reshape of a materialized node).
pub(super) fn resolve_alias(mut id: u64, alias_base: &HashMap<u64, u64>) -> u64 {
    while let Some(&b) = alias_base.get(&id) {
        id = b;
    }
    id
}

/// How many of a domain's groups (the newest) a root may try to join.
const GROUP_CANDIDATES: usize = 64;

/// Whether the graph of groups (an edge where a member of one reads a member of another) has
/// no cycle. Kahn's algorithm; a read of an alias counts as a read of its base.
pub(super) fn groups_acyclic(
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
