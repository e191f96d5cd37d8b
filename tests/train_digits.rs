//! `examples/train_digits` in short: an MLP trained for two epochs on every device learns
//! (the loss falls, test accuracy far above chance), and a step in steady state plans
//! nothing anew, compiles nothing and holds no more device memory than the step before.

#[path = "../examples/train_digits/digits.rs"]
mod digits;

mod common;
use common::devices;
use digits::{Cnn, Digits, Mlp};

/// The steady-state checks read process-wide counters: the tests here run one at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn a_short_training_run_learns_in_steady_state() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let data = Digits::load().unwrap();
    assert_eq!((data.len(), data.pixels.len()), (1797, 1797 * 64));
    let (train_rows, test_rows) = data.split(1437, 1);
    for dev in devices() {
        let name = dev.name();
        let (x, y) = data.tensors(&train_rows, &dev).unwrap();
        let (tx, ty) = data.tensors(&test_rows, &dev).unwrap();
        kiln::manual_seed(0);
        let mut model = Mlp::new(&dev).unwrap();
        let chance = digits::accuracy(&model, &tx, &ty).unwrap();
        let mut losses = vec![];
        let mut steady = vec![];
        digits::train(&mut model, &x, &y, 2, 64, 1e-2, |step, loss| {
            losses.push(loss.item::<f32>()?);
            let s = kiln::stats();
            steady.push((
                step,
                s.schedule_cache_hits,
                s.programs_compiled,
                dev.memory_in_use(),
            ));
            Ok(())
        })
        .unwrap();
        let first = losses[0];
        let last: f32 = losses[losses.len() - 10..].iter().sum::<f32>() / 10.0;
        assert!(last < first / 4.0, "{name}: loss {first} -> {last}");
        let acc = digits::accuracy(&model, &tx, &ty).unwrap();
        assert!(
            acc > 0.85 && acc > chance + 0.5,
            "{name}: accuracy {chance} -> {acc}"
        );
        // Steps whose loss nobody reads read no values back; the status words of their index
        // checks (about 6 a step here) are read once more than 64 are pending, all of them
        // with one wait: 2 reads in 22 steps on both devices (130, one a status, before).
        let reads = kiln::stats().buffers_read;
        digits::train(&mut model, &x, &y, 1, 64, 1e-3, |_, _| Ok(())).unwrap();
        let read = kiln::stats().buffers_read - reads;
        assert!(read <= 2, "{name}: {read} readbacks in 22 steps");
        // The CNN learns too (one epoch).
        let mut cnn = Cnn::new(&dev).unwrap();
        let mut cnn_losses = vec![];
        digits::train(&mut cnn, &x, &y, 1, 64, 1e-2, |_, loss| {
            cnn_losses.push(loss.item::<f32>()?);
            Ok(())
        })
        .unwrap();
        let tail: f32 = cnn_losses[cnn_losses.len() - 5..].iter().sum::<f32>() / 5.0;
        assert!(
            tail < cnn_losses[0] / 2.0,
            "{name}: CNN loss {} -> {tail}",
            cnn_losses[0]
        );
        // After a few steps: one schedule-cache hit per step, no compile, flat memory.
        for w in steady[5..].windows(2) {
            let ((_, h0, p0, m0), (step, h1, p1, m1)) = (w[0], w[1]);
            assert!(h1 > h0, "{name}: step {step} planned anew");
            assert_eq!(p1, p0, "{name}: step {step} compiled a program");
            assert!(
                m1 <= m0,
                "{name}: step {step} holds {m1} bytes, {m0} before"
            );
        }
    }
}

use kiln::nn::{kaiming_uniform, xavier_uniform, Conv2d, Embedding, LayerNorm, Linear};
use kiln::optim::{Adam, AdamW, Optimizer, Sgd};
use kiln::{Conv2dOptions, DType, Device, Tensor};

/// Three steps of the optimizer `make` builds on a parameter, with known gradients, against
/// the host's update rule (`host` gives a fresh one per device).
fn check_optimizer<O: Optimizer, H: FnMut(&mut Vec<f64>, usize, &[f64])>(
    name: &str,
    make: impl Fn() -> O,
    host: impl Fn() -> H,
) {
    for dev in devices() {
        let (mut opt, mut rule) = (make(), host());
        let start = [0.5f32, -1.0, 2.0];
        let mut p = Tensor::from_slice_on(&start, &[3], &dev).unwrap();
        let mut want: Vec<f64> = start.iter().map(|&v| v as f64).collect();
        for t in 1..=3 {
            let g: Vec<f32> = vec![0.1 * t as f32, -0.2, 0.3 / t as f32];
            let gt = Tensor::from_slice_on(&g, &[3], &dev).unwrap();
            opt.step(&mut [&mut p], &[gt]).unwrap();
            rule(
                &mut want,
                t,
                &g.iter().map(|&v| v as f64).collect::<Vec<_>>(),
            );
        }
        let got = p.to_vec::<f32>().unwrap();
        for (k, (&a, &w)) in got.iter().zip(&want).enumerate() {
            assert!(
                (a as f64 - w).abs() < 1e-5,
                "{name} on {}: [{k}] {a} vs {w}",
                dev.name()
            );
        }
    }
}

