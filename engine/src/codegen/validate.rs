//! The IR validator, in naga's spirit: it sits between the linearizer and the renderers and
//! checks the invariants both renderers rely on, so a linearizer bug is reported at the
//! instruction that breaks a rule instead of surfacing as a wrong answer or a driver error.
//!
//! Checked: SSA dominance (every operand is defined earlier, in a block that is still open),
//! proper nesting of `Range`/`If` blocks, barriers in uniform control flow (never inside an
//! `If`), operand dtypes and widths, buffer indices and directions (loads from inputs, stores to
//! outputs), accumulators and workgroup arrays used only through their own instructions.
//! Debug builds and tests run it on every program ([`super::compile`]).

use crate::dtype::DType;
use crate::ops::{BinaryOp, ReduceOp};

use super::ir::{Inst, Program, Ref, UOp};

/// A broken IR invariant, naming the instruction.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid IR in kernel {kernel} at {inst} (`{listing}`): {message}")]
pub struct IrError {
    pub kernel: String,
    pub inst: String,
    pub listing: String,
    pub message: String,
}

/// Checks `p`; `Ok(())` when every invariant holds.
pub fn validate(p: &Program) -> Result<(), IrError> {
    let n = p.insts.len();
    // For every instruction: the depth of the block stack where it was defined, and whether
    // that block is still open (by a generation counter per depth).
    let mut open: Vec<(Ref, u64)> = vec![]; // (opener, generation)
    let mut generation = 0u64;
    let mut defined_in: Vec<Option<Vec<u64>>> = vec![None; n];
    let mut if_depth = 0usize;
    for (h, inst) in p.insts.iter() {
        let fail = |message: String| -> Result<(), IrError> {
            Err(IrError {
                kernel: p.name.clone(),
                inst: h.to_string(),
                listing: format!("{:?}", inst.op),
                message,
            })
        };
        let scope: Vec<u64> = open.iter().map(|o| o.1).collect();
        // Dominance: operands defined earlier, in a block on the current stack.
        for r in inst.op.operands() {
            if r.index() >= h.index() {
                return fail(format!("operand {r} is not defined before its use"));
            }
            let Some(def_scope) = &defined_in[r.index()] else {
                return fail(format!("operand {r} defines no value"));
            };
            if !def_scope.iter().all(|g| scope.contains(g)) {
                return fail(format!(
                    "operand {r} was defined in a block that has closed"
                ));
            }
        }
        if let Err(m) = check_types(p, inst) {
            return fail(m);
        }
        match &inst.op {
            UOp::Range { .. } | UOp::If(_) => {
                if matches!(inst.op, UOp::If(_)) {
                    if_depth += 1;
                }
                generation += 1;
                defined_in[h.index()] = Some(
                    scope
                        .iter()
                        .copied()
                        .chain(std::iter::once(generation))
                        .collect(),
                );
                open.push((h, generation));
                continue;
            }
            UOp::EndRange | UOp::EndIf => {
                let Some((opener, _)) = open.pop() else {
                    return fail("closes a block that was never opened".into());
                };
                let matches = matches!(
                    (&p.insts[opener].op, &inst.op),
                    (UOp::Range { .. }, UOp::EndRange) | (UOp::If(_), UOp::EndIf)
                );
                if !matches {
                    return fail(format!(
                        "closes the block opened at {opener} with the wrong kind"
                    ));
                }
                if matches!(inst.op, UOp::EndIf) {
                    if_depth -= 1;
                }
            }
            UOp::Barrier if if_depth > 0 => {
                return fail("barrier inside an `if`: not every lane reaches it".into());
            }
            UOp::SubgroupReduce { .. } if if_depth > 0 => {
                return fail("subgroup reduction inside an `if`: not every lane reaches it".into());
            }
            UOp::SubgroupBroadcast { .. } if if_depth > 0 => {
                return fail("subgroup broadcast inside an `if`: not every lane reaches it".into());
            }
            _ => {}
        }
        let defines = !matches!(
            inst.op,
            UOp::Store { .. }
                | UOp::Scatter { .. }
                | UOp::Assign { .. }
                | UOp::StoreLocal { .. }
                | UOp::Barrier
                | UOp::EndRange
                | UOp::EndIf
        );
        if defines {
            defined_in[h.index()] = Some(scope);
        }
    }
    if let Some((opener, _)) = open.last() {
        return Err(IrError {
            kernel: p.name.clone(),
            inst: opener.to_string(),
            listing: format!("{:?}", p.insts[*opener].op),
            message: "block is never closed".into(),
        });
    }
    Ok(())
}

