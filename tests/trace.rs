//! Traces (`kiln::trace`): what a realize records, the JSON round trip, the Chrome export,
//! the file kept valid after every event, and `KILN_TRACE` (in a child process: the variable
//! is read once per process). The recorder is process-wide, so these tests run one at a time.

mod common;
use common::*;
use kiln::trace::{self, Event, Trace};
use kiln::DType;

fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

const CHILD: &str = "KILN_TRACE_TEST_CHILD";

/// A softmax and a matmul + relu on every device, traced.
fn workload() {
    for dev in devices() {
        let x = rand_input(DType::F32, &[8, 40], 1).on(&dev);
        let (a, b) = (
            rand_input(DType::F32, &[16, 24], 2).on(&dev),
            rand_input(DType::F32, &[24, 8], 3).on(&dev),
        );
        let s = x.softmax(-1);
        let m = a.matmul(&b).relu();
        kiln::realize(&[&s, &m]).unwrap();
        assert_close("softmax", &read(&s), &s.oracle().unwrap().data, 1e-5, 1e-4);
    }
}

#[test]
fn a_trace_records_realizes_kernels_and_buffers() {
    let _g = serial();
    trace::start().unwrap();
    workload();
    let t = trace::stop();
    let devices = devices().len();
    let count = |f: &dyn Fn(&Event) -> bool| t.events.iter().filter(|e| f(e)).count();
    assert_eq!(count(&|e| matches!(e, Event::Device { .. })), devices);
    assert_eq!(count(&|e| matches!(e, Event::Realize { .. })), devices);
    // softmax is one kernel, matmul + relu another (different domains), per device.
    let kernels: Vec<_> = t.kernels().collect();
    assert_eq!(kernels.len(), 2 * devices, "{kernels:#?}");
    for k in &kernels {
        assert!(k.time_us.is_some_and(|t| t > 0.0), "{} untimed", k.name);
        assert!(k.wgsl.contains("@compute"), "{}", k.wgsl);
        assert!(!k.ir.is_empty() && k.ast.contains("domain"));
        assert!(k.flops > 0 && k.bytes > 0);
        assert_eq!(k.buffers.iter().filter(|b| b.output).count(), 1);
        let lanes: usize = k.local_size.iter().product();
        assert!(lanes >= 1);
    }
    // softmax's kernel: the row over group lanes, its rest a loop (GROUPOUT).
    let softmax = kernels.iter().find(|k| k.buffers.len() == 2).unwrap();
    let kinds: Vec<&str> = softmax.parts.iter().map(|p| p.kind.as_str()).collect();
    assert!(kinds.contains(&"group"), "{kinds:?}");
    assert!(
        softmax.opts.iter().any(|o| o.contains("GROUPOUT")),
        "{:?}",
        softmax.opts
    );
    // Every computed node names its kernel; the inputs name none.
    for e in &t.events {
        if let Event::Realize { nodes, kernels, .. } = e {
            let computed = nodes.iter().filter(|n| n.kernel.is_some()).count();
            assert!(computed >= 10, "{nodes:#?}");
            for n in nodes {
                if n.op == "source" {
                    assert_eq!(n.kernel, None);
                }
                if let Some(k) = n.kernel {
                    assert!(kernels.contains(&k));
                }
            }
        }
    }
    // Buffers: every output was allocated; frees name allocated buffers.
    let allocs: Vec<u64> = t
        .events
        .iter()
        .filter_map(|e| match e {
            Event::Alloc { buffer, .. } => Some(*buffer),
            _ => None,
        })
        .collect();
    assert!(allocs.len() >= 5 * devices, "{allocs:?}");
    for e in &t.events {
        if let Event::Free { buffer, .. } = e {
            assert!(
                allocs.contains(buffer),
                "free of an unknown buffer {buffer}"
            );
        }
    }
    // JSON round trip, and the Chrome export has one complete event per kernel.
    assert!(
        Trace::from_json(&t.to_json()).unwrap() == t,
        "JSON round trip differs"
    );
    let chrome: serde_json::Value = serde_json::from_str(&t.to_chrome_json()).unwrap();
    let spans = chrome["traceEvents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["ph"] == "X" && e["cat"] == "kernel")
        .count();
    assert_eq!(spans, kernels.len());
    // Off again: nothing more is recorded.
    workload();
    assert!(trace::snapshot().events.is_empty());
    assert!(!trace::is_enabled());
}

/// The kernel lab's entry point: a traced kernel stays alive for re-rendering and re-timing
/// under other opts while the recording lasts, and is let go when it stops.
#[test]
fn traced_kernels_stay_live_until_the_trace_stops() {
    let _g = serial();
    trace::start().unwrap();
    workload();
    let t = trace::snapshot();
    assert!(trace::event_count() >= t.events.len());
    assert!(t.kernels().count() > 0);
    for info in t.kernels() {
        let k = trace::live_kernel(info.id).expect("a traced kernel is live while recording");
        assert_eq!(k.name(), info.name);
        let opts: Vec<String> = k.opts().iter().map(|o| o.to_string()).collect();
        assert_eq!(opts, info.opts);
        assert!(!info.domain.is_empty());
        for b in &info.buffers {
            assert!(
                !b.views.is_empty(),
                "{}: buffer {} has no view",
                info.name,
                b.index
            );
            assert!(b.views[0].starts_with("strides (") || b.views[0].starts_with("index "));
        }
        let noopt = k.with_opts(&[]).expect("NOOPT applies to every kernel");
        assert!(noopt.wgsl().unwrap().contains("@compute"));
        assert!(noopt.time(k.device(), 1).is_ok());
    }
    let last = t.kernels().last().unwrap().id;
    trace::stop();
    assert!(trace::live_kernel(last).is_none());
    assert_eq!(trace::event_count(), 0);
}

#[test]
fn the_trace_file_is_valid_after_every_realize() {
    let _g = serial();
    let path = std::env::temp_dir().join(format!("kiln-trace-{}.json", std::process::id()));
    trace::start_file(&path).unwrap();
    let empty = Trace::from_json(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert!(empty.events.is_empty());
    workload();
    // Read while still tracing: the file is complete as it stands.
    let mid = Trace::from_json(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert!(mid.kernels().count() >= 2, "{mid:?}");
    let t = trace::stop();
    let file = Trace::from_json(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert!(file == t, "the file differs from the trace returned");
    std::fs::remove_file(&path).unwrap();
    // Not a trace: a clear error.
    let e = Trace::from_json("{\"format\":\"other\",\"version\":1,\"events\":[]}").unwrap_err();
    assert!(e.to_string().contains("not a kiln trace"), "{e}");
}

#[test]
fn child_traced_by_the_environment() {
    if std::env::var(CHILD).is_err() {
        return; // only meaningful as the child of the test below
    }
    workload();
}

#[test]
fn kiln_trace_writes_the_file() {
    let path = std::env::temp_dir().join(format!("kiln-env-trace-{}.json", std::process::id()));
    let exe = std::env::current_exe().unwrap();
    let out = std::process::Command::new(&exe)
        .args(["--exact", "child_traced_by_the_environment", "--quiet"])
        .env(CHILD, "1")
        .env("KILN_TRACE", &path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let t = Trace::from_json(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(t.kernels().count(), 2 * devices().len());
    std::fs::remove_file(&path).unwrap();
}
