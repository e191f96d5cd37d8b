//! `cargo bench --bench kernels [-- --json PATH] [-- --only a,d]`: the device's roofline probes,
//! then the peers' workloads (../shared/reference/burn-wgpu-lavapipe.md, same ids and shapes)
//! on the default device, and host-overhead rows. Prints a table; never asserts a time.
//!
//! Per workload: kernels scheduled; GPU time = the sum of its kernels' median times over
//! several runs (`Kernel::time`: timestamps where the adapter has them); effective GB/s
//! (inputs read + outputs written once) and GFLOPS; the fraction of the copy probe (or of the
//! FMA probe for matmuls): each of the runs is paired with a probe measured just before it
//! and the row gives the median of the paired ratios, since a shared machine drifts by 2-3x
//! within minutes and a ratio means something only between figures taken together; the
//! speedup over the same kernels under NOOPT; and the first call (schedule + codegen +
//! pipeline creation + run, wall clock, in a fresh graph).

use std::time::{Duration, Instant};

use kiln::{DType, Device, Tensor};

struct Workload {
    id: &'static str,
    name: &'static str,
    inputs: Vec<Vec<usize>>,
    flops: f64,
    /// Compute-bound (judged against the FMA probe) rather than memory-bound.
    compute: bool,
    /// The inputs' dtype.
    dtype: DType,
    build: fn(&[Tensor]) -> Vec<Tensor>,
    /// Bytes the work must move when it reads only part of its inputs (a gather reads its
    /// indices, the elements they name, and writes as many); `None`: inputs + outputs.
    touched: Option<f64>,
}

fn workloads() -> Vec<Workload> {
    let mut all = f32_workloads();
    all.extend(shape_workloads());
    let m = 1024usize;
    let mm_flops = 2.0 * (m as f64).powi(3);
    // The packed dtypes: the same elementwise kernel and matmul over f16, bf16 and u8 inputs.
    let packed = [
        ("a16", "(a+b)*c 4096x4096 f16", DType::F16),
        ("ab16", "(a+b)*c 4096x4096 bf16", DType::BF16),
        ("au8", "(a+b)*c 4096x4096 u8", DType::U8),
    ];
    for (id, name, dtype) in packed {
        all.push(Workload {
            id,
            name,
            inputs: vec![vec![4096, 4096]; 3],
            flops: 2.0 * 16777216.0,
            compute: false,
            dtype,
            touched: None,
            build: |t| vec![&(&t[0] + &t[1]) * &t[2]],
        });
    }
    for (id, name, dtype) in [
        ("d16", "matmul 1024^3 f16 (f32 accumulation)", DType::F16),
        ("db16", "matmul 1024^3 bf16 (f32 accumulation)", DType::BF16),
    ] {
        all.push(Workload {
            id,
            name,
            inputs: vec![vec![m, m]; 2],
            flops: mm_flops,
            compute: true,
            dtype,
            touched: None,
            build: |t| vec![t[0].matmul(&t[1])],
        });
    }
    all
}

