//! Joining, slicing, padding, triangles, arg-reductions, pooling, convolution and attention
//! against numpy (`tests/fixtures/shape_ops_numpy.json`, written by the script beside it),
//! and three ways (oracle, CPU interpreter, wgpu) on every case.

mod common;
use common::*;
use kiln::{Conv2dOptions, DType, PadMode, Tensor};
use serde_json::Value;

/// The script's `inp(shape, k)`: multiples of 0.25 in [-2.75, 2.75], with repeats.
fn inp(shape: &[usize], k: usize) -> Input {
    let n: usize = shape.iter().product();
    let data = (0..n)
        .map(|i| ((i * 37 + k * 11) % 23) as f32 * 0.25 - 2.75)
        .collect();
    Input {
        data: Data::F32(data),
        shape: shape.to_vec(),
    }
}

fn fixtures() -> Value {
    serde_json::from_str(include_str!("fixtures/shape_ops_numpy.json")).unwrap()
}

/// `f(inputs)` agrees three ways and with numpy's result `name`.
fn expect(fx: &Value, name: &str, inputs: &[Input], f: impl Fn(&[Tensor]) -> Tensor) {
    check3_tol(name, inputs, 1e-5, 1e-5, &f);
    let case = &fx[name];
    let shape: Vec<usize> = case["shape"]
        .as_array()
        .unwrap_or_else(|| panic!("no fixture {name}"))
        .iter()
        .map(|d| d.as_u64().unwrap() as usize)
        .collect();
    let dev = kiln::Device::cpu();
    let ts: Vec<Tensor> = inputs.iter().map(|i| i.on(&dev)).collect();
    let out = f(&ts);
    assert_eq!(out.shape(), &shape[..], "{name}: shape");
    let got: Vec<f64> = read(&out).into_iter().map(|s| s.to_f64()).collect();
    for (i, (g, w)) in got.iter().zip(case["data"].as_array().unwrap()).enumerate() {
        let ok = match w.as_f64() {
            Some(w) => (g - w).abs() <= 1e-5 + 1e-5 * w.abs(),
            None => g.is_nan(),
        };
        assert!(ok, "{name}: element {i}: got {g}, numpy {w}\n{got:?}");
    }
}

#[test]
fn cat_stack_split_chunk_repeat_roll_match_numpy() {
    let fx = fixtures();
    let (x23, x43, x25) = (inp(&[2, 3], 0), inp(&[4, 3], 1), inp(&[2, 5], 2));
    let empty = Input {
        data: Data::F32(vec![]),
        shape: vec![2, 0],
    };
    expect(&fx, "cat0", &[x23.clone(), x43], |t| {
        Tensor::cat(&[&t[0], &t[1]], 0)
    });
    expect(&fx, "cat1", &[x23.clone(), x25, empty], |t| {
        Tensor::cat(&[&t[0], &t[1], &t[2], &t[0]], -1)
    });
    expect(&fx, "stack0", std::slice::from_ref(&x23), |t| {
        Tensor::stack(&[&t[0], &(&t[0] * 2.0f32)], 0)
    });
    expect(&fx, "stack-1", std::slice::from_ref(&x23), |t| {
        Tensor::stack(&[&t[0], &(&t[0] * 2.0f32), &(&t[0] * 3.0f32)], -1)
    });
    expect(&fx, "split", &[inp(&[2, 4, 3], 0)], |t| {
        t[0].split(&[1, 2, 1], 1)[1].clone()
    });
    expect(&fx, "repeat", std::slice::from_ref(&x23), |t| {
        t[0].repeat(&[2, 1, 3])
    });
    expect(&fx, "repeat_short", std::slice::from_ref(&x23), |t| {
        t[0].repeat(&[2])
    });
    let x35 = inp(&[3, 5], 0);
    expect(&fx, "roll2", std::slice::from_ref(&x35), |t| {
        t[0].roll(2, 1)
    });
    expect(&fx, "roll-1", std::slice::from_ref(&x35), |t| {
        t[0].roll(-1, 0)
    });
    expect(&fx, "roll7", std::slice::from_ref(&x35), |t| {
        t[0].roll(7, -1)
    });
    // chunk: torch's piece sizes.
    let dev = kiln::Device::cpu();
    let seven = Tensor::arange_on(0.0, 7.0, 1.0, DType::I32, &dev);
    let sizes = |pieces: Vec<Tensor>| pieces.iter().map(|p| p.shape()[0]).collect::<Vec<_>>();
    assert_eq!(sizes(seven.chunk(3, 0)), [3, 3, 1]);
    assert_eq!(sizes(seven.reshape(&[7, 1]).chunk(4, 0)), [2, 2, 2, 1]);
    assert_eq!(sizes(seven.shrink(&[(0, 6)]).chunk(4, 0)), [2, 2, 2]);
    assert_eq!(seven.chunk(3, 0)[2].to_vec::<i32>().unwrap(), [6]);
}

