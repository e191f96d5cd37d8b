//! Buffer accesses: loads and stores of every width, routed to a buffer's binding windows,
//! and the packed dtypes' elements taken out of and put into their 32-bit words.
//!
//! A packed buffer (f16, bf16: two per word; u8, i8: four) is bound as `array<u32>`. A store
//! that covers whole words (a vector of 2 f16 or 4 u8, aligned) writes them; a store of part
//! of a word (one f16 of two) clears and sets its bits with `atomicAnd`/`atomicOr`, since
//! other lanes may write the word's other elements at the same time: a buffer stored that
//! way is bound as `array<atomic<u32>>`.

use std::fmt::Write;

use crate::dtype::{DType, Scalar};

use super::super::ir::{Inst, Program, Ref, UOp};
use super::{v, Writer};

/// Elements per word and bits per element of a packed dtype.
fn packing(d: DType) -> (u32, u32) {
    let bits = d.storage_bytes() as u32 * 8;
    (32 / bits, bits)
}

/// Per buffer, whether some store writes part of a word or scatters (it is then bound as
/// atomics).
pub(super) fn atomic_buffers(p: &Program) -> Vec<bool> {
    let mut atomic = vec![false; p.bufs.len()];
    for (_, inst) in p.insts.iter() {
        match &inst.op {
            UOp::Store { buf, value, .. } => {
                let w = p.insts[*value].width as u32;
                atomic[*buf] |= p.packed(*buf) && w % packing(p.bufs[*buf].dtype).0 != 0;
            }
            UOp::Scatter { buf, .. } => atomic[*buf] = true,
            _ => {}
        }
    }
    atomic
}

/// Per instruction, whether its value is only ever stored: as the value of a `Store`, or as
/// a component of a vector that is.
pub(super) fn stored_only(p: &Program) -> Vec<bool> {
    let insts: Vec<&Inst> = p.insts.iter().map(|(_, inst)| inst).collect();
    let mut users: Vec<Vec<usize>> = vec![vec![]; insts.len()];
    for (i, inst) in insts.iter().enumerate() {
        for r in inst.op.operands() {
            users[r.index()].push(i);
        }
    }
    let mut only = vec![false; insts.len()];
    // Users come after their operands: walking backwards, a user's answer is known.
    for me in (0..insts.len()).rev() {
        only[me] = !users[me].is_empty()
            && users[me].iter().all(|&u| match &insts[u].op {
                UOp::Store {
                    value, index, mask, ..
                } => {
                    value.index() == me
                        && index.index() != me
                        && mask.is_none_or(|m| m.index() != me)
                }
                UOp::Vectorize(_) => only[u],
                _ => false,
            });
    }
    only
}

/// `kiln_read{buf}(i)` and (for outputs) `kiln_write{buf}(i, v)` and, for atomic buffers,
/// `kiln_rmw{buf}(i, clear, set)`: word or element `i` of a buffer bound as several windows
/// (`Program::bindings`), routed to window `i / W`.
pub(super) fn window_accessors(s: &mut String, p: &Program, buf: usize, t: &str, atomic: bool) {
    let n = p.windows(buf);
    let packed = p.packed(buf);
    // Packed buffers are addressed by word, the others by element.
    let w = if packed {
        p.binding_window
    } else {
        p.window_elements(buf)
    };
    let locate = format!("  let w = i / {w}i;\n  let j = i - w * {w}i;");
    let route = |s: &mut String, stmt: &dyn Fn(usize) -> String| {
        for k in 0..n - 1 {
            let _ = writeln!(s, "  if (w == {k}i) {{ {} return; }}", stmt(k));
        }
        let _ = writeln!(s, "  {}\n}}", stmt(n - 1));
    };
    let read = |k: usize| match atomic {
        true => format!("atomicLoad(&data{buf}_{k}[j])"),
        false => format!("data{buf}_{k}[j]"),
    };
    let _ = writeln!(s, "fn kiln_read{buf}(i: i32) -> {t} {{\n{locate}");
    for k in 0..n - 1 {
        let _ = writeln!(s, "  if (w == {k}i) {{ return {}; }}", read(k));
    }
    let _ = writeln!(s, "  return {};\n}}", read(n - 1));
    if !p.bufs[buf].output {
        return;
    }
    let _ = writeln!(s, "fn kiln_write{buf}(i: i32, v: {t}) {{\n{locate}");
    route(s, &|k| match atomic {
        true => format!("atomicStore(&data{buf}_{k}[j], v);"),
        false => format!("data{buf}_{k}[j] = v;"),
    });
    if atomic {
        let _ = writeln!(
            s,
            "fn kiln_rmw{buf}(i: i32, clear: u32, set: u32) {{\n{locate}"
        );
        route(s, &|k| {
            format!("atomicAnd(&data{buf}_{k}[j], ~clear); atomicOr(&data{buf}_{k}[j], set);")
        });
    }
}

