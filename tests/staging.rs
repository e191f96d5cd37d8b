//! Workgroup-memory tiling (`OptOp::Stage`): staged kernels compute what the oracle does on
//! every device (odd sizes, padding, partial copies, a transposed operand, conv2d's masked
//! loads), load each tile element once, are chosen by the GPU heuristics and not on a CPU
//! adapter, and every misuse is refused with its reason.

mod common;
use common::*;
use kiln::{DType, Opt, OptOp, Tensor};

fn o(op: OptOp, axis: usize, amount: usize) -> Opt {
    Opt::new(op, axis, amount)
}

#[test]
fn staged_kernels_agree_with_the_oracle() {
    let mm = |t: &[Tensor]| t[0].matmul(&t[1]);
    let ab = |m, k, n| {
        vec![
            rand_input(DType::F32, &[m, k], 1),
            rand_input(DType::F32, &[k, n], 2),
        ]
    };
    // Both inputs staged, tiles a multiple of the lanes.
    check_with_opts(
        "matmul 32x24x40",
        &ab(32, 24, 40),
        &[
            o(OptOp::Upcast, 0, 2),
            o(OptOp::Upcast, 1, 2),
            o(OptOp::Unroll, 0, 4),
            o(OptOp::Local, 0, 4),
            o(OptOp::Local, 1, 4),
            o(OptOp::Stage, 0, 0),
            o(OptOp::Stage, 1, 0),
        ],
        mm,
    );
    // Padded output axes and a tile of 80 over 32 lanes: the last copy is partial.
    check_with_opts(
        "matmul 30x20x27 padded",
        &ab(30, 20, 27),
        &[
            o(OptOp::Padto, 0, 32),
            o(OptOp::Padto, 1, 32),
            o(OptOp::Upcast, 0, 2),
            o(OptOp::Local, 0, 8),
            o(OptOp::Local, 1, 4),
            o(OptOp::Unroll, 0, 5),
            o(OptOp::Stage, 0, 0),
            o(OptOp::Stage, 1, 0),
        ],
        mm,
    );
    // A padded reduce axis (21 to 24): the copies past the end are zeros.
    check_with_opts(
        "matmul 30x21x27 padded reduction",
        &ab(30, 21, 27),
        &[
            o(OptOp::Padto, 2, 24),
            o(OptOp::Local, 1, 3),
            o(OptOp::Local, 0, 5),
            o(OptOp::Unroll, 0, 3),
            o(OptOp::Stage, 0, 0),
            o(OptOp::Stage, 1, 0),
        ],
        mm,
    );
    // a.T @ b: a's tile is read along its strided axis.
    check_with_opts(
        "a.T@b 24x32x16",
        &[
            rand_input(DType::F32, &[32, 24], 8),
            rand_input(DType::F32, &[32, 16], 9),
        ],
        &[
            o(OptOp::Upcast, 0, 4),
            o(OptOp::Upcast, 1, 4),
            o(OptOp::Unroll, 0, 4),
            o(OptOp::Local, 0, 2),
            o(OptOp::Local, 1, 2),
            o(OptOp::Stage, 0, 0),
            o(OptOp::Stage, 1, 0),
        ],
        |t| t[0].transpose(0, 1).matmul(&t[1]),
    );
    // relu(a@b + bias): the bias is read by the tail (not staged), the tiles by the nest.
    check_with_opts(
        "relu(a@b + bias)",
        &[
            rand_input(DType::F32, &[16, 12], 3),
            rand_input(DType::F32, &[12, 16], 4),
            rand_input(DType::F32, &[16], 5),
        ],
        &[
            o(OptOp::Local, 0, 4),
            o(OptOp::Local, 1, 4),
            o(OptOp::Unroll, 0, 3),
            o(OptOp::Stage, 0, 0),
            o(OptOp::Stage, 1, 0),
        ],
        |t| (&t[0].matmul(&t[1]) + &t[2]).relu(),
    );
}

