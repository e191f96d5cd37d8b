//! The kernel AST: what one kernel computes, before any optimization.
//!
//! A kernel is a loop domain `full_shape` whose axes are either output axes or reduce axes, a
//! list of global buffers, a hash-consed expression DAG over loads and constants, and the
//! stores of its outputs. Index expressions are symbolic ([`Lin`]) over one variable per axis
//! of `full_shape` (variable `i` ranges over `0..full_shape[i]`). Every `Reduce` node reduces
//! over all reduce axes, so all reductions of a kernel share one loop nest. Outputs are stored
//! contiguously, at the row-major index over the output axes.

use std::collections::HashMap;

use crate::dtype::{DType, Scalar};
use crate::ops::{BinaryOp, ReduceOp, UnaryOp};
use crate::view::symbolic::{Lin, Valid};

pub type AstRef = usize;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum AstNode {
    /// `valid ? buf[index] : 0`.
    Load {
        buf: usize,
        index: Lin,
        valid: Valid,
    },
    /// (dtype, bits) of a constant.
    Const(DType, u32),
    Unary(UnaryOp, AstRef),
    Binary(BinaryOp, AstRef, AstRef),
    Where(AstRef, AstRef, AstRef),
    /// Conversion to the given dtype (part of the node so casts to different dtypes differ).
    Cast(DType, AstRef),
    /// `valid ? src : 0`: the zeros of a padded computed value.
    Gate(Valid, AstRef),
    /// Reduction of `src` over every reduce axis of the kernel.
    Reduce(ReduceOp, AstRef),
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BufArg {
    pub dtype: DType,
    pub numel: usize,
    pub output: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct KernelAst {
    pub full_shape: Vec<usize>,
    /// Sorted indices of the reduce axes in `full_shape`.
    pub reduce_axes: Vec<usize>,
    pub bufs: Vec<BufArg>,
    pub nodes: Vec<AstNode>,
    pub dtypes: Vec<DType>,
    /// (output buffer, value) pairs.
    pub stores: Vec<(usize, AstRef)>,
}

impl KernelAst {
    pub fn new(full_shape: Vec<usize>, reduce_axes: Vec<usize>) -> KernelAst {
        KernelAst {
            full_shape,
            reduce_axes,
            bufs: vec![],
            nodes: vec![],
            dtypes: vec![],
            stores: vec![],
        }
    }

    /// Inclusive ranges of the axis variables, for the simplifier.
    pub fn var_ranges(&self) -> Vec<(i64, i64)> {
        self.full_shape.iter().map(|&d| (0, d as i64 - 1)).collect()
    }

    pub fn output_axes(&self) -> Vec<usize> {
        (0..self.full_shape.len())
            .filter(|a| !self.reduce_axes.contains(a))
            .collect()
    }

    pub fn output_numel(&self) -> usize {
        self.output_axes()
            .iter()
            .map(|&a| self.full_shape[a])
            .product()
    }

    pub fn reduce_numel(&self) -> usize {
        self.reduce_axes
            .iter()
            .map(|&a| self.full_shape[a])
            .product()
    }

    /// The row-major index of the current element among the output axes.
    pub fn output_index(&self) -> Lin {
        let axes = self.output_axes();
        let mut stride = 1i64;
        let mut flat = Lin::constant(0);
        for &a in axes.iter().rev() {
            flat = flat.add(&Lin::var(a as u32).scale(stride));
            stride *= self.full_shape[a] as i64;
        }
        flat
    }

    /// Adds a node (or returns the identical existing one).
    pub fn push(
        &mut self,
        node: AstNode,
        dtype: DType,
        memo: &mut HashMap<AstNode, AstRef>,
    ) -> AstRef {
        if let Some(&r) = memo.get(&node) {
            return r;
        }
        self.nodes.push(node.clone());
        self.dtypes.push(dtype);
        let r = self.nodes.len() - 1;
        memo.insert(node, r);
        r
    }

    pub fn constant(&mut self, s: Scalar, memo: &mut HashMap<AstNode, AstRef>) -> AstRef {
        self.push(AstNode::Const(s.dtype(), s.to_bits()), s.dtype(), memo)
    }

    /// Whether node `r` is (or depends on) a reduction result.
    pub fn depends_on_reduce(&self, r: AstRef) -> bool {
        match &self.nodes[r] {
            AstNode::Reduce(..) => true,
            AstNode::Load { .. } | AstNode::Const(..) => false,
            AstNode::Unary(_, a) | AstNode::Cast(_, a) | AstNode::Gate(_, a) => {
                self.depends_on_reduce(*a)
            }
            AstNode::Binary(_, a, b) => self.depends_on_reduce(*a) || self.depends_on_reduce(*b),
            AstNode::Where(c, a, b) => {
                self.depends_on_reduce(*c)
                    || self.depends_on_reduce(*a)
                    || self.depends_on_reduce(*b)
            }
        }
    }

    /// Floating/integer ops per output element and reduce element (for GFLOPS in DEBUG).
    pub fn flop_estimate(&self) -> u64 {
        let reduce_n = self.reduce_numel().max(1) as u64;
        let out_n = self.output_numel() as u64;
        let mut flops = 0u64;
        for (i, n) in self.nodes.iter().enumerate() {
            let counted = matches!(
                n,
                AstNode::Unary(..) | AstNode::Binary(..) | AstNode::Where(..) | AstNode::Reduce(..)
            );
            if counted {
                let inside = !matches!(n, AstNode::Reduce(..))
                    && !self.depends_on_reduce(i)
                    && !self.reduce_axes.is_empty();
                flops += if inside || matches!(n, AstNode::Reduce(..)) {
                    out_n * reduce_n
                } else {
                    out_n
                };
            }
        }
        flops
    }
}
