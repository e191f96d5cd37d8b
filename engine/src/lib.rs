//! kiln's engine: lazy tensors compiled to fused WGSL kernels on wgpu, with a CPU reference
//! interpreter of the same kernels. Users depend on the `kiln` crate, which re-exports this.
//!
//! The layers, in data-flow order (each uses only the layers after it, plus `dtype`, `ops`
//! and `error`): `tensor` → `graph` → `schedule` → `view` → `codegen` → `runtime`, with
//! `realize` driving schedule → compile → run, and `debug` watching. See ARCHITECTURE.md.

mod cache;
pub mod codegen;
pub mod debug;
pub mod dtype;
pub mod error;
pub mod graph;
mod hash;
mod kernel;
pub mod ops;
mod plan_cache;
mod realize;
pub mod roofline;
pub mod runtime;
pub mod schedule;
mod tensor;
pub mod trace;
pub mod view;

pub use cache::{cache_bytes, set_cache_bytes, CacheUsage};
pub use codegen::opt::{Opt, OptError, OptOp};
pub use debug::{stats, Stats};
pub use dtype::{DType, Element, Scalar};
pub use error::{Error, Result};
pub use graph::oracle::HostArray;
pub use kernel::{program_cache_usage, Kernel, KernelBuffer, Schedule};
pub use runtime::DeviceLimits;
pub use runtime::{cache_dir, Device};
pub use tensor::{
    default_device, eval_mode, realize, schedule, schedule_noopt, set_eval_mode, EvalMode, Tensor,
};

/// Live graph nodes in this process (for leak tests).
pub fn live_nodes() -> usize {
    graph::live_nodes()
}
