//! Writing at computed positions: `scatter` and `scatter_add`, three ways (oracle, CPU
//! interpreter, wgpu) and against a host loop of torch's definition, over odd sizes, views,
//! negative and u32 indices, repeated indices and empty indices; out-of-range indices as
//! errors; and the kernels they take.

mod common;
use common::*;
use kiln::{DType, Device, Tensor};

/// Row-major strides of `shape`.
fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for d in (0..shape.len().saturating_sub(1)).rev() {
        s[d] = s[d + 1] * shape[d + 1];
    }
    s
}

/// torch's scatter on the host, in index order (so the last repeat wins), combining with
/// `f(old, new)`.
fn host_scatter(
    x: &[f32],
    shape: &[usize],
    axis: usize,
    index: &[i32],
    index_shape: &[usize],
    src: &[f32],
    src_shape: &[usize],
    f: impl Fn(f32, f32) -> f32,
) -> Vec<f32> {
    let mut out = x.to_vec();
    let (xs, is, ss) = (strides(shape), strides(index_shape), strides(src_shape));
    for (e, &i) in index.iter().enumerate() {
        let coords: Vec<usize> = (0..index_shape.len())
            .map(|d| e / is[d] % index_shape[d])
            .collect();
        let pos = if i < 0 { i + shape[axis] as i32 } else { i } as usize;
        let (mut o, mut s) = (0, 0);
        for d in 0..shape.len() {
            o += xs[d] * if d == axis { pos } else { coords[d] };
            s += ss[d] * coords[d];
        }
        out[o] = f(out[o], src[s]);
    }
    out
}

fn f32_data(input: &Input) -> Vec<f32> {
    match &input.data {
        Data::F32(v) => v.clone(),
        _ => unreachable!(),
    }
}

#[test]
fn scatter_agrees_three_ways() {
    let x = rand_input(DType::F32, &[5, 7], 1);
    let src = rand_input(DType::F32, &[6, 9], 2);
    // Along each axis, with negative and repeated indices, the index smaller than both.
    let i1 = i32s(indices(4 * 6, 7, 3), &[4, 6]);
    check3("scatter axis 1", &[x.clone(), i1, src.clone()], |t| {
        t[0].scatter(1, &t[1], &t[2])
    });
    let i0 = i32s(indices(6 * 3, 5, 4), &[6, 3]);
    check3("scatter axis 0", &[x.clone(), i0, src.clone()], |t| {
        t[0].scatter(-2, &t[1], &t[2])
    });
    // Views and computed operands: a transposed target, a computed source, u32 indices.
    let iu = Input {
        data: Data::U32(vec![4, 0, 4, 1, 2, 2]),
        shape: vec![1, 6],
    };
    check3(
        "scatter u32 into transposed",
        &[x.clone(), iu, src.clone()],
        |t| {
            t[0].transpose(0, 1)
                .scatter(1, &t[1], &(&t[2] * 2.0f32).transpose(0, 1))
        },
    );
    // A 3-D odd shape, and the result reduced afterwards.
    let x3 = rand_input(DType::F32, &[3, 5, 3], 5);
    let i3 = i32s(indices(3 * 4 * 2, 5, 6), &[3, 4, 2]);
    let s3 = rand_input(DType::F32, &[3, 4, 3], 7);
    check3("scatter 3-D, summed", &[x3, i3, s3], |t| {
        t[0].scatter(1, &t[1], &t[2]).sum(&[2])
    });
    // Every dtype moves its bits.
    for d in OTHER_DTYPES {
        let xs = rand_input(d, &[4, 9], 8);
        let ss = rand_input(d, &[4, 5], 9);
        let ix = i32s(indices(4 * 5, 9, 10), &[4, 5]);
        check3(&format!("scatter {d}"), &[xs, ix, ss], |t| {
            t[0].scatter(1, &t[1], &t[2])
        });
    }
}

