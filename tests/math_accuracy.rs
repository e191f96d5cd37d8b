//! Accuracy of the transcendental composites against float64 results rounded to f32
//! (`tests/fixtures/math_numpy.json`, written by numpy and Python's `math`; about 3,000
//! points per function over its domain and edge values), on the CPU device and wgpu. Each
//! function has a bound on its worst relative error where the true value is at least
//! `FLOOR` in magnitude, and on its absolute error below that; infinities and NaN must
//! match exactly. `cargo test --test math_accuracy -- --nocapture` prints the worst errors
//! (README's "Limits and numerics" quotes them).

mod common;
use common::*;
use kiln::Tensor;
use serde_json::Value;

/// Below this magnitude a result's error is judged absolutely.
const FLOOR: f64 = 1e-3;

/// (function, method, worst relative error allowed, worst absolute error allowed below FLOOR).
type Case = (&'static str, fn(&Tensor) -> Tensor, f64, f64);

// Bounds at about twice the worst error measured on the CPU device and lavapipe.
const CASES: [Case; 12] = [
    ("tan", Tensor::tan, 4e-7, 1e-9),
    ("atan", Tensor::atan, 3e-7, 1e-9),
    ("erf", Tensor::erf, 6e-7, 1e-9),
    ("gelu", Tensor::gelu, 3e-6, 2e-9),
    ("gelu_tanh", Tensor::gelu_tanh, 2e-6, 2e-9),
    ("log1p", Tensor::log1p, 7e-7, 1e-9),
    ("expm1", Tensor::expm1, 2e-6, 1e-9),
    ("softplus", Tensor::softplus, 1e-6, 1e-9),
    ("exp", Tensor::exp, 1e-6, 1e-9),
    ("log", Tensor::log, 1e-6, 1e-9),
    ("sigmoid", Tensor::sigmoid, 1e-6, 1e-9),
    ("tanh", Tensor::tanh, 1e-6, 1e-9),
];

fn words(v: &Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|b| f32::from_bits(b.as_u64().unwrap() as u32))
        .collect()
}

#[test]
fn composites_stay_within_their_bounds_against_float64() {
    let fx: Value = serde_json::from_str(include_str!("fixtures/math_numpy.json")).unwrap();
    let mut failures = vec![];
    for dev in devices() {
        for (name, f, max_rel, max_abs) in CASES {
            let x = words(&fx[name]["x"]);
            let want = words(&fx[name]["y"]);
            let t = Tensor::from_slice_on(&x, &[x.len()], &dev).unwrap();
            let got = f(&t).to_vec::<f32>().unwrap();
            let (mut worst_rel, mut worst_abs, mut at) = (0f64, 0f64, (0f32, 0f32, 0f32));
            for ((&g, &w), &xi) in got.iter().zip(&want).zip(&x) {
                if !w.is_finite() || !g.is_finite() {
                    let same = (g.is_nan() && w.is_nan()) || g == w;
                    if !same {
                        failures.push(format!("{name}({xi:e}) on {dev:?}: {g:e}, want {w:e}"));
                    }
                    continue;
                }
                let err = (g as f64 - w as f64).abs();
                if (w as f64).abs() >= FLOOR {
                    let rel = err / (w as f64).abs();
                    if rel > worst_rel {
                        worst_rel = rel;
                        at = (xi, g, w);
                    }
                } else {
                    worst_abs = worst_abs.max(err);
                }
            }
            println!(
                "{name:10} on {dev:?}: worst relative error {worst_rel:.2e} (at x = {:e}: {:e} against {:e}), worst absolute error below {FLOOR:e}: {worst_abs:.2e}",
                at.0, at.1, at.2
            );
            if worst_rel > max_rel || worst_abs > max_abs {
                failures.push(format!(
                    "{name} on {dev:?}: relative {worst_rel:e} (bound {max_rel:e}) at x = {:e}, absolute {worst_abs:e} (bound {max_abs:e})",
                    at.0
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// `atan2` against numpy's float64 `arctan2` rounded to f32: exact quadrants, signed zeros
/// and infinities on edge pairs, and a bounded relative error on random ones.
#[test]
fn atan2_matches_numpy_including_signed_zeros_and_infinities() {
    let fx: Value = serde_json::from_str(include_str!("fixtures/atan2_numpy.json")).unwrap();
    let (y, x, want) = (words(&fx["y"]), words(&fx["x"]), words(&fx["atan2"]));
    for dev in devices() {
        let ty = Tensor::from_slice_on(&y, &[y.len()], &dev).unwrap();
        let tx = Tensor::from_slice_on(&x, &[x.len()], &dev).unwrap();
        let got = ty.atan2(&tx).to_vec::<f32>().unwrap();
        let mut worst = 0f64;
        for i in 0..y.len() {
            let (g, w) = (got[i], want[i]);
            let rel = ((g - w).abs() / w.abs().max(1e-30)) as f64;
            let ok = (g.is_nan() && w.is_nan())
                || (g == w && g.is_sign_negative() == w.is_sign_negative())
                || (w != 0.0 && rel <= 4e-7);
            assert!(
                ok,
                "atan2({:e}, {:e}) on {dev:?}: {g:e}, numpy {w:e}",
                y[i], x[i]
            );
            if w.is_finite() && w != 0.0 {
                worst = worst.max(rel);
            }
        }
        println!("atan2 on {dev:?}: worst relative error {worst:.2e}");
    }
}

/// `pow` of positive bases against float64 `powf` rounded to f32, over results from 1e-30 to
/// 1e30. Its error grows with `|y · log2 x|` (the exponent `exp2` is given carries the
/// rounding of `log2 x` and of the product); the bound is what that allows at 2^100.
#[test]
fn pow_error_grows_only_with_the_result_exponent() {
    let mut r = Rng::new(5);
    let (mut x, mut y) = (vec![], vec![]);
    while x.len() < 4000 {
        let (b, e) = (10f32.powf(r.f32(-2.0, 2.0)), r.f32(-40.0, 40.0));
        if ((b as f64).log2() * e as f64).abs() < 100.0 {
            x.push(b);
            y.push(e);
        }
    }
    for dev in devices() {
        let tx = Tensor::from_slice_on(&x, &[x.len()], &dev).unwrap();
        let ty = Tensor::from_slice_on(&y, &[y.len()], &dev).unwrap();
        let got = tx.pow(&ty).to_vec::<f32>().unwrap();
        let (mut worst, mut at) = (0f64, 0);
        for i in 0..x.len() {
            let want = (x[i] as f64).powf(y[i] as f64) as f32 as f64;
            let rel = (got[i] as f64 - want).abs() / want;
            if rel > worst {
                (worst, at) = (rel, i);
            }
        }
        println!(
            "pow on {dev:?}: worst relative error {worst:.2e} (at {:e}^{:e})",
            x[at], y[at]
        );
        assert!(
            worst < 2e-5,
            "pow on {dev:?}: {worst:e} at {:e}^{:e}",
            x[at],
            y[at]
        );
    }
}
