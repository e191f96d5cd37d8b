//! Kernels merged after grouping: an elementwise kernel that rides along with a reduce
//! kernel of as many outputs (`ride_along`), and a materialized reduction stored by the
//! kernel that reads it through a broadcast, which computes it as a nest (`store_nests`).

use crate::hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use crate::graph::{NodeRef, Op};
use crate::target::DeviceLimits;

use super::group::{groups_acyclic, resolve_alias};
use super::lower::lower_kernel;
use super::nest_cost::{nest_cost, NestCost};
use super::{buffers, reduce_domain, walk_root, Domain, Walk, Walker};

/// How many reduce groups an elementwise group tries to ride along with.
const RIDE_ALONG_CANDIDATES: usize = 8;

/// The barriers one kernel's lowering sees: the forced nodes, less the nests it stores.
pub(super) fn kernel_barriers(
    members: &[NodeRef],
    forced: &HashSet<u64>,
    stored_nests: &HashSet<u64>,
) -> HashSet<u64> {
    let mut own = forced.clone();
    for m in members {
        if stored_nests.contains(&m.id) {
            own.remove(&m.id);
        }
    }
    own
}

/// A materialized reduction whose kernel is its alone (a chunk's max in a chunked softmax)
/// joins a reduce kernel of the same domain that reads it through a broadcast (the chunk's
/// sum of `exp(x - max)`): that kernel computes it as a nest, as it would if it were not
/// materialized, and stores it too, at its own output index. One kernel fewer, one read of
/// the input less. Only where the nest pays (`nest_cost`), nothing else in the kernel's walk
/// changes, the bindings fit and the kernels stay acyclic. Returns the reductions now stored
/// by a reader's kernel; their readers' walks and dependencies are updated.
#[allow(clippy::too_many_arguments)]
pub(super) fn store_nests(
    groups: &mut [(Domain, Vec<NodeRef>)],
    walks: &mut HashMap<u64, Walk>,
    deps: &mut HashMap<u64, HashSet<u64>>,
    forced: &HashSet<u64>,
    reads: &buffers::Reads,
    alias_base: &HashMap<u64, u64>,
    limits: &DeviceLimits,
    fuse_broadcast: bool,
) -> HashSet<u64> {
    let mut stored: HashSet<u64> = HashSet::default();
    if !fuse_broadcast {
        return stored;
    }
    for f in 0..groups.len() {
        let [ref nest] = groups[f].1[..] else {
            continue;
        };
        let nest = nest.clone();
        if !matches!(nest.op, Op::Reduce(..)) || !forced.contains(&nest.id) {
            continue;
        }
        let domain = reduce_domain(&nest);
        for k in 0..groups.len() {
            if k == f || groups[k].0 != domain || groups[k].1.is_empty() {
                continue;
            }
            let readers: Vec<NodeRef> = groups[k]
                .1
                .iter()
                .filter(|m| deps.get(&m.id).is_some_and(|d| d.contains(&nest.id)))
                .cloned()
                .collect();
            if readers.is_empty() {
                continue;
            }
            // The readers' walks with the nest computed in place of its buffer: the same
            // walks plus this one nest, or no merge.
            let mut own = kernel_barriers(&groups[k].1, forced, &stored);
            own.remove(&nest.id);
            let new_walks: Vec<(u64, Walk)> = readers
                .iter()
                .map(|r| (r.id, walk_root(r, &own, true)))
                .collect();
            let unchanged = new_walks.iter().all(|(id, w)| {
                let old = &walks[id];
                let ids = |v: &[NodeRef]| v.iter().map(|n| n.id).collect::<HashSet<u64>>();
                let mut want = ids(&old.broadcast);
                want.insert(nest.id);
                w.bad.is_empty() && ids(&w.fused) == ids(&old.fused) && ids(&w.broadcast) == want
            });
            if !unchanged {
                continue;
            }
            // One more output; the nest's own reads join the kernel's.
            let mut bufs: HashSet<u64> = groups[k]
                .1
                .iter()
                .flat_map(|m| reads.of(m.id).iter().copied())
                .collect();
            bufs.extend(reads.of(nest.id).iter().copied());
            bufs.remove(&nest.id);
            let outputs: usize = groups[k]
                .1
                .iter()
                .chain([&nest])
                .map(|o| limits.bindings_for(o.numel(), o.dtype))
                .sum();
            if reads.bindings(&bufs) + outputs > reads.limit {
                continue;
            }
            // Try the merge: the nest is lowered after its readers (so that they compute it
            // as a nest, and its store reuses that value).
            let saved_walks: Vec<(u64, Walk)> = new_walks
                .into_iter()
                .map(|(id, w)| (id, walks.insert(id, w).expect("a walked root")))
                .collect();
            let saved_deps: Vec<(u64, HashSet<u64>)> = readers
                .iter()
                .map(|r| {
                    let mut d = deps[&r.id].clone();
                    d.remove(&nest.id);
                    (r.id, deps.insert(r.id, d).expect("a root's deps"))
                })
                .collect();
            groups[f].1.clear();
            groups[k].1.push(nest.clone());
            let mut with = stored.clone();
            with.insert(nest.id);
            let barriers = kernel_barriers(&groups[k].1, forced, &with);
            let pays = matches!(
                nest_cost(
                    &lower_kernel(domain.clone(), &groups[k].1, walks, &barriers)
                        .item
                        .ast
                ),
                NestCost::Pays
            );
            if pays && groups_acyclic(groups, deps, alias_base) {
                stored.insert(nest.id);
                break;
            }
            groups[k].1.pop();
            groups[f].1.push(nest.clone());
            for (id, w) in saved_walks {
                walks.insert(id, w);
            }
            for (id, d) in saved_deps {
                deps.insert(id, d);
            }
        }
    }
    stored
}

