//! Runtimes: where buffers live and kernels run.
//!
//! A [`Device`] is a cheap handle (an `Arc`) to one of two backends: `wgpu` (a real GPU adapter,
//! or lavapipe on a machine without one) or `cpu` (the reference interpreter of the linear IR).
//! Both consume the same [`Program`]s. A [`Buffer`] owns device memory and returns it to the
//! device's pool when dropped; the graph holds buffers in `Arc`s, so dropping the last tensor
//! that refers to a value frees its memory.

mod batch;
mod bind_groups;
mod pipeline_cache;
mod poll;
pub(crate) mod status;
mod timestamps;
pub use pipeline_cache::cache_dir;
pub mod cpu;
pub mod wgpu;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use crate::codegen::CompiledKernel;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::target::{subgroups_enabled, DeviceLimits};

/// Who hears of buffer allocations and frees: tracing registers itself when it starts, so the
/// runtime reports events without depending on the layer that records them.
pub(crate) struct BufferObserver {
    /// A buffer of `bytes` (the `u64` its process-wide id) was allocated on a device.
    pub alloc: fn(&Device, u64, usize),
    /// The buffer with this id went back to its device.
    pub free: fn(u64),
}

static BUFFER_OBSERVER: OnceLock<BufferObserver> = OnceLock::new();

/// Registers the buffer observer (the first registration stays).
pub(crate) fn observe_buffers(observer: BufferObserver) {
    let _ = BUFFER_OBSERVER.set(observer);
}

// One per device, inside the device's `Arc`: the variants' sizes do not matter.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Backend {
    Cpu(cpu::CpuDevice),
    Wgpu(wgpu::WgpuDevice),
}

struct DeviceInner {
    id: u64,
    backend: Backend,
}

/// A compute device: a wgpu adapter or the CPU reference interpreter.
#[derive(Clone)]
pub struct Device(Arc<DeviceInner>);

static NEXT_DEVICE: AtomicU64 = AtomicU64::new(1);

/// The process's one wgpu device, or why there is none.
static GPU: OnceLock<std::result::Result<Device, String>> = OnceLock::new();

fn gpu_or_message(made: Result<wgpu::WgpuDevice>) -> std::result::Result<Device, String> {
    made.map(|d| Device::wrap(Backend::Wgpu(d)))
        .map_err(|e| match e {
            Error::Device(msg) => msg,
            other => other.to_string(),
        })
}

impl Device {
    fn wrap(backend: Backend) -> Device {
        Device(Arc::new(DeviceInner {
            id: NEXT_DEVICE.fetch_add(1, Ordering::Relaxed),
            backend,
        }))
    }

    /// The CPU reference device (one per process).
    pub fn cpu() -> Device {
        static CPU: OnceLock<Device> = OnceLock::new();
        CPU.get_or_init(|| Device::wrap(Backend::Cpu(cpu::CpuDevice::new())))
            .clone()
    }

    /// The best wgpu adapter (one device per process, created on first use). In the browser
    /// it cannot be created by a blocking call: there this is the device that
    /// [`Device::gpu_async`] opened, and `Err(WouldBlock)` before it has.
    pub fn gpu() -> Result<Device> {
        if let Some(made) = GPU.get() {
            return made.clone().map_err(Error::Device);
        }
        crate::error::blocking_call("Device::gpu", "Device::gpu_async().await")?;
        GPU.get_or_init(|| gpu_or_message(wgpu::WgpuDevice::new()))
            .clone()
            .map_err(Error::Device)
    }

    /// The best wgpu adapter, opened without blocking: the way to get the GPU in the
    /// browser, and usable natively with any executor. The same device as [`Device::gpu`]
    /// (one per process); the first call opens it.
    pub async fn gpu_async() -> Result<Device> {
        if GPU.get().is_none() {
            let made = gpu_or_message(wgpu::WgpuDevice::open().await);
            let _ = GPU.set(made); // a call that finished first keeps its device
        }
        Device::gpu()
    }

    pub(crate) fn id(&self) -> u64 {
        self.0.id
    }
    pub(crate) fn backend(&self) -> &Backend {
        &self.0.backend
    }
    /// Whether this is the CPU reference device (the interpreter), not a wgpu adapter.
    pub fn is_cpu(&self) -> bool {
        matches!(self.0.backend, Backend::Cpu(_))
    }

