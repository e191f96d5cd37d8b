//! Every op, dtype and shape class, checked three ways: graph oracle, CPU interpreter, wgpu.

mod common;
use common::*;
use kiln::{DType, Scalar, Tensor};

/// Shapes covering scalars, empty tensors, size-1 dims and odd sizes.
const SHAPES: &[&[usize]] = &[
    &[],
    &[0],
    &[1],
    &[7],
    &[3, 5],
    &[1, 4],
    &[2, 0, 3],
    &[3, 1, 5],
    &[2, 3, 4],
    &[65, 3],
];
const ALL: &[DType] = &DType::ALL;
/// The float dtypes every float function takes.
const FLOATS: &[DType] = &[DType::F32, DType::F16, DType::BF16];

#[test]
fn float_unary_ops() {
    type F = fn(&Tensor) -> Tensor;
    let ops: &[(&str, F)] = &[
        ("neg", |x| x.neg()),
        ("exp", |x| x.exp()),
        ("exp2", |x| x.exp2()),
        ("sin", |x| x.sin()),
        ("cos", |x| x.cos()),
        ("tanh", |x| x.tanh()),
        ("sigmoid", |x| x.sigmoid()),
        ("relu", |x| x.relu()),
        ("abs", |x| x.abs()),
    ];
    for &d in FLOATS {
        for (name, op) in ops {
            for (i, shape) in SHAPES.iter().enumerate() {
                check3(
                    &format!("{name} {d} {shape:?}"),
                    &[rand_input(d, shape, i as u64)],
                    |t| op(&t[0]),
                );
            }
        }
    }
    type P = fn(&Tensor) -> Tensor;
    let positive: &[(&str, P)] = &[
        ("log", |x| x.log()),
        ("log2", |x| x.log2()),
        ("sqrt", |x| x.sqrt()),
        ("rsqrt", |x| x.rsqrt()),
        ("recip", |x| x.recip()),
    ];
    for &d in FLOATS {
        for (name, op) in positive {
            for (i, shape) in SHAPES.iter().enumerate() {
                check3(
                    &format!("{name} {d} {shape:?}"),
                    &[positive_input_as(d, shape, i as u64)],
                    |t| op(&t[0]),
                );
            }
        }
    }
}

#[test]
fn unary_ops_on_integers_promote_to_float() {
    for d in [DType::I32, DType::U32, DType::U8, DType::I8, DType::Bool] {
        let x = rand_input(d, &[3, 5], 7);
        check3(&format!("exp of {d}"), std::slice::from_ref(&x), |t| {
            assert_eq!(t[0].exp().dtype(), DType::F32);
            t[0].cast(DType::F32).mul_scalar_for_test(0.1).exp()
        });
        check3(&format!("abs of {d}"), std::slice::from_ref(&x), |t| {
            t[0].abs()
        });
        check3(&format!("relu of {d}"), &[x], |t| t[0].relu());
    }
    check3("neg i32", &[rand_input(DType::I32, &[9], 1)], |t| {
        t[0].neg()
    });
    for d in [DType::U32, DType::U8, DType::I8] {
        check3(&format!("neg {d} wraps"), &[rand_input(d, &[9], 1)], |t| {
            t[0].neg()
        });
    }
}

trait TestExt {
    fn mul_scalar_for_test(&self, v: f32) -> Tensor;
}
impl TestExt for Tensor {
    fn mul_scalar_for_test(&self, v: f32) -> Tensor {
        self * v
    }
}

