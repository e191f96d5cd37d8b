//! Keeping kernels within the adapter's storage buffers per shader stage.
//!
//! Every buffer a kernel reads or writes takes a storage binding (a buffer longer than one
//! binding holds takes several windows, see `Program::bindings`; a kernel that checks indices
//! binds its status words too), and adapters allow few:
//! WebGPU guarantees 8, browsers give 8-10, lavapipe 32. A wide expression (a sum of 200
//! tensors) would read more inputs than that, and a realize of 1,000 outputs would write more.
//! The scheduler materializes partial results of wide expressions here, and the grouping
//! (`mod.rs`) stops adding outputs to a kernel once its bindings would run out.

use crate::graph::{NodeRef, Op};
use crate::hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use crate::target::DeviceLimits;

/// The id that stands for a kernel's status words among the buffers it reads: a node that
/// checks indices binds them (node ids start at 1 and never reach it).
const STATUS_WORDS: u64 = u64::MAX;

/// The buffers (node ids, sorted) that each unrealized node's fused computation loads, as it
/// would be lowered in a kernel of its own, and the bindings each buffer takes.
pub(super) struct Reads {
    of: HashMap<u64, Vec<u64>>,
    bindings: HashMap<u64, usize>,
    /// The adapter's storage bindings per stage.
    pub limit: usize,
}

impl Reads {
    /// The buffers `n`'s kernel reads (empty for a realized node).
    pub fn of(&self, n: u64) -> &[u64] {
        self.of.get(&n).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The bindings that reading `bufs` (ids from [`Reads::of`]) takes.
    pub fn bindings<'a>(&self, bufs: impl IntoIterator<Item = &'a u64>) -> usize {
        bufs.into_iter().map(|b| self.bindings[b]).sum()
    }
}

/// Computes every node's reads, forcing a materialization wherever a node's kernel would bind
/// more than the adapter allows (its reads plus its output): the source that reads the most
/// becomes a buffer of its own, one binding instead of many. Returns the reads and whether
/// anything was forced (then the caller recomputes what depends on the forced set).
pub(super) fn bound_reads(
    nodes: &[NodeRef],
    forced: &mut HashSet<u64>,
    limits: &DeviceLimits,
) -> (Reads, bool) {
    let mut reads = Reads {
        of: HashMap::default(),
        bindings: HashMap::from_iter([(STATUS_WORDS, 1)]),
        limit: limits.max_storage_buffers,
    };
    let mut changed = false;
    for n in nodes {
        if n.is_realized() {
            continue;
        }
        let srcs = n.srcs();
        for s in &srcs {
            reads
                .bindings
                .insert(s.id, limits.bindings_for(s.numel(), s.dtype));
        }
        let cap = reads
            .limit
            .saturating_sub(limits.bindings_for(n.numel(), n.dtype));
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
            if matches!(n.op, Op::CheckIndex { .. }) {
                set.push(STATUS_WORDS);
            }
            set.sort_unstable();
            set.dedup();
            if reads.bindings(&set) <= cap {
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
                    // Only when three huge sources need more windows than the adapter binds:
                    // the device then refuses the kernel with a clear error.
                    reads.of.insert(n.id, set);
                    break;
                }
            }
        }
    }
    (reads, changed)
}
