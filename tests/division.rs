//! `rem` (`%`) and `floor_div` against numpy's `remainder` and `floor_divide` over edge
//! values and random pairs in f32, i32, u8 and i8 (`tests/fixtures/division_numpy.json`,
//! written by numpy), on the CPU device and wgpu, and three ways on random data.

mod common;
use common::*;
use kiln::{DType, Tensor};
use serde_json::Value;

fn fixture() -> Value {
    serde_json::from_str(include_str!("fixtures/division_numpy.json")).unwrap()
}

fn column(fx: &Value, key: &str) -> Vec<i64> {
    fx[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect()
}

#[test]
fn float_rem_and_floor_div_match_numpy() {
    let fx = fixture();
    let f = |k: &str| -> Vec<f32> {
        column(&fx, k)
            .into_iter()
            .map(|b| f32::from_bits(b as u32))
            .collect()
    };
    let (a, b) = (f("f32_a"), f("f32_b"));
    for dev in devices() {
        let ta = Tensor::from_slice_on(&a, &[a.len()], &dev).unwrap();
        let tb = Tensor::from_slice_on(&b, &[b.len()], &dev).unwrap();
        for (name, got, want) in [
            ("rem", (&ta % &tb).to_vec::<f32>().unwrap(), f("f32_rem")),
            (
                "floor_div",
                ta.floor_div(&tb).to_vec::<f32>().unwrap(),
                f("f32_floor_div"),
            ),
        ] {
            for i in 0..a.len() {
                let (g, w) = (got[i], want[i]);
                // numpy's fmod is exact; a - b·floor(a/b) may be an ulp of |a| off.
                let tol = 1.2e-7 * a[i].abs();
                let ok = (g.is_nan() && w.is_nan())
                    || (g == w && g.is_sign_negative() == w.is_sign_negative())
                    || (g.is_finite() && (g - w).abs() <= tol);
                assert!(
                    ok,
                    "{} {name} {} on {}: {g:e}, numpy {w:e}",
                    a[i],
                    b[i],
                    dev.name()
                );
            }
        }
    }
}

#[test]
fn integer_rem_and_floor_div_match_numpy_including_division_by_zero() {
    let fx = fixture();
    for dtype in [DType::I32, DType::U8, DType::I8] {
        let key = dtype.name();
        let (a, b) = (
            column(&fx, &format!("{key}_a")),
            column(&fx, &format!("{key}_b")),
        );
        for dev in devices() {
            let up = |v: &[i64]| {
                let t = Tensor::from_slice_on(
                    &v.iter().map(|&x| x as i32).collect::<Vec<_>>(),
                    &[v.len()],
                    &dev,
                )
                .unwrap();
                t.cast(dtype)
            };
            let (ta, tb) = (up(&a), up(&b));
            for (name, got, want) in [
                (
                    "rem",
                    (&ta % &tb).cast(DType::I32),
                    column(&fx, &format!("{key}_rem")),
                ),
                (
                    "floor_div",
                    ta.floor_div(&tb).cast(DType::I32),
                    column(&fx, &format!("{key}_floor_div")),
                ),
            ] {
                let got = got.to_vec::<i32>().unwrap();
                for i in 0..a.len() {
                    assert_eq!(
                        got[i] as i64,
                        want[i],
                        "{key} {} {name} {} on {}",
                        a[i],
                        b[i],
                        dev.name()
                    );
                }
            }
        }
    }
}

#[test]
fn rem_and_floor_div_agree_three_ways_and_keep_integers_integer() {
    let a = rand_input(DType::I32, &[7, 9], 1);
    let b = rand_input(DType::I32, &[9], 2);
    check3("i32 rem", &[a.clone(), b.clone()], |t| &t[0] % &t[1]);
    check3("i32 floor_div on a view", &[a, b], |t| {
        t[0].transpose(0, 1).floor_div(&t[1].reshape(&[9, 1]))
    });
    let x = rand_input(DType::F32, &[33], 3);
    check3("f32 % 0.7", &[x.clone()], |t| &t[0] % 0.7);
    check3("f16 rem", &[rand_input(DType::F16, &[5, 5], 4)], |t| {
        &t[0] % 0.75
    });
    let dev = kiln::Device::cpu();
    let i = Tensor::from_slice_on(&[-7i32, 7], &[2], &dev).unwrap();
    assert_eq!((&i % 3).dtype(), DType::I32);
    assert_eq!((&i % 3).to_vec::<i32>().unwrap(), vec![2, 1]);
    assert_eq!(
        i.floor_div(&(&i * 0 + 2)).to_vec::<i32>().unwrap(),
        vec![-4, 3]
    );
    let msg = panic_message(|| {
        let b = Tensor::full_on(&[2], 1.0, DType::Bool, &dev);
        let _ = &b % &b;
    });
    assert!(msg.contains("rem") && msg.contains("bool"), "{msg}");
}
