//! The wgpu runtime: one device per process on the best adapter, a size-class buffer pool, a
//! pipeline cache keyed by WGSL source, and batched dispatch.
//!
//! - The device is created with the adapter's own limits (not WebGPU's defaults) and with
//!   TIMESTAMP_QUERY when the adapter has it.
//! - Kernels are recorded into one open command encoder shared by successive `run`s and
//!   submitted in batches (see `batch.rs`); the host only waits when a value is read (or when
//!   DEBUG asks for per-kernel times), spinning briefly before it blocks (see `poll.rs`).
//! - Per-kernel time comes from timestamp queries where supported, else from a synchronized
//!   host clock (DEBUG output says which).
//! - Grids beyond the per-dimension workgroup limit are folded into y and z; the shader
//!   rebuilds the flat id and returns early past the end.

use std::collections::HashMap;
use std::num::NonZeroU64;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};

use super::batch::{params_bytes, Batch, SUBMIT_AT_BYTES};
use super::bind_groups::{BindGroupCache, BindKey};
use super::pipeline_cache::DiskPipelineCache;
use super::poll;
use super::timestamps::PassTimer;
use crate::cache::{CacheUsage, Lru};
use crate::codegen::CompiledKernel;
use crate::error::{Error, Result};

use super::{Launch, Prepared, RawBuffer};

mod memory;
mod pipelines;
use crate::target::{native_f16_enabled, subgroups_enabled, DeviceLimits};

/// A compiled compute pipeline and its bind group layout.
pub(crate) struct Pipeline {
    pipeline: ::wgpu::ComputePipeline,
    layout: ::wgpu::BindGroupLayout,
    /// Whether a dispatch of this pipeline has been waited for (see `record`).
    warmed: AtomicBool,
}

pub(crate) struct PooledBuffer {
    buffer: ::wgpu::Buffer,
    class: u64,
}

pub(crate) struct WgpuDevice {
    /// Compiled pipelines kept across processes (Vulkan), see `pipeline_cache.rs`.
    pipeline_cache: Option<DiskPipelineCache>,
    device: ::wgpu::Device,
    queue: ::wgpu::Queue,
    info: ::wgpu::AdapterInfo,
    limits: ::wgpu::Limits,
    kiln_limits: DeviceLimits,
    timestamps: bool,
    pool: Mutex<HashMap<u64, Vec<::wgpu::Buffer>>>,
    pooled_bytes: AtomicUsize,
    in_use: AtomicUsize,
    /// Pipelines keyed by WGSL source (which spells out the bindings, so also the layout), so
    /// that programs rendering the same source share one. Weak: `by_program` owns them.
    pipelines: Mutex<HashMap<Arc<str>, Weak<Pipeline>>>,
    /// The pipeline of each compiled kernel, keyed by the kernel's address. The entry holds the
    /// kernel, so the address cannot be reused by another kernel while the entry lives: a
    /// launch of a cached kernel skips the source lookup and can never pick up a stale pipeline.
    /// Bounded by bytes (`cache.rs`), at an estimated [`PIPELINE_BYTES`] per pipeline.
    by_program: Mutex<Lru<usize, (Arc<CompiledKernel>, Prepared)>>,
    bind_groups: Mutex<BindGroupCache>,
    /// Kernels recorded but not yet submitted, with their parameters (see `batch.rs`).
    batch: Mutex<Batch>,
    /// Pipelines the browser refused: there the verdict arrives after `prepare` returned, so
    /// the next async wait reports it (`take_compile_failure`).
    compile_failures: Arc<Mutex<Vec<Error>>>,
}

/// One kernel launch, ready to encode: pipeline, bind group, parameter offset, grid.
type Dispatch<'a> = (
    &'a Pipeline,
    ::wgpu::BindGroup,
    Option<u32>,
    (u32, u32, u32),
);

/// What one pipeline costs the process, for the cache budget: measured on lavapipe, where a
/// pipeline is LLVM machine code in host memory (BENCHMARKS.md, "Memory").
const PIPELINE_BYTES: usize = 480 << 10;

/// Freed buffers kept for reuse, at most this many bytes.
const POOL_CAP_BYTES: usize = 1 << 30;

