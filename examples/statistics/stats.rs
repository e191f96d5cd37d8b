//! The statistics of `examples/statistics`, computed on the device: moments, quantiles, a
//! histogram with its empirical CDF, and a bootstrap interval of the mean. Shared with
//! `tests/statistics.rs`, which checks them against the same computation in f64 on the host.

use std::time::Instant;

use kiln::{DType, Device, Tensor};

/// The mixture the samples come from: (weight, mean, standard deviation) per component.
pub const MIXTURE: [(f64, f64, f64); 3] = [(0.3, -2.0, 0.6), (0.5, 0.5, 1.0), (0.2, 3.0, 0.4)];

pub const BINS: usize = 100;

/// Draws per group of resamples: their `[group, n]` indices are one buffer (128 MiB).
const MAX_DRAWS_PER_KERNEL: usize = 1 << 25;

/// What one step cost: the kernels it launched and its wall time.
#[derive(Clone, Copy, Debug)]
pub struct Cost {
    pub kernels: u64,
    pub seconds: f64,
}

/// Runs `f` (which realizes what it builds) and measures it.
pub fn measured<T>(f: impl FnOnce() -> kiln::Result<T>) -> kiln::Result<(T, Cost)> {
    let (k0, t0) = (kiln::stats().kernels_launched, Instant::now());
    let value = f()?;
    let cost = Cost {
        kernels: kiln::stats().kernels_launched - k0,
        seconds: t0.elapsed().as_secs_f64(),
    };
    Ok((value, cost))
}

/// `n` samples of [`MIXTURE`] (kiln's `rand` picks a component, `randn` its value), realized.
pub fn mixture_samples(n: usize, device: &Device) -> kiln::Result<Tensor> {
    let pick = Tensor::rand_on(&[n], DType::F32, device);
    let z = Tensor::randn_on(&[n], DType::F32, device);
    let mut x = z.full_like(0.0);
    // From the last component down, so that the first whose cumulative weight passes `pick`
    // wins.
    let mut upper = 1.0;
    for (k, &(_, mean, std)) in MIXTURE.iter().enumerate().rev() {
        let value = &z * std as f32 + mean as f32;
        x = pick.lt(&pick.full_like(upper)).where_(&value, &x);
        upper -= MIXTURE[k].0;
    }
    x.realize()
}

pub struct Moments {
    pub mean: f32,
    pub std: f32,
    pub skewness: f32,
}

/// Mean, standard deviation (numpy's `ddof=0`) and skewness (the third standardized moment).
pub fn moments(x: &Tensor) -> kiln::Result<Moments> {
    let mean = x.mean_all();
    let d = x.sub(&mean);
    let m2 = d.square().mean_all();
    let m3 = (&d.square() * &d).mean_all();
    let skew = &m3 / &(&m2 * &m2.sqrt());
    let std = m2.sqrt();
    kiln::realize(&[&mean, &std, &skew])?;
    Ok(Moments {
        mean: mean.item()?,
        std: std.item()?,
        skewness: skew.item()?,
    })
}

/// The median and the 1st and 99th percentiles (numpy's linear method).
pub fn percentiles(x: &Tensor) -> kiln::Result<[f32; 3]> {
    let qs = [x.median(0), x.quantile(0.01, 0), x.quantile(0.99, 0)];
    kiln::realize(&[&qs[0], &qs[1], &qs[2]])?;
    Ok([qs[0].item()?, qs[1].item()?, qs[2].item()?])
}

pub struct Histogram {
    /// The range the bins split evenly: the smallest and the largest sample.
    pub lo: f32,
    pub hi: f32,
    pub counts: Vec<i32>,
    /// The fraction of samples at or below each bin's upper edge.
    pub cdf: Vec<f32>,
}

/// The bin of each sample among [`BINS`] even bins over `[lo, hi]` (the largest sample in the
/// last), as i32: the formula the host check repeats.
pub fn bin_of(x: &Tensor, lo: &Tensor, hi: &Tensor) -> Tensor {
    let scaled = (x - lo) / (hi - lo) * BINS as f32;
    scaled
        .floor()
        .clamp(0.0, (BINS - 1) as f64)
        .cast(DType::I32)
}

/// A [`BINS`]-bin histogram by `scatter_add`, and its empirical CDF by `cumsum`.
pub fn histogram(x: &Tensor) -> kiln::Result<Histogram> {
    let (lo, hi) = (x.min_all(), x.max_all());
    let bins = bin_of(x, &lo, &hi);
    let ones = Tensor::ones_on(x.shape(), DType::I32, x.device());
    let counts = Tensor::zeros_on(&[BINS], DType::I32, x.device()).scatter_add(0, &bins, &ones);
    let cdf = counts.cumsum(0).cast(DType::F32) / x.numel() as f32;
    kiln::realize(&[&lo, &hi, &counts, &cdf])?;
    Ok(Histogram {
        lo: lo.item()?,
        hi: hi.item()?,
        counts: counts.to_vec()?,
        cdf: cdf.to_vec()?,
    })
}

/// The means of `resamples` bootstrap resamples of `x` (each `n` draws with replacement by
/// `randint` + `index_select`), drawn from the random stream restarted at `seed`, and their
/// 2.5th and 97.5th percentiles: a 95% interval of the mean.
pub fn bootstrap_mean(
    x: &Tensor,
    resamples: usize,
    seed: u64,
) -> kiln::Result<(Vec<f32>, [f32; 2])> {
    let n = x.numel();
    let group = (MAX_DRAWS_PER_KERNEL / n.max(1)).clamp(1, resamples.max(1));
    kiln::manual_seed(seed);
    let mut means = vec![];
    let mut left = resamples;
    while left > 0 {
        let g = group.min(left);
        let draws = Tensor::randint_on(0, n as i64, &[g, n], x.device());
        let picked = x
            .index_select(0, &draws.flatten())
            .reshape(&[g as isize, n as isize]);
        means.push(picked.mean(&[1]));
        left -= g;
    }
    let refs: Vec<&Tensor> = means.iter().collect();
    let means = Tensor::cat(&refs, 0);
    let (lo, hi) = (means.quantile(0.025, 0), means.quantile(0.975, 0));
    kiln::realize(&[&means, &lo, &hi])?;
    Ok((means.to_vec()?, [lo.item()?, hi.item()?]))
}
