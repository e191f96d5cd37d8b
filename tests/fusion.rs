//! Fusion is tested by counting kernels: `kiln::stats().kernels_launched` around a realize.
//! The counter is process-wide, so these tests take a lock (other test binaries are separate
//! processes).

mod common;
use common::*;
use kiln::{DType, Device, Scalar, Tensor};
use std::sync::Mutex;

static SERIAL: Mutex<()> = Mutex::new(());

fn kernels(f: impl FnOnce()) -> u64 {
    let before = kiln::stats().kernels_launched;
    f();
    kiln::stats().kernels_launched - before
}

fn each_device(test: impl Fn(&Device)) {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    for dev in devices() {
        test(&dev);
    }
}

fn t(dev: &Device, shape: &[usize], seed: u64) -> Tensor {
    rand_input(DType::F32, shape, seed).on(dev)
}

#[test]
fn elementwise_chain_is_one_kernel() {
    each_device(|dev| {
        let (a, b, c) = (
            t(dev, &[64, 33], 1),
            t(dev, &[64, 33], 2),
            t(dev, &[64, 33], 3),
        );
        assert_eq!(
            kernels(|| drop((&(&a + &b) * &c).realize().unwrap())),
            1,
            "(a+b)*c on {dev:?}"
        );
        let x = positive_input(&[1000], 4).on(dev);
        assert_eq!(
            kernels(|| drop(x.exp().log().sqrt().realize().unwrap())),
            1,
            "x.exp().log().sqrt()"
        );
    });
}

#[test]
fn elementwise_into_reduction_is_one_kernel() {
    each_device(|dev| {
        let (a, b) = (t(dev, &[37, 50], 1), t(dev, &[37, 50], 2));
        assert_eq!(
            kernels(|| drop((&a * &b).sum(&[1]).realize().unwrap())),
            1,
            "(a*b).sum(1)"
        );
        let x = t(dev, &[37, 50], 3);
        assert_eq!(
            kernels(|| drop(x.max(&[1]).realize().unwrap())),
            1,
            "x.max(1)"
        );
    });
}

#[test]
fn materialized_view_is_one_kernel() {
    each_device(|dev| {
        let x = t(dev, &[4096], 1);
        let y = x.reshape(&[8, 8, 8, 8]).permute(&[3, 2, 1, 0]).contiguous();
        assert_eq!(
            kernels(|| drop(y.realize().unwrap())),
            1,
            "reshape+permute materialized"
        );
        let xs: Vec<f32> = x.to_vec().unwrap();
        let ys: Vec<f32> = y.to_vec().unwrap();
        for (i, v) in ys.iter().enumerate() {
            let (a, b, c, d) = (i / 512, (i / 64) % 8, (i / 8) % 8, i % 8);
            assert_eq!(*v, xs[d * 512 + c * 64 + b * 8 + a]);
        }
    });
}

#[test]
fn matmul_bias_relu_is_one_kernel() {
    each_device(|dev| {
        let (a, b, bias) = (t(dev, &[16, 24], 1), t(dev, &[24, 8], 2), t(dev, &[8], 3));
        let y = a.matmul(&b).add(&bias).relu();
        assert_eq!(
            kernels(|| drop(y.realize().unwrap())),
            1,
            "relu(a@b + bias)"
        );
    });
}

#[test]
fn reductions_of_one_input_share_a_kernel() {
    each_device(|dev| {
        let x = t(dev, &[20, 30], 1);
        let y = x.sum(&[1]).add(&x.max(&[1]));
        assert_eq!(
            kernels(|| drop(y.realize().unwrap())),
            1,
            "x.sum(1) + x.max(1)"
        );
        let (s, m) = (x.sum(&[0]), x.max(&[0]));
        assert_eq!(
            kernels(|| kiln::realize(&[&s, &m]).unwrap()),
            1,
            "realize(&[x.sum(0), x.max(0)])"
        );
    });
}

