//! IEEE and numpy edge cases (reliability issue): NaN propagation, casts out of range, exact
//! integer powers, cos and tanh precision. Every case runs on every device and through the
//! graph oracle, and each expected value is numpy's (or Rust's `as`, for casts).

mod common;
use common::*;
use kiln::{DType, Device, Tensor};

fn f32s(dev: &Device, v: &[f32]) -> Tensor {
    Tensor::from_slice_on(v, &[v.len()], dev).unwrap()
}

/// Bitwise equality that treats every NaN as equal (and tells -0.0 from 0.0).
fn same(got: &[f32], want: &[f32]) -> bool {
    got.len() == want.len()
        && got
            .iter()
            .zip(want)
            .all(|(g, w)| (g.is_nan() && w.is_nan()) || g.to_bits() == w.to_bits())
}

/// The value on the device and in the graph oracle, which must agree exactly.
fn eval_f32(t: &Tensor) -> Vec<f32> {
    let got: Vec<f32> = t.to_vec().unwrap();
    let oracle: Vec<f32> = t
        .oracle()
        .unwrap()
        .data
        .iter()
        .map(|s| s.to_f64() as f32)
        .collect();
    assert!(
        same(&got, &oracle),
        "device {:?} gives {got:?}, the oracle {oracle:?}",
        t.device()
    );
    got
}

#[test]
fn nan_propagates_through_maximum_minimum_relu() {
    let nan = f32::NAN;
    for dev in devices() {
        let a = f32s(&dev, &[1.0, nan, 3.0, f32::NEG_INFINITY, nan]);
        let b = f32s(&dev, &[nan, 2.0, 1.0, 0.0, nan]);
        let max = eval_f32(&a.maximum(&b));
        assert!(same(&max, &[nan, nan, 3.0, 0.0, nan]), "maximum: {max:?}");
        let min = eval_f32(&a.minimum(&b));
        assert!(
            same(&min, &[nan, nan, 1.0, f32::NEG_INFINITY, nan]),
            "minimum: {min:?}"
        );
        let relu = eval_f32(&a.relu());
        assert!(same(&relu, &[1.0, nan, 3.0, 0.0, nan]), "relu: {relu:?}");
        let clamped = eval_f32(&a.clamp(0.0, 2.0));
        assert!(
            same(&clamped, &[1.0, nan, 2.0, 0.0, nan]),
            "clamp: {clamped:?}"
        );
    }
}

#[test]
fn nan_propagates_through_max_and_min_reductions() {
    let nan = f32::NAN;
    for dev in devices() {
        let x = f32s(&dev, &[1.0, nan, 3.0, 2.0, 5.0, -1.0]).reshape(&[2, 3]);
        assert!(same(&eval_f32(&x.max(&[1])), &[nan, 5.0]));
        assert!(same(&eval_f32(&x.min(&[1])), &[nan, -1.0]));
        assert!(same(&eval_f32(&x.max(&[0])), &[2.0, nan, 3.0]));
        assert!(same(&eval_f32(&x.min(&[0])), &[1.0, nan, -1.0]));
        // Long reductions take the grouped (workgroup tree) and unrolled paths.
        for n in [1000usize, 100_000] {
            let mut v: Vec<f32> = (0..n).map(|i| (i % 97) as f32).collect();
            v[n / 3] = nan;
            let t = f32s(&dev, &v);
            assert!(eval_f32(&t.max_all())[0].is_nan(), "max_all of {n}");
            assert!(eval_f32(&t.min_all())[0].is_nan(), "min_all of {n}");
            if n > 65535 {
                continue; // one lane's loop would pass llvmpipe's loop bound
            }
            // Without the optimizer: one lane's loop.
            let noopt = t.min_all();
            let mut s = kiln::schedule(&[&noopt]).unwrap();
            s.set_opts(0, &[]).unwrap();
            s.run().unwrap();
            assert!(
                noopt.item::<f32>().unwrap().is_nan(),
                "NOOPT min_all of {n}"
            );
        }
    }
}