/// Buffer sizes are rounded up to a size class so freed buffers can be reused: powers of two
/// from 16 bytes up to 1 MiB, then whole MiBs. Every class is a multiple of 16 bytes, so a
/// buffer can always be bound as an array of `vec4`s (see `binding_size`).
fn size_class(bytes: usize) -> u64 {
    let b = bytes.max(16) as u64;
    if b <= 1 << 20 {
        b.next_power_of_two()
    } else {
        b.div_ceil(1 << 20) << 20
    }
}

/// Whether shaders keep wgpu's runtime checks (bounds, loop bounding, integer division):
/// `KILN_CHECKED=1`. By default kiln's own masking makes them redundant (see `compile_source`),
/// and dropping them is the published ~1/3 of matmul time.
fn checked_shaders() -> bool {
    static CHECKED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *CHECKED.get_or_init(|| std::env::var("KILN_CHECKED").is_ok_and(|v| v == "1"))
}

/// Bytes bound for a buffer holding `bytes` of data: rounded up to 16 so that a buffer read as
/// `array<vec4<T>>` covers its last element (the size class always has that room).
fn binding_size(bytes: u64) -> u64 {
    bytes.max(16).div_ceil(16) * 16
}

impl Drop for WgpuDevice {
    /// A device goes away only after the work submitted to it: a driver thread must not run
    /// on after its device (and, at exit, the driver's libraries) are torn down.
    fn drop(&mut self) {
        self.submit_batch();
        let _ = self.device.poll(::wgpu::PollType::wait_indefinitely());
    }
}

impl WgpuDevice {
    /// Opens the best adapter, blocking until it is ready (not in the browser: see `open`).
    pub fn new() -> Result<WgpuDevice> {
        crate::error::blocking_call("Device::gpu", "Device::gpu_async().await")?;
        pollster::block_on(WgpuDevice::open())
    }

    /// Opens the best adapter: the browser's WebGPU adapter on the web, else Vulkan, Metal,
    /// DX12 or GL.
    pub async fn open() -> Result<WgpuDevice> {
        let mut desc = ::wgpu::InstanceDescriptor::new_without_display_handle_from_env();
        // Validation layers slow every call down; wgpu-core still validates everything we do.
        desc.flags = ::wgpu::InstanceFlags::empty().with_env();
        let instance = ::wgpu::Instance::new(desc);
        let adapter = instance
            .request_adapter(&::wgpu::RequestAdapterOptions {
                power_preference: ::wgpu::PowerPreference::HighPerformance,
                force_fallback_adapter: false,
                compatible_surface: None,
                apply_limit_buckets: false,
            })
            .await
            .map_err(|e| Error::Device(format!("no wgpu adapter: {e}")))?;
        let info = adapter.get_info();
        let limits = adapter.limits();
        let asked_for_gl = std::env::var("WGPU_BACKEND").is_ok_and(|b| b.contains("gl"));
        if info.backend == ::wgpu::Backend::Gl && !asked_for_gl {
            // wgpu falls back to GL when no Vulkan/Metal/DX12 driver is found. kiln runs on it
            // (its test suite passes on llvmpipe's GL), but it binds fewer buffers and is the
            // slower path: say so once, naming the backend.
            eprintln!(
                "kiln: no Vulkan, Metal or DX12 adapter; using wgpu's GL backend on {} ({} storage buffers per kernel)",
                info.name, limits.max_storage_buffers_per_shader_stage
            );
        }
        // Timestamps are read back by waiting, which a browser page cannot do inside a
        // realize: there kernels are timed by the clock (`Kernel::time_async`).
        let timestamps = !crate::target::ON_WEB
            && adapter
                .features()
                .contains(::wgpu::Features::TIMESTAMP_QUERY);
        let mut required_features = if timestamps {
            ::wgpu::Features::TIMESTAMP_QUERY
        } else {
            ::wgpu::Features::empty()
        };
        required_features |= adapter.features() & ::wgpu::Features::PIPELINE_CACHE;
        let subgroups =
            subgroups_enabled() && adapter.features().contains(::wgpu::Features::SUBGROUP);
        if subgroups {
            required_features |= ::wgpu::Features::SUBGROUP;
        }
        let native_f16 =
            native_f16_enabled() && adapter.features().contains(::wgpu::Features::SHADER_F16);
        if native_f16 {
            required_features |= ::wgpu::Features::SHADER_F16;
        }
        let (device, queue) = adapter
            .request_device(&::wgpu::DeviceDescriptor {
                label: Some("kiln"),
                required_features,
                required_limits: limits.clone(),
                experimental_features: ::wgpu::ExperimentalFeatures::disabled(),
                // kiln pools its own buffers, so the allocator's large blocks buy little, and
                // under `Performance` they kept the memory of freed upload staging buffers.
                memory_hints: ::wgpu::MemoryHints::MemoryUsage,
                trace: ::wgpu::Trace::Off,
            })
            .await
            .map_err(|e| Error::Device(format!("creating a device on {}: {e}", info.name)))?;
        device.on_uncaptured_error(Arc::new(|e| log::error!("wgpu: {e}")));
        let pipeline_cache = DiskPipelineCache::open(&device, &info);
        Ok(WgpuDevice {
            pipeline_cache,
            device,
            queue,
            kiln_limits: WgpuDevice::compute_limits(&info, &limits, subgroups, native_f16),
            info,
            limits,
            timestamps,
            pool: Mutex::new(HashMap::new()),
            pooled_bytes: AtomicUsize::new(0),
            in_use: AtomicUsize::new(0),
            pipelines: Mutex::new(HashMap::new()),
            by_program: Mutex::new(Lru::default()),
            bind_groups: Mutex::new(BindGroupCache::default()),
            batch: Mutex::new(Batch::default()),
            compile_failures: Arc::new(Mutex::new(vec![])),
        })
    }