#[test]
fn binary_ops_every_dtype() {
    type B = fn(&Tensor, &Tensor) -> Tensor;
    let ops: &[(&str, B)] = &[
        ("add", |a, b| a.add(b)),
        ("mul", |a, b| a.mul(b)),
        ("maximum", |a, b| a.maximum(b)),
        ("minimum", |a, b| a.minimum(b)),
        ("lt", |a, b| a.lt(b)),
        ("le", |a, b| a.le(b)),
        ("gt", |a, b| a.gt(b)),
        ("ge", |a, b| a.ge(b)),
        ("eq", |a, b| a.eq(b)),
        ("ne", |a, b| a.ne(b)),
    ];
    for &d in ALL {
        for (name, op) in ops {
            for (i, shape) in [&[5][..], &[2, 3], &[0, 2], &[]].iter().enumerate() {
                let (a, b) = (
                    rand_input(d, shape, 10 + i as u64),
                    rand_input(d, shape, 20 + i as u64),
                );
                check3(&format!("{name} {d} {shape:?}"), &[a, b], |t| {
                    op(&t[0], &t[1])
                });
            }
        }
        if d != DType::Bool {
            let (a, b) = (rand_input(d, &[4, 3], 3), rand_input(d, &[4, 3], 4));
            check3(&format!("sub {d}"), &[a, b], |t| t[0].sub(&t[1]));
        }
    }
}

#[test]
fn division_and_pow() {
    let a = rand_input(DType::F32, &[3, 7], 1);
    let b = positive_input(&[3, 7], 2);
    check3("div f32", &[a.clone(), b.clone()], |t| t[0].div(&t[1]));
    check3(
        "div i32 is true division",
        &[
            rand_input(DType::I32, &[9], 3),
            Input {
                data: Data::I32(vec![1, 2, 3, 4, 5, 6, 7, -8, 9]),
                shape: vec![9],
            },
        ],
        |t| {
            let q = t[0].div(&t[1]);
            assert_eq!(q.dtype(), DType::F32);
            q
        },
    );
    check3("pow positive base", &[b.clone(), a.clone()], |t| {
        t[0].pow(&t[1])
    });
    let base = Input {
        data: Data::F32(vec![-2.0, -2.0, -1.5, 0.0, 0.0, 3.0]),
        shape: vec![6],
    };
    let exp = Input {
        data: Data::F32(vec![2.0, 3.0, 0.5, 0.0, 2.0, -1.0]),
        shape: vec![6],
    };
    check3("pow signs and zeros", &[base, exp], |t| t[0].pow(&t[1]));
}

#[test]
fn broadcasting_and_promotion() {
    let cases: &[(&[usize], &[usize])] = &[
        (&[3, 4], &[4]),
        (&[3, 1], &[1, 5]),
        (&[2, 1, 3], &[4, 1]),
        (&[], &[2, 3]),
        (&[0, 3], &[3]),
        (&[1], &[5]),
    ];
    for (i, (sa, sb)) in cases.iter().enumerate() {
        let (a, b) = (
            rand_input(DType::F32, sa, i as u64),
            rand_input(DType::F32, sb, 50 + i as u64),
        );
        check3(&format!("broadcast {sa:?} {sb:?}"), &[a, b], |t| {
            &t[0] * &t[1] + &t[0]
        });
    }
    for (da, db, want) in [
        (DType::Bool, DType::U32, DType::U32),
        (DType::U32, DType::I32, DType::I32),
        (DType::I32, DType::F32, DType::F32),
        (DType::Bool, DType::F32, DType::F32),
    ] {
        let (a, b) = (rand_input(da, &[2, 3], 1), rand_input(db, &[3], 2));
        check3(&format!("promote {da}+{db}"), &[a, b], |t| {
            let r = t[0].add(&t[1]);
            assert_eq!(r.dtype(), want, "{da} + {db}");
            r
        });
    }
    check3(
        "scalar operators",
        &[rand_input(DType::F32, &[2, 3], 9)],
        |t| {
            let x = &t[0];
            (2.0f32 * x - 1.0f32) / 3.0f32 + (1.0f32 - x) * 0.5f32 + -x
        },
    );
    check3(
        "f32 scalar promotes ints",
        &[rand_input(DType::I32, &[4], 9)],
        |t| {
            let r = &t[0] * 0.5f32;
            assert_eq!(r.dtype(), DType::F32);
            r
        },
    );
}