    /// A short name for DEBUG output and errors: `CPU` or `WGPU:<adapter> (<backend>)`.
    pub fn name(&self) -> String {
        match &self.0.backend {
            Backend::Cpu(_) => "CPU".into(),
            Backend::Wgpu(w) => format!("WGPU:{}", w.adapter_name()),
        }
    }

    /// `CPU` or `WGPU`, for the DEBUG=2 device column.
    pub fn short_name(&self) -> &'static str {
        match &self.0.backend {
            Backend::Cpu(_) => "CPU",
            Backend::Wgpu(_) => "WGPU",
        }
    }

    /// Whether f16 computes natively here (WGSL `f16`, where the adapter has wgpu's
    /// SHADER_F16) rather than packed two to a word and computed in f32, rounded after every
    /// op. Both give f16 results; `+ - *`, casts and conversions agree bit for bit, while
    /// division and the transcendental primitives may differ in the last place.
    pub fn native_f16(&self) -> bool {
        self.limits().native_f16
    }

    /// What kernels for this device must respect.
    pub fn limits(&self) -> DeviceLimits {
        match &self.0.backend {
            // The interpreter could do more, but kernels checked on it should also fit a
            // typical GPU: bindings, lanes and workgroup memory as on desktop Vulkan (and
            // lavapipe), so both devices run the same kernels.
            Backend::Cpu(_) => DeviceLimits {
                max_storage_buffers: 32,
                max_workgroup_size: 1024,
                max_workgroups_per_dim: usize::MAX,
                workgroup_memory_bytes: 32 << 10,
                max_loop_iterations: None,
                max_binding_bytes: 128 << 20,
                binding_offset_alignment: 32,
                // The interpreter picks the kernels a GPU would, so that checking on it
                // covers them.
                cpu_adapter: false,
                // It runs subgroups of 8 (`cpu::SUBGROUP_SIZE`) but promises only 4 to 8, as a
                // GPU with a range of subgroup sizes would.
                subgroup_sizes: subgroups_enabled().then_some((4, cpu::SUBGROUP_SIZE)),
                // Its kernels are interpreted: how WGSL would hold f16 does not apply.
                native_f16: false,
            },
            Backend::Wgpu(w) => w.limits(),
        }
    }

    /// Allocates `numel` elements of `dtype` (contents unspecified).
    pub(crate) fn alloc(&self, numel: usize, dtype: DType) -> Result<Buffer> {
        let bytes = dtype.buffer_bytes(numel);
        let raw = match &self.0.backend {
            Backend::Cpu(c) => RawBuffer::Cpu(c.alloc(bytes)?),
            Backend::Wgpu(w) => RawBuffer::Wgpu(w.alloc(bytes)?),
        };
        let id = NEXT_BUFFER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if let Some(o) = BUFFER_OBSERVER.get() {
            (o.alloc)(self, id, bytes);
        }
        Ok(Buffer {
            device: self.clone(),
            raw: Some(raw),
            numel,
            dtype,
            id,
            depends: Default::default(),
        })
    }

    /// A buffer of zero words for the kernels run after this call (a scatter's start).
    pub(crate) fn alloc_zeroed(&self, numel: usize, dtype: DType) -> Result<Buffer> {
        let buf = self.alloc(numel, dtype)?;
        match (&self.0.backend, buf.raw()) {
            (Backend::Cpu(_), _) => {} // the host's allocations are zeroed
            (Backend::Wgpu(w), RawBuffer::Wgpu(b)) => w.clear(b),
            _ => unreachable!("buffer of another backend"),
        }
        Ok(buf)
    }

    /// Uploads `numel` elements of `dtype` packed in host words (`dtype::pack_words`).
    pub(crate) fn upload(&self, words: &[u32], numel: usize, dtype: DType) -> Result<Buffer> {
        debug_assert_eq!(words.len() * 4, dtype.buffer_bytes(numel));
        let buf = self.alloc(numel, dtype)?;
        match (&self.0.backend, buf.raw()) {
            (Backend::Cpu(_), RawBuffer::Cpu(b)) => b.write(words),
            (Backend::Wgpu(w), RawBuffer::Wgpu(b)) => w.write(b, words),
            _ => unreachable!("buffer of another backend"),
        }
        Ok(buf)
    }

    /// Runs kernels in order. `timed` asks for per-kernel device time in seconds.
    pub(crate) fn run(&self, launches: &[Launch], timed: bool) -> Result<Vec<Option<f64>>> {
        match &self.0.backend {
            Backend::Cpu(c) => c.run(launches, timed),
            Backend::Wgpu(w) => w.run(launches, timed),
        }
    }

    /// Each launch's device seconds, measured without blocking (the async kernel timer).
    pub(crate) async fn run_timed_async(&self, launches: &[Launch]) -> Result<Vec<f64>> {
        match &self.0.backend {
            Backend::Cpu(c) => Ok(c
                .run(launches, true)?
                .into_iter()
                .map(|t| t.unwrap_or(0.0))
                .collect()),
            Backend::Wgpu(w) => w.run_timed_async(launches).await,
        }
    }

    /// Resolves once the device has run everything launched before the call.
    pub(crate) async fn idle_async(&self) -> Result<()> {
        match &self.0.backend {
            Backend::Cpu(_) => Ok(()), // the interpreter runs launches as they come
            Backend::Wgpu(w) => w.idle_async().await,
        }
    }

    /// Checks that `kernel` can run here (and builds its pipeline on wgpu, cached).
    pub(crate) fn prepare(&self, kernel: &Arc<CompiledKernel>) -> Result<Prepared> {
        let program = &kernel.program;
        if let Some(limit) = self.limits().max_loop_iterations {
            if program.loop_iterations > limit {
                let opts: Vec<String> = program.opts.iter().map(|o| o.to_string()).collect();
                return Err(Error::Unsupported {
                    device: self.name(),
                    message: format!(
                        "kernel {} with opts [{}] loops {} times per lane, and this driver stops a loop after {limit} iterations (the result would be wrong); split the reduction over more lanes (GROUP) or unroll it (UNROLL)",
                        program.name,
                        opts.join(", "),
                        program.loop_iterations
                    ),
                });
            }
        }
        match &self.0.backend {
            Backend::Cpu(_) => Ok(Prepared { pipeline: None }),
            Backend::Wgpu(w) => w.prepare(kernel),
        }
    }

    /// Entries and estimated bytes of this device's compiled-pipeline cache (none on the CPU
    /// device, which interprets programs). Bounded by `KILN_CACHE_MB` / `kiln::set_cache_bytes`.
    pub fn pipeline_cache_usage(&self) -> crate::cache::CacheUsage {
        match &self.0.backend {
            Backend::Cpu(_) => Default::default(),
            Backend::Wgpu(w) => w.pipeline_cache_usage(),
        }
    }

    /// Bytes of device memory held by live buffers.
    pub fn memory_in_use(&self) -> usize {
        match &self.0.backend {
            Backend::Cpu(c) => c.memory_in_use(),
            Backend::Wgpu(w) => w.memory_in_use(),
        }
    }
}

