//! The inspector window: a title bar (source, devices, probes, totals), the main views in
//! tabs (kernel table, graph, timeline, roofline) and the selected kernel's detail on the
//! right. It owns the trace source and rebuilds its [`Model`] whenever the trace changes.

use std::path::PathBuf;
#[cfg(not(target_arch = "wasm32"))]
use std::sync::mpsc::channel;
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use web_time::Instant;

use eframe::egui::{self, Color32, RichText};

use crate::lab::{Lab, Timing};
use crate::model::Model;
use crate::source::Source;
use crate::views::detail::{self, DetailTab};
use crate::views::table::{self, TableState};
use crate::views::{graph, roofline, timeline};

/// The main views.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    Kernels,
    Graph,
    Timeline,
    Roofline,
}

impl View {
    pub const ALL: [View; 4] = [View::Kernels, View::Graph, View::Timeline, View::Roofline];
    pub fn title(self) -> &'static str {
        match self {
            View::Kernels => "Kernels",
            View::Graph => "Graph",
            View::Timeline => "Timeline",
            View::Roofline => "Roofline",
        }
    }
    pub fn parse(s: &str) -> Option<View> {
        View::ALL
            .into_iter()
            .find(|v| v.title().eq_ignore_ascii_case(s))
    }
}

/// How often a file or this process's recording is checked for changes.
const POLL: Duration = Duration::from_millis(250);

/// A screenshot to save once the window has settled (`--screenshot`).
struct Screenshot {
    path: PathBuf,
    /// Frames to draw first, counted after any background work has finished.
    frames_left: u32,
    requested: bool,
    /// Set by the screenshot callback: what saving it returned.
    saved: Arc<Mutex<Option<Result<(), String>>>>,
}

pub struct Inspector {
    source: Source,
    model: Model,
    /// Why the last load failed (the last good model stays on screen).
    error: Option<String>,
    last_poll: Option<Instant>,
    pub view: View,
    pub table: TableState,
    graph: graph::GraphState,
    /// Index into the model's kernels.
    selected: Option<usize>,
    pub detail_tab: DetailTab,
    lab: Option<Lab>,
    lab_timings: Vec<Timing>,
    /// Work running beside the window (the demo), with what it says while it runs.
    background: Option<(String, Receiver<Result<(), String>>)>,
    screenshot: Option<Screenshot>,
    /// A kernel (by launch order) to select as soon as the trace has it (`--select`).
    pending_select: Option<usize>,
}

impl Inspector {
    pub fn new(source: Source) -> Inspector {
        Inspector {
            source,
            model: Model::default(),
            error: None,
            last_poll: None,
            view: View::Kernels,
            table: TableState::default(),
            graph: graph::GraphState::default(),
            selected: None,
            detail_tab: DetailTab::Overview,
            lab: None,
            lab_timings: vec![],
            background: None,
            screenshot: None,
            pending_select: None,
        }
    }

