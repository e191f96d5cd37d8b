//! Reverse-mode gradients: every primitive's rule (through the composites that use it)
//! against central finite differences, on the CPU device and wgpu; second derivatives,
//! seeds, `detach`, the errors, and the kernels a forward + backward pass takes.

mod common;
use common::*;
use kiln::{DType, Device, Tensor};

/// `n` f32 values in [lo, hi) from `seed`.
fn values(n: usize, lo: f32, hi: f32, seed: u64) -> Vec<f32> {
    let mut r = common::Rng::new(seed);
    (0..n).map(|_| r.f32(lo, hi)).collect()
}

/// Checks `f`'s gradient with respect to each input (f32 data of the given shapes) on every
/// device against central differences of `f` on the CPU device.
fn check_grad(name: &str, inputs: &[(Vec<f32>, Vec<usize>)], f: impl Fn(&[Tensor]) -> Tensor) {
    let cpu = Device::cpu();
    let make = |dev: &Device, data: &[Vec<f32>]| -> Vec<Tensor> {
        data.iter()
            .zip(inputs)
            .map(|(d, (_, shape))| Tensor::from_slice_on(d, shape, dev).unwrap())
            .collect()
    };
    let base: Vec<Vec<f32>> = inputs.iter().map(|(d, _)| d.clone()).collect();
    let value = |data: &[Vec<f32>]| -> f64 { f(&make(&cpu, data)).item::<f32>().unwrap() as f64 };
    let eps = 1e-2f32;
    let mut numeric: Vec<Vec<f64>> = vec![];
    for (i, (d, _)) in inputs.iter().enumerate() {
        let mut row = vec![];
        for j in 0..d.len() {
            let mut plus = base.clone();
            plus[i][j] += eps;
            let mut minus = base.clone();
            minus[i][j] -= eps;
            row.push((value(&plus) - value(&minus)) / (2.0 * eps as f64));
        }
        numeric.push(row);
    }
    for dev in devices() {
        let ts = make(&dev, &base);
        let y = f(&ts);
        let refs: Vec<&Tensor> = ts.iter().collect();
        let grads = y.gradient(&refs);
        for (i, g) in grads.iter().enumerate() {
            assert_eq!(g.shape(), ts[i].shape(), "{name}: gradient {i}'s shape");
            let got = g.to_vec::<f32>().unwrap();
            for (j, (&a, &n)) in got.iter().zip(&numeric[i]).enumerate() {
                assert!(
                    (a as f64 - n).abs() <= 5e-3 + 2e-2 * n.abs(),
                    "{name} on {}: d/d input {i}[{j}] = {a}, finite differences {n}",
                    dev.name()
                );
            }
        }
    }
}

fn input(n: usize, shape: &[usize], lo: f32, hi: f32, seed: u64) -> (Vec<f32>, Vec<usize>) {
    (values(n, lo, hi, seed), shape.to_vec())
}

#[test]
fn elementwise_rules_match_finite_differences() {
    let x = input(6, &[2, 3], 0.5, 2.0, 1);
    let y = input(6, &[2, 3], -1.5, 1.5, 2);
    check_grad("exp log sqrt recip", &[x.clone()], |t| {
        (t[0].exp() + t[0].log() + t[0].sqrt() + t[0].recip()).sum_all()
    });
    check_grad("exp2 log2 sin cos neg", &[x.clone()], |t| {
        (t[0].exp2() - t[0].log2() + t[0].sin() * t[0].cos()).sum_all()
    });
    check_grad("add mul div", &[x.clone(), y.clone()], |t| {
        (&(&t[0] * &t[1]) / &(&t[0] + 3.0f32)).sum_all()
    });
    check_grad("maximum minimum where", &[x.clone(), y.clone()], |t| {
        let m = t[0].maximum(&t[1]) * t[0].minimum(&(&t[1] * 2.0f32));
        t[1].gt(&t[1].zeros_like())
            .where_(&m, &t[0].square())
            .sum_all()
    });
    check_grad("rem and floor (flat)", &[x.clone(), y.clone()], |t| {
        (t[1].rem(&(&t[0] + 2.0f32)) + t[0].floor() * 3.0f32).sum_all()
    });
    // Through f16 the differences would round: the rule's exact answer instead.
    for dev in devices() {
        let t = Tensor::from_slice_on(&x.0, &x.1, &dev).unwrap();
        let y = (t.cast(DType::F16).cast(DType::F32) * 2.0f32).sum_all();
        assert_eq!(y.gradient(&[&t])[0].to_vec::<f32>().unwrap(), vec![2.0; 6]);
    }
}

