//! Bugs found by reading the code (Kernel IR v2 issue), one test each, on every device.

mod common;
use common::*;
use kiln::{DType, Device, Opt, OptOp, Tensor};

/// The tests of this file share the CPU device, and one of them counts its memory: they run
/// one at a time.
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// Two kernel groups that depend on each other through different members used to hit the
/// scheduler's "dependency cycle" assert: {c, y} and {c.sum_all(), x.sum_all()}.
#[test]
fn kernel_groups_never_form_a_cycle() {
    let _serial = serial();
    for dev in devices() {
        let x = rand_input(DType::F32, &[37], 1).on(&dev);
        let a = (&x * 2.0).contiguous().sum_all();
        let b = &x + &x.sum_all();
        kiln::realize(&[&a, &b]).unwrap();
        let xs: Vec<f32> = x.to_vec().unwrap();
        let total: f32 = xs.iter().sum();
        assert!((a.item::<f32>().unwrap() - 2.0 * total).abs() < 1e-4);
        let got: Vec<f32> = b.to_vec().unwrap();
        for (g, v) in got.iter().zip(&xs) {
            assert!((g - (v + total)).abs() < 1e-4, "{g} vs {}", v + total);
        }
    }
}

/// A kernel that reads two nodes aliasing one buffer (a value and a reshape of it) used to lock
/// that buffer twice on the CPU device (deadlock).
#[test]
fn a_kernel_may_read_one_buffer_twice() {
    let _serial = serial();
    for dev in devices() {
        // y is a realized buffer, so r (a reshape of it) aliases the same buffer.
        let y = rand_input(DType::F32, &[10], 2).on(&dev);
        let r = y.reshape(&[2, 5]).realize().unwrap();
        let z = &y + &r.reshape(&[10]);
        let ys: Vec<f32> = y.to_vec().unwrap();
        let zs: Vec<f32> = z.to_vec().unwrap();
        for (a, b) in ys.iter().zip(&zs) {
            assert!((2.0 * a - b).abs() < 1e-5);
        }
    }
}

/// `depends_on_reduce` recursed without a memo and `flop_estimate` called it per node:
/// squaring 40 times (a diamond per step) never finished compiling.
#[test]
fn diamond_graphs_compile_in_linear_time() {
    let _serial = serial();
    for dev in devices() {
        let mut y = Tensor::full_on(&[4], 1.0, DType::F32, &dev);
        for _ in 0..40 {
            y = &y * &y;
        }
        assert_eq!(y.to_vec::<f32>().unwrap(), vec![1.0; 4]);
        let x = rand_input(DType::F32, &[8], 3).on(&dev);
        let mut c = x.clone();
        for i in 0..30 {
            c = c.maximum(&(&x * -1.0)).minimum(&(&c + i as f32));
        }
        let s = c.sum_all();
        let _ = s.item::<f32>().unwrap();
    }
}

/// Each fused grouped reduction took its own workgroup array; dozens in one kernel exceeded
/// the device's workgroup memory and the pipeline failed. Now they share one array per dtype,
/// in batches that fit.
#[test]
fn many_fused_grouped_reductions_fit_workgroup_memory() {
    let _serial = serial();
    for dev in devices() {
        let x = rand_input(DType::F32, &[2, 4096], 4).on(&dev);
        // 20 outputs of 2 reductions each: 40 reductions x 256 lanes x 4 bytes = 40 KiB.
        let outs: Vec<Tensor> = (1..=20)
            .map(|i| {
                let xi = &x * i as f32;
                &xi.sum(&[1]) + &xi.max(&[1])
            })
            .collect();
        let refs: Vec<&Tensor> = outs.iter().collect();
        let mut s = kiln::schedule(&refs).unwrap();
        // Grouped over 256 lanes, as a GPU's heuristics choose (a CPU adapter's take 8).
        let wide = [
            Opt::new(OptOp::Unroll, 0, 4),
            Opt::new(OptOp::Group, 0, 256),
        ];
        for i in 0..s.kernels().len() {
            s.set_opts(i, &wide).unwrap();
        }
        // One kernel where the adapter binds 21 buffers (lavapipe's Vulkan: 32; GL fewer).
        let bindings = dev.limits().max_storage_buffers;
        assert_eq!(s.kernels().len(), 20usize.div_ceil(bindings - 1), "{s:?}");
        let lanes: usize = s.kernels()[0].local_size().iter().product();
        assert!(lanes >= 64, "{s:?}");
        // The drivers here do not enforce the limit at run time, so check the program: its
        // workgroup arrays fit 32 KiB although 40 reductions x lanes x 4 bytes would not.
        assert!(40 * lanes * 4 > 32 << 10);
        let wgsl = s.kernels()[0].wgsl().unwrap();
        let declared: usize = wgsl
            .lines()
            .filter(|l| l.starts_with("var<workgroup>"))
            .map(|l| {
                let len = l.rsplit(", ").next().unwrap().trim_end_matches(">;");
                len.parse::<usize>().unwrap() * 4
            })
            .sum();
        assert!(
            declared > 0 && declared <= 32 << 10,
            "{declared} bytes:\n{wgsl}"
        );
        let wants: Vec<_> = outs.iter().map(|o| o.oracle().unwrap().data).collect();
        s.run().unwrap();
        for (o, w) in outs.iter().zip(wants) {
            assert_close(&format!("on {dev:?}"), &read(o), &w, 1e-3, 1e-4);
        }
    }
}