fn check_types(p: &Program, inst: &Inst) -> Result<(), String> {
    if ![1, 2, 4].contains(&inst.width) {
        return Err(format!("width {} is not 1, 2 or 4", inst.width));
    }
    let c = TypeCheck { p, inst };
    match &inst.op {
        UOp::Special(_) => scalar_self(inst, DType::I32),
        UOp::Const(v) => c.same_dtype(v.dtype(), "constant"),
        UOp::Param(i) => c.param(*i),
        UOp::Unary(_, a) => c.unary(*a, true),
        UOp::Cast(a) => c.unary(*a, false),
        UOp::Bitcast(a) => c.bitcast(*a),
        UOp::Binary(op, a, b) => c.binary(*op, *a, *b),
        UOp::Where(cond, a, b) => c.select(*cond, *a, *b),
        UOp::Load { buf, index, valid } => c.load(*buf, *index, *valid),
        UOp::Store {
            buf,
            index,
            value,
            mask,
        } => c.store(*buf, *index, *value, *mask),
        UOp::Scatter {
            buf,
            index,
            value,
            mask,
            op,
        } => c.scatter(*buf, *index, *value, *mask, *op),
        UOp::Gep(v, lane) => c.gep(*v, *lane),
        UOp::Vectorize(parts) => c.vectorize(parts),
        UOp::DefineAcc(init) => c.same_dtype(init.dtype(), "accumulator's initial value"),
        UOp::Assign { acc, value } => c.assign(*acc, *value),
        UOp::Range { end } => {
            if *end < 0 {
                return Err("negative trip count".into());
            }
            scalar_self(inst, DType::I32)
        }
        UOp::If(cond) => c.scalar(*cond, DType::Bool, "condition"),
        UOp::SubgroupReduce { value, .. } => c.subgroup_reduce(*value),
        UOp::SubgroupBroadcast { value, .. } => c.subgroup_broadcast(*value),
        UOp::EndRange | UOp::EndIf | UOp::Barrier | UOp::DefineLocal { .. } => Ok(()),
        UOp::LoadLocal { local, index } => c.local_access(*local, *index, None),
        UOp::StoreLocal {
            local,
            index,
            value,
        } => c.local_access(*local, *index, Some(*value)),
    }
}

/// The operand checks of one instruction: one method per instruction kind.
struct TypeCheck<'p> {
    p: &'p Program,
    inst: &'p Inst,
}

