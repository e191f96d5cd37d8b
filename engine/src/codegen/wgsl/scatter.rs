//! Scatter stores: `kiln_scatter{buf}(i, v)` folds `v` into element `i` of a buffer bound as
//! `array<atomic<u32>>`, as one atomic step (lanes of any workgroup may meet at an element).
//! Sums of i32 and u32 are `atomicAdd` on the same bits (two's complement), the max of u32 is
//! `atomicMax`, and a sum of f32 is a compare-exchange loop on the bits: some lane's exchange
//! succeeds each round, so the loop ends.

use std::fmt::Write;

use crate::dtype::DType;
use crate::ops::ReduceOp;

use super::super::ir::{Program, UOp};

/// The scatter ops of buffer `buf` in `p` (one per buffer: a scatter kernel has one output).
pub(super) fn scatter_op(p: &Program, buf: usize) -> Option<ReduceOp> {
    p.insts.iter().find_map(|(_, inst)| match &inst.op {
        UOp::Scatter { buf: b, op, .. } if *b == buf => Some(*op),
        _ => None,
    })
}

/// `kiln_scatter{buf}`, routed to the buffer's windows (`Program::bindings`) when it has
/// several.
pub(super) fn scatter_helper(s: &mut String, p: &Program, buf: usize, op: ReduceOp) {
    let d = p.bufs[buf].dtype;
    let t = match d {
        DType::F32 => "f32",
        DType::I32 => "i32",
        _ => "u32",
    };
    let _ = writeln!(s, "fn kiln_scatter{buf}(i: i32, v: {t}) {{");
    let windows = p.windows(buf);
    if windows == 1 {
        let _ = writeln!(s, "{}}}", fold(&format!("data{buf}[i]"), op, d));
        return;
    }
    let w = p.window_elements(buf);
    let _ = writeln!(s, "  let w = i / {w}i;\n  let j = i - w * {w}i;");
    for k in 0..windows {
        let _ = writeln!(
            s,
            "  if (w == {k}i) {{\n{}  }}",
            fold(&format!("data{buf}_{k}[j]"), op, d)
        );
    }
    let _ = writeln!(s, "}}");
}

/// The statements folding `v` into the atomic word `slot`.
fn fold(slot: &str, op: ReduceOp, d: DType) -> String {
    match (op, d) {
        (ReduceOp::Max, _) => format!("  atomicMax(&{slot}, v);\n"),
        (ReduceOp::Sum, DType::F32) => format!(
            "  var old = atomicLoad(&{slot});\n  loop {{\n    let r = atomicCompareExchangeWeak(&{slot}, old, bitcast<u32>(bitcast<f32>(old) + v));\n    if (r.exchanged) {{ break; }}\n    old = r.old_value;\n  }}\n"
        ),
        (_, _) => format!("  atomicAdd(&{slot}, bitcast<u32>(v));\n"),
    }
}
