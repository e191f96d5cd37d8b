//! The default optimizer's choices for the shapes of kernel it has a rule for (see
//! `engine/src/codegen/heuristic/`), read through `Kernel::opts`, and the answers those
//! lists give checked against the oracle on every device (`check3` realizes with the
//! heuristics' lists).

mod common;
use common::*;
use kiln::{DType, Device, Kernel, Opt, OptOp, Tensor};

/// The one kernel of `y`'s schedule on every device, with its default opts.
fn kernels_of(y: impl Fn(&[Tensor]) -> Tensor, inputs: &[Input]) -> Vec<Kernel> {
    devices()
        .iter()
        .map(|dev| {
            let ts: Vec<Tensor> = inputs.iter().map(|i| i.on(dev)).collect();
            let out = y(&ts);
            let s = kiln::schedule(&[&out]).expect("schedule");
            assert_eq!(s.kernels().len(), 1, "{s:?}");
            s.kernels()[0].clone()
        })
        .collect()
}

fn amounts(k: &Kernel, op: OptOp) -> Vec<usize> {
    k.opts()
        .iter()
        .filter(|o| o.op == op)
        .map(|o| o.amount)
        .collect()
}

/// Lanes per workgroup: the product of the LOCAL and GROUP amounts.
fn lanes(k: &Kernel) -> usize {
    k.opts()
        .iter()
        .filter(|o| matches!(o.op, OptOp::Local | OptOp::Group | OptOp::GroupTop))
        .map(|o| o.amount)
        .product()
}

#[test]
fn a_matmul_gets_an_8x8_register_tile() {
    let inputs = [
        rand_input(DType::F32, &[256, 128], 1),
        rand_input(DType::F32, &[128, 256], 2),
    ];
    let mm = |t: &[Tensor]| t[0].matmul(&t[1]);
    for k in kernels_of(mm, &inputs) {
        let tile: usize = amounts(&k, OptOp::Upcast).iter().product();
        let limits = k.device().limits();
        let shared: Vec<usize> = k
            .opts()
            .iter()
            .filter(|o| o.op == OptOp::Share)
            .map(|o| o.axis)
            .collect();
        assert_eq!(amounts(&k, OptOp::Unroll), vec![4], "{:?}", k.opts());
        if limits.cpu_adapter && limits.subgroup_sizes.is_some() {
            // lavapipe: 32 rows x 8 columns per lane, 16 lanes along the columns, and the
            // rows of `a` split over each subgroup.
            assert_eq!((tile, lanes(&k)), (256, 16), "{:?}", k.opts());
            assert_eq!(shared, vec![0], "{:?}", k.opts());
        } else {
            assert_eq!((tile, lanes(&k)), (64, 128), "{} {:?}", k.name(), k.opts());
            assert!(shared.is_empty(), "{:?}", k.opts());
        }
    }
    check3("matmul 256x128x256", &inputs, mm);
    // With 512x512 outputs a CPU adapter's tile grows to 16x16 (its register budget is 256).
    let big = [
        rand_input(DType::F32, &[512, 16], 11),
        rand_input(DType::F32, &[16, 512], 12),
    ];
    for k in kernels_of(mm, &big) {
        let tile: usize = amounts(&k, OptOp::Upcast).iter().product();
        let expected = if k.device().limits().cpu_adapter {
            256
        } else {
            64
        };
        assert_eq!(tile, expected, "{} {:?}", k.name(), k.opts());
    }
    check3("matmul 512x16x512", &big, mm);
    // conv2d: on a CPU adapter a two-axis tile over output channels and columns (each load
    // broadcasts one of them), grown to 16x16 (32x8 with the weights shared, where there
    // are subgroups); a GPU keeps its 4x4x4 tile.
    let conv_in = [
        rand_input(DType::F32, &[1, 4, 64, 64], 13),
        rand_input(DType::F32, &[64, 4, 3, 3], 14),
    ];
    let conv = |t: &[Tensor]| t[0].conv2d(&t[1], 1, 1);
    for k in kernels_of(conv, &conv_in) {
        let ups: Vec<&Opt> = k.opts().iter().filter(|o| o.op == OptOp::Upcast).collect();
        let tile: usize = ups.iter().map(|o| o.amount).product();
        let mut axes: Vec<usize> = ups.iter().map(|o| o.axis).collect();
        axes.sort_unstable();
        axes.dedup();
        let expected = if k.device().limits().cpu_adapter {
            (256, 2)
        } else {
            (64, 3)
        };
        assert_eq!((tile, axes.len()), expected, "{} {:?}", k.name(), k.opts());
    }
    check3("conv2d 1x4x64x64 * 64x4x3x3", &conv_in, conv);
    let at = [inputs[1].clone(), inputs[1].clone()];
    check3("a.T @ b", &at, |t| t[0].transpose(0, 1).matmul(&t[1]));
}

