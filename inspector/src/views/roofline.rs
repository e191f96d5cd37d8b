//! The roofline: every timed kernel as a point (arithmetic intensity, GFLOPS) on log-log
//! axes, under the ceilings its device's probes measured (copy bandwidth x intensity, and
//! the FMA rate). Kernel-lab timings appear beside the heuristic's, joined by an arrow.

use eframe::egui::{self, Color32};
use egui_plot::{
    Arrows, Corner, HoverPosition, Legend, Line, MarkerShape, Plot, PlotPoint, PlotPoints, PlotUi,
    Points,
};

use crate::lab::Timing;
use crate::model::{DeviceRow, Model};
use crate::style;

/// Intensities the ceilings are drawn over, as powers of ten.
const LOG_INTENSITY: (f64, f64) = (-3.0, 3.0);

fn log_point(intensity: f64, gflops: f64) -> Option<[f64; 2]> {
    (intensity > 0.0 && gflops > 0.0).then(|| [intensity.log10(), gflops.log10()])
}

fn power_of_ten(v: f64) -> String {
    let x = 10f64.powf(v);
    if (v - v.round()).abs() > 1e-6 {
        String::new()
    } else if x >= 1.0 {
        format!("{x:.0}")
    } else {
        format!("{x}")
    }
}

/// The roofline: every kernel at (FLOPs per byte, GFLOPS) under its device's copy and FMA
/// ceilings, the lab's timings as arrows from the heuristic's point to the lab's; a click
/// selects the nearest kernel.
pub fn ui(ui: &mut egui::Ui, model: &Model, lab: &[Timing], selected: &mut Option<usize>) {
    let probed: Vec<&DeviceRow> = model.devices.iter().filter(|d| d.probe.is_some()).collect();
    caption(ui, model, probed.is_empty());
    let response = Plot::new("roofline")
        .legend(Legend::default().position(Corner::RightBottom))
        .x_axis_label("arithmetic intensity (FLOP/byte)")
        .y_axis_label("GFLOPS")
        .x_axis_formatter(|m, _| power_of_ten(m.value))
        .y_axis_formatter(|m, _| power_of_ten(m.value))
        .label_formatter(|hover| {
            let (name, p) = match hover {
                HoverPosition::NearDataPoint {
                    plot_name,
                    position,
                    ..
                } => (*plot_name, position),
                HoverPosition::Elsewhere { position } => ("", position),
            };
            Some(format!(
                "{name}\n{:.3} FLOP/byte, {:.3} GFLOPS",
                10f64.powf(p.x),
                10f64.powf(p.y)
            ))
        })
        .show(ui, |plot| {
            for d in &probed {
                plot_ceiling(plot, d);
            }
            plot_kernels(plot, model, *selected);
            plot_lab(plot, lab);
            plot.pointer_coordinate()
        });
    // A click selects the nearest kernel point (in plot units: decades).
    if response.response.clicked() {
        if let Some(i) = response.inner.and_then(|p| nearest_kernel(model, p)) {
            *selected = Some(i);
        }
    }
}

/// What the axes are, and what the plot cannot show.
fn caption(ui: &mut egui::Ui, model: &Model, no_probes: bool) {
    let zero_flop = model
        .kernels
        .iter()
        .filter(|k| k.rates.is_some_and(|r| r.intensity.unwrap_or(0.0) <= 0.0))
        .count();
    ui.label(format!(
        "x: FLOPs per byte moved, y: GFLOPS (both log10). {}{}",
        if no_probes {
            "No roofline probes in this trace (they run on GPU devices, when measured while tracing); kernels are drawn without ceilings. ".to_string()
        } else {
            String::new()
        },
        if zero_flop > 0 {
            format!("{zero_flop} kernels do no arithmetic (copies) and have no point.")
        } else {
            String::new()
        }
    ));
}

/// A device's ceiling: the copy probe's slope, then the FMA probe's roof.
fn plot_ceiling(plot: &mut PlotUi, d: &DeviceRow) {
    let Some(probe) = d.probe else { return };
    let steps = 120;
    let ceiling: PlotPoints = (0..=steps)
        .map(|i| {
            let x = LOG_INTENSITY.0 + (LOG_INTENSITY.1 - LOG_INTENSITY.0) * i as f64 / steps as f64;
            [x, probe.attainable_gflops(10f64.powf(x)).log10()]
        })
        .collect();
    let name = format!(
        "{}: copy {:.2} GB/s, FMA {:.1} GFLOPS",
        d.name, probe.copy_gbs, probe.fma_gflops
    );
    plot.line(
        Line::new(name, ceiling)
            .color(Color32::from_gray(200))
            .width(2.0),
    );
}

/// One point per kernel that does arithmetic, the selected one larger.
fn plot_kernels(plot: &mut PlotUi, model: &Model, selected: Option<usize>) {
    for (index, k) in model.kernels.iter().enumerate() {
        let Some(r) = k.rates else { continue };
        let Some(p) = r.intensity.and_then(|i| log_point(i, r.gflops)) else {
            continue;
        };
        let radius = if selected == Some(index) { 7.0 } else { 4.5 };
        plot.points(
            Points::new(format!("#{} {}", k.info.id, k.info.name), vec![p])
                .color(style::kernel_color(k.info.id))
                .radius(radius)
                .shape(MarkerShape::Circle)
                .filled(true),
        );
    }
}

/// Each lab timing as an arrow from the heuristic's point to the lab list's.
fn plot_lab(plot: &mut PlotUi, lab: &[Timing]) {
    for t in lab {
        let (Some(h), Some(l)) = (t.heuristic, t.lab) else {
            continue;
        };
        let (Some(hp), Some(lp)) = (
            h.intensity.and_then(|i| log_point(i, h.gflops)),
            l.intensity.and_then(|i| log_point(i, l.gflops)),
        ) else {
            continue;
        };
        let name = format!("lab: kernel #{} ({} opts)", t.kernel_id, t.opts.len());
        plot.arrows(
            Arrows::new(name.clone(), vec![hp], vec![lp]).color(Color32::from_rgb(255, 170, 60)),
        );
        plot.points(
            Points::new(name, vec![hp, lp])
                .color(Color32::from_rgb(255, 170, 60))
                .shape(MarkerShape::Diamond)
                .radius(6.0),
        );
    }
}

/// The kernel whose point is nearest `p`, within 0.3 decades.
fn nearest_kernel(model: &Model, p: PlotPoint) -> Option<usize> {
    let (i, d) = model
        .kernels
        .iter()
        .enumerate()
        .filter_map(|(i, k)| {
            let r = k.rates?;
            let q = log_point(r.intensity?, r.gflops)?;
            Some((i, (q[0] - p.x).hypot(q[1] - p.y)))
        })
        .min_by(|a, b| a.1.total_cmp(&b.1))?;
    (d < 0.3).then_some(i)
}