#[test]
fn slices_pads_and_triangles_match_numpy() {
    let fx = fixtures();
    let (x10, x37) = (inp(&[10], 0), inp(&[3, 7], 0));
    expect(&fx, "slice_a", std::slice::from_ref(&x10), |t| {
        t[0].slice(0, -2, 1, -3)
    });
    expect(&fx, "slice_b", std::slice::from_ref(&x10), |t| {
        t[0].slice(0, 1, isize::MAX, 4)
    });
    expect(&fx, "slice_c", std::slice::from_ref(&x10), |t| {
        t[0].slice(0, isize::MAX, isize::MIN, -1)
    });
    expect(&fx, "slice_d", std::slice::from_ref(&x37), |t| {
        t[0].slice(1, 5, 1, -2)
    });
    expect(&fx, "slice_e", std::slice::from_ref(&x37), |t| {
        t[0].slice(-1, -100, 100, 3)
    });
    expect(&fx, "slice_f", std::slice::from_ref(&x37), |t| {
        t[0].slice(1, 4, 4, 1)
    });
    let x23 = inp(&[2, 3], 0);
    let pads: [(&str, [(usize, usize); 2], PadMode); 5] = [
        ("pad_reflect", [(1, 2), (2, 1)], PadMode::Reflect),
        ("pad_reflect_long", [(0, 0), (5, 7)], PadMode::Reflect),
        ("pad_edge", [(2, 1), (0, 3)], PadMode::Replicate),
        ("pad_wrap", [(1, 0), (4, 8)], PadMode::Circular),
        ("pad_constant", [(1, 1), (0, 2)], PadMode::Constant(7.5)),
    ];
    for (name, padding, mode) in pads {
        expect(&fx, name, std::slice::from_ref(&x23), |t| {
            t[0].pad_with(&padding, mode)
        });
    }
    expect(&fx, "tril0", std::slice::from_ref(&x37), |t| t[0].tril(0));
    expect(&fx, "tril2", std::slice::from_ref(&x37), |t| t[0].tril(2));
    expect(&fx, "triu-1", std::slice::from_ref(&x37), |t| t[0].triu(-1));
    expect(&fx, "triu_batch", &[inp(&[2, 4, 3], 0)], |t| t[0].triu(1));
}

#[test]
fn arg_reductions_and_logsumexp_match_numpy() {
    let fx = fixtures();
    let x35 = inp(&[3, 5], 0);
    expect(&fx, "argmax1", std::slice::from_ref(&x35), |t| {
        t[0].argmax(1)
    });
    expect(&fx, "argmin0", std::slice::from_ref(&x35), |t| {
        t[0].argmin(0)
    });
    let mut nan = inp(&[3, 5], 0);
    if let Data::F32(v) = &mut nan.data {
        v[3] = f32::NAN;
        v[11] = f32::NAN;
    }
    expect(&fx, "argmax_nan", std::slice::from_ref(&nan), |t| {
        t[0].argmax(1)
    });
    expect(&fx, "argmin_nan", std::slice::from_ref(&nan), |t| {
        t[0].argmin(0)
    });
    expect(&fx, "logsumexp", &[inp(&[2, 4, 3], 0)], |t| {
        t[0].logsumexp(&[1])
    });
}

