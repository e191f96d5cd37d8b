//! Traces: a record of what the engine did, for the inspector, for Perfetto, and for anyone
//! who wants to see which kernels their code became.
//!
//! Switch it on with `KILN_TRACE=path.json` (the file is rewritten as a valid JSON document
//! after every event, so a crash or an exit leaves a readable trace) or from code with
//! [`start`] / [`start_file`], and take what was recorded with [`stop`] or [`snapshot`].
//! With tracing off, the engine's only trace work is one atomic load per realize and per
//! buffer allocation; built without the `trace` cargo feature (on by default), not even that.
//!
//! While recording, the recorder also keeps each launched [`Kernel`] alive, so an in-process
//! tool (the inspector's kernel lab) can re-render and re-time it under other opts:
//! [`live_kernel`] by the trace's kernel id.
//!
//! # Format (version 1)
//!
//! ```json
//! {"format": "kiln-trace", "version": 1, "events": [ {"type": "device", ...}, ... ]}
//! ```
//!
//! Every event has a `type`; times are microseconds since tracing started (`at_us`,
//! `start_us`), durations are microseconds.
//!
//! | type | fields |
//! |---|---|
//! | `device` | `name`, `cpu` (the interpreter, not wgpu), `limits` (storage buffers, workgroup size and memory, binding size, loop bound) |
//! | `probes` | `device`, `copy_gbs`, `fma_gflops`: the roofline probes, when measured while tracing |
//! | `realize` | `id`, `device`, `at_us`, `schedule_us` (scheduling and codegen), `kernels` (ids), `nodes`: the lazy graph it computed, each node with `id`, `op`, `dtype`, `shape`, `srcs` (node ids) and `kernel` (the kernel it was fused into; `null` for inputs and aliases) |
//! | `kernel` | `id`, `realize`, `device`, `name`, `parts` (`axis`, `kind`: global, loop, local, group, upcast, reduce or unroll, `size`), `domain` (the axis sizes before opts), `opts`, `buffers` (`index`, `dtype`, `numel`, `output`, `node`, `shape`, `views`: strides over the domain, as DEBUG=3 prints them), `wgsl`, `ir`, `ast`, `global_size`, `local_size`, `flops`, `bytes` (estimates), `start_us`, `time_us` and `clock` (`timestamp`: the GPU's own; `host clock`: around a synchronized launch; `none (browser)`: not measured, a page cannot wait inside a realize) |
//! | `alloc` | `buffer` (a process-wide id), `device`, `bytes`, `at_us`: a buffer taken from the device's pool |
//! | `free` | `buffer`, `at_us`: the buffer went back to the pool |
//!
//! A kernel's `start_us` is the host time its realize submitted, plus the times of the kernels
//! before it in that realize: the GPU runs them back to back.

use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};
use web_time::Instant;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::kernel::Kernel;

mod chrome;
pub(crate) mod record;

/// The format version this build writes and reads.
pub const VERSION: u32 = 1;

/// A recorded trace: the events in the order they happened.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Trace {
    /// Always `kiln-trace`.
    pub format: String,
    /// The format version ([`VERSION`]).
    pub version: u32,
    /// What happened, in order.
    pub events: Vec<Event>,
}

/// One thing the engine did (see the module docs for the fields).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// A device was first used.
    Device {
        /// Its name (`Device::name`), by which other events refer to it.
        name: String,
        /// The CPU reference device rather than a wgpu adapter.
        cpu: bool,
        /// What its kernels must respect.
        limits: Limits,
    },
    /// The roofline probes were measured.
    Probes {
        /// The device measured.
        device: String,
        /// Copy bandwidth, GB/s.
        copy_gbs: f64,
        /// FMA throughput, GFLOPS.
        fma_gflops: f64,
        /// When, in microseconds since tracing started.
        at_us: f64,
    },
    /// A realize: its graph and the kernels it launched.
    Realize {
        /// Its id, by which kernels refer to it.
        id: u64,
        /// The device it ran on.
        device: String,
        /// When it submitted its kernels.
        at_us: f64,
        /// Microseconds spent scheduling and compiling.
        schedule_us: f64,
        /// The ids of its kernels, in launch order.
        kernels: Vec<u64>,
        /// The lazy graph it computed.
        nodes: Vec<NodeInfo>,
    },
    /// A kernel launch.
    Kernel(Box<KernelInfo>),
    /// A buffer was taken from a device's pool.
    Alloc {
        /// A process-wide buffer id.
        buffer: u64,
        /// The device.
        device: String,
        /// Its size.
        bytes: u64,
        /// When.
        at_us: f64,
    },
    /// A buffer went back to its device.
    Free {
        /// The buffer's id.
        buffer: u64,
        /// When.
        at_us: f64,
    },
}

