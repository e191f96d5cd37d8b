//! The browser suite: kiln in a real page on the browser's WebGPU adapter, each result
//! compared in the page against the CPU device. Run by `wasm-bindgen-test-runner` in headless
//! Chromium (see README, "In the browser"); natively this file is empty.
//!
//! A missing WebGPU adapter fails every GPU test: the suite must not pass by skipping.
#![cfg(all(target_arch = "wasm32", target_os = "unknown"))]

#[path = "../examples/fluid/solver.rs"]
mod solver;

use kiln::{DType, Device, Error, Tensor};
use wasm_bindgen_test::{console_log, wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

async fn gpu() -> Device {
    Device::gpu_async()
        .await
        .expect("no WebGPU adapter in this browser (run Chromium with --enable-unsafe-webgpu)")
}

/// Deterministic values in [lo, hi).
fn values(n: usize, seed: u64, lo: f32, hi: f32) -> Vec<f32> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            lo + (hi - lo) * ((s >> 40) as f32 / (1u64 << 24) as f32)
        })
        .collect()
}

/// `f` built on the GPU and on the CPU device from the same host data; the GPU's values read
/// asynchronously and compared with the CPU's within `tol` (absolute + relative). Returns the
/// kernels the GPU ran.
async fn against_cpu(
    what: &str,
    inputs: &[(Vec<f32>, Vec<usize>)],
    tol: f32,
    f: impl Fn(&[Tensor]) -> Tensor,
) -> u64 {
    let gpu = gpu().await;
    let build = |dev: &Device| -> Tensor {
        let ts: Vec<Tensor> = inputs
            .iter()
            .map(|(data, shape)| Tensor::from_slice_on(data, shape, dev).unwrap())
            .collect();
        f(&ts)
    };
    let on_cpu = build(&Device::cpu());
    let on_gpu = build(&gpu);
    let before = kiln::stats().kernels_launched;
    kiln::realize_async(&[&on_gpu]).await.unwrap();
    let kernels = kiln::stats().kernels_launched - before;
    let want = on_cpu.cast(DType::F32).to_vec::<f32>().unwrap();
    let got = on_gpu.cast(DType::F32).to_vec_async::<f32>().await.unwrap();
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert!(
            (g - w).abs() <= tol * (1.0 + w.abs()) || (g.is_nan() && w.is_nan()),
            "{what}: element {i}: GPU {g}, CPU {w}"
        );
    }
    console_log!("{what}: {} values agree, {kernels} kernels", got.len());
    kernels
}

#[wasm_bindgen_test]
async fn the_page_has_a_webgpu_adapter() {
    let gpu = gpu().await;
    assert!(!gpu.is_cpu());
    let l = gpu.limits();
    console_log!(
        "{}: {} storage buffers per stage, {} invocations per workgroup, {} B workgroup memory, {} B per binding, subgroups {:?}, native f16 {}",
        gpu.name(),
        l.max_storage_buffers,
        l.max_workgroup_size,
        l.workgroup_memory_bytes,
        l.max_binding_bytes,
        l.subgroup_sizes,
        l.native_f16
    );
    // The page's WGSL does not enable subgroups, so kernels must not use them.
    assert_eq!(l.subgroup_sizes, None);
    assert_eq!(
        Device::gpu().unwrap(),
        gpu,
        "the opened device is the process's one"
    );
    assert_eq!(
        kiln::default_device().unwrap(),
        gpu,
        "the default device once opened"
    );
}