/// The joining, slicing, arg-reduction and pooling ops (burn's reference rows q, r, u1, u2),
/// each materialized so that its one kernel runs.
fn shape_workloads() -> Vec<Workload> {
    let pool = vec![vec![8, 32, 64, 64]];
    let copy = |id, name, inputs: Vec<Vec<usize>>, build| Workload {
        id,
        name,
        inputs,
        flops: 0.0,
        compute: false,
        dtype: DType::F32,
        build,
        touched: None,
    };
    vec![
        Workload {
            flops: 16777216.0,
            ..copy("q", "argmax(1) 4096x4096", vec![vec![4096, 4096]], |t| {
                vec![t[0].argmax(1)]
            })
        },
        Workload {
            flops: 16777216.0,
            ..copy(
                "r",
                "cat 4x(1024,4096) dim0, then +1.0",
                vec![vec![1024, 4096]; 4],
                |t| vec![&Tensor::cat(&[&t[0], &t[1], &t[2], &t[3]], 0) + 1.0f32],
            )
        },
        copy(
            "roll",
            "roll(1000, 1) 4096x4096",
            vec![vec![4096, 4096]],
            |t| vec![t[0].roll(1000, 1).contiguous()],
        ),
        copy(
            "rep",
            "repeat([1, 4]) 4096x1024",
            vec![vec![4096, 1024]],
            |t| vec![t[0].repeat(&[1, 4]).contiguous()],
        ),
        copy(
            "sl",
            "slice(1, 1, end, 2) 4096x4096",
            vec![vec![4096, 4096]],
            |t| vec![t[0].slice(1, 1, isize::MAX, 2).contiguous()],
        ),
        copy(
            "padr",
            "pad_with reflect 64 4096x4096",
            vec![vec![4096, 4096]],
            |t| vec![t[0].pad_with(&[(0, 0), (64, 64)], kiln::PadMode::Reflect)],
        ),
        Workload {
            // Reads 4096x512 indices and as many elements, writes as many.
            touched: Some(3.0 * 4.0 * 4096.0 * 512.0),
            ..copy(
                "n",
                "gather x(4096,4096) dim1 idx(4096,512) (take_along_axis)",
                vec![vec![4096, 4096], vec![4096, 512]],
                |t| vec![t[0].gather(1, &positions(&t[1], 4096))],
            )
        },
        Workload {
            // Reads 4096 indices and 4096 rows of 512, writes as many.
            touched: Some(4.0 * 4096.0 + 2.0 * 4.0 * 4096.0 * 512.0),
            ..copy(
                "s",
                "embedding: table(32000,512).index_select(0, idx(4096))",
                vec![vec![32000, 512], vec![4096]],
                |t| vec![t[0].index_select(0, &positions(&t[1], 32000))],
            )
        },
        copy("o", "cumsum(1) 4096x4096", vec![vec![4096, 4096]], |t| {
            vec![t[0].cumsum(1)]
        }),
        copy("o24", "cumsum of a 2^24 vector", vec![vec![1 << 24]], |t| {
            vec![t[0].cumsum(0)]
        }),
        copy(
            "p",
            "sort(1) values 4096x1024",
            vec![vec![4096, 1024]],
            |t| vec![t[0].sort(1, false).0],
        ),
        copy(
            "p2",
            "sort(1) values and indices 4096x1024",
            vec![vec![4096, 1024]],
            |t| {
                let (v, i) = t[0].sort(1, false);
                vec![v, i]
            },
        ),
        copy(
            "p20",
            "sort of a 2^20 vector, values and indices",
            vec![vec![1 << 20]],
            |t| {
                let (v, i) = t[0].sort(0, false);
                vec![v, i]
            },
        ),
        Workload {
            // Reads the table and 4096 rows of updates, writes the table.
            touched: Some(4.0 * (2.0 * 32000.0 * 512.0 + 4096.0 * 512.0 + 4096.0)),
            ..copy(
                "sa",
                "embedding grad: table(32000,512).scatter_add(0, idx(4096) rows, src(4096,512))",
                vec![vec![32000, 512], vec![4096, 1], vec![4096, 512]],
                |t| vec![t[0].scatter_add(0, &rows_of(&t[1], 32000, 512), &t[2])],
            )
        },
        Workload {
            touched: Some(4.0 * (2.0 * 32000.0 * 512.0 + 4096.0 * 512.0 + 4096.0)),
            ..copy(
                "sc",
                "table(32000,512).scatter(0, idx(4096) rows, src(4096,512))",
                vec![vec![32000, 512], vec![4096, 1], vec![4096, 512]],
                |t| vec![t[0].scatter(0, &rows_of(&t[1], 32000, 512), &t[2])],
            )
        },
        copy(
            "md",
            "median of a 2^24 vector (radix select)",
            vec![vec![1 << 24]],
            |t| vec![t[0].median(0)],
        ),
        Workload {
            flops: 8.0 * 32.0 * 64.0 * 64.0,
            ..copy("u1", "max_pool2d k2 s2 x(8,32,64,64)", pool.clone(), |t| {
                vec![t[0].max_pool2d(2, 2, 0)]
            })
        },
        Workload {
            flops: 8.0 * 32.0 * 64.0 * 64.0,
            ..copy("u2", "avg_pool2d k2 s2 x(8,32,64,64)", pool, |t| {
                vec![t[0].avg_pool2d(2, 2, 0)]
            })
        },
    ]
}

