//! The schedule cache: a repeated step (the same graph over new data) skips scheduling,
//! lowering and the program lookups.
//!
//! The key is the graph's *structure*: the nodes under the targets in topological order, each
//! as its op, dtype, shape and the positions of its sources; realized nodes (the inputs) as
//! just their dtype and shape; user constants (the ones that become kernel parameters, see
//! `schedule::is_param`) as their dtype and which of them hold equal values (lowering shares
//! one parameter between equal constants), other constants by value; then the target
//! positions, the device's limits, its kind and NOOPT. Two graphs with the same key get the
//! same schedule, node for node, so a hit maps the cached plan's positions onto the new
//! graph's nodes and reads the kernel parameters from its constants.
//!
//! Plans whose scheduler rewrote the graph (a split reduction's new nodes have no position)
//! are not cached. Entries are bounded by bytes like the program caches (`cache.rs`).

use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex, OnceLock};

use crate::cache::Lru;
use crate::codegen::ast::KernelAst;
use crate::codegen::CompiledKernel;
use crate::graph::{NodeRef, Op};
use crate::hash::FxHashMap as HashMap;
use crate::kernel::{Kernel, Schedule};
use crate::runtime::Device;
use crate::schedule::{is_param, Step};
use crate::target::DeviceLimits;
use crate::view::Movement;

/// A graph's structure under some targets (see the module docs).
pub(crate) struct Structure {
    words: Vec<u64>,
    hash: u64,
    /// The nodes, in the order their positions refer to.
    nodes: Vec<NodeRef>,
    pos: HashMap<u64, u32>,
}

struct CachedKernel {
    ast: Arc<KernelAst>,
    compiled: Arc<CompiledKernel>,
    /// Positions of the constant nodes the parameters come from.
    params: Vec<u32>,
}

struct CachedPlan {
    words: Vec<u64>,
    /// The steps over node positions.
    steps: Vec<Step<u32>>,
    kernels: Vec<CachedKernel>,
}

type PlanCache = Mutex<Lru<u64, Arc<CachedPlan>>>;

fn plans() -> &'static PlanCache {
    static CACHE: OnceLock<PlanCache> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

/// Graphs with more nodes than this are not cached: their key would cost memory in
/// proportion, and their scheduling is not what dominates their time.
pub const MAX_CACHED_NODES: usize = 50_000;

/// The structure of the graph `nodes` (`toposort(targets)`; the targets unrealized, on one
/// device) for a device with `limits`; `None` past [`MAX_CACHED_NODES`].
pub(crate) fn structure(
    targets: &[NodeRef],
    nodes: &[NodeRef],
    limits: &DeviceLimits,
    cpu: bool,
    noopt: bool,
) -> Option<Structure> {
    if nodes.len() > MAX_CACHED_NODES {
        return None;
    }
    let mut words: Vec<u64> = Vec::with_capacity(nodes.len() * 6 + 16);
    let mut pos: HashMap<u64, u32> = HashMap::default();
    // Parameter constants: (dtype, bits) -> class, numbered in order of appearance.
    let mut classes: HashMap<(crate::dtype::DType, u32), u64> = HashMap::default();
    for (i, n) in nodes.iter().enumerate() {
        pos.insert(n.id, i as u32);
        words.push(n.dtype as u64);
        words.push(n.shape.len() as u64);
        words.extend(n.shape.iter().map(|&d| d as u64));
        if n.is_realized() {
            words.push(0); // an input: only its dtype and shape matter
            continue;
        }
        encode_op(&n.op, &mut words, &mut classes);
        let srcs = n.srcs();
        words.push(srcs.len() as u64);
        words.extend(srcs.iter().map(|s| pos[&s.id] as u64));
    }
    words.push(u64::MAX);
    words.extend(targets.iter().map(|t| pos[&t.id] as u64));
    words.extend([
        limits.max_storage_buffers as u64,
        limits.max_workgroup_size as u64,
        limits.max_workgroups_per_dim as u64,
        limits.workgroup_memory_bytes as u64,
        limits.max_loop_iterations.unwrap_or(u64::MAX),
        limits.max_binding_bytes as u64,
        limits.binding_offset_alignment as u64,
        limits.cpu_adapter as u64,
        limits
            .subgroup_sizes
            .map_or(0, |(lo, hi)| (lo as u64) << 32 | hi as u64),
        cpu as u64,
        noopt as u64,
    ]);
    let mut h = crate::hash::FxHasher::default();
    words.hash(&mut h);
    Some(Structure {
        hash: h.finish(),
        words,
        nodes: nodes.to_vec(),
        pos,
    })
}