impl Writer<'_> {
    /// Word (packed buffers) or element `idx` of buffer `buf`, as stored.
    fn slot(&self, buf: usize, idx: &str) -> String {
        match self.widths[buf] {
            _ if self.p.windows(buf) > 1 => format!("kiln_read{buf}({idx})"),
            _ if self.atomic[buf] => format!("atomicLoad(&data{buf}[{idx}])"),
            1 => format!("data{buf}[{idx}]"),
            w => format!("data{buf}[({idx}) / {w}i][({idx}) % {w}i]"),
        }
    }

    /// The statement that writes `val` to word or element `idx` of buffer `buf`.
    fn write_slot(&self, buf: usize, idx: &str, val: &str) -> String {
        match self.widths[buf] {
            _ if self.p.windows(buf) > 1 => format!("kiln_write{buf}({idx}, {val});"),
            _ if self.atomic[buf] => format!("atomicStore(&data{buf}[{idx}], {val});"),
            1 => format!("data{buf}[{idx}] = {val};"),
            w => format!("data{buf}[({idx}) / {w}i][({idx}) % {w}i] = {val};"),
        }
    }

    /// The register value of element `idx` of buffer `buf` (a scalar).
    fn element(&mut self, buf: usize, idx: &str) -> String {
        let d = self.p.bufs[buf].dtype;
        if !self.p.packed(buf) {
            let raw = self.slot(buf, idx);
            return match d {
                DType::Bool => format!("({raw} != 0u)"),
                _ => raw,
            };
        }
        let (k, bits) = packing(d);
        let word = self.slot(buf, &format!("({idx}) / {k}i"));
        let shift = format!("((u32({idx}) % {k}u) * {bits}u)");
        self.unpack(d, &word, &shift)
    }

    /// The register value of the element at bit `shift` of `word` (WGSL expressions).
    pub(super) fn unpack(&mut self, d: DType, word: &str, shift: &str) -> String {
        match d {
            DType::F16 => {
                self.helpers.f16 = true;
                format!("kiln_f16_value(({word} >> {shift}) & 0xffffu)")
            }
            DType::BF16 => {
                self.helpers.bf16 = true;
                format!("kiln_bf16_value(({word} >> {shift}) & 0xffffu)")
            }
            DType::U8 => format!("(({word} >> {shift}) & 0xffu)"),
            DType::I8 => format!("(bitcast<i32>({word} << (24u - {shift})) >> 24u)"),
            d => unreachable!("{d} is not packed"),
        }
    }

    /// The bits of register value `val` as its packed dtype stores them (in the low bits).
    fn pack(&mut self, d: DType, val: &str) -> String {
        match d {
            DType::F16 => {
                self.helpers.f16 = true;
                format!("kiln_f16_bits({val})")
            }
            DType::BF16 => {
                self.helpers.bf16 = true;
                format!("kiln_bf16_bits({val})")
            }
            DType::U8 => format!("({val} & 0xffu)"),
            DType::I8 => format!("(bitcast<u32>({val}) & 0xffu)"),
            d => unreachable!("{d} is not packed"),
        }
    }

    /// A (possibly vector, possibly masked) load. The index is only used where valid: a
    /// masked lane reads nothing and takes zero.
    pub(super) fn load(
        &mut self,
        i: usize,
        inst: &Inst,
        buf: usize,
        index: Ref,
        valid: Option<Ref>,
    ) -> String {
        let t = self.vec_ty(inst.dtype, inst.width);
        let idx = v(index);
        let d = self.p.bufs[buf].dtype;
        let (k, bits) = packing(d);
        let mut words = String::new();
        let raw = if inst.width > 1 && self.widths[buf] == inst.width {
            format!("data{buf}[({idx}) / {}i]", inst.width)
        } else if self.p.packed(buf) && inst.width as u32 % k == 0 {
            // Whole words (the index is a multiple of the width): each word read once.
            let mut comps = vec![];
            for j in 0..inst.width as u32 / k {
                let word = self.slot(buf, &format!("({idx}) / {k}i + {j}i"));
                let _ = write!(words, "let v{i}_{j}: u32 = {word}; ");
                for e in 0..k {
                    comps.push(self.unpack(d, &format!("v{i}_{j}"), &format!("{}u", e * bits)));
                }
            }
            format!("{t}({})", comps.join(", "))
        } else if inst.width > 1 {
            let comps: Vec<String> = (0..inst.width)
                .map(|c| self.element(buf, &format!("({idx}) + {c}i")))
                .collect();
            format!("{t}({})", comps.join(", "))
        } else {
            self.element(buf, &idx)
        };
        match valid {
            None => format!("{words}let v{i}: {t} = {raw};"),
            Some(g) => {
                let zero = self.literal(Scalar::from_f64(0.0, inst.dtype));
                let zero = if inst.width > 1 {
                    format!("{t}({zero})")
                } else {
                    zero
                };
                // A branch rather than a select of a clamped read: lanes whose element is
                // masked off read nothing (a cat's pieces, a pad's border).
                format!(
                    "var v{i}: {t} = {zero}; if ({}) {{ {words}v{i} = {raw}; }}",
                    v(g)
                )
            }
        }
    }

    /// A (possibly vector, possibly masked) store; bools are stored as 0/1 words.
    pub(super) fn store(
        &mut self,
        buf: usize,
        index: Ref,
        value: Ref,
        mask: Option<Ref>,
    ) -> String {
        let d = self.p.bufs[buf].dtype;
        let w = self.p.insts[value].width;
        let idx = v(index);
        let stmt = if self.p.packed(buf) {
            self.store_packed(d, buf, &idx, value)
        } else {
            let val = if d == DType::Bool {
                format!("select(0u, 1u, {})", v(value))
            } else {
                v(value)
            };
            if w > 1 && self.widths[buf] == w {
                format!("data{buf}[{idx} / {w}i] = {val};")
            } else if w > 1 {
                (0..w)
                    .map(|c| self.write_slot(buf, &format!("{idx} + {c}i"), &format!("{val}[{c}]")))
                    .collect::<Vec<_>>()
                    .join(" ")
            } else {
                self.write_slot(buf, &idx, &val)
            }
        };
        match mask {
            None => stmt,
            Some(m) => format!("if ({}) {{ {stmt} }}", v(m)),
        }
    }

    /// Whole words where the store covers them, else each element's bits in its word.
    fn store_packed(&mut self, d: DType, buf: usize, idx: &str, value: Ref) -> String {
        let (k, bits) = packing(d);
        let w = self.p.insts[value].width as u32;
        let comp = |c: u32| match w {
            1 => v(value),
            _ => format!("{}[{c}]", v(value)),
        };
        if w % k == 0 {
            // `idx` is a multiple of the width, so the vector starts a word.
            return (0..w / k)
                .map(|j| {
                    let parts: Vec<String> = (0..k)
                        .map(|e| format!("({} << {}u)", self.pack(d, &comp(j * k + e)), e * bits))
                        .collect();
                    let word = format!("({idx}) / {k}i + {j}i");
                    self.write_slot(buf, &word, &parts.join(" | "))
                })
                .collect::<Vec<_>>()
                .join(" ");
        }
        (0..w)
            .map(|c| {
                let at = format!("({idx}) + {c}i");
                let word = format!("({at}) / {k}i");
                let shift = format!("((u32({at}) % {k}u) * {bits}u)");
                let clear = format!("({:#x}u << {shift})", (1u64 << bits) - 1);
                let set = format!("({} << {shift})", self.pack(d, &comp(c)));
                if self.p.windows(buf) > 1 {
                    format!("kiln_rmw{buf}({word}, {clear}, {set});")
                } else {
                    format!(
                        "atomicAnd(&data{buf}[{word}], ~{clear}); atomicOr(&data{buf}[{word}], {set});"
                    )
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
}