fn f32_workloads() -> Vec<Workload> {
    let m = 1024usize;
    let mm_flops = 2.0 * (m as f64).powi(3);
    vec![
        Workload {
            id: "a",
            name: "(a+b)*c 4096x4096",
            inputs: vec![vec![4096, 4096]; 3],
            flops: 2.0 * 16777216.0,
            compute: false,
            dtype: DType::F32,
            touched: None,
            build: |t| vec![&(&t[0] + &t[1]) * &t[2]],
        },
        Workload {
            id: "b",
            name: "(a*b).sum(1) 4096x4096",
            inputs: vec![vec![4096, 4096]; 2],
            flops: 2.0 * 16777216.0,
            compute: false,
            dtype: DType::F32,
            touched: None,
            build: |t| vec![(&t[0] * &t[1]).sum(&[1])],
        },
        Workload {
            id: "c",
            name: "softmax(-1) 4096x4096",
            inputs: vec![vec![4096, 4096]],
            flops: 5.0 * 16777216.0,
            compute: false,
            dtype: DType::F32,
            touched: None,
            build: |t| vec![t[0].softmax(-1)],
        },
        Workload {
            id: "w",
            name: "MLP train step: B=512, 784-1024-1024-10 (ReLU), cross-entropy, gradients, SGD",
            inputs: vec![
                vec![512, 784],
                vec![784, 1024],
                vec![1024],
                vec![1024, 1024],
                vec![1024],
                vec![1024, 10],
                vec![10],
                vec![512],
            ],
            // burn's count: the forward, dW of the 3 layers and dX of layers 2 and 3.
            flops: 4.897e9,
            compute: true,
            dtype: DType::F32,
            touched: None,
            build: mlp_step,
        },
        Workload {
            id: "d",
            name: "matmul 1024^3",
            inputs: vec![vec![m, m]; 2],
            flops: mm_flops,
            compute: true,
            dtype: DType::F32,
            touched: None,
            build: |t| vec![t[0].matmul(&t[1])],
        },
        Workload {
            id: "e",
            name: "relu(a@b + bias) 1024",
            inputs: vec![vec![m, m], vec![m, m], vec![m]],
            flops: mm_flops,
            compute: true,
            dtype: DType::F32,
            touched: None,
            build: |t| vec![(&t[0].matmul(&t[1]) + &t[2]).relu()],
        },
        Workload {
            id: "f",
            name: "layernorm(-1) no affine 4096x1024",
            inputs: vec![vec![4096, 1024]],
            flops: 8.0 * 4194304.0,
            compute: false,
            dtype: DType::F32,
            touched: None,
            build: |t| vec![t[0].layer_norm(-1, 1e-5)],
        },
        Workload {
            id: "g",
            name: "sum and mean of x 4096x4096",
            inputs: vec![vec![4096, 4096]],
            flops: 16777216.0,
            compute: false,
            dtype: DType::F32,
            touched: None,
            build: |t| vec![t[0].sum_all(), t[0].mean_all()],
        },
        Workload {
            id: "h",
            name: "mean(0) and var(0) 4096x1024",
            inputs: vec![vec![4096, 1024]],
            flops: 4.0 * 4194304.0,
            compute: false,
            dtype: DType::F32,
            touched: None,
            build: |t| vec![t[0].mean(&[0]), t[0].var(&[0], 1.0)],
        },
        Workload {
            id: "i",
            name: "sqrt(log(exp(x))) 2^24",
            inputs: vec![vec![1 << 24]],
            flops: 3.0 * 16777216.0,
            compute: false,
            dtype: DType::F32,
            touched: None,
            build: |t| vec![t[0].exp().log().sqrt()],
        },
        Workload {
            id: "j",
            name: "reshape(64^4).permute(3,2,1,0) materialized",
            inputs: vec![vec![1 << 24]],
            flops: 0.0,
            compute: false,
            dtype: DType::F32,
            touched: None,
            build: |t| {
                vec![t[0]
                    .reshape(&[64, 64, 64, 64])
                    .permute(&[3, 2, 1, 0])
                    .contiguous()]
            },
        },
        Workload {
            id: "k",
            name: "max(1) 4096x4096",
            inputs: vec![vec![4096, 4096]],
            flops: 16777216.0,
            compute: false,
            dtype: DType::F32,
            touched: None,
            build: |t| vec![t[0].max(&[1])],
        },
        Workload {
            id: "l",
            name: "conv2d x(8,32,64,64) w(64,32,3,3) pad 1",
            inputs: vec![vec![8, 32, 64, 64], vec![64, 32, 3, 3]],
            flops: 2.0 * (8 * 64 * 64 * 64 * 32 * 9) as f64,
            compute: true,
            dtype: DType::F32,
            touched: None,
            build: |t| vec![t[0].conv2d(&t[1], 1, 1)],
        },
        Workload {
            id: "m",
            name: "a.T@b 1024",
            inputs: vec![vec![m, m]; 2],
            flops: mm_flops,
            compute: true,
            dtype: DType::F32,
            touched: None,
            build: |t| vec![t[0].transpose(0, 1).matmul(&t[1])],
        },
    ]
}

