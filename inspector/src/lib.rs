//! kiln's inspector: every kernel a program became, in a native window. It reads a kiln trace
//! (`kiln::trace`, `KILN_TRACE=path.json`) and shows the realizes and kernels in a sortable
//! table, each kernel's opts, buffers, WGSL, IR and fused ops, the lazy graph colored by
//! kernel, a timeline, and a roofline under the device's measured ceilings. In-process it
//! also has a kernel lab: edit a kernel's opt list and re-time it live.
//!
//! From your own program, one call opens it on what kiln has done so far:
//!
//! ```no_run
//! kiln::trace::start()?;                       // record from here on
//! let x = kiln::Tensor::from_slice(&[1.0f32, 2.0, 3.0], &[3])?;
//! x.softmax(-1).realize()?;
//! kiln_inspector::show_recent().expect("the inspector window");
//! # Ok::<(), kiln::Error>(())
//! ```

pub mod app;
pub mod demo;
pub mod lab;
pub mod model;
pub mod source;
pub mod style;
pub mod views;
#[cfg(target_arch = "wasm32")]
pub mod web;

use std::path::Path;

pub use app::{Inspector, View};
pub use source::Source;

#[cfg(not(target_arch = "wasm32"))]
/// The window's options: its title and size.
pub fn native_options() -> eframe::NativeOptions {
    eframe::NativeOptions {
        viewport: eframe::egui::ViewportBuilder::default()
            .with_title("kiln inspector")
            .with_inner_size([1500.0, 900.0]),
        ..Default::default()
    }
}

#[cfg(not(target_arch = "wasm32"))]
/// Opens the inspector on `app` and returns when its window is closed. eframe needs the
/// main thread on most platforms.
pub fn run(app: Inspector) -> eframe::Result {
    eframe::run_native(
        "kiln inspector",
        native_options(),
        Box::new(move |_cc| Ok(Box::new(app))),
    )
}

#[cfg(not(target_arch = "wasm32"))]
/// The one call: opens the inspector on this process's recording (`kiln::trace::start`
/// or `KILN_TRACE`), live — it keeps up while other threads work — with the kernel lab on
/// the kernels recorded. Blocks until the window is closed.
pub fn show_recent() -> eframe::Result {
    run(Inspector::new(Source::live()))
}

#[cfg(not(target_arch = "wasm32"))]
/// Opens the inspector on a trace taken with `kiln::trace::stop` or `snapshot`.
pub fn show_trace(trace: kiln::trace::Trace) -> eframe::Result {
    run(Inspector::new(Source::fixed(trace)))
}

#[cfg(not(target_arch = "wasm32"))]
/// Opens the inspector on a trace file, reloaded whenever it changes.
pub fn show_file(path: impl AsRef<Path>) -> eframe::Result {
    run(Inspector::new(Source::file(path.as_ref())))
}

/// Writes `image` to `path` as PNG.
pub fn save_png(image: &eframe::egui::ColorImage, path: &Path) -> Result<(), String> {
    let [w, h] = image.size;
    let rgba: Vec<u8> = image.pixels.iter().flat_map(|p| p.to_array()).collect();
    image::save_buffer(path, &rgba, w as u32, h as u32, image::ColorType::Rgba8)
        .map_err(|e| format!("{}: {e}", path.display()))
}
