//! The engine's side of tracing: turning a realize, a kernel launch, a buffer or a probe run
//! into [`Event`]s. Every entry point returns at once when tracing is off.

use std::collections::HashMap;

use crate::debug::buffer_views;
use crate::graph::{fused_nodes, toposort, NodeRef};
use crate::kernel::{Kernel, Schedule};
use crate::runtime::Device;
use crate::schedule::Step;

use super::{
    is_enabled, with_recorder, BufferInfo, Event, KernelInfo, Limits, NodeInfo, PartInfo, Recorder,
};

/// Makes the runtime report buffer allocations and frees to the recorder.
pub(super) fn observe_buffers() {
    crate::runtime::observe_buffers(crate::runtime::BufferObserver { alloc, free });
}

/// Microseconds since tracing started (0 when it is off).
pub(crate) fn now_us() -> f64 {
    let mut t = 0.0;
    with_recorder(|r| t = r.now_us());
    t
}

fn ensure_device(r: &mut Recorder, device: &Device) -> String {
    let name = device.name();
    if !r.devices.contains(&name) {
        r.devices.push(name.clone());
        let l = device.limits();
        r.push(Event::Device {
            name: name.clone(),
            cpu: device.is_cpu(),
            limits: Limits {
                max_storage_buffers: l.max_storage_buffers,
                max_workgroup_size: l.max_workgroup_size,
                workgroup_memory_bytes: l.workgroup_memory_bytes,
                max_binding_bytes: l.max_binding_bytes,
                max_loop_iterations: l.max_loop_iterations,
            },
        });
    }
    name
}

/// A buffer of `bytes` was taken from `device`'s pool (registered with the runtime as its
/// buffer observer when tracing starts).
fn alloc(device: &Device, buffer: u64, bytes: usize) {
    with_recorder(|r| {
        let device = ensure_device(r, device);
        let at_us = r.now_us();
        r.push(Event::Alloc {
            buffer,
            device,
            bytes: bytes as u64,
            at_us,
        });
    });
}

/// A buffer went back to its device's pool.
fn free(buffer: u64) {
    with_recorder(|r| {
        let at_us = r.now_us();
        r.push(Event::Free { buffer, at_us });
    });
}

/// The roofline probes were measured on `device`.
pub(crate) fn probes(device: &Device, copy_gbs: f64, fma_gflops: f64) {
    with_recorder(|r| {
        let device = ensure_device(r, device);
        let at_us = r.now_us();
        r.push(Event::Probes {
            device,
            copy_gbs,
            fma_gflops,
            at_us,
        });
    });
}

/// What a realize is about to launch: called with the schedule before its outputs are
/// attached (the graph still has its sources). `launched[i]` is the index into
/// `s.kernels` of the i-th launch, `times` its measured seconds, `submit_us` when it was
/// submitted.
pub(crate) fn realize(
    s: &Schedule,
    launched: &[usize],
    times: &[Option<f64>],
    clock: &str,
    submit_us: f64,
) {
    if !is_enabled() {
        return;
    }
    // Which kernel computed each node: walk from a kernel's outputs to its inputs.
    let mut kernel_of_index: HashMap<usize, u64> = HashMap::new();
    let mut kernel_of_node: HashMap<u64, usize> = HashMap::new();
    let mut bound: HashMap<usize, (&[NodeRef], &[NodeRef])> = HashMap::new();
    for step in &s.steps {
        if let Step::Kernel {
            kernel: index,
            inputs,
            outputs,
        } = step
        {
            for n in fused_nodes(outputs, inputs) {
                kernel_of_node.entry(n.id).or_insert(*index);
            }
            bound.insert(*index, (inputs, outputs));
        }
    }
    let parts_of = |k: &Kernel| -> Vec<PartInfo> {
        k.compiled()
            .parts
            .iter()
            .map(|p| PartInfo {
                axis: p.axis,
                kind: format!("{:?}", p.kind).to_lowercase(),
                size: p.size,
            })
            .collect()
    };
    // Walked outside the recorder's lock: no node (and so no buffer, whose drop records a
    // `free`) may be dropped while it is held.
    let graph = toposort(&s.targets);
    with_recorder(|r| {
        let device = ensure_device(r, &s.device);
        let realize_id = r.next_realize;
        r.next_realize += 1;
        for &index in launched {
            kernel_of_index.insert(index, r.next_kernel);
            r.next_kernel += 1;
        }
        let nodes: Vec<NodeInfo> = graph
            .iter()
            .map(|n| NodeInfo {
                id: n.id,
                op: n.op.describe(),
                dtype: n.dtype.name().into(),
                shape: n.shape.clone(),
                srcs: n.srcs().iter().map(|s| s.id).collect(),
                kernel: kernel_of_node
                    .get(&n.id)
                    .and_then(|i| kernel_of_index.get(i).copied()),
            })
            .collect();
        r.push(Event::Realize {
            id: realize_id,
            device: device.clone(),
            at_us: submit_us,
            schedule_us: s.schedule_seconds * 1e6,
            kernels: launched.iter().map(|i| kernel_of_index[i]).collect(),
            nodes,
        });
        let mut start_us = submit_us;
        for (&index, &time) in launched.iter().zip(times) {
            let k = &s.kernels[index];
            let (inputs, outputs) = bound[&index];
            let buffers = k
                .buffers()
                .iter()
                .zip(inputs.iter().chain(outputs))
                .enumerate()
                .map(|(i, (b, n))| BufferInfo {
                    index: i,
                    dtype: b.dtype.name().into(),
                    numel: b.numel,
                    output: b.output,
                    node: n.id,
                    shape: n.shape.clone(),
                    views: buffer_views(k.kernel_ast(), i),
                })
                .collect();
            let time_us = time.map(|t| t * 1e6);
            r.kernels.insert(kernel_of_index[&index], k.clone());
            r.push(Event::Kernel(Box::new(KernelInfo {
                id: kernel_of_index[&index],
                realize: realize_id,
                device: device.clone(),
                name: k.name().into(),
                parts: parts_of(k),
                domain: k.kernel_ast().full_shape.clone(),
                opts: k.opts().iter().map(|o| o.to_string()).collect(),
                buffers,
                wgsl: k
                    .compiled()
                    .wgsl()
                    .map_or_else(|e| e.to_string(), |w| w.to_string()),
                ir: k.ir(),
                ast: k.ast(),
                global_size: k.global_size(),
                local_size: k.local_size(),
                flops: k.flops(),
                bytes: k.bytes(),
                start_us,
                time_us,
                clock: clock.into(),
            })));
            start_us += time_us.unwrap_or(0.0);
        }
    });
}