/// Indices in `0..len` from an input's values in [0.1, 1.1): computed in the kernel that
/// reads them (the same bytes as reading i32 indices).
fn positions(t: &Tensor, len: usize) -> Tensor {
    ((t - 0.1f32) * len as f32).cast(DType::I32)
}

/// One SGD step of an MLP (burn's reference row w): the loss and the six new parameters.
fn mlp_step(t: &[Tensor]) -> Vec<Tensor> {
    // The parameters are the realized inputs, as in training (their values in [0.1, 1.1)
    // make large but finite logits; the time does not depend on them).
    let params = &t[1..7];
    let h1 = (t[0].matmul(&params[0]) + &params[1]).relu();
    let h2 = (h1.matmul(&params[2]) + &params[3]).relu();
    let logits = h2.matmul(&params[4]) + &params[5];
    let loss = logits.cross_entropy(&positions(&t[7], 10));
    let refs: Vec<&Tensor> = params.iter().collect();
    let grads = loss.gradient(&refs);
    let mut out = vec![loss];
    out.extend(params.iter().zip(&grads).map(|(p, g)| p - &(g * 0.01f32)));
    out
}

/// Row indices into `len` rows from `[k, 1]` values, repeated along `width` columns (the
/// index of a scatter of whole rows).
fn rows_of(t: &Tensor, len: usize, width: usize) -> Tensor {
    positions(t, len).expand(&[t.shape()[0], width])
}

/// Values in [0.1, 1.1) (0..=255 for u8), realized in `dtype`.
fn input(dev: &Device, shape: &[usize], seed: u64, dtype: DType) -> Tensor {
    let n: usize = shape.iter().product();
    let mut s = seed.wrapping_mul(0x9E3779B97F4A7C15) | 1;
    let data: Vec<f32> = (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            0.1 + (s >> 40) as f32 / (1u64 << 24) as f32
        })
        .collect();
    let x = Tensor::from_slice_on(&data, shape, dev).expect("upload");
    if dtype == DType::F32 {
        return x;
    }
    let scale = if dtype == DType::U8 { 200.0 } else { 1.0 };
    let t = (&x * scale).cast(dtype);
    kiln::realize(&[&t]).expect("realize");
    t
}

/// Waits for `t` by reading one of its elements.
fn sync(t: &Tensor) {
    let one = t.reshape(&[-1]).shrink(&[(0, 1)]);
    let _ = match t.dtype() {
        DType::F16 => one.to_vec::<kiln::f16>().map(|_| ()),
        DType::BF16 => one.to_vec::<kiln::bf16>().map(|_| ()),
        DType::U8 => one.to_vec::<u8>().map(|_| ()),
        _ => one.to_vec::<f32>().map(|_| ()),
    };
}

