//! `cargo run --release --example trace`: records a softmax, a layernorm and a small MLP layer
//! with `kiln::trace` (after a first, compiling step), prints each kernel it ran, and writes `trace.json` (kiln's format) and
//! `timeline.json` (Chrome trace events: open it in ui.perfetto.dev).

fn main() -> kiln::Result<()> {
    let dev = kiln::default_device()?;
    let data: Vec<f32> = (0..256 * 512)
        .map(|i| ((i * 37) % 101) as f32 * 0.02 - 1.0)
        .collect();
    let x = kiln::Tensor::from_slice_on(&data, &[256, 512], &dev)?;
    let w = kiln::Tensor::from_slice_on(&data[..512 * 128], &[512, 128], &dev)?;

    let step = || -> kiln::Result<()> {
        x.softmax(-1).realize()?;
        x.layer_norm(-1, 1e-5).realize()?;
        x.matmul(&w).relu().realize()?;
        Ok(())
    };
    // The first step compiles (llvmpipe compiles a pipeline at its first dispatch, inside the
    // timestamps): trace the second, a schedule-cache hit for every realize.
    step()?;
    kiln::trace::start()?;
    step()?;
    let trace = kiln::trace::stop();

    println!("device: {}", dev.name());
    for k in trace.kernels() {
        println!(
            "{:<32} {:>9.1} us ({})  opts: {}",
            k.name,
            k.time_us.unwrap_or(0.0),
            k.clock,
            k.opts.join(", ")
        );
    }
    trace.write("trace.json")?;
    std::fs::write("timeline.json", trace.to_chrome_json())
        .map_err(|e| kiln::Error::Trace(e.to_string()))?;
    println!(
        "wrote trace.json and timeline.json ({} events)",
        trace.events.len()
    );
    Ok(())
}