#[test]
fn scatter_add_agrees_three_ways() {
    let x = rand_input(DType::F32, &[5, 7], 11);
    let src = rand_input(DType::F32, &[6, 9], 12);
    let i1 = i32s(indices(5 * 9, 7, 13), &[5, 9]);
    check3("scatter_add axis 1", &[x.clone(), i1, src.clone()], |t| {
        t[0].scatter_add(1, &t[1], &t[2])
    });
    let i0 = i32s(indices(6 * 7, 5, 14), &[6, 7]);
    check3(
        "scatter_add axis 0 of computed",
        &[x.clone(), i0, src.clone()],
        |t| (&t[0] + 1.0f32).scatter_add(0, &t[1], &t[2].exp()),
    );
    for d in OTHER_DTYPES {
        let xs = rand_input(d, &[4, 9], 15);
        let ss = rand_input(d, &[4, 12], 16);
        let ix = i32s(indices(4 * 12, 9, 17), &[4, 12]);
        check3_tol(
            &format!("scatter_add {d}"),
            &[xs, ix, ss],
            1e-2,
            1e-2,
            |t| t[0].scatter_add(1, &t[1], &t[2]),
        );
    }
}

#[test]
fn repeated_indices_follow_torch_on_every_device() {
    // 3,000 writes into 50 positions per row: each position written about 60 times.
    let (shape, index_shape) = ([3, 50], [3, 3000]);
    let x = rand_input(DType::F32, &shape, 21);
    let src = rand_input(DType::F32, &index_shape, 22);
    let index = indices(3 * 3000, 50, 23);
    let (xv, sv) = (f32_data(&x), f32_data(&src));
    let last = host_scatter(
        &xv,
        &shape,
        1,
        &index,
        &index_shape,
        &sv,
        &index_shape,
        |_, n| n,
    );
    let sums = host_scatter(
        &xv,
        &shape,
        1,
        &index,
        &index_shape,
        &sv,
        &index_shape,
        |o, n| o + n,
    );
    for dev in devices() {
        let (xt, st) = (x.on(&dev), src.on(&dev));
        let it = Tensor::from_slice_on(&index, &index_shape, &dev).unwrap();
        // The last in index order wins, bit for bit, however the lanes run.
        let got = xt.scatter(1, &it, &st).to_vec::<f32>().unwrap();
        assert_eq!(got, last, "scatter on {}", dev.name());
        let got = xt.scatter_add(1, &it, &st).to_vec::<f32>().unwrap();
        for (k, (g, w)) in got.iter().zip(&sums).enumerate() {
            assert!(
                (g - w).abs() <= 1e-4 * (1.0 + w.abs()),
                "scatter_add on {}: {k}: {g} vs {w}",
                dev.name()
            );
        }
        // Counting: a histogram of the indices is exact.
        let bins = (&it + 50) % 50;
        let ones = Tensor::ones_on(&index_shape, DType::I32, &dev);
        let counts = Tensor::zeros_on(&shape, DType::I32, &dev).scatter_add(1, &bins, &ones);
        let mut want = vec![0i32; 3 * 50];
        for (e, &i) in index.iter().enumerate() {
            want[e / 3000 * 50 + (i + 50) as usize % 50] += 1;
        }
        assert_eq!(
            counts.to_vec::<i32>().unwrap(),
            want,
            "histogram on {}",
            dev.name()
        );
    }
}

#[test]
fn scatter_of_no_indices_is_the_tensor() {
    let x = rand_input(DType::F32, &[3, 4], 31);
    let none = i32s(vec![], &[3, 0]);
    let src = rand_input(DType::F32, &[3, 2], 32);
    check3(
        "scatter of no indices",
        &[x.clone(), none.clone(), src.clone()],
        |t| t[0].scatter(1, &t[1], &t[2]),
    );
    check3("scatter_add of no indices", &[x, none, src], |t| {
        t[0].scatter_add(1, &t[1], &t[2])
    });
    let empty = rand_input(DType::F32, &[0, 4], 33);
    let none = i32s(vec![], &[0, 2]);
    let src = rand_input(DType::F32, &[0, 2], 34);
    check3("scatter into an empty tensor", &[empty, none, src], |t| {
        t[0].scatter_add(1, &t[1], &t[2])
    });
}

