//! The linear IR: a flat SSA list that both the WGSL renderer and the CPU interpreter consume.
//!
//! Every instruction produces at most one value, named by its handle ([`Ref`]). A value has a
//! dtype and a width: 1 for scalars, 2 or 4 for the vectors of vectorized loads and stores
//! (`Gep` takes a component, `Vectorize` builds a vector). Structured control flow is explicit
//! (`Range`/`EndRange`, `If`/`EndIf`) and always properly nested; a value defined inside a
//! block is only used inside it; barriers are never inside an `If` (they must be reached by
//! every lane of a workgroup). Index math is `i32`; load and store indices are element indices
//! (a vector access at index `i` touches `i .. i + width`, `i` a multiple of the width).
//! [`super::validate`] checks all of this.

use std::fmt;

use crate::dtype::{DType, Scalar};
use crate::ops::{BinaryOp, ReduceOp, UnaryOp};

use super::arena::{Arena, Handle};
use super::ast::BufArg;
use super::opt::Opt;

/// A handle to an instruction (and the value it defines).
pub type Ref = Handle<Inst>;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Special {
    /// The flat index of the workgroup in the grid (`i32`).
    GroupId,
    /// The flat index of the invocation in its workgroup (`i32`).
    LocalId,
    /// The invocation's index in its subgroup (`i32`; only on a device with
    /// [`DeviceLimits::subgroup_sizes`]).
    ///
    /// [`DeviceLimits::subgroup_sizes`]: crate::target::DeviceLimits::subgroup_sizes
    SubgroupInvocationId,
    /// The index of the invocation's subgroup in its workgroup (`i32`).
    SubgroupId,
    /// Subgroups in the workgroup (`i32`).
    NumSubgroups,
}

#[derive(Clone, Debug, PartialEq)]
pub enum UOp {
    Special(Special),
    Const(Scalar),
    /// Kernel parameter `i` (a scalar passed at launch).
    Param(usize),
    Unary(UnaryOp, Ref),
    /// On `i32` index math `Div`/`Mod` truncate (divisors are positive constants).
    Binary(BinaryOp, Ref, Ref),
    Where(Ref, Ref, Ref),
    /// Conversion to the instruction's dtype.
    Cast(Ref),
    /// The operand's 32 bits as the instruction's (32-bit) dtype.
    Bitcast(Ref),
    /// `valid ? buf[index .. index + width] : 0` (the memory is not touched when `valid` is
    /// false).
    Load {
        buf: usize,
        index: Ref,
        valid: Option<Ref>,
    },
    /// `if mask { buf[index .. index + width] = value }` (width of `value`).
    Store {
        buf: usize,
        index: Ref,
        value: Ref,
        mask: Option<Ref>,
    },
    /// `if mask { buf[index] = op(buf[index], value) }` as one atomic step (scalar; sum of
    /// i32, u32, f32 or max of u32): a scatter's store, where lanes may meet.
    Scatter {
        buf: usize,
        index: Ref,
        value: Ref,
        mask: Option<Ref>,
        op: ReduceOp,
    },
    /// Component `lane` of a vector.
    Gep(Ref, u8),
    /// A vector of scalars (the instruction's width).
    Vectorize(Vec<Ref>),
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
    /// The reduction of a value over the invocations of the subgroup (all of them reach it:
    /// never inside an `If`), numpy's semantics (a NaN anywhere makes a float max or min
    /// NaN).
    SubgroupReduce {
        op: ReduceOp,
        value: Ref,
    },
    /// Invocation `lane`'s `value`, in every invocation of its subgroup (all of them reach
    /// it: never inside an `If`). `lane` is below the device's smallest subgroup size; the
    /// value may be a vector. Shared loads (`SHARE`) hand their elements out with it.
    SubgroupBroadcast {
        value: Ref,
        lane: u32,
    },
}

