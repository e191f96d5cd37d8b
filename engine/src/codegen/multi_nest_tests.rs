//! Kernels with several reduce nests, one reading another: the shape of a one-kernel softmax.
//! This test builds the AST by hand (the scheduler's are tested through the API in
//! tests/fusion.rs) and runs it on every device under opt lists that group both nests over the
//! same lanes and spread the tail over them with GROUPOUT.

use std::sync::Arc;

use super::ast::{AstNode, BufArg, KernelAst, Store};
use super::compile;
use super::opt::{Opt, OptOp};
use crate::dtype::DType;
use crate::ops::{BinaryOp, ReduceOp, UnaryOp};
use crate::runtime::{Device, Launch};
use crate::view::symbolic::{Lin, Valid};

const R: usize = 3;
const C: usize = 50;

/// out[r, c] = exp2(x[r, c] - max_k x[r, k]) / Σ_k exp2(x[r, k] - max x[r, :]): the max over
/// axis 2, the sum over axis 3 (reading the max), the tail over the output axes 0 and 1.
fn softmax2_ast() -> KernelAst {
    let mut ast = KernelAst::new(vec![R, C, C, C]);
    ast.bufs.push(BufArg {
        dtype: DType::F32,
        numel: R * C,
        output: false,
    });
    ast.bufs.push(BufArg {
        dtype: DType::F32,
        numel: R * C,
        output: true,
    });
    let row = Lin::var(0).scale(C as i64);
    let load = |ast: &mut KernelAst, axis: u32| {
        ast.push(
            AstNode::Load {
                buf: 0,
                index: row.add(&Lin::var(axis)),
                valid: Valid::always(),
            },
            DType::F32,
        )
    };
    let x2 = load(&mut ast, 2);
    let mx = ast.push(
        AstNode::Reduce {
            op: ReduceOp::Max,
            src: x2,
            axes: vec![2],
        },
        DType::F32,
    );
    let neg_mx = ast.push(AstNode::Unary(UnaryOp::Neg, mx), DType::F32);
    let shifted_exp = |ast: &mut KernelAst, axis: u32| {
        let x = load(ast, axis);
        let d = ast.push(AstNode::Binary(BinaryOp::Add, x, neg_mx), DType::F32);
        ast.push(AstNode::Unary(UnaryOp::Exp2, d), DType::F32)
    };
    let e3 = shifted_exp(&mut ast, 3);
    let sum = ast.push(
        AstNode::Reduce {
            op: ReduceOp::Sum,
            src: e3,
            axes: vec![3],
        },
        DType::F32,
    );
    let inv = ast.push(AstNode::Unary(UnaryOp::Recip, sum), DType::F32);
    let e1 = shifted_exp(&mut ast, 1);
    let out = ast.push(AstNode::Binary(BinaryOp::Mul, e1, inv), DType::F32);
    ast.stores.push(Store {
        buf: 1,
        index: row.add(&Lin::var(1)),
        valid: Valid::always(),
        value: out,
        scatter: None,
    });
    ast
}

fn host_softmax2(x: &[f32]) -> Vec<f32> {
    let mut out = vec![0.0; x.len()];
    for r in 0..R {
        let row = &x[r * C..(r + 1) * C];
        let m = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let s: f32 = row.iter().map(|v| (v - m).exp2()).sum();
        for c in 0..C {
            out[r * C + c] = (row[c] - m).exp2() / s;
        }
    }
    out
}

fn run(device: &Device, ast: &KernelAst, opts: &[Opt], x: &[f32]) -> Vec<f32> {
    let program = Arc::new(compile(ast, opts, &device.limits()).unwrap());
    let input = device
        .upload(
            &x.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            x.len(),
            DType::F32,
        )
        .unwrap();
    let output = device.alloc(R * C, DType::F32).unwrap();
    let (input, output) = (Arc::new(input), Arc::new(output));
    let launch = Launch {
        prepared: device.prepare(&program).unwrap(),
        kernel: program,
        bufs: vec![input, output.clone()],
        params: vec![],
    };
    device.run(&[launch], false).unwrap();
    output
        .read_words()
        .unwrap()
        .into_iter()
        .map(f32::from_bits)
        .collect()
}

