//! The kernel lab: edit a live kernel's opt list, see the WGSL and IR it renders to (or the
//! `OptError` that refuses it), and re-time it on its device against the heuristic's list,
//! through the public `Kernel::with_opts` and `Kernel::time`. Timing runs on a worker thread
//! so the window stays responsive on a slow device.

use std::sync::mpsc::{channel, Receiver};

use eframe::egui::{self, Color32, RichText};
use kiln::{Kernel, Opt, OptOp};

use crate::model::Rates;
use crate::style;

/// Launches per timing; the median is kept (`Kernel::time`).
pub const RUNS: usize = 5;

/// One timing of the lab's list against the heuristic's, in one job on one device.
#[derive(Clone, Debug, PartialEq)]
pub struct Timing {
    pub kernel_id: u64,
    pub opts: Vec<Opt>,
    pub lab_us: f64,
    pub heuristic_us: f64,
    pub lab: Option<Rates>,
    pub heuristic: Option<Rates>,
}

pub struct Lab {
    /// The trace id of the kernel under study.
    pub kernel_id: u64,
    /// The kernel as traced: the heuristic's opts.
    base: Kernel,
    /// The list being edited.
    pub opts: Vec<Opt>,
    /// `opts` applied: the kernel, or the `OptError`'s text.
    pub built: Result<Kernel, String>,
    job: Option<Receiver<Result<Timing, String>>>,
    /// The last timing, or why it failed.
    pub last: Option<Result<Timing, String>>,
}

impl Lab {
    pub fn new(kernel_id: u64, base: Kernel) -> Lab {
        let opts = base.opts().to_vec();
        Lab {
            kernel_id,
            built: Ok(base.clone()),
            base,
            opts,
            job: None,
            last: None,
        }
    }

    /// Replaces the list and re-renders.
    pub fn set_opts(&mut self, opts: Vec<Opt>) {
        self.opts = opts;
        self.rebuild();
    }

    fn rebuild(&mut self) {
        self.built = self.base.with_opts(&self.opts).map_err(|e| e.to_string());
    }

    pub fn is_timing(&self) -> bool {
        self.job.is_some()
    }

    /// Times the lab's list and the heuristic's, one after the other: on a worker thread, or
    /// in the browser on the page's event loop (`Kernel::time_async`). `done` runs when the
    /// result is ready (the window asks for a repaint).
    pub fn start_timing(&mut self, done: impl FnOnce() + Send + 'static) {
        let Ok(lab) = self.built.clone() else { return };
        let base = self.base.clone();
        let (id, opts) = (self.kernel_id, self.opts.clone());
        let (tx, rx) = channel();
        self.job = Some(rx);
        let work = async move {
            let result = time_both(&base, &lab, id, opts).await;
            let _ = tx.send(result.map_err(|e| e.to_string()));
            done();
        };
        #[cfg(not(target_arch = "wasm32"))]
        std::thread::spawn(move || pollster::block_on(work));
        #[cfg(target_arch = "wasm32")]
        wasm_bindgen_futures::spawn_local(work);
    }

    /// A finished timing, once.
    pub fn poll(&mut self) -> Option<Result<Timing, String>> {
        let r = self.job.as_ref()?.try_recv().ok()?;
        self.job = None;
        self.last = Some(r.clone());
        Some(r)
    }

    /// The lab's panel. Returns a timing that finished this frame.
    pub fn ui(&mut self, ui: &mut egui::Ui) -> Option<Timing> {
        let finished = self.poll().and_then(|r| r.ok());
        ui.label(format!(
            "Opt list of {} (applied in order; axis numbers address the parts as they stand after the opts before it):",
            self.base.name()
        ));
        let edited = self.opt_rows(ui);
        let appended = self.list_buttons(ui);
        if edited || appended {
            self.rebuild();
        }
        ui.separator();
        match self.built.clone() {
            Err(e) => {
                ui.label(
                    RichText::new(format!("OptError: {e}")).color(Color32::from_rgb(255, 110, 110)),
                );
            }
            Ok(k) => self.kernel_panel(ui, &k),
        }
        finished
    }

    /// One row per opt of the list: its op, axis and amount, and a remove button. Says
    /// whether the list changed.
    fn opt_rows(&mut self, ui: &mut egui::Ui) -> bool {
        let mut changed = false;
        let mut remove = None;
        egui::Grid::new("lab opts").striped(true).show(ui, |ui| {
            for (i, opt) in self.opts.iter_mut().enumerate() {
                egui::ComboBox::new(("lab op", i), format!("op {i}"))
                    .selected_text(opt.op.name())
                    .show_ui(ui, |ui| {
                        for op in OptOp::ALL {
                            changed |= ui.selectable_value(&mut opt.op, op, op.name()).changed();
                        }
                    });
                let l = ui.label("axis");
                changed |= ui
                    .add(egui::DragValue::new(&mut opt.axis).range(0..=15))
                    .labelled_by(l.id)
                    .changed();
                let l = ui.label("amount");
                changed |= ui
                    .add(egui::DragValue::new(&mut opt.amount).range(0..=1024))
                    .labelled_by(l.id)
                    .changed();
                if ui.button(format!("remove {i}")).clicked() {
                    remove = Some(i);
                }
                ui.end_row();
            }
        });
        if let Some(i) = remove {
            self.opts.remove(i);
            changed = true;
        }
        changed
    }