#[test]
fn where_and_cast() {
    let c = rand_input(DType::Bool, &[3, 4], 1);
    let a = rand_input(DType::F32, &[4], 2);
    let b = rand_input(DType::I32, &[3, 1], 3);
    check3("where broadcasts and promotes", &[c, a, b], |t| {
        t[0].where_(&t[1], &t[2])
    });
    for &from in ALL {
        for &to in ALL {
            check3(
                &format!("cast {from}->{to}"),
                &[rand_input(from, &[11], 4)],
                |t| t[0].cast(to),
            );
        }
    }
    let special = Input {
        data: Data::F32(vec![-2.7, 2.7, -0.0, 1e10, -1e10, 0.5]),
        shape: vec![6],
    };
    check3("cast edge values", &[special], |t| {
        t[0].cast(DType::I32)
            .add(&t[0].cast(DType::U32).cast(DType::I32))
    });
}

#[test]
fn reductions_every_axis_and_dtype() {
    for &d in ALL {
        for (i, shape) in [
            &[7][..],
            &[3, 5],
            &[2, 3, 4],
            &[4, 1, 3],
            &[0, 3],
            &[3, 0],
            &[1],
        ]
        .iter()
        .enumerate()
        {
            let x = rand_input(d, shape, 100 + i as u64);
            let nd = shape.len() as isize;
            for axis in -nd..nd {
                check3(
                    &format!("sum {d} {shape:?} axis {axis}"),
                    std::slice::from_ref(&x),
                    |t| t[0].sum(&[axis]),
                );
                // max/min over an empty axis is refused (tests/errors.rs), as numpy does.
                if shape[axis.rem_euclid(nd) as usize] > 0 {
                    check3(
                        &format!("max {d} {shape:?} axis {axis}"),
                        std::slice::from_ref(&x),
                        |t| t[0].max(&[axis]),
                    );
                    check3(
                        &format!("min {d} {shape:?} keepdim {axis}"),
                        std::slice::from_ref(&x),
                        |t| t[0].min_keepdim(&[axis]),
                    );
                }
                check3(
                    &format!("mean {d} {shape:?} axis {axis}"),
                    std::slice::from_ref(&x),
                    |t| t[0].mean(&[axis]),
                );
            }
            check3(
                &format!("sum_all {d} {shape:?}"),
                std::slice::from_ref(&x),
                |t| t[0].sum_all(),
            );
            if !shape.contains(&0) {
                check3(
                    &format!("max_all {d} {shape:?}"),
                    std::slice::from_ref(&x),
                    |t| t[0].max_all(),
                );
                check3(
                    &format!("min_all {d} {shape:?}"),
                    std::slice::from_ref(&x),
                    |t| t[0].min_all(),
                );
            }
            check3(
                &format!("mean_all {d} {shape:?}"),
                std::slice::from_ref(&x),
                |t| t[0].mean_all(),
            );
        }
    }
    let x = rand_input(DType::F32, &[3, 4, 5], 7);
    check3("sum two axes", std::slice::from_ref(&x), |t| {
        t[0].sum(&[0, 2])
    });
    check3("sum_keepdim two axes", std::slice::from_ref(&x), |t| {
        t[0].sum_keepdim(&[-1, 0])
    });
    check3("max of negative axes", std::slice::from_ref(&x), |t| {
        t[0].max(&[-2])
    });
    check3("prod", &[positive_input(&[3, 4], 1)], |t| t[0].prod(&[1]));
    // A large full reduction goes through the grouped (workgroup-shared) path.
    check3_tol(
        "large sum_all",
        &[rand_input(DType::F32, &[70001], 8)],
        1e-3,
        1e-3,
        |t| t[0].sum_all(),
    );
    check3(
        "large max over rows",
        &[rand_input(DType::F32, &[3, 3001], 9)],
        |t| t[0].max(&[1]),
    );
    check3(
        "large i32 sum",
        &[rand_input(DType::I32, &[5000], 9)],
        |t| t[0].sum_all(),
    );
}

