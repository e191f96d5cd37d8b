//! Reading at computed positions: `gather`, `index_select` and `one_hot`, three ways (oracle,
//! CPU interpreter, wgpu) over odd sizes, views, broadcasts, negative and u32 indices and
//! empty tensors; fusion into one kernel; and out-of-range indices reported as errors.

mod common;
use common::*;
use kiln::{DType, Device, Error, Tensor};

fn f32s(shape: &[usize], seed: u64) -> Input {
    rand_input(DType::F32, shape, seed)
}

#[test]
fn gather_agrees_three_ways() {
    let x = f32s(&[5, 7], 1);
    // Along each axis, with negative indices.
    let i1 = i32s(indices(5 * 4, 7, 2), &[5, 4]);
    check3("gather axis 1", &[x.clone(), i1], |t| t[0].gather(1, &t[1]));
    let i0 = i32s(indices(3 * 7, 5, 3), &[3, 7]);
    check3("gather axis 0", &[x.clone(), i0], |t| {
        t[0].gather(-2, &t[1])
    });
    // Broadcast: the index's size-1 axis against the tensor's, and the other way round.
    let ib = i32s(vec![6, 0, -1], &[1, 3]);
    check3("gather broadcast index", &[x.clone(), ib], |t| {
        t[0].gather(1, &t[1])
    });
    let row = f32s(&[1, 9], 4);
    let many = i32s(indices(4 * 2, 9, 5), &[4, 2]);
    check3("gather broadcast source", &[row, many], |t| {
        t[0].gather(1, &t[1])
    });
    // u32 indices, a transposed and a computed source, and a 3-D odd shape.
    let iu = Input {
        data: Data::U32(vec![0, 4, 2, 3, 3, 1, 0]),
        shape: vec![1, 7],
    };
    check3("gather u32 of transposed", &[x.clone(), iu], |t| {
        t[0].transpose(0, 1).gather(1, &t[1])
    });
    let i3 = i32s(indices(3 * 5 * 2, 3, 6), &[3, 5, 2]);
    check3("gather 3-D of computed", &[f32s(&[3, 5, 3], 7), i3], |t| {
        (&t[0] * &t[0] + 1.0f32).gather(2, &t[1])
    });
    // The index itself computed (and read through a view), and the result reduced.
    let idx = i32s(indices(5 * 3, 7, 8), &[3, 5]);
    check3("gather at computed index, summed", &[x.clone(), idx], |t| {
        let i = ((&t[1] + 7) % 7).transpose(0, 1);
        t[0].gather(1, &i).sum(&[1])
    });
    // Every dtype moves its bits.
    for d in [
        DType::I32,
        DType::F16,
        DType::BF16,
        DType::U8,
        DType::I8,
        DType::Bool,
    ] {
        let xs = rand_input(d, &[4, 9], 9);
        let ix = i32s(indices(4 * 5, 9, 10), &[4, 5]);
        check3(&format!("gather {d}"), &[xs, ix], |t| t[0].gather(1, &t[1]));
    }
}

#[test]
fn gather_of_empty_tensors() {
    let x = f32s(&[3, 4], 11);
    let none = i32s(vec![], &[3, 0]);
    check3("gather of no indices", &[x, none], |t| {
        t[0].gather(1, &t[1])
    });
    let empty_axis = f32s(&[3, 0], 12);
    let none = i32s(vec![], &[3, 0]);
    check3("gather from an empty axis", &[empty_axis, none], |t| {
        t[0].gather(1, &t[1])
    });
}