#[test]
fn optimizers_follow_their_update_rules() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (lr, m, wd) = (0.1, 0.9, 0.01);
    let sgd = || {
        let mut v = vec![0.0; 3];
        move |p: &mut Vec<f64>, t: usize, g: &[f64]| {
            for k in 0..3 {
                let gk = g[k] + wd * p[k];
                v[k] = if t == 1 { gk } else { m * v[k] + gk };
                p[k] -= lr * v[k];
            }
        }
    };
    check_optimizer("sgd", || Sgd::new(lr).momentum(m).weight_decay(wd), sgd);
    let adam = |decoupled: bool| {
        move || {
            let (mut m1, mut m2) = (vec![0.0; 3], vec![0.0; 3]);
            move |p: &mut Vec<f64>, t: usize, g: &[f64]| {
                for k in 0..3 {
                    let gk = if decoupled { g[k] } else { g[k] + wd * p[k] };
                    m1[k] = 0.9 * m1[k] + 0.1 * gk;
                    m2[k] = 0.999 * m2[k] + 0.001 * gk * gk;
                    let mh = m1[k] / (1.0 - 0.9f64.powi(t as i32));
                    let vh = m2[k] / (1.0 - 0.999f64.powi(t as i32));
                    if decoupled {
                        p[k] *= 1.0 - lr * wd;
                    }
                    p[k] -= lr * mh / (vh.sqrt() + 1e-8);
                }
            }
        }
    };
    check_optimizer("adam", || Adam::new(lr).weight_decay(wd), adam(false));
    check_optimizer("adamw", || AdamW::new(lr).weight_decay(wd), adam(true));
}

#[test]
fn layers_compute_what_they_say() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    for dev in devices() {
        kiln::manual_seed(1);
        // Initializers stay within their bounds.
        let w = kaiming_uniform(&[64, 32], 64, &dev)
            .unwrap()
            .to_vec::<f32>()
            .unwrap();
        let b = (6.0f32 / 64.0).sqrt();
        assert!(w.iter().all(|v| v.abs() <= b) && w.iter().any(|v| v.abs() > b * 0.9));
        let x = xavier_uniform(&[10, 30], 10, 30, &dev)
            .unwrap()
            .to_vec::<f32>()
            .unwrap();
        assert!(x.iter().all(|v| v.abs() <= (6.0f32 / 40.0).sqrt()));
        // Linear and LayerNorm against their formulas; Embedding picks rows.
        let input =
            Tensor::from_slice_on(&[1.0f32, 2.0, 3.0, -1.0, 0.0, 4.0], &[2, 3], &dev).unwrap();
        let lin = Linear::new(3, 2, &dev).unwrap();
        let want = input.matmul(&lin.weight).to_vec::<f32>().unwrap();
        assert_eq!(lin.forward(&input).to_vec::<f32>().unwrap(), want);
        let mut ln = LayerNorm::new(3, &dev).unwrap();
        ln.weight = Tensor::from_slice_on(&[2.0f32, 1.0, 0.5], &[3], &dev).unwrap();
        let got = ln.forward(&input).to_vec::<f32>().unwrap();
        let norm = input.layer_norm(-1, 1e-5).to_vec::<f32>().unwrap();
        for (k, (g, n)) in got.iter().zip(&norm).enumerate() {
            assert!((g - n * [2.0, 1.0, 0.5][k % 3]).abs() < 1e-6);
        }
        let emb = Embedding::new(5, 4, &dev).unwrap();
        let tokens = Tensor::from_slice_on(&[4i32, 0, 4], &[1, 3], &dev).unwrap();
        let rows = emb.forward(&tokens);
        assert_eq!(rows.shape(), &[1, 3, 4]);
        let table = emb.weight.to_vec::<f32>().unwrap();
        assert_eq!(rows.to_vec::<f32>().unwrap()[..4], table[16..20]);
        // Conv2d: shape, bias, and a gradient for every parameter.
        let mut conv = Conv2d::new(
            2,
            3,
            3,
            Conv2dOptions {
                padding: (1, 1),
                ..Default::default()
            },
            &dev,
        )
        .unwrap();
        let img = Tensor::ones_on(&[1, 2, 5, 5], DType::F32, &dev);
        let out = conv.forward(&img);
        assert_eq!(out.shape(), &[1, 3, 5, 5]);
        let loss = out.sum_all();
        let params = conv.parameters();
        let refs: Vec<&Tensor> = params.iter().map(|p| &**p).collect();
        let grads = loss.gradient(&refs);
        // Each output channel's bias is added at 25 positions.
        assert_eq!(grads[1].to_vec::<f32>().unwrap(), vec![25.0; 3]);
        assert_eq!(grads[0].shape(), &[3, 2, 3, 3]);
        let _ = Device::cpu();
    }
}