#[wasm_bindgen_test]
async fn blocking_calls_name_the_async_call_to_use() {
    let gpu = gpu().await;
    let x = Tensor::from_slice_on(&[1.0f32, 2.0, 3.0], &[3], &gpu).unwrap();
    let y = &x * 2.0;
    match y.to_vec::<f32>() {
        Err(Error::WouldBlock { call, use_instead }) => {
            assert_eq!(call, "Tensor::to_vec");
            assert!(use_instead.contains("to_vec_async"), "{use_instead}");
        }
        other => panic!("to_vec in the page: {other:?}"),
    }
    let s = x.sum_all();
    let e = s.item::<f32>().unwrap_err();
    assert!(e.to_string().contains("item_async"), "{e}");
    let e = y.to(&Device::cpu()).unwrap_err();
    assert!(e.to_string().contains("to_async"), "{e}");
    let sched = kiln::schedule(&[&s]).unwrap();
    let e = sched.kernels()[0].time(&gpu, 1).unwrap_err();
    assert!(e.to_string().contains("time_async"), "{e}");
    // Realizing does not wait, so it works; the values come by the async reads.
    kiln::realize(&[&y, &s]).unwrap();
    assert_eq!(y.to_vec_async::<f32>().await.unwrap(), vec![2.0, 4.0, 6.0]);
    assert_eq!(s.item_async::<f32>().await.unwrap(), 6.0);
    let back = y.to_async(&Device::cpu()).await.unwrap();
    assert_eq!(back.to_vec::<f32>().unwrap(), vec![2.0, 4.0, 6.0]);
}

#[wasm_bindgen_test]
fn the_cpu_device_runs_in_the_page() {
    let cpu = Device::cpu();
    let x = Tensor::from_slice_on(&values(1000, 1, -2.0, 2.0), &[10, 100], &cpu).unwrap();
    let y = x.softmax(-1).sum(&[1]);
    for v in y.to_vec::<f32>().unwrap() {
        assert!((v - 1.0).abs() < 1e-5, "{v}");
    }
}

#[wasm_bindgen_test]
async fn fused_elementwise_is_one_kernel() {
    let n = 10_007;
    let inputs = [
        (values(n, 2, -3.0, 3.0), vec![n]),
        (values(n, 3, 0.5, 4.0), vec![n]),
    ];
    let kernels = against_cpu("elementwise", &inputs, 1e-5, |t| {
        ((&t[0] * &t[1]).exp2() + t[1].log()).sqrt().maximum(&t[0])
    })
    .await;
    assert_eq!(kernels, 1);
}

#[wasm_bindgen_test]
async fn a_long_reduction_is_split_into_two_kernels() {
    let n = 1 << 20;
    let inputs = [(values(n, 4, 0.0, 1.0), vec![n])];
    let kernels = against_cpu("sum of 2^20", &inputs, 1e-4, |t| t[0].sum_all()).await;
    assert_eq!(kernels, 2);
}

#[wasm_bindgen_test]
async fn softmax_and_matmul() {
    let x = [(values(64 * 1000, 5, -8.0, 8.0), vec![64, 1000])];
    against_cpu("softmax [64, 1000]", &x, 1e-5, |t| t[0].softmax(-1)).await;
    let ab = [
        (values(67 * 129, 6, -1.0, 1.0), vec![67, 129]),
        (values(129 * 33, 7, -1.0, 1.0), vec![129, 33]),
    ];
    against_cpu("matmul 67x129 @ 129x33", &ab, 1e-4, |t| t[0].matmul(&t[1])).await;
    let sq = [
        (values(256 * 256, 8, -1.0, 1.0), vec![256, 256]),
        (values(256 * 256, 9, -1.0, 1.0), vec![256, 256]),
    ];
    against_cpu("matmul 256^2", &sq, 1e-4, |t| t[0].matmul(&t[1])).await;
}