/// Rust's `as`: truncate toward zero, saturate at the type's bounds, NaN gives 0.
#[test]
fn float_to_int_casts_follow_one_rule_everywhere() {
    let v = [
        3e9f32,
        -3e9,
        f32::NAN,
        -1.5,
        1e10,
        f32::INFINITY,
        f32::NEG_INFINITY,
        2.7,
        -2.7,
        2147483520.0,
        4294967040.0,
        -0.0,
    ];
    let want_i32: Vec<i32> = v.iter().map(|&x| x as i32).collect();
    let want_u32: Vec<u32> = v.iter().map(|&x| x as u32).collect();
    for dev in devices() {
        let t = f32s(&dev, &v);
        assert_eq!(t.cast(DType::I32).to_vec::<i32>().unwrap(), want_i32);
        assert_eq!(t.cast(DType::U32).to_vec::<u32>().unwrap(), want_u32);
        // Fused with arithmetic (one kernel) and constant-folded (no kernel).
        let fused = (&t * 1.0).cast(DType::I32);
        assert_eq!(fused.to_vec::<i32>().unwrap(), want_i32);
        for (&x, (&wi, &wu)) in v.iter().zip(want_i32.iter().zip(&want_u32)) {
            let c = Tensor::full_on(&[2], x as f64, DType::F32, &dev);
            assert_eq!(
                c.cast(DType::I32).to_vec::<i32>().unwrap(),
                vec![wi; 2],
                "{x}"
            );
            assert_eq!(
                c.cast(DType::U32).to_vec::<u32>().unwrap(),
                vec![wu; 2],
                "{x}"
            );
        }
    }
}

#[test]
fn integer_powers_are_exact() {
    let cases: [(f32, f32, f32); 12] = [
        (10.0, 3.0, 1000.0),
        (3.0, 15.0, 14348907.0),
        (2.0, 10.0, 1024.0),
        (-2.0, 3.0, -8.0),
        (-3.0, 4.0, 81.0),
        (2.0, -2.0, 0.25),
        (7.0, 8.0, 5764801.0),
        (-1.0, 31.0, -1.0),
        (0.5, 3.0, 0.125),
        (5.0, 0.0, 1.0),
        (11.0, 6.0, 1771561.0),
        (-10.0, -3.0, -0.001),
    ];
    for dev in devices() {
        let base: Vec<f32> = cases.iter().map(|c| c.0).collect();
        let exp: Vec<f32> = cases.iter().map(|c| c.1).collect();
        let want: Vec<f32> = cases.iter().map(|c| c.2).collect();
        let (a, b) = (f32s(&dev, &base), f32s(&dev, &exp));
        let got = eval_f32(&a.pow(&b));
        assert!(same(&got, &want), "tensor exponents: {got:?} want {want:?}");
        // A constant exponent (the common `x.pow(3)`) takes the multiplication path.
        for (i, &(x, n, w)) in cases.iter().enumerate() {
            let e = Tensor::full_on(&[], n as f64, DType::F32, &dev);
            let got = eval_f32(&f32s(&dev, &[x]).pow(&e));
            assert!(same(&got, &[w]), "case {i}: {x}^{n} = {got:?}, want {w}");
        }
    }
}

