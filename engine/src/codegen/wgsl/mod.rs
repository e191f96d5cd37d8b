//! The WGSL renderer: linear IR → WGSL source. Output is validated by naga (`validate`) before
//! it reaches a device, so a renderer bug surfaces as a `CompileError::Invalid` carrying the source.
//!
//! Storage conventions: `bool` buffers are `array<u32>` holding 0/1; the packed dtypes (f16,
//! bf16, u8, i8) are bound as words and computed in registers of their `DType::register`
//! type, every op's result rounded or wrapped back to its dtype (see `access` and `helpers`).
//! The grid is flat: the workgroup id is rebuilt from up to three dispatch dimensions (grids
//! larger than the per-dimension limit are folded into y and z by the runtime), and workgroups
//! past the end return at once (a uniform branch, so later barriers stay legal).

use std::fmt::Write;

mod access;
mod helpers;
mod scatter;

use super::CompileError;
use crate::dtype::{DType, Scalar};
use crate::ops::{BinaryOp, ReduceOp, UnaryOp};

use super::ir::{Inst, Program, Ref, Special, UOp};
use helpers::Helpers;

/// The WGSL type of a register of dtype `d` (see [`Writer::reg`]).
fn reg_ty(d: DType) -> &'static str {
    match d {
        DType::F32 => "f32",
        DType::F16 => "f16",
        DType::I32 => "i32",
        DType::U32 => "u32",
        DType::Bool => "bool",
        d => unreachable!("{d} has no register of its own"),
    }
}

/// A WGSL literal that round-trips a register value (see [`Writer::reg`]) exactly.
/// Infinities and NaN go through `kiln_f32_bits`: `bitcast<f32>(0xff800000u)` is a constant
/// expression, and browsers (Tint) reject one whose value is not finite.
fn reg_literal(s: Scalar) -> String {
    match s {
        Scalar::F32(v) if v.is_finite() => format!("{v:?}f"),
        Scalar::F32(v) => format!("kiln_f32_bits({:#x}u)", v.to_bits()),
        Scalar::F16(v) if v.is_finite() => format!("{:?}h", v.to_f32()),
        Scalar::F16(v) => format!("f16(kiln_f32_bits({:#x}u))", v.to_f32().to_bits()),
        Scalar::I32(i32::MIN) => "i32(-2147483648)".into(),
        Scalar::I32(v) => format!("{v}i"),
        Scalar::U32(v) => format!("{v}u"),
        Scalar::Bool(v) => format!("{v}"),
        s => unreachable!("{} is not a register value", s.dtype()),
    }
}

/// Renders `p` as a WGSL compute shader with entry point `main`.
///
/// A buffer whose vector accesses all have one width `w` is declared as `array<vecW<T>>`:
/// a vector access at element index `i` (a multiple of `w`) reads `data[i / w]`, and a scalar
/// access reads component `i % w` of `data[i / w]`.
pub fn render(p: &Program) -> String {
    let mut w = Writer {
        p,
        widths: p.buffer_widths(),
        atomic: access::atomic_buffers(p),
        stored_only: access::stored_only(p),
        helpers: Helpers::default(),
        out: String::new(),
    };
    let _ = writeln!(w.out, "// kernel {}", p.name);
    let f16 = p.insts.iter().any(|(_, i)| i.dtype == DType::F16)
        || p.bufs.iter().any(|b| b.dtype == DType::F16);
    if p.native_f16 && f16 {
        w.out.push_str("enable f16;\n");
    }
    w.write_bindings();
    w.write_workgroup_arrays();
    // The helper functions the body calls are declared here, above `main`, once it is known
    // which are needed.
    let main_at = w.out.len();
    w.write_entry_point();
    w.write_body();
    w.out.push_str("}\n");
    let helpers = w.helpers.source();
    w.out.insert_str(main_at, &helpers);
    w.out
}

/// The renderer's state: one method per kind of declaration and statement (naga's
/// `back/wgsl/writer.rs` style).
struct Writer<'p> {
    p: &'p Program,
    /// Per buffer, the vector width it is declared with (see [`render`]).
    widths: Vec<u8>,
    /// Per buffer, whether it is bound as atomic words (see `access`).
    atomic: Vec<bool>,
    /// Per instruction, whether its value is only ever stored (see `access::stored_only`).
    stored_only: Vec<bool>,
    helpers: Helpers,
    out: String,
}

