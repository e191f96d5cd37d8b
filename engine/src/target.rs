//! What the compiler targets: a device's limits and capabilities ([`DeviceLimits`]), and the
//! policy constants that bound every kernel's loops ([`MAX_ROW`]). Every layer from the
//! scheduler down to the runtime reads these; this module imports only dtypes.

use crate::dtype::DType;

/// The longest row one kernel walks per output: a reduction folding more elements per output
/// is split into two stages (`schedule/split.rs`), no first-stage partial folds more, and no
/// workgroup owns a longer softmax/layernorm row (`schedule/nest_cost.rs`). It keeps every
/// loop below llvmpipe's silent bound of 65,535 iterations under any opts, NOOPT included.
pub const MAX_ROW: usize = 1 << 15;

/// What a device can do that the compiler must respect: `apply_opts` refuses opt lists over
/// the lanes or workgroup memory, and the runtime checks buffers and grid sizes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DeviceLimits {
    /// Storage buffers one kernel may bind (bindings, counting each window of a long buffer).
    pub max_storage_buffers: usize,
    /// Invocations per workgroup.
    pub max_workgroup_size: usize,
    /// Workgroups per grid dimension (a larger grid folds into y and z).
    pub max_workgroups_per_dim: usize,
    /// Workgroup memory per workgroup, in bytes.
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
    /// Kernels compute f16 natively: WGSL's `f16` in buffers and registers (wgpu's
    /// SHADER_F16; `KILN_F16=0` turns it off). Without it f16 is packed two to a word and
    /// computed in f32, rounded after every op, like bf16.
    pub native_f16: bool,
}

impl DeviceLimits {
    /// Words (4 bytes each) of one binding window: the largest multiple of the offset
    /// alignment and of 16 bytes (a `vec4`) that fits one binding.
    pub fn binding_window(&self) -> usize {
        let align = self.binding_offset_alignment.max(16);
        let align = align / gcd(align, 16) * 16;
        (self.max_binding_bytes / align).max(1) * align / 4
    }

    /// Elements of `dtype` in one binding window: [`DeviceLimits::binding_window`] words'
    /// worth, so that every window starts at an aligned byte offset.
    pub fn window_elements(&self, dtype: DType) -> usize {
        self.binding_window().saturating_mul(4) / dtype.storage_bytes()
    }

    /// Storage bindings a buffer of `numel` elements of `dtype` takes.
    pub fn bindings_for(&self, numel: usize, dtype: DType) -> usize {
        numel.div_ceil(self.window_elements(dtype)).max(1)
    }
}

/// Whether kiln runs in a browser page (wasm32 without an OS): one thread, no blocking waits
/// for the GPU, no files, no environment variables.
pub const ON_WEB: bool = cfg!(all(target_arch = "wasm32", target_os = "unknown"));

/// Writes one line of kiln's diagnostics (`DEBUG` output): to stderr natively, to the
/// browser's console in a page (where stderr goes nowhere).
pub(crate) fn console_line(text: &str) {
    #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
    web_sys::console::log_1(&text.into());
    #[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
    eprintln!("{text}");
}

/// Whether kernels may use subgroup operations where the device has them: yes unless
/// `KILN_SUBGROUPS=0`.
pub(crate) fn subgroups_enabled() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    // In the browser WGSL needs `enable subgroups;`, which kiln's kernels do not declare.
    *ON.get_or_init(|| !ON_WEB && std::env::var("KILN_SUBGROUPS").map_or(true, |v| v != "0"))
}

/// Whether kernels may compute f16 natively where the device has it: yes unless
/// `KILN_F16=0`.
pub(crate) fn native_f16_enabled() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var("KILN_F16").map_or(true, |v| v != "0"))
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}
