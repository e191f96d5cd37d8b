//! The inspector through its public API: a fixture trace (recorded with
//! `kiln-inspector --demo --save` on lavapipe) in every view, the widgets each must show,
//! snapshot images of them (rendered with wgpu on whatever adapter runs the tests; lavapipe in
//! CI), a trace file reloaded when it changes, and the kernel lab on live kernels.
//!
//! Snapshots live in tests/snapshots; `UPDATE_SNAPSHOTS=true` rewrites the ones that differ.

use std::time::{Duration, Instant};

use eframe::egui;
use egui_kittest::kittest::Queryable;
use egui_kittest::Harness;
use kiln::trace::Trace;
use kiln_inspector::model::{Column, Model};
use kiln_inspector::views::detail::DetailTab;
use kiln_inspector::{Inspector, Source, View};

const FIXTURE: &str = include_str!("fixtures/demo_trace.json");

fn fixture() -> Trace {
    Trace::from_json(FIXTURE).expect("the fixture is a kiln trace of this version")
}

fn harness<'a>(app: Inspector) -> Harness<'a, Inspector> {
    let mut h = Harness::builder()
        .with_size([1400.0, 860.0])
        .build_eframe(|_cc| app);
    h.run();
    h
}

#[test]
fn the_fixture_model_has_rates_and_a_roofline() {
    let m = Model::from_trace(&fixture());
    assert!(m.kernels.len() >= 5, "{} kernels", m.kernels.len());
    assert_eq!(m.realizes.len(), 4, "softmax, layernorm, MLP, matmul");
    let probe = m.devices[0]
        .probe
        .expect("the demo measures the probes on a GPU");
    for k in &m.kernels {
        let r = k.rates.expect("every kernel of the demo is timed");
        assert!(r.gbs > 0.0 && r.gflops > 0.0, "{}", k.info.name);
        let pct = k.roofline_pct.unwrap();
        assert!(pct > 0.0, "{}: {pct}%", k.info.name);
        let expect = 100.0 * (r.gflops / probe.fma_gflops).max(r.gbs / probe.copy_gbs);
        assert!((pct - expect).abs() < 1e-9);
    }
    // sorted by time, slowest first; by name, alphabetically
    let by_time = m.sorted_kernels(None, Column::Time, true);
    let times: Vec<f64> = by_time
        .iter()
        .map(|&k| m.kernels[k].info.time_us.unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "{times:?}");
    let by_name = m.sorted_kernels(None, Column::Name, false);
    let names: Vec<&str> = by_name
        .iter()
        .map(|&k| m.kernels[k].info.name.as_str())
        .collect();
    assert!(names.windows(2).all(|w| w[0] <= w[1]), "{names:?}");
    // a realize filter keeps that realize's kernels only
    let last = m.realizes.len() - 1;
    assert_eq!(
        m.sorted_kernels(Some(last), Column::Launch, false),
        m.realizes[last].kernels
    );
}

