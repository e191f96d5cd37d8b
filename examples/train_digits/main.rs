//! kiln learns: an MLP and a small CNN trained on the UCI handwritten digits (1,797 8x8
//! images, examples/data/digits.csv.gz), with gradients, Adam and the nn layers, all on the
//! device. Shows a progress bar with the loss while it trains, prints each model's test
//! accuracy and writes the loss curves to `target/train_digits.png`.
//!
//! `cargo run --release --example train_digits`

mod digits;
#[path = "../common/png_out.rs"]
mod png_out;

use digits::{Cnn, Digits, Mlp, Model};
use indicatif::{ProgressBar, ProgressStyle};
use plotters::prelude::*;

const PLOT: &str = "target/train_digits.png";
const EPOCHS: usize = 20;
const BATCH: usize = 64;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let device = kiln::default_device()?;
    println!("device: {}", device.name());
    let data = Digits::load()?;
    let (train_rows, test_rows) = data.split(1437, 1);
    let (x, y) = data.tensors(&train_rows, &device)?;
    let (tx, ty) = data.tensors(&test_rows, &device)?;
    println!(
        "{} training images, {} test images",
        train_rows.len(),
        test_rows.len()
    );
    kiln::manual_seed(0);
    let mut curves = vec![];
    let models: Vec<(&str, Box<dyn Model>, f64)> = vec![
        ("MLP 64-128-10", Box::new(Mlp::new(&device)?), 1e-2),
        (
            "CNN conv3x3x16-pool-linear",
            Box::new(Cnn::new(&device)?),
            1e-2,
        ),
    ];
    for (name, mut model, lr) in models {
        let steps = EPOCHS * (train_rows.len() / BATCH);
        let bar = ProgressBar::new(steps as u64);
        bar.set_style(ProgressStyle::with_template(
            "{msg:32} [{bar:30}] {pos}/{len} steps, loss {prefix}",
        )?);
        bar.set_message(name);
        let start = std::time::Instant::now();
        let k0 = kiln::stats().kernels_launched;
        let mut losses = vec![];
        digits::train(model.as_mut(), &x, &y, EPOCHS, BATCH, lr, |_, loss| {
            let l: f32 = loss.item()?;
            losses.push(l);
            bar.set_prefix(format!("{l:.4}"));
            bar.inc(1);
            Ok(())
        })?;
        bar.finish();
        let seconds = start.elapsed().as_secs_f64();
        let kernels = kiln::stats().kernels_launched - k0;
        let acc = digits::accuracy(model.as_ref(), &tx, &ty)?;
        println!(
            "{name}: test accuracy {:.1}% after {steps} steps in {seconds:.1} s ({:.1} kernels a step)",
            acc * 100.0,
            kernels as f64 / steps as f64
        );
        curves.push((name, losses));
    }
    plot(&curves, PLOT)?;
    println!("loss curves: {PLOT}");
    Ok(())
}

/// The loss of each step of each model, drawn into a PNG at `path`.
fn plot(curves: &[(&str, Vec<f32>)], path: &str) -> Result<(), Box<dyn std::error::Error>> {
    let (w, h) = (960u32, 480u32);
    let mut rgb = vec![0u8; (w * h * 3) as usize];
    png_out::register_font()?;
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area();
        root.fill(&WHITE)?;
        let steps = curves.iter().map(|(_, l)| l.len()).max().unwrap_or(1);
        let top = curves
            .iter()
            .flat_map(|(_, l)| l.iter().copied())
            .fold(0.1f32, f32::max) as f64;
        let mut chart = ChartBuilder::on(&root)
            .caption("kiln: training loss on the UCI digits", ("sans-serif", 22))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d(0..steps, 0.0..top)?;
        chart
            .configure_mesh()
            .x_desc("step")
            .y_desc("cross-entropy")
            .label_style(("sans-serif", 14))
            .draw()?;
        for (i, (name, losses)) in curves.iter().enumerate() {
            let color = [BLUE, RED][i % 2];
            chart
                .draw_series(LineSeries::new(
                    losses.iter().enumerate().map(|(s, &l)| (s, l as f64)),
                    color.stroke_width(2),
                ))?
                .label(*name)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .label_font(("sans-serif", 14))
            .draw()?;
        root.present()?;
    }
    png_out::write_png(path, w, h, &rgb)
}