#[test]
fn composites() {
    for (i, shape) in [&[2, 5][..], &[3, 1], &[1, 7], &[4, 3, 6]]
        .iter()
        .enumerate()
    {
        let x = rand_input(DType::F32, shape, i as u64);
        check3(
            &format!("softmax {shape:?}"),
            std::slice::from_ref(&x),
            |t| t[0].softmax(-1),
        );
        check3(
            &format!("softmax axis 0 {shape:?}"),
            std::slice::from_ref(&x),
            |t| t[0].softmax(0),
        );
        check3(
            &format!("log_softmax {shape:?}"),
            std::slice::from_ref(&x),
            |t| t[0].log_softmax(-1),
        );
    }
}

#[test]
fn movement_ops_are_views() {
    let x = rand_input(DType::F32, &[2, 3, 4], 1);
    check3("reshape", std::slice::from_ref(&x), |t| {
        t[0].reshape(&[4, -1])
    });
    check3("reshape to 1d", std::slice::from_ref(&x), |t| {
        t[0].reshape(&[-1])
    });
    check3("permute", std::slice::from_ref(&x), |t| {
        t[0].permute(&[2, 0, 1])
    });
    check3("transpose", std::slice::from_ref(&x), |t| {
        t[0].transpose(0, -1)
    });
    check3("reshape of permute", std::slice::from_ref(&x), |t| {
        t[0].permute(&[1, 2, 0]).reshape(&[6, 4])
    });
    check3("permute of reshape", std::slice::from_ref(&x), |t| {
        t[0].reshape(&[6, 4]).permute(&[1, 0])
    });
    check3("expand", &[rand_input(DType::F32, &[3, 1], 2)], |t| {
        t[0].expand(&[2, 3, 5])
    });
    check3("pad", std::slice::from_ref(&x), |t| {
        t[0].pad(&[(1, 0), (0, 2), (1, 1)])
    });
    check3("shrink", std::slice::from_ref(&x), |t| {
        t[0].shrink(&[(1, 2), (0, 3), (1, 3)])
    });
    check3("flip", std::slice::from_ref(&x), |t| t[0].flip(&[0, 2]));
    check3(
        "pad of computed value is zero",
        std::slice::from_ref(&x),
        |t| t[0].exp().pad(&[(0, 0), (2, 1), (0, 0)]),
    );
    check3("shrink of pad", std::slice::from_ref(&x), |t| {
        t[0].pad(&[(1, 1), (1, 1), (1, 1)])
            .shrink(&[(0, 3), (1, 5), (2, 6)])
    });
    check3("pad of pad", std::slice::from_ref(&x), |t| {
        t[0].pad(&[(1, 0), (0, 1), (0, 0)])
            .flip(&[1])
            .pad(&[(0, 2), (1, 0), (3, 0)])
    });
    check3("flip of shrink of permute", std::slice::from_ref(&x), |t| {
        t[0].permute(&[2, 1, 0])
            .shrink(&[(1, 4), (0, 2), (0, 2)])
            .flip(&[0, 1])
    });
    check3("contiguous", std::slice::from_ref(&x), |t| {
        t[0].permute(&[2, 0, 1]).contiguous()
    });
    check3("views feed math", std::slice::from_ref(&x), |t| {
        t[0].transpose(0, 2)
            .add(&t[0].flip(&[0, 1, 2]).permute(&[2, 1, 0]))
    });
    check3("empty views", &[rand_input(DType::F32, &[0, 3], 1)], |t| {
        t[0].transpose(0, 1).pad(&[(1, 0), (0, 0)])
    });
    check3(
        "size-1 expand then reduce",
        &[rand_input(DType::I32, &[1, 4], 1)],
        |t| t[0].expand(&[5, 4]).sum(&[0]),
    );
    for &d in ALL {
        check3(
            &format!("views of {d}"),
            &[rand_input(d, &[3, 4], 2)],
            |t| t[0].flip(&[1]).pad(&[(0, 1), (2, 0)]).transpose(0, 1),
        );
    }
}

