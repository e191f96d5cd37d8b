//! Realization: plan (schedule → kernels with opts) → execute (allocate → launch → attach).
//!
//! `realize()` plans with the heuristics' opts and executes at once; `kiln::schedule` returns
//! the plan as a [`Schedule`] whose opts the caller may change before `Schedule::run` executes
//! it through the same path.

use std::collections::HashMap;
use std::collections::HashSet;
use std::sync::{Arc, Condvar, Mutex, OnceLock};

use crate::debug;
use crate::error::{Error, Result};
use crate::graph::{toposort, NodeRef};
use crate::kernel::{check_index_range, compiled_kernel, Kernel, OptChoice, Schedule};
use crate::plan_cache;
use crate::runtime::status::{self, Status};
use crate::runtime::{Backend, Buffer, Device, Launch};
use crate::schedule::{schedule, Step};
use crate::trace;

/// The unrealized nodes some thread is realizing now. A realize claims every unrealized node
/// of its graph under this short lock, then schedules, compiles and runs without any lock, so
/// threads realizing independent graphs (sharing realized inputs) run side by side. A thread
/// whose graph holds a node claimed by another waits until that realize ends and looks again
/// (the node is usually realized by then): a node is never computed by two threads at once,
/// and a thread waits only while it holds no claim, so waits cannot deadlock.
struct Claims {
    ids: Mutex<HashSet<u64>>,
    released: Condvar,
}

fn claims() -> &'static Claims {
    static CLAIMS: OnceLock<Claims> = OnceLock::new();
    CLAIMS.get_or_init(|| Claims {
        ids: Mutex::new(HashSet::new()),
        released: Condvar::new(),
    })
}

/// The claim on a realize's nodes; dropping it releases them and wakes waiting threads.
struct Claim(Vec<u64>);

impl Drop for Claim {
    fn drop(&mut self) {
        let c = claims();
        let mut ids = c.ids.lock().unwrap_or_else(|e| e.into_inner());
        for id in &self.0 {
            ids.remove(id);
        }
        drop(ids);
        c.released.notify_all();
    }
}

/// Claims the unrealized nodes under `targets`, waiting while another thread holds any.
fn claim(targets: &[NodeRef]) -> Claim {
    let c = claims();
    loop {
        // The walk runs outside the lock: a node realized meanwhile is either still claimed
        // (then we wait and walk again) or realized (then claiming it is harmless).
        // Constant views (a broadcast `2.0`, `log2(e)` inside `exp`) are in nearly every
        // graph; they hold no data and keep their sources when realized, so they are shared
        // unclaimed, or every thread would wait on the same constant.
        let wanted: Vec<u64> = toposort(targets)
            .iter()
            .filter(|n| !n.is_realized() && !n.constant_view)
            .map(|n| n.id)
            .collect();
        let mut ids = c.ids.lock().unwrap_or_else(|e| e.into_inner());
        if wanted.iter().all(|id| !ids.contains(id)) {
            ids.extend(wanted.iter().copied());
            return Claim(wanted);
        }
        drop(c.released.wait(ids).unwrap_or_else(|e| e.into_inner()));
    }
}

static CUMULATIVE: Mutex<f64> = Mutex::new(0.0);

/// Realizes every target (already realized ones are skipped), one schedule per device.
pub fn realize_nodes(targets: &[NodeRef]) -> Result<()> {
    let _claim = claim(targets);
    for (device, nodes) in by_device(targets) {
        let plan = plan(&device, &nodes, debug::noopt())?;
        execute(&plan)?;
    }
    Ok(())
}

/// The schedule a realize of `targets` would run (all unrealized targets on one device), or
/// with `noopt` the one it would run under NOOPT=1 (no opts, no broadcast nests).
/// The graph is claimed while it is planned (the scheduler walks it); a realize by another
/// thread after that makes the schedule stale (`Schedule::run` returns `Error::StaleSchedule`).
pub fn schedule_nodes(targets: &[NodeRef], noopt: bool) -> Result<Schedule> {
    let _claim = claim(targets);
    let groups = by_device(targets);
    match groups.len() {
        0 => {
            let device = targets
                .first()
                .map(|t| t.device.clone())
                .unwrap_or_else(Device::cpu);
            plan(&device, &[], noopt)
        }
        1 => plan(&groups[0].0, &groups[0].1, noopt),
        _ => {
            let names: Vec<String> = groups.iter().map(|(d, _)| d.name()).collect();
            Err(Error::Unsupported {
                device: names.join(", "),
                message: "schedule: the targets live on several devices; schedule each device's tensors separately".into(),
            })
        }
    }
}