impl PartialEq for Device {
    fn eq(&self, other: &Self) -> bool {
        self.0.id == other.0.id
    }
}
impl Eq for Device {}

impl std::fmt::Debug for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name())
    }
}

/// What a device built to run a kernel: the pipeline on wgpu, nothing on the CPU.
#[derive(Clone)]
pub(crate) struct Prepared {
    pub pipeline: Option<Arc<wgpu::Pipeline>>,
}

/// One kernel launch: the program and its buffers in `program.bufs` order.
#[derive(Clone)]
pub(crate) struct Launch {
    pub kernel: Arc<CompiledKernel>,
    pub prepared: Prepared,
    pub bufs: Vec<Arc<Buffer>>,
    /// Bits of the kernel parameters (`program.params`).
    pub params: Vec<u32>,
}

pub(crate) enum RawBuffer {
    Cpu(Arc<cpu::CpuBuffer>),
    Wgpu(wgpu::PooledBuffer),
}

/// Device memory holding `numel` elements of `dtype`; freed (pooled) on drop.
pub struct Buffer {
    device: Device,
    raw: Option<RawBuffer>,
    numel: usize,
    dtype: DType,
    /// A process-wide id (traces name buffers by it).
    id: u64,
    /// The index checks its value depends on (`status.rs`): verified before it is read.
    pub(crate) depends: status::Depends,
}

