//! `examples/statistics`'s numbers against the same computation in f64 on the host, on every
//! device: moments, percentiles, the histogram and its CDF, and the bootstrap interval (its
//! resamples' indices read back from the same random stream).

#[path = "../examples/statistics/stats.rs"]
mod stats;

mod common;
use common::devices;
use kiln::{DType, Tensor};

const N: usize = 100_003;
const RESAMPLES: usize = 40;

/// numpy's linear quantile of sorted `s`.
fn quantile(s: &[f64], q: f64) -> f64 {
    let pos = q * (s.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    s[lo] + (s[hi] - s[lo]) * (pos - lo as f64)
}

fn close(what: &str, got: f32, want: f64, tol: f64) {
    assert!(
        (got as f64 - want).abs() <= tol * (1.0 + want.abs()),
        "{what}: {got} vs {want} on the host"
    );
}

#[test]
fn statistics_match_the_host_in_f64() {
    for dev in devices() {
        let name = dev.name();
        kiln::manual_seed(3);
        let x = stats::mixture_samples(N, &dev).unwrap();
        let host: Vec<f64> = x
            .to_vec::<f32>()
            .unwrap()
            .iter()
            .map(|&v| v as f64)
            .collect();
        let n = N as f64;

        // The mixture's weights show in where the samples fall.
        let near_three = host.iter().filter(|&&v| v > 1.9).count() as f64 / n;
        assert!((0.15..0.3).contains(&near_three), "{name}: {near_three}");

        let mean = host.iter().sum::<f64>() / n;
        let m2 = host.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
        let m3 = host.iter().map(|v| (v - mean).powi(3)).sum::<f64>() / n;
        let m = stats::moments(&x).unwrap();
        close(&format!("{name} mean"), m.mean, mean, 1e-5);
        close(&format!("{name} std"), m.std, m2.sqrt(), 1e-5);
        close(
            &format!("{name} skewness"),
            m.skewness,
            m3 / m2.powf(1.5),
            1e-4,
        );

        let mut sorted = host.clone();
        sorted.sort_by(|a, b| a.partial_cmp(b).unwrap());
        let [median, p1, p99] = stats::percentiles(&x).unwrap();
        close(
            &format!("{name} median"),
            median,
            quantile(&sorted, 0.5),
            1e-6,
        );
        close(&format!("{name} p1"), p1, quantile(&sorted, 0.01), 1e-6);
        close(&format!("{name} p99"), p99, quantile(&sorted, 0.99), 1e-6);

        let h = stats::histogram(&x).unwrap();
        assert_eq!(
            (h.lo as f64, h.hi as f64),
            (sorted[0], sorted[N - 1]),
            "{name}"
        );
        let (lo, hi) = (h.lo as f64, h.hi as f64);
        let mut counts = vec![0i64; stats::BINS];
        for &v in &host {
            let b = ((v - lo) / (hi - lo) * stats::BINS as f64).floor();
            counts[(b.max(0.0) as usize).min(stats::BINS - 1)] += 1;
        }
        // f32 and f64 may put a sample that sits on a bin edge on either side of it.
        let moved: i64 = counts
            .iter()
            .zip(&h.counts)
            .map(|(&w, &g)| (w - g as i64).abs())
            .sum();
        assert!(
            moved <= 4,
            "{name}: histograms differ by {moved}: {:?} vs {counts:?}",
            h.counts
        );
        assert_eq!(
            h.counts.iter().map(|&c| c as i64).sum::<i64>(),
            N as i64,
            "{name}"
        );
        let mut running = 0i64;
        for (b, &c) in h.counts.iter().enumerate() {
            running += c as i64;
            close(
                &format!("{name} cdf {b}"),
                h.cdf[b],
                running as f64 / n,
                1e-6,
            );
        }

        let (means, [ci_lo, ci_hi]) = stats::bootstrap_mean(&x, RESAMPLES, 5).unwrap();
        // The same draws from the same stream, read back, and the means taken in f64.
        kiln::manual_seed(5);
        let draws = Tensor::randint_on(0, N as i64, &[RESAMPLES, N], &dev)
            .to_vec::<i32>()
            .unwrap();
        let mut want: Vec<f64> = draws
            .chunks(N)
            .map(|d| d.iter().map(|&i| host[i as usize]).sum::<f64>() / n)
            .collect();
        for (k, (&g, &w)) in means.iter().zip(&want).enumerate() {
            close(&format!("{name} resample {k}"), g, w, 1e-5);
        }
        want.sort_by(|a, b| a.partial_cmp(b).unwrap());
        close(
            &format!("{name} ci low"),
            ci_lo,
            quantile(&want, 0.025),
            1e-5,
        );
        close(
            &format!("{name} ci high"),
            ci_hi,
            quantile(&want, 0.975),
            1e-5,
        );
        assert!(
            ci_lo as f64 <= mean && mean <= ci_hi as f64,
            "{name}: {mean} outside [{ci_lo}, {ci_hi}]"
        );
        assert_eq!(x.dtype(), DType::F32);
    }
}
