//! `Display for Tensor` prints what numpy's `str()` prints for the same array
//! (`tests/fixtures/display_numpy.json`, written by numpy; see `display_numpy.py` there),
//! computing the value on demand; `Debug` never computes.

use kiln::{DType, Device, Tensor};
use serde_json::Value;

fn tensor_of(case: &Value, dev: &Device) -> Tensor {
    let shape: Vec<usize> = case["shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_u64().unwrap() as usize)
        .collect();
    let values = case["values"].as_array().unwrap();
    let made = match case["dtype"].as_str().unwrap() {
        "f32" => {
            let v: Vec<f32> = values
                .iter()
                .map(|v| v.as_str().unwrap().parse().unwrap())
                .collect();
            Tensor::from_slice_on(&v, &shape, dev)
        }
        "i32" => {
            let v: Vec<i32> = values.iter().map(|v| v.as_i64().unwrap() as i32).collect();
            Tensor::from_slice_on(&v, &shape, dev)
        }
        "u32" => {
            let v: Vec<u32> = values.iter().map(|v| v.as_u64().unwrap() as u32).collect();
            Tensor::from_slice_on(&v, &shape, dev)
        }
        "bool" => {
            let v: Vec<bool> = values.iter().map(|v| v.as_bool().unwrap()).collect();
            Tensor::from_slice_on(&v, &shape, dev)
        }
        other => panic!("unknown dtype {other}"),
    };
    made.unwrap()
}

#[test]
fn display_matches_numpy() {
    let text = include_str!("fixtures/display_numpy.json");
    let cases: Vec<Value> = serde_json::from_str(text).unwrap();
    let dev = Device::cpu();
    let mut wrong = vec![];
    for case in &cases {
        let t = tensor_of(case, &dev);
        let want = case["numpy"].as_str().unwrap();
        let got = t.to_string();
        if got != want {
            wrong.push(format!(
                "{:?} {}:\n--- kiln ---\n{got}\n--- numpy ---\n{want}",
                t.shape(),
                t.dtype()
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} cases differ:\n{}",
        wrong.len(),
        cases.len(),
        wrong.join("\n")
    );
}

#[test]
fn display_computes_a_lazy_tensor_and_debug_does_not() {
    let dev = Device::cpu();
    let a = Tensor::from_slice_on(&[1.0f32, 2.0, 3.0, 4.0], &[2, 2], &dev).unwrap();
    let b = (&a * 2.0f32).sum(&[1]);
    let debug = format!("{b:?}");
    assert!(!b.is_realized(), "Debug computed the tensor: {debug}");
    assert_eq!(b.to_string(), "[ 6. 14.]");
    assert!(b.is_realized());
    // A view prints its own values, in its own order.
    assert_eq!(a.permute(&[1, 0]).to_string(), "[[1. 3.]\n [2. 4.]]");
    assert_eq!(
        Tensor::zeros_on(&[2], DType::I32, &dev).to_string(),
        "[0 0]"
    );
}