#[test]
fn an_elementwise_kernel_fills_a_workgroup() {
    let inputs = [rand_input(DType::F32, &[1 << 16], 3)];
    let f = |t: &[Tensor]| t[0].exp().sqrt();
    for k in kernels_of(f, &inputs) {
        // A CPU adapter (lavapipe) gives each lane a run of 16 neighbours, a GPU 4 (vec4).
        let per_lane = if k.device().limits().cpu_adapter {
            16
        } else {
            4
        };
        assert_eq!(amounts(&k, OptOp::Upcast), vec![per_lane], "{:?}", k.opts());
        assert_eq!(lanes(&k), 128, "{:?}", k.opts());
    }
    check3("exp sqrt 2^16", &inputs, f);
}

#[test]
fn a_cpu_adapter_gives_each_lane_a_contiguous_run() {
    // (a+b)*c over a matrix, an odd size, and a long expression (no 16-wide copies of it).
    let inputs = [
        rand_input(DType::F32, &[64, 4096], 5),
        rand_input(DType::F32, &[64, 4096], 6),
        rand_input(DType::F32, &[64, 4096], 7),
    ];
    let f = |t: &[Tensor]| &(&t[0] + &t[1]) * &t[2];
    for k in kernels_of(f, &inputs) {
        let cpu = k.device().limits().cpu_adapter;
        // lavapipe (what CI runs) must take the CPU path, or this test checks nothing there.
        assert_eq!(
            cpu,
            k.device().name().contains("llvmpipe"),
            "{}",
            k.device().name()
        );
        let locals = amounts(&k, OptOp::Local);
        if cpu {
            assert_eq!(amounts(&k, OptOp::Upcast), vec![16], "{:?}", k.opts());
            assert!(k.opts().iter().all(|o| o.axis == 1), "{:?}", k.opts());
            assert_eq!(locals, vec![128], "{:?}", k.opts());
        } else {
            assert_eq!(amounts(&k, OptOp::Upcast), vec![4], "{:?}", k.opts());
        }
    }
    check3("(a+b)*c 64x4096", &inputs, f);
    // An axis 16 x 16 lanes does not divide is padded to runs over fewer lanes on a CPU
    // adapter (1000 to 1024: 64 lanes), not left to its divisors (1000 = 8 x 125).
    let odd = [rand_input(DType::F32, &[3, 1000], 8)];
    let g = |t: &[Tensor]| t[0].exp();
    for k in kernels_of(g, &odd) {
        if k.device().limits().cpu_adapter {
            assert_eq!(
                k.opts()
                    .iter()
                    .map(|o| (o.op, o.amount))
                    .collect::<Vec<_>>(),
                [
                    (OptOp::Padto, 1024),
                    (OptOp::Upcast, 16),
                    (OptOp::Local, 64)
                ],
                "{:?}",
                k.opts()
            );
        } else {
            assert!(
                amounts(&k, OptOp::Upcast).iter().all(|&u| u <= 4),
                "{:?}",
                k.opts()
            );
        }
    }
    check3("exp 3x1000", &odd, g);
    // 4095 = 3^2 x 5 x 7 x 13: padded to 4096 rather than 3 lanes, on every adapter.
    let odd = [rand_input(DType::F32, &[2, 4095], 10)];
    for k in kernels_of(g, &odd) {
        let lanes: usize = amounts(&k, OptOp::Local).iter().product();
        assert!(lanes >= 64, "{:?}", k.opts());
        assert_eq!(amounts(&k, OptOp::Padto).len(), 1, "{:?}", k.opts());
    }
    check3("exp 2x4095", &odd, g);
    let long = |t: &[Tensor]| (0..20).fold(t[0].clone(), |x, _| (&x * 1.01f32).relu());
    for k in kernels_of(long, &odd) {
        assert!(
            amounts(&k, OptOp::Upcast).iter().all(|&u| u <= 4),
            "{:?}",
            k.opts()
        );
    }
    check3("20 x (x*1.01).relu()", &odd, long);
    // Many rows reduced along a contiguous axis: one row per lane, 16 neighbours per step.
    let rows = [rand_input(DType::F32, &[2048, 64], 9)];
    let m = |t: &[Tensor]| t[0].max(&[1]);
    for k in kernels_of(m, &rows) {
        if k.device().limits().cpu_adapter {
            assert_eq!(amounts(&k, OptOp::Unroll), vec![16], "{:?}", k.opts());
            assert!(amounts(&k, OptOp::Upcast).is_empty(), "{:?}", k.opts());
        } else {
            assert_eq!(amounts(&k, OptOp::Unroll), vec![4], "{:?}", k.opts());
        }
    }
    check3("max(1) 2048x64", &rows, m);
}

