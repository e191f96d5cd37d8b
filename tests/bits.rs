//! Logical and bitwise ops, shifts (every amount defined) and their operators, against
//! numpy's values (numpy 2, int32 and uint32) on the CPU device and wgpu, and three ways.

mod common;
use common::*;
use kiln::{DType, Device, Tensor};

const X: [i32; 8] = [1, -1, 7, -8, i32::MAX, i32::MIN, 12345, -99];
const S: [i32; 8] = [0, 1, 31, 32, 33, 40, 5, 3];

#[test]
fn shifts_match_numpy_including_amounts_past_the_width() {
    for dev in devices() {
        let x = Tensor::from_slice_on(&X, &[8], &dev).unwrap();
        let s = Tensor::from_slice_on(&S, &[8], &dev).unwrap();
        assert_eq!(
            x.shl(&s).to_vec::<i32>().unwrap(),
            vec![1, -2, i32::MIN, 0, 0, 0, 395040, -792],
            "{dev:?}"
        );
        assert_eq!(
            (&x >> &s).to_vec::<i32>().unwrap(),
            vec![1, -1, 0, -1, 0, -1, 385, -13],
            "{dev:?}"
        );
        let u = x.cast(DType::U32);
        let su = s.cast(DType::U32);
        assert_eq!(
            (&u << &su).to_vec::<u32>().unwrap(),
            vec![1, 4294967294, 2147483648, 0, 0, 0, 395040, 4294966504],
            "{dev:?}"
        );
        assert_eq!(
            u.shr(&su).to_vec::<u32>().unwrap(),
            vec![1, 2147483647, 0, 0, 0, 0, 385, 536870899],
            "{dev:?}"
        );
        // A negative amount reads as a u32 past the width.
        assert_eq!((&x << -1).to_vec::<i32>().unwrap(), vec![0; 8]);
        assert_eq!((&x >> 3).to_vec::<i32>().unwrap()[7], -13);
    }
}

#[test]
fn bitwise_and_logical_ops_match_numpy() {
    for dev in devices() {
        let x = Tensor::from_slice_on(&X, &[8], &dev).unwrap();
        assert_eq!(
            (&x & 0x0f0f).to_vec::<i32>().unwrap(),
            vec![1, 3855, 7, 3848, 3855, 0, 9, 3853]
        );
        assert_eq!(
            (&x ^ -1).to_vec::<i32>().unwrap(),
            vec![-2, 0, -8, 7, i32::MIN, i32::MAX, -12346, 98]
        );
        assert_eq!(
            (!x.cast(DType::U32)).to_vec::<u32>().unwrap(),
            vec![4294967294, 0, 4294967288, 7, 2147483648, 2147483647, 4294954950, 98]
        );
        assert_eq!(
            (!&x).to_vec::<i32>().unwrap(),
            (&x ^ -1).to_vec::<i32>().unwrap()
        );
        assert_eq!((&x | 1).to_vec::<i32>().unwrap()[3], -7);
        let a = Tensor::from_slice_on(&[true, true, false, false], &[4], &dev).unwrap();
        let b = Tensor::from_slice_on(&[1.0f32, 0.0, 2.5, 0.0], &[4], &dev).unwrap();
        let bools = |t: Tensor| t.to_vec::<bool>().unwrap();
        assert_eq!(bools(a.logical_and(&b)), vec![true, false, false, false]);
        assert_eq!(bools(a.logical_or(&b)), vec![true, true, true, false]);
        assert_eq!(bools(a.logical_xor(&b)), vec![false, true, true, false]);
        assert_eq!(bools(!&a), vec![false, false, true, true]);
    }
}

#[test]
fn bit_ops_agree_three_ways_on_views() {
    let x = rand_input(DType::I32, &[6, 9], 21);
    let y = rand_input(DType::I32, &[9], 22);
    check3(
        "masks and shifts of a transposed view",
        &[x.clone(), y.clone()],
        |t| {
            let v = t[0].transpose(0, 1);
            (&v & &t[1].reshape(&[9, 1])) ^ (&v << 3) | (&v >> 2)
        },
    );
    check3("shift amounts from data, wide and narrow", &[x, y], |t| {
        let amount = (&t[1] & 63).reshape(&[1, 9]);
        t[0].shl(&amount).add(&t[0].shr(&amount))
    });
}

#[test]
fn bit_ops_refuse_floats_naming_themselves() {
    let dev = Device::cpu();
    let f = Tensor::from_slice_on(&[1.0f32], &[1], &dev).unwrap();
    let i = Tensor::from_slice_on(&[1i32], &[1], &dev).unwrap();
    let m = panic_message(|| drop(f.bitwise_and(&i)));
    assert!(m.starts_with("bitwise_and:") && m.contains("f32"), "{m}");
    let m = panic_message(|| drop(f.shl(&i)));
    assert!(m.starts_with("shl:") && m.contains("f32"), "{m}");
    let m = panic_message(|| drop(!&f));
    assert!(m.starts_with("bitwise_not:") && m.contains("f32"), "{m}");
}

#[test]
fn bitcast_reads_the_same_bits() {
    let floats = [
        1.0f32,
        -2.0,
        0.0,
        -0.0,
        f32::INFINITY,
        f32::MIN_POSITIVE,
        3.25e-38,
        7.5,
    ];
    for dev in devices() {
        let x = Tensor::from_slice_on(&floats, &[2, 4], &dev).unwrap();
        let want: Vec<u32> = floats.iter().map(|f| f.to_bits()).collect();
        assert_eq!(
            x.bitcast(DType::U32).to_vec::<u32>().unwrap(),
            want,
            "{dev:?}"
        );
        let signed: Vec<i32> = want.iter().map(|&b| b as i32).collect();
        // Through a view and computed values, and back: the bits survive the round trip.
        let t = x.transpose(0, 1);
        let back = t.bitcast(DType::I32).bitcast(DType::F32);
        assert_eq!(
            back.to_vec::<f32>().unwrap(),
            t.contiguous().to_vec::<f32>().unwrap()
        );
        let i = Tensor::from_slice_on(&signed, &[8], &dev).unwrap();
        assert_eq!(
            (&i.bitcast(DType::F32) * 2.0f32).to_vec::<f32>().unwrap(),
            floats.map(|f| f * 2.0).to_vec()
        );
    }
    let x = rand_input(DType::F32, &[3, 5], 1);
    check3("bitcast three ways", &[x], |t| {
        t[0].bitcast(DType::U32)
            .bitwise_xor(&Tensor::full_on(
                &[],
                2147483648.0,
                DType::U32,
                t[0].device(),
            ))
            .bitcast(DType::F32)
            .transpose(0, 1)
    });
    let msg = panic_message(|| {
        Tensor::from_slice_on(&[1u8], &[1], &Device::cpu())
            .unwrap()
            .bitcast(DType::F32);
    });
    assert!(msg.contains("bitcast") && msg.contains("u8"), "{msg}");
}
