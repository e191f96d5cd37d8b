//! `kiln-inspector trace.json` opens a trace (reloaded when it changes);
//! `kiln-inspector --demo` runs softmax, layernorm, an MLP and a matmul live in-process.
//! `--save PATH` (with `--demo`) writes the demo's trace and exits without a window;
//! `--screenshot PATH` saves the window as PNG once it has settled, then exits;
//! `--view kernels|graph|timeline|roofline`, `--select N` (a kernel's row in launch order)
//! and `--detail overview|wgsl|ir|ast|ops|lab` choose what it shows first.

#[cfg(not(target_arch = "wasm32"))]
use kiln_inspector::views::detail::DetailTab;
#[cfg(not(target_arch = "wasm32"))]
use kiln_inspector::{demo, Inspector, Source, View};

#[cfg(not(target_arch = "wasm32"))]
const USAGE: &str = "usage: kiln-inspector (TRACE.json | --demo [--save PATH]) [--screenshot PATH] [--view kernels|graph|timeline|roofline] [--select N] [--detail overview|wgsl|ir|ast|ops|lab]";

/// In a browser the page starts the inspector (`kiln_inspector::web`); there is no binary.
#[cfg(target_arch = "wasm32")]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    env_logger::init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Err(e) = run(&args) {
        eprintln!("kiln-inspector: {e}\n{USAGE}");
        std::process::exit(2);
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn run(args: &[String]) -> Result<(), String> {
    let mut it = args.iter();
    let (mut demo, mut file, mut save, mut shot) = (false, None, None, None);
    let (mut view, mut select, mut detail) = (None, None, None);
    while let Some(a) = it.next() {
        let mut value = || it.next().cloned().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--demo" => demo = true,
            "--save" => save = Some(value()?),
            "--screenshot" => shot = Some(value()?),
            "--view" => {
                let v = value()?;
                view = Some(View::parse(&v).ok_or(format!("no view {v:?}"))?);
            }
            "--select" => {
                let v = value()?;
                select = Some(v.parse::<usize>().map_err(|_| format!("--select {v:?}"))?);
            }
            "--detail" => {
                let v = value()?;
                detail = Some(DetailTab::parse(&v).ok_or(format!("no detail tab {v:?}"))?);
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            f if !f.starts_with('-') && file.is_none() => file = Some(f.to_string()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if let Some(path) = save {
        if !demo {
            return Err("--save writes the demo's trace: use it with --demo".into());
        }
        let device = kiln::default_device().map_err(|e| e.to_string())?;
        demo::run(&device, demo::SIZE).map_err(|e| e.to_string())?;
        let trace = kiln::trace::stop();
        trace.write(&path).map_err(|e| e.to_string())?;
        println!(
            "wrote {path}: {} kernels on {}",
            trace.kernels().count(),
            device.name()
        );
        return Ok(());
    }
    let mut app = match (demo, file) {
        (true, None) => {
            Inspector::new(Source::live()).run_beside("running the demo workloads...", || {
                let device = kiln::default_device().map_err(|e| e.to_string())?;
                demo::run(&device, demo::SIZE).map_err(|e| e.to_string())
            })
        }
        (false, Some(f)) => Inspector::new(Source::file(f)),
        _ => return Err("give a trace file or --demo".into()),
    };
    if let Some(v) = view {
        app.view = v;
    }
    if let Some(d) = detail {
        app.detail_tab = d;
    }
    app.select_on_load(select);
    if let Some(path) = shot {
        app = app.screenshot_to(path, 10);
    }
    kiln_inspector::run(app).map_err(|e| e.to_string())
}