#[test]
fn a_column_reduction_takes_adjacent_outputs_per_lane() {
    let inputs = [rand_input(DType::F32, &[512, 256], 4)];
    for (name, f) in [
        (
            "mean(0)",
            (|t: &[Tensor]| t[0].mean(&[0])) as fn(&[Tensor]) -> Tensor,
        ),
        ("var(0)", |t: &[Tensor]| t[0].var(&[0], 1.0)),
        ("max(0)", |t: &[Tensor]| t[0].max(&[0])),
    ] {
        for k in kernels_of(f, &inputs) {
            // A CPU adapter (lavapipe) takes 16 outputs per lane, 8 lanes across them.
            let (per_lane, across) = if k.device().limits().cpu_adapter {
                (16, 8)
            } else {
                (4, 16)
            };
            assert_eq!(
                amounts(&k, OptOp::Upcast),
                vec![per_lane],
                "{name}: {:?}",
                k.opts()
            );
            assert_eq!(
                amounts(&k, OptOp::Local),
                vec![across],
                "{name}: {:?}",
                k.opts()
            );
            // var's mean is a nest of its own reduce axis here, grouped alike
            let groups = amounts(&k, OptOp::Group);
            assert!(
                !groups.is_empty() && groups.iter().all(|&g| g == 8),
                "{name}: {:?}",
                k.opts()
            );
        }
        check3(name, &inputs, f);
    }
    // A row reduction reads contiguously along its reduce axis: not this rule.
    let rows = |t: &[Tensor]| t[0].sum(&[1]);
    for k in kernels_of(rows, &inputs) {
        let across = if k.device().limits().cpu_adapter {
            8
        } else {
            16
        };
        assert!(amounts(&k, OptOp::Local) != vec![across], "{:?}", k.opts());
    }
    check3("sum(1)", &inputs, rows);
    // Odd sizes fall back to the grouped reduction, and stay right.
    check3(
        "mean(0) of 300x70",
        &[rand_input(DType::F32, &[300, 70], 5)],
        |t| t[0].mean(&[0]),
    );
}