/// Freeing a 0-element buffer on the CPU device decremented the count of other buffers.
#[test]
fn empty_buffers_do_not_disturb_memory_accounting() {
    let _serial = serial();
    let dev = Device::cpu();
    let keep = Tensor::ones_on(&[1000], DType::F32, &dev)
        .realize()
        .unwrap();
    let base = dev.memory_in_use();
    for _ in 0..10 {
        let e = Tensor::from_slice_on::<f32>(&[], &[0, 3], &dev).unwrap();
        let f = (&e + 1.0).realize().unwrap();
        drop((e, f));
    }
    assert_eq!(dev.memory_in_use(), base);
    drop(keep);
}

/// llvmpipe stops a loop after 65,535 iterations per invocation, silently: a 2^24 sum gave
/// 16,776,960 on lavapipe, and 65,535 without opts. A long reduction is now split into two
/// kernels (partials, then their sum) that each fold at most 2^15 values per output, so the
/// answer is right under the heuristics and with no opts at all, on every device.
#[test]
fn long_reductions_are_split_and_right_without_opts() {
    let _serial = serial();
    let run = |y: &Tensor, noopt: bool| {
        let mut s = kiln::schedule(&[y]).unwrap();
        let kernels = s.kernels().len();
        if noopt {
            for i in 0..kernels {
                s.set_opts(i, &[]).unwrap();
            }
        }
        s.run().unwrap();
        kernels
    };
    for dev in devices() {
        let x = Tensor::ones_on(&[1 << 24], DType::F32, &dev)
            .contiguous()
            .realize()
            .unwrap();
        for noopt in [false, true] {
            let y = x.sum_all();
            assert_eq!(run(&y, noopt), 2, "{dev:?}");
            assert_eq!(
                y.item::<f32>().unwrap(),
                (1 << 24) as f32,
                "{dev:?} noopt={noopt}"
            );
            let rows = Tensor::ones_on(&[2, 100_000], DType::F32, &dev).sum(&[1]);
            run(&rows, noopt);
            assert_eq!(rows.to_vec::<f32>().unwrap(), vec![100_000.0; 2]);
            // 2^26 copies of 0.1 (a broadcast constant: no buffer) gave 0.025 on lavapipe.
            // Without opts the second stage is one plain loop over 2048 equal partials, the
            // worst case for rounding (1.6e-5 relative on the CPU device; 0 with the heuristics).
            let m = Tensor::full_on(&[1 << 26], 0.1, DType::F32, &dev).mean_all();
            run(&m, noopt);
            let got = m.item::<f32>().unwrap();
            let tol = if noopt { 1e-5 } else { 1e-7 };
            assert!((got - 0.1).abs() < tol, "{dev:?} noopt={noopt}: mean {got}");
        }
        // A prime length cannot be split evenly: it is padded with the reduction's identity.
        let n = 100_003;
        let mut v: Vec<i32> = (0..n as i32).map(|i| (i % 1000) - 500).collect();
        v[77_777] = 123_456;
        v[n - 1] = -654_321;
        let t = Tensor::from_slice_on(&v, &[n], &dev).unwrap();
        for noopt in [false, true] {
            let (mx, mn, sm) = (t.max_all(), t.min_all(), t.sum_all());
            for y in [&mx, &mn, &sm] {
                run(y, noopt);
            }
            assert_eq!(mx.item::<i32>().unwrap(), 123_456, "{dev:?}");
            assert_eq!(mn.item::<i32>().unwrap(), -654_321, "{dev:?}");
            assert_eq!(sm.item::<i32>().unwrap(), v.iter().sum::<i32>(), "{dev:?}");
        }
    }
}