#[test]
fn pools_convolutions_and_attention_match_numpy() {
    let fx = fixtures();
    let img = inp(&[2, 3, 7, 6], 0);
    expect(&fx, "max_pool_k2", std::slice::from_ref(&img), |t| {
        t[0].max_pool2d(2, 2, 0)
    });
    expect(&fx, "max_pool_k3_s2_p1", std::slice::from_ref(&img), |t| {
        t[0].max_pool2d(3, 2, 1)
    });
    expect(&fx, "avg_pool_k2", std::slice::from_ref(&img), |t| {
        t[0].avg_pool2d(2, 2, 0)
    });
    expect(&fx, "avg_pool_k3_s1_p1", std::slice::from_ref(&img), |t| {
        t[0].avg_pool2d(3, 1, 1)
    });
    let w = inp(&[4, 3, 3, 2], 3);
    expect(&fx, "conv_stride_pad", &[img.clone(), w.clone()], |t| {
        let opts = Conv2dOptions {
            stride: (2, 1),
            padding: (1, 2),
            ..Default::default()
        };
        t[0].conv2d_with(&t[1], None, opts)
    });
    let bias = Input {
        data: Data::F32(vec![0.5, -1.0, 2.0, 0.0]),
        shape: vec![4],
    };
    expect(&fx, "conv_dilation_bias", &[img.clone(), w, bias], |t| {
        let opts = Conv2dOptions {
            dilation: (2, 3),
            ..Default::default()
        };
        t[0].conv2d_with(&t[1], Some(&t[2]), opts)
    });
    expect(
        &fx,
        "conv_groups",
        &[inp(&[1, 6, 5, 5], 5), inp(&[6, 1, 3, 3], 4)],
        |t| {
            let opts = Conv2dOptions {
                padding: (1, 1),
                groups: 6,
                ..Default::default()
            };
            t[0].conv2d_with(&t[1], None, opts)
        },
    );
    let wt = inp(&[3, 2, 3, 3], 6);
    expect(
        &fx,
        "conv_transpose_s2_p1",
        &[img.clone(), wt.clone()],
        |t| t[0].conv_transpose2d(&t[1], 2, 1),
    );
    expect(&fx, "conv_transpose_s1_p0", &[img, wt], |t| {
        t[0].conv_transpose2d(&t[1], 1, 0)
    });
    expect(&fx, "rms_norm", &[inp(&[2, 4, 3], 0)], |t| {
        t[0].rms_norm(-1, 1e-5)
    });
    let (q, k, v) = (inp(&[2, 4, 3], 0), inp(&[2, 5, 3], 1), inp(&[2, 5, 2], 2));
    expect(&fx, "sdpa", &[q.clone(), k.clone(), v.clone()], |t| {
        Tensor::scaled_dot_product_attention(&t[0], &t[1], &t[2], None, false)
    });
    let mask = Input {
        data: Data::Bool((0..20).map(|i| i % 3 != 1).collect()),
        shape: vec![4, 5],
    };
    expect(
        &fx,
        "sdpa_mask",
        &[q.clone(), k.clone(), v.clone(), mask],
        |t| Tensor::scaled_dot_product_attention(&t[0], &t[1], &t[2], Some(&t[3]), false),
    );
    expect(&fx, "sdpa_causal", &[q, k, v], |t| {
        let (k4, v4) = (t[1].slice(1, 0, 4, 1), t[2].slice(1, 0, 4, 1));
        Tensor::scaled_dot_product_attention(&t[0], &k4, &v4, None, true)
    });
}

