//! Subgroup-shared loads (`OptOp::Share`): kernels whose subgroups split a buffer's loads
//! compute what the oracle does on every device (vector and element-wise slots, slots that
//! do not fill the last chunk, padding, a transposed operand, conv2d's masked loads, integer
//! data), load each shared element once per subgroup, are chosen by the heuristics on a CPU
//! adapter with subgroups, and every misuse is refused with its reason.

mod common;
use common::*;
use kiln::{DType, Device, Opt, OptOp, Tensor};

fn o(op: OptOp, axis: usize, amount: usize) -> Opt {
    Opt::new(op, axis, amount)
}

fn mm(t: &[Tensor]) -> Tensor {
    t[0].matmul(&t[1])
}

fn ab(dtype: DType, m: usize, k: usize, n: usize) -> Vec<Input> {
    vec![rand_input(dtype, &[m, k], 1), rand_input(dtype, &[k, n], 2)]
}

#[test]
fn shared_matmuls_agree_with_the_oracle() {
    // 8 rows x (a vec4 along k) = 8 vector slots: one chunk on lavapipe (subgroups of 8),
    // two on the CPU interpreter (it promises 4 to 8, so S = 4).
    let tile = [
        o(OptOp::Upcast, 0, 8),
        o(OptOp::Upcast, 1, 4),
        o(OptOp::Unroll, 0, 4),
        o(OptOp::Local, 1, 8),
        o(OptOp::Share, 0, 0),
    ];
    check_with_opts("matmul 64x24x64", &ab(DType::F32, 64, 24, 64), &tile, mm);
    check_with_opts(
        "i32 matmul 64x24x64",
        &ab(DType::I32, 64, 24, 64),
        &tile,
        mm,
    );
    // 3 rows x 3 unrolled steps: 9 scalar slots, the last chunk mostly past the end.
    check_with_opts(
        "matmul 30x21x32",
        &ab(DType::F32, 30, 21, 32),
        &[
            o(OptOp::Upcast, 0, 3),
            o(OptOp::Unroll, 0, 3),
            o(OptOp::Local, 1, 8),
            o(OptOp::Share, 0, 0),
        ],
        mm,
    );
    // Padded rows and reduction: the shared loads past either end read nothing.
    check_with_opts(
        "matmul 30x21x27 padded",
        &ab(DType::F32, 30, 21, 27),
        &[
            o(OptOp::Padto, 0, 32),
            o(OptOp::Padto, 1, 32),
            o(OptOp::Padto, 2, 24),
            o(OptOp::Upcast, 0, 4),
            o(OptOp::Unroll, 0, 4),
            o(OptOp::Local, 1, 8),
            o(OptOp::Share, 0, 0),
        ],
        mm,
    );
    // a.T @ b: a's vectors run along the rows (its contiguous axis), not the reduction.
    check_with_opts(
        "a.T@b 24x32x16",
        &[
            rand_input(DType::F32, &[32, 24], 8),
            rand_input(DType::F32, &[32, 16], 9),
        ],
        &[
            o(OptOp::Upcast, 0, 8),
            o(OptOp::Unroll, 0, 4),
            o(OptOp::Local, 1, 8),
            o(OptOp::Share, 0, 0),
        ],
        |t| t[0].transpose(0, 1).matmul(&t[1]),
    );
    // a.T @ a reads a twice: the load of the rows is shared, that of the columns not.
    check_with_opts(
        "a.T@a 32x24",
        &[rand_input(DType::F32, &[24, 32], 10)],
        &[
            o(OptOp::Upcast, 0, 4),
            o(OptOp::Unroll, 0, 4),
            o(OptOp::Local, 1, 8),
            o(OptOp::Share, 0, 0),
        ],
        |t| t[0].transpose(0, 1).matmul(&t[0]),
    );
    // relu(a@b + bias): the tail reads the bias per lane; a is shared in the nest.
    check_with_opts(
        "relu(a@b + bias)",
        &[
            rand_input(DType::F32, &[16, 12], 3),
            rand_input(DType::F32, &[12, 16], 4),
            rand_input(DType::F32, &[16], 5),
        ],
        &[
            o(OptOp::Upcast, 0, 4),
            o(OptOp::Unroll, 0, 3),
            o(OptOp::Local, 1, 8),
            o(OptOp::Share, 0, 0),
        ],
        |t| (&t[0].matmul(&t[1]) + &t[2]).relu(),
    );
}