fn v(r: Ref) -> String {
    format!("v{}", r.index())
}

impl Writer<'_> {
    /// The dtype a value of `d` is held in, in registers: `DType::register` (f16 and bf16 in
    /// f32, u8 in u32, i8 in i32), but f16 itself where the program computes it natively.
    fn reg(&self, d: DType) -> DType {
        match d {
            DType::F16 if self.p.native_f16 => DType::F16,
            d => d.register(),
        }
    }
    /// The WGSL type of a register holding a `d`.
    fn ty(&self, d: DType) -> &'static str {
        reg_ty(self.reg(d))
    }
    fn vec_ty(&self, d: DType, w: u8) -> String {
        match w {
            1 => self.ty(d).to_string(),
            w => format!("vec{w}<{}>", self.ty(d)),
        }
    }
    /// A WGSL literal of `s` in its register.
    fn literal(&mut self, s: Scalar) -> String {
        self.helpers.f32_bits |= s.dtype().is_float() && !s.to_f64().is_finite();
        match s {
            Scalar::F16(_) if self.p.native_f16 => reg_literal(s),
            s => reg_literal(s.widen()),
        }
    }
    /// The WGSL element type of buffer `buf` (WGSL storage cannot hold `bool`; packed
    /// dtypes are words).
    fn storage_ty(&self, buf: usize) -> &'static str {
        match self.p.bufs[buf].dtype {
            DType::Bool => "u32",
            _ if self.p.packed(buf) => "u32",
            d => self.ty(d),
        }
    }

    /// One storage binding per buffer window, then the parameters' uniform binding.
    fn write_bindings(&mut self) {
        let p = self.p;
        let bindings = p.bindings();
        for (binding, w) in bindings.iter().enumerate() {
            let b = &p.bufs[w.buf];
            let access = if b.output { "read_write" } else { "read" };
            let name = if p.windows(w.buf) > 1 {
                format!("data{}_{}", w.buf, w.window)
            } else {
                format!("data{}", w.buf)
            };
            let element = match self.atomic[w.buf] {
                true => "atomic<u32>".to_string(),
                false => match self.widths[w.buf] {
                    1 => self.storage_ty(w.buf).to_string(),
                    n => format!("vec{n}<{}>", self.storage_ty(w.buf)),
                },
            };
            let _ = writeln!(
                self.out,
                "@group(0) @binding({binding}) var<storage, {access}> {name}: array<{element}>;"
            );
        }
        if !p.params.is_empty() {
            // One uniform binding after the storage buffers; arrays in the uniform address
            // space need a 16-byte stride, hence vec4 words.
            let _ = writeln!(
                self.out,
                "@group(0) @binding({}) var<uniform> params: array<vec4<u32>, {}>;",
                bindings.len(),
                p.params.len().div_ceil(4)
            );
        }
        for buf in (0..p.bufs.len()).filter(|&b| p.windows(b) > 1) {
            let t = self.storage_ty(buf);
            access::window_accessors(&mut self.out, p, buf, t, self.atomic[buf]);
        }
        for buf in 0..p.bufs.len() {
            if let Some(op) = scatter::scatter_op(p, buf) {
                scatter::scatter_helper(&mut self.out, p, buf, op);
            }
        }
    }

    fn write_workgroup_arrays(&mut self) {
        for (h, inst) in self.p.insts.iter() {
            if let UOp::DefineLocal { len } = inst.op {
                let _ = writeln!(
                    self.out,
                    "var<workgroup> local{}: array<{}, {len}>;",
                    h.index(),
                    // Workgroup memory is not host-shareable, so bool is allowed there.
                    self.ty(inst.dtype)
                );
            }
        }
    }

    /// `main`'s signature (with the subgroup builtins the program reads: they need wgpu's
    /// SUBGROUP feature) and the flat workgroup index.
    fn write_entry_point(&mut self) {
        let p = self.p;
        let _ = writeln!(self.out, "@compute @workgroup_size({})", p.local_size());
        let mut builtins = String::new();
        for (special, name, var) in [
            (
                Special::SubgroupInvocationId,
                "subgroup_invocation_id",
                "sg_lane",
            ),
            (Special::SubgroupId, "subgroup_id", "sg_id"),
            (Special::NumSubgroups, "num_subgroups", "sg_count"),
        ] {
            if p.insts.iter().any(|(_, i)| i.op == UOp::Special(special)) {
                let _ = write!(builtins, ", @builtin({name}) {var}: u32");
            }
        }
        let _ = writeln!(
            self.out,
            "fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lidx: u32{builtins}) {{"
        );
        let _ = writeln!(
            self.out,
            "  let gflat = wid.x + nwg.x * (wid.y + nwg.y * wid.z);"
        );
        let _ = writeln!(
            self.out,
            "  if (gflat >= {}u) {{ return; }}",
            p.num_groups()
        );
    }

    /// One line per instruction, indented by the blocks open around it.
    fn write_body(&mut self) {
        let mut depth = 1;
        for (h, inst) in self.p.insts.iter() {
            let Some(line) = self.statement(h.index(), inst) else {
                continue;
            };
            if inst.op.closes_block() {
                depth -= 1;
            }
            let _ = writeln!(self.out, "{:width$}{line}", "", width = depth * 2);
            if inst.op.opens_block() {
                depth += 1;
            }
        }
    }

    /// The statement for instruction `i` (`None` for a declaration made above `main`).
    fn statement(&mut self, i: usize, inst: &Inst) -> Option<String> {
        let t = self.vec_ty(inst.dtype, inst.width);
        Some(match &inst.op {
            UOp::Special(s) => format!("let v{i}: i32 = i32({});", special(*s)),
            UOp::SubgroupReduce { op, value } => {
                let f = self.subgroup_reduce(*op, inst.dtype);
                format!("let v{i}: {t} = {f}({});", v(*value))
            }
            UOp::SubgroupBroadcast { value, lane } => {
                format!("let v{i}: {t} = subgroupBroadcast({}, {lane}u);", v(*value))
            }
            UOp::Const(c) => format!("let v{i}: {t} = {};", self.literal(*c)),
            UOp::Param(k) => {
                let word = format!("params[{}][{}]", k / 4, k % 4);
                match inst.dtype {
                    DType::U32 => format!("let v{i}: u32 = {word};"),
                    DType::F16 if self.p.native_f16 => {
                        self.helpers.f16 = true;
                        format!("let v{i}: f16 = f16(kiln_f16_value({word}));")
                    }
                    d if d.is_packed() => {
                        format!("let v{i}: {t} = {};", self.unpack(d, &word, "0u"))
                    }
                    d => format!("let v{i}: {t} = bitcast<{}>({word});", self.ty(d)),
                }
            }
            UOp::Unary(op, a) => {
                self.helpers.exp |= *op == UnaryOp::Exp;
                self.helpers.log |= *op == UnaryOp::Log;
                let e = unary(*op, self.reg(inst.dtype), &v(*a));
                format!("let v{i}: {t} = {};", self.narrow_result(i, inst.dtype, &e))
            }
            UOp::Binary(op, a, b) => {
                let e = self.binary(*op, self.reg(self.p.insts[*a].dtype), &v(*a), &v(*b));
                format!("let v{i}: {t} = {};", self.narrow_result(i, inst.dtype, &e))
            }
            UOp::Where(c, a, b) => {
                format!("let v{i}: {t} = select({}, {}, {});", v(*b), v(*a), v(*c))
            }
            UOp::Cast(a) => self.cast(i, self.p.insts[*a].dtype, inst.dtype, &v(*a)),
            UOp::Bitcast(a) => format!("let v{i}: {t} = bitcast<{t}>({});", v(*a)),
            UOp::Load { buf, index, valid } => self.load(i, inst, *buf, *index, *valid),
            UOp::Store {
                buf,
                index,
                value,
                mask,
            } => self.store(*buf, *index, *value, *mask),
            UOp::Scatter {
                buf,
                index,
                value,
                mask,
                ..
            } => {
                let call = format!("kiln_scatter{buf}({}, {});", v(*index), v(*value));
                match mask {
                    None => call,
                    Some(m) => format!("if ({}) {{ {call} }}", v(*m)),
                }
            }
            UOp::Gep(a, lane) => format!("let v{i}: {t} = {}[{lane}];", v(*a)),
            UOp::Vectorize(parts) => {
                let parts: Vec<String> = parts.iter().map(|r| v(*r)).collect();
                format!("let v{i}: {t} = {t}({});", parts.join(", "))
            }
            UOp::DefineAcc(init) => format!("var v{i}: {t} = {};", self.literal(*init)),
            UOp::Assign { acc, value } => format!("{} = {};", v(*acc), v(*value)),
            UOp::Range { end } => {
                format!("for (var v{i}: i32 = 0i; v{i} < {end}i; v{i} = v{i} + 1i) {{")
            }
            UOp::If(c) => format!("if ({}) {{", v(*c)),
            UOp::EndRange | UOp::EndIf => "}".into(),
            UOp::DefineLocal { .. } => return None,
            UOp::LoadLocal { local, index } => {
                format!("let v{i}: {t} = local{}[{}];", local.index(), v(*index))
            }
            UOp::StoreLocal {
                local,
                index,
                value,
            } => format!("local{}[{}] = {};", local.index(), v(*index), v(*value)),
            UOp::Barrier => "workgroupBarrier();".into(),
        })
    }

    /// The subgroup builtin for `op`; float max/min go through NaN-propagating helpers.
    fn subgroup_reduce(&mut self, op: ReduceOp, dtype: DType) -> &'static str {
        match (op, dtype) {
            (ReduceOp::Sum, _) => "subgroupAdd",
            (ReduceOp::Prod, _) => "subgroupMul",
            (ReduceOp::Max, DType::F32) => {
                self.helpers.subgroup_nan = true;
                "kiln_subgroup_max"
            }
            (ReduceOp::Min, DType::F32) => {
                self.helpers.subgroup_nan = true;
                "kiln_subgroup_min"
            }
            (ReduceOp::Max, _) => "subgroupMax",
            (ReduceOp::Min, _) => "subgroupMin",
        }
    }

    /// `a op b` for operands of dtype `operand` (bools are logical: `+` is or, `*` is and).
    fn binary(&mut self, op: BinaryOp, operand: DType, a: &str, b: &str) -> String {
        match (op, operand == DType::Bool) {
            (BinaryOp::Add, false) => format!("{a} + {b}"),
            (BinaryOp::Mul, false) => format!("{a} * {b}"),
            (BinaryOp::Div, _) => format!("{a} / {b}"),
            (BinaryOp::Mod, _) => format!("{a} % {b}"),
            (BinaryOp::Max, false) if operand == DType::F16 => {
                self.helpers.nan_max_min_f16 = true;
                format!("kiln_max_h({a}, {b})")
            }
            (BinaryOp::Min, false) if operand == DType::F16 => {
                self.helpers.nan_max_min_f16 = true;
                format!("kiln_min_h({a}, {b})")
            }
            (BinaryOp::Max, false) if operand == DType::F32 => {
                self.helpers.nan_max_min = true;
                format!("kiln_max({a}, {b})")
            }
            (BinaryOp::Min, false) if operand == DType::F32 => {
                self.helpers.nan_max_min = true;
                format!("kiln_min({a}, {b})")
            }
            (BinaryOp::Max, false) => format!("max({a}, {b})"),
            (BinaryOp::Min, false) => format!("min({a}, {b})"),
            (BinaryOp::CmpLt, false) => format!("{a} < {b}"),
            (BinaryOp::CmpLt, true) => format!("!{a} && {b}"),
            (BinaryOp::CmpEq, _) => format!("{a} == {b}"),
            (BinaryOp::And, _) | (BinaryOp::Mul, true) | (BinaryOp::Min, true) => {
                format!("{a} & {b}")
            }
            (BinaryOp::Or, _) | (BinaryOp::Add, true) | (BinaryOp::Max, true) => {
                format!("{a} | {b}")
            }
            (BinaryOp::Xor, false) => format!("{a} ^ {b}"),
            (BinaryOp::Xor, true) => format!("{a} != {b}"),
            // WGSL shifts by a u32; the amount's low 5 bits, as the semantics define it.
            (BinaryOp::Shl, _) => format!("{a} << (u32({b}) & 31u)"),
            (BinaryOp::Shr, _) => format!("{a} >> (u32({b}) & 31u)"),
        }
    }

    /// A value conversion with `Scalar::cast`'s semantics: between the register values,
    /// float to int through helpers with Rust's `as` semantics, then narrowed to the target.
    /// A native f16 goes through f32 both ways, rounded by `kiln_round_f16` so that its
    /// rounding is `half`'s (WGSL lets a conversion to f16 round either way).
    fn cast(&mut self, i: usize, from: DType, to: DType, a: &str) -> String {
        let (from, a) = match self.reg(from) {
            DType::F16 => (DType::F32, format!("f32({a})")),
            _ => (from, a.to_string()),
        };
        if self.reg(to) == DType::F16 {
            let e = self.convert(i, from, DType::F32, &a);
            self.helpers.f16 = true;
            // The f32 is an f16's value already: converting it is exact.
            return format!("let v{i}: f16 = f16(kiln_round_f16({e}));");
        }
        let e = self.convert(i, from, to, &a);
        format!("let v{i}: {} = {e};", self.ty(to))
    }

    /// The expression converting `a` (a register value of `from`) to a register value of `to`.
    fn convert(&mut self, i: usize, from: DType, to: DType, a: &str) -> String {
        match (self.reg(from), to) {
            (DType::F32, DType::I32 | DType::U32 | DType::U8 | DType::I8) => {
                self.helpers.float_to_int = true;
                match to {
                    DType::I32 => format!("kiln_f32_to_i32({a})"),
                    DType::U32 => format!("kiln_f32_to_u32({a})"),
                    DType::U8 => format!("min(kiln_f32_to_u32({a}), 255u)"),
                    _ => format!("clamp(kiln_f32_to_i32({a}), -128i, 127i)"),
                }
            }
            _ => self.narrow_result(i, to, &format!("{}({a})", self.ty(to))),
        }
    }

    /// Instruction `i`'s result `e` narrowed to `d`, unless the value is only ever stored: the
    /// store rounds it then (encoding `x` gives the bits encoding `round(x)` does).
    fn narrow_result(&mut self, i: usize, d: DType, e: &str) -> String {
        match self.stored_only[i] {
            true => e.to_string(),
            false => self.narrow(d, e),
        }
    }

    /// `e` (a register value) rounded or wrapped to the packed dtype `d`; as is otherwise.
    fn narrow(&mut self, d: DType, e: &str) -> String {
        match d {
            DType::F16 if self.p.native_f16 => e.to_string(),
            DType::F16 => {
                self.helpers.f16 = true;
                format!("kiln_round_f16({e})")
            }
            DType::BF16 => {
                self.helpers.bf16 = true;
                format!("kiln_round_bf16({e})")
            }
            DType::U8 => format!("(({e}) & 0xffu)"),
            DType::I8 => {
                self.helpers.i8 = true;
                format!("kiln_wrap_i8({e})")
            }
            _ => e.to_string(),
        }
    }
}