#[test]
fn a_transpose_gets_a_4x4_tile() {
    let inputs = [rand_input(DType::F32, &[16, 8, 12, 20], 6)];
    let f = |t: &[Tensor]| t[0].permute(&[3, 2, 1, 0]).contiguous();
    for k in kernels_of(f, &inputs) {
        // A CPU adapter widens the tile to 16 along the stored axis (16 long here).
        let tile = if k.device().limits().cpu_adapter {
            vec![16, 4]
        } else {
            vec![4, 4]
        };
        assert_eq!(amounts(&k, OptOp::Upcast), tile, "{:?}", k.opts());
    }
    check3("permute(3,2,1,0)", &inputs, f);
    // A stored axis of 12: 4x4 everywhere.
    let g = |t: &[Tensor]| t[0].permute(&[3, 1, 0, 2]).contiguous();
    for k in kernels_of(g, &inputs) {
        assert_eq!(amounts(&k, OptOp::Upcast), vec![4, 4], "{:?}", k.opts());
    }
    check3("permute(3,1,0,2)", &inputs, g);
    check3("a + b.T", &[inputs[0].clone()], |t| {
        let m = t[0].reshape(&[128, 240]);
        let sq = m.reshape(&[240, 128]);
        &m + &sq.transpose(0, 1)
    });
}

#[test]
fn contiguous_rows_are_read_four_at_a_time_before_grouping() {
    // matvec: (a*b).sum(1), rows read contiguously
    let inputs = [
        rand_input(DType::F32, &[64, 1024], 7),
        rand_input(DType::F32, &[64, 1024], 8),
    ];
    let dot = |t: &[Tensor]| (&t[0] * &t[1]).sum(&[1]);
    for k in kernels_of(dot, &inputs) {
        let o = k.opts();
        assert_eq!((o[0].op, o[0].amount), (OptOp::Unroll, 4), "{o:?}");
        assert_eq!(amounts(&k, OptOp::Group), vec![8], "{o:?}");
    }
    check3("(a*b).sum(1)", &inputs, dot);
    // few outputs of a long contiguous reduction: a GPU strides vec4s over 256 lanes; a CPU
    // adapter gives each of 8 lanes a contiguous run of 1024, 16 elements per step.
    let long = [rand_input(DType::F32, &[4, 8192], 9)];
    let sum = |t: &[Tensor]| t[0].sum(&[1]);
    for k in kernels_of(sum, &long) {
        let o = k.opts();
        if k.device().limits().cpu_adapter {
            assert_eq!(
                o,
                [
                    Opt::new(OptOp::Unroll, 0, 16),
                    Opt::new(OptOp::GroupTop, 0, 8)
                ],
                "{o:?}"
            );
        } else {
            assert_eq!((o[0].op, o[0].amount), (OptOp::Unroll, 4), "{o:?}");
            assert_eq!(amounts(&k, OptOp::Group), vec![256], "{o:?}");
        }
    }
    check3_tol("sum(1) of 4x8192", &long, 1e-5, 1e-3, sum);
}

#[test]
fn sequential_nests_share_small_groups() {
    // A long row's softmax: the first kernel computes each chunk's max, then its sum of
    // exp(x - max), one nest after the other: both grouped over 16 lanes (fewer barriers).
    let inputs = [rand_input(DType::F32, &[3, 1 << 17], 10)];
    for dev in devices() {
        let x = inputs[0].on(&dev);
        let s = kiln::schedule(&[&x.softmax(-1)]).expect("schedule");
        assert_eq!(s.kernels().len(), 2, "{s:?}");
        let stats = &s.kernels()[0];
        let groups = amounts(stats, OptOp::Group);
        assert!(
            groups.len() == 2 && groups.iter().all(|&g| g == 16),
            "{:?}",
            stats.opts()
        );
    }
    // A long sum of a constant is one kernel whose partial sums run inside the total: each
    // stays grouped wide, so that no lane adds up thousands of values one after another.
    for dev in devices() {
        let m = Tensor::full_on(&[1 << 22], 0.1, DType::F32, &dev).mean_all();
        let s = kiln::schedule(&[&m]).expect("schedule");
        let k = &s.kernels()[0];
        let groups = amounts(k, OptOp::Group);
        assert!(
            !groups.is_empty() && groups.iter().all(|&g| g == 256),
            "{:?}",
            k.opts()
        );
    }
}

