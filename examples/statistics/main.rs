//! Statistics of ten million samples, computed on the device: moments, percentiles, a
//! histogram and its CDF, and a bootstrap interval of the mean; each with the kernels it
//! took and its time, and the histogram drawn to a PNG.
//!
//! `cargo run --release --example statistics [samples] [resamples]` (defaults 10^7 and 1,000;
//! `DEBUG=2` lists every kernel). Writes `target/statistics.png`. On lavapipe the bootstrap
//! (10^10 random reads) takes about two and a half minutes of it.

#[path = "../common/png_out.rs"]
mod png_out;
mod stats;

use plotters::prelude::*;
use stats::{measured, Cost, Histogram, BINS, MIXTURE};

const PLOT: &str = "target/statistics.png";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let arg = |i: usize, default: usize| -> Result<usize, Box<dyn std::error::Error>> {
        Ok(match std::env::args().nth(i) {
            Some(a) => a.replace('_', "").parse()?,
            None => default,
        })
    };
    let (n, resamples) = (arg(1, 10_000_000)?, arg(2, 1000)?);
    let device = kiln::default_device()?;
    println!("device: {}", device.name());
    let parts: Vec<String> = MIXTURE
        .iter()
        .map(|(w, m, s)| format!("{w} N({m}, {s}²)"))
        .collect();
    println!("{n} samples of {}\n", parts.join(" + "));
    let row = |what: &str, value: String, c: Cost| {
        println!(
            "{what:<28} {value:<34} {:>5} kernels {:>9.1} ms",
            c.kernels,
            c.seconds * 1e3
        );
    };

    kiln::manual_seed(7);
    let (x, c) = measured(|| stats::mixture_samples(n, &device))?;
    row("samples (rand, randn)", format!("{n}"), c);
    let (m, c) = measured(|| stats::moments(&x))?;
    row("mean", format!("{:.5}", m.mean), c);
    println!("{:<28} {:.5}", "standard deviation", m.std);
    println!("{:<28} {:.5}", "skewness", m.skewness);
    let ([median, p1, p99], c) = measured(|| stats::percentiles(&x))?;
    row("median (radix select)", format!("{median:.5}"), c);
    println!("{:<28} {p1:.5} .. {p99:.5}", "1st .. 99th percentile");
    let (h, c) = measured(|| stats::histogram(&x))?;
    let mode = (0..BINS).max_by_key(|&b| h.counts[b]).unwrap_or(0);
    let width = (h.hi - h.lo) / BINS as f32;
    row(
        "histogram, CDF (scatter_add)",
        format!("{BINS} bins over [{:.3}, {:.3}]", h.lo, h.hi),
        c,
    );
    let at = h.lo + (mode as f32 + 0.5) * width;
    println!(
        "{:<28} bin {mode} (x ≈ {at:.3}): {} samples",
        "fullest bin", h.counts[mode]
    );
    let half = h.cdf.iter().position(|&f| f >= 0.5).unwrap_or(0);
    println!(
        "{:<28} bin {half}, x < {:.3}",
        "CDF passes 0.5 at",
        h.lo + (half + 1) as f32 * width
    );
    let ((_, [lo, hi]), c) = measured(|| stats::bootstrap_mean(&x, resamples, 11))?;
    row(
        &format!("bootstrap 95% CI ({resamples} x)"),
        format!("[{lo:.5}, {hi:.5}]"),
        c,
    );
    plot(&h, PLOT)?;
    println!("\nhistogram and CDF: {PLOT}");
    Ok(())
}

/// The histogram's bars and its CDF, drawn into a PNG at `path`.
fn plot(h: &Histogram, path: &str) -> Result<(), Box<dyn std::error::Error>> {
    let (w, ht) = (960u32, 540u32);
    let mut rgb = vec![0u8; (w * ht * 3) as usize];
    png_out::register_font()?;
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (w, ht)).into_drawing_area();
        root.fill(&WHITE)?;
        let top = *h.counts.iter().max().unwrap_or(&1) as f64 * 1.05;
        let total: i64 = h.counts.iter().map(|&c| c as i64).sum();
        let width = (h.hi - h.lo) as f64 / BINS as f64;
        let density = |c: i32| c as f64 / (total.max(1) as f64 * width);
        let mut chart = ChartBuilder::on(&root)
            .caption(
                "kiln: histogram of the mixture, and its CDF",
                ("sans-serif", 24),
            )
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .right_y_label_area_size(50)
            .build_cartesian_2d(h.lo as f64..h.hi as f64, 0.0..density(top as i32))?
            .set_secondary_coord(h.lo as f64..h.hi as f64, 0.0..1.0);
        chart
            .configure_mesh()
            .x_desc("x")
            .y_desc("density")
            .label_style(("sans-serif", 14))
            .draw()?;
        chart
            .configure_secondary_axes()
            .y_desc("CDF")
            .label_style(("sans-serif", 14))
            .draw()?;
        chart.draw_series(h.counts.iter().enumerate().map(|(b, &c)| {
            let x0 = h.lo as f64 + b as f64 * width;
            Rectangle::new(
                [(x0, 0.0), (x0 + width, density(c))],
                BLUE.mix(0.5).filled(),
            )
        }))?;
        chart.draw_secondary_series(LineSeries::new(
            h.cdf
                .iter()
                .enumerate()
                .map(|(b, &f)| (h.lo as f64 + (b + 1) as f64 * width, f as f64)),
            RED.stroke_width(2),
        ))?;
        root.present()?;
    }
    png_out::write_png(path, w, ht, &rgb)
}
