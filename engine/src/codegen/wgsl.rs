//! The WGSL renderer: linear IR → WGSL source. Output is validated by naga (`validate`) before
//! it reaches a device, so a renderer bug surfaces as a `CompileError::Invalid` carrying the source.
//!
//! Storage conventions: every dtype is 4 bytes; `bool` buffers are `array<u32>` holding 0/1.
//! The grid is flat: the workgroup id is rebuilt from up to three dispatch dimensions (grids
//! larger than the per-dimension limit are folded into y and z by the runtime), and workgroups
//! past the end return at once (a uniform branch, so later barriers stay legal).

use std::fmt::Write;

use super::CompileError;
use crate::dtype::{DType, Scalar};
use crate::ops::{BinaryOp, ReduceOp, UnaryOp};

use super::ir::{Inst, Program, Ref, Special, UOp};

fn ty(d: DType) -> &'static str {
    match d {
        DType::F32 => "f32",
        DType::I32 => "i32",
        DType::U32 => "u32",
        DType::Bool => "bool",
    }
}

/// A WGSL literal that round-trips the value exactly.
pub fn literal(s: Scalar) -> String {
    match s {
        Scalar::F32(v) if v.is_finite() => format!("{v:?}f"),
        Scalar::F32(v) => format!("bitcast<f32>({:#x}u)", v.to_bits()),
        Scalar::I32(i32::MIN) => "i32(-2147483648)".into(),
        Scalar::I32(v) => format!("{v}i"),
        Scalar::U32(v) => format!("{v}u"),
        Scalar::Bool(v) => format!("{v}"),
    }
}

fn vec_ty(d: DType, w: u8) -> String {
    if w == 1 {
        ty(d).to_string()
    } else {
        format!("vec{w}<{}>", ty(d))
    }
}

/// How a dtype is held in a storage buffer (WGSL storage cannot hold `bool`).
fn storage_dtype(d: DType) -> DType {
    if d == DType::Bool {
        DType::U32
    } else {
        d
    }
}

/// `kiln_read{buf}(i)` and (for outputs) `kiln_write{buf}(i, v)`: element `i` of a buffer
/// bound as several windows (`Program::bindings`), routed to window `i / W`.
fn window_accessors(s: &mut String, p: &Program, buf: usize) {
    let (n, w) = (p.windows(buf), p.binding_window);
    let t = ty(storage_dtype(p.bufs[buf].dtype));
    let locate = format!("  let w = i / {w}i;\n  let j = i - w * {w}i;");
    let _ = writeln!(s, "fn kiln_read{buf}(i: i32) -> {t} {{\n{locate}");
    for k in 0..n - 1 {
        let _ = writeln!(s, "  if (w == {k}i) {{ return data{buf}_{k}[j]; }}");
    }
    let _ = writeln!(s, "  return data{buf}_{}[j];\n}}", n - 1);
    if p.bufs[buf].output {
        let _ = writeln!(s, "fn kiln_write{buf}(i: i32, v: {t}) {{\n{locate}");
        for k in 0..n - 1 {
            let _ = writeln!(s, "  if (w == {k}i) {{ data{buf}_{k}[j] = v; return; }}");
        }
        let _ = writeln!(s, "  data{buf}_{}[j] = v;\n}}", n - 1);
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
        helpers: Helpers::default(),
        out: String::new(),
    };
    let _ = writeln!(w.out, "// kernel {}", p.name);
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
    helpers: Helpers,
    out: String,
}

fn v(r: Ref) -> String {
    format!("v{}", r.index())
}

