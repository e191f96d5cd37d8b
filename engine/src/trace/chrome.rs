//! Export to the Chrome trace-event format, so that a trace's timeline opens in Perfetto
//! (ui.perfetto.dev) or chrome://tracing.
//!
//! One process per device. Thread 1 holds the host's realize spans (scheduling and codegen),
//! thread 2 the kernels (complete events, `ph: "X"`, with their FLOPs, bytes and opts as
//! arguments), and a counter track `memory` follows the bytes taken from the device's pool.

use std::collections::HashMap;

use serde_json::{json, Value};

use super::{Event, Trace};

impl Trace {
    /// The trace in the Chrome trace-event format (JSON object form).
    pub fn to_chrome_json(&self) -> String {
        let mut pids: HashMap<String, usize> = HashMap::new();
        let mut out: Vec<Value> = vec![];
        let mut pid_of = |device: &str, out: &mut Vec<Value>| -> usize {
            let next = pids.len() + 1;
            *pids.entry(device.to_string()).or_insert_with(|| {
                out.push(json!({"name": "process_name", "ph": "M", "pid": next,
                                "args": {"name": device}}));
                out.push(
                    json!({"name": "thread_name", "ph": "M", "pid": next, "tid": 1,
                                "args": {"name": "host: realize"}}),
                );
                out.push(
                    json!({"name": "thread_name", "ph": "M", "pid": next, "tid": 2,
                                "args": {"name": "kernels"}}),
                );
                next
            })
        };
        let mut buffers: HashMap<u64, (usize, u64)> = HashMap::new();
        let mut in_use: HashMap<usize, u64> = HashMap::new();
        for e in &self.events {
            match e {
                Event::Realize {
                    id,
                    device,
                    at_us,
                    schedule_us,
                    kernels,
                    ..
                } => {
                    let pid = pid_of(device, &mut out);
                    out.push(json!({
                        "name": format!("realize {id}"), "cat": "realize", "ph": "X",
                        "ts": at_us - schedule_us, "dur": schedule_us, "pid": pid, "tid": 1,
                        "args": {"kernels": kernels.len()},
                    }));
                }
                Event::Kernel(k) => {
                    let pid = pid_of(&k.device, &mut out);
                    out.push(json!({
                        "name": k.name, "cat": "kernel", "ph": "X",
                        "ts": k.start_us, "dur": k.time_us.unwrap_or(0.0), "pid": pid, "tid": 2,
                        "args": {"id": k.id, "realize": k.realize, "flops": k.flops,
                                 "bytes": k.bytes, "opts": k.opts, "clock": k.clock},
                    }));
                }
                Event::Alloc {
                    buffer,
                    device,
                    bytes,
                    at_us,
                } => {
                    let pid = pid_of(device, &mut out);
                    buffers.insert(*buffer, (pid, *bytes));
                    let total = in_use.entry(pid).or_default();
                    *total += bytes;
                    out.push(json!({"name": "memory", "ph": "C", "ts": at_us, "pid": pid,
                                    "args": {"bytes": *total}}));
                }
                Event::Free { buffer, at_us } => {
                    if let Some((pid, bytes)) = buffers.remove(buffer) {
                        let total = in_use.entry(pid).or_default();
                        *total = total.saturating_sub(bytes);
                        out.push(json!({"name": "memory", "ph": "C", "ts": at_us, "pid": pid,
                                        "args": {"bytes": *total}}));
                    }
                }
                Event::Device { .. } | Event::Probes { .. } => {}
            }
        }
        json!({"traceEvents": out, "displayTimeUnit": "ms"}).to_string()
    }
}
