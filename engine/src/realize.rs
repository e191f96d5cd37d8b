//! Realization: schedule → compile (cached) → allocate → launch → attach buffers.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use crate::codegen::ast::KernelAst;
use crate::codegen::ir::Program;
use crate::debug;
use crate::error::Result;
use crate::graph::NodeRef;
use crate::runtime::{Buffer, Device, Launch};
use crate::schedule::{schedule, Step};

type ProgramKey = (
    KernelAst,
    bool,  /* cpu */
    bool,  /* noopt */
    usize, /* max local */
);

/// Programs are never evicted: devices key their compiled pipelines by program address.
fn program_cache() -> &'static Mutex<HashMap<ProgramKey, Arc<Program>>> {
    static CACHE: OnceLock<Mutex<HashMap<ProgramKey, Arc<Program>>>> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

/// One realize at a time: schedules read node state that realizes write.
fn realize_lock() -> &'static Mutex<()> {
    static LOCK: OnceLock<Mutex<()>> = OnceLock::new();
    LOCK.get_or_init(Default::default)
}

static CUMULATIVE: Mutex<f64> = Mutex::new(0.0);

/// Realizes every target (already realized ones are skipped), one schedule per device.
pub fn realize_nodes(targets: &[NodeRef]) -> Result<()> {
    let _guard = realize_lock().lock().unwrap_or_else(|e| e.into_inner());
    let mut by_device: Vec<(Device, Vec<NodeRef>)> = vec![];
    for t in targets.iter().filter(|t| !t.is_realized()) {
        match by_device.iter_mut().find(|(d, _)| *d == t.device) {
            Some((_, v)) if v.iter().any(|n| n.id == t.id) => {}
            Some((_, v)) => v.push(t.clone()),
            None => by_device.push((t.device.clone(), vec![t.clone()])),
        }
    }
    for (device, nodes) in by_device {
        realize_on(&device, &nodes)?;
    }
    Ok(())
}

fn realize_on(device: &Device, targets: &[NodeRef]) -> Result<()> {
    let t0 = std::time::Instant::now();
    let steps = schedule(targets);
    let sched_time = t0.elapsed().as_secs_f64();
    debug::count_realize();

    let limits = device.limits();
    let max_local = limits.max_workgroup_size.min(256);
    let (mut hits, mut misses) = (0, 0);
    let mut produced: HashMap<u64, Arc<Buffer>> = HashMap::new();
    let mut launches = vec![];
    let mut aliases = vec![];
    let mut realized: Vec<(NodeRef, Arc<Buffer>)> = vec![];
    let buffer_of = |n: &NodeRef, produced: &HashMap<u64, Arc<Buffer>>| -> Arc<Buffer> {
        n.buffer()
            .or_else(|| produced.get(&n.id).cloned())
            .expect("scheduler orders producers first")
    };
    for step in steps {
        match step {
            Step::Alias { node, of } => {
                let b = buffer_of(&of, &produced);
                produced.insert(node.id, b.clone());
                aliases.push(node.clone());
                realized.push((node, b));
            }
            Step::Kernel(item) => {
                let mut bufs: Vec<Arc<Buffer>> = item
                    .inputs
                    .iter()
                    .map(|n| buffer_of(n, &produced))
                    .collect();
                for out in &item.outputs {
                    let b = Arc::new(device.alloc(out.numel(), out.dtype)?);
                    produced.insert(out.id, b.clone());
                    realized.push((out.clone(), b.clone()));
                    bufs.push(b);
                }
                if item.ast.output_numel() == 0 {
                    continue; // nothing to compute for an empty output
                }
                let key = (item.ast, device.is_cpu(), debug::noopt(), max_local);
                let cached = program_cache().lock().unwrap().get(&key).cloned();
                let hit = cached.is_some();
                let program = cached.unwrap_or_else(|| {
                    let p = Arc::new(crate::codegen::compile(&key.0, max_local, key.2));
                    program_cache()
                        .lock()
                        .unwrap()
                        .insert(key.clone(), p.clone());
                    p
                });
                if hit {
                    hits += 1;
                } else {
                    misses += 1;
                }
                debug::count_program(hit);
                let compiled = device.prepare(&program)?;
                if !hit {
                    debug::print_program(
                        &key.0,
                        &program,
                        compiled.wgsl.as_deref().map(|s| s.as_str()),
                    );
                }
                launches.push(Launch {
                    program,
                    compiled,
                    bufs,
                });
            }
        }
    }
    debug::print_schedule(launches.len(), aliases.len(), sched_time, hits, misses);
    let timed = debug::level() >= 2;
    let times = device.run(&launches, timed)?;
    debug::count_launches(launches.len() as u64);
    if timed {
        let clock = match device.backend() {
            crate::runtime::Backend::Wgpu(w) if w.has_timestamps() => "timestamp",
            _ => "host clock",
        };
        let base = debug::stats().kernels_launched - launches.len() as u64;
        for (i, (l, t)) in launches.iter().zip(times).enumerate() {
            let mut cum = CUMULATIVE.lock().unwrap();
            *cum += t.unwrap_or(0.0);
            debug::print_kernel(
                device.short_name(),
                base + i as u64,
                &l.program,
                device.memory_in_use(),
                t,
                *cum,
                clock,
            );
        }
    }
    for (node, buf) in realized {
        node.set_realized(buf);
    }
    Ok(())
}