#[test]
fn shared_conv2d_weights_keep_the_image_masks() {
    // conv2d with padding: lanes along the image columns, 4 output channels per lane; the
    // weights do not read the columns and are the one buffer SHARE is offered for.
    let inputs = [
        rand_input(DType::F32, &[2, 3, 8, 8], 6),
        rand_input(DType::F32, &[4, 3, 3, 3], 7),
    ];
    let f = |t: &[Tensor]| t[0].conv2d(&t[1], 1, 1);
    let dev = Device::cpu();
    let ts: Vec<Tensor> = inputs.iter().map(|i| i.on(&dev)).collect();
    let s = kiln::schedule(&[&f(&ts)]).unwrap();
    let k = s.kernels()[0].with_opts(&[]).unwrap();
    // Output parts in order: batch, channels, rows, columns.
    let mut opts = vec![o(OptOp::Upcast, 1, 4), o(OptOp::Local, 3, 8)];
    let shares: Vec<Opt> = k
        .with_opts(&opts)
        .unwrap()
        .candidate_opts()
        .into_iter()
        .filter(|o| o.op == OptOp::Share)
        .collect();
    assert_eq!(shares.len(), 1, "{shares:?}");
    opts.extend(shares);
    opts.push(o(OptOp::Unroll, 2, 0)); // the kernel width, whole
    check_with_opts("conv2d 2x3x8x8 * 4x3x3x3 pad 1", &inputs, &opts, f);
}

#[test]
fn each_subgroup_loads_a_shared_element_once() {
    for dev in devices() {
        let (smallest, _) = dev
            .limits()
            .subgroup_sizes
            .expect("both devices have subgroups");
        let inputs = ab(DType::F32, 64, 32, 64);
        let ts: Vec<Tensor> = inputs.iter().map(|i| i.on(&dev)).collect();
        let s = kiln::schedule(&[&mm(&ts)]).unwrap();
        let base = [
            o(OptOp::Upcast, 0, 16),
            o(OptOp::Unroll, 0, 4),
            o(OptOp::Local, 1, 8),
        ];
        let mut shared = base.to_vec();
        shared.push(o(OptOp::Share, 0, 0));
        let loads_of_a = |opts: &[Opt]| {
            let wgsl = s.kernels()[0].with_opts(opts).unwrap().wgsl().unwrap();
            (
                wgsl.matches("data0[").count(),
                wgsl.matches("subgroupBroadcast").count(),
            )
        };
        // 16 rows, one vec4 along k each, per reduce step: 16 loads per lane, or 16 / S
        // shared loads and 16 broadcasts.
        assert_eq!(loads_of_a(&base), (16, 0), "{}", dev.name());
        assert_eq!(loads_of_a(&shared), (16 / smallest, 16), "{}", dev.name());
    }
}

#[test]
fn a_cpu_adapter_with_subgroups_shares_its_register_tiles() {
    for dev in devices() {
        let limits = dev.limits();
        let chosen = limits.cpu_adapter && limits.subgroup_sizes.is_some();
        // 256x256 outputs: enough for the 32x8 tile over 16-lane workgroups.
        let a = rand_input(DType::F32, &[256, 64], 1).on(&dev);
        let b = rand_input(DType::F32, &[64, 256], 2).on(&dev);
        let bias = rand_input(DType::F32, &[256], 3).on(&dev);
        for (name, y) in [
            ("relu(a@b + bias)", (&a.matmul(&b) + &bias).relu()),
            ("b.T@b", b.transpose(0, 1).matmul(&b)),
        ] {
            let s = kiln::schedule(&[&y]).unwrap();
            let opts = s.kernels()[0].opts().to_vec();
            let shared: Vec<usize> = opts
                .iter()
                .filter(|o| o.op == OptOp::Share)
                .map(|o| o.axis)
                .collect();
            // The rows' input only (buffer 0): b and the bias read the lanes' columns.
            let expected = if chosen { vec![0] } else { vec![] };
            assert_eq!(shared, expected, "{name} on {}: {opts:?}", dev.name());
            let want = y.oracle().unwrap().data;
            s.run().unwrap();
            assert_close(
                &format!("{name} on {}", dev.name()),
                &read(&y),
                &want,
                1e-4,
                1e-4,
            );
        }
    }
}