/// Σ over the kernels of `outs`' schedule of each kernel's median time (NOOPT: the schedule
/// `NOOPT=1` runs, `kiln::schedule_noopt`). `None` when the device refuses a kernel (NOOPT
/// loops longer than llvmpipe allows).
fn gpu_time(dev: &Device, outs: &[Tensor], noopt: bool, runs: usize) -> (usize, Option<Duration>) {
    let refs: Vec<&Tensor> = outs.iter().collect();
    let s = if noopt {
        kiln::schedule_noopt(&refs)
    } else {
        kiln::schedule(&refs)
    }
    .expect("schedule");
    let mut total = Duration::ZERO;
    for k in s.kernels() {
        match k.time(dev, runs) {
            Ok(t) => total += t,
            Err(kiln::Error::Unsupported { message, .. }) if noopt => {
                eprintln!("NOOPT of {}: {message}", k.name());
                return (s.kernels().len(), None);
            }
            Err(e) => panic!("timing {}: {e}", k.name()),
        }
    }
    (s.kernels().len(), Some(total))
}

/// Runs of each workload, each paired with a probe.
const RUNS: usize = 5;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let json_path = args
        .iter()
        .position(|a| a == "--json")
        .and_then(|i| args.get(i + 1))
        .cloned();
    let only: Option<Vec<String>> = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1))
        .map(|s| s.split(',').map(str::to_string).collect());
    let dev = kiln::default_device().expect("a device");
    println!("device: {}", dev.name());
    let roof = kiln::roofline::measure(&dev, 5).ok();
    match roof {
        Some(r) => println!(
            "roofline probes: copy {:.2} GB/s, FMA {:.2} GFLOPS",
            r.copy_gbs, r.fma_gflops
        ),
        None => println!("roofline probes: n/a on {}", dev.name()),
    }
    println!(
        "\n| id | workload | kernels | GPU ms | GB/s | GFLOPS | probe | % of probe | x NOOPT | first call ms |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    let mut rows = vec![];
    let mut probes_seen: Vec<kiln::roofline::Roofline> = roof.into_iter().collect();
    for w in workloads() {
        if only.as_ref().is_some_and(|o| !o.iter().any(|x| x == w.id)) {
            continue;
        }
        let ins: Vec<Tensor> = w
            .inputs
            .iter()
            .enumerate()
            .map(|(i, s)| input(&dev, s, i as u64 + 1, w.dtype))
            .collect();
        let bytes_in: usize = w
            .inputs
            .iter()
            .map(|s| s.iter().product::<usize>() * w.dtype.storage_bytes())
            .sum();
        // First call: a fresh graph, compiled and run once.
        let t0 = Instant::now();
        let outs = (w.build)(&ins);
        kiln::realize(&outs.iter().collect::<Vec<_>>()).expect("realize");
        sync(&outs[0]);
        let first = t0.elapsed();
        let bytes_out: usize = outs
            .iter()
            .map(|o| o.numel() * o.dtype().storage_bytes())
            .sum();
        let bytes = w.touched.unwrap_or((bytes_in + bytes_out) as f64);
        let fresh = (w.build)(&ins);
        // Each run paired with a probe taken just before it: the machine drifts by 2x within
        // minutes (phases of about 6 and 10 GB/s on this VM), and a ratio means something
        // only between figures taken together. The row gives the median time and the median
        // of the paired ratios.
        let mut times = vec![];
        let mut pairs: Vec<(f64, f64)> = vec![]; // (probe, the run's figure against it)
        let mut kernels = 0;
        for _ in 0..RUNS {
            let probe = roof.and_then(|_| kiln::roofline::measure(&dev, 1).ok());
            probes_seen.extend(probe);
            // (3 runs, the median: `Kernel::time` allocates fresh buffers, and the first run
            // over them pays the first touch of their pages.)
            let (n, t) = gpu_time(&dev, &fresh, false, 3);
            let secs = t.expect("the heuristics' kernels run").as_secs_f64();
            kernels = n;
            times.push(secs);
            if let Some(r) = probe {
                pairs.push(if w.compute {
                    (r.fma_gflops, w.flops / secs * 1e-9)
                } else {
                    (r.copy_gbs, bytes / secs * 1e-9)
                });
            }
        }
        // NOOPT can be 30x slower: fewer runs.
        let (_, t_noopt) = gpu_time(&dev, &fresh, true, if w.compute { 1 } else { 3 });
        let secs = median(times);
        let gbs = bytes / secs * 1e-9;
        let gflops = w.flops / secs * 1e-9;
        let probe_value = (!pairs.is_empty()).then(|| median(pairs.iter().map(|p| p.0).collect()));
        let probe =
            (!pairs.is_empty()).then(|| median(pairs.iter().map(|(p, x)| x / p * 100.0).collect()));
        let probe_label = probe_value.map_or("n/a".to_string(), |v| {
            format!("{v:.2} {}", if w.compute { "GFLOPS" } else { "GB/s" })
        });
        let speedup = t_noopt.map(|n| n.as_secs_f64() / secs);
        println!(
            "| {} | {} | {} | {:.2} | {:.2} | {:.2} | {} | {} | {} | {:.0} |",
            w.id,
            w.name,
            kernels,
            secs * 1e3,
            gbs,
            gflops,
            probe_label,
            probe.map_or("n/a".to_string(), |p| format!("{p:.0}%")),
            speedup.map_or("n/a".to_string(), |x| format!("{x:.1}")),
            first.as_secs_f64() * 1e3
        );
        rows.push(serde_json::json!({
            "id": w.id, "workload": w.name, "kernels": kernels, "gpu_ms": secs * 1e3,
            "gb_per_s": gbs, "gflops": gflops, "probe": probe_value, "percent_of_probe": probe,
            "speedup_over_noopt": speedup, "first_call_ms": first.as_secs_f64() * 1e3,
        }));
    }
    let range = |f: fn(&kiln::roofline::Roofline) -> f64| {
        let v = probes_seen.iter().map(f);
        (
            v.clone().fold(f64::INFINITY, f64::min),
            v.fold(0.0, f64::max),
        )
    };
    let (copy_range, fma_range) = (range(|r| r.copy_gbs), range(|r| r.fma_gflops));
    if !probes_seen.is_empty() {
        println!(
            "\nprobes over the run ({} measurements): copy {:.2}-{:.2} GB/s, FMA {:.2}-{:.2} GFLOPS",
            probes_seen.len(),
            copy_range.0,
            copy_range.1,
            fma_range.0,
            fma_range.1
        );
    }
    // Host overhead on tiny tensors, in steady state: the first chain compiles its kernel; the
    // second, with other constants (kernel parameters), reuses it.
    let x = input(&dev, &[1024], 9, DType::F32);
    let chain = |offset: f32| {
        let t0 = Instant::now();
        let mut y = x.clone();
        for i in 0..1000 {
            // Never exactly 1.0 (which stays a literal and would make another kernel).
            y = &y * (1.0 + offset + (i + 1) as f32 * 1e-6);
        }
        let _ = y.to_vec::<f32>();
        t0.elapsed().as_secs_f64() * 1e6 / 1000.0
    };
    let chained_cold_us = chain(0.0);
    let chained_us = chain(1e-3);
    let z = &x + 1.0;
    let _ = z.to_vec::<f32>(); // compile once
    let t0 = Instant::now();
    for _ in 0..1000 {
        let _ = (&x + 1.0).to_vec::<f32>();
    }
    let round_trip_us = t0.elapsed().as_secs_f64() * 1e6 / 1000.0;
    println!("\nhost: 1000 chained tiny ops realized once: {chained_us:.1} us/op ({chained_cold_us:.0} us/op the first time, compiling); one tiny op realized and read back: {round_trip_us:.0} us/round trip");
    if let Some(path) = json_path {
        let doc = serde_json::json!({
            "device": dev.name(),
            "roofline": roof.map(|r| serde_json::json!({"copy_gbs": r.copy_gbs, "fma_gflops": r.fma_gflops})),
            "roofline_range": (!probes_seen.is_empty()).then(|| serde_json::json!({
                "copy_gbs": [copy_range.0, copy_range.1], "fma_gflops": [fma_range.0, fma_range.1],
            })),
            "workloads": rows,
            "host": {"chained_us_per_op": chained_us, "chained_first_us_per_op": chained_cold_us, "round_trip_us": round_trip_us},
        });
        std::fs::write(&path, serde_json::to_string_pretty(&doc).unwrap()).expect("write json");
        println!("wrote {path}");
    }
}