#[wasm_bindgen_test]
async fn a_kernel_is_cut_to_the_storage_buffer_limit() {
    let gpu = gpu().await;
    let limit = gpu.limits().max_storage_buffers;
    let count = 2 * limit + 3;
    let inputs: Vec<(Vec<f32>, Vec<usize>)> = (0..count)
        .map(|i| (values(333, 100 + i as u64, -1.0, 1.0), vec![333]))
        .collect();
    let sum_of_all = |t: &[Tensor]| t.iter().skip(1).fold(t[0].clone(), |acc, x| &acc + x);
    let ts: Vec<Tensor> = inputs
        .iter()
        .map(|(d, s)| Tensor::from_slice_on(d, s, &gpu).unwrap())
        .collect();
    let s = kiln::schedule(&[&sum_of_all(&ts)]).unwrap();
    for k in s.kernels() {
        assert!(
            k.buffers().len() <= limit,
            "{} binds {}",
            k.name(),
            k.buffers().len()
        );
    }
    let kernels = against_cpu(&format!("sum of {count} inputs"), &inputs, 1e-5, sum_of_all).await;
    assert!(
        kernels > 1,
        "{count} inputs under a limit of {limit}: {kernels} kernels"
    );
}

#[wasm_bindgen_test]
async fn f16_natively_where_the_adapter_has_it() {
    let gpu = gpu().await;
    console_log!("native f16: {}", gpu.native_f16());
    let inputs = [
        (values(1001, 10, -4.0, 4.0), vec![7, 143]),
        (values(1001, 11, 0.5, 2.0), vec![7, 143]),
    ];
    // + - * and casts agree bit for bit; division in the last place.
    against_cpu("f16 arithmetic", &inputs, 0.0, |t| {
        let (a, b) = (t[0].cast(DType::F16), t[1].cast(DType::F16));
        &(&a * &b) + &(&a - &b)
    })
    .await;
    against_cpu("f16 sum and division", &inputs, 2e-3, |t| {
        let (a, b) = (t[0].cast(DType::F16), t[1].cast(DType::F16));
        (&a / &b).sum(&[1])
    })
    .await;
}

#[wasm_bindgen_test]
async fn gather_and_its_index_check() {
    let table = [(values(50 * 8, 12, -1.0, 1.0), vec![50, 8])];
    against_cpu("index_select", &table, 0.0, |t| {
        let index: Vec<i32> = (0..20).map(|i| (i * 7) % 50).collect();
        let index = Tensor::from_slice_on(&index, &[20], t[0].device()).unwrap();
        t[0].index_select(0, &index)
    })
    .await;
    let gpu = gpu().await;
    let t = Tensor::from_slice_on(&table[0].0, &[50, 8], &gpu).unwrap();
    let bad = Tensor::from_slice_on(&[3i32, 50], &[2], &gpu).unwrap();
    let got = t.index_select(0, &bad).to_vec_async::<f32>().await;
    assert!(
        matches!(
            got,
            Err(Error::IndexOutOfRange {
                index: 50,
                len: 50,
                ..
            })
        ),
        "{got:?}"
    );
}

#[wasm_bindgen_test]
async fn kernels_are_timed_by_the_clock() {
    let gpu = gpu().await;
    let a = Tensor::from_slice_on(&values(128 * 128, 13, -1.0, 1.0), &[128, 128], &gpu).unwrap();
    let s = kiln::schedule(&[&a.matmul(&a)]).unwrap();
    let t = s.kernels()[0].time_async(&gpu, 3).await.unwrap();
    console_log!("matmul 128^2: {t:?} (clock)");
    assert!(t.as_secs_f64() > 0.0);
}