    pub fn adapter_name(&self) -> String {
        // Browsers do not tell wgpu the adapter's name.
        let name = match self.info.name.as_str() {
            "" => "WebGPU adapter",
            name => name,
        };
        format!("{name} ({:?})", self.info.backend)
    }

    pub fn has_timestamps(&self) -> bool {
        self.timestamps
    }

    /// What kiln's compiler must respect on this adapter (computed once, at creation).
    pub fn limits(&self) -> DeviceLimits {
        self.kiln_limits.clone()
    }

    fn compute_limits(
        info: &::wgpu::AdapterInfo,
        limits: &::wgpu::Limits,
        subgroups: bool,
        native_f16: bool,
    ) -> DeviceLimits {
        DeviceLimits {
            max_storage_buffers: limits.max_storage_buffers_per_shader_stage as usize,
            max_workgroup_size: limits.max_compute_invocations_per_workgroup as usize,
            max_workgroups_per_dim: limits.max_compute_workgroups_per_dimension as usize,
            workgroup_memory_bytes: limits.max_compute_workgroup_storage_size as usize,
            // LP_MAX_TGSI_LOOP_ITERATIONS: measured here, a 4096x4096 nested sum stops at 65,505.
            max_loop_iterations: info.name.contains("llvmpipe").then_some(65_535),
            max_binding_bytes: limits.max_storage_buffer_binding_size as usize,
            binding_offset_alignment: limits.min_storage_buffer_offset_alignment as usize,
            cpu_adapter: info.device_type == ::wgpu::DeviceType::Cpu,
            subgroup_sizes: subgroups.then_some((
                info.subgroup_min_size.max(1) as usize,
                info.subgroup_max_size.max(info.subgroup_min_size).max(1) as usize,
            )),
            native_f16,
        }
    }

    pub fn memory_in_use(&self) -> usize {
        self.in_use.load(Ordering::Relaxed)
    }

    pub fn pipeline_cache_usage(&self) -> CacheUsage {
        self.by_program.lock().unwrap().usage()
    }

    /// Submits the kernels recorded so far.
    fn submit_batch(&self) {
        self.batch
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .submit(&self.queue);
    }

    /// Submits the recorded kernels and waits until the device is idle.
    fn wait_idle(&self) -> Result<()> {
        self.submit_batch();
        poll::wait_until(&self.device, |queue_empty| queue_empty)
    }