#[test]
fn odd_sizes_pad_to_the_shared_tile_and_keep_vec4_loads() {
    for dev in devices() {
        let limits = dev.limits();
        if !(limits.cpu_adapter && limits.subgroup_sizes.is_some()) {
            continue;
        }
        // 250 rows and columns: padded to 256 (the 32-row tile, 8 columns x 16 lanes).
        let a = rand_input(DType::F32, &[250, 64], 4).on(&dev);
        let b = rand_input(DType::F32, &[64, 250], 5).on(&dev);
        let y = a.matmul(&b);
        let s = kiln::schedule(&[&y]).unwrap();
        let k = &s.kernels()[0];
        let ops: Vec<(OptOp, usize)> = k.opts().iter().map(|o| (o.op, o.axis)).collect();
        assert!(
            ops.contains(&(OptOp::Padto, 0))
                && ops.contains(&(OptOp::Padto, 1))
                && ops.contains(&(OptOp::Share, 0)),
            "{}: {:?}",
            dev.name(),
            k.opts()
        );
        // The padded columns still load b in whole vec4s: a bound at a multiple of 4 masks
        // every component alike.
        let wgsl = k.wgsl().unwrap();
        assert!(
            wgsl.contains("data1: array<vec4<f32>>"),
            "b loads scalars on {}:\n{wgsl}",
            dev.name()
        );
        let want = y.oracle().unwrap().data;
        s.run().unwrap();
        assert_close(
            &format!("padded shared matmul on {}", dev.name()),
            &read(&y),
            &want,
            1e-4,
            1e-4,
        );
    }
}

#[test]
fn share_refusals_say_why() {
    let dev = Device::cpu();
    let a = rand_input(DType::F32, &[64, 16], 1).on(&dev);
    let b = rand_input(DType::F32, &[16, 64], 2).on(&dev);
    let mm = a.matmul(&b);
    let refused = |y: &Tensor, opts: &[Opt], op: OptOp, why: &str| {
        let s = kiln::schedule(&[y]).unwrap();
        let e = s.kernels()[0].with_opts(opts).unwrap_err();
        assert_eq!(e.opt.op, op, "{e}");
        assert!(e.to_string().contains(why), "{e}\nexpected: {why}");
    };
    let (rows, lanes) = (o(OptOp::Upcast, 0, 4), o(OptOp::Local, 1, 8));
    let share = |buf| o(OptOp::Share, buf, 0);
    refused(&mm, &[rows, lanes, share(2)], OptOp::Share, "is an output");
    refused(&mm, &[rows, lanes, share(7)], OptOp::Share, "out of range");
    refused(
        &mm,
        &[rows, lanes, o(OptOp::Share, 0, 4)],
        OptOp::Share,
        "takes no amount",
    );
    refused(
        &mm,
        &[rows, lanes, share(0), share(0)],
        OptOp::Share,
        "already shared",
    );
    // b reads the columns the lanes split: they load different elements.
    refused(&mm, &[rows, lanes, share(1)], OptOp::Share, "split");
    // 4 lanes are not whole subgroups of up to 8.
    refused(
        &mm,
        &[rows, o(OptOp::Local, 1, 4), share(0)],
        OptOp::Share,
        "whole number",
    );
    // One row per lane and no unroll: each lane loads one element of a per step.
    refused(&mm, &[lanes, share(0)], OptOp::Share, "nothing to split");
    // STAGE and SHARE of one buffer exclude each other, in either order (the lanes along
    // the columns share a's elements, so either alone applies).
    refused(
        &mm,
        &[rows, lanes, o(OptOp::Stage, 0, 0), share(0)],
        OptOp::Share,
        "staged",
    );
    refused(
        &mm,
        &[rows, lanes, share(0), o(OptOp::Stage, 0, 0)],
        OptOp::Stage,
        "shared through subgroups",
    );
    // A later opt that breaks a shared load is refused too, naming the buffer.
    refused(
        &mm,
        &[rows, lanes, share(0), o(OptOp::Local, 0, 2)],
        OptOp::Local,
        "shared buffer 0",
    );
    // Bools cannot be broadcast.
    let m = rand_input(DType::Bool, &[64, 16], 3).on(&dev);
    let y = m.where_(&a, &a.neg()).matmul(&b);
    let s = kiln::schedule(&[&y]).unwrap();
    let bools = s.kernels()[0]
        .buffers()
        .iter()
        .position(|buf| buf.dtype == DType::Bool)
        .expect("the mask is a buffer");
    refused(&y, &[rows, lanes, share(bools)], OptOp::Share, "bools");
}