/// The WGSL builtin a `Special` reads.
fn special(s: Special) -> &'static str {
    match s {
        Special::GroupId => "gflat",
        Special::LocalId => "lidx",
        Special::SubgroupInvocationId => "sg_lane",
        Special::SubgroupId => "sg_id",
        Special::NumSubgroups => "sg_count",
    }
}

/// A unary op on `a`, for a result of `dtype`.
fn unary(op: UnaryOp, dtype: DType, a: &str) -> String {
    match op {
        UnaryOp::Neg if dtype == DType::U32 => format!("0u - {a}"),
        UnaryOp::Neg if dtype == DType::Bool => a.to_string(),
        UnaryOp::Neg => format!("-{a}"),
        UnaryOp::Exp if dtype == DType::F16 => format!("f16(kiln_exp(f32({a})))"),
        UnaryOp::Exp => format!("kiln_exp({a})"),
        UnaryOp::Exp2 => format!("exp2({a})"),
        UnaryOp::Log if dtype == DType::F16 => format!("f16(kiln_log(f32({a})))"),
        UnaryOp::Log => format!("kiln_log({a})"),
        UnaryOp::Log2 => format!("log2({a})"),
        UnaryOp::Sin => format!("sin({a})"),
        UnaryOp::Cos => format!("cos({a})"),
        UnaryOp::Sqrt => format!("sqrt({a})"),
        UnaryOp::Recip if dtype == DType::F16 => format!("1.0h / {a}"),
        UnaryOp::Recip => format!("1.0f / {a}"),
        UnaryOp::Floor => format!("floor({a})"),
        UnaryOp::Ceil => format!("ceil({a})"),
        UnaryOp::Trunc => format!("trunc({a})"),
        // WGSL's `round` rounds halves to even, as numpy's does.
        UnaryOp::Round => format!("round({a})"),
        UnaryOp::SignBit if dtype == DType::F16 => {
            format!("select(0.0h, 1.0h, (bitcast<u32>(f32({a})) >> 31u) != 0u)")
        }
        UnaryOp::SignBit => format!("select(0.0f, 1.0f, (bitcast<u32>({a}) >> 31u) != 0u)"),
    }
}