fn encode_op(op: &Op, w: &mut Vec<u64>, classes: &mut HashMap<(crate::dtype::DType, u32), u64>) {
    match op {
        Op::Source(_) => w.push(1),
        Op::Iota => w.push(16),
        Op::Const(..) => {
            let s = op.const_value().expect("const");
            if is_param(s) {
                let next = classes.len() as u64;
                let class = *classes.entry(s.key()).or_insert(next);
                w.extend([2, class]);
            } else {
                w.extend([3, s.to_bits() as u64]);
            }
        }
        Op::Unary(u) => w.extend([4, *u as u64]),
        Op::Binary(b) => w.extend([5, *b as u64]),
        Op::Where => w.push(6),
        Op::Cast(d) => w.extend([7, *d as u64]),
        Op::Bitcast(d) => w.extend([21, *d as u64]),
        Op::Reduce(r, axes) => {
            w.extend([8, *r as u64, axes.len() as u64]);
            w.extend(axes.iter().map(|&a| a as u64));
        }
        Op::Contiguous => w.push(9),
        Op::Detach => w.push(22),
        Op::CheckIndex { len, op } => w.extend([17, *len as u64, *op as u64]),
        Op::Gather(axis) => w.extend([18, *axis as u64]),
        Op::Scan(op, axis) => w.extend([19, *op as u64, *axis as u64]),
        Op::Scatter(op, axis) => w.extend([20, *op as u64, *axis as u64]),
        Op::Movement(m) => {
            let (tag, args): (u64, Vec<u64>) = match m {
                Movement::Reshape(s) => (10, s.iter().map(|&d| d as u64).collect()),
                Movement::Permute(p) => (11, p.iter().map(|&d| d as u64).collect()),
                Movement::Expand(s) => (12, s.iter().map(|&d| d as u64).collect()),
                Movement::Pad(p) => (
                    13,
                    p.iter().flat_map(|&(a, b)| [a as u64, b as u64]).collect(),
                ),
                Movement::Shrink(p) => (
                    14,
                    p.iter().flat_map(|&(a, b)| [a as u64, b as u64]).collect(),
                ),
                Movement::Flip(f) => (15, f.iter().map(|&b| b as u64).collect()),
            };
            w.extend([tag, args.len() as u64]);
            w.extend(args);
        }
    }
}

/// The cached plan for `s` on `device`, rebuilt over `s`'s nodes, if there is one.
pub(crate) fn lookup(s: &Structure, device: &Device, targets: &[NodeRef]) -> Option<Schedule> {
    let t0 = web_time::Instant::now();
    let plan = plans().lock().unwrap().get(&s.hash)?;
    if plan.words != s.words {
        return None; // a hash collision
    }
    let node = |p: u32| s.nodes[p as usize].clone();
    let steps = plan
        .steps
        .iter()
        .map(|st| {
            st.try_map(|&p| Some(node(p)))
                .expect("every position has a node")
        })
        .collect();
    let kernels = plan
        .kernels
        .iter()
        .map(|k| {
            let params: Vec<u32> = k
                .params
                .iter()
                .map(|&p| {
                    let v = s.nodes[p as usize].op.const_value();
                    v.expect("a parameter's node is a constant").to_bits()
                })
                .collect();
            Kernel::from_compiled(
                k.ast.clone(),
                k.compiled.clone(),
                device,
                Arc::new(params),
                true,
            )
        })
        .collect();
    Some(Schedule {
        device: device.clone(),
        targets: targets.to_vec(),
        steps,
        kernels,
        schedule_seconds: t0.elapsed().as_secs_f64(),
        cache_hit: true,
    })
}

/// Remembers `schedule` (planned for `s`); `param_nodes[k]` are kernel `k`'s parameter nodes.
/// Plans that refer to nodes outside `s` (a rewritten graph) are not kept.
pub(crate) fn store(s: &Structure, schedule: &Schedule, param_nodes: &[Vec<NodeRef>]) {
    let p = |n: &NodeRef| s.pos.get(&n.id).copied();
    let steps: Option<Vec<Step<u32>>> = schedule.steps.iter().map(|st| st.try_map(p)).collect();
    let kernels: Option<Vec<CachedKernel>> = schedule
        .kernels
        .iter()
        .zip(param_nodes)
        .map(|(k, params)| {
            Some(CachedKernel {
                ast: k.ast_arc().clone(),
                compiled: k.compiled().clone(),
                params: params.iter().map(p).collect::<Option<_>>()?,
            })
        })
        .collect();
    let (Some(steps), Some(kernels)) = (steps, kernels) else {
        return;
    };
    // The entry's own size: the key words and the step lists (programs are counted by the
    // program caches that also hold them).
    let cost = s.words.len() * 8
        + steps
            .iter()
            .map(|st| match st {
                Step::Kernel {
                    inputs, outputs, ..
                } => 32 + 4 * (inputs.len() + outputs.len()),
                Step::Alias { .. } => 16,
            })
            .sum::<usize>()
        + kernels.len() * 64;
    let plan = Arc::new(CachedPlan {
        words: s.words.clone(),
        steps,
        kernels,
    });
    plans().lock().unwrap().insert(s.hash, plan, cost);
}