/// A row short enough to hold (at most 64 elements per lane) is unrolled whole, in the tail
/// (UPCAST of what GROUPOUT left) and in each nest (UNROLL of what GROUP left), so that the
/// nests and the tail load the same elements at the same indices and the linearizer keeps
/// one load of each: the WGSL reads the row once (4 vec4 loads per lane for 256 over 16
/// lanes; 7 scalar loads for 100, padded to 112), not once per nest and again in the tail.
/// A row a lane's share does not divide is padded to whole shares first where that adds at
/// most an eighth (4000 to 4096: 16 vec4 loads, as for 4096), and a row too long to hold
/// (more than 64 elements over 256 lanes) keeps the loops (and its three loads). On a CPU
/// adapter a lane's share is one run of 16 neighbours where that divides: 256 over 16 lanes
/// is then covered by the runs alone, with nothing left to unroll whole, and still 4 loads.
#[test]
fn a_short_row_is_read_once_and_held_in_registers() {
    type Op = fn(&[Tensor]) -> Tensor;
    let ops: [(&str, Op); 2] = [
        ("softmax", |t| t[0].softmax(-1)),
        ("layer_norm", |t| t[0].layer_norm(-1, 1e-5)),
    ];
    // (shape, parts unrolled whole on a GPU, on a CPU adapter, loads in the WGSL)
    for (shape, held, held_cpu, loads) in [
        ([5, 256], true, false, 4),
        ([3, 100], true, true, 7),
        ([2, 4000], true, true, 16),
        ([2, 20000], false, false, 3),
    ] {
        let inputs = [rand_input(DType::F32, &shape, 3)];
        for (name, f) in ops {
            for k in kernels_of(f, &inputs) {
                let whole = |op| {
                    k.opts()
                        .iter()
                        .filter(|o| o.op == op && o.amount == 0)
                        .count()
                };
                let held = if k.device().limits().cpu_adapter {
                    held_cpu
                } else {
                    held
                };
                let expected = if held { (1, 2) } else { (0, 0) };
                assert_eq!(
                    (whole(OptOp::Upcast), whole(OptOp::Unroll)),
                    expected,
                    "{name} {shape:?}: {:?}",
                    k.opts()
                );
                let wgsl = k.wgsl().expect("naga");
                assert_eq!(
                    wgsl.matches("data0[").count(),
                    loads,
                    "{name} {shape:?}\n{wgsl}"
                );
            }
            check3(&format!("{name} of {shape:?}"), &inputs, f);
        }
    }
}

/// The register budget counts what one nest holds at once: softmax's held row passes (its
/// nests run one after the other and do not vary along the tail's upcast columns), while a
/// matmul tile of 64 outputs unrolled by 8 (512 values in one reduce body) is still refused.
#[test]
fn the_register_budget_counts_one_nest_at_a_time() {
    let dev = Device::cpu();
    let x = Tensor::from_slice_on(&vec![0.5f32; 4 * 4096], &[4, 4096], &dev).unwrap();
    let softmax = kiln::schedule(&[&x.softmax(-1)]).unwrap().kernels()[0].clone();
    let whole: usize = softmax.opts().iter().filter(|o| o.amount == 0).count();
    assert_eq!(whole, 3, "the 4096-long row is held: {:?}", softmax.opts());
    let a = Tensor::from_slice_on(&vec![0.5f32; 64 * 64], &[64, 64], &dev).unwrap();
    let mm = kiln::schedule(&[&a.matmul(&a)]).unwrap().kernels()[0].clone();
    let err = mm
        .with_opts(&[
            Opt::new(OptOp::Upcast, 0, 8),
            Opt::new(OptOp::Upcast, 1, 8),
            Opt::new(OptOp::Unroll, 0, 8),
        ])
        .unwrap_err();
    assert!(err.to_string().contains("512 values per lane"), "{err}");
}

