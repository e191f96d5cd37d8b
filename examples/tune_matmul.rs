//! Inspect and tune one kernel by hand: the matmul `a @ b` of two N x N matrices.
//!
//! ```sh
//! cargo run --release --example tune_matmul            # N = 1024 on the default device
//! cargo run --release --example tune_matmul -- 512 --search
//! ```
//!
//! It schedules the matmul without running it, prints the kernel the heuristics chose, times
//! it under NOOPT, under the heuristics (and with their workgroup-memory tiling, STAGE, or
//! subgroup-shared loads, SHARE, toggled) and under hand-written opt lists with `Kernel::time`,
//! and with `--search` runs a small greedy search over `Kernel::candidate_opts` (each step
//! keeps the fastest single opt to append): the loop a BEAM search runs, in miniature.

use std::time::Duration;

use kiln::{Kernel, Opt, OptOp, Tensor};

fn gflops(n: usize, t: Duration) -> f64 {
    2.0 * (n as f64).powi(3) / t.as_secs_f64() * 1e-9
}

fn report(label: &str, k: &Kernel, n: usize, runs: usize) -> Duration {
    let t = k
        .time(k.device(), runs)
        .unwrap_or_else(|e| panic!("timing {label}: {e}"));
    let opts: Vec<String> = k.opts().iter().map(|o| o.to_string()).collect();
    println!(
        "{label:<12} {:>10.2} ms {:>8.2} GFLOPS  {}  [{}]",
        t.as_secs_f64() * 1e3,
        gflops(n, t),
        k.name(),
        opts.join(", ")
    );
    t
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n: usize = args.iter().find_map(|a| a.parse().ok()).unwrap_or(1024);
    let search = args.iter().any(|a| a == "--search");
    let dev = kiln::default_device()?;
    println!("device: {}  matmul {n}x{n}x{n}", dev.name());

    let a = Tensor::from_slice_on(&vec![1.0f32; n * n], &[n, n], &dev)?;
    let b = Tensor::from_slice_on(&vec![0.5f32; n * n], &[n, n], &dev)?;
    let c = a.matmul(&b);
    let mut s = kiln::schedule(&[&c])?;
    let k = s.kernels()[0].clone();
    println!("\n{}", k.ast());

    // Parts in canonical order: 0 = rows (global), 1 = columns (global), reduce part 0 = k.
    let hand = [
        Opt::new(OptOp::Upcast, 0, 4),
        Opt::new(OptOp::Upcast, 1, 4),
        Opt::new(OptOp::Unroll, 0, 4),
        Opt::new(OptOp::Local, 0, 4),
        Opt::new(OptOp::Local, 1, 16),
    ];
    let runs = if n >= 1024 { 1 } else { 3 };
    let noopt = report("NOOPT", &k.with_opts(&[])?, n, runs);
    report("heuristics", &k, n, runs);
    let tuned = k.with_opts(&hand)?;
    let hand_t = report("hand", &tuned, n, runs.max(3));
    // The heuristics' list without its STAGE or SHARE opts (workgroup-memory tiles on a GPU,
    // subgroup-shared loads on a CPU adapter with subgroups), or with STAGE added where it
    // has neither: what each buys on this device.
    let without =
        |op: OptOp| -> Vec<Opt> { k.opts().iter().copied().filter(|o| o.op != op).collect() };
    let mut toggles: Vec<(&str, Vec<Opt>)> = vec![];
    for (op, label) in [(OptOp::Stage, "unstaged"), (OptOp::Share, "unshared")] {
        if k.opts().iter().any(|o| o.op == op) {
            toggles.push((label, without(op)));
        }
    }
    if toggles.is_empty() {
        let mut l = k.opts().to_vec();
        l.extend([Opt::new(OptOp::Stage, 0, 0), Opt::new(OptOp::Stage, 1, 0)]);
        toggles.push(("staged", l));
    }
    for (label, list) in toggles {
        match k.with_opts(&list) {
            Ok(t) => {
                report(label, &t, n, runs);
            }
            Err(e) => println!("{label}: {e}"),
        }
    }
    println!(
        "hand-written opts: {:.1}x NOOPT",
        noopt.as_secs_f64() / hand_t.as_secs_f64()
    );

    let mut best = (tuned, hand_t);
    if search {
        let mut cur = k.with_opts(&[])?;
        for step in 0..6 {
            let mut round: Option<(Kernel, Duration)> = None;
            for o in cur.candidate_opts() {
                let mut list = cur.opts().to_vec();
                list.push(o);
                let cand = cur.with_opts(&list)?;
                let t = cand.time(&dev, 3)?;
                if round.as_ref().is_none_or(|(_, bt)| t < *bt) {
                    round = Some((cand, t));
                }
            }
            let Some((cand, t)) = round else { break };
            report(&format!("search {step}"), &cand, n, 3);
            if t < best.1 {
                best = (cand.clone(), t);
            }
            cur = cand;
        }
    }

    // Realize with the best kernel found and check a value.
    s.set_opts(0, best.0.opts())?;
    s.run()?;
    let v = c.to_vec::<f32>()?;
    assert!((v[0] - 0.5 * n as f32).abs() < 1e-3 * n as f32, "{}", v[0]);
    println!(
        "\nran {} with the best opts; c[0,0] = {}",
        best.0.name(),
        v[0]
    );
    if std::env::var_os("SHOW_WGSL").is_some() {
        println!("{}", best.0.wgsl()?);
    }
    Ok(())
}
