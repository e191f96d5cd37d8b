//! Rounding, signs and float classes: bit for bit against numpy's float32 results over edge
//! values (±0, halves, ±inf, NaN, denormals, 2^23 and beyond; `tests/fixtures/
//! rounding_numpy.json`, written by numpy), on the CPU device and wgpu, and three ways on
//! random data; the activations built on them three ways.

mod common;
use common::*;
use kiln::{DType, Tensor};
use serde_json::Value;

/// A tensor method of no arguments, named as numpy names it.
type Named = (&'static str, fn(&Tensor) -> Tensor);

fn fixture() -> Value {
    serde_json::from_str(include_str!("fixtures/rounding_numpy.json")).unwrap()
}

fn bits(v: &Value) -> Vec<u32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|b| b.as_u64().unwrap() as u32)
        .collect()
}

#[test]
fn rounding_and_classes_match_numpy_bit_for_bit() {
    let fx = fixture();
    let x: Vec<f32> = bits(&fx["x"]).into_iter().map(f32::from_bits).collect();
    let float_ops: [Named; 6] = [
        ("floor", Tensor::floor),
        ("ceil", Tensor::ceil),
        ("trunc", Tensor::trunc),
        ("round", Tensor::round),
        ("sign", Tensor::sign),
        ("square", Tensor::square),
    ];
    let bool_ops: [Named; 3] = [
        ("isnan", Tensor::isnan),
        ("isinf", Tensor::isinf),
        ("isfinite", Tensor::isfinite),
    ];
    for dev in devices() {
        let t = Tensor::from_slice_on(&x, &[x.len()], &dev).unwrap();
        for (name, f) in float_ops {
            let got = f(&t).to_vec::<f32>().unwrap();
            for ((g, want), input) in got.iter().zip(bits(&fx[name])).zip(&x) {
                let want = f32::from_bits(want);
                let same = g.to_bits() == want.to_bits() || (g.is_nan() && want.is_nan());
                assert!(same, "{name}({input:e}) on {dev:?}: {g:e}, numpy {want:e}");
            }
        }
        for (name, f) in bool_ops {
            let got = f(&t).to_vec::<bool>().unwrap();
            let want: Vec<bool> = fx[name]
                .as_array()
                .unwrap()
                .iter()
                .map(|b| b.as_bool().unwrap())
                .collect();
            assert_eq!(got, want, "{name} on {dev:?} over {x:?}");
        }
    }
}

#[test]
fn math_agrees_three_ways_on_views_and_odd_sizes() {
    let scaled = |t: &Tensor| t.mul(&Tensor::full_on(&[], 7.3, DType::F32, t.device()));
    let x = rand_input(DType::F32, &[33, 17], 11);
    check3(
        "floor of a transposed view",
        std::slice::from_ref(&x),
        |t| scaled(&t[0]).transpose(0, 1).floor(),
    );
    check3("round, fused into a sum", std::slice::from_ref(&x), |t| {
        scaled(&t[0]).round().sum(&[1])
    });
    check3("ceil - trunc", std::slice::from_ref(&x), |t| {
        let y = scaled(&t[0]);
        y.ceil().sub(&y.trunc())
    });
    check3("sign * square", std::slice::from_ref(&x), |t| {
        t[0].sign().mul(&t[0].square())
    });
    check3("leaky_relu and silu", std::slice::from_ref(&x), |t| {
        t[0].leaky_relu(0.1).add(&t[0].silu())
    });
    check3(
        "transcendental composites, fused",
        std::slice::from_ref(&x),
        |t| {
            let v = scaled(&t[0]).transpose(0, 1);
            v.atan()
                .add(&v.erf())
                .add(&v.gelu())
                .add(&v.gelu_tanh())
                .add(&v.softplus())
                .add(
                    &v.mul(&Tensor::full_on(&[], 0.01, DType::F32, v.device()))
                        .expm1(),
                )
                .add(&v.abs().log1p())
                .add(&t[0].transpose(0, 1).tan())
        },
    );
    let i = rand_input(DType::I32, &[5, 9], 12);
    check3(
        "integer sign, square, floor",
        std::slice::from_ref(&i),
        |t| t[0].sign().add(&t[0].square()).add(&t[0].floor()),
    );
    check3(
        "isfinite of an integer tensor",
        std::slice::from_ref(&i),
        |t| t[0].isfinite().logical_not().cast(DType::I32).add(&t[0]),
    );
}

#[test]
fn rounding_keeps_integer_dtypes_and_refuses_bools() {
    let dev = kiln::Device::cpu();
    let i = Tensor::from_slice_on(&[3i32, -2], &[2], &dev).unwrap();
    assert_eq!(i.floor().dtype(), DType::I32);
    assert_eq!(i.round().to_vec::<i32>().unwrap(), vec![3, -2]);
    let b = Tensor::from_slice_on(&[true], &[1], &dev).unwrap();
    for (name, f) in [
        ("floor", Tensor::floor as fn(&Tensor) -> Tensor),
        ("round", Tensor::round),
        ("sign", Tensor::sign),
    ] {
        let m = panic_message(|| drop(f(&b)));
        assert!(m.starts_with(name) && m.contains("bool"), "{m}");
    }
}
