//! The linear IR: a flat SSA list that both the WGSL renderer and the CPU interpreter consume.
//!
//! Every instruction produces at most one value, named by its position ([`Ref`]). Structured
//! control flow is explicit (`Range`/`EndRange`, `If`/`EndIf`) and always properly nested; a
//! value defined inside a block is only used inside it. Index math is `i32`.

use std::fmt;

use crate::dtype::{DType, Scalar};
use crate::ops::{BinaryOp, UnaryOp};

use super::ast::BufArg;
use super::opt::Opt;

pub type Ref = usize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Special {
    /// The flat index of the workgroup in the grid (`i32`).
    GroupId,
    /// The flat index of the invocation in its workgroup (`i32`).
    LocalId,
}

#[derive(Clone, Debug, PartialEq)]
pub enum UOp {
    Special(Special),
    Const(Scalar),
    Unary(UnaryOp, Ref),
    /// On `i32` index math `Div`/`Mod` truncate (divisors are positive constants).
    Binary(BinaryOp, Ref, Ref),
    Where(Ref, Ref, Ref),
    /// Conversion to the instruction's dtype.
    Cast(Ref),
    /// `valid ? buf[index] : 0` (the index is not evaluated when `valid` is false).
    Load {
        buf: usize,
        index: Ref,
        valid: Option<Ref>,
    },
    Store {
        buf: usize,
        index: Ref,
        value: Ref,
    },
    /// A mutable register starting at the given value; reading the `Ref` reads it.
    DefineAcc(Scalar),
    Assign {
        acc: Ref,
        value: Ref,
    },
    /// `for (i = 0; i < end; i++)`; the `Ref` is the loop variable.
    Range {
        end: i64,
    },
    EndRange,
    If(Ref),
    EndIf,
    /// A workgroup-shared array of `len` elements of the instruction's dtype.
    DefineLocal {
        len: usize,
    },
    LoadLocal {
        local: Ref,
        index: Ref,
    },
    StoreLocal {
        local: Ref,
        index: Ref,
        value: Ref,
    },
    Barrier,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Inst {
    pub op: UOp,
    pub dtype: DType,
}

/// A kernel ready to render or interpret.
#[derive(Clone, Debug)]
pub struct Program {
    /// tinygrad-style name: `E_`/`r_` and the loop sizes.
    pub name: String,
    /// The same name with ANSI colors per axis kind.
    pub colored_name: String,
    pub insts: Vec<Inst>,
    pub bufs: Vec<BufArg>,
    /// Invocations per workgroup.
    pub local_size: usize,
    /// Workgroups in the (flat) grid.
    pub num_groups: usize,
    pub opts: Vec<Opt>,
    /// Estimated ALU ops for the whole launch.
    pub flops: u64,
}

impl Program {
    /// Bytes read and written, counting each buffer once (for GB/s).
    pub fn bytes_moved(&self) -> u64 {
        self.bufs
            .iter()
            .map(|b| (b.numel * b.dtype.storage_bytes()) as u64)
            .sum()
    }
}

impl fmt::Display for Program {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut depth = 0;
        for (i, inst) in self.insts.iter().enumerate() {
            if matches!(inst.op, UOp::EndRange | UOp::EndIf) {
                depth -= 1;
            }
            writeln!(
                f,
                "{:4} {:width$}{:<5} {:?}",
                i,
                "",
                inst.dtype.name(),
                inst.op,
                width = depth * 2
            )?;
            if matches!(inst.op, UOp::Range { .. } | UOp::If(_)) {
                depth += 1;
            }
        }
        Ok(())
    }
}