    /// Runs `work` on a thread while the window shows `what` (the demo's workloads).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn run_beside(
        mut self,
        what: &str,
        work: impl FnOnce() -> Result<(), String> + Send + 'static,
    ) -> Inspector {
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            let _ = tx.send(work());
        });
        self.background = Some((what.to_string(), rx));
        self
    }

    /// Saves a PNG of the window to `path` once background work is done and `frames` more
    /// frames have been drawn, then closes the window.
    pub fn screenshot_to(mut self, path: impl Into<PathBuf>, frames: u32) -> Inspector {
        self.screenshot = Some(Screenshot {
            path: path.into(),
            frames_left: frames,
            requested: false,
            saved: Default::default(),
        });
        self
    }

    pub fn model(&self) -> &Model {
        &self.model
    }

    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    pub fn selected(&self) -> Option<usize> {
        self.selected
    }

    pub fn select(&mut self, kernel: Option<usize>) {
        self.selected = kernel.filter(|&k| k < self.model.kernels.len());
    }

    /// Selects kernel `kernel` (in launch order) once the trace has it.
    pub fn select_on_load(&mut self, kernel: Option<usize>) {
        self.pending_select = kernel;
    }

    pub fn lab_mut(&mut self) -> Option<&mut Lab> {
        self.lab.as_mut()
    }

    pub fn lab_timings(&self) -> &[Timing] {
        &self.lab_timings
    }

    /// Whether the demo (or other work beside the window) is still running.
    pub fn busy(&self) -> bool {
        self.background.is_some()
    }

    /// Polls the source (at most every `POLL`) and rebuilds the model when it changed.
    pub fn refresh(&mut self) {
        if self.last_poll.is_some_and(|t| t.elapsed() < POLL) {
            return;
        }
        self.last_poll = Some(Instant::now());
        if let Some((_, rx)) = &self.background {
            if let Ok(done) = rx.try_recv() {
                if let Err(e) = done {
                    self.error = Some(e);
                }
                self.background = None;
                // Whatever the work recorded last is picked up below or at the next poll.
                self.last_poll = None;
            }
        }
        match self.source.poll() {
            None => {}
            Some(Err(e)) => self.error = Some(e),
            Some(Ok(trace)) => {
                let selected_id = self.selected.map(|k| self.model.kernels[k].info.id);
                self.model = Model::from_trace(&trace);
                self.error = None;
                self.selected = selected_id.and_then(|id| self.model.kernel_index(id));
            }
        }
        if let Some(k) = self.pending_select {
            if k < self.model.kernels.len() {
                self.selected = Some(k);
                self.pending_select = None;
            }
        }
    }

    /// Draws the whole window into `ui` (eframe's root, or a test harness).
    pub fn show(&mut self, ui: &mut egui::Ui) {
        self.refresh();
        if !matches!(self.source, Source::Fixed { .. }) || self.background.is_some() {
            ui.ctx().request_repaint_after(POLL);
        }
        egui::Panel::top("inspector title").show(ui, |ui| self.title_bar(ui));
        if let Some(k) = self.selected {
            egui::Panel::right("kernel detail")
                .resizable(true)
                .default_size(620.0)
                .show(ui, |ui| {
                    let live = self.source.is_live();
                    let done = detail::ui(
                        ui,
                        &self.model,
                        k,
                        &mut self.detail_tab,
                        &mut self.lab,
                        live,
                    );
                    if let Some(t) = done {
                        self.lab_timings.push(t);
                    }
                });
        }
        egui::CentralPanel::default().show(ui, |ui| {
            ui.horizontal(|ui| {
                for v in View::ALL {
                    ui.selectable_value(&mut self.view, v, RichText::new(v.title()).strong());
                }
                if self.selected.is_some() && ui.button("close detail").clicked() {
                    self.selected = None;
                }
            });
            ui.separator();
            if self.model.kernels.is_empty() && self.model.realizes.is_empty() {
                ui.label(match (&self.background, &self.source) {
                    (Some(_), _) => "Waiting for the first kernels...",
                    (None, Source::Live { .. }) => {
                        "Nothing recorded: start a recording with kiln::trace::start() (or KILN_TRACE=path) before the work you want to see."
                    }
                    _ => "This trace has no realizes.",
                });
            }
            match self.view {
                View::Kernels => table::ui(ui, &self.model, &mut self.table, &mut self.selected),
                View::Graph => {
                    let realize = self
                        .selected
                        .and_then(|k| self.model.realize_of(k))
                        .or_else(|| self.model.realizes.len().checked_sub(1));
                    match realize {
                        Some(r) => {
                            graph::ui(ui, &self.model, r, &mut self.graph, &mut self.selected)
                        }
                        None => {
                            ui.label("no realize to draw");
                        }
                    }
                }
                View::Timeline => timeline::ui(ui, &self.model, &mut self.selected),
                View::Roofline => {
                    roofline::ui(ui, &self.model, &self.lab_timings, &mut self.selected)
                }
            }
        });
        self.screenshot_step(ui.ctx());
    }

    fn title_bar(&mut self, ui: &mut egui::Ui) {
        ui.horizontal_wrapped(|ui| {
            ui.heading("kiln inspector");
            ui.label(format!("trace: {}", self.source.describe()));
            let m = &self.model;
            // A page cannot wait inside a realize: there kernels come untimed (the lab times them).
            let time = match m.kernels.iter().any(|k| k.info.time_us.is_some()) {
                true => format!("{:.1} us of kernel time", m.total_time_us()),
                false => "kernels not timed".into(),
            };
            ui.label(format!(
                "{} realizes · {} kernels · {time}",
                m.realizes.len(),
                m.kernels.len(),
            ));
            for d in &m.devices {
                let probe = match d.probe {
                    Some(p) => format!(
                        " (copy {:.2} GB/s, FMA {:.1} GFLOPS)",
                        p.copy_gbs, p.fma_gflops
                    ),
                    None => String::new(),
                };
                ui.label(RichText::new(format!("{}{probe}", d.name)).monospace());
            }
            if let Some((what, _)) = &self.background {
                ui.spinner();
                ui.label(what);
            }
            if let Some(e) = &self.error {
                ui.label(RichText::new(e).color(Color32::from_rgb(255, 110, 110)));
            }
        });
    }

    fn screenshot_step(&mut self, ctx: &egui::Context) {
        let busy = self.background.is_some();
        let Some(s) = &mut self.screenshot else {
            return;
        };
        if let Some(result) = s.saved.lock().unwrap().take() {
            if let Err(e) = result {
                eprintln!("kiln-inspector: screenshot: {e}");
            }
            ctx.send_viewport_cmd(egui::ViewportCommand::Close);
            return;
        }
        ctx.request_repaint();
        if busy || s.requested {
            return;
        }
        if s.frames_left > 0 {
            s.frames_left -= 1;
            return;
        }
        s.requested = true;
        let (path, saved, ctx2) = (s.path.clone(), s.saved.clone(), ctx.clone());
        ctx.request_screenshot(move |image| {
            *saved.lock().unwrap() = Some(crate::save_png(&image, &path));
            ctx2.request_repaint();
        });
    }
}

impl eframe::App for Inspector {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.show(ui);
    }
}