#[test]
fn kernels_table_and_detail() {
    let mut h = harness(Inspector::new(Source::fixed(fixture())));
    let model = h.state().model().clone();
    for title in [
        "# ^",
        "realize",
        "kernel",
        "time (us)",
        "GFLOPS",
        "GB/s",
        "% roofline",
    ] {
        h.get_by_label(title);
    }
    for k in &model.kernels {
        assert!(
            h.query_all_by_label(&k.info.name).next().is_some(),
            "the table lists {}",
            k.info.name
        );
    }
    // sort by time: a click on the header, slowest first
    h.get_by_label("time (us)").click();
    h.run();
    assert_eq!(h.state().table.sort, Column::Time);
    assert!(h.state().table.descending);
    h.snapshot("kernels_sorted_by_time");

    // the slowest kernel's detail
    let slowest = model.sorted_kernels(None, Column::Time, true)[0];
    h.state_mut().select(Some(slowest));
    h.run();
    h.get_by_label("Overview");
    h.get_by_label_contains("of the roofline");
    h.get_by_label_contains("view over the domain");
    h.snapshot("kernel_detail_overview");
    h.get_by_label("WGSL").click();
    h.run();
    assert_eq!(h.state().detail_tab, DetailTab::Wgsl);
    h.get_by_label_contains("@compute");
    h.snapshot("kernel_detail_wgsl");
    h.get_by_label("Fused ops").click();
    h.run();
    let info = &model.kernels[slowest].info;
    let realize = &model.realizes[model.realize_of(slowest).unwrap()];
    let fused: Vec<_> = realize
        .nodes
        .iter()
        .filter(|n| n.kernel == Some(info.id))
        .collect();
    assert!(!fused.is_empty());
    let first = format!("%{:<5} {:<4}", fused[0].id, fused[0].dtype);
    let listing = h.get_by_label_contains(&first).value().unwrap_or_default();
    for n in &fused {
        let line = format!("= {}(", n.op);
        assert!(listing.contains(&line), "{line} in {listing}");
    }
    // a recorded trace has no live kernels: the lab says how to get them
    h.get_by_label("Lab").click();
    h.run();
    h.get_by_label_contains("show_recent()");
}

#[test]
fn graph_timeline_and_roofline_views() {
    let mut app = Inspector::new(Source::fixed(fixture()));
    app.view = View::Graph;
    let mut h = harness(app);
    // the MLP's realize: its nodes colored by the kernels they were fused into
    let model = h.state().model().clone();
    let mlp = &model.realizes[2];
    h.state_mut().select(Some(mlp.kernels[0]));
    h.run();
    h.get_by_label_contains(&format!(
        "realize {}: {} nodes; kernels:",
        mlp.id,
        mlp.nodes.len()
    ));
    // every node is a widget named after its op
    for n in &mlp.nodes {
        assert!(h
            .query_all_by_label_contains(&format!("%{} = ", n.id))
            .next()
            .is_some());
    }
    h.snapshot("graph_view");
    // a node can be dragged elsewhere, and "Reset layout" puts it back
    let label = format!("%{} = {}", mlp.nodes[0].id, mlp.nodes[0].op);
    // Widgets report their rects in the scene's coordinates; the scene's layer is the only
    // one egui transforms (its pan and zoom), so that transform takes them to the screen.
    let node_rect = |h: &Harness<'_, Inspector>| {
        let transforms: Vec<_> = h.ctx.memory(|m| m.to_global.values().copied().collect());
        assert_eq!(transforms.len(), 1, "one pan-and-zoom scene");
        transforms[0] * h.get_by_label(&label).rect()
    };
    let before = node_rect(&h);
    let start = before.center();
    h.hover_at(start);
    h.run();
    h.drag_at(start);
    h.run();
    for step in 1..=4 {
        h.hover_at(start + egui::vec2(20.0, 15.0) * step as f32);
        h.run();
    }
    h.drop_at(start + egui::vec2(80.0, 60.0));
    h.run();
    let after = node_rect(&h);
    let moved = after.center() - before.center();
    assert!(
        moved.x > 20.0 && moved.y > 15.0,
        "the dragged node moved by {moved:?}"
    );
    h.get_by_label("Reset layout").click();
    h.run();
    let back = node_rect(&h).center() - before.center();
    assert!(
        back.length() < 1.0,
        "after a reset the node is {back:?} off its place"
    );
    h.get_by_label("Timeline").click();
    h.run();
    h.get_by_label_contains("us of kernel time in all");
    h.snapshot("timeline_view");
    h.get_by_label("Roofline").click();
    h.run();
    h.get_by_label_contains("FLOPs per byte moved");
    h.snapshot("roofline_view");
}

