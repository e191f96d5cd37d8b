//! The timeline: every kernel launch as a bar at its start time and duration, one row per
//! device, and below it the device memory in use (buffers taken from the pools), on the same
//! time axis. A click on a bar selects its kernel.

use eframe::egui::{self, Id};
use egui_plot::{Bar, BarChart, Line, Plot};

use crate::model::Model;
use crate::style;

pub fn ui(ui: &mut egui::Ui, model: &Model, selected: &mut Option<usize>) {
    let devices: Vec<&str> = model.devices.iter().map(|d| d.name.as_str()).collect();
    let row_of = |device: &str| devices.iter().position(|d| *d == device).unwrap_or(0);
    let untimed = model
        .kernels
        .iter()
        .filter(|k| k.info.time_us.is_none())
        .count();
    ui.label(format!(
        "{} kernels, {:.1} us of kernel time in all{}. Each bar starts when its realize \
         submitted, after the kernels before it (the device runs them back to back).",
        model.kernels.len(),
        model.total_time_us(),
        if untimed > 0 {
            format!("; {untimed} untimed kernels are not drawn")
        } else {
            String::new()
        }
    ));
    let link = Id::unique("timeline x");
    let height = (ui.available_height() - 140.0).max(160.0);
    let response = Plot::new("timeline")
        .height(height)
        .link_axis(link, [true, false])
        .x_axis_label("microseconds since the trace started")
        .y_axis_formatter({
            let devices = devices.clone();
            move |mark, _| {
                let i = mark.value.round();
                if (mark.value - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < devices.len() {
                    style::ellipsize(devices[i as usize], 28)
                } else {
                    String::new()
                }
            }
        })
        .show(ui, |plot| {
            for (index, k) in model.kernels.iter().enumerate() {
                let Some(t) = k.info.time_us else { continue };
                let selected = *selected == Some(index);
                let bar = Bar::new(row_of(&k.info.device) as f64, t)
                    .base_offset(k.info.start_us)
                    .width(if selected { 0.8 } else { 0.6 })
                    .name(format!("#{} {} {:.1} us", k.info.id, k.info.name, t))
                    .fill(style::kernel_color(k.info.id));
                plot.bar_chart(
                    BarChart::new(format!("#{} {}", k.info.id, k.info.name), vec![bar])
                        .horizontal()
                        .highlight(selected),
                );
            }
            plot.pointer_coordinate()
        });
    if response.response.clicked() {
        if let Some(p) = response.inner {
            *selected = model
                .kernels
                .iter()
                .position(|k| {
                    let row = row_of(&k.info.device) as f64;
                    k.info.time_us.is_some_and(|t| {
                        (p.y - row).abs() < 0.4
                            && p.x >= k.info.start_us
                            && p.x <= k.info.start_us + t
                    })
                })
                .or(*selected);
        }
    }
    Plot::new("memory")
        .height(110.0)
        .link_axis(link, [true, false])
        .y_axis_label("MiB taken")
        .show(ui, |plot| {
            let points: Vec<[f64; 2]> = model
                .memory
                .iter()
                .map(|[t, b]| [*t, b / (1024.0 * 1024.0)])
                .collect();
            plot.line(
                Line::new(
                    "device memory taken from the pools since the trace started",
                    points,
                )
                // Steps put two points at one time; they are not a band.
                .allow_band(false),
            );
        });
}