#[test]
fn joins_and_slices_take_every_dtype_views_and_empty_tensors() {
    for d in [DType::I32, DType::Bool, DType::F16, DType::U8] {
        let (a, b) = (rand_input(d, &[3, 4], 1), rand_input(d, &[3, 2], 2));
        check3(&format!("cat {d}"), &[a.clone(), b], |t| {
            Tensor::cat(&[&t[0], &t[1], &t[0].flip(&[1])], 1)
        });
        check3(&format!("views of {d}"), std::slice::from_ref(&a), |t| {
            let x = t[0].transpose(0, 1);
            Tensor::stack(&[&x.roll(1, 0), &x.slice(0, -1, isize::MIN, -1)], 1).repeat(&[2, 1, 1])
        });
        check3(&format!("pads of {d}"), std::slice::from_ref(&a), |t| {
            let r = t[0].pad_with(&[(2, 1), (3, 3)], PadMode::Reflect);
            let c = t[0].pad_with(&[(0, 5), (1, 0)], PadMode::Circular);
            let e = t[0].pad_with(&[(1, 1), (0, 2)], PadMode::Replicate);
            Tensor::cat(&[&r.flatten(), &c.flatten(), &e.flatten()], 0)
        });
        check3(
            &format!("triangles of {d}"),
            std::slice::from_ref(&a),
            |t| Tensor::cat(&[&t[0].tril(-1), &t[0].triu(2)], 0),
        );
    }
    let x = rand_input(DType::F32, &[3, 4], 3);
    let n = rand_input(DType::I32, &[3, 1], 4);
    check3("cat promotes", &[x.clone(), n], |t| {
        let c = Tensor::cat(&[&t[0], &t[1]], -1);
        assert_eq!(c.dtype(), DType::F32);
        c
    });
    let empty = rand_input(DType::F32, &[0, 4], 5);
    check3("empty pieces", &[x.clone(), empty.clone()], |t| {
        Tensor::cat(&[&t[1], &t[0], &t[1]], 0).roll(3, 0)
    });
    check3("empty results", std::slice::from_ref(&empty), |t| {
        let parts = [
            t[0].roll(2, 0),
            t[0].slice(0, 1, 3, 1),
            t[0].repeat(&[3, 0]).reshape(&[0, 0]).reshape(&[0, 4]),
            Tensor::cat(&[&t[0], &t[0]], 0),
        ];
        Tensor::cat(&parts.iter().collect::<Vec<_>>(), 0)
    });
    check3(
        "size-1 axes",
        &[rand_input(DType::F32, &[1, 5, 1], 6)],
        |t| {
            let x = t[0].squeeze(0).squeeze(-1).unsqueeze(0).unsqueeze(-1);
            assert_eq!(x.shape(), &[1, 5, 1]);
            Tensor::cat(&[&x.roll(-2, 1), &x.slice(1, 4, -6, -2)], 1)
                .pad_with(&[(1, 1), (0, 0), (2, 2)], PadMode::Reflect)
        },
    );
    check3("split and chunk are views", std::slice::from_ref(&x), |t| {
        let s = t[0].split(&[1, 0, 3], 1);
        let c = t[0].chunk(2, 0);
        assert_eq!(c.len(), 2);
        Tensor::cat(&[&s[2], &s[0], &s[1]], 1).add(&Tensor::cat(&[&c[1], &c[0]], 0))
    });
}

#[test]
fn logical_reductions_products_and_masks_agree_three_ways() {
    let x = {
        let mut i = rand_input(DType::F32, &[3, 4, 5], 1);
        if let Data::F32(v) = &mut i.data {
            for j in [0, 7, 22, 41] {
                v[j] = 0.0;
            }
            v[13] = f32::NAN;
            v[50] = f32::NEG_INFINITY;
        }
        i
    };
    for axes in [&[0][..], &[1], &[-1], &[0, 2], &[]] {
        check3(&format!("any {axes:?}"), std::slice::from_ref(&x), |t| {
            t[0].any(axes)
        });
        check3(&format!("all {axes:?}"), std::slice::from_ref(&x), |t| {
            t[0].all(axes)
        });
        check3(
            &format!("prod_keepdim {axes:?}"),
            std::slice::from_ref(&x),
            |t| t[0].prod_keepdim(axes),
        );
        check3(
            &format!("logsumexp {axes:?}"),
            std::slice::from_ref(&x),
            |t| t[0].logsumexp(axes),
        );
    }
    check3("prod_all", &[rand_input(DType::I32, &[7], 2)], |t| {
        t[0].prod_all()
    });
    let empty = rand_input(DType::F32, &[2, 0], 3);
    check3(
        "any and all of nothing",
        std::slice::from_ref(&empty),
        |t| {
            let (any, all) = (t[0].any(&[1]), t[0].all(&[1]));
            any.cast(DType::I32)
                .add(&all.cast(DType::I32).mul_scalar_i32(2))
        },
    );
    let dev = kiln::Device::cpu();
    let e = empty.on(&dev);
    assert_eq!(e.any(&[1]).to_vec::<bool>().unwrap(), [false, false]);
    assert_eq!(e.all(&[1]).to_vec::<bool>().unwrap(), [true, true]);
    // logsumexp of a row of -inf is -inf; of a row holding +inf, +inf.
    let inf = Tensor::from_slice_on(
        &[f32::NEG_INFINITY, f32::NEG_INFINITY, 1.0, f32::INFINITY],
        &[2, 2],
        &dev,
    )
    .unwrap();
    assert_eq!(
        inf.logsumexp(&[1]).to_vec::<f32>().unwrap(),
        [f32::NEG_INFINITY, f32::INFINITY]
    );
    let mask = rand_input(DType::Bool, &[4, 1], 4);
    check3("masked_fill broadcasts", &[x.clone(), mask], |t| {
        t[0].masked_fill(&t[1], -7.5)
    });
    check3(
        "argmax of ints, bools and f16",
        &[rand_input(DType::I32, &[4, 9], 5)],
        |t| {
            Tensor::stack(
                &[
                    &t[0].argmax(1),
                    &t[0].argmin(-1),
                    &t[0].gt(&t[0].scalar_for_test(3)).argmax(1),
                    &t[0].cast(DType::F16).argmin(1),
                ],
                0,
            )
        },
    );
}

