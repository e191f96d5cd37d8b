#![warn(missing_docs)]
//! kiln's engine: lazy tensors compiled to fused WGSL kernels on wgpu, with a CPU reference
//! interpreter of the same kernels. Users depend on the `kiln` crate, which re-exports this.
//!
//! The modules below are declared bottom up, in the layer order ARCHITECTURE.md writes down
//! and `tests/layers.rs` checks: each refers only to the ones declared before it.

mod hash;
mod dtype;
mod ops;
mod target;
mod cache;
mod view;
mod codegen;
mod error;
mod runtime;
mod graph;
mod schedule;
pub mod debug;
mod kernel;
mod plan_cache;
pub mod trace;
mod realize;
pub mod roofline;
mod tensor;
pub mod nn;
pub mod optim;

pub use cache::{cache_bytes, set_cache_bytes, CacheUsage};
pub use codegen::opt::{Opt, OptError, OptOp};
pub use debug::{stats, Stats};
pub use dtype::{DType, Element, Scalar};
pub use error::{Error, Result};
pub use graph::oracle::HostArray;
pub use half::{bf16, f16};
pub use kernel::{program_cache_usage, Kernel, KernelBuffer, Schedule};
pub use runtime::{cache_dir, Device};
pub use target::DeviceLimits;
pub use tensor::{
    default_device, eval_mode, manual_seed, realize, realize_async, schedule, schedule_noopt,
    set_eval_mode, Conv2dOptions, EvalMode, PadMode, Tensor,
};

/// Live graph nodes in this process (for leak tests).
pub fn live_nodes() -> usize {
    graph::live_nodes()
}
