//! The inspector in a web page (headless Chromium, `.ci/run`): started on a canvas over the
//! page's own recording, it draws frames without panicking, and its kernel lab's timer runs
//! on the page's GPU. Natively this file is empty.
#![cfg(all(target_arch = "wasm32", target_os = "unknown"))]

use eframe::wasm_bindgen::JsCast;
use eframe::web_sys::HtmlCanvasElement;
use kiln::{Device, Tensor};
use kiln_inspector::web::WebInspector;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

/// Resolves after `ms` milliseconds of the page's clock (the inspector draws meanwhile).
async fn sleep(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        eframe::web_sys::window()
            .unwrap()
            .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms)
            .unwrap();
    });
    wasm_bindgen_futures::JsFuture::from(promise).await.unwrap();
}

#[wasm_bindgen_test]
async fn the_inspector_runs_in_a_page_on_its_recording() {
    let gpu = Device::gpu_async().await.expect("a WebGPU adapter");
    kiln::trace::start().unwrap();
    let data: Vec<f32> = (0..64 * 64).map(|i| (i % 17) as f32 * 0.25).collect();
    let x = Tensor::from_slice_on(&data, &[64, 64], &gpu).unwrap();
    let (y, z) = (x.softmax(-1), x.matmul(&x).relu());
    kiln::realize_async(&[&y, &z]).await.unwrap();
    let recorded = kiln::trace::snapshot();
    let kernel = recorded.kernels().next().expect("a recorded kernel").id;

    let document = eframe::web_sys::window().unwrap().document().unwrap();
    let canvas: HtmlCanvasElement = document
        .create_element("canvas")
        .unwrap()
        .dyn_into()
        .unwrap();
    canvas.set_width(1200);
    canvas.set_height(800);
    canvas.style().set_property("width", "1200px").unwrap();
    canvas.style().set_property("height", "800px").unwrap();
    document.body().unwrap().append_child(&canvas).unwrap();
    let inspector = WebInspector::start(canvas)
        .await
        .expect("the inspector starts");
    sleep(1500).await;
    assert_eq!(inspector.panic_message(), None);

    // What the kernel lab runs: a recorded kernel, alive, timed on the page's GPU.
    let live = kiln::trace::live_kernel(kernel).expect("the recorded kernel, live");
    let t = live.time_async(&gpu, 2).await.unwrap();
    assert!(t.as_secs_f64() > 0.0);
    inspector.close();
    kiln::trace::stop();
}