impl Schedule {
    /// Realizes the targets with each kernel's current opts. Reading the tensors afterwards
    /// gives the values these kernels computed. Targets realized since the schedule was made
    /// are not computed again.
    pub fn run(self) -> Result<()> {
        let _claim = claim(&self.targets);
        if self.targets.iter().all(|t| t.is_realized()) {
            return Ok(());
        }
        let stale = self.steps.iter().any(|step| match step {
            Step::Kernel { outputs, .. } => outputs.iter().any(|o| o.is_realized()),
            Step::Alias { node, .. } => node.is_realized(),
        });
        if stale {
            return Err(Error::StaleSchedule);
        }
        execute(&self)
    }
}

fn by_device(targets: &[NodeRef]) -> Vec<(Device, Vec<NodeRef>)> {
    let mut by_device: Vec<(Device, Vec<NodeRef>)> = vec![];
    for t in targets.iter().filter(|t| !t.is_realized()) {
        match by_device.iter_mut().find(|(d, _)| *d == t.device) {
            Some((_, v)) if v.iter().any(|n| n.id == t.id) => {}
            Some((_, v)) => v.push(t.clone()),
            None => by_device.push((t.device.clone(), vec![t.clone()])),
        }
    }
    by_device
}

/// Schedules `targets` and builds each kernel with the heuristics' opts (`noopt`: as NOOPT=1
/// does, without broadcast nests or opts).
fn plan(device: &Device, targets: &[NodeRef], noopt: bool) -> Result<Schedule> {
    let t0 = web_time::Instant::now();
    let nodes = toposort(targets);
    let structure =
        plan_cache::structure(targets, &nodes, &device.limits(), device.is_cpu(), noopt);
    if let Some(s) = structure
        .as_ref()
        .and_then(|st| plan_cache::lookup(st, device, targets))
    {
        return Ok(s);
    }
    let scheduled = schedule(targets, nodes, &device.limits(), !noopt);
    let schedule_seconds = t0.elapsed().as_secs_f64();
    let choice = match noopt {
        true => OptChoice::Given(vec![]),
        false => OptChoice::Heuristic,
    };
    let mut kernels = vec![];
    let mut param_nodes = vec![];
    for item in scheduled.kernels {
        let ast = Arc::new(item.ast);
        check_index_range(&ast, device)?;
        let (compiled, hit) = compiled_kernel(&ast, choice.clone(), &device.limits())?;
        let params = item.params.iter().map(|p| p.to_bits()).collect();
        param_nodes.push(item.param_nodes);
        kernels.push(Kernel::from_compiled(
            ast,
            compiled,
            device,
            Arc::new(params),
            hit,
        ));
    }
    let s = Schedule {
        device: device.clone(),
        targets: targets.to_vec(),
        steps: scheduled.steps,
        kernels,
        schedule_seconds,
        cache_hit: false,
    };
    if let Some(st) = &structure {
        plan_cache::store(st, &s, &param_nodes);
    }
    Ok(s)
}

/// The output buffers of a launch of `kernel`, appended to its input buffers `bufs` with its
/// status words (where it checks indices) last; each output depends on the inputs' index
/// checks and its own (`runtime/status.rs`). A scatter's output starts zeroed.
fn alloc_outputs(
    kernel: &Kernel,
    outputs: &[NodeRef],
    bufs: &mut Vec<Arc<Buffer>>,
) -> Result<Vec<Arc<Buffer>>> {
    let device = kernel.device();
    let checks = &kernel.kernel_ast().checks;
    let own = match checks.is_empty() {
        true => None,
        false => Some(Status::new(device, checks)?),
    };
    let depends = status::union(bufs, own.as_ref());
    let ast = kernel.kernel_ast();
    let mut outs = vec![];
    for (i, out) in outputs.iter().enumerate() {
        let arg = bufs.len() + i;
        let b = match ast
            .stores
            .iter()
            .any(|s| s.buf == arg && s.scatter.is_some())
        {
            true => device.alloc_zeroed(out.numel(), out.dtype)?,
            false => device.alloc(out.numel(), out.dtype)?,
        };
        b.depends.set(depends.clone());
        outs.push(Arc::new(b));
    }
    bufs.extend(outs.iter().cloned());
    bufs.extend(own.map(|s| s.words()));
    Ok(outs)
}

