//! Visibility: process-wide counters ([`Stats`]) and the `DEBUG=N` printer, following
//! tinygrad's conventions. The level comes from the environment or [`set_level`].
//!
//! | level | prints |
//! |---|---|
//! | 1 | one line per realize: kernels scheduled, schedule time, schedule-cache hit/miss, program cache hits/misses, memory in use |
//! | 2 | one line per kernel: device, index, name, args, memory in use, time / cumulative, GFLOPS, GB/s; a line per copy between devices |
//! | 3 | + the opts chosen and each buffer (index, in/out, dtype, shape, strides of each view the kernel reads or writes over its domain) |
//! | 4 | + the WGSL source |
//! | 5 | + the lazy graph (the primitive ops fused into the kernel) and the kernel AST |
//! | 6 | + the linear IR |

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::OnceLock;

use crate::codegen::ast::{AstNode, KernelAst};
use crate::codegen::ir::Program;
use crate::codegen::CompiledKernel;
use crate::graph::{fused_nodes, NodeRef};
use crate::view::symbolic::{Atom, Lin};

/// `format!`s a line of DEBUG output to stderr, or to the browser's console in a page.
macro_rules! say {
    ($($t:tt)*) => {
        crate::target::console_line(&format!($($t)*))
    };
}

/// `LEVEL` before `DEBUG` was read.
const UNSET: u32 = u32::MAX;
static LEVEL: AtomicU32 = AtomicU32::new(UNSET);

/// The debug level: [`set_level`]'s, else the `DEBUG` environment variable's (0 when unset).
pub fn level() -> u32 {
    match LEVEL.load(Ordering::Relaxed) {
        UNSET => {
            let from_env = std::env::var("DEBUG")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            // A concurrent set_level wins over the environment.
            let _ = LEVEL.compare_exchange(UNSET, from_env, Ordering::Relaxed, Ordering::Relaxed);
            LEVEL.load(Ordering::Relaxed)
        }
        l => l,
    }
}

/// Sets the debug level from code (as `DEBUG=n` does), for the whole process.
pub fn set_level(level: u32) {
    LEVEL.store(level.min(UNSET - 1), Ordering::Relaxed);
}

/// `NOOPT=1` turns the optimizer's heuristics off.
pub fn noopt() -> bool {
    static NOOPT: OnceLock<bool> = OnceLock::new();
    *NOOPT.get_or_init(|| {
        std::env::var("NOOPT")
            .map(|v| v != "0" && !v.is_empty())
            .unwrap_or(false)
    })
}

static KERNELS_LAUNCHED: AtomicU64 = AtomicU64::new(0);
static REALIZES: AtomicU64 = AtomicU64::new(0);
static PROGRAMS_COMPILED: AtomicU64 = AtomicU64::new(0);
static PROGRAM_CACHE_HITS: AtomicU64 = AtomicU64::new(0);
static KERNEL_NANOS: AtomicU64 = AtomicU64::new(0);
static SCHEDULE_CACHE_HITS: AtomicU64 = AtomicU64::new(0);

/// Cumulative, process-wide counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Kernels dispatched on any device.
    pub kernels_launched: u64,
    /// Calls that scheduled at least one kernel or alias.
    pub realizes: u64,
    /// Programs generated (cache misses).
    pub programs_compiled: u64,
    /// Programs found in the cache.
    pub program_cache_hits: u64,
    /// Measured kernel time, when DEBUG >= 2 timed kernels.
    pub kernel_time_ns: u64,
    /// Realizes whose plan came from the schedule cache (no scheduling, lowering or codegen).
    pub schedule_cache_hits: u64,
    /// Buffers read back to the host: values asked for, and index checks' status words.
    pub buffers_read: u64,
}

/// A snapshot of the process-wide counters.
pub fn stats() -> Stats {
    Stats {
        kernels_launched: KERNELS_LAUNCHED.load(Ordering::Relaxed),
        realizes: REALIZES.load(Ordering::Relaxed),
        programs_compiled: PROGRAMS_COMPILED.load(Ordering::Relaxed),
        program_cache_hits: PROGRAM_CACHE_HITS.load(Ordering::Relaxed),
        kernel_time_ns: KERNEL_NANOS.load(Ordering::Relaxed),
        schedule_cache_hits: SCHEDULE_CACHE_HITS.load(Ordering::Relaxed),
        buffers_read: crate::runtime::buffers_read(),
    }
}

pub(crate) fn count_realize() {
    REALIZES.fetch_add(1, Ordering::Relaxed);
}
pub(crate) fn count_program(hit: bool) {
    if hit {
        PROGRAM_CACHE_HITS.fetch_add(1, Ordering::Relaxed);
    } else {
        PROGRAMS_COMPILED.fetch_add(1, Ordering::Relaxed);
    }
}
pub(crate) fn count_launches(n: u64) {
    KERNELS_LAUNCHED.fetch_add(n, Ordering::Relaxed);
}

/// DEBUG=1: one line per realize.
pub(crate) fn print_schedule(
    kernels: usize,
    aliases: usize,
    seconds: f64,
    schedule_cached: bool,
    (hits, misses): (usize, usize),
    memory_bytes: usize,
) {
    if schedule_cached {
        SCHEDULE_CACHE_HITS.fetch_add(1, Ordering::Relaxed);
    }
    if level() >= 1 {
        say!(
            "scheduled {kernels:5} kernels in {:8.2} ms | schedule cache {} | {aliases} aliased | programs: {hits} cache hit, {misses} cache miss | mem {:.2} GB",
            seconds * 1e3,
            if schedule_cached { "hit" } else { "miss" },
            memory_bytes as f64 / 1e9,
        );
    }
}