#[wasm_bindgen_test]
async fn scans_sorts_scatters_and_the_nn_ops() {
    let x = [(values(6 * 300, 14, -3.0, 3.0), vec![6, 300])];
    against_cpu("cumsum", &x, 1e-4, |t| t[0].cumsum(-1)).await;
    against_cpu("cummax", &x, 0.0, |t| t[0].cummax(-1)).await;
    against_cpu("sort", &x, 0.0, |t| t[0].sort(-1, false).0).await;
    against_cpu("argsort", &x, 0.0, |t| t[0].argsort(-1, true)).await;
    against_cpu("argmax", &x, 0.0, |t| t[0].argmax(-1)).await;
    against_cpu("median", &x, 0.0, |t| t[0].median(-1)).await;
    against_cpu("logsumexp", &x, 1e-5, |t| t[0].logsumexp(&[-1])).await;
    against_cpu("scatter_add", &x, 1e-5, |t| {
        let index: Vec<i32> = (0..6 * 300).map(|i| (i * 13 % 7) as i32).collect();
        let index = Tensor::from_slice_on(&index, &[6, 300], t[0].device()).unwrap();
        Tensor::zeros_on(&[6, 7], DType::F32, t[0].device()).scatter_add(-1, &index, &t[0])
    })
    .await;
    against_cpu("cat, roll, pad", &x, 0.0, |t| {
        let padded = t[0].pad_with(&[(1, 2), (3, 0)], kiln::PadMode::Reflect);
        Tensor::cat(&[&padded.roll(5, 1), &padded], 0)
    })
    .await;
    let img = [
        (values(2 * 3 * 17 * 19, 15, -1.0, 1.0), vec![2, 3, 17, 19]),
        (values(4 * 3 * 3 * 3, 16, -1.0, 1.0), vec![4, 3, 3, 3]),
    ];
    against_cpu("conv2d + max_pool2d", &img, 1e-4, |t| {
        let opts = kiln::Conv2dOptions {
            padding: (1, 1),
            ..Default::default()
        };
        t[0].conv2d_with(&t[1], None, opts)
            .relu()
            .max_pool2d(2, 2, 0)
    })
    .await;
}

#[wasm_bindgen_test]
async fn random_numbers_are_the_cpu_devices_bit_for_bit() {
    let gpu = gpu().await;
    kiln::manual_seed(7);
    let on_gpu = Tensor::rand_on(&[1000], DType::F32, &gpu);
    let on_gpu = on_gpu.to_vec_async::<f32>().await.unwrap();
    kiln::manual_seed(7);
    let on_cpu = Tensor::rand_on(&[1000], DType::F32, &Device::cpu());
    assert_eq!(on_gpu, on_cpu.to_vec::<f32>().unwrap());
    assert!(on_gpu.iter().all(|v| (0.0..1.0).contains(v)));
}

/// The fluid demo's solver in the page: steps per second and kernels per step at 256x256
/// (BENCHMARKS.md, "Fluid"), and its invariants: the projection leaves little divergence and
/// advection keeps the dye.
#[wasm_bindgen_test]
async fn the_fluid_solver_steps_in_the_page() {
    let gpu = gpu().await;
    let n = 256;
    let mut f = solver::Fluid::new(n, &gpu);
    let blob: Vec<f32> = (0..n * n)
        .map(|k| {
            let (y, x) = ((k / n) as f32 - 128.0, (k % n) as f32 - 100.0);
            (-(y * y + x * x) / 200.0).exp()
        })
        .collect();
    f.dye = Tensor::from_slice_on(&blob, &[n, n], &gpu).unwrap();
    f.u = &f.dye * 3.0f32;
    f.v = &f.dye * -2.0f32;
    let total = |t: &Tensor| t.sum_all();
    let start = total(&f.dye).item_async::<f32>().await.unwrap();
    let zero = Tensor::zeros_on(&[n, n], DType::F32, &gpu);
    let mut timed = (0, 0.0, 0);
    for step in 0..12 {
        let (k0, t0) = (kiln::stats().kernels_launched, web_time_now());
        f.step((&zero, &zero), &zero, 0.5, 40).unwrap();
        kiln::realize_async(&[&f.dye]).await.unwrap();
        console_log!("step {step}: {:.0} ms", web_time_now() - t0);
        if step >= 2 {
            // Past the first steps' compiling.
            timed.0 += 1;
            timed.1 += web_time_now() - t0;
            timed.2 += kiln::stats().kernels_launched - k0;
        }
    }
    console_log!(
        "fluid 256x256 in the page: {:.1} steps/s, {} kernels a step",
        timed.0 as f64 * 1000.0 / timed.1,
        timed.2 / timed.0
    );
    let end = total(&f.dye).item_async::<f32>().await.unwrap();
    assert!((end - start).abs() < 0.05 * start, "dye {start} -> {end}");
    let div = solver::divergence(&f.u, &f.v).abs().max_all();
    let speed = f.u.abs().max_all();
    let (div, speed) = (
        div.item_async::<f32>().await.unwrap(),
        speed.item_async::<f32>().await.unwrap(),
    );
    assert!(
        div < 0.05 * speed.max(1e-3),
        "divergence {div} at speed {speed}"
    );
}