#[test]
fn reduction_and_movement_rules_match_finite_differences() {
    let x = input(24, &[2, 3, 4], -2.0, 2.0, 3);
    check_grad("sum max min over axes", &[x.clone()], |t| {
        (t[0].max(&[1]).square().sum_all() + t[0].min(&[0, 2]).exp().sum_all()) * 0.5f32
    });
    check_grad(
        "prod, also of a zero",
        &[(vec![1.5, 0.0, -2.0, 0.5, 3.0, 1.25], vec![2, 3])],
        |t| t[0].prod(&[1]).sum_all() + t[0].prod_all(),
    );
    check_grad("permute reshape flip", &[x.clone()], |t| {
        let v = t[0].permute(&[2, 0, 1]).reshape(&[4, 6]).flip(&[1]);
        (&v * &Tensor::arange_on(0.0, 6.0, 1.0, DType::F32, t[0].device()))
            .square()
            .sum_all()
    });
    check_grad(
        "expand pad shrink",
        &[input(3, &[3, 1], -1.0, 1.0, 4)],
        |t| {
            let wide = t[0].expand(&[3, 5]).pad(&[(1, 0), (2, 1)]);
            (wide.shrink(&[(0, 3), (1, 7)]) * wide.shrink(&[(1, 4), (0, 6)])).sum_all()
        },
    );
}

#[test]
fn composite_rules_match_finite_differences() {
    let x = input(12, &[3, 4], -1.0, 1.0, 5);
    let w = input(8, &[4, 2], -1.0, 1.0, 6);
    let b = input(2, &[2], -0.5, 0.5, 7);
    check_grad("relu(x @ w + b)", &[x.clone(), w, b], |t| {
        (t[0].matmul(&t[1]) + &t[2]).relu().square().sum_all()
    });
    check_grad("softmax layer_norm logsumexp", &[x.clone()], |t| {
        let s = t[0].layer_norm(-1, 1e-5).softmax(-1);
        (&s * &s).sum_all() + t[0].logsumexp(&[0]).sum_all()
    });
    check_grad("cross_entropy", &[x.clone()], |t| {
        let targets = Tensor::from_slice_on(&[3i32, 0, 2], &[3], t[0].device()).unwrap();
        t[0].cross_entropy(&targets)
    });
    let img = input(2 * 5 * 5, &[1, 2, 5, 5], -1.0, 1.0, 8);
    let k = input(3 * 2 * 3 * 3, &[3, 2, 3, 3], -0.5, 0.5, 9);
    check_grad("conv2d and max_pool2d", &[img, k], |t| {
        t[0].conv2d(&t[1], 1, 1)
            .max_pool2d(2, 2, 0)
            .square()
            .sum_all()
    });
}

#[test]
fn indexing_scan_and_sort_rules_match_finite_differences() {
    let x = input(12, &[3, 4], -1.0, 1.0, 10);
    check_grad("gather and index_select (repeated)", &[x.clone()], |t| {
        let dev = t[0].device();
        let i = Tensor::from_slice_on(&[1i32, 1, 3, 0, 2, 2], &[3, 2], dev).unwrap();
        let rows = Tensor::from_slice_on(&[2i32, 0, 2], &[3], dev).unwrap();
        (t[0].gather(1, &i).square().sum_all())
            + (t[0].index_select(0, &rows) * 3.0f32).exp().sum_all()
    });
    check_grad(
        "scatter_add of src",
        &[x.clone(), input(6, &[2, 3], -1.0, 1.0, 11)],
        |t| {
            let i = Tensor::from_slice_on(&[0i32, 3, 3, 1, 1, 2], &[2, 3], t[0].device()).unwrap();
            t[0].scatter_add(1, &i, &t[1]).square().sum_all()
        },
    );
    check_grad(
        "cumsum (short and chunked)",
        &[input(1500, &[1500], -1.0, 1.0, 12)],
        |t| {
            let w = Tensor::arange_on(0.0, 1500.0, 1.0, DType::F32, t[0].device()) * 1e-3f32;
            (t[0].cumsum(0) * w).sum_all()
        },
    );
    // cummax: values 0.05 apart (the differences reorder nothing), short rows and a row of
    // 1500 (chunked: its chunks start from the max before them).
    let mut perm: Vec<f32> = (0..1500).map(|k| k as f32 * 0.05 - 37.0).collect();
    let mut r = common::Rng::new(13);
    for i in (1..perm.len()).rev() {
        perm.swap(i, (r.next() % (i as u64 + 1)) as usize);
    }
    check_grad("cummax of a long row", &[(perm.clone(), vec![1500])], |t| {
        let w = Tensor::arange_on(0.0, 1500.0, 1.0, DType::F32, t[0].device()) * 1e-3f32;
        // Near the row's top, so that the loss keeps the differences' digits in f32.
        ((t[0].cummax(0) - 37.45f32) * w).sum_all()
    });
    check_grad(
        "cummax along both axes",
        &[(perm[..12].to_vec(), vec![3, 4])],
        |t| (t[0].cummax(1).square().sum_all() + t[0].cummax(0).sum_all()) * 0.1f32,
    );
    // cumprod, exact where rows hold zeros: none, one, two; and a chunked row of 1500 near 1
    // with a zero in a later chunk (that chunk starts from the product before it).
    let rows = vec![
        0.9, -1.2, 0.8, 1.1, 0.7, //
        1.3, 0.0, -0.9, 1.2, 0.8, //
        0.0, 1.1, 0.9, 0.0, -1.4,
    ];
    check_grad("cumprod with zeros", &[(rows, vec![3, 5])], |t| {
        let w = Tensor::arange_on(1.0, 6.0, 1.0, DType::F32, t[0].device());
        (t[0].cumprod(1) * w).sum_all()
    });
    let mut near_one: Vec<f32> = (0..1500)
        .map(|k| 1.0 + ((k * 37 % 101) as f32 - 50.0) * 1e-4)
        .collect();
    near_one[1300] = 0.0;
    check_grad("cumprod of a long row", &[(near_one, vec![1500])], |t| {
        let w = Tensor::arange_on(0.0, 1500.0, 1.0, DType::F32, t[0].device()) * 1e-3f32;
        (t[0].cumprod(0) * w).sum_all()
    });
    // Values 0.1 apart, so that the differences do not reorder them.
    let spaced: Vec<f32> = [7, 2, 11, 0, 5, 9, 1, 4, 10, 3, 8, 6]
        .iter()
        .map(|&k| k as f32 * 0.1 - 0.5)
        .collect();
    check_grad("sort values", &[(spaced, vec![3, 4])], |t| {
        let w = Tensor::arange_on(1.0, 5.0, 1.0, DType::F32, t[0].device());
        (t[0].sort(1, false).0 * w).sum_all()
    });
}