#[test]
fn matmul_shapes() {
    let cases: &[(&[usize], &[usize])] = &[
        (&[3, 4], &[4, 5]),
        (&[4], &[4, 5]),
        (&[3, 4], &[4]),
        (&[4], &[4]),
        (&[2, 3, 4], &[4, 5]),
        (&[2, 1, 3, 4], &[3, 4, 2]),
        (&[1, 1], &[1, 1]),
        (&[7, 13], &[13, 3]),
        (&[3, 0], &[0, 2]),
    ];
    for (i, (sa, sb)) in cases.iter().enumerate() {
        let (a, b) = (
            rand_input(DType::F32, sa, i as u64),
            rand_input(DType::F32, sb, 30 + i as u64),
        );
        check3(&format!("matmul {sa:?} @ {sb:?}"), &[a, b], |t| {
            t[0].matmul(&t[1])
        });
    }
    let (a, b) = (
        rand_input(DType::I32, &[3, 4], 1),
        rand_input(DType::I32, &[4, 2], 2),
    );
    check3("matmul i32", &[a, b], |t| t[0].matmul(&t[1]));
    let (a, b, bias) = (
        rand_input(DType::F32, &[5, 6], 1),
        rand_input(DType::F32, &[6, 3], 2),
        rand_input(DType::F32, &[3], 3),
    );
    check3("relu(a@b + bias)", &[a, b, bias], |t| {
        t[0].matmul(&t[1]).add(&t[2]).relu()
    });
    let (a, b) = (
        rand_input(DType::F32, &[6, 5], 1),
        rand_input(DType::F32, &[6, 4], 2),
    );
    check3("a.T @ b", &[a, b], |t| t[0].transpose(0, 1).matmul(&t[1]));
}

/// Direct host convolution: an independent reference for `conv2d`'s graph.
fn host_conv2d(
    x: &[f32],
    [n, c, h, w]: [usize; 4],
    k: &[f32],
    [o, _, kh, kw]: [usize; 4],
    stride: usize,
    pad: usize,
) -> Vec<f32> {
    let (oh, ow) = (
        (h + 2 * pad - kh) / stride + 1,
        (w + 2 * pad - kw) / stride + 1,
    );
    let mut out = vec![0.0f32; n * o * oh * ow];
    for (b, oc, y, xx) in (0..n).flat_map(|b| {
        (0..o).flat_map(move |oc| (0..oh).flat_map(move |y| (0..ow).map(move |xx| (b, oc, y, xx))))
    }) {
        let mut acc = 0.0f64;
        for ic in 0..c {
            for dy in 0..kh {
                for dx in 0..kw {
                    let (iy, ix) = (
                        (y * stride + dy) as isize - pad as isize,
                        (xx * stride + dx) as isize - pad as isize,
                    );
                    if iy < 0 || ix < 0 || iy >= h as isize || ix >= w as isize {
                        continue;
                    }
                    let xv = x[((b * c + ic) * h + iy as usize) * w + ix as usize] as f64;
                    let kv = k[((oc * c + ic) * kh + dy) * kw + dx] as f64;
                    acc += xv * kv;
                }
            }
        }
        out[((b * o + oc) * oh + y) * ow + xx] = acc as f32;
    }
    out
}

