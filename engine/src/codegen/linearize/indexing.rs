//! Checked indices and the reads at computed positions they feed (`gather`, `index_select`,
//! `one_hot`, `scatter`): an index outside its axis never reaches memory; it reads position 0
//! and sets the kernel's status words instead, which the runtime turns into an `Err` when a
//! value computed from it is read.

use crate::dtype::{DType, Scalar};
use crate::ops::BinaryOp;
use crate::view::symbolic::{Lin, Valid};

use super::super::ast::ExprRef;
use super::super::ir::{Ref, UOp};
use super::{Key, Linearizer};

impl Linearizer<'_> {
    /// The position `src` names under check `check`, and, where `valid` and the lane's guards
    /// hold and it is out of range, the stores of the check's number and the index into the
    /// status buffer (every failing lane writes the same words' kind: any one of them wins).
    pub(super) fn check_index(
        &mut self,
        src: ExprRef,
        check: usize,
        valid: &Valid,
        lane: usize,
    ) -> Ref {
        let c = self.ast.checks[check];
        let raw = self.node(src, lane);
        let len = i32::try_from(c.len).expect("index checks are for axes below 2^31");
        let (pos, ok) = if c.unsigned {
            let end = self.constant(Scalar::U32(len as u32));
            let ok = self.binary(BinaryOp::CmpLt, raw, end, DType::Bool);
            (self.emit(UOp::Cast(raw), DType::I32), ok)
        } else {
            let wrapped = match c.op.wraps_negative() {
                true => {
                    let zero = self.constant(Scalar::I32(0));
                    let negative = self.binary(BinaryOp::CmpLt, raw, zero, DType::Bool);
                    let end = self.constant(Scalar::I32(len));
                    let from_end = self.binary(BinaryOp::Add, raw, end, DType::I32);
                    self.emit(UOp::Where(negative, from_end, raw), DType::I32)
                }
                false => raw,
            };
            let minus_one = self.constant(Scalar::I32(-1));
            let end = self.constant(Scalar::I32(len));
            let above = self.binary(BinaryOp::CmpLt, minus_one, wrapped, DType::Bool);
            let below = self.binary(BinaryOp::CmpLt, wrapped, end, DType::Bool);
            let ok = self.binary(BinaryOp::And, above, below, DType::Bool);
            (wrapped, ok)
        };
        let yes = self.constant(Scalar::Bool(true));
        let bad = self.binary(BinaryOp::Xor, ok, yes, DType::Bool);
        let mut v = self.subst_valid(valid, lane);
        let g = self.lane_guard(lane);
        v.and_all(&g, &self.ranges);
        let guard = self.valid(&v);
        let mask = self.and(Some(bad), guard).expect("a check's mask");
        if !v.is_never() && self.lookup(&Key::Flagged(mask)).is_none() {
            self.remember(Key::Flagged(mask), mask);
            let status = self
                .ast
                .status_buf()
                .expect("a kernel with checks has a status");
            let code = self.constant(Scalar::I32(check as i32 + 1));
            let index_bits = match c.unsigned {
                true => self.emit(UOp::Cast(raw), DType::I32),
                false => raw,
            };
            for (word, value) in [(0, code), (1, index_bits)] {
                let index = self.constant(Scalar::I32(word));
                self.push(
                    UOp::Store {
                        buf: status,
                        index,
                        value,
                        mask: Some(mask),
                    },
                    DType::I32,
                    1,
                );
            }
        }
        let zero = self.constant(Scalar::I32(0));
        self.emit(UOp::Where(ok, pos, zero), DType::I32)
    }

    /// `buf[base + stride * pos]` where `valid` holds (`pos` a checked position).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn gather(
        &mut self,
        buf: usize,
        base: &Lin,
        stride: usize,
        pos: ExprRef,
        valid: &Valid,
        d: DType,
        lane: usize,
    ) -> Ref {
        let (base, v) = self.load_access(base, valid, lane);
        if v.is_never() {
            return self.constant(Scalar::from_f64(0.0, d));
        }
        let p = self.node(pos, lane);
        let index = self.at_position(&base, stride, p);
        let valid = self.valid(&v);
        self.emit(UOp::Load { buf, index, valid }, d)
    }

    /// `base + stride * pos`: the element a computed position names.
    pub(super) fn at_position(&mut self, base: &Lin, stride: usize, pos: Ref) -> Ref {
        let offset = match stride {
            1 => pos,
            s => {
                let s = self.constant(Scalar::I32(s as i32));
                self.binary(BinaryOp::Mul, pos, s, DType::I32)
            }
        };
        let base = self.lin(base);
        self.binary(BinaryOp::Add, base, offset, DType::I32)
    }
}