/// A device's limits, as the scheduler and the optimizer see them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Limits {
    /// Storage buffers one kernel may bind.
    pub max_storage_buffers: usize,
    /// Invocations per workgroup.
    pub max_workgroup_size: usize,
    /// Workgroup memory, in bytes.
    pub workgroup_memory_bytes: usize,
    /// The largest storage binding, in bytes.
    pub max_binding_bytes: usize,
    /// Iterations a loop may run per invocation where the driver stops longer loops.
    pub max_loop_iterations: Option<u64>,
}

/// One node of a realized graph.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NodeInfo {
    /// The node's id.
    pub id: u64,
    /// The primitive op, as text.
    pub op: String,
    /// The dtype's name.
    pub dtype: String,
    /// The shape.
    pub shape: Vec<usize>,
    /// The ids of its sources.
    pub srcs: Vec<u64>,
    /// The kernel it was fused into (`None` for inputs and aliases).
    pub kernel: Option<u64>,
}

/// One part of a kernel's loop structure after opts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PartInfo {
    /// The domain axis it belongs to.
    pub axis: usize,
    /// global, loop, local, group, upcast, reduce or unroll.
    pub kind: String,
    /// Its size.
    pub size: usize,
}

/// One storage buffer a kernel binds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BufferInfo {
    /// Its binding position (inputs first).
    pub index: usize,
    /// The dtype's name.
    pub dtype: String,
    /// Elements.
    pub numel: usize,
    /// Written by the kernel (else only read).
    pub output: bool,
    /// The graph node whose buffer it is.
    pub node: u64,
    /// That node's shape.
    #[serde(default)]
    pub shape: Vec<usize>,
    /// How the kernel indexes it, one entry per distinct index (DEBUG=3's text): `strides
    /// (..)` over the kernel's domain axes, plus an offset, or the index expression.
    #[serde(default)]
    pub views: Vec<String>,
}

/// One kernel launch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KernelInfo {
    /// The kernel launch's id.
    pub id: u64,
    /// The realize that launched it.
    pub realize: u64,
    /// The device it ran on.
    pub device: String,
    /// tinygrad's name (`E_`/`r_` and the part sizes).
    pub name: String,
    /// Its loop parts after opts.
    pub parts: Vec<PartInfo>,
    /// The kernel's domain before opts: the axes `parts` and buffer strides refer to.
    #[serde(default)]
    pub domain: Vec<usize>,
    /// The opts it was compiled with.
    pub opts: Vec<String>,
    /// The storage buffers it binds, inputs first.
    pub buffers: Vec<BufferInfo>,
    /// Its WGSL source.
    pub wgsl: String,
    /// Its linear IR.
    pub ir: String,
    /// Its kernel AST.
    pub ast: String,
    /// Sizes of the global parts (workgroups).
    pub global_size: Vec<usize>,
    /// Sizes of the local and group parts (lanes per workgroup).
    pub local_size: Vec<usize>,
    /// Estimated ALU operations.
    pub flops: u64,
    /// Bytes of the buffers it reads and writes.
    pub bytes: u64,
    /// When it started: its realize's submit time plus the kernels before it.
    pub start_us: f64,
    /// Its device time, when measured.
    pub time_us: Option<f64>,
    /// What measured it: `timestamp` (the GPU's own), `host clock`, or `none (browser)`.
    pub clock: String,
}

impl Trace {
    fn new(events: Vec<Event>) -> Trace {
        Trace {
            format: "kiln-trace".into(),
            version: VERSION,
            events,
        }
    }

    /// The trace as JSON (the format in the module docs).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a trace serializes")
    }

    /// Reads a trace written by [`Trace::to_json`] or `KILN_TRACE`.
    pub fn from_json(text: &str) -> Result<Trace> {
        let t: Trace = serde_json::from_str(text).map_err(|e| Error::Trace(e.to_string()))?;
        if t.format != "kiln-trace" || t.version != VERSION {
            return Err(Error::Trace(format!(
                "{} version {} is not a kiln trace of version {VERSION}",
                t.format, t.version
            )));
        }
        Ok(t)
    }

    /// Writes [`Trace::to_json`] to `path`.
    pub fn write(&self, path: impl AsRef<Path>) -> Result<()> {
        std::fs::write(path.as_ref(), self.to_json())
            .map_err(|e| Error::Trace(format!("writing {}: {e}", path.as_ref().display())))
    }

    /// The kernels, in launch order.
    pub fn kernels(&self) -> impl Iterator<Item = &KernelInfo> {
        self.events.iter().filter_map(|e| match e {
            Event::Kernel(k) => Some(k.as_ref()),
            _ => None,
        })
    }
}