    /// Append one of the valid next opts, or reset the list to the heuristic's or NOOPT.
    /// Says whether the list changed.
    fn list_buttons(&mut self, ui: &mut egui::Ui) -> bool {
        let mut changed = false;
        ui.horizontal(|ui| {
            let candidates = match &self.built {
                Ok(k) => k.candidate_opts(),
                Err(_) => vec![],
            };
            egui::ComboBox::new("lab candidates", "append")
                .selected_text(format!("{} valid next opts", candidates.len()))
                .show_ui(ui, |ui| {
                    for c in candidates {
                        if ui.selectable_label(false, c.to_string()).clicked() {
                            self.opts.push(c);
                            changed = true;
                        }
                    }
                });
            if ui.button("add UPCAST").clicked() {
                self.opts.push(Opt::new(OptOp::Upcast, 0, 2));
                changed = true;
            }
            if ui.button("heuristic").clicked() {
                self.opts = self.base.opts().to_vec();
                changed = true;
            }
            if ui.button("NOOPT").clicked() {
                self.opts.clear();
                changed = true;
            }
        });
        changed
    }

    /// The kernel the list builds: its sizes, the timing button and result, WGSL and IR.
    fn kernel_panel(&mut self, ui: &mut egui::Ui, k: &Kernel) {
        ui.horizontal(|ui| {
            ui.label(RichText::new(k.name()).monospace());
            ui.label(format!(
                "global {:?} · local {:?} · {} FLOPs · {} bytes",
                k.global_size(),
                k.local_size(),
                k.flops(),
                k.bytes()
            ));
        });
        ui.horizontal(|ui| {
            let label = format!("time on {}", k.device().name());
            let button = ui.add_enabled(!self.is_timing(), egui::Button::new(label));
            if button.clicked() {
                let ctx = ui.ctx().clone();
                self.start_timing(move || ctx.request_repaint());
            }
            if self.is_timing() {
                ui.spinner();
                ui.label("timing...");
            }
        });
        match &self.last {
            Some(Ok(t)) => {
                ui.label(timing_text(t));
            }
            Some(Err(e)) => {
                ui.colored_label(Color32::from_rgb(255, 110, 110), e);
            }
            None => {}
        }
        egui::CollapsingHeader::new("WGSL")
            .default_open(true)
            .show(ui, |ui| match k.wgsl() {
                Ok(src) => style::code_block(ui, "lab wgsl", style::highlight_wgsl(&src, 12.0)),
                Err(e) => {
                    ui.colored_label(Color32::RED, e.to_string());
                }
            });
        egui::CollapsingHeader::new("IR").show(ui, |ui| {
            style::code_block(ui, "lab ir", style::plain_code(&k.ir()));
        });
    }
}

/// "lab 12.0 us (3.1 GFLOPS, 4.0 GB/s) · heuristic 10.0 us · 0.83x"
pub fn timing_text(t: &Timing) -> String {
    let rates = |r: &Option<Rates>| match r {
        Some(r) => format!(" ({:.2} GFLOPS, {:.2} GB/s)", r.gflops, r.gbs),
        None => String::new(),
    };
    format!(
        "lab {:.1} us{} · heuristic {:.1} us{} · lab is {:.2}x the heuristic's speed (median of {RUNS})",
        t.lab_us,
        rates(&t.lab),
        t.heuristic_us,
        rates(&t.heuristic),
        t.heuristic_us / t.lab_us.max(1e-9)
    )
}

/// The heuristic's kernel `base` and the lab's `lab` timed one after the other.
async fn time_both(
    base: &Kernel,
    lab: &Kernel,
    kernel_id: u64,
    opts: Vec<Opt>,
) -> kiln::Result<Timing> {
    let device = base.device().clone();
    let heuristic = base.time_async(&device, RUNS).await?.as_secs_f64() * 1e6;
    let mine = lab.time_async(&device, RUNS).await?.as_secs_f64() * 1e6;
    Ok(Timing {
        kernel_id,
        opts,
        lab_us: mine,
        heuristic_us: heuristic,
        lab: Rates::of(lab.flops(), lab.bytes(), mine),
        heuristic: Rates::of(base.flops(), base.bytes(), heuristic),
    })
}