impl Writer<'_> {
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
            let _ = writeln!(
                self.out,
                "@group(0) @binding({binding}) var<storage, {access}> {name}: array<{}>;",
                vec_ty(storage_dtype(b.dtype), self.widths[w.buf])
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
            window_accessors(&mut self.out, p, buf);
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
                    ty(inst.dtype)
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
        let t = vec_ty(inst.dtype, inst.width);
        Some(match &inst.op {
            UOp::Special(s) => format!("let v{i}: i32 = i32({});", special(*s)),
            UOp::SubgroupReduce { op, value } => {
                let f = self.subgroup_reduce(*op, inst.dtype);
                format!("let v{i}: {t} = {f}({});", v(*value))
            }
            UOp::SubgroupBroadcast { value, lane } => {
                format!("let v{i}: {t} = subgroupBroadcast({}, {lane}u);", v(*value))
            }
            UOp::Const(c) => format!("let v{i}: {t} = {};", literal(*c)),
            UOp::Param(k) => {
                let word = format!("params[{}][{}]", k / 4, k % 4);
                match inst.dtype {
                    DType::U32 => format!("let v{i}: u32 = {word};"),
                    d => format!("let v{i}: {t} = bitcast<{}>({word});", ty(d)),
                }
            }
            UOp::Unary(op, a) => format!("let v{i}: {t} = {};", unary(*op, inst.dtype, &v(*a))),
            UOp::Binary(op, a, b) => {
                let e = self.binary(*op, self.p.insts[*a].dtype, &v(*a), &v(*b));
                format!("let v{i}: {t} = {e};")
            }
            UOp::Where(c, a, b) => {
                format!("let v{i}: {t} = select({}, {}, {});", v(*b), v(*a), v(*c))
            }
            UOp::Cast(a) => self.cast(i, self.p.insts[*a].dtype, inst.dtype, &v(*a)),
            UOp::Load { buf, index, valid } => self.load(i, inst, *buf, *index, *valid),
            UOp::Store {
                buf,
                index,
                value,
                mask,
            } => self.store(inst.dtype, *buf, *index, *value, *mask),
            UOp::Gep(a, lane) => format!("let v{i}: {t} = {}[{lane}];", v(*a)),
            UOp::Vectorize(parts) => {
                let parts: Vec<String> = parts.iter().map(|r| v(*r)).collect();
                format!("let v{i}: {t} = {t}({});", parts.join(", "))
            }
            UOp::DefineAcc(init) => format!("var v{i}: {t} = {};", literal(*init)),
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

    /// A value conversion; float to int goes through helpers with Rust's `as` semantics.
    fn cast(&mut self, i: usize, from: DType, to: DType, a: &str) -> String {
        match (from, to) {
            (DType::F32, DType::I32) => {
                self.helpers.float_to_int = true;
                format!("let v{i}: i32 = kiln_f32_to_i32({a});")
            }
            (DType::F32, DType::U32) => {
                self.helpers.float_to_int = true;
                format!("let v{i}: u32 = kiln_f32_to_u32({a});")
            }
            _ => format!("let v{i}: {t} = {t}({a});", t = ty(to)),
        }
    }

    /// An element of buffer `buf` at scalar index expression `idx` (a value).
    fn element(&self, buf: usize, idx: &str) -> String {
        match self.widths[buf] {
            _ if self.p.windows(buf) > 1 => format!("kiln_read{buf}({idx})"),
            1 => format!("data{buf}[{idx}]"),
            w => format!("data{buf}[({idx}) / {w}i][({idx}) % {w}i]"),
        }
    }

    /// The statement that writes `val` to an element of buffer `buf`.
    fn write_element(&self, buf: usize, idx: &str, val: &str) -> String {
        match self.widths[buf] {
            _ if self.p.windows(buf) > 1 => format!("kiln_write{buf}({idx}, {val});"),
            1 => format!("data{buf}[{idx}] = {val};"),
            w => format!("data{buf}[({idx}) / {w}i][({idx}) % {w}i] = {val};"),
        }
    }

    /// A (possibly vector, possibly masked) load. The index is only used where valid: a
    /// masked lane reads element 0.
    fn load(&self, i: usize, inst: &Inst, buf: usize, index: Ref, valid: Option<Ref>) -> String {
        let t = vec_ty(inst.dtype, inst.width);
        let idx = match valid {
            None => v(index),
            Some(g) => format!("select(0i, {}, {})", v(index), v(g)),
        };
        let raw = if inst.width > 1 {
            if self.widths[buf] == inst.width {
                format!("data{buf}[({idx}) / {}i]", inst.width)
            } else {
                let comps: Vec<String> = (0..inst.width)
                    .map(|c| self.element(buf, &format!("({idx}) + {c}i")))
                    .collect();
                format!("{t}({})", comps.join(", "))
            }
        } else if inst.dtype == DType::Bool {
            format!("({} != 0u)", self.element(buf, &idx))
        } else {
            self.element(buf, &idx)
        };
        match valid {
            None => format!("let v{i}: {t} = {raw};"),
            Some(g) => {
                let zero = literal(Scalar::from_f64(0.0, inst.dtype));
                let zero = if inst.width > 1 {
                    format!("{t}({zero})")
                } else {
                    zero
                };
                format!("let v{i}: {t} = select({zero}, {raw}, {});", v(g))
            }
        }
    }

    /// A (possibly vector, possibly masked) store; bools are stored as 0/1 words.
    fn store(&self, dtype: DType, buf: usize, index: Ref, value: Ref, mask: Option<Ref>) -> String {
        let w = self.p.insts[value].width;
        let val = if dtype == DType::Bool {
            format!("select(0u, 1u, {})", v(value))
        } else {
            v(value)
        };
        let idx = v(index);
        let stmt = if w > 1 && self.widths[buf] == w {
            format!("data{buf}[{idx} / {w}i] = {val};")
        } else if w > 1 {
            (0..w)
                .map(|c| self.write_element(buf, &format!("{idx} + {c}i"), &format!("{val}[{c}]")))
                .collect::<Vec<_>>()
                .join(" ")
        } else {
            self.write_element(buf, &idx, &val)
        };
        match mask {
            None => stmt,
            Some(m) => format!("if ({}) {{ {stmt} }}", v(m)),
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
        UnaryOp::Exp2 => format!("exp2({a})"),
        UnaryOp::Log2 => format!("log2({a})"),
        UnaryOp::Sin => format!("sin({a})"),
        UnaryOp::Cos => format!("cos({a})"),
        UnaryOp::Sqrt => format!("sqrt({a})"),
        UnaryOp::Recip => format!("1.0f / {a}"),
        UnaryOp::Floor => format!("floor({a})"),
        UnaryOp::Ceil => format!("ceil({a})"),
        UnaryOp::Trunc => format!("trunc({a})"),
        // WGSL's `round` rounds halves to even, as numpy's does.
        UnaryOp::Round => format!("round({a})"),
    }
}

/// WGSL helper functions for the semantics a WGSL builtin does not give by itself.
#[derive(Default)]
struct Helpers {
    /// numpy's NaN-propagating `maximum`/`minimum` (WGSL's `max`/`min` may return the other
    /// operand, and a driver may assume no NaNs, so NaN is tested on the bits).
    nan_max_min: bool,
    /// Rust's `as` for f32 → i32/u32: truncate, saturate at the bounds, NaN gives 0 (WGSL
    /// leaves NaN indeterminate and clamps to the largest f32 below the bound).
    float_to_int: bool,
    /// A subgroup max/min of floats that is NaN when any lane's value is (what
    /// `subgroupMax` leaves to the driver).
    subgroup_nan: bool,
}

impl Helpers {
    fn source(&self) -> String {
        let mut s = String::new();
        if self.nan_max_min || self.float_to_int || self.subgroup_nan {
            s.push_str(
                "fn kiln_isnan(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u; }\n",
            );
        }
        if self.nan_max_min {
            s.push_str(concat!(
                "fn kiln_max(a: f32, b: f32) -> f32 { return select(max(a, b), a + b, kiln_isnan(a) || kiln_isnan(b)); }\n",
                "fn kiln_min(a: f32, b: f32) -> f32 { return select(min(a, b), a + b, kiln_isnan(a) || kiln_isnan(b)); }\n",
            ));
        }
        if self.subgroup_nan {
            s.push_str(concat!(
                "fn kiln_subgroup_max(x: f32) -> f32 { let nan = subgroupMax(select(0u, 1u, kiln_isnan(x))); return select(subgroupMax(x), bitcast<f32>(0x7fc00000u), nan != 0u); }\n",
                "fn kiln_subgroup_min(x: f32) -> f32 { let nan = subgroupMax(select(0u, 1u, kiln_isnan(x))); return select(subgroupMin(x), bitcast<f32>(0x7fc00000u), nan != 0u); }\n",
            ));
        }
        if self.float_to_int {
            s.push_str(concat!(
                "fn kiln_f32_to_i32(x: f32) -> i32 { return select(select(i32(clamp(x, -2147483648.0f, 2147483520.0f)), 2147483647i, x >= 2147483648.0f), 0i, kiln_isnan(x)); }\n",
                "fn kiln_f32_to_u32(x: f32) -> u32 { return select(select(u32(clamp(x, 0.0f, 4294967040.0f)), 4294967295u, x >= 4294967296.0f), 0u, kiln_isnan(x)); }\n",
            ));
        }
        s
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
        naga::valid::Capabilities::SUBGROUP,
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
