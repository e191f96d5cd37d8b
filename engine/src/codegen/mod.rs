//! Code generation: kernel AST → opts → linear IR → WGSL.

pub mod ast;
pub mod ir;
pub mod linearize;
pub mod opt;
pub mod wgsl;

use ast::KernelAst;
use ir::Program;

/// Optimizes and linearizes one kernel. `noopt` turns the heuristics off (NOOPT=1).
pub fn compile(ast: &KernelAst, max_local: usize, noopt: bool) -> Program {
    let opts = if noopt {
        vec![]
    } else {
        opt::heuristic_opts(ast, max_local)
    };
    let shaped = opt::apply_opts(ast, &opts);
    linearize::linearize(ast, &shaped)
}