trait ScalarExt {
    fn mul_scalar_i32(&self, v: i32) -> Tensor;
    fn scalar_for_test(&self, v: i32) -> Tensor;
}
impl ScalarExt for Tensor {
    fn mul_scalar_i32(&self, v: i32) -> Tensor {
        self * v
    }
    fn scalar_for_test(&self, v: i32) -> Tensor {
        Tensor::full_on(&[], v as f64, self.dtype(), self.device())
    }
}

#[test]
fn they_fuse_into_few_kernels() {
    let dev = kiln::Device::cpu();
    let x = Tensor::from_slice_on(
        &(0..64).map(|i| i as f32).collect::<Vec<_>>(),
        &[8, 8],
        &dev,
    )
    .unwrap();
    let kernels = |t: &Tensor| kiln::schedule(&[t]).unwrap().kernels().len();
    // A cat of computed pieces writes each element once, in one kernel.
    let cat = &Tensor::cat(&[&x.exp(), &(&x * 2.0f32), &x.sqrt()], 0) + 1.0f32;
    assert_eq!(kernels(&cat), 1);
    assert_eq!(kernels(&x.argmax(1)), 1);
    // The max is read inside the sum's nest and by the tail (`+ max`): one nest serves both.
    assert_eq!(kernels(&x.logsumexp(&[1])), 1);
    assert_eq!(kernels(&x.any(&[1])), 1);
    let targets = Tensor::from_slice_on(&[0i32, 1, 2, 3, 4, 5, 6, 7], &[8], &dev).unwrap();
    assert_eq!(kernels(&x.cross_entropy(&targets)), 2);
    assert!(kernels(&x.softmax(-1).argmax(-1)) <= 2);
    assert_eq!(kernels(&x.roll(3, 1).slice(0, 1, 7, 2).contiguous()), 1);
    assert_eq!(kernels(&x.pad_with(&[(2, 2), (3, 1)], PadMode::Reflect)), 1);
    // A sort is a fixed sequence: 8 columns are 6 network stages in 3 phases, fused two
    // at a time within a phase (4 kernels), after the index words and the pair masks.
    let (v, i) = x.sort(1, false);
    assert!(kiln::schedule(&[&v, &i]).unwrap().kernels().len() <= 7);
    let img = x.reshape(&[1, 1, 8, 8]);
    assert_eq!(kernels(&img.max_pool2d(2, 2, 0)), 1);
    assert_eq!(kernels(&img.avg_pool2d(3, 1, 1).relu()), 1);
}

