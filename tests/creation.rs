//! Creation from the index: `arange`, `linspace`, `eye` and the `*_like` constants, against
//! numpy's values and three ways (oracle, CPU interpreter, wgpu); computed inside the kernel
//! that reads them, so they upload nothing.

mod common;
use common::*;
use kiln::{DType, Device, Tensor};

fn dummy() -> Input {
    rand_input(DType::F32, &[1], 1)
}

#[test]
fn arange_matches_numpy() {
    let dev = Device::cpu();
    let i = |a, b, s| {
        Tensor::arange_on(a, b, s, DType::I32, &dev)
            .to_vec::<i32>()
            .unwrap()
    };
    assert_eq!(i(0.0, 5.0, 1.0), vec![0, 1, 2, 3, 4]);
    assert_eq!(i(10.0, 0.0, -3.0), vec![10, 7, 4, 1]);
    assert_eq!(i(-2.0, 3.0, 2.0), vec![-2, 0, 2]);
    assert_eq!(i(5.0, 5.0, 1.0), Vec::<i32>::new());
    assert_eq!(i(5.0, 0.0, 1.0), Vec::<i32>::new());
    let u = Tensor::arange_on(4e9, 4.0000001e9 + 3.0, 100.0, DType::U32, &dev);
    assert_eq!(
        u.to_vec::<u32>().unwrap(),
        vec![4_000_000_000, 4_000_000_100]
    );
    let f = Tensor::arange_on(0.0, 1.0, 0.25, DType::F32, &dev);
    assert_eq!(f.to_vec::<f32>().unwrap(), vec![0.0, 0.25, 0.5, 0.75]);
    // numpy: np.arange(1, 2, 0.3, dtype=np.float32) has ceil(1 / 0.3) = 4 elements.
    let f = Tensor::arange_on(1.0, 2.0, 0.3, DType::F32, &dev);
    assert_eq!(f.shape(), &[4]);
    assert!((f.to_vec::<f32>().unwrap()[3] - 1.9).abs() < 1e-6);
}

#[test]
fn linspace_and_eye_match_numpy() {
    let dev = Device::cpu();
    let l = |a, b, n| {
        Tensor::linspace_on(a, b, n, DType::F32, &dev)
            .to_vec::<f32>()
            .unwrap()
    };
    assert_eq!(l(0.0, 1.0, 5), vec![0.0, 0.25, 0.5, 0.75, 1.0]);
    assert_eq!(l(2.0, -1.0, 4), vec![2.0, 1.0, 0.0, -1.0]);
    assert_eq!(l(3.0, 7.0, 1), vec![3.0]);
    assert_eq!(l(3.0, 7.0, 0), Vec::<f32>::new());
    // The last value is exactly `end`, whatever the rounding of the steps.
    let third = l(0.0, 0.1, 4);
    assert_eq!(third[3], 0.1f32);
    let ints = Tensor::linspace_on(0.0, 10.0, 4, DType::I32, &dev);
    assert_eq!(ints.to_vec::<i32>().unwrap(), vec![0, 3, 6, 10]); // numpy: [0, 3, 6, 10]
    let eye = Tensor::eye_on(3, DType::F32, &dev);
    assert_eq!(
        eye.to_vec::<f32>().unwrap(),
        vec![1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    );
    let eye = Tensor::eye_on(2, DType::Bool, &dev);
    assert_eq!(
        eye.to_vec::<bool>().unwrap(),
        vec![true, false, false, true]
    );
    assert_eq!(Tensor::eye_on(0, DType::I32, &dev).shape(), &[0, 0]);
}

#[test]
fn creation_ops_agree_three_ways_fused_into_consumers() {
    check3("arange f32 * x", &[rand_input(DType::F32, &[37], 2)], |t| {
        Tensor::arange_on(-3.0, 15.5, 0.5, DType::F32, t[0].device()).mul(&t[0])
    });
    check3(
        "arange i32 reversed, reshaped, transposed",
        &[dummy()],
        |t| {
            Tensor::arange_on(100.0, -20.0, -2.0, DType::I32, t[0].device())
                .reshape(&[6, 10])
                .transpose(0, 1)
                .contiguous()
        },
    );
    check3("linspace summed", &[dummy()], |t| {
        Tensor::linspace_on(0.5, 2.0, 1001, DType::F32, t[0].device()).sum_all()
    });
    check3(
        "arange of 2^20 summed (a two-stage reduction)",
        &[dummy()],
        |t| {
            Tensor::arange_on(0.0, (1 << 20) as f64, 1.0, DType::F32, t[0].device())
                .mul(&t[0].reshape(&[]))
                .sum_all()
        },
    );
    check3("eye @ x", &[rand_input(DType::F32, &[5, 7], 3)], |t| {
        Tensor::eye_on(5, DType::F32, t[0].device()).matmul(&t[0])
    });
    check3(
        "x + eye, odd size",
        &[rand_input(DType::F32, &[33, 33], 4)],
        |t| &t[0] + &Tensor::eye_on(33, DType::F32, t[0].device()),
    );
    check3("arange padded and flipped", &[dummy()], |t| {
        Tensor::arange_on(0.0, 9.0, 1.0, DType::I32, t[0].device())
            .pad(&[(2, 3)])
            .flip(&[0])
    });
    check3(
        "full_like of a view",
        &[rand_input(DType::I32, &[4, 6], 5)],
        |t| {
            let v = t[0].permute(&[1, 0]);
            v.full_like(7.0).add(&v.ones_like()).add(&v.zeros_like())
        },
    );
}

#[test]
fn arange_times_two_is_one_kernel_that_uploads_nothing() {
    for dev in devices() {
        let y = Tensor::arange_on(0.0, 4096.0, 1.0, DType::F32, &dev).mul(&Tensor::full_on(
            &[],
            2.0,
            DType::F32,
            &dev,
        ));
        let s = kiln::schedule(&[&y]).unwrap();
        assert_eq!(s.kernels().len(), 1, "{s:?}");
        let bufs = s.kernels()[0].buffers();
        assert_eq!(bufs.len(), 1, "the kernel binds only its output: {bufs:?}");
        assert!(bufs[0].output);
        assert_eq!(y.to_vec::<f32>().unwrap()[4095], 8190.0);
    }
}

#[test]
fn creation_ops_refuse_bad_arguments_naming_themselves() {
    let dev = Device::cpu();
    let m = panic_message(|| drop(Tensor::arange_on(0.0, 1.0, 0.0, DType::F32, &dev)));
    assert!(m.starts_with("arange:") && m.contains("nonzero"), "{m}");
    let m = panic_message(|| drop(Tensor::arange_on(0.0, 1.0, 0.5, DType::I32, &dev)));
    assert!(m.starts_with("arange:") && m.contains("integral"), "{m}");
    let m = panic_message(|| drop(Tensor::arange_on(0.0, 1e12, 1.0, DType::F32, &dev)));
    assert!(m.starts_with("arange:") && m.contains("i32"), "{m}");
    let m = panic_message(|| drop(Tensor::linspace_on(0.0, 1.0, 3, DType::Bool, &dev)));
    assert!(m.starts_with("linspace:") && m.contains("bool"), "{m}");
}