#[test]
fn sum_and_mean_realized_together_is_one_kernel() {
    each_device(|dev| {
        let x = t(dev, &[300, 7], 1);
        let (s, m) = (x.sum_all(), x.mean_all());
        assert_eq!(
            kernels(|| kiln::realize(&[&s, &m]).unwrap()),
            1,
            "sum_all + mean_all"
        );
        let (sv, mv) = (s.item::<f32>().unwrap(), m.item::<f32>().unwrap());
        assert!((sv / 2100.0 - mv).abs() < 1e-5, "{sv} {mv}");
    });
    // A large full reduction (2^20 elements) is two kernels: partial sums over many workgroups
    // (every core works), then their sum. sum and mean share both.
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(gpu) = gpu() else { return };
    let x = Tensor::ones_on(&[1 << 20], DType::F32, &gpu).contiguous();
    x.realize().unwrap();
    let (s, m) = (x.sum_all(), x.mean_all());
    assert_eq!(
        kernels(|| kiln::realize(&[&s, &m]).unwrap()),
        2,
        "sum_all + mean_all of 2^20"
    );
    assert_eq!(s.item::<f32>().unwrap(), (1 << 20) as f32);
    assert_eq!(m.item::<f32>().unwrap(), 1.0);
}

/// realize(&[x.mean(0), x.var(0, 1)]): one kernel. The mean's sum is a reduce nest of var's
/// kernel (var reads it broadcast), and `mean = sum / n` is stored beside var (3 kernels
/// before broadcast nests and riders, then 2). tinygrad and burn take 3.
#[test]
fn mean_and_var_take_one_kernel() {
    each_device(|dev| {
        let x = t(dev, &[64, 33], 4);
        let (m, v) = (x.mean(&[0]), x.var(&[0], 1.0));
        let (wm, wv) = (m.oracle().unwrap().data, v.oracle().unwrap().data);
        assert_eq!(
            kernels(|| kiln::realize(&[&m, &v]).unwrap()),
            1,
            "mean + var"
        );
        assert_close("mean", &read(&m), &wm, 1e-5, 1e-4);
        assert_close("var", &read(&v), &wv, 1e-5, 1e-4);
        // Also when the elementwise output is shaped differently (same element count): the
        // sum is a nest of b's kernel, and a is stored from the same domain.
        let x = t(dev, &[50, 4, 6], 5);
        let s = x.sum_keepdim(&[0]);
        let a = (&s * 2.0).reshape(&[6, 4]);
        let b = (&x - &s).max(&[0]);
        let (wa, wb) = (a.oracle().unwrap().data, b.oracle().unwrap().data);
        assert_eq!(
            kernels(|| kiln::realize(&[&a, &b]).unwrap()),
            1,
            "reshaped rider"
        );
        assert_close("a", &read(&a), &wa, 1e-5, 1e-4);
        assert_close("b", &read(&b), &wb, 1e-5, 1e-4);
    });
}

/// Softmax, log_softmax and layer_norm along a row are one kernel: each row's reductions run
/// as nests of the kernel that stores the row, its workgroup's lanes sharing the row (tinygrad
/// and burn take 3 and 4 for softmax, 3 and 3 for layernorm). Odd and size-1 rows, a batch
/// axis, and another axis are checked against the oracle.
#[test]
fn softmax_and_layernorm_are_one_kernel() {
    each_device(|dev| {
        for shape in [
            vec![8, 40],
            vec![7, 50],
            vec![3, 1],
            vec![2, 3, 33],
            vec![4, 4096],
        ] {
            let x = t(dev, &shape, 1);
            let w = t(dev, &shape[shape.len() - 1..], 2);
            let b = t(dev, &shape[shape.len() - 1..], 3);
            let cases: Vec<(&str, Tensor)> = vec![
                ("softmax", x.softmax(-1)),
                ("log_softmax", x.log_softmax(-1)),
                ("layer_norm", x.layer_norm(-1, 1e-5)),
                ("affine layer_norm", &(&x.layer_norm(-1, 1e-5) * &w) + &b),
                ("softmax(0)", x.softmax(0)),
            ];
            for (name, y) in cases {
                let want = y.oracle().unwrap().data;
                let n = kernels(|| drop(y.realize().unwrap()));
                assert_eq!(n, 1, "{name} of {shape:?} took {n} kernels on {dev:?}");
                assert_close(name, &read(&y), &want, 1e-5, 1e-4);
            }
        }
    });
}