/// DEBUG>=3..6: what a kernel became, printed once when it is compiled. `inputs` and
/// `outputs` are the graph nodes whose buffers it binds, in binding order.
pub(crate) fn print_program(
    ast: &KernelAst,
    kernel: &CompiledKernel,
    on_cpu: bool,
    inputs: &[NodeRef],
    outputs: &[NodeRef],
) {
    let p = &kernel.program;
    let lvl = level();
    if lvl >= 3 {
        let opts: Vec<String> = p.opts.iter().map(|o| o.to_string()).collect();
        say!("{}  opts: ({})", p.colored_name, opts.join(", "));
        let domain: Vec<String> = ast.full_shape.iter().map(|d| d.to_string()).collect();
        for (i, (b, node)) in p.bufs.iter().zip(inputs.iter().chain(outputs)).enumerate() {
            say!(
                "  buf {i}: {:<3} {:<4} shape {:?}, {} over domain ({})",
                if b.output { "out" } else { "in" },
                b.dtype.name(),
                node.shape,
                buffer_views(ast, i).join("; "),
                domain.join(", "),
            );
        }
    }
    if lvl >= 4 {
        if on_cpu {
            say!("// CPU device: the interpreter runs the linear IR; a GPU would run this WGSL");
        }
        match kernel.wgsl() {
            Ok(src) => say!("{src}"),
            Err(e) => say!("// {e}"),
        }
    }
    if lvl >= 5 {
        say!("graph (the ops fused into {}):", p.name);
        for n in fused_nodes(outputs, inputs) {
            let srcs: Vec<String> = n.srcs().iter().map(|s| format!("%{}", s.id)).collect();
            say!(
                "  %{:<6} {:<4} {:?} = {}({})",
                n.id,
                n.dtype.name(),
                n.shape,
                n.op.describe(),
                srcs.join(", ")
            );
        }
        eprint!("{ast}");
    }
    if lvl >= 6 {
        eprint!("{p}");
    }
}

/// How the kernel indexes buffer `buf`, one entry per distinct index of its loads or stores:
/// `strides (s0, s1, ..)` over the domain axes (+ an offset) where the index is affine, the
/// index expression itself where a reshape left a division or remainder in it.
pub(crate) fn buffer_views(ast: &KernelAst, buf: usize) -> Vec<String> {
    let mut indices: Vec<&Lin> = vec![];
    for (_, e) in ast.exprs.iter() {
        if let AstNode::Load { buf: b, index, .. } = &e.op {
            if *b == buf && !indices.contains(&index) {
                indices.push(index);
            }
        }
    }
    for st in &ast.stores {
        if st.buf == buf && !indices.contains(&&st.index) {
            indices.push(&st.index);
        }
    }
    indices
        .into_iter()
        .map(|lin| {
            let mut strides = vec![0i64; ast.full_shape.len()];
            for (atom, coef) in lin.terms() {
                match atom {
                    Atom::Var(v) if (*v as usize) < strides.len() => strides[*v as usize] = coef,
                    _ => return format!("index {lin}"),
                }
            }
            let s: Vec<String> = strides.iter().map(|s| s.to_string()).collect();
            match lin.const_part() {
                0 => format!("strides ({})", s.join(", ")),
                c => format!("strides ({}) + {c}", s.join(", ")),
            }
        })
        .collect()
}

/// DEBUG=2: a copy between devices gets its own line (host clock: read back, then upload).
pub(crate) fn print_copy(from: &str, to: &str, bytes: usize, seconds: f64) {
    if level() >= 2 {
        say!(
            "*** COPY {from} -> {to} {:>10} bytes tm {:9.2}ms ({:7.2} GB/s) [host clock]",
            bytes,
            seconds * 1e3,
            bytes as f64 / seconds.max(1e-9) * 1e-9
        );
    }
}

/// DEBUG=2: one line per kernel, tinygrad's format.
#[allow(clippy::too_many_arguments)]
pub(crate) fn print_kernel(
    device: &str,
    index: u64,
    p: &Program,
    mem_bytes: usize,
    seconds: Option<f64>,
    cumulative: f64,
    clock: &str,
) {
    if let Some(s) = seconds {
        KERNEL_NANOS.fetch_add((s * 1e9) as u64, Ordering::Relaxed);
    }
    if level() < 2 {
        return;
    }
    let pad = 44usize.saturating_sub(p.name.len());
    let (tm, gflops, gbs) = match seconds {
        Some(s) if s > 0.0 => (
            s * 1e3,
            p.flops as f64 / s * 1e-9,
            p.bytes_moved() as f64 / s * 1e-9,
        ),
        _ => (0.0, 0.0, 0.0),
    };
    say!(
        "*** {device:<10} {index:4} {}{:pad$} arg {:2} mem {:6.2} GB tm {tm:9.2}ms/{:9.2}ms ({gflops:7.0} GFLOPS {gbs:7.2} GB/s) [{clock}]",
        p.colored_name,
        "",
        p.bufs.len(),
        mem_bytes as f64 / 1e9,
        cumulative * 1e3,
    );
}