/// An elementwise kernel whose output has as many elements as a reduce kernel's output is
/// stored by that kernel instead, at the same output index: `realize(&[x.mean(0),
/// x.var(0)])` materializes the sum, then computes var and `mean = sum / n` in one kernel
/// (3 kernels before). Only where the groups stay acyclic and the bindings fit; each
/// elementwise group tries a few reduce groups.
pub(super) fn ride_along(
    groups: &mut Vec<(Domain, Vec<NodeRef>)>,
    mut group_reads: Vec<HashSet<u64>>,
    reads: &buffers::Reads,
    deps: &HashMap<u64, HashSet<u64>>,
    alias_base: &HashMap<u64, u64>,
    limits: &DeviceLimits,
    has_broadcast: &dyn Fn(&NodeRef) -> bool,
) {
    let out_numel = |(full, axes, _): &Domain| -> usize {
        full.iter()
            .enumerate()
            .filter(|(a, _)| !axes.contains(a))
            .map(|(_, &d)| d)
            .product()
    };
    let mut by_numel: HashMap<usize, Vec<usize>> = HashMap::default();
    // Kernels with broadcast nests keep their domain: the cost rule was checked on it.
    let plain = |members: &[NodeRef]| !members.iter().any(has_broadcast);
    for (h, (dom, members)) in groups.iter().enumerate() {
        if !dom.1.is_empty() && plain(members) {
            by_numel.entry(out_numel(dom)).or_default().push(h);
        }
    }
    for g in 0..groups.len() {
        let (_, reduce_axes, walker) = &groups[g].0;
        if !reduce_axes.is_empty() || *walker != Walker::Plain || groups[g].1.is_empty() {
            continue;
        }
        if !plain(&groups[g].1) {
            continue;
        }
        let candidates = by_numel
            .get(&out_numel(&groups[g].0))
            .cloned()
            .unwrap_or_default();
        for &h in candidates.iter().take(RIDE_ALONG_CANDIDATES) {
            let reads_union: HashSet<u64> =
                group_reads[h].union(&group_reads[g]).copied().collect();
            let outputs = groups[h].1.iter().chain(&groups[g].1);
            let bindings = reads.bindings(&reads_union)
                + outputs
                    .map(|o| limits.bindings_for(o.numel(), o.dtype))
                    .sum::<usize>();
            if bindings > reads.limit {
                continue;
            }
            // Neither group may read the other's outputs (that would be a kernel reading
            // what it writes); reads through third groups show up as cycles below.
            let ids: HashSet<u64> = groups[h]
                .1
                .iter()
                .chain(&groups[g].1)
                .map(|m| m.id)
                .collect();
            let reads_own = ids.iter().any(|id| {
                deps.get(id)
                    .into_iter()
                    .flatten()
                    .any(|&d| ids.contains(&resolve_alias(d, alias_base)))
            });
            if reads_own {
                continue;
            }
            let moved = std::mem::take(&mut groups[g].1);
            groups[h].1.extend(moved.iter().cloned());
            if groups_acyclic(groups, deps, alias_base) {
                group_reads[h] = reads_union;
                break;
            }
            let keep = groups[h].1.len() - moved.len();
            groups[h].1.truncate(keep);
            groups[g].1 = moved;
        }
    }
    groups.retain(|(_, members)| !members.is_empty());
}