#[test]
fn two_reduce_nests_in_one_kernel() {
    let ast = softmax2_ast();
    let x: Vec<f32> = (0..R * C)
        .map(|i| ((i * 37) % 23) as f32 * 0.25 - 2.0)
        .collect();
    let want = host_softmax2(&x);
    let mut devices = vec![Device::cpu()];
    if let Ok(gpu) = Device::gpu() {
        devices.push(gpu);
    }
    // Parts in canonical order: global r (0), global c (1), reduce max (2), reduce sum (3).
    let lists: Vec<Vec<Opt>> = vec![
        vec![],
        vec![Opt::new(OptOp::Upcast, 1, 2), Opt::new(OptOp::Local, 1, 5)],
        vec![Opt::new(OptOp::Padto, 2, 16), Opt::new(OptOp::Group, 0, 16)],
        vec![
            Opt::new(OptOp::GroupTop, 1, 10),
            Opt::new(OptOp::Unroll, 0, 5),
            Opt::new(OptOp::Upcast, 1, 5),
        ],
        // One row per workgroup: both nests and the tail on the same 16 lanes (padded).
        vec![
            Opt::new(OptOp::Padto, 1, 16),
            Opt::new(OptOp::Padto, 2, 16),
            Opt::new(OptOp::Padto, 3, 16),
            Opt::new(OptOp::Group, 0, 16),
            Opt::new(OptOp::Group, 1, 16),
            Opt::new(OptOp::GroupOut, 1, 16),
        ],
        // Upcast columns share their row's accumulators; the tail loops twice per lane.
        vec![
            Opt::new(OptOp::Upcast, 1, 5),
            Opt::new(OptOp::Group, 0, 5),
            Opt::new(OptOp::Group, 1, 5),
            Opt::new(OptOp::GroupOut, 1, 5),
            Opt::new(OptOp::Unroll, 0, 2),
        ],
        // Only the tail's loop, no lanes; then locals over rows beside grouped lanes.
        vec![Opt::new(OptOp::GroupOut, 1, 1)],
        vec![
            Opt::new(OptOp::Local, 0, 3),
            Opt::new(OptOp::GroupTop, 0, 10),
            Opt::new(OptOp::Group, 1, 10),
            Opt::new(OptOp::GroupOut, 1, 10),
        ],
        // A grouped nest, the tail on the leader.
        vec![Opt::new(OptOp::Group, 1, 25)],
    ];
    for device in &devices {
        for opts in &lists {
            let got = run(device, &ast, opts, &x);
            for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                assert!(
                    (g - w).abs() <= 1e-6 + 1e-4 * w.abs(),
                    "{device:?} {opts:?}: element {i}: {g} vs {w}"
                );
            }
        }
    }
}

#[test]
fn group_lanes_are_shared_by_equal_sizes() {
    let ast = softmax2_ast();
    let limits = Device::cpu().limits();
    let opts = [Opt::new(OptOp::Group, 0, 5), Opt::new(OptOp::Group, 1, 10)];
    let e = compile(&ast, &opts, &limits).unwrap_err().to_string();
    assert!(e.contains("group lanes are shared"), "{e}");
    assert!(e.contains("by 5") && e.contains("by 10"), "{e}");
    let opts = [
        Opt::new(OptOp::Group, 0, 5),
        Opt::new(OptOp::GroupOut, 1, 2),
    ];
    let e = compile(&ast, &opts, &limits).unwrap_err().to_string();
    assert!(e.contains("the outputs by 2"), "{e}");
}

#[test]
fn groupout_needs_a_column_axis() {
    let ast = softmax2_ast();
    assert_eq!(ast.column_axes(), vec![1]);
    let limits = Device::cpu().limits();
    let e = compile(&ast, &[Opt::new(OptOp::GroupOut, 0, 3)], &limits)
        .unwrap_err()
        .to_string();
    assert!(e.contains("not a column axis"), "{e}");
}

#[test]
fn one_row_per_workgroup_shape() {
    let ast = softmax2_ast();
    let limits = Device::cpu().limits();
    let opts = [
        Opt::new(OptOp::Upcast, 1, 5),
        Opt::new(OptOp::Group, 0, 5),
        Opt::new(OptOp::Group, 1, 5),
        Opt::new(OptOp::GroupOut, 1, 5),
    ];
    let p = compile(&ast, &opts, &limits).unwrap().program;
    // One workgroup per row, 5 lanes; the tail loops twice around upcast-5 stores.
    assert_eq!(p.global_sizes.iter().product::<usize>(), R);
    assert_eq!(p.local_sizes, vec![5]);
    assert_eq!(p.loop_iterations, 10);
    // The max and the sum fold one accumulator each, not one per upcast column.
    let accs = p
        .insts
        .iter()
        .filter(|(_, i)| matches!(i.op, crate::codegen::ir::UOp::DefineAcc(_)))
        .count();
    assert_eq!(accs, 2, "{p:?}");
}
