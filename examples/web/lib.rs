//! The fluid demo in a web page: `examples/fluid`'s solver, unchanged, on the browser's WebGPU
//! adapter (the CPU device where the browser has none). The page (`index.html`, `main.js`)
//! steps it, draws the dye and the speed on a canvas, and stirs it with the mouse; it can
//! pause on a recorded step and open kiln's inspector on it, in the page.
//!
//! Build: `bash examples/web/build.sh`; serve `examples/web/` and open it (README).
#![cfg(all(target_arch = "wasm32", target_os = "unknown"))]

#[path = "../fluid/solver.rs"]
mod solver;

use kiln::{DType, Device, Tensor};
use solver::Fluid;
use wasm_bindgen::prelude::*;

/// Jacobi iterations of each pressure projection (as the native example).
const JACOBI: usize = 40;
const DT: f32 = 0.5;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = console)]
    fn error(message: &str);
}

/// A kiln error as a JS exception.
fn js(e: kiln::Error) -> JsValue {
    JsValue::from_str(&e.to_string())
}

/// One fluid on one device, and the stirs the page asked for since the last step.
#[wasm_bindgen]
pub struct Demo {
    fluid: Fluid,
    device: Device,
    /// Stirs since the last step: (y, x, dy, dx) in cells and cells per unit time.
    stirs: Vec<(f32, f32, f32, f32)>,
    /// Whether the rotating jet in the middle runs (it does until the mouse stirs).
    jet: bool,
    steps: u64,
    kernels_last_step: u64,
}

#[wasm_bindgen]
impl Demo {
    /// A still `n` x `n` fluid on the GPU (opened without blocking), else on the CPU device.
    pub async fn create(n: usize) -> Demo {
        std::panic::set_hook(Box::new(|p| error(&p.to_string())));
        let device = match Device::gpu_async().await {
            Ok(d) => d,
            Err(e) => {
                error(&format!("kiln: {e}; the fluid runs on the CPU device"));
                Device::cpu()
            }
        };
        Demo {
            fluid: Fluid::new(n, &device),
            device,
            stirs: vec![],
            jet: true,
            steps: 0,
            kernels_last_step: 0,
        }
    }

    /// The device's name, e.g. `WGPU:WebGPU adapter (BrowserWebGpu)`.
    pub fn device_name(&self) -> String {
        self.device.name()
    }

    pub fn size(&self) -> usize {
        self.fluid.n
    }

    /// Pushes the fluid at cell `(y, x)` with velocity `(dy, dx)` (cells per unit time) and
    /// drops dye there, at the next step. The first stir stops the jet.
    pub fn stir(&mut self, y: f32, x: f32, dy: f32, dx: f32) {
        self.jet = false;
        self.stirs.push((y, x, dy, dx));
        if self.stirs.len() > 4 {
            self.stirs.remove(0); // a step takes the latest few: its graph stays small
        }
    }

    /// Starts or stops the rotating jet.
    pub fn set_jet(&mut self, on: bool) {
        self.jet = on;
    }

    /// Advances one step; resolves once the device has computed it.
    pub async fn step(&mut self) -> Result<(), JsValue> {
        let n = self.fluid.n as f32;
        let zero = Tensor::zeros_on(&[self.fluid.n; 2], DType::F32, &self.device);
        let (mut fy, mut fx, mut dye) = (zero.clone(), zero.clone(), zero);
        let mut add = |at: Tensor, dy: f32, dx: f32, amount: f32| {
            fy = &fy + &(&at * dy);
            fx = &fx + &(&at * dx);
            dye = &dye + &(&at * amount);
        };
        if self.jet {
            // The jet turns once every 120 steps, as in the native example.
            let angle = self.steps as f32 * std::f32::consts::TAU / 120.0;
            let at = self.splat(n / 2.0, n / 2.0, 6.0);
            add(at, 8.0 * angle.sin(), 8.0 * angle.cos(), 4.0);
        }
        for (y, x, dy, dx) in std::mem::take(&mut self.stirs) {
            add(self.splat(y, x, 5.0), dy, dx, 3.0);
        }
        let before = kiln::stats().kernels_launched;
        self.fluid.step((&fy, &fx), &dye, DT, JACOBI).map_err(js)?;
        self.kernels_last_step = kiln::stats().kernels_launched - before;
        kiln::realize_async(&[&self.fluid.dye]).await.map_err(js)?;
        self.steps += 1;
        Ok(())
    }

    /// Starts recording kiln's trace (the kernels of the next steps), or stops and drops it.
    pub fn record(&mut self, on: bool) -> Result<(), JsValue> {
        match on {
            true => kiln::trace::start().map_err(js),
            false => {
                kiln::trace::stop();
                Ok(())
            }
        }
    }

    /// Kernels the last step launched.
    pub fn kernels_last_step(&self) -> u32 {
        self.kernels_last_step as u32
    }

    /// The dye (blue to white) and the speed (orange) as `n * n * 4` RGBA bytes, computed on
    /// the device and read without blocking.
    pub async fn frame(&self) -> Result<Vec<u8>, JsValue> {
        let f = &self.fluid;
        let dye = (&f.dye * 0.25f32).clamp(0.0, 1.0);
        let speed = (&f.u.square() + &f.v.square()).sqrt().clamp(0.0, 4.0) * 0.25f32;
        let channel = |base: f32, from_dye: f32, from_speed: f32| {
            (&(&dye * from_dye) + &(&speed * from_speed) + base).clamp(0.0, 255.0)
        };
        let alpha = Tensor::full_on(&[f.n, f.n], 255.0, DType::F32, &self.device);
        let (r, g, b) = (
            channel(12.0, 235.0, 150.0),
            channel(18.0, 215.0, 70.0),
            channel(60.0, 195.0, -40.0),
        );
        let rgba = Tensor::stack(&[&r, &g, &b, &alpha], -1).cast(DType::U8);
        rgba.to_vec_async::<u8>().await.map_err(js)
    }
}

impl Demo {
    /// A Gaussian of radius `r` cells around `(cy, cx)`, computed on the device from the cell
    /// indices (nothing uploaded).
    fn splat(&self, cy: f32, cx: f32, r: f32) -> Tensor {
        let n = self.fluid.n;
        let coord = |shape: [isize; 2], c: f32| {
            let i = Tensor::arange_on(0.0, n as f64, 1.0, DType::F32, &self.device);
            (&i.reshape(&shape) - c).square()
        };
        let d2 = &coord([n as isize, 1], cy) + &coord([1, n as isize], cx);
        (d2 * (-1.0 / (r * r))).exp()
    }
}

/// kiln's inspector on a canvas of the page, showing the page's recording live (its kernel
/// lab times kernels on the page's GPU).
#[wasm_bindgen]
pub struct Inspector(kiln_inspector::web::WebInspector);

#[wasm_bindgen]
impl Inspector {
    pub async fn open(canvas: web_sys::HtmlCanvasElement) -> Result<Inspector, JsValue> {
        Ok(Inspector(
            kiln_inspector::web::WebInspector::start(canvas).await?,
        ))
    }

    pub fn close(&self) {
        self.0.close();
    }
}
