//! The inspector in a web page: started on a canvas, it shows the page's own kiln recording
//! (`kiln::trace::start`) live, with the kernel lab timing kernels on the page's GPU.

use eframe::wasm_bindgen::JsValue;
use eframe::web_sys::HtmlCanvasElement;

use crate::{Inspector, Source};

/// A running inspector; dropping it leaves it running (eframe owns the canvas's events).
pub struct WebInspector {
    runner: eframe::WebRunner,
}

impl WebInspector {
    /// Starts the inspector on `canvas`, showing this page's recording live.
    pub async fn start(canvas: HtmlCanvasElement) -> Result<WebInspector, JsValue> {
        // eframe's and wgpu's messages go to the browser console.
        let _ = eframe::WebLogger::init(log::LevelFilter::Info);
        let runner = eframe::WebRunner::new();
        let app = Inspector::new(Source::live());
        runner
            .start(
                canvas,
                eframe::WebOptions {
                    renderer: eframe::Renderer::Glow,
                    ..Default::default()
                },
                Box::new(move |_cc| Ok(Box::new(app))),
            )
            .await?;
        Ok(WebInspector { runner })
    }

    /// Stops the inspector and lets go of its canvas.
    pub fn close(&self) {
        self.runner.destroy();
    }

    /// The panic that stopped the inspector, if one did.
    pub fn panic_message(&self) -> Option<String> {
        self.runner.panic_summary().map(|p| p.message())
    }
}