fn execute(s: &Schedule) -> Result<()> {
    let device = &s.device;
    debug::count_realize();
    let (mut hits, mut misses) = (0, 0);
    let mut produced: HashMap<u64, Arc<Buffer>> = HashMap::new();
    let mut launches = vec![];
    // Indices into `s.kernels` of the launched kernels (kernels with no work are skipped).
    let mut launched: Vec<usize> = vec![];
    let mut aliases = 0;
    let mut realized: Vec<(NodeRef, Arc<Buffer>)> = vec![];
    let buffer_of = |n: &NodeRef, produced: &HashMap<u64, Arc<Buffer>>| -> Arc<Buffer> {
        n.buffer()
            .or_else(|| produced.get(&n.id).cloned())
            .expect("scheduler orders producers first")
    };
    for step in &s.steps {
        match step {
            Step::Alias { node, of } => {
                let b = buffer_of(of, &produced);
                produced.insert(node.id, b.clone());
                aliases += 1;
                realized.push((node.clone(), b));
            }
            Step::Kernel {
                kernel: index,
                inputs,
                outputs,
            } => {
                let kernel = &s.kernels[*index];
                let mut bufs: Vec<Arc<Buffer>> =
                    inputs.iter().map(|n| buffer_of(n, &produced)).collect();
                for (out, b) in outputs
                    .iter()
                    .zip(alloc_outputs(kernel, outputs, &mut bufs)?)
                {
                    produced.insert(out.id, b.clone());
                    realized.push((out.clone(), b));
                }
                // An empty output axis stays a global part of size 0 (opts refuse empty parts):
                // no workgroups, nothing to compute.
                let compiled = kernel.compiled().clone();
                if compiled.program.num_groups() == 0 {
                    continue;
                }
                let hit = kernel.cache_hit();
                if hit {
                    hits += 1;
                } else {
                    misses += 1;
                }
                let prepared = device.prepare(&compiled)?;
                if !hit {
                    debug::print_program(
                        kernel.kernel_ast(),
                        &compiled,
                        device.is_cpu(),
                        inputs,
                        outputs,
                    );
                }
                launched.push(*index);
                launches.push(Launch {
                    kernel: compiled,
                    prepared,
                    bufs,
                    params: kernel.params().to_vec(),
                });
            }
        }
    }
    debug::print_schedule(
        launches.len(),
        aliases,
        s.schedule_seconds,
        s.cache_hit,
        (hits, misses),
        device.memory_in_use(),
    );
    let tracing = trace::is_enabled();
    let timed = debug::level() >= 2 || tracing;
    let submit_us = if tracing {
        trace::record::now_us()
    } else {
        0.0
    };
    let times = device.run(&launches, timed)?;
    debug::count_launches(launches.len() as u64);
    let clock = match device.backend() {
        Backend::Wgpu(w) if w.has_timestamps() => "timestamp",
        // A page cannot wait inside a realize: its kernels are timed by Kernel::time_async.
        Backend::Wgpu(_) if crate::target::ON_WEB => "none (browser)",
        _ => "host clock",
    };
    if tracing {
        trace::record::realize(s, &launched, &times, clock, submit_us);
    }
    if debug::level() >= 2 {
        let base = debug::stats().kernels_launched - launches.len() as u64;
        for (i, (l, t)) in launches.iter().zip(times).enumerate() {
            let mut cum = CUMULATIVE.lock().unwrap();
            *cum += t.unwrap_or(0.0);
            debug::print_kernel(
                device.short_name(),
                base + i as u64,
                &l.kernel.program,
                device.memory_in_use(),
                t,
                *cum,
                clock,
            );
        }
    }
    for (node, buf) in realized {
        status::bound(&buf);
        node.set_realized(buf);
    }
    Ok(())
}