impl TypeCheck<'_> {
    /// (dtype, width) of instruction `r`.
    fn ty(&self, r: Ref) -> (DType, u8) {
        (self.p.insts[r].dtype, self.p.insts[r].width)
    }
    /// (dtype, width) of the instruction checked.
    fn me(&self) -> (DType, u8) {
        (self.inst.dtype, self.inst.width)
    }
    fn scalar(&self, r: Ref, d: DType, what: &str) -> Result<(), String> {
        if self.ty(r) != (d, 1) {
            return Err(format!(
                "{what} {r} must be a scalar {d}, found {:?}",
                self.ty(r)
            ));
        }
        Ok(())
    }
    fn same_dtype(&self, d: DType, what: &str) -> Result<(), String> {
        if d != self.inst.dtype {
            return Err(format!(
                "{what} of {d} in a {} instruction",
                self.inst.dtype
            ));
        }
        Ok(())
    }
    /// Buffer `buf` exists and is an output (`output`) or an input.
    fn buffer(&self, buf: usize, output: bool) -> Result<(), String> {
        let Some(b) = self.p.bufs.get(buf) else {
            return Err(format!(
                "buffer {buf} does not exist ({} buffers)",
                self.p.bufs.len()
            ));
        };
        if b.output != output {
            let dir = if output { "store to" } else { "load from" };
            let kind = if b.output { "output" } else { "input" };
            return Err(format!("{dir} buffer {buf}, which is an {kind}"));
        }
        Ok(())
    }
    fn param(&self, i: usize) -> Result<(), String> {
        match self.p.params.get(i) {
            Some(&d) if d == self.inst.dtype && self.inst.width == 1 => Ok(()),
            Some(d) => Err(format!("parameter {i} is a {d}, read as {:?}", self.me())),
            None => Err(format!(
                "parameter {i} does not exist ({} parameters)",
                self.p.params.len()
            )),
        }
    }
    /// A scalar op of one operand; a unary op (not a cast) keeps its operand's dtype.
    fn unary(&self, a: Ref, keeps_dtype: bool) -> Result<(), String> {
        if self.ty(a).1 != 1 || self.inst.width != 1 {
            return Err("vector operand".into());
        }
        if keeps_dtype && self.ty(a) != self.me() {
            return Err(format!(
                "operand {a} is {:?}, result {:?}",
                self.ty(a),
                self.me()
            ));
        }
        Ok(())
    }
    fn bitcast(&self, a: Ref) -> Result<(), String> {
        self.unary(a, false)?;
        let words = [DType::F32, DType::I32, DType::U32];
        match words.contains(&self.ty(a).0) && words.contains(&self.inst.dtype) {
            true => Ok(()),
            false => Err(format!(
                "bitcast of {} to {}: only between f32, i32 and u32",
                self.ty(a).0,
                self.inst.dtype
            )),
        }
    }
    fn binary(&self, op: BinaryOp, a: Ref, b: Ref) -> Result<(), String> {
        if self.ty(a) != self.ty(b) {
            return Err(format!(
                "operands {a} and {b} differ: {:?} vs {:?}",
                self.ty(a),
                self.ty(b)
            ));
        }
        let want = match op.is_comparison() {
            true => (DType::Bool, 1),
            false => self.ty(a),
        };
        if self.me() != want || self.ty(a).1 != 1 {
            return Err(format!("result {:?} where {want:?} is expected", self.me()));
        }
        Ok(())
    }
    fn select(&self, cond: Ref, a: Ref, b: Ref) -> Result<(), String> {
        self.scalar(cond, DType::Bool, "condition")?;
        if self.ty(a) != self.me() || self.ty(b) != self.me() {
            return Err(format!(
                "branches {:?} / {:?}, result {:?}",
                self.ty(a),
                self.ty(b),
                self.me()
            ));
        }
        Ok(())
    }
    fn load(&self, buf: usize, index: Ref, valid: Option<Ref>) -> Result<(), String> {
        self.buffer(buf, false)?;
        self.scalar(index, DType::I32, "index")?;
        if let Some(v) = valid {
            self.scalar(v, DType::Bool, "validity")?;
        }
        let stored = self.p.bufs[buf].dtype;
        if stored != self.inst.dtype {
            return Err(format!("loads {} from a {stored} buffer", self.inst.dtype));
        }
        Ok(())
    }
    fn store(&self, buf: usize, index: Ref, value: Ref, mask: Option<Ref>) -> Result<(), String> {
        self.buffer(buf, true)?;
        self.scalar(index, DType::I32, "index")?;
        if let Some(m) = mask {
            self.scalar(m, DType::Bool, "mask")?;
        }
        let stored = self.p.bufs[buf].dtype;
        if self.ty(value).0 != stored {
            return Err(format!(
                "stores {} into a {stored} buffer",
                self.ty(value).0
            ));
        }
        Ok(())
    }
    /// A scalar store of an op that device atomics have: sum of i32, u32, f32, max of u32.
    fn scatter(
        &self,
        buf: usize,
        index: Ref,
        value: Ref,
        mask: Option<Ref>,
        op: ReduceOp,
    ) -> Result<(), String> {
        self.store(buf, index, value, mask)?;
        let d = self.p.bufs[buf].dtype;
        let atomic = matches!(
            (op, d),
            (ReduceOp::Sum, DType::I32 | DType::U32 | DType::F32) | (ReduceOp::Max, DType::U32)
        );
        match (atomic, self.ty(value).1) {
            (false, _) => Err(format!("no atomic {} of {d}", op.name())),
            (true, 1) => Ok(()),
            (true, w) => Err(format!("an atomic of width {w}")),
        }
    }
    fn gep(&self, v: Ref, lane: u8) -> Result<(), String> {
        if lane >= self.ty(v).1 || self.inst.width != 1 || self.ty(v).0 != self.inst.dtype {
            return Err(format!("component {lane} of {v} ({:?})", self.ty(v)));
        }
        Ok(())
    }
    fn vectorize(&self, parts: &[Ref]) -> Result<(), String> {
        if parts.len() != self.inst.width as usize {
            return Err(format!(
                "{} components for width {}",
                parts.len(),
                self.inst.width
            ));
        }
        parts
            .iter()
            .try_for_each(|&r| self.scalar(r, self.inst.dtype, "component"))
    }
    fn assign(&self, acc: Ref, value: Ref) -> Result<(), String> {
        if !matches!(self.p.insts[acc].op, UOp::DefineAcc(_)) {
            return Err(format!("assigns to {acc}, which is not an accumulator"));
        }
        self.scalar(value, self.p.insts[acc].dtype, "value")
    }
    fn subgroup_reduce(&self, value: Ref) -> Result<(), String> {
        if self.inst.dtype == DType::Bool {
            return Err("subgroup reduction of bools".into());
        }
        self.scalar(value, self.inst.dtype, "value")?;
        scalar_self(self.inst, self.inst.dtype)
    }
    fn subgroup_broadcast(&self, value: Ref) -> Result<(), String> {
        if self.inst.dtype == DType::Bool {
            return Err("subgroup broadcast of bools".into());
        }
        if self.ty(value) != self.me() {
            return Err(format!(
                "value {value} is {:?}, result {:?}",
                self.ty(value),
                self.me()
            ));
        }
        Ok(())
    }
    /// A read (`value` none) or write of a workgroup array.
    fn local_access(&self, local: Ref, index: Ref, value: Option<Ref>) -> Result<(), String> {
        let UOp::DefineLocal { .. } = self.p.insts[local].op else {
            return Err(format!("{local} is not a workgroup array"));
        };
        self.scalar(index, DType::I32, "index")?;
        let array = self.p.insts[local].dtype;
        match value {
            Some(v) => self.scalar(v, array, "value"),
            None if self.inst.dtype != array => {
                Err("reads another dtype from a workgroup array".into())
            }
            None => Ok(()),
        }
    }
}