/// `realize(&[x.sum_all(), x.mean_all()])` of a 4096x4096 random tensor gave 98.9 instead of
/// -151.6 with NOOPT on lavapipe. Both share one first stage (the partials of `x`) and one
/// second stage: 2 kernels, right with and without opts.
#[test]
fn sum_and_mean_of_16m_values_share_two_kernels() {
    let _serial = serial();
    let n = 4096;
    let mut rng = Rng::new(11);
    let data: Vec<f32> = (0..n * n).map(|_| rng.f32(-1.0, 1.0)).collect();
    let exact: f64 = data.iter().map(|&x| x as f64).sum();
    for dev in devices() {
        let x = Tensor::from_slice_on(&data, &[n, n], &dev).unwrap();
        for noopt in [false, true] {
            let (s, m) = (x.sum_all(), x.mean_all());
            let mut sched = kiln::schedule(&[&s, &m]).unwrap();
            assert_eq!(sched.kernels().len(), 2, "{dev:?}");
            if noopt {
                for i in 0..2 {
                    sched.set_opts(i, &[]).unwrap();
                }
            }
            sched.run().unwrap();
            let (gs, gm) = (
                s.item::<f32>().unwrap() as f64,
                m.item::<f32>().unwrap() as f64,
            );
            // |exact| is about 2,000: 0.05 is a few hundred f32 roundings of the total.
            let tol = 0.05;
            assert!(
                (gs - exact).abs() < tol,
                "{dev:?} noopt={noopt}: sum {gs}, want {exact}"
            );
            let (want, tol) = (exact / (n * n) as f64, tol / (n * n) as f64);
            assert!(
                (gm - want).abs() < tol,
                "{dev:?} noopt={noopt}: mean {gm}, want {want}"
            );
        }
    }
}

/// 10,000 squarings (a diamond per step) schedule, compile and run: every per-node analysis is
/// linear, and the fused depth bound splits the chain into 40 kernels of one program.
#[test]
fn ten_thousand_squarings_compile_and_run() {
    let _serial = serial();
    for dev in devices() {
        let x = Tensor::from_slice_on(&[1.0f32, -1.0, 1.0, -1.0], &[4], &dev).unwrap();
        let mut y = &x * 1.0;
        for _ in 0..10_000 {
            y = &y * &y;
        }
        let s = kiln::schedule(&[&y]).unwrap();
        assert_eq!(s.kernels().len(), 10_001usize.div_ceil(256));
        assert_eq!(y.to_vec::<f32>().unwrap(), vec![1.0; 4]);
    }
}

/// Broadcast nests over empty axes (found by random_graphs): a sum over an empty axis, read
/// inside another reduction, once loaded element 0 of an empty buffer. Strides along an axis
/// of length 0 vanish from index math, so the nest looked independent of its neighbours.
#[test]
fn nests_over_empty_axes() {
    let _g = serial();
    for shape in [[64usize, 0], [0, 64]] {
        let x = [rand_input(DType::F32, &shape, 1)];
        check3("sum(1).mean(0)", &x, |t| t[0].sum(&[1]).mean(&[0]));
        check3("sum(0).sum(0)", &x, |t| t[0].sum(&[0]).sum(&[0]));
        check3("x - max", &x, |t| &t[0] - &t[0].sum_keepdim(&[1]));
        if shape[0] > 0 {
            check3("softmax(0)", &x, |t| t[0].softmax(0));
        }
    }
}