/// Whether tracing is on (the first call reads `KILN_TRACE`). Always false when kiln is
/// built without the `trace` feature: every trace call site is then dead code.
#[inline]
pub fn is_enabled() -> bool {
    if !cfg!(feature = "trace") {
        return false;
    }
    static FROM_ENV: OnceLock<()> = OnceLock::new();
    FROM_ENV.get_or_init(|| {
        if let Some(path) = std::env::var_os("KILN_TRACE").filter(|p| !p.is_empty()) {
            if let Err(e) = start_file(&path) {
                eprintln!("kiln: KILN_TRACE: {e}");
            }
        }
    });
    ENABLED.load(Ordering::Relaxed)
}

/// Starts recording in memory (dropping anything recorded before). Fails only when kiln
/// was built without the `trace` feature.
pub fn start() -> Result<()> {
    compiled_in()?;
    begin(None);
    Ok(())
}

/// Starts recording, and keeps `path` a complete trace file after every event.
pub fn start_file(path: impl AsRef<Path>) -> Result<()> {
    compiled_in()?;
    let path = path.as_ref();
    let file = File::create(path)
        .map_err(|e| Error::Trace(format!("creating {}: {e}", path.display())))?;
    begin(Some(file));
    Ok(())
}

/// Stops recording and returns what was recorded (empty when tracing was off).
pub fn stop() -> Trace {
    ENABLED.store(false, Ordering::Relaxed);
    let mut state = STATE.lock().unwrap_or_else(|e| e.into_inner());
    Trace::new(state.take().map(|r| r.events).unwrap_or_default())
}

/// What has been recorded so far, without stopping.
pub fn snapshot() -> Trace {
    let state = STATE.lock().unwrap_or_else(|e| e.into_inner());
    Trace::new(state.as_ref().map(|r| r.events.clone()).unwrap_or_default())
}

/// How many events have been recorded so far (0 when not recording): a cheap way for a
/// viewer to see whether [`snapshot`] has anything new.
pub fn event_count() -> usize {
    let state = STATE.lock().unwrap_or_else(|e| e.into_inner());
    state.as_ref().map_or(0, |r| r.events.len())
}

/// The kernel that the current recording traced as `id` (a `kernel` event's id), alive for
/// re-rendering and re-timing under other opts; `None` when not recording or unknown.
pub fn live_kernel(id: u64) -> Option<Kernel> {
    let state = STATE.lock().unwrap_or_else(|e| e.into_inner());
    state.as_ref().and_then(|r| r.kernels.get(&id).cloned())
}

fn compiled_in() -> Result<()> {
    if cfg!(feature = "trace") {
        Ok(())
    } else {
        Err(Error::Trace(
            "kiln was built without its `trace` feature; enable it to record traces".into(),
        ))
    }
}

static ENABLED: AtomicBool = AtomicBool::new(false);
static STATE: Mutex<Option<Recorder>> = Mutex::new(None);

/// The recording in progress.
struct Recorder {
    start: Instant,
    events: Vec<Event>,
    /// The file kept complete after every event, and whether it has an event yet.
    file: Option<(File, bool)>,
    devices: Vec<String>,
    /// The launched kernels by trace id, for [`live_kernel`]. A kernel holds its program and
    /// constants, not its buffers.
    kernels: std::collections::HashMap<u64, Kernel>,
    next_realize: u64,
    next_kernel: u64,
}

fn begin(file: Option<File>) {
    record::observe_buffers();
    let mut state = STATE.lock().unwrap_or_else(|e| e.into_inner());
    let mut r = Recorder {
        start: Instant::now(),
        events: vec![],
        file: file.map(|f| (f, false)),
        devices: vec![],
        kernels: Default::default(),
        next_realize: 0,
        next_kernel: 0,
    };
    if let Some((f, _)) = &mut r.file {
        let head = format!("{{\"format\":\"kiln-trace\",\"version\":{VERSION},\"events\":[]}}");
        let _ = f.write_all(head.as_bytes());
    }
    *state = Some(r);
    ENABLED.store(true, Ordering::Relaxed);
}

impl Recorder {
    fn now_us(&self) -> f64 {
        self.start.elapsed().as_secs_f64() * 1e6
    }

    fn push(&mut self, e: Event) {
        if let Some((f, any)) = &mut self.file {
            // The file always ends with `]}`: write over it, then close the document again.
            let text = serde_json::to_string(&e).expect("an event serializes");
            let sep = if *any { "," } else { "" };
            let ok = f.seek(SeekFrom::End(-2)).is_ok()
                && f.write_all(format!("{sep}{text}]}}").as_bytes()).is_ok();
            if !ok {
                eprintln!("kiln: the trace file could not be written; tracing in memory only");
                self.file = None;
            } else {
                *any = true;
            }
        }
        self.events.push(e);
    }
}

/// Runs `f` on the recorder when tracing is on.
fn with_recorder(f: impl FnOnce(&mut Recorder)) {
    if !is_enabled() {
        return;
    }
    let mut state = STATE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(r) = state.as_mut() {
        f(r);
    }
}
