//! Optimizations: a list of [`Opt`]s applied to a kernel's axes, and the heuristics that pick it.
//!
//! Applying opts is a pure function of (kernel, opts), so a list can be printed, replayed and
//! tested. Each opt splits one axis of the kernel's `full_shape` into parts of different kinds:
//!
//! - `Local(axis, n)`: output axis → (global part of ⌈size/n⌉, local part of n): `n` neighbouring
//!   elements of the axis are computed by the threads of one workgroup. A size that `n` does
//!   not divide is padded and the tail is masked off.
//! - `Group(axis, n)`: reduce axis → (reduce part of ⌈size/n⌉, group part of n): `n` threads of a
//!   workgroup each reduce every n-th element, then combine through workgroup memory.
//!
//! Axes without an opt stay whole: output axes are global (one workgroup each), reduce axes are
//! loops. Upcast/unroll (register tiles) come with the optimizer issue.

use std::fmt;

use super::ast::KernelAst;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OptOp {
    Local,
    Group,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Opt {
    pub op: OptOp,
    pub axis: usize,
    pub amount: usize,
}

impl fmt::Display for Opt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = match self.op {
            OptOp::Local => "LOCAL",
            OptOp::Group => "GROUP",
        };
        write!(f, "Opt(op={op}, axis={}, arg={})", self.axis, self.amount)
    }
}

/// The kind of a loop axis after opts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AxisKind {
    Global,
    Local,
    Reduce,
    GroupReduce,
}

/// One loop axis of the optimized kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Part {
    /// The `full_shape` axis this part belongs to.
    pub axis: usize,
    pub size: usize,
    pub kind: AxisKind,
    /// The axis value is Σ part value × multiplier.
    pub mult: usize,
}

/// The loop structure of a kernel after opts: its parts, in order of (axis, outer first).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Shaped {
    pub parts: Vec<Part>,
    pub opts: Vec<Opt>,
}

impl Shaped {
    pub fn of_kind(&self, k: AxisKind) -> Vec<Part> {
        self.parts.iter().copied().filter(|p| p.kind == k).collect()
    }
    pub fn size_of(&self, k: AxisKind) -> usize {
        self.of_kind(k).iter().map(|p| p.size).product()
    }
    pub fn local_size(&self) -> usize {
        self.size_of(AxisKind::Local) * self.size_of(AxisKind::GroupReduce)
    }
}

/// Applies `opts` to `ast`. Panics on an opt that does not fit (a heuristic bug, not user input).
pub fn apply_opts(ast: &KernelAst, opts: &[Opt]) -> Shaped {
    let mut parts = vec![];
    for (axis, &size) in ast.full_shape.iter().enumerate() {
        let is_reduce = ast.reduce_axes.contains(&axis);
        let opt = opts.iter().find(|o| o.axis == axis);
        match opt {
            None => parts.push(Part {
                axis,
                size,
                kind: if is_reduce {
                    AxisKind::Reduce
                } else {
                    AxisKind::Global
                },
                mult: 1,
            }),
            Some(o) => {
                let n = o.amount;
                assert!(n >= 1, "{o}: amount must be positive");
                match o.op {
                    OptOp::Local => {
                        assert!(!is_reduce, "{o}: LOCAL applies to an output axis");
                        parts.push(Part {
                            axis,
                            size: size.div_ceil(n),
                            kind: AxisKind::Global,
                            mult: n,
                        });
                        parts.push(Part {
                            axis,
                            size: n,
                            kind: AxisKind::Local,
                            mult: 1,
                        });
                    }
                    OptOp::Group => {
                        assert!(is_reduce, "{o}: GROUP applies to a reduce axis");
                        assert!(n.is_power_of_two(), "{o}: GROUP needs a power of two");
                        parts.push(Part {
                            axis,
                            size: size.div_ceil(n),
                            kind: AxisKind::Reduce,
                            mult: n,
                        });
                        parts.push(Part {
                            axis,
                            size: n,
                            kind: AxisKind::GroupReduce,
                            mult: 1,
                        });
                    }
                }
            }
        }
    }
    let shaped = Shaped {
        parts,
        opts: opts.to_vec(),
    };
    assert!(
        shaped.size_of(AxisKind::Local) == 1 || shaped.size_of(AxisKind::GroupReduce) == 1,
        "LOCAL and GROUP in one kernel are not supported yet"
    );
    shaped
}

/// Threads per workgroup the default heuristic aims for.
const TARGET_LOCAL: usize = 64;
/// Threads that cooperate on one reduction when there are few outputs.
const GROUP_SIZE: usize = 256;

/// The hand-rolled heuristics. Today: split a large reduction across a workgroup when there are
/// too few outputs to keep the device busy, otherwise spread output axes over a workgroup of
/// about 64 threads (innermost axes first, so neighbouring threads touch neighbouring memory).
pub fn heuristic_opts(ast: &KernelAst, max_local: usize) -> Vec<Opt> {
    let mut opts = vec![];
    let out_n = ast.output_numel();
    if !ast.reduce_axes.is_empty() && out_n < 2048 {
        // Group the largest reduce axis.
        if let Some(&axis) = ast.reduce_axes.iter().max_by_key(|&&a| ast.full_shape[a]) {
            let size = ast.full_shape[axis];
            if size >= 64 {
                let n = GROUP_SIZE.min(size.next_power_of_two()).min(max_local);
                opts.push(Opt {
                    op: OptOp::Group,
                    axis,
                    amount: n,
                });
                return opts;
            }
        }
    }
    let mut threads = 1;
    for axis in ast.output_axes().into_iter().rev() {
        let size = ast.full_shape[axis];
        if threads >= TARGET_LOCAL || size <= 1 {
            continue;
        }
        let n = (TARGET_LOCAL / threads)
            .min(size.next_power_of_two())
            .min(max_local / threads);
        if n > 1 {
            opts.push(Opt {
                op: OptOp::Local,
                axis,
                amount: n,
            });
            threads *= n;
        }
        // Only the innermost output axes: stop at the first axis that was not fully covered.
        if n < size {
            break;
        }
    }
    opts
}
