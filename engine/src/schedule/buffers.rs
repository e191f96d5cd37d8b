//! Keeping kernels within the adapter's storage buffers per shader stage.
//!
//! Every buffer a kernel reads or writes is one storage binding, and adapters allow few:
//! WebGPU guarantees 8, browsers give 8-10, lavapipe 32. A wide expression (a sum of 200
//! tensors) would read more inputs than that, and a realize of 1,000 outputs would write more.
//! The scheduler materializes partial results of wide expressions here, and the grouping
//! (`mod.rs`) stops adding outputs to a kernel once its bindings would run out.

use crate::graph::{NodeRef, Op};
use crate::hash::{FxHashMap as HashMap, FxHashSet as HashSet};

/// The buffers (node ids, sorted) that each unrealized node's fused computation loads, as it
/// would be lowered in a kernel of its own.
pub(super) struct Reads {
    of: HashMap<u64, Vec<u64>>,
    /// The adapter's storage buffers per stage (`usize::MAX`: no limit).
    pub limit: usize,
}

impl Reads {
    /// The buffers `n`'s kernel reads (empty for a realized node).
    pub fn of(&self, n: u64) -> &[u64] {
        self.of.get(&n).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Whether a kernel of `outputs` outputs reading `reads` fits the limit.
    pub fn fits(&self, reads: usize, outputs: usize) -> bool {
        reads.saturating_add(outputs) <= self.limit
    }
}

/// Computes every node's reads, forcing a materialization wherever a node would read more than
/// `limit - 1` buffers (one binding is its output): the source that reads the most becomes a
/// buffer of its own, one binding instead of many. Returns the reads and whether anything was
/// forced (then the caller recomputes what depends on the forced set).
pub(super) fn bound_reads(
    nodes: &[NodeRef],
    forced: &mut HashSet<u64>,
    limit: usize,
) -> (Reads, bool) {
    let mut reads = Reads {
        of: HashMap::default(),
        limit,
    };
    if limit == usize::MAX {
        return (reads, false);
    }
    let cap = limit.saturating_sub(1).max(1);
    let mut changed = false;
    for n in nodes {
        if n.is_realized() {
            continue;
        }
        let srcs = n.srcs();
        loop {
            let seen = |s: &NodeRef, forced: &HashSet<u64>, of: &HashMap<u64, Vec<u64>>| {
                if s.is_realized() || forced.contains(&s.id) {
                    vec![s.id]
                } else {
                    of.get(&s.id).cloned().unwrap_or_default()
                }
            };
            let mut set: Vec<u64> = srcs
                .iter()
                .flat_map(|s| seen(s, forced, &reads.of))
                .collect();
            set.sort_unstable();
            set.dedup();
            if set.len() <= cap {
                reads.of.insert(n.id, set);
                break;
            }
            // Materialize the widest source that reads at least two buffers.
            let victim = srcs
                .iter()
                .filter(|s| !s.is_realized() && !forced.contains(&s.id))
                .filter(|s| !matches!(s.op, Op::Const(..)))
                .map(|s| (reads.of(s.id).len(), s))
                .filter(|(len, _)| *len >= 2)
                .max_by_key(|(len, _)| *len);
            match victim {
                Some((_, s)) => {
                    forced.insert(s.id);
                    changed = true;
                }
                None => {
                    // Cannot happen with a limit of 4 or more (a node has at most 3 sources);
                    // below that the device refuses the kernel with a clear error.
                    reads.of.insert(n.id, set);
                    break;
                }
            }
        }
    }
    (reads, changed)
}