#[test]
fn scatter_takes_two_kernels() {
    let dev = Device::cpu();
    let x = Tensor::from_slice_on(&vec![1.0f32; 8 * 16], &[8, 16], &dev).unwrap();
    let i = Tensor::from_slice_on(&vec![3i32; 8 * 4], &[8, 4], &dev).unwrap();
    let src = Tensor::from_slice_on(&vec![2.0f32; 8 * 4], &[8, 4], &dev).unwrap();
    // The scatter kernel, then one elementwise kernel that also takes what follows.
    let y = x.scatter(1, &i, &src).exp();
    assert_eq!(kiln::schedule(&[&y]).unwrap().kernels().len(), 2);
    // A computed `src` is materialized first: the winners' values are read from memory.
    let y = x.scatter(1, &i, &(&src * 3.0f32)).exp();
    assert_eq!(kiln::schedule(&[&y]).unwrap().kernels().len(), 3);
    let z = (x.scatter_add(1, &i, &src.exp()) * 2.0f32).sum(&[1]);
    assert_eq!(kiln::schedule(&[&z]).unwrap().kernels().len(), 2);
}

#[test]
fn out_of_range_indices_are_errors() {
    for dev in devices() {
        let name = dev.name();
        let x = Tensor::from_slice_on(&[1.0f32; 6], &[2, 3], &dev).unwrap();
        let src = Tensor::from_slice_on(&[5.0f32; 6], &[2, 3], &dev).unwrap();
        let bad = Tensor::from_slice_on(&[0i32, 3], &[2, 1], &dev).unwrap();
        expect_out_of_range(&name, &x.scatter(1, &bad, &src), "scatter", 3, 3);
        let low = Tensor::from_slice_on(&[-3i32, 0], &[1, 2], &dev).unwrap();
        expect_out_of_range(&name, &x.scatter_add(0, &low, &src), "scatter_add", -3, 2);
        let good = Tensor::from_slice_on(&[2i32, -1], &[2, 1], &dev).unwrap();
        assert_eq!(
            x.scatter(1, &good, &src).to_vec::<f32>().unwrap(),
            vec![1.0, 1.0, 5.0, 1.0, 1.0, 5.0],
            "{name}"
        );
    }
}

#[test]
fn bad_shapes_panic_with_the_op_and_shapes() {
    let dev = Device::cpu();
    let x = Tensor::from_slice_on(&[1.0f32; 6], &[2, 3], &dev).unwrap();
    let src = Tensor::from_slice_on(&[5.0f32; 2], &[1, 2], &dev).unwrap();
    let wide = Tensor::from_slice_on(&[0i32; 3], &[1, 3], &dev).unwrap();
    let msg = panic_message(|| {
        x.scatter(1, &wide, &src);
    });
    assert!(
        msg.contains("scatter") && msg.contains("[1, 3]") && msg.contains("[1, 2]"),
        "{msg}"
    );
    let ints = Tensor::from_slice_on(&[5i32; 2], &[1, 2], &dev).unwrap();
    let i = Tensor::from_slice_on(&[0i32; 2], &[1, 2], &dev).unwrap();
    let msg = panic_message(|| {
        x.scatter_add(1, &i, &ints);
    });
    assert!(
        msg.contains("scatter_add") && msg.contains("i32") && msg.contains("f32"),
        "{msg}"
    );
    let fl = Tensor::from_slice_on(&[0.0f32; 2], &[1, 2], &dev).unwrap();
    let msg = panic_message(|| {
        x.scatter(1, &fl, &src);
    });
    assert!(msg.contains("i32 or u32"), "{msg}");
}

