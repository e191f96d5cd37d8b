//! One kernel in detail: its numbers, parts, opts and buffers, its WGSL (highlighted), IR
//! and AST, the graph nodes fused into it, and the kernel lab when the kernel is live.

use eframe::egui::{self, RichText};

use crate::lab::{Lab, Timing};
use crate::model::Model;
use crate::style;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DetailTab {
    Overview,
    Wgsl,
    Ir,
    Ast,
    Nodes,
    Lab,
}

impl DetailTab {
    const ALL: [DetailTab; 6] = [
        DetailTab::Overview,
        DetailTab::Wgsl,
        DetailTab::Ir,
        DetailTab::Ast,
        DetailTab::Nodes,
        DetailTab::Lab,
    ];
    /// By its title (`ops` for the fused ops), ignoring case.
    pub fn parse(s: &str) -> Option<DetailTab> {
        let s = s.to_ascii_lowercase();
        DetailTab::ALL
            .into_iter()
            .find(|t| t.title().to_ascii_lowercase() == s || (s == "ops" && *t == DetailTab::Nodes))
    }

    pub fn title(self) -> &'static str {
        match self {
            DetailTab::Overview => "Overview",
            DetailTab::Wgsl => "WGSL",
            DetailTab::Ir => "IR",
            DetailTab::Ast => "AST",
            DetailTab::Nodes => "Fused ops",
            DetailTab::Lab => "Lab",
        }
    }
}

/// Draws kernel `index`'s detail. `live` says whether kernels can be re-timed here (the
/// trace is this process's own recording). Returns a lab timing that finished this frame.
pub fn ui(
    ui: &mut egui::Ui,
    model: &Model,
    index: usize,
    tab: &mut DetailTab,
    lab: &mut Option<Lab>,
    live: bool,
) -> Option<Timing> {
    let k = &model.kernels[index];
    let info = &k.info;
    ui.add(egui::Label::new(style::kernel_name(info, 16.0)));
    ui.label(format!(
        "kernel {} of realize {} on {}",
        info.id, info.realize, info.device
    ));
    ui.horizontal(|ui| {
        for t in DetailTab::ALL {
            ui.selectable_value(tab, t, t.title());
        }
    });
    ui.separator();
    match tab {
        DetailTab::Overview => overview(ui, model, index),
        DetailTab::Wgsl => style::code_block(ui, "wgsl", style::highlight_wgsl(&info.wgsl, 12.0)),
        DetailTab::Ir => style::code_block(ui, "ir", style::plain_code(&info.ir)),
        DetailTab::Ast => style::code_block(ui, "ast", style::plain_code(&info.ast)),
        DetailTab::Nodes => fused_nodes(ui, model, index),
        DetailTab::Lab => return lab_tab(ui, info.id, lab, live),
    }
    None
}

fn overview(ui: &mut egui::Ui, model: &Model, index: usize) {
    let k = &model.kernels[index];
    let info = &k.info;
    egui::Grid::new("kernel numbers")
        .num_columns(2)
        .show(ui, |ui| {
            let mut row = |name: &str, value: String| {
                ui.label(name);
                ui.label(value);
                ui.end_row();
            };
            match info.time_us {
                Some(t) => row("time", format!("{t:.1} us ({})", info.clock)),
                None => row("time", "not timed".into()),
            }
            if let Some(r) = k.rates {
                row("GFLOPS", format!("{:.2}", r.gflops));
                row("GB/s", format!("{:.2}", r.gbs));
            }
            if let Some(p) = k.roofline_pct {
                row("of the roofline", format!("{p:.0}%"));
            }
            row("FLOPs (estimate)", info.flops.to_string());
            row("bytes (estimate)", info.bytes.to_string());
            row("domain", format!("{:?}", info.domain));
            row("global size", format!("{:?}", info.global_size));
            row("local size", format!("{:?}", info.local_size));
        });
    ui.separator();
    ui.strong("parts (after opts)");
    ui.horizontal_wrapped(|ui| {
        for p in &info.parts {
            ui.label(
                RichText::new(format!("[axis {}: {} {}]", p.axis, p.kind, p.size))
                    .color(style::kind_color(&p.kind))
                    .monospace(),
            );
        }
    });
    ui.strong("opts");
    if info.opts.is_empty() {
        ui.label("none (NOOPT)");
    }
    for o in &info.opts {
        ui.label(RichText::new(o).monospace());
    }
    ui.separator();
    ui.strong("buffers");
    let nodes = model.realize_of(index).map(|r| &model.realizes[r].nodes);
    egui::Grid::new("kernel buffers")
        .striped(true)
        .num_columns(5)
        .show(ui, |ui| {
            for h in ["buf", "", "dtype", "shape", "view over the domain"] {
                ui.strong(h);
            }
            ui.end_row();
            for b in &info.buffers {
                ui.label(b.index.to_string());
                ui.label(if b.output { "out" } else { "in" });
                ui.label(&b.dtype);
                let op = nodes
                    .and_then(|n| n.iter().find(|n| n.id == b.node))
                    .map(|n| format!(" = {}", n.op))
                    .unwrap_or_default();
                ui.label(format!("{:?} (%{}{op})", b.shape, b.node));
                ui.label(RichText::new(b.views.join("; ")).monospace());
                ui.end_row();
            }
        });
}

/// The graph nodes fused into the kernel, in the realize's order.
fn fused_nodes(ui: &mut egui::Ui, model: &Model, index: usize) {
    let id = model.kernels[index].info.id;
    let Some(r) = model.realize_of(index) else {
        ui.label("the realize of this kernel is not in the trace");
        return;
    };
    let nodes = &model.realizes[r].nodes;
    let mut text = String::new();
    for n in nodes.iter().filter(|n| n.kernel == Some(id)) {
        let srcs: Vec<String> = n.srcs.iter().map(|s| format!("%{s}")).collect();
        text.push_str(&format!(
            "%{:<5} {:<4} {:?} = {}({})\n",
            n.id,
            n.dtype,
            n.shape,
            n.op,
            srcs.join(", ")
        ));
    }
    style::code_block(ui, "fused", style::plain_code(&text));
}

fn lab_tab(ui: &mut egui::Ui, id: u64, lab: &mut Option<Lab>, live: bool) -> Option<Timing> {
    if lab.as_ref().is_none_or(|l| l.kernel_id != id) {
        *lab = if live {
            kiln::trace::live_kernel(id).map(|k| Lab::new(id, k))
        } else {
            None
        };
    }
    match lab {
        Some(lab) => lab.ui(ui),
        None => {
            ui.label(if live {
                "This kernel is no longer held by the recording (tracing was restarted)."
            } else {
                "The lab re-times kernels on the device that ran them, so it needs the kernels \
                 alive in this process: open the inspector with --demo, or from your program \
                 with kiln_inspector::show_recent()."
            });
            None
        }
    }
}