/// softmax (or log_softmax) of a 2-D row-major `data` along `axis`, in f64 on the host.
fn host_softmax(data: &[f64], shape: [usize; 2], axis: usize, log: bool) -> Vec<Scalar> {
    let (rows, len) = if axis == 1 {
        (shape[0], shape[1])
    } else {
        (shape[1], shape[0])
    };
    let at = |r: usize, i: usize| {
        if axis == 1 {
            r * shape[1] + i
        } else {
            i * shape[1] + r
        }
    };
    let mut out = vec![Scalar::F32(0.0); data.len()];
    for r in 0..rows {
        let max = (0..len).map(|i| data[at(r, i)]).fold(f64::MIN, f64::max);
        let sum: f64 = (0..len).map(|i| (data[at(r, i)] - max).exp()).sum();
        for i in 0..len {
            let d = data[at(r, i)] - max;
            let v = if log { d - sum.ln() } else { d.exp() / sum };
            out[at(r, i)] = Scalar::F32(v as f32);
        }
    }
    out
}

/// Rows longer than a workgroup owns (2^15) are cut into chunks: 2 kernels (each chunk's max
/// and sum of exp, then the output, every chunk a workgroup), 3 when the length has no
/// divisor to chunk by (padded with -inf). Inputs span [-100, 100], so chunks have very
/// different maxima, and a span of -inf fills whole chunks; checked against softmax computed
/// in f64 on the host. NOOPT keeps every reduction in a kernel of its own.
#[test]
fn long_rows_take_two_kernels_and_noopt_keeps_reductions_apart() {
    each_device(|dev| {
        for (shape, axis, log, most) in [
            ([2, 40_000], 1, false, 2),
            ([2, 40_000], 1, true, 2),
            ([40_000, 3], 0, false, 2),
            ([2, 40_009], 1, false, 3),
            ([1, 1 << 17], 1, true, 2),
        ] {
            let x = &t(dev, &shape, 1) * 50.0;
            let name = format!(
                "{} of {shape:?} along {axis}",
                if log { "log_softmax" } else { "softmax" }
            );
            let y = if log {
                x.log_softmax(axis as isize)
            } else {
                x.softmax(axis as isize)
            };
            let data: Vec<f64> = read(&x).iter().map(|v| v.to_f64()).collect();
            let n = kernels(|| drop(y.realize().unwrap()));
            assert!(n <= most, "{name} took {n} kernels on {dev:?}");
            let want = host_softmax(&data, shape, axis, log);
            assert_close(&name, &read(&y), &want, 1e-7, 1e-4);
        }

        // A long span of -inf (masked logits) fills whole chunks: their statistics must count
        // as nothing, not turn the row into NaN.
        let mut data: Vec<f32> = (0..80_000).map(|i| ((i * 37) % 101) as f32 * 0.1).collect();
        data[1_000..30_000].fill(f32::NEG_INFINITY);
        let x = Tensor::from_slice_on(&data, &[2, 40_000], dev).unwrap();
        let host: Vec<f64> = data.iter().map(|&v| v as f64).collect();
        for log in [false, true] {
            let y = if log {
                x.log_softmax(-1)
            } else {
                x.softmax(-1)
            };
            let want = host_softmax(&host, [2, 40_000], 1, log);
            assert_close("masked long row", &read(&y), &want, 1e-7, 1e-4);
        }

        let x = t(dev, &[8, 40], 2);
        let y = x.softmax(-1);
        let want = y.oracle().unwrap().data;
        let s = kiln::schedule_noopt(&[&y]).unwrap();
        assert_eq!(s.kernels().len(), 3, "{s:?}");
        assert!(s.kernels().iter().all(|k| k.opts().is_empty()));
        s.run().unwrap();
        assert_close("NOOPT softmax", &read(&y), &want, 1e-5, 1e-4);
    });
}