/// Milliseconds on the page's clock.
fn web_time_now() -> f64 {
    js_sys::Date::now()
}

/// A trace recorded in the page names its kernels and says they were not timed (a realize
/// cannot wait there); `Kernel::time_async` is the way to time them.
#[wasm_bindgen_test]
async fn a_trace_in_the_page_says_its_kernels_are_untimed() {
    let gpu = gpu().await;
    let x = Tensor::from_slice_on(&values(4096, 17, -1.0, 1.0), &[64, 64], &gpu).unwrap();
    kiln::trace::start().unwrap();
    let y = x.softmax(-1);
    kiln::realize_async(&[&y]).await.unwrap();
    let trace = kiln::trace::stop();
    let kernels: Vec<_> = trace.kernels().collect();
    assert!(!kernels.is_empty());
    for k in kernels {
        assert_eq!(k.clock, "none (browser)", "{}", k.name);
        assert_eq!(k.time_us, None);
        assert!(k.wgsl.contains("@compute"), "{}", k.name);
    }
}

/// A loop of gathers realized without reading: their index checks pile up on the value, and
/// past 64 they are read on the page's event loop (a blocking read is not possible there).
#[wasm_bindgen_test]
async fn index_checks_of_a_long_loop_are_read_on_the_event_loop() {
    let gpu = gpu().await;
    let index = Tensor::from_slice_on(&[1i32, 2, 3, 0], &[4], &gpu).unwrap();
    let mut x = Tensor::from_slice_on(&[1.0f32, 2.0, 3.0, 4.0], &[4], &gpu).unwrap();
    let before = kiln::stats().buffers_read;
    for _ in 0..100 {
        x = &x.index_select(0, &index) + 1.0;
        kiln::realize_async(&[&x]).await.unwrap();
    }
    assert!(kiln::stats().buffers_read > before, "no status was read");
    // 100 rotations by one of 4 elements, each plus 1.
    let v = x.to_vec_async::<f32>().await.unwrap();
    assert_eq!(v, vec![101.0, 102.0, 103.0, 104.0]);
}

/// DEBUG output in a page goes to the browser's console (stderr goes nowhere there).
#[wasm_bindgen_test]
async fn debug_output_goes_to_the_console() {
    let gpu = gpu().await;
    js_sys::eval(
        "globalThis.kilnLines = []; globalThis.kilnLog = console.log; \
         console.log = (...a) => { globalThis.kilnLines.push(a.join(' ')); globalThis.kilnLog(...a); };",
    )
    .unwrap();
    kiln::debug::set_level(3);
    let x = Tensor::from_slice_on(&values(300, 18, -1.0, 1.0), &[300], &gpu).unwrap();
    let y = &(&x * 3.0).exp().sum_all() * 7.25;
    let done = kiln::realize_async(&[&y]).await;
    kiln::debug::set_level(0);
    let lines = js_sys::eval("console.log = globalThis.kilnLog; globalThis.kilnLines.join('\\n')")
        .unwrap()
        .as_string()
        .unwrap();
    done.unwrap();
    assert!(lines.contains("scheduled"), "DEBUG=1's line: {lines}");
    assert!(lines.contains("opts: ("), "DEBUG=3's kernel: {lines}");
}
