//! Scans (`cumsum`, `cumprod`, `cummax`) three ways (oracle, CPU interpreter, wgpu): short
//! rows in one kernel, long rows by reduce-then-scan, every axis, views, dtypes, NaN and
//! empty tensors; and against plain host loops.

mod common;
use common::*;
use kiln::{DType, Device, Tensor};

fn f32s(shape: &[usize], seed: u64) -> Input {
    rand_input(DType::F32, shape, seed)
}

#[test]
fn scans_agree_three_ways() {
    let x = f32s(&[5, 7, 3], 1);
    for axis in [0isize, 1, 2, -1] {
        check3(&format!("cumsum {axis}"), &[x.clone()], |t| {
            t[0].cumsum(axis)
        });
        check3(&format!("cummax {axis}"), &[x.clone()], |t| {
            t[0].cummax(axis)
        });
    }
    check3("cumprod", &[f32s(&[4, 9], 2)], |t| t[0].cumprod(1));
    // Of a computed and transposed source, and fused into a consumer.
    check3("cumsum of a view", &[f32s(&[6, 5], 3)], |t| {
        (&t[0] * 2.0f32).transpose(0, 1).cumsum(1) + 1.0f32
    });
    // Of a reduction (materialized first) and read through a broadcast.
    check3("cumsum of a sum", &[f32s(&[8, 6], 4)], |t| {
        let s = t[0].sum(&[1]).cumsum(0);
        &t[0] - &s.reshape(&[8, 1])
    });
    // Two scans of one tensor share one kernel.
    for dev in devices() {
        let x = f32s(&[4, 33], 5).on(&dev);
        let (a, b) = (x.cumsum(1), x.cummax(1));
        let s = kiln::schedule(&[&a, &b]).unwrap();
        assert_eq!(s.kernels().len(), 1, "{}", dev.name());
    }
}

#[test]
fn long_rows_scan_in_chunks() {
    // Longer than one lane's chunk: totals, their scan, then each chunk from its offset.
    let ones = Input {
        data: Data::F32(vec![1.0; 3 * 2500]),
        shape: vec![3, 2500],
    };
    check3("cumsum of long rows", &[ones], |t| t[0].cumsum(1));
    let x = f32s(&[2, 3001], 6);
    check3_tol("cumsum 3001", &[x.clone()], 1e-4, 1e-4, |t| t[0].cumsum(-1));
    check3("cummax 3001", &[x.clone()], |t| t[0].cummax(1));
    check3("cummax along axis 0 of a transpose", &[x], |t| {
        t[0].transpose(0, 1).cummax(0)
    });
    // Two levels of chunks, exact in integers.
    let n = 1024 * 1024 + 77;
    let v: Vec<i32> = (0..n).map(|i| (i % 7) as i32 - 3).collect();
    for dev in devices() {
        let t = Tensor::from_slice_on(&v, &[n], &dev).unwrap();
        let got = t.cumsum(0).to_vec::<i32>().unwrap();
        let mut acc = 0i32;
        for (i, (&g, &x)) in got.iter().zip(&v).enumerate() {
            acc += x;
            assert_eq!(g, acc, "{} at {i}", dev.name());
        }
    }
}

#[test]
fn scan_dtypes_and_specials() {
    // Integers stay integers; bools count as i32; small ints widen for sums.
    let ints = Input {
        data: Data::I32(vec![3, -1, 4, -1, 5, -9, 2, 6]),
        shape: vec![2, 4],
    };
    check3("cumsum i32", &[ints.clone()], |t| t[0].cumsum(1));
    check3("cumprod i32", &[ints.clone()], |t| t[0].cumprod(1));
    check3("cummax i32", &[ints], |t| t[0].cummax(1));
    let flags = Input {
        data: Data::Bool(vec![true, false, true, true, false]),
        shape: vec![5],
    };
    check3("cumsum bool", &[flags], |t| t[0].cumsum(0));
    for d in [DType::U8, DType::I8, DType::F16, DType::BF16] {
        check3_tol(
            &format!("cumsum {d}"),
            &[rand_input(d, &[3, 11], 7)],
            1e-2,
            1e-2,
            |t| t[0].cumsum(1),
        );
        check3(&format!("cummax {d}"), &[rand_input(d, &[3, 11], 8)], |t| {
            t[0].cummax(1)
        });
    }
    for dev in devices() {
        let b = Tensor::from_slice_on(&[true, true, false], &[3], &dev).unwrap();
        assert_eq!(b.cumsum(0).dtype(), DType::I32);
        let u = Tensor::from_slice_on(&[200u8, 100], &[2], &dev).unwrap();
        assert_eq!(u.cumsum(0).to_vec::<u32>().unwrap(), vec![200, 300]);
        // A NaN stays the maximum from where it appears, as numpy's maximum.accumulate.
        let x = Tensor::from_slice_on(&[1.0f32, f32::NAN, 5.0], &[3], &dev).unwrap();
        let m = x.cummax(0).to_vec::<f32>().unwrap();
        assert!(m[0] == 1.0 && m[1].is_nan() && m[2].is_nan(), "{m:?}");
    }
    // Empty tensors and size-1 axes.
    let empty = Input {
        data: Data::F32(vec![]),
        shape: vec![0, 4],
    };
    check3("cumsum of empty", &[empty.clone()], |t| t[0].cumsum(1));
    check3("cumsum along empty", &[empty], |t| t[0].cumsum(0));
    check3("cumsum of size 1", &[f32s(&[4, 1], 9)], |t| t[0].cumsum(1));
}

#[test]
fn a_cdf_by_cumsum() {
    let dev = Device::cpu();
    let counts = Tensor::from_slice_on(&[1.0f32, 3.0, 0.0, 4.0], &[4], &dev).unwrap();
    let cdf = &counts.cumsum(0) / 8.0f32;
    assert_eq!(cdf.to_vec::<f32>().unwrap(), vec![0.125, 0.5, 0.5, 1.0]);
}

#[test]
fn scan_kernels_under_opt_lists() {
    use kiln::{Opt, OptOp};
    let x = f32s(&[6, 8], 10);
    // Parts: the global rows (0), the walk along the scan axis (1).
    for opts in [
        vec![],
        vec![Opt::new(OptOp::Upcast, 1, 4)],
        vec![Opt::new(OptOp::Upcast, 1, 8)],
        vec![Opt::new(OptOp::Upcast, 0, 2), Opt::new(OptOp::Upcast, 1, 2)],
        vec![Opt::new(OptOp::Local, 0, 3), Opt::new(OptOp::Upcast, 1, 4)],
    ] {
        check_with_opts(&format!("cumsum {opts:?}"), &[x.clone()], &opts, |t| {
            t[0].cumsum(1)
        });
        check_with_opts(&format!("cummax {opts:?}"), &[x.clone()], &opts, |t| {
            t[0].cummax(1)
        });
    }
    // The walk is in order: no second split of it, and no other opt on it.
    let dev = Device::cpu();
    let y = x.on(&dev).cumsum(1);
    let mut s = kiln::schedule(&[&y]).unwrap();
    for bad in [
        vec![Opt::new(OptOp::Upcast, 1, 2), Opt::new(OptOp::Upcast, 1, 2)],
        vec![Opt::new(OptOp::Local, 1, 2)],
    ] {
        let err = s.set_opts(0, &bad).unwrap_err().to_string();
        assert!(err.contains("scan"), "{bad:?}: {err}");
    }
}