#[test]
fn index_select_agrees_three_ways() {
    let table = f32s(&[37, 6], 13);
    let rows = i32s(indices(11, 37, 14), &[11]);
    check3("index_select rows", &[table.clone(), rows], |t| {
        t[0].index_select(0, &t[1])
    });
    let cols = i32s(vec![5, 0, -1, 2, 2], &[5]);
    check3(
        "index_select columns",
        &[table.clone(), cols.clone()],
        |t| t[0].index_select(1, &t[1]),
    );
    check3(
        "index_select of a transposed view",
        &[table.clone(), cols],
        |t| t[0].transpose(0, 1).index_select(0, &t[1]),
    );
    let none = i32s(vec![], &[0]);
    check3("index_select of no rows", &[table, none], |t| {
        t[0].index_select(0, &t[1])
    });
    // An embedding lookup: the exact rows, bit for bit.
    let dev = Device::cpu();
    let emb = Tensor::from_slice_on(&[1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[3, 2], &dev).unwrap();
    let tok = Tensor::from_slice_on(&[2i32, 2, 0, -3], &[4], &dev).unwrap();
    assert_eq!(
        emb.index_select(0, &tok).to_vec::<f32>().unwrap(),
        vec![5.0, 6.0, 5.0, 6.0, 1.0, 2.0, 1.0, 2.0]
    );
}

#[test]
fn one_hot_agrees_three_ways() {
    let labels = i32s(vec![0, 3, 1, 3, 2, 0, 1], &[7]);
    check3("one_hot", &[labels], |t| t[0].one_hot(4));
    let grid = Input {
        data: Data::U32(vec![4, 0, 2, 1, 1, 3]),
        shape: vec![2, 3],
    };
    check3("one_hot u32 2-D", &[grid], |t| t[0].one_hot(5));
    for dev in devices() {
        let l = Tensor::from_slice_on(&[1i32, 0], &[2], &dev).unwrap();
        let h = l.one_hot(2);
        assert_eq!(h.dtype(), DType::I32);
        assert_eq!(h.to_vec::<i32>().unwrap(), vec![0, 1, 1, 0]);
    }
}

#[test]
fn gather_then_elementwise_is_one_kernel() {
    let dev = Device::cpu();
    let table = Tensor::from_slice_on(&vec![0.5f32; 64 * 8], &[64, 8], &dev).unwrap();
    let tok = Tensor::from_slice_on(&[3i32, 9, 63, 0], &[4], &dev).unwrap();
    let y = table.index_select(0, &tok).exp() * 2.0f32;
    assert_eq!(kiln::schedule(&[&y]).unwrap().kernels().len(), 1);
    let x = Tensor::from_slice_on(&vec![1.0f32; 6 * 5], &[6, 5], &dev).unwrap();
    let i = Tensor::from_slice_on(&[4i32; 6], &[6, 1], &dev).unwrap();
    let z = (x.gather(1, &i) + 1.0f32).sum(&[0]);
    assert_eq!(kiln::schedule(&[&z]).unwrap().kernels().len(), 1);
}

#[test]
fn out_of_range_indices_are_errors() {
    for dev in devices() {
        let name = dev.name();
        let x = Tensor::from_slice_on(&[1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3], &dev).unwrap();
        let bad = Tensor::from_slice_on(&[0i32, 3], &[2, 1], &dev).unwrap();
        expect_out_of_range(&name, &x.gather(1, &bad), "gather", 3, 3);
        let low = Tensor::from_slice_on(&[-4i32], &[1, 1], &dev).unwrap();
        expect_out_of_range(&name, &x.gather(1, &low), "gather", -4, 3);
        let rows = Tensor::from_slice_on(&[1i32, 2], &[2], &dev).unwrap();
        expect_out_of_range(&name, &x.index_select(0, &rows), "index_select", 2, 2);
        let big = Tensor::from_slice_on(&[u32::MAX], &[1], &dev).unwrap();
        expect_out_of_range(
            &name,
            &x.index_select(1, &big),
            "index_select",
            u32::MAX as i64,
            3,
        );
        let class = Tensor::from_slice_on(&[0i32, -1], &[2], &dev).unwrap();
        expect_out_of_range(&name, &class.one_hot(4), "one_hot", -1, 4);
        // From an empty axis every index is out of range.
        let empty = Tensor::from_slice_on(&[0.0f32; 0], &[2, 0], &dev).unwrap();
        let zero = Tensor::from_slice_on(&[0i32, 0], &[2, 1], &dev).unwrap();
        expect_out_of_range(&name, &empty.gather(1, &zero), "gather", 0, 0);

        // A value computed from a bad gather, realized later in another kernel, fails too;
        // values that do not depend on it read fine.
        let g = x.gather(1, &bad);
        g.realize().unwrap();
        let later = (&g * 2.0f32).sum(&[0, 1]);
        later.realize().unwrap();
        let fine = x.gather(1, &rows.reshape(&[2, 1]));
        expect_out_of_range(&name, &later, "gather", 3, 3);
        assert_eq!(fine.to_vec::<f32>().unwrap(), vec![2.0, 6.0], "{name}");
        assert_eq!(x.sum(&[0, 1]).item::<f32>().unwrap(), 21.0, "{name}");
    }
    // The oracle reports it as well.
    let x = Tensor::from_slice_on(&[1.0f32, 2.0], &[2], &Device::cpu()).unwrap();
    let i = Tensor::from_slice_on(&[5i32], &[1], &Device::cpu()).unwrap();
    assert!(matches!(
        x.index_select(0, &i).oracle(),
        Err(Error::IndexOutOfRange { index: 5, .. })
    ));
}

#[test]
fn index_contract_violations_panic_with_the_op() {
    let dev = Device::cpu();
    let x = Tensor::from_slice_on(&[1.0f32; 6], &[2, 3], &dev).unwrap();
    let f = Tensor::from_slice_on(&[0.0f32], &[1, 1], &dev).unwrap();
    let msg = panic_message(|| drop(x.gather(1, &f)));
    assert!(
        msg.contains("gather") && msg.contains("i32 or u32"),
        "{msg}"
    );
    let i = Tensor::from_slice_on(&[0i32; 3], &[3, 1], &dev).unwrap();
    let msg = panic_message(|| drop(x.gather(1, &i)));
    assert!(msg.contains("gather") && msg.contains("[3, 1]"), "{msg}");
    let i2 = Tensor::from_slice_on(&[0i32; 2], &[1, 2], &dev).unwrap();
    let msg = panic_message(|| drop(x.index_select(0, &i2)));
    assert!(msg.contains("index_select") && msg.contains("1-D"), "{msg}");
    let msg = panic_message(|| drop(i.one_hot(0)));
    assert!(msg.contains("one_hot"), "{msg}");
}

/// A kernel's status words take a binding too: a sum of 40 gathers is cut into kernels that
/// each bind at most what the device allows, counting them.
#[test]
fn kernels_with_index_checks_fit_the_bindings() {
    for dev in devices() {
        let idx = Tensor::from_slice_on(&[2i32, 0, -1], &[3], &dev).unwrap();
        let ins: Vec<Tensor> = (0..40)
            .map(|i| rand_input(DType::F32, &[3, 4], 50 + i).on(&dev))
            .collect();
        let total = ins[1..]
            .iter()
            .fold(ins[0].index_select(0, &idx), |acc, t| {
                acc + t.index_select(0, &idx)
            });
        let s = kiln::schedule(&[&total]).unwrap();
        let limit = dev.limits().max_storage_buffers;
        for k in s.kernels() {
            assert!(
                k.buffers().len() <= limit,
                "{} binds {}",
                k.name(),
                k.buffers().len()
            );
        }
        let want = total.oracle().unwrap().data;
        assert_close(&dev.name(), &read(&total), &want, 1e-5, 1e-5);
    }
}
