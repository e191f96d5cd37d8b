//! Counter-based random numbers: Random123's known answer for Threefry-2x32-20, bit-identical
//! streams across devices and opt lists, fresh counters per call and replay by seed, the
//! distributions (mean, variance, Kolmogorov-Smirnov, chi-square within their 99.9% bounds
//! over 2^20 samples), dropout's kept fraction, and fusion into one kernel without a buffer.
//! One test at a time: the stream is process-wide.

mod common;
use common::*;
use kiln::{DType, Device, Tensor};
use std::sync::Mutex;

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// 2^20 samples.
const N: usize = 1 << 20;
/// The two-sided 99.9% point of the standard normal.
const Z: f64 = 3.29;

#[test]
fn the_first_word_is_random123s_known_answer() {
    let _s = serial();
    // Threefry-2x32-20 of key (0, 0) and counter (0, 0) is (0x6b200159, 0x99ba4efe): rand
    // keeps the top 24 bits of the first word.
    for dev in devices() {
        kiln::manual_seed(0);
        let x = Tensor::rand_on(&[2], DType::F32, &dev)
            .to_vec::<f32>()
            .unwrap();
        assert_eq!(x[0], (0x6b20_0159u32 >> 8) as f32 / 16_777_216.0, "{dev:?}");
    }
}

#[test]
fn streams_are_bit_identical_across_devices_and_opt_lists_and_replay_by_seed() {
    let _s = serial();
    let draw = |dev: &Device| {
        kiln::manual_seed(1234);
        let a = Tensor::rand_on(&[37, 53], DType::F32, dev);
        let b = Tensor::randint_on(-5, 1000, &[1001], dev);
        let c = Tensor::rand_on(&[37, 53], DType::F32, dev);
        (
            a.to_vec::<f32>().unwrap(),
            b.to_vec::<i32>().unwrap(),
            c.to_vec::<f32>().unwrap(),
        )
    };
    let reference = draw(&Device::cpu());
    assert_ne!(
        reference.0, reference.2,
        "two calls take different counters"
    );
    for dev in devices() {
        assert_eq!(draw(&dev), reference, "{dev:?}");
        // The same numbers under NOOPT's kernels (no opts at all).
        kiln::manual_seed(1234);
        let a = Tensor::rand_on(&[37, 53], DType::F32, &dev);
        kiln::schedule_noopt(&[&a]).unwrap().run().unwrap();
        assert_eq!(
            a.to_vec::<f32>().unwrap(),
            reference.0,
            "{dev:?} under NOOPT"
        );
    }
}

#[test]
fn rand_is_uniform() {
    let _s = serial();
    kiln::manual_seed(42);
    let mut x = Tensor::rand_on(&[N], DType::F32, &Device::cpu())
        .to_vec::<f32>()
        .unwrap();
    let n = N as f64;
    let mean = x.iter().map(|&v| v as f64).sum::<f64>() / n;
    let var = x.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n;
    assert!(
        (mean - 0.5).abs() < Z * (1.0 / 12.0 / n).sqrt(),
        "mean {mean}"
    );
    // The variance of a sample variance of U(0, 1): (1/80 - 1/144) / n.
    assert!(
        (var - 1.0 / 12.0).abs() < Z * ((1.0 / 80.0 - 1.0 / 144.0) / n).sqrt(),
        "var {var}"
    );
    assert!(x.iter().all(|&v| (0.0..1.0).contains(&v)));
    x.sort_by(f32::total_cmp);
    let ks = ks_statistic(&x, |v| v);
    assert!(ks * n.sqrt() < 1.95, "KS {ks}"); // 1.95: the 99.9% point of the KS distribution
}

#[test]
fn randn_is_standard_normal() {
    let _s = serial();
    kiln::manual_seed(43);
    let mut x = Tensor::randn_on(&[N], DType::F32, &Device::cpu())
        .to_vec::<f32>()
        .unwrap();
    let n = N as f64;
    let mean = x.iter().map(|&v| v as f64).sum::<f64>() / n;
    let var = x.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n;
    assert!(mean.abs() < Z / n.sqrt(), "mean {mean}");
    assert!((var - 1.0).abs() < Z * (2.0 / n).sqrt(), "var {var}");
    x.sort_by(f32::total_cmp);
    let ks = ks_statistic(&x, |v| 0.5 * (1.0 + erf(v / std::f64::consts::SQRT_2)));
    assert!(ks * n.sqrt() < 1.95, "KS {ks}");
}

#[test]
fn randint_buckets_pass_chi_square_and_dropout_keeps_its_fraction() {
    let _s = serial();
    kiln::manual_seed(44);
    let x = Tensor::randint_on(-3, 7, &[N], &Device::cpu())
        .to_vec::<i32>()
        .unwrap();
    let mut counts = [0f64; 10];
    for v in x {
        assert!((-3..7).contains(&v), "{v}");
        counts[(v + 3) as usize] += 1.0;
    }
    let expected = N as f64 / 10.0;
    let chi2: f64 = counts
        .iter()
        .map(|c| (c - expected).powi(2) / expected)
        .sum();
    assert!(chi2 < 27.88, "chi-square {chi2} over {counts:?}"); // 9 dof, 99.9%
    let p = 0.3;
    let ones = Tensor::full_on(&[N], 1.0, DType::F32, &Device::cpu());
    let y = ones.dropout(p).to_vec::<f32>().unwrap();
    let kept = y.iter().filter(|&&v| v != 0.0).count() as f64 / N as f64;
    assert!(
        (kept - (1.0 - p)).abs() < Z * (p * (1.0 - p) / N as f64).sqrt(),
        "kept {kept}"
    );
    assert!(y.iter().all(|&v| v == 0.0 || (v - 1.0 / 0.7).abs() < 1e-6));
}

#[test]
fn rand_fuses_into_its_consumer_with_no_buffer_of_its_own() {
    let _s = serial();
    for dev in devices() {
        let x = Tensor::from_slice_on(&vec![2.0f32; 4096], &[4096], &dev).unwrap();
        let y = x.mul(&x.rand_like()).add(&x.randn_like());
        let s = kiln::schedule(&[&y]).unwrap();
        assert_eq!(s.kernels().len(), 1, "{s:?}");
        // The kernel reads x and writes y: the random numbers have no buffer.
        assert_eq!(s.kernels()[0].buffers().len(), 2);
        let total = Tensor::rand_on(&[4096, 4096], DType::F32, &dev).sum_all();
        let s = kiln::schedule(&[&total]).unwrap();
        let first = s.kernels()[0].buffers();
        assert!(first.iter().all(|b| b.output), "no input buffer: {first:?}");
    }
}

/// The largest distance between the empirical CDF of `sorted` and `cdf`.
fn ks_statistic(sorted: &[f32], cdf: impl Fn(f64) -> f64) -> f64 {
    let n = sorted.len() as f64;
    sorted
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            let f = cdf(v as f64);
            (f - i as f64 / n).abs().max(((i + 1) as f64 / n - f).abs())
        })
        .fold(0.0, f64::max)
}

/// erf to 1.2e-7 (Numerical Recipes' erfc, Chebyshev): enough for a KS bound of 1e-3.
fn erf(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.26551223
        + t * (1.00002368
            + t * (0.37409196
                + t * (0.09678418
                    + t * (-0.18628806
                        + t * (0.27886807
                            + t * (-1.13520398
                                + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
    let erfc = t * poly.exp();
    if x >= 0.0 {
        1.0 - erfc
    } else {
        erfc - 1.0
    }
}