#[test]
fn a_trace_file_is_reloaded_when_it_changes() {
    let dir = std::env::temp_dir().join(format!("kiln-inspector-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("trace.json");
    let full = fixture();
    // the trace up to the first realize's last kernel
    let first = Model::from_trace(&full).realizes[0].kernels.len();
    let cut = full
        .events
        .iter()
        .position(|e| matches!(e, kiln::trace::Event::Kernel(k) if k.id as usize == first - 1))
        .unwrap();
    let partial = Trace {
        events: full.events[..=cut].to_vec(),
        ..full.clone()
    };
    partial.write(&path).unwrap();
    let mut h = Harness::builder()
        .with_size([1200.0, 700.0])
        .build_eframe(|_cc| Inspector::new(Source::file(&path)));
    h.step();
    assert_eq!(h.state().model().kernels.len(), first);
    let wait_for = |h: &mut Harness<Inspector>, what: &dyn Fn(&Inspector) -> bool| {
        let start = Instant::now();
        while !what(h.state()) {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "the inspector never reloaded"
            );
            std::thread::sleep(Duration::from_millis(100));
            h.step();
        }
    };
    // rewritten: the whole trace
    full.write(&path).unwrap();
    let total = Model::from_trace(&full).kernels.len();
    wait_for(&mut h, &|a| a.model().kernels.len() == total);
    // a broken file: the error shows, the last good trace stays
    std::fs::write(
        &path,
        "{\"format\": \"kiln-trace\", \"version\": 1, \"events\": [",
    )
    .unwrap();
    wait_for(&mut h, &|a| a.error().is_some());
    assert_eq!(h.state().model().kernels.len(), total);
    assert!(
        h.query_all_by_label_contains("trace.json").count() >= 2,
        "the path and its error"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The lab in-process: the demo's workloads on the CPU device (recorded live), a kernel's
/// list edited to NOOPT and to an invalid list, and a re-timing that lands on the roofline.
#[test]
fn kernel_lab_on_live_kernels() {
    let device = kiln::Device::cpu();
    kiln_inspector::demo::run(&device, 16).unwrap();
    let mut app = Inspector::new(Source::live());
    app.detail_tab = DetailTab::Lab;
    let mut h = Harness::builder()
        .with_size([1400.0, 860.0])
        .build_eframe(|_cc| app);
    h.step();
    let model = h.state().model().clone();
    assert_eq!(model.realizes.len(), 4);
    // the matmul: the last kernel
    let k = model.kernels.len() - 1;
    h.state_mut().select(Some(k));
    h.step();
    h.step();
    let heuristic = model.kernels[k].info.opts.len();
    assert_eq!(
        h.state_mut()
            .lab_mut()
            .expect("a live kernel opens the lab")
            .opts
            .len(),
        heuristic
    );
    h.get_by_label("NOOPT").click();
    h.step();
    h.step();
    assert!(h.state_mut().lab_mut().unwrap().opts.is_empty());
    assert!(h.state_mut().lab_mut().unwrap().built.is_ok());
    h.get_by_label_contains("@compute");
    // an opt that cannot apply: the OptError names it
    h.state_mut()
        .lab_mut()
        .unwrap()
        .set_opts(vec![kiln::Opt::new(kiln::OptOp::Upcast, 7, 3)]);
    h.step();
    h.get_by_label_contains("OptError");
    // back to the heuristic's list, and time it against itself
    h.get_by_label("heuristic").click();
    h.step();
    h.step();
    h.get_by_label_contains("time on").click();
    let start = Instant::now();
    while h.state().lab_timings().is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the lab timing never finished"
        );
        std::thread::sleep(Duration::from_millis(50));
        h.step();
    }
    let t = &h.state().lab_timings()[0];
    assert!(t.lab_us > 0.0 && t.heuristic_us > 0.0);
    assert_eq!(t.kernel_id, model.kernels[k].info.id);
    h.step();
    h.get_by_label_contains("the heuristic's speed");
    kiln::trace::stop();
}