/// conv2d against a direct host convolution (the graph), then oracle == CPU == wgpu (the
/// kernels): overlapping windows (stride < kernel), disjoint ones (stride > kernel), 1x1,
/// odd sizes and padding.
#[test]
fn conv2d_matches_a_direct_convolution() {
    let cases: &[([usize; 4], [usize; 4], usize, usize)] = &[
        ([2, 3, 7, 6], [4, 3, 3, 3], 1, 1),
        ([1, 2, 9, 9], [3, 2, 3, 3], 2, 0),
        ([1, 2, 8, 7], [2, 2, 2, 2], 3, 1),
        ([2, 4, 5, 5], [3, 4, 1, 1], 1, 0),
        ([1, 1, 4, 4], [1, 1, 4, 4], 1, 0),
        ([1, 3, 6, 5], [2, 3, 3, 2], 2, 2),
    ];
    for (i, &(xs, ws, stride, pad)) in cases.iter().enumerate() {
        let (x, w) = (
            rand_input(DType::F32, &xs, 70 + i as u64),
            rand_input(DType::F32, &ws, 80 + i as u64),
        );
        let name = format!("conv2d {xs:?} * {ws:?} stride {stride} pad {pad}");
        let (Data::F32(xv), Data::F32(wv)) = (&x.data, &w.data) else {
            unreachable!()
        };
        let want = host_conv2d(xv, xs, wv, ws, stride, pad);
        let graph = x
            .on(&kiln::Device::cpu())
            .conv2d(&w.on(&kiln::Device::cpu()), stride, pad);
        let oracle = graph.oracle().unwrap();
        let want: Vec<Scalar> = want.into_iter().map(Scalar::F32).collect();
        assert_close(
            &format!("{name}: graph vs host"),
            &oracle.data,
            &want,
            1e-5,
            1e-4,
        );
        check3(&name, &[x, w], |t| t[0].conv2d(&t[1], stride, pad));
    }
    // relu(conv2d + bias) is one kernel.
    let dev = kiln::Device::cpu();
    let x = rand_input(DType::F32, &[1, 2, 6, 6], 1).on(&dev);
    let w = rand_input(DType::F32, &[3, 2, 3, 3], 2).on(&dev);
    let bias = rand_input(DType::F32, &[3, 1, 1], 3).on(&dev);
    let y = (x.conv2d(&w, 1, 1) + &bias).relu();
    assert_eq!(kiln::schedule(&[&y]).unwrap().kernels().len(), 1);
}

#[test]
fn realize_together_shares_work() {
    for dev in devices() {
        let x = rand_input(DType::F32, &[6, 7], 1).on(&dev);
        let (s, m, mx) = (x.sum(&[0]), x.mean(&[0]), x.max(&[0]));
        // One kernel reads x once for all three (counted on the schedule, not on the
        // process-wide counter that parallel tests also move).
        let plan = kiln::schedule(&[&s, &m, &mx]).unwrap();
        assert_eq!(plan.kernels().len(), 1, "{plan:?}");
        kiln::realize(&[&s, &m, &mx]).unwrap();
        let xs: Vec<f32> = x.to_vec().unwrap();
        let want_s: Vec<f32> = (0..7)
            .map(|j| (0..6).map(|i| xs[i * 7 + j]).sum())
            .collect();
        let got_s: Vec<f32> = s.to_vec().unwrap();
        let got_m: Vec<f32> = m.to_vec().unwrap();
        for j in 0..7 {
            assert!((got_s[j] - want_s[j]).abs() < 1e-4);
            assert!((got_m[j] - want_s[j] / 6.0).abs() < 1e-4);
        }
        assert_eq!(mx.to_vec::<f32>().unwrap().len(), 7);
    }
}

#[test]
fn constructors_and_inspection() {
    for dev in devices() {
        let z = Tensor::zeros_on(&[2, 3], DType::F32, &dev);
        assert_eq!(z.to_vec::<f32>().unwrap(), vec![0.0; 6]);
        let o = Tensor::ones_on(&[4], DType::I32, &dev);
        assert_eq!(o.to_vec::<i32>().unwrap(), vec![1; 4]);
        let f = Tensor::full_on(&[2], 2.5, DType::F32, &dev);
        assert_eq!(f.to_vec::<f32>().unwrap(), vec![2.5, 2.5]);
        let b = Tensor::full_on(&[3], 1.0, DType::Bool, &dev);
        assert_eq!(b.to_vec::<bool>().unwrap(), vec![true; 3]);
        let e = Tensor::from_slice_on::<f32>(&[], &[0, 4], &dev).unwrap();
        assert_eq!((e.numel(), e.ndim(), e.shape()), (0, 2, &[0usize, 4][..]));
        assert_eq!(e.exp().to_vec::<f32>().unwrap(), Vec::<f32>::new());
        let x = Tensor::from_slice_on(&[1u32, 2, 3], &[3], &dev).unwrap();
        assert_eq!(
            (x.dtype(), x.device(), x.is_realized()),
            (DType::U32, &dev, true)
        );
        let y = &x.cast(DType::F32) * 2.0f32;
        assert!(!y.is_realized());
        let dbg = format!("{y:?}");
        assert!(
            dbg.contains("shape=[3]") && dbg.contains("f32") && dbg.contains("realized=false"),
            "{dbg}"
        );
        assert!(!y.is_realized(), "Debug must not compute");
        y.realize().unwrap();
        assert!(y.is_realized());
        assert_eq!(
            y.item::<f32>()
                .err()
                .map(|e| e.to_string().contains("item")),
            Some(true)
        );
        assert_eq!(y.sum_all().item::<f32>().unwrap(), 12.0);
    }
    let s = Tensor::scalar(3.0f32).unwrap();
    assert_eq!((s.ndim(), s.numel()), (0, 1));
}

