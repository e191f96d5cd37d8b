//! Ordering kernels so that producers run first, and lowering each to its AST.

use crate::graph::NodeRef;
use crate::hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use super::lower::lower_kernel;
use super::merge::kernel_barriers;
use super::{Domain, Scheduled, Step, Walk};

/// What lowering a kernel needs: each root's walk, the forced barriers, and the nests that
/// kernels store (a kernel that stores a nest computes it instead of loading it).
pub(super) struct Lowering<'a> {
    pub walks: &'a HashMap<u64, Walk>,
    pub forced: &'a HashSet<u64>,
    pub stored_nests: &'a HashSet<u64>,
}

/// The schedule: aliases as soon as their base is computed, kernels as soon as every root
/// they read is. Panics on a cycle between kernels (grouping keeps them acyclic).
pub(super) fn order_kernels(
    nodes: &[NodeRef],
    groups: Vec<(Domain, Vec<NodeRef>)>,
    aliases: Vec<(NodeRef, NodeRef)>,
    deps: &HashMap<u64, HashSet<u64>>,
    lowering: &Lowering<'_>,
) -> Scheduled {
    let mut ordered = Scheduled::default();
    let mut done: HashSet<u64> = nodes
        .iter()
        .filter(|n| n.is_realized())
        .map(|n| n.id)
        .collect();
    let mut pending_groups = groups;
    let mut pending_alias = aliases;
    while !pending_groups.is_empty() || !pending_alias.is_empty() {
        let before = pending_groups.len() + pending_alias.len();
        pending_alias.retain(|(node, base)| {
            if !done.contains(&base.id) {
                return true;
            }
            ordered.steps.push(Step::Alias {
                node: node.clone(),
                of: base.clone(),
            });
            done.insert(node.id);
            false
        });
        let mut i = 0;
        while i < pending_groups.len() {
            let ready = pending_groups[i]
                .1
                .iter()
                .all(|r| deps[&r.id].iter().all(|d| done.contains(d)));
            if !ready {
                i += 1;
                continue;
            }
            let (dom, members) = pending_groups.remove(i);
            done.extend(members.iter().map(|m| m.id));
            let own_forced = kernel_barriers(&members, lowering.forced, lowering.stored_nests);
            let lowered = lower_kernel(dom, &members, lowering.walks, &own_forced);
            ordered.steps.push(Step::Kernel {
                kernel: ordered.kernels.len(),
                inputs: lowered.inputs,
                outputs: lowered.outputs,
            });
            ordered.kernels.push(lowered.item);
        }
        assert!(
            pending_groups.len() + pending_alias.len() < before,
            "scheduler: dependency cycle between kernels (this is a kiln bug)"
        );
    }
    ordered
}