#[test]
fn staged_conv2d_keeps_its_padding_masks() {
    // conv2d with padding: the image's load is masked at the borders, and a copy of a
    // masked element must be a zero in the tile.
    let inputs = [
        rand_input(DType::F32, &[1, 3, 6, 6], 6),
        rand_input(DType::F32, &[4, 3, 3, 3], 7),
    ];
    let f = |t: &[Tensor]| t[0].conv2d(&t[1], 1, 1);
    let dev = kiln::Device::cpu();
    let ts: Vec<Tensor> = inputs.iter().map(|i| i.on(&dev)).collect();
    let s = kiln::schedule(&[&f(&ts)]).unwrap();
    let k = s.kernels()[0].with_opts(&[]).unwrap();
    // Put 4 lanes on the output channels (the only axis 4 divides: the image's elements are
    // then shared by them) and stage what the candidates offer.
    let channels = (0..8)
        .find(|&axis| k.with_opts(&[o(OptOp::Local, axis, 4)]).is_ok())
        .expect("an axis of 4 output channels");
    let local = o(OptOp::Local, channels, 4);
    let stages: Vec<Opt> = k
        .with_opts(&[local])
        .unwrap()
        .candidate_opts()
        .into_iter()
        .filter(|o| o.op == OptOp::Stage)
        .collect();
    assert!(!stages.is_empty(), "nothing to stage in {}", k.ast());
    let mut opts = vec![local];
    opts.extend(stages);
    check_with_opts("conv2d pad 1 staged", &inputs, &opts, f);
}

#[test]
fn a_staged_kernel_copies_each_tile_element_once() {
    let dev = kiln::Device::cpu();
    let a = rand_input(DType::F32, &[64, 64], 1).on(&dev);
    let b = rand_input(DType::F32, &[64, 64], 2).on(&dev);
    let s = kiln::schedule(&[&a.matmul(&b)]).unwrap();
    // 8x8 lanes, 4x4 outputs each, 4 reduce steps per iteration: each tile is 32x4 = 128
    // elements over 64 lanes, two copies per lane.
    let opts = [
        o(OptOp::Upcast, 0, 4),
        o(OptOp::Upcast, 1, 4),
        o(OptOp::Unroll, 0, 4),
        o(OptOp::Local, 0, 8),
        o(OptOp::Local, 1, 8),
    ];
    let mut staged = opts.to_vec();
    staged.extend([o(OptOp::Stage, 0, 0), o(OptOp::Stage, 1, 0)]);
    let plain = s.kernels()[0].with_opts(&opts).unwrap().wgsl().unwrap();
    let wgsl = s.kernels()[0].with_opts(&staged).unwrap().wgsl().unwrap();
    assert!(!plain.contains("var<workgroup>"), "{plain}");
    assert_eq!(wgsl.matches("var<workgroup>").count(), 2, "{wgsl}");
    assert_eq!(wgsl.matches("array<f32, 128>").count(), 2, "{wgsl}");
    // One barrier after the copies, one before the next iteration's.
    assert_eq!(wgsl.matches("workgroupBarrier()").count(), 2, "{wgsl}");
    // Two scalar copies per lane from each buffer, against vector loads of a whole
    // register tile without staging.
    assert_eq!(wgsl.matches("data0[").count(), 2, "{wgsl}");
    assert_eq!(wgsl.matches("data1[").count(), 2, "{wgsl}");
    assert!(plain.matches("data0[").count() + plain.matches("data1[").count() > 4);
}

#[test]
fn the_gpu_heuristics_stage_a_matmul_and_a_cpu_adapter_does_not() {
    for dev in devices() {
        let a = rand_input(DType::F32, &[128, 128], 1).on(&dev);
        let b = rand_input(DType::F32, &[128, 128], 2).on(&dev);
        let bias = rand_input(DType::F32, &[128], 3).on(&dev);
        let y = (&a.matmul(&b) + &bias).relu();
        let s = kiln::schedule(&[&y]).unwrap();
        let staged: Vec<usize> = s.kernels()[0]
            .opts()
            .iter()
            .filter(|o| o.op == OptOp::Stage)
            .map(|o| o.axis)
            .collect();
        if dev.limits().cpu_adapter {
            assert!(staged.is_empty(), "{:?}", s.kernels()[0].opts());
        } else {
            // a and b, not the bias the tail reads.
            assert_eq!(staged, vec![0, 1], "{:?}", s.kernels()[0].opts());
        }
        // And the default list computes the right values (the CPU interpreter reports a
        // GPU's limits: this runs the staged list).
        let want = y.oracle().unwrap().data;
        s.run().unwrap();
        assert_close(&dev.name(), &read(&y), &want, 1e-4, 1e-4);
    }
}