#[test]
fn pow_follows_ieee_special_cases() {
    let (inf, nan) = (f32::INFINITY, f32::NAN);
    // (base, exponent, numpy's result)
    let cases: [(f32, f32, f32); 22] = [
        (1.0, inf, 1.0),
        (-1.0, inf, 1.0),
        (-1.0, -inf, 1.0),
        (1.0, nan, 1.0),
        (nan, 0.0, 1.0),
        (0.0, -1.0, inf),
        (-0.0, -1.0, -inf),
        (0.0, -2.0, inf),
        (0.0, 2.0, 0.0),
        (0.0, 0.0, 1.0),
        (-8.0, 1.0 / 3.0, nan),
        (2.0, 0.5, std::f32::consts::SQRT_2),
        (0.5, inf, 0.0),
        (2.0, -inf, 0.0),
        (0.0, -0.5, inf),
        (0.0, 0.5, 0.0),
        (-2.0, inf, inf),
        (-0.5, inf, 0.0),
        (2.0, 24.0, 16777216.0),
        (-0.0, -17.0, -inf),
        (-0.0, 17.0, -0.0),
        (-0.0, 0.5, 0.0),
    ];
    let base: Vec<f32> = cases.iter().map(|c| c.0).collect();
    let exp: Vec<f32> = cases.iter().map(|c| c.1).collect();
    for dev in devices() {
        let (a, b) = (f32s(&dev, &base), f32s(&dev, &exp));
        // Alone, and fused with more arithmetic into one kernel.
        for got in [eval_f32(&a.pow(&b)), eval_f32(&(&(&a.pow(&b) * 2.0) * 0.5))] {
            for (i, (&g, c)) in got.iter().zip(&cases).enumerate() {
                let ok =
                    (g.is_nan() && c.2.is_nan()) || g == c.2 || (g - c.2).abs() <= 1e-6 * c.2.abs();
                assert!(
                    ok && (g == 0.0) <= (c.2 == 0.0),
                    "case {i}: pow{:?} = {g}",
                    c
                );
                assert_eq!(g.is_sign_negative(), c.2.is_sign_negative(), "case {i}");
            }
        }
    }
}

#[test]
fn cos_is_accurate_for_large_arguments() {
    let x = [
        1e7f32,
        12345.678,
        -3e5,
        100.0,
        0.0,
        std::f32::consts::FRAC_PI_2,
        std::f32::consts::PI,
    ];
    for dev in devices() {
        let got = eval_f32(&f32s(&dev, &x).cos());
        for (&g, &xi) in got.iter().zip(&x) {
            let want = (xi as f64).cos();
            assert!(
                (g as f64 - want).abs() < 2e-6,
                "cos({xi}) = {g}, want {want}"
            );
        }
    }
}

#[test]
fn tanh_is_accurate_near_zero_and_saturates() {
    let x = [
        1e-10f32, -1e-7, 1e-4, 0.01, 0.1, -0.29, 0.31, 0.5, 1.0, -3.0, 9.0, 20.0, -100.0, 0.0,
    ];
    for dev in devices() {
        let got = eval_f32(&f32s(&dev, &x).tanh());
        for (&g, &xi) in got.iter().zip(&x) {
            let want = (xi as f64).tanh();
            let err = (g as f64 - want).abs();
            assert!(
                err <= 1e-6 * want.abs().max(1e-30),
                "tanh({xi}) = {g}, want {want}"
            );
        }
        assert!(eval_f32(&f32s(&dev, &[f32::NAN]).tanh())[0].is_nan());
    }
}

/// Long float sums stay accurate: every lane's accumulator is compensated (Kahan) once it
/// folds more than 8192 values, and lanes combine by a tree. A sequential f32 sum of 2^26
/// values of 0.1 was 2.5e-3 off on the CPU device. 2^25 values is the largest f32 tensor one
/// lavapipe binding holds (128 MiB); the CPU device also sums 2^26.
#[test]
fn long_sums_are_accurate() {
    for dev in devices() {
        let n: usize = if dev == kiln::Device::cpu() {
            1 << 26
        } else {
            1 << 25
        };
        let mut rng = Rng::new(7);
        let u: Vec<f32> = (0..n).map(|_| rng.f32(0.0, 1.0)).collect();
        let exact: f64 = u.iter().map(|&x| x as f64).sum();
        let got = Tensor::from_slice_on(&u, &[n], &dev)
            .unwrap()
            .sum_all()
            .item::<f32>()
            .unwrap() as f64;
        let err = (got - exact).abs() / exact;
        assert!(
            err < 1e-5,
            "{dev:?}: sum of {n} uniform values off by {err:e}"
        );
        let tenth = Tensor::full_on(&[n], 0.1, DType::F32, &dev).contiguous();
        let mean = tenth.mean_all().item::<f32>().unwrap() as f64;
        let err = (mean - 0.1f32 as f64).abs() / 0.1;
        assert!(
            err < 1e-5,
            "{dev:?}: mean of {n} values of 0.1 off by {err:e}"
        );
    }
}
