//! The one compile step: (kernel AST, opts, device limits) → [`CompiledKernel`]. The opts are
//! applied once, the linear IR is built once (and checked by the IR validator in debug
//! builds), and the WGSL is rendered and naga-validated once, on first use: the CPU device
//! runs the IR and never asks for it, while wgpu, `DEBUG=4`, traces and `Kernel::wgsl` share
//! the one rendering.

use std::sync::{Arc, OnceLock};

use super::ast::KernelAst;
use super::ir::Program;
use super::opt::{apply_opts, Opt, OptError};
use super::shaped::Part;
use super::{linearize, validate, wgsl};
use crate::target::DeviceLimits;

/// Why a kernel could not be compiled.
#[derive(Clone, Debug, thiserror::Error)]
pub enum CompileError {
    /// The opt list does not fit the kernel or the device.
    #[error(transparent)]
    Opt(#[from] OptError),
    /// The program broke an IR invariant or failed naga's validation: a kiln bug. `wgsl` is
    /// the WGSL (or the linear IR where the IR validator refused it), for the bug report.
    #[error("compile {kernel}: {message}\n--- WGSL ---\n{wgsl}")]
    Invalid {
        kernel: String,
        message: String,
        wgsl: String,
    },
}

/// A kernel compiled for one device's limits.
#[derive(Debug)]
pub struct CompiledKernel {
    /// The linear IR: what the CPU device interprets and the WGSL renders.
    pub program: Program,
    /// The loop parts after the opts, in canonical order (global, loop, local, group,
    /// upcast, reduce, unroll).
    pub parts: Vec<Part>,
    wgsl: OnceLock<Result<Arc<str>, CompileError>>,
}

impl CompiledKernel {
    /// The WGSL source, rendered and validated by naga on the first call.
    pub fn wgsl(&self) -> Result<&Arc<str>, CompileError> {
        self.wgsl
            .get_or_init(|| {
                let source = wgsl::render(&self.program);
                wgsl::validate(&self.program.name, &source)?;
                Ok(source.into())
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Estimated host bytes this kernel holds (cache accounting).
    pub fn host_bytes(&self) -> usize {
        self.program.host_bytes()
            + self
                .wgsl
                .get()
                .and_then(|w| w.as_ref().ok())
                .map_or(0, |w| w.len())
    }
}

/// Whether every program is run through the IR validator: always in debug builds (and so in
/// tests), and in release builds with `KILN_VALIDATE_IR=1`.
fn validate_ir() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    cfg!(debug_assertions)
        || *ON.get_or_init(|| std::env::var("KILN_VALIDATE_IR").is_ok_and(|v| v == "1"))
}

/// Compiles `ast` under `opts` for a device with `limits`. An opt list that does not fit is
/// [`CompileError::Opt`]; a program that breaks an IR invariant (a kiln bug) is
/// [`CompileError::Invalid`].
pub fn compile(
    ast: &KernelAst,
    opts: &[Opt],
    limits: &DeviceLimits,
) -> Result<CompiledKernel, CompileError> {
    let shaped = apply_opts(ast, opts, limits)?;
    let program = linearize::linearize(ast, &shaped, limits);
    if validate_ir() {
        validate::validate(&program).map_err(|e| CompileError::Invalid {
            kernel: program.name.clone(),
            message: e.to_string(),
            wgsl: format!("(not rendered; the linear IR)\n{program}"),
        })?;
    }
    Ok(CompiledKernel {
        program,
        parts: shaped.parts,
        wgsl: OnceLock::new(),
    })
}