impl UOp {
    /// The values this instruction reads.
    pub fn operands(&self) -> Vec<Ref> {
        match self {
            UOp::Special(_)
            | UOp::Const(_)
            | UOp::Param(_)
            | UOp::DefineAcc(_)
            | UOp::Range { .. }
            | UOp::EndRange
            | UOp::EndIf
            | UOp::DefineLocal { .. }
            | UOp::Barrier => vec![],
            UOp::Unary(_, a) | UOp::Cast(a) | UOp::Bitcast(a) | UOp::Gep(a, _) | UOp::If(a) => {
                vec![*a]
            }
            UOp::SubgroupReduce { value, .. } | UOp::SubgroupBroadcast { value, .. } => {
                vec![*value]
            }
            UOp::Binary(_, a, b) => vec![*a, *b],
            UOp::Where(c, a, b) => vec![*c, *a, *b],
            UOp::Load { index, valid, .. } => std::iter::once(*index).chain(*valid).collect(),
            UOp::Store {
                index, value, mask, ..
            }
            | UOp::Scatter {
                index, value, mask, ..
            } => [*index, *value].into_iter().chain(*mask).collect(),
            UOp::Vectorize(v) => v.clone(),
            UOp::Assign { acc, value } => vec![*acc, *value],
            UOp::LoadLocal { local, index } => vec![*local, *index],
            UOp::StoreLocal {
                local,
                index,
                value,
            } => vec![*local, *index, *value],
        }
    }
    pub fn opens_block(&self) -> bool {
        matches!(self, UOp::Range { .. } | UOp::If(_))
    }
    pub fn closes_block(&self) -> bool {
        matches!(self, UOp::EndRange | UOp::EndIf)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Inst {
    pub op: UOp,
    pub dtype: DType,
    /// 1 for scalars; 2 or 4 for vectors.
    pub width: u8,
}

/// A kernel ready to render or interpret.
#[derive(Clone, Debug)]
pub struct Program {
    /// tinygrad-style name: `E_`/`r_` and the loop part sizes.
    pub name: String,
    /// The same name with ANSI colors per part kind.
    pub colored_name: String,
    pub insts: Arena<Inst>,
    pub bufs: Vec<BufArg>,
    /// Sizes of the global parts (their product is the number of workgroups).
    pub global_sizes: Vec<usize>,
    /// Sizes of the local and group parts (their product is the lanes per workgroup).
    pub local_sizes: Vec<usize>,
    pub opts: Vec<Opt>,
    /// Estimated ALU ops for the whole launch.
    pub flops: u64,
    /// dtypes of the kernel parameters (values passed at launch, 4 bytes each).
    pub params: Vec<DType>,
    /// The most iterations any one loop runs per invocation, over all its entries (the
    /// product of the trip counts of a nest's loops).
    pub loop_iterations: u64,
    /// Words (4 bytes) per storage binding on the target device: a longer buffer is bound as
    /// several windows of this many words (see [`Program::bindings`]).
    pub binding_window: usize,
    /// f16 is WGSL's `f16` in this program's buffers and registers
    /// ([`DeviceLimits::native_f16`]); otherwise it is packed like bf16.
    ///
    /// [`DeviceLimits::native_f16`]: crate::target::DeviceLimits::native_f16
    pub native_f16: bool,
}

/// One storage binding of a program: a window of a buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Binding {
    pub buf: usize,
    /// Which window of the buffer (0 for a buffer bound whole).
    pub window: usize,
    /// First element and element count of the window.
    pub offset: usize,
    pub len: usize,
}

impl Program {
    /// Invocations per workgroup.
    pub fn local_size(&self) -> usize {
        self.local_sizes.iter().product()
    }
    /// Workgroups in the (flat) grid.
    pub fn num_groups(&self) -> usize {
        self.global_sizes.iter().product()
    }
    /// Bytes read and written, counting each buffer once (for GB/s).
    pub fn bytes_moved(&self) -> u64 {
        self.bufs
            .iter()
            .map(|b| b.dtype.buffer_bytes(b.numel) as u64)
            .sum()
    }
    /// Host memory the program holds, roughly (for the bounded caches).
    pub fn host_bytes(&self) -> usize {
        std::mem::size_of::<Program>()
            + self.insts.len() * (std::mem::size_of::<Inst>() + 16)
            + self.name.len()
            + self.colored_name.len()
            + self.bufs.len() * std::mem::size_of::<BufArg>()
    }
    /// Whether buffer `buf`'s elements are packed several to a word (f16 is not where the
    /// program computes it natively).
    pub fn packed(&self, buf: usize) -> bool {
        let d = self.bufs[buf].dtype;
        d.is_packed() && !(self.native_f16 && d == DType::F16)
    }
    /// Elements of buffer `buf` per binding window.
    pub fn window_elements(&self, buf: usize) -> usize {
        self.binding_window.saturating_mul(4) / self.bufs[buf].dtype.storage_bytes()
    }
    /// How many windows buffer `buf` is bound as (1: bound whole).
    pub fn windows(&self, buf: usize) -> usize {
        self.bufs[buf]
            .numel
            .div_ceil(self.window_elements(buf))
            .max(1)
    }
    /// Every storage binding, in binding order: each buffer's windows in turn. A buffer longer
    /// than one binding may hold (128 MiB on lavapipe) is bound as consecutive windows; the
    /// renderer routes each access to its window.
    pub fn bindings(&self) -> Vec<Binding> {
        let mut out = vec![];
        for (buf, b) in self.bufs.iter().enumerate() {
            let per_window = self.window_elements(buf);
            for window in 0..self.windows(buf) {
                let offset = window * per_window;
                out.push(Binding {
                    buf,
                    window,
                    offset,
                    len: (b.numel - offset.min(b.numel)).min(per_window),
                });
            }
        }
        out
    }
    /// Per buffer: the width of its vector accesses when they all agree (the renderer binds it
    /// as an array of such vectors), else 1. Windowed buffers are bound as scalars, and
    /// packed dtypes (f16, bf16, u8, i8) as words.
    pub fn buffer_widths(&self) -> Vec<u8> {
        let mut widths: Vec<Option<u8>> = vec![None; self.bufs.len()];
        let mut mixed = vec![false; self.bufs.len()];
        for (_, inst) in self.insts.iter() {
            let (buf, w) = match &inst.op {
                UOp::Load { buf, .. } => (*buf, inst.width),
                UOp::Store { buf, value, .. } => (*buf, self.insts[*value].width),
                _ => continue,
            };
            if w > 1 {
                match widths[buf] {
                    None => widths[buf] = Some(w),
                    Some(prev) if prev != w => mixed[buf] = true,
                    _ => {}
                }
            }
        }
        widths
            .iter()
            .zip(&mixed)
            .enumerate()
            .map(|(buf, (w, &m))| {
                if m || self.windows(buf) > 1 || self.packed(buf) {
                    1
                } else {
                    w.unwrap_or(1)
                }
            })
            .collect()
    }
}

fn type_name(inst: &Inst) -> String {
    if inst.width == 1 {
        inst.dtype.name().to_string()
    } else {
        format!("{}x{}", inst.dtype.name(), inst.width)
    }
}

/// A readable listing, one instruction per line, indented by block.
impl fmt::Display for Program {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut depth = 0usize;
        for (h, inst) in self.insts.iter() {
            if inst.op.closes_block() {
                depth = depth.saturating_sub(1);
            }
            let ind = "  ".repeat(depth);
            let def = format!("{ind}{:<5} {:<6} = ", h.to_string(), type_name(inst));
            let line = match &inst.op {
                UOp::Special(Special::GroupId) => format!("{def}group_id"),
                UOp::Special(Special::LocalId) => format!("{def}local_id"),
                UOp::Special(Special::SubgroupInvocationId) => {
                    format!("{def}subgroup_invocation_id")
                }
                UOp::Special(Special::SubgroupId) => format!("{def}subgroup_id"),
                UOp::Special(Special::NumSubgroups) => format!("{def}num_subgroups"),
                UOp::SubgroupReduce { op, value } => {
                    format!("{def}subgroup_{} {value}", op.name())
                }
                UOp::SubgroupBroadcast { value, lane } => {
                    format!("{def}subgroup_broadcast {value} from {lane}")
                }
                UOp::Const(c) => format!("{def}{c}"),
                UOp::Param(i) => format!("{def}param {i}"),
                UOp::Unary(op, a) => format!("{def}{} {a}", op.name()),
                UOp::Binary(op, a, b) => format!("{def}{} {a} {b}", op.name()),
                UOp::Where(c, a, b) => format!("{def}where {c} {a} {b}"),
                UOp::Cast(a) => format!("{def}cast {a}"),
                UOp::Bitcast(a) => format!("{def}bitcast {a}"),
                UOp::Load { buf, index, valid } => match valid {
                    None => format!("{def}load data{buf}[{index}]"),
                    Some(v) => format!("{def}load data{buf}[{index}] if {v}"),
                },
                UOp::Store {
                    buf,
                    index,
                    value,
                    mask,
                } => match mask {
                    None => format!("{ind}store data{buf}[{index}] = {value}"),
                    Some(m) => format!("{ind}store data{buf}[{index}] = {value} if {m}"),
                },
                UOp::Scatter {
                    buf,
                    index,
                    value,
                    mask,
                    op,
                } => {
                    let line = format!("{ind}atomic data{buf}[{index}] {}= {value}", op.name());
                    match mask {
                        None => line,
                        Some(m) => format!("{line} if {m}"),
                    }
                }
                UOp::Gep(v, lane) => format!("{def}{v}.{lane}"),
                UOp::Vectorize(v) => {
                    let parts: Vec<String> = v.iter().map(|r| r.to_string()).collect();
                    format!("{def}vec({})", parts.join(", "))
                }
                UOp::DefineAcc(init) => format!("{def}acc {init}"),
                UOp::Assign { acc, value } => format!("{ind}{acc} <- {value}"),
                UOp::Range { end } => format!("{def}range 0..{end} {{"),
                UOp::EndRange => format!("{ind}}} (range)"),
                UOp::If(c) => format!("{ind}if {c} {{"),
                UOp::EndIf => format!("{ind}}} (if)"),
                UOp::DefineLocal { len } => format!("{def}local[{len}]"),
                UOp::LoadLocal { local, index } => format!("{def}{local}[{index}]"),
                UOp::StoreLocal {
                    local,
                    index,
                    value,
                } => format!("{ind}{local}[{index}] = {value}"),
                UOp::Barrier => format!("{ind}barrier"),
            };
            writeln!(f, "{}", line.trim_end())?;
            if inst.op.opens_block() {
                depth += 1;
            }
        }
        Ok(())
    }
}