/// Parses and validates `source` with naga. `f16`/`i64` capabilities are not requested: kiln
/// does not emit them yet.
pub fn validate(kernel: &str, source: &str) -> Result<(), CompileError> {
    let module = naga::front::wgsl::parse_str(source).map_err(|e| CompileError::Invalid {
        kernel: kernel.to_string(),
        message: e.emit_to_string(source),
        wgsl: source.to_string(),
    })?;
    let mut validator = naga::valid::Validator::new(
        naga::valid::ValidationFlags::all(),
        // Subgroup operations are emitted only for devices with wgpu's SUBGROUP feature.
        naga::valid::Capabilities::SUBGROUP | naga::valid::Capabilities::SHADER_FLOAT16,
    );
    validator
        .validate(&module)
        .map_err(|e| CompileError::Invalid {
            kernel: kernel.to_string(),
            message: e.emit_to_string(source),
            wgsl: source.to_string(),
        })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codegen::ast::{AstNode, BufArg, KernelAst, Store};
    use crate::codegen::compile;
    use crate::codegen::opt::{Opt, OptOp};
    use crate::ops::ReduceOp;
    use crate::runtime::Device;
    use crate::view::symbolic::{Lin, Valid};

    /// Browsers (Tint) refuse a constant expression whose value is not finite, which naga
    /// accepts: infinities and NaN are made at run time, by a function call.
    #[test]
    fn non_finite_literals_are_not_constant_expressions() {
        for v in [f32::INFINITY, f32::NEG_INFINITY, f32::NAN] {
            let lit = reg_literal(Scalar::F32(v));
            assert!(lit.starts_with("kiln_f32_bits("), "{lit}");
            let lit = reg_literal(Scalar::F16(half::f16::from_f32(v)));
            assert!(lit.starts_with("f16(kiln_f32_bits("), "{lit}");
        }
        assert_eq!(reg_literal(Scalar::F32(1.5)), "1.5f");
    }

    /// A grouped reduction of bools goes through a `bool` workgroup array, read back as bool.
    #[test]
    fn grouped_bool_reduction_renders_valid_wgsl() {
        let mut ast = KernelAst::new(vec![3, 64]);
        for output in [false, true] {
            ast.bufs.push(BufArg {
                dtype: DType::Bool,
                numel: if output { 3 } else { 3 * 64 },
                output,
            });
        }
        let x = ast.push(
            AstNode::Load {
                buf: 0,
                index: Lin::var(0).scale(64).add(&Lin::var(1)),
                valid: Valid::always(),
            },
            DType::Bool,
        );
        let any = ast.push(
            AstNode::Reduce {
                op: ReduceOp::Max,
                src: x,
                axes: vec![1],
            },
            DType::Bool,
        );
        ast.stores.push(Store {
            buf: 1,
            index: Lin::var(0),
            valid: Valid::always(),
            value: any,
            scatter: None,
        });
        let p = compile(
            &ast,
            &[Opt::new(OptOp::Group, 0, 16)],
            &Device::cpu().limits(),
        )
        .unwrap();
        let src = p.wgsl().unwrap_or_else(|e| panic!("{e}"));
        assert!(src.contains("array<bool, "), "{src}");
    }
}