    /// Submits the recorded kernels and waits, without blocking, until the device has run
    /// them; then reports a pipeline the browser refused meanwhile.
    pub async fn idle_async(&self) -> Result<()> {
        self.submit_batch();
        let (done, deliver) = poll::Callback::new();
        self.queue.on_submitted_work_done(move || deliver(()));
        done.wait(&self.device).await?;
        self.take_compile_failure()
    }

    /// The first pipeline the browser refused since the last call, as `Err`.
    fn take_compile_failure(&self) -> Result<()> {
        let mut failures = self
            .compile_failures
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        match failures.is_empty() {
            true => Ok(()),
            false => Err(failures.remove(0)),
        }
    }

    /// Each launch's device seconds, without blocking: timestamps where the adapter has them,
    /// else the clock around each launch run alone (the browser's way).
    pub async fn run_timed_async(&self, launches: &[Launch]) -> Result<Vec<f64>> {
        if self.timestamps && !launches.is_empty() {
            let timer = PassTimer::new(&self.device, launches.len());
            self.record(launches, Some(&timer))?;
            let words = self
                .map_and_read_async(&timer.staging, timer.bytes())
                .await?;
            return Ok(self.pass_seconds(&words));
        }
        self.idle_async().await?;
        let mut out = vec![];
        for l in launches {
            let start = web_time::Instant::now();
            self.record(std::slice::from_ref(l), None)?;
            self.idle_async().await?;
            out.push(start.elapsed().as_secs_f64());
        }
        Ok(out)
    }

    fn grid(&self, n: usize) -> (u32, u32, u32) {
        let max = self.limits.max_compute_workgroups_per_dimension as usize;
        let x = n.clamp(1, max);
        let rest = n.div_ceil(x);
        let y = rest.clamp(1, max);
        let z = rest.div_ceil(y).max(1);
        (x as u32, y as u32, z as u32)
    }

    pub fn run(&self, launches: &[Launch], timed: bool) -> Result<Vec<Option<f64>>> {
        if launches.is_empty() {
            return Ok(vec![]);
        }
        if timed && crate::target::ON_WEB {
            // A page cannot wait inside a realize; `Kernel::time_async` times kernels there.
            self.record(launches, None)?;
            return Ok(vec![None; launches.len()]);
        }
        if timed && !self.timestamps {
            // Host clock around each synchronized kernel.
            self.wait_idle()?;
            let mut out = vec![];
            for l in launches {
                let start = web_time::Instant::now();
                self.record(std::slice::from_ref(l), None)?;
                self.wait_idle()?;
                out.push(Some(start.elapsed().as_secs_f64()));
            }
            return Ok(out);
        }
        if !timed {
            self.record(launches, None)?;
            return Ok(vec![None; launches.len()]);
        }
        let timer = PassTimer::new(&self.device, launches.len());
        self.record(launches, Some(&timer))?;
        Ok(self
            .read_pass_times(&timer)?
            .into_iter()
            .map(Some)
            .collect())
    }

    /// Per-pass GPU seconds recorded by `timer` (waits for the device).
    fn read_pass_times(&self, timer: &PassTimer) -> Result<Vec<f64>> {
        let words = self.map_and_read(&timer.staging, timer.bytes())?;
        Ok(self.pass_seconds(&words))
    }

    /// Seconds between each pair of timestamps in `words` (two u64 per pass).
    fn pass_seconds(&self, words: &[u32]) -> Vec<f64> {
        let period = self.queue.get_timestamp_period() as f64;
        words
            .chunks(4)
            .map(|w| {
                let start = w[0] as u64 | (w[1] as u64) << 32;
                let end = w[2] as u64 | (w[3] as u64) << 32;
                end.saturating_sub(start) as f64 * period * 1e-9
            })
            .collect()
    }