fn scalar_self(inst: &Inst, d: DType) -> Result<(), String> {
    if (inst.dtype, inst.width) != (d, 1) {
        return Err(format!("must be a scalar {d}"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codegen::arena::Arena;
    use crate::codegen::ast::BufArg;
    use crate::dtype::Scalar;
    use crate::ops::ReduceOp;

    fn program(insts: Vec<(UOp, DType)>) -> Program {
        let mut arena = Arena::new();
        for (op, dtype) in insts {
            arena.append(Inst {
                op,
                dtype,
                width: 1,
            });
        }
        Program {
            name: "test".into(),
            colored_name: "test".into(),
            insts: arena,
            bufs: vec![BufArg {
                dtype: DType::F32,
                numel: 4,
                output: true,
            }],
            global_sizes: vec![1],
            local_sizes: vec![],
            opts: vec![],
            flops: 0,
            params: vec![],
            loop_iterations: 0,
            binding_window: usize::MAX,
            native_f16: false,
        }
    }
    fn h(i: usize) -> Ref {
        Ref::new(i)
    }

    #[test]
    fn rejects_barrier_in_if_and_use_after_block() {
        let p = program(vec![
            (UOp::Const(Scalar::Bool(true)), DType::Bool),
            (UOp::If(h(0)), DType::Bool),
            (UOp::Barrier, DType::Bool),
            (UOp::EndIf, DType::Bool),
        ]);
        let e = validate(&p).unwrap_err();
        assert!(e.message.contains("barrier"), "{e}");
        assert_eq!(e.inst, "%2");

        let p = program(vec![
            (UOp::Range { end: 4 }, DType::I32),
            (UOp::Const(Scalar::F32(1.0)), DType::F32),
            (UOp::EndRange, DType::Bool),
            (UOp::Const(Scalar::I32(0)), DType::I32),
            (
                UOp::Store {
                    buf: 0,
                    index: h(3),
                    value: h(1),
                    mask: None,
                },
                DType::F32,
            ),
        ]);
        let e = validate(&p).unwrap_err();
        assert!(e.message.contains("closed"), "{e}");
    }

    #[test]
    fn rejects_a_subgroup_reduction_in_an_if_or_of_bools() {
        let p = program(vec![
            (UOp::Const(Scalar::Bool(true)), DType::Bool),
            (UOp::Const(Scalar::F32(1.0)), DType::F32),
            (UOp::If(h(0)), DType::Bool),
            (
                UOp::SubgroupReduce {
                    op: ReduceOp::Sum,
                    value: h(1),
                },
                DType::F32,
            ),
            (UOp::EndIf, DType::Bool),
        ]);
        let e = validate(&p).unwrap_err();
        assert!(e.message.contains("subgroup reduction inside"), "{e}");
        assert_eq!(e.inst, "%3");

        let p = program(vec![
            (UOp::Const(Scalar::Bool(true)), DType::Bool),
            (
                UOp::SubgroupReduce {
                    op: ReduceOp::Max,
                    value: h(0),
                },
                DType::Bool,
            ),
        ]);
        let e = validate(&p).unwrap_err();
        assert!(e.message.contains("bools"), "{e}");
    }

    #[test]
    fn rejects_a_subgroup_broadcast_in_an_if_of_bools_or_of_another_type() {
        let broadcast = |value| UOp::SubgroupBroadcast { value, lane: 1 };
        let p = program(vec![
            (UOp::Const(Scalar::Bool(true)), DType::Bool),
            (UOp::Const(Scalar::F32(1.0)), DType::F32),
            (UOp::If(h(0)), DType::Bool),
            (broadcast(h(1)), DType::F32),
            (UOp::EndIf, DType::Bool),
        ]);
        let e = validate(&p).unwrap_err();
        assert!(e.message.contains("subgroup broadcast inside"), "{e}");
        assert_eq!(e.inst, "%3");

        let p = program(vec![
            (UOp::Const(Scalar::Bool(true)), DType::Bool),
            (broadcast(h(0)), DType::Bool),
        ]);
        assert!(validate(&p).unwrap_err().message.contains("bools"));

        let p = program(vec![
            (UOp::Const(Scalar::F32(1.0)), DType::F32),
            (broadcast(h(0)), DType::I32),
        ]);
        assert!(validate(&p).unwrap_err().message.contains("result"));
    }

    #[test]
    fn rejects_mixed_dtypes() {
        let p = program(vec![
            (UOp::Const(Scalar::F32(1.0)), DType::F32),
            (UOp::Const(Scalar::I32(1)), DType::I32),
            (UOp::Binary(BinaryOp::Add, h(0), h(1)), DType::F32),
        ]);
        let e = validate(&p).unwrap_err();
        assert!(e.message.contains("differ"), "{e}");
    }
}