#[test]
fn bad_input_panics_naming_the_op() {
    let dev = kiln::Device::cpu();
    let x = Tensor::zeros_on(&[2, 3], DType::F32, &dev);
    let cases: Vec<(&str, Box<dyn FnOnce()>)> = vec![
        (
            "cat: shape [2, 4] does not match",
            Box::new({
                let x = x.clone();
                move || {
                    Tensor::cat(&[&x, &Tensor::zeros_on(&[2, 4], DType::F32, &dev)], 0);
                }
            }),
        ),
        (
            "squeeze: axis 1 of shape [2, 3] is not of size 1",
            Box::new({
                let x = x.clone();
                move || {
                    x.squeeze(1);
                }
            }),
        ),
        (
            "slice: step must not be 0",
            Box::new({
                let x = x.clone();
                move || {
                    x.slice(0, 0, 1, 0);
                }
            }),
        ),
        (
            "split: sizes [1, 1] do not add up",
            Box::new({
                let x = x.clone();
                move || {
                    x.split(&[1, 1], 1);
                }
            }),
        ),
        (
            "argmax: axis 1 of shape [2, 0] is empty",
            Box::new(|| {
                Tensor::zeros_on(&[2, 0], DType::F32, &kiln::Device::cpu()).argmax(1);
            }),
        ),
        (
            "pad_with: cannot fill Reflect padding",
            Box::new(|| {
                Tensor::zeros_on(&[0, 2], DType::F32, &kiln::Device::cpu())
                    .pad_with(&[(1, 0), (0, 0)], PadMode::Reflect);
            }),
        ),
        (
            "masked_fill: the mask must be bool",
            Box::new({
                let x = x.clone();
                move || {
                    x.masked_fill(&x, 1.0);
                }
            }),
        ),
        (
            "max_pool2d: input [2, 3] must be (N, C, H, W)",
            Box::new({
                let x = x.clone();
                move || {
                    x.max_pool2d(2, 2, 0);
                }
            }),
        ),
        (
            "conv2d_with: input [1, 4, 5, 5] has 4 channels",
            Box::new(|| {
                let d = kiln::Device::cpu();
                let opts = Conv2dOptions {
                    groups: 3,
                    ..Default::default()
                };
                Tensor::zeros_on(&[1, 4, 5, 5], DType::F32, &d).conv2d_with(
                    &Tensor::zeros_on(&[3, 1, 3, 3], DType::F32, &d),
                    None,
                    opts,
                );
            }),
        ),
        (
            "tril: needs at least 2 axes",
            Box::new(|| {
                Tensor::zeros_on(&[3], DType::F32, &kiln::Device::cpu()).tril(0);
            }),
        ),
    ];
    for (want, f) in cases {
        let msg = panic_message(f);
        assert!(msg.contains(want), "expected {want:?} in {msg:?}");
    }
}

#[test]
fn sorts_and_what_they_give_match_numpy() {
    let fx = fixtures();
    let mut srt = inp(&[3, 13], 7);
    if let Data::F32(v) = &mut srt.data {
        v[13 + 4] = f32::NAN;
        v[13 + 9] = f32::NAN;
        v[26] = f32::NAN;
    }
    let one = std::slice::from_ref(&srt);
    expect(&fx, "sort1", one, |t| t[0].sort(1, false).0);
    expect(&fx, "argsort1", one, |t| t[0].argsort(-1, false));
    expect(&fx, "sort0", one, |t| t[0].sort(0, false).0);
    expect(&fx, "argsort0", one, |t| t[0].sort(0, false).1);
    expect(&fx, "sort_desc", one, |t| t[0].sort(1, true).0);
    expect(&fx, "argsort_desc", one, |t| t[0].argsort(1, true));
    expect(&fx, "topk4", one, |t| t[0].topk(4, 1).0);
    expect(&fx, "topk4_idx", one, |t| t[0].topk(4, -1).1);
    expect(&fx, "median_odd", one, |t| t[0].median(1));
    let mut even = inp(&[4, 6], 8);
    if let Data::F32(v) = &mut even.data {
        v[3 * 6 + 2] = f32::NAN;
    }
    expect(&fx, "median_even", &[even], |t| t[0].median(-1));
    let quant = inp(&[6, 5], 9);
    for (name, q) in [
        ("quantile_0.3", 0.3),
        ("quantile_0.75", 0.75),
        ("quantile_1", 1.0),
        ("quantile_0", 0.0),
    ] {
        expect(&fx, name, std::slice::from_ref(&quant), |t| {
            t[0].quantile(q, 0)
        });
    }
    let targets = Input {
        data: Data::I32(vec![0, 4, 2, 2, 1, 3]),
        shape: vec![6],
    };
    expect(&fx, "cross_entropy", &[quant.clone(), targets], |t| {
        t[0].cross_entropy(&t[1])
    });
    let dev = kiln::Device::cpu();
    let logits = quant.on(&dev);
    let bad = Tensor::from_slice_on(&[0i32, 5, 2, 2, 1, -1], &[6], &dev).unwrap();
    assert!(logits.cross_entropy(&bad).item::<f32>().unwrap().is_nan());
    let ints = {
        let Data::F32(v) = inp(&[2, 37], 3).data else {
            unreachable!()
        };
        Input {
            data: Data::I32(v.iter().map(|x| (x * 4.0) as i32).collect()),
            shape: vec![2, 37],
        }
    };
    expect(&fx, "sort_int", std::slice::from_ref(&ints), |t| {
        t[0].sort(1, false).0
    });
    expect(&fx, "argsort_int", &[ints], |t| t[0].argsort(1, false));
}