    /// Records `launches` into the open batch, and submits it when the batch policy says so
    /// (see `batch.rs`): always with `timing`, whose timestamps are read next.
    fn record(&self, launches: &[Launch], timing: Option<&PassTimer>) -> Result<()> {
        // Held until recorded: the launches' parameter windows and passes must belong to the
        // same batch, whichever thread records next.
        let mut batch = self.batch.lock().unwrap_or_else(|e| e.into_inner());
        let align = self.limits.min_uniform_buffer_offset_alignment.max(16) as u64;
        let (ring, offsets) = batch.stage_params(&self.device, &self.queue, align, launches);
        let mut bound_bytes = 0u64;
        let mut first_dispatch = false;
        let mut dispatches: Vec<Dispatch<'_>> = Vec::with_capacity(launches.len());
        for (i, l) in launches.iter().enumerate() {
            let p = l.prepared.pipeline.as_ref().expect("prepared for wgpu");
            first_dispatch |= !p.warmed.swap(true, Ordering::Relaxed);
            let buffers: Vec<(::wgpu::Buffer, u64, u64)> = l
                .kernel
                .program
                .bindings()
                .iter()
                .map(|w| {
                    let buf = &l.bufs[w.buf];
                    let RawBuffer::Wgpu(pb) = buf.raw() else {
                        unreachable!("CPU buffer on wgpu")
                    };
                    let bytes = buf.dtype().storage_bytes() as u64;
                    let offset = w.offset as u64 * bytes;
                    let size = binding_size(w.len as u64 * bytes);
                    bound_bytes += size;
                    (pb.buffer.clone(), offset, size)
                })
                .collect();
            let uniform = match (&ring, l.params.is_empty()) {
                (Some(r), false) => Some((r.clone(), params_bytes(l.params.len()))),
                _ => None,
            };
            let key = BindKey {
                pipeline: p.pipeline.clone(),
                buffers,
                uniform,
            };
            let bg = self
                .bind_groups
                .lock()
                .unwrap()
                .get_or_create(key.clone(), p, || {
                    let uniform = key.uniform.iter().map(|(b, size)| (b, 0, *size));
                    let entries: Vec<::wgpu::BindGroupEntry> = key
                        .buffers
                        .iter()
                        .map(|(b, offset, size)| (b, *offset, *size))
                        .chain(uniform)
                        .enumerate()
                        .map(|(b, (buffer, offset, size))| ::wgpu::BindGroupEntry {
                            binding: b as u32,
                            resource: ::wgpu::BindingResource::Buffer(::wgpu::BufferBinding {
                                buffer,
                                offset,
                                size: NonZeroU64::new(size),
                            }),
                        })
                        .collect();
                    self.device.create_bind_group(&::wgpu::BindGroupDescriptor {
                        label: None,
                        layout: &p.layout,
                        entries: &entries,
                    })
                });
            let dynamic = (!l.params.is_empty()).then_some(offsets[i]);
            dispatches.push((p, bg, dynamic, self.grid(l.kernel.program.num_groups())));
        }
        let dispatch = |pass: &mut ::wgpu::ComputePass<'_>, d: &Dispatch<'_>| {
            let (p, bg, dynamic, (x, y, z)) = d;
            pass.set_pipeline(&p.pipeline);
            pass.set_bind_group(0, bg, dynamic.as_slice());
            pass.dispatch_workgroups(*x, *y, *z);
        };
        match timing {
            // Timestamps are written per pass: one pass per kernel.
            Some(t) => {
                let enc = batch.encoder(&self.device);
                for (i, d) in dispatches.iter().enumerate() {
                    let mut pass = enc.begin_compute_pass(&::wgpu::ComputePassDescriptor {
                        label: None,
                        timestamp_writes: Some(t.writes(i)),
                    });
                    dispatch(&mut pass, d);
                }
                t.resolve(enc);
            }
            // Otherwise all kernels in the batch's one pass (wgpu orders dispatches that share
            // buffers): a pass per kernel costs tens of microseconds each on real drivers.
            None => {
                let pass = batch.pass(&self.device);
                for d in &dispatches {
                    dispatch(pass, d);
                }
            }
        }
        batch.recorded(launches.len());
        if timing.is_some() || first_dispatch || bound_bytes >= SUBMIT_AT_BYTES || batch.is_full() {
            batch.submit(&self.queue);
        }
        drop(batch);
        if first_dispatch && !crate::target::ON_WEB {
            // Drivers may compile a pipeline at its first dispatch, on their own thread
            // (llvmpipe does). A program that returned from `main` while that compile ran
            // crashed in LLVM's exit-time cleanup (59 of 60 runs of a 2-kernel program on
            // lavapipe). Waiting once per pipeline costs only its first call.
            self.wait_idle()?;
        }
        Ok(())
    }
}