#[test]
fn tensors_move_between_devices() {
    let Some(gpu) = gpu() else { return };
    let cpu = kiln::Device::cpu();
    let x = Tensor::from_slice_on(&[1.0f32, 2.0, 3.0], &[3], &cpu).unwrap();
    let g = (&x * 2.0f32).to(&gpu).unwrap();
    assert_eq!(g.device(), &gpu);
    let back = g.exp().to(&cpu).unwrap();
    let want: Vec<f32> = [2.0f32, 4.0, 6.0].iter().map(|v| v.exp()).collect();
    for (a, b) in back.to_vec::<f32>().unwrap().iter().zip(want) {
        assert!((a - b).abs() <= 1e-3 * b);
    }
}

#[test]
fn tensors_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Tensor>();
    assert_send_sync::<kiln::Device>();
    let x = Tensor::from_slice_on(&[1.0f32, 2.0], &[2], &kiln::Device::cpu()).unwrap();
    let y = std::thread::spawn(move || (&x * 3.0f32).to_vec::<f32>().unwrap())
        .join()
        .unwrap();
    assert_eq!(y, vec![3.0, 6.0]);
}

#[test]
fn variance_std_and_layer_norm() {
    for dev in devices() {
        let x = Tensor::from_slice_on(&[1.0f32, 2.0, 3.0, 4.0], &[1, 4], &dev).unwrap();
        let near = |t: &Tensor, want: &[f32]| {
            let got: Vec<f32> = t.to_vec().unwrap();
            assert_eq!(got.len(), want.len());
            for (g, w) in got.iter().zip(want) {
                assert!((g - w).abs() < 1e-5, "{got:?} vs {want:?} on {dev:?}");
            }
        };
        // numpy: var(ddof=1) = 5/3, var(ddof=0) = 1.25, std(ddof=1) = sqrt(5/3)
        near(&x.var(&[1], 1.0), &[5.0 / 3.0]);
        near(&x.var(&[-1], 0.0), &[1.25]);
        near(&x.std(&[1], 1.0), &[(5.0f32 / 3.0).sqrt()]);
        assert_eq!(x.var_keepdim(&[1], 1.0).shape(), &[1, 1]);
        assert_eq!(x.std_keepdim(&[0, 1], 0.0).shape(), &[1, 1]);
        let s = 1.25f32.sqrt();
        near(
            &x.layer_norm(-1, 0.0),
            &[-1.5 / s, -0.5 / s, 0.5 / s, 1.5 / s],
        );
        // integers are cast, as numpy does
        let i = Tensor::from_slice_on(&[1i32, 2, 3, 4], &[4], &dev).unwrap();
        near(&i.var(&[0], 0.0), &[1.25]);
    }
    let x = rand_input(DType::F32, &[5, 33], 3);
    check3("var axis 0", std::slice::from_ref(&x), |t| {
        t[0].var(&[0], 1.0)
    });
    check3("std keepdim", std::slice::from_ref(&x), |t| {
        t[0].std_keepdim(&[1], 0.0)
    });
    check3("var all", std::slice::from_ref(&x), |t| {
        t[0].var(&[0, 1], 1.0)
    });
    check3("layer_norm", &[x], |t| t[0].layer_norm(-1, 1e-5));
}
