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
mod timestamps;
pub use pipeline_cache::cache_dir;
pub mod cpu;
pub mod wgpu;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use crate::codegen::ir::Program;
use crate::dtype::DType;
use crate::error::{Error, Result};

/// What a device can do that the compiler must respect: `apply_opts` refuses opt lists over
/// the lanes or workgroup memory, and the runtime checks buffers and grid sizes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DeviceLimits {
    pub max_storage_buffers: usize,
    pub max_workgroup_size: usize,
    pub max_workgroups_per_dim: usize,
    pub workgroup_memory_bytes: usize,
    /// Iterations one loop may run per invocation, counted over all its entries (an inner loop
    /// of a nest counts every outer iteration's passes), when the driver stops longer loops
    /// silently: Mesa's llvmpipe stops them at 65,535 and the kernel returns a wrong answer.
    /// `None` where no such limit is known.
    pub max_loop_iterations: Option<u64>,
    /// The largest storage binding (`max_storage_buffer_binding_size`). A longer buffer is
    /// bound as several windows (see [`DeviceLimits::binding_window`]).
    pub max_binding_bytes: usize,
    /// Where a binding may start in a buffer (`min_storage_buffer_offset_alignment`).
    pub binding_offset_alignment: usize,
    /// The adapter runs lanes as SIMD elements on CPU cores (wgpu's `DeviceType::Cpu`:
    /// llvmpipe, WARP, SwiftShader). Not a limit but a cost the heuristics weigh: on such an
    /// adapter a lane that walks a longer contiguous run pays off (see `codegen/heuristic`).
    pub cpu_adapter: bool,
    /// The smallest and largest subgroups the device may run, when kernels may use subgroup
    /// operations (wgpu's SUBGROUP feature; `KILN_SUBGROUPS=0` turns them off): a grouped
    /// reduction over a whole workgroup whose lanes are a multiple of the largest then
    /// combines each subgroup's lanes without workgroup memory (see
    /// `codegen/linearize/group.rs`). `None` without them.
    pub subgroup_sizes: Option<(usize, usize)>,
}

impl DeviceLimits {
    /// Elements (4 bytes each) of one binding window: the largest multiple of the offset
    /// alignment and of 16 bytes (a `vec4`) that fits one binding.
    pub fn binding_window(&self) -> usize {
        let align = self.binding_offset_alignment.max(16);
        let align = align / gcd(align, 16) * 16;
        (self.max_binding_bytes / align).max(1) * align / 4
    }

    /// Storage bindings a buffer of `numel` elements takes.
    pub fn bindings_for(&self, numel: usize) -> usize {
        numel.div_ceil(self.binding_window()).max(1)
    }
}

/// Whether kernels may use subgroup operations where the device has them: yes unless
/// `KILN_SUBGROUPS=0`.
pub(crate) fn subgroups_enabled() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var("KILN_SUBGROUPS").map_or(true, |v| v != "0"))
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
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

    /// The best wgpu adapter (one device per process, created on first use).
    pub fn gpu() -> Result<Device> {
        static GPU: OnceLock<std::result::Result<Device, String>> = OnceLock::new();
        GPU.get_or_init(|| {
            wgpu::WgpuDevice::new()
                .map(|d| Device::wrap(Backend::Wgpu(d)))
                .map_err(|e| match e {
                    Error::Device(msg) => msg,
                    other => other.to_string(),
                })
        })
        .clone()
        .map_err(Error::Device)
    }

    pub(crate) fn id(&self) -> u64 {
        self.0.id
    }
    pub(crate) fn backend(&self) -> &Backend {
        &self.0.backend
    }
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
                subgroup_sizes: subgroups_enabled().then_some((4, 8)),
            },
            Backend::Wgpu(w) => w.limits(),
        }
    }

    /// Allocates `numel` elements of `dtype` (contents unspecified).
    pub(crate) fn alloc(&self, numel: usize, dtype: DType) -> Result<Buffer> {
        let bytes = numel * dtype.storage_bytes();
        let raw = match &self.0.backend {
            Backend::Cpu(c) => RawBuffer::Cpu(c.alloc(bytes)?),
            Backend::Wgpu(w) => RawBuffer::Wgpu(w.alloc(bytes)?),
        };
        let id = NEXT_BUFFER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        crate::trace::record::alloc(self, id, bytes);
        Ok(Buffer {
            device: self.clone(),
            raw: Some(raw),
            numel,
            dtype,
            id,
        })
    }

    /// Uploads host words (4 bytes per element).
    pub(crate) fn upload(&self, words: &[u32], dtype: DType) -> Result<Buffer> {
        let buf = self.alloc(words.len(), dtype)?;
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

    /// Checks that `program` can run here (and compiles it on wgpu, cached by source).
    pub(crate) fn prepare(&self, program: &Arc<Program>) -> Result<Compiled> {
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
            Backend::Cpu(_) => Ok(Compiled {
                wgsl: None,
                pipeline: None,
            }),
            Backend::Wgpu(w) => w.compile(program),
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

/// A compiled program: WGSL source and pipeline on wgpu, nothing on the CPU.
#[derive(Clone)]
pub(crate) struct Compiled {
    pub wgsl: Option<Arc<String>>,
    pub pipeline: Option<Arc<wgpu::Pipeline>>,
}

/// One kernel launch: the program and its buffers in `program.bufs` order.
#[derive(Clone)]
pub(crate) struct Launch {
    pub program: Arc<Program>,
    pub compiled: Compiled,
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
}

static NEXT_BUFFER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

impl Buffer {
    pub fn device(&self) -> &Device {
        &self.device
    }
    pub fn numel(&self) -> usize {
        self.numel
    }
    pub fn dtype(&self) -> DType {
        self.dtype
    }
    pub(crate) fn raw(&self) -> &RawBuffer {
        self.raw.as_ref().expect("live buffer")
    }
    /// Reads the buffer back as 4-byte words.
    pub(crate) fn read_words(&self) -> Result<Vec<u32>> {
        match (self.device.backend(), self.raw()) {
            (Backend::Cpu(_), RawBuffer::Cpu(b)) => Ok(b.read(self.numel)),
            (Backend::Wgpu(w), RawBuffer::Wgpu(b)) => w.read(b, self.numel),
            _ => unreachable!("buffer of another backend"),
        }
    }
}

impl Drop for Buffer {
    fn drop(&mut self) {
        crate::trace::record::free(self.id);
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
