//! Code generation: kernel AST → opts → linear IR → (validated) → WGSL or the CPU interpreter.
//!
//! `arena` holds the typed handles both IRs use; `ast` is what a kernel computes; `opt` the
//! loop transformations (`stage`: the workgroup-memory tiles of STAGE; `share`: the
//! subgroup-split loads of SHARE) and `heuristic` the
//! lists chosen by default; `linearize` lowers (AST, opts) to the flat `ir`; `validate`
//! checks that IR; `wgsl` renders it.

pub mod arena;
pub mod ast;
pub mod heuristic;
pub mod ir;
pub mod linearize;
pub mod opt;
pub mod share;
pub mod stage;
pub mod validate;
pub mod wgsl;

#[cfg(test)]
mod multi_nest_tests;

use ast::KernelAst;
use ir::Program;
use opt::{apply_opts, Opt};

use crate::error::{Error, Result};
use crate::runtime::DeviceLimits;

/// Whether every program is run through the IR validator: always in debug builds (and so in
/// tests), and in release builds with `KILN_VALIDATE_IR=1`.
fn validate_ir() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    cfg!(debug_assertions)
        || *ON.get_or_init(|| std::env::var("KILN_VALIDATE_IR").is_ok_and(|v| v == "1"))
}

/// Linearizes `ast` under `opts` for a device with `limits`. An opt list that does not fit is
/// `Error::Opt`; a program that breaks an IR invariant (a kiln bug) is `Error::Compile`.
pub fn compile(ast: &KernelAst, opts: &[Opt], limits: &DeviceLimits) -> Result<Program> {
    let shaped = apply_opts(ast, opts, limits)?;
    let program = linearize::linearize(ast, &shaped, limits);
    if validate_ir() {
        validate::validate(&program).map_err(|e| Error::Compile {
            kernel: program.name.clone(),
            message: e.to_string(),
            wgsl: format!("(not rendered; the linear IR)\n{program}"),
        })?;
    }
    Ok(program)
}