#[test]
fn gradients_compose_and_stop_where_asked() {
    for dev in devices() {
        let x = Tensor::from_slice_on(&[1.0f32, -2.0, 3.0], &[3], &dev).unwrap();
        let y = Tensor::from_slice_on(&[0.5f32, 0.25, 2.0], &[3], &dev).unwrap();
        // Second derivative: d/dx sum(3x^2) = 6x.
        let g = (&(&x * &x) * &x).sum_all().gradient(&[&x])[0].clone();
        let gg = g.sum_all().gradient(&[&x])[0].to_vec::<f32>().unwrap();
        assert_eq!(gg, vec![6.0, -12.0, 18.0], "{}", dev.name());
        // A seed: the vector-Jacobian product.
        let seed = Tensor::from_slice_on(&[1.0f32, 10.0, 100.0], &[3], &dev).unwrap();
        let v = (&x * &y).gradient_with(&[&x], &seed)[0]
            .to_vec::<f32>()
            .unwrap();
        assert_eq!(v, vec![0.5, 2.5, 200.0]);
        // detach: no gradient through it; a tensor the output does not use: zeros.
        let z = (&x.detach() * &x).sum_all();
        let grads = z.gradient(&[&x, &y]);
        assert_eq!(grads[0].to_vec::<f32>().unwrap(), vec![1.0, -2.0, 3.0]);
        assert_eq!(grads[1].to_vec::<f32>().unwrap(), vec![0.0; 3]);
        // The loss and its gradients in one schedule.
        let loss = (&x * &y).exp().sum_all();
        let gs = loss.gradient(&[&x, &y]);
        kiln::realize(&[&loss, &gs[0], &gs[1]]).unwrap();
    }
}

#[test]
fn bad_requests_panic_at_the_callers_line() {
    let dev = Device::cpu();
    let x = Tensor::from_slice_on(&[1.0f32, 2.0], &[2], &dev).unwrap();
    let msg = panic_message(|| {
        x.exp().gradient(&[&x]);
    });
    assert!(
        msg.contains("gradient") && msg.contains("[2]") && msg.contains("gradient_with"),
        "{msg}"
    );
    let i = Tensor::from_slice_on(&[1i32, 2], &[2], &dev).unwrap();
    let msg = panic_message(|| {
        x.sum_all().gradient(&[&i]);
    });
    assert!(
        msg.contains("i32") && msg.contains("floating-point"),
        "{msg}"
    );
    // A constant folds into the ops that read it (a reshaped zeros is new zeros): refused.
    let zeros = Tensor::zeros_on(&[2], DType::F32, &dev);
    let msg = panic_message(|| {
        (&x * &zeros.reshape(&[2])).sum_all().gradient(&[&zeros]);
    });
    assert!(msg.contains("constant") && msg.contains("[2]"), "{msg}");
}