/// The cost rule: a reduction fused as a nest must run once per value. `x - max(x, 0) -
/// max(x, 1)` has no column axis (each max varies along the other's axis), so fused, every
/// element would recompute both maxes: they are materialized instead.
#[test]
fn broadcast_nests_that_would_recompute_are_materialized() {
    each_device(|dev| {
        let x = t(dev, &[30, 20], 3);
        let y = &(&x - &x.max_keepdim(&[0])) - &x.max_keepdim(&[1]);
        let want = y.oracle().unwrap().data;
        let s = kiln::schedule(&[&y]).unwrap();
        assert_eq!(s.kernels().len(), 3, "{s:?}");
        let n = kernels(|| drop(y.realize().unwrap()));
        assert_eq!(n, 3);
        assert_close("y", &read(&y), &want, 1e-6, 1e-5);
        // Summed along one axis, both maxes vary along the output: one kernel, no recompute.
        let z = (&(&x - &x.max_keepdim(&[1])) * 2.0).sum(&[1]);
        let want = z.oracle().unwrap().data;
        assert_eq!(kernels(|| drop(z.realize().unwrap())), 1);
        assert_close("z", &read(&z), &want, 1e-5, 1e-5);
    });
}

/// The recompute rule (`schedule/recompute.rs`): `exp` read through matmul's expand would run
/// N times per element of `a`, so it gets a kernel of its own; a cheap producer (`a * 2`) is
/// still recomputed inside the matmul.
#[test]
fn expensive_producers_read_through_an_expand_are_materialized() {
    each_device(|dev| {
        let (a, b) = (t(dev, &[16, 24], 1), t(dev, &[24, 32], 2));
        let y = a.exp().matmul(&b);
        let want = y.oracle().unwrap().data;
        assert_eq!(
            kernels(|| drop(y.realize().unwrap())),
            2,
            "exp, then matmul"
        );
        assert_close("exp matmul", &read(&y), &want, 1e-5, 1e-4);
        let z = (&a * 2.0).matmul(&b);
        let want = z.oracle().unwrap().data;
        assert_eq!(
            kernels(|| drop(z.realize().unwrap())),
            1,
            "a*2 is recomputed"
        );
        assert_close("2a matmul", &read(&z), &want, 1e-5, 1e-4);
        // An expand by less than 4 copies recomputes even exp.
        let w = &a.exp().reshape(&[16, 24, 1]).expand(&[16, 24, 2]) + 1.0;
        assert_eq!(kernels(|| drop(w.realize().unwrap())), 1);
    });
}

#[test]
fn shared_subexpressions_are_computed_once() {
    each_device(|dev| {
        let x = t(dev, &[10, 10], 1);
        // Built twice: hash-consing makes it one node, so realizing both is one kernel.
        let (p, q) = (x.exp().sum(&[1]), x.exp().sum(&[1]));
        assert_eq!(kernels(|| kiln::realize(&[&p, &q]).unwrap()), 1);
        assert!(q.is_realized(), "q is the same node as p");
        // Realized values are not recomputed.
        assert_eq!(kernels(|| drop(p.to_vec::<f32>().unwrap())), 0);
        // A reshape of a realized value shares its buffer.
        assert_eq!(kernels(|| drop(p.reshape(&[2, 5]).realize().unwrap())), 0);
    });
}