#[test]
fn stage_refusals_say_why() {
    let dev = kiln::Device::cpu();
    let a = rand_input(DType::F32, &[64, 16], 1).on(&dev);
    let b = rand_input(DType::F32, &[16, 64], 2).on(&dev);
    let bias = rand_input(DType::F32, &[64], 3).on(&dev);
    let refused = |y: &Tensor, opts: &[Opt], why: &str| {
        let s = kiln::schedule(&[y]).unwrap();
        let e = s.kernels()[0].with_opts(opts).unwrap_err();
        assert_eq!(e.opt.op, OptOp::Stage, "{e}");
        assert!(e.to_string().contains(why), "{e}\nexpected: {why}");
    };
    let local = o(OptOp::Local, 0, 4);
    let mm = a.matmul(&b);
    refused(&mm, &[local, o(OptOp::Stage, 2, 0)], "is an output");
    refused(&mm, &[local, o(OptOp::Stage, 7, 0)], "out of range");
    refused(&mm, &[local, o(OptOp::Stage, 1, 5)], "takes no amount");
    refused(
        &mm,
        &[local, o(OptOp::Stage, 1, 0), o(OptOp::Stage, 1, 0)],
        "already staged",
    );
    // Lanes only along the rows, which a reads: no lane shares a's elements.
    refused(&mm, &[local, o(OptOp::Stage, 0, 0)], "share");
    refused(&mm, &[o(OptOp::Stage, 1, 0)], "share");
    // The whole reduction unrolled: no loop to refill the tile in.
    refused(
        &mm,
        &[local, o(OptOp::Unroll, 0, 0), o(OptOp::Stage, 1, 0)],
        "no reduce loop",
    );
    // A later opt that breaks a staged tile is refused too, naming the tile.
    let s = kiln::schedule(&[&mm]).unwrap();
    let e = s.kernels()[0]
        .with_opts(&[local, o(OptOp::Stage, 1, 0), o(OptOp::Group, 0, 4)])
        .unwrap_err();
    assert_eq!(e.opt.op, OptOp::Group, "{e}");
    assert!(e.to_string().contains("staged buffer 1"), "{e}");
    // The bias is read by the tail, outside the reduction.
    let y = (&mm + &bias).relu();
    refused(&y, &[local, o(OptOp::Stage, 2, 0)], "outside any reduction");
    // a @ a reads a at two indices: one tile cannot serve both.
    let sq = rand_input(DType::F32, &[16, 16], 4).on(&dev);
    refused(
        &sq.matmul(&sq),
        &[local, o(OptOp::Stage, 0, 0)],
        "different indices",
    );
    // A tile larger than the device's workgroup memory: 128 rows x 4 x 32 reduce steps.
    let big_a = rand_input(DType::F32, &[512, 128], 5).on(&dev);
    let big_b = rand_input(DType::F32, &[128, 2], 6).on(&dev);
    let big = big_a.matmul(&big_b);
    let limit = dev.limits().workgroup_memory_bytes;
    assert!(128 * 4 * 32 * 4 > limit, "the device allows {limit} bytes");
    refused(
        &big,
        &[
            o(OptOp::Upcast, 0, 4),
            o(OptOp::Local, 0, 128),
            o(OptOp::Local, 1, 2),
            o(OptOp::Unroll, 0, 32),
            o(OptOp::Stage, 0, 0),
        ],
        "workgroup memory",
    );
}