#[test]
fn forward_and_backward_kernel_counts() {
    let dev = Device::cpu();
    let x = Tensor::from_slice_on(&values(64 * 32, -1.0, 1.0, 20), &[64, 32], &dev).unwrap();
    let w = Tensor::from_slice_on(&values(32 * 16, -1.0, 1.0, 21), &[32, 16], &dev).unwrap();
    let b = Tensor::from_slice_on(&values(16, -1.0, 1.0, 22), &[16], &dev).unwrap();
    let loss = (x.matmul(&w) + &b).relu().sum_all();
    let g = loss.gradient(&[&w, &b]);
    let forward = kiln::schedule(&[&loss]).unwrap().kernels().len();
    let both = kiln::schedule(&[&loss, &g[0], &g[1]])
        .unwrap()
        .kernels()
        .len();
    eprintln!("relu(x @ w + b).sum(): forward {forward} kernels, forward + backward {both}");
    // tinygrad 0.14 (DEV=PYTHON, the same shapes): 1 forward, 4 forward + backward.
    assert!(
        forward <= 2 && both <= 4,
        "forward {forward}, forward + backward {both}"
    );

    let loss = x.layer_norm(-1, 1e-5).softmax(-1).square().sum_all();
    let g = loss.gradient(&[&x]);
    let forward = kiln::schedule(&[&loss]).unwrap().kernels().len();
    let both = kiln::schedule(&[&loss, &g[0]]).unwrap().kernels().len();
    eprintln!(
        "layer_norm(x).softmax(-1).square().sum(): forward {forward}, forward + backward {both}"
    );
    // tinygrad 0.14: 6 forward, 11 forward + backward.
    assert!(
        forward <= 3 && both <= 4,
        "forward {forward}, forward + backward {both}"
    );
}

/// One step of a random differentiable graph over a [3, 4] tensor (smooth everywhere, so
/// that central differences are accurate).
#[derive(Clone, Debug)]
enum Step {
    Sin,
    ScaledExp,
    Square,
    MulOther,
    AddOther,
    /// A reduction broadcast back: sum (false) or logsumexp (true) over an axis.
    Reduce(usize, bool),
    Transpose,
    Flip(usize),
    PadShrink,
    Cumsum(usize),
    Matmul,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        Just(Step::Sin),
        Just(Step::ScaledExp),
        Just(Step::Square),
        Just(Step::MulOther),
        Just(Step::AddOther),
        (0usize..2, any::<bool>()).prop_map(|(a, l)| Step::Reduce(a, l)),
        Just(Step::Transpose),
        (0usize..2).prop_map(Step::Flip),
        Just(Step::PadShrink),
        (0usize..2).prop_map(Step::Cumsum),
        Just(Step::Matmul),
    ]
}

fn apply(x: &Tensor, other: &Tensor, s: &Step) -> Tensor {
    let shape = x.shape().to_vec();
    match s {
        Step::Sin => x.sin(),
        Step::ScaledExp => (x * 0.3f32).exp(),
        Step::Square => &x.square() * 0.5f32,
        Step::MulOther => x * &other.reshape(&[shape[0] as isize, shape[1] as isize]),
        Step::AddOther => x + &other.reshape(&[shape[0] as isize, shape[1] as isize]),
        Step::Reduce(a, false) => x.sum_keepdim(&[*a as isize]).expand(&shape) * 0.5f32,
        Step::Reduce(a, true) => x
            .logsumexp(&[*a as isize])
            .unsqueeze(*a as isize)
            .expand(&shape),
        Step::Transpose => x
            .transpose(0, 1)
            .reshape(&[shape[0] as isize, shape[1] as isize]),
        Step::Flip(a) => x.flip(&[*a as isize]),
        Step::PadShrink => x
            .pad(&[(1, 0), (0, 2)])
            .shrink(&[(0, shape[0]), (1, shape[1] + 1)]),
        Step::Cumsum(a) => x.cumsum(*a as isize) * 0.5f32,
        Step::Matmul => {
            let n = shape[1];
            let m = Tensor::arange_on(0.0, (n * n) as f64, 1.0, DType::F32, x.device())
                .reshape(&[n as isize, n as isize]);
            x.matmul(&(m * 0.05f32).sin())
        }
    }
}

use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: common::proptest_cases(24), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_differentiable_graphs_match_finite_differences(
        steps in prop::collection::vec(step(), 1..6),
        seed in any::<u64>(),
    ) {
        let x = input(12, &[3, 4], -1.0, 1.0, seed);
        let other = input(12, &[12], -1.0, 1.0, seed ^ 5);
        check_grad(&format!("{steps:?}"), &[x, other], |t| {
            let out = steps.iter().fold(t[0].clone(), |x, s| apply(&x, &t[1], s));
            let w = Tensor::arange_on(0.0, 12.0, 1.0, DType::F32, t[0].device()).reshape(&[3, 4]);
            (&out * &(w * 0.1f32).cos()).sum_all()
        });
    }
}