static NEXT_BUFFER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

impl Buffer {
    pub fn device(&self) -> &Device {
        &self.device
    }
    pub fn dtype(&self) -> DType {
        self.dtype
    }
    pub(crate) fn raw(&self) -> &RawBuffer {
        self.raw.as_ref().expect("live buffer")
    }
    /// Reads the buffer back as the 32-bit words its elements are packed in
    /// (`dtype::unpack_words` takes them apart).
    pub(crate) fn read_words(&self) -> Result<Vec<u32>> {
        self.depends.verify()?;
        Ok(read_words_many(&[self])?.pop().expect("one buffer"))
    }

    /// [`Buffer::read_words`] without blocking.
    pub(crate) async fn read_words_async(&self) -> Result<Vec<u32>> {
        self.depends.verify_async().await?;
        Ok(read_words_many_async(&[self])
            .await?
            .pop()
            .expect("one buffer"))
    }
}

/// The words of several buffers of one device and one size, read back together: one wait on
/// wgpu (counted as one read).
pub(crate) fn read_words_many(bufs: &[&Buffer]) -> Result<Vec<Vec<u32>>> {
    match ReadMany::of(bufs) {
        ReadMany::Nothing => Ok(vec![]),
        ReadMany::Cpu(words) => Ok(words),
        ReadMany::Wgpu(w, raws, words) => w.read_many(&raws, words),
    }
}

/// [`read_words_many`] without blocking.
pub(crate) async fn read_words_many_async(bufs: &[&Buffer]) -> Result<Vec<Vec<u32>>> {
    match ReadMany::of(bufs) {
        ReadMany::Nothing => Ok(vec![]),
        ReadMany::Cpu(words) => Ok(words),
        ReadMany::Wgpu(w, raws, words) => w.read_many_async(&raws, words).await,
    }
}

/// A read of several buffers: done already (the CPU device's memory is the host's), or
/// wgpu's buffers and the words to read of each.
enum ReadMany<'a> {
    Nothing,
    Cpu(Vec<Vec<u32>>),
    Wgpu(&'a wgpu::WgpuDevice, Vec<&'a wgpu::PooledBuffer>, usize),
}

impl<'a> ReadMany<'a> {
    fn of(bufs: &[&'a Buffer]) -> ReadMany<'a> {
        let Some(first) = bufs.first() else {
            return ReadMany::Nothing;
        };
        let words = first.dtype.buffer_bytes(first.numel) / 4;
        assert!(
            bufs.iter()
                .all(|b| b.device == first.device && b.dtype.buffer_bytes(b.numel) / 4 == words),
            "read_words_many: buffers of one device and one size (kiln bug)"
        );
        BUFFERS_READ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        match first.device.backend() {
            Backend::Cpu(_) => ReadMany::Cpu(
                bufs.iter()
                    .map(|b| match b.raw() {
                        RawBuffer::Cpu(c) => c.read(words),
                        RawBuffer::Wgpu(_) => unreachable!("wgpu buffer on the CPU device"),
                    })
                    .collect(),
            ),
            Backend::Wgpu(w) => ReadMany::Wgpu(
                w,
                bufs.iter()
                    .map(|b| match b.raw() {
                        RawBuffer::Wgpu(p) => p,
                        RawBuffer::Cpu(_) => unreachable!("CPU buffer on wgpu"),
                    })
                    .collect(),
                words,
            ),
        }
    }
}

/// Buffers read back to the host (values and index-check status words), for `kiln::stats`.
static BUFFERS_READ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// How many buffers the host has read back so far.
pub(crate) fn buffers_read() -> u64 {
    BUFFERS_READ.load(std::sync::atomic::Ordering::Relaxed)
}

impl Drop for Buffer {
    fn drop(&mut self) {
        if let Some(o) = BUFFER_OBSERVER.get() {
            (o.free)(self.id);
        }
        match (self.device.backend(), self.raw.take()) {
            (Backend::Cpu(c), Some(RawBuffer::Cpu(b))) => c.free(b),
            (Backend::Wgpu(w), Some(RawBuffer::Wgpu(b))) => w.free(b),
            _ => {}
        }
    }
}

impl std::fmt::Debug for Buffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Buffer({} x {} on {})",
            self.numel,
            self.dtype,
            self.device.name()
        )
    }
}
