//! Code generation: kernel AST → opts → linear IR → (validated) → WGSL or the CPU interpreter.
//!
//! `arena` holds the typed handles both IRs use; `ast` is what a kernel computes; `opt` the
//! loop transformations (`stage`: the workgroup-memory tiles of STAGE; `share`: the
//! subgroup-split loads of SHARE) and `heuristic` the
//! lists chosen by default; `linearize` lowers (AST, opts) to the flat `ir`; `validate`
//! checks that IR; `wgsl` renders it. `compile` is the one step from (AST, opts, limits) to
//! a [`CompiledKernel`] that every caller (realize, `Kernel`, DEBUG, trace) uses.

pub mod arena;
pub mod ast;
pub mod heuristic;
pub mod ir;
pub mod linearize;
pub mod opt;
pub mod shaped;
pub mod share;
pub mod stage;
pub mod validate;
pub mod wgsl;

#[cfg(test)]
mod multi_nest_tests;

mod compile;
pub use compile::{compile, CompileError, CompiledKernel};