#[test]
fn an_axis_of_odd_factors_still_gets_lanes() {
    // 200 outputs a side, 8 per lane along the columns: 25 left, which none of 32, 16, 8, 4,
    // 3, 2 divides. Its largest divisor that fits takes lanes there (5 or 25) instead of
    // none (one-lane workgroups where the rows get none either).
    let inputs = [
        rand_input(DType::F32, &[200, 32], 21),
        rand_input(DType::F32, &[32, 200], 22),
    ];
    let mm = |t: &[Tensor]| t[0].matmul(&t[1]);
    for k in kernels_of(mm, &inputs) {
        let locals = amounts(&k, OptOp::Local);
        assert_eq!(locals.len(), 2, "{} {:?}", k.name(), k.opts());
        assert!(locals.iter().any(|&n| n == 5 || n == 25), "{:?}", k.opts());
    }
    check3("matmul 200x32x200", &inputs, mm);
}

/// A row along a strided axis (softmax(0), layer_norm(0) of a row-major matrix) whose batch
/// axis is contiguous: each lane takes 4 neighbouring rows first, so that every load of the
/// row is a vec4 across them rather than a scalar.
#[test]
fn a_row_along_a_strided_axis_takes_neighbouring_rows_per_lane() {
    type Op = fn(&[Tensor]) -> Tensor;
    let ops: [(&str, Op); 2] = [
        ("softmax(0)", |t| t[0].softmax(0)),
        ("layer_norm(0)", |t| t[0].layer_norm(0, 1e-5)),
    ];
    let inputs = [rand_input(DType::F32, &[256, 36], 12)];
    for (name, f) in ops {
        for k in kernels_of(f, &inputs) {
            // The first opt: 4 of the 36 batch columns (global part 1) per lane.
            assert_eq!(
                k.opts().first().map(|o| (o.op, o.axis, o.amount)),
                Some((OptOp::Upcast, 1, 4)),
                "{name} on {}: {:?}",
                k.device().name(),
                k.opts()
            );
            let wgsl = k.wgsl().expect("naga");
            assert!(
                wgsl.contains("data0: array<vec4<f32>>"),
                "{name} loads scalars:\n{wgsl}"
            );
        }
        check3(name, &inputs, f);
    }
}

/// A flipped view reads whole aligned vectors and takes their components in reverse: the
/// lanes of a run read backwards are one vector load, not one scalar each.
#[test]
fn a_flipped_axis_is_read_as_reversed_vectors() {
    let inputs = [rand_input(DType::F32, &[6, 64], 7)];
    let f = |t: &[Tensor]| t[0].flip(&[1]).contiguous();
    for k in kernels_of(f, &inputs) {
        let wgsl = k.wgsl().unwrap();
        assert!(
            wgsl.contains("var<storage, read> data0: array<vec4<f32>>"),
            "{wgsl}"
        );
    }
    check3("flip(1)", &inputs, f);
    // Flipped pieces of a cat, masked, odd offsets (scalars there) and f16 (packed words).
    check3("flip in pieces", &inputs, |t| {
        Tensor::cat(
            &[
                &t[0].flip(&[1]),
                &t[0].slice(1, 60, 3, -1),
                &t[0].flip(&[0, 1]),
            ],
            1,
        )
    });
    check3("flip of f16", &[rand_input(DType::F16, &[5, 32], 8)], |t| {
        t[0].flip(&[1]).contiguous()
    });
}

/// A long expression over inputs broadcast along different axes is not register-tiled: the
/// tile copies the expression per output. The fluid demo's advection with its forces, tiled
/// 8x8, was 0.5 MB of WGSL that lavapipe and SwiftShader compiled for minutes.
#[test]
fn long_expressions_over_broadcast_inputs_are_not_tiled() {
    let inputs = [
        rand_input(DType::F32, &[256, 1], 1),
        rand_input(DType::F32, &[1, 256], 2),
    ];
    for k in kernels_of(
        |t| {
            let mut e = &t[0] + &t[1];
            for _ in 0..40 {
                e = &(&e * &t[0]).sin() + &t[1];
            }
            e
        },
        &inputs,
    ) {
        let upcast: usize = amounts(&k, OptOp::Upcast).iter().product();
        assert!(upcast <= 16, "{k:?}");
        assert!(k.wgsl().unwrap().len() < 64 << 10, "{k:?}");
    }
}