/// numpy's linear quantile of one row, on the host in f64 (NaN where the row holds one).
fn host_quantile(row: &[f32], q: f64) -> f64 {
    if row.iter().any(|v| v.is_nan()) {
        return f64::NAN;
    }
    let mut s: Vec<f64> = row.iter().map(|&v| v as f64).collect();
    s.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let pos = q * (s.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    match lo == hi {
        true => s[lo],
        false => s[lo] + (s[hi] - s[lo]) * (pos - lo as f64),
    }
}

#[test]
fn quantiles_of_long_axes_select_by_radix() {
    // Rows past the radix threshold: signed values with repeats, zeros of both signs, an
    // infinity, a constant row, and a row holding a NaN.
    let (rows, n) = (5, 3001);
    let mut r = Rng::new(41);
    let mut data: Vec<f32> = (0..rows * n)
        .map(|_| ((r.next() % 2001) as f32 - 1000.0) / 8.0)
        .collect();
    data[7] = -0.0;
    data[8] = f32::INFINITY;
    data[n + 3] = f32::NEG_INFINITY;
    data[2 * n..3 * n].fill(2.5);
    data[4 * n + 17] = f32::NAN;
    for dev in devices() {
        let x = Tensor::from_slice_on(&data, &[rows, n], &dev).unwrap();
        for q in [0.0, 0.01, 0.5, 0.99, 1.0, 0.3337] {
            let got = x.quantile(q, 1).to_vec::<f32>().unwrap();
            for (i, g) in got.iter().enumerate() {
                let want = host_quantile(&data[i * n..(i + 1) * n], q);
                let ok = (want.is_nan() && g.is_nan())
                    || *g as f64 == want
                    || (*g as f64 - want).abs() <= 1e-6 * (1.0 + want.abs());
                assert!(
                    ok,
                    "quantile {q} of row {i} on {}: {g} vs {want}",
                    dev.name()
                );
            }
        }
        // Along the first axis of a transposed view, even length: the middle pair's mean.
        let t = Tensor::from_slice_on(&data[..4 * n], &[4, n], &dev)
            .unwrap()
            .transpose(0, 1);
        let even = t.slice(0, 0, 2048, 1);
        let got = even.median(0).to_vec::<f32>().unwrap();
        for (i, g) in got.iter().enumerate() {
            let want = host_quantile(&data[i * n..i * n + 2048], 0.5);
            assert!(
                (*g as f64 - want).abs() <= 1e-6 * (1.0 + want.abs()),
                "median {i}: {g} vs {want}"
            );
        }
    }
}

/// Stable ascending (or descending) order of `row` on the host, NaN the largest.
fn host_argsort(row: &[f32], descending: bool) -> Vec<i32> {
    let mut order: Vec<i32> = (0..row.len() as i32).collect();
    let key = |i: &i32| {
        let v = row[*i as usize];
        (v.is_nan(), if v.is_nan() { 0.0 } else { v })
    };
    order.sort_by(|a, b| {
        let (ka, kb) = (key(a), key(b));
        let o = ka.0.cmp(&kb.0).then(ka.1.partial_cmp(&kb.1).unwrap());
        if descending {
            o.reverse()
        } else {
            o
        }
    });
    order
}

#[test]
fn long_axes_sort_by_radix_stably() {
    // Past the radix threshold, odd length: repeats, both zeros, infinities, NaNs.
    let (rows, n) = (3, 2501);
    let mut r = Rng::new(51);
    let mut data: Vec<f32> = (0..rows * n)
        .map(|_| ((r.next() % 301) as f32 - 150.0) / 4.0)
        .collect();
    data[5] = -0.0;
    data[6] = 0.0;
    data[10] = f32::INFINITY;
    data[n + 1] = f32::NAN;
    data[n + 2] = f32::NEG_INFINITY;
    data[2 * n + 9] = f32::NAN;
    for dev in devices() {
        let x = Tensor::from_slice_on(&data, &[rows, n], &dev).unwrap();
        for descending in [false, true] {
            let (v, i) = x.sort(1, descending);
            let (v, i) = (v.to_vec::<f32>().unwrap(), i.to_vec::<i32>().unwrap());
            for row in 0..rows {
                let want = host_argsort(&data[row * n..(row + 1) * n], descending);
                let got = &i[row * n..(row + 1) * n];
                if let Some(k) = (0..n).find(|&k| got[k] != want[k]) {
                    panic!(
                        "{} descending {descending} row {row}: position {k} holds index {} not {} (around: {:?} vs {:?})",
                        dev.name(),
                        got[k],
                        want[k],
                        &got[k.saturating_sub(2)..(k + 3).min(n)],
                        &want[k.saturating_sub(2)..(k + 3).min(n)]
                    );
                }
                for (k, &w) in want.iter().enumerate() {
                    let (g, e) = (v[row * n + k], data[row * n + w as usize]);
                    assert!(
                        g.to_bits() == e.to_bits() || (g.is_nan() && e.is_nan()),
                        "value {k}"
                    );
                }
            }
        }
    }
    // Every dtype, three ways, along a transposed axis.
    for d in OTHER_DTYPES {
        let x = rand_input(d, &[2100, 2], 52);
        check3(&format!("radix sort {d}"), &[x], |t| {
            let (v, i) = t[0].sort(0, true);
            &v.cast(DType::F32) + &i.cast(DType::F32)
        });
    }
}
