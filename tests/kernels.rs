//! The public view of kernels: `kiln::schedule`, `Schedule`, `Kernel`, `Opt`, `OptError`.

mod common;
use common::*;
use kiln::{DType, Device, Opt, OptOp, Tensor};
use std::sync::Mutex;

/// `kernels_launched` is process-wide: the tests of this file run one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn mat(dev: &Device, shape: &[usize], seed: u64) -> Tensor {
    rand_input(DType::F32, shape, seed).on(dev)
}

fn matmul_4x4_unroll_4() -> Vec<Opt> {
    vec![
        Opt::new(OptOp::Upcast, 0, 4),
        Opt::new(OptOp::Upcast, 1, 4),
        Opt::new(OptOp::Unroll, 0, 4),
        Opt::new(OptOp::Local, 0, 2),
    ]
}

#[test]
fn schedule_runs_nothing_until_run() {
    let _g = serial();
    for dev in devices() {
        let (a, b) = (mat(&dev, &[33, 20], 1), mat(&dev, &[20, 7], 2));
        let c = a.matmul(&b).relu();
        let want = c.oracle().unwrap().data;
        let before = kiln::stats().kernels_launched;
        let s = kiln::schedule(&[&c]).unwrap();
        assert_eq!(
            kiln::stats().kernels_launched,
            before,
            "schedule ran a kernel"
        );
        assert!(!c.is_realized());
        assert_eq!(s.kernels().len(), 1, "matmul + relu is one kernel");
        assert!(
            s.kernels()[0].name().starts_with("r_"),
            "{}",
            s.kernels()[0].name()
        );
        s.run().unwrap();
        assert_eq!(kiln::stats().kernels_launched, before + 1);
        assert_close(&format!("on {dev:?}"), &read(&c), &want, 1e-5, 1e-4);
    }
}

#[test]
fn matmul_under_upcast_unroll_local_has_16_accumulators_and_vec4_loads() {
    let _g = serial();
    for dev in devices() {
        let (a, b) = (mat(&dev, &[32, 24], 3), mat(&dev, &[24, 16], 4));
        let c = a.matmul(&b);
        let want = c.oracle().unwrap().data;
        let mut s = kiln::schedule(&[&c]).unwrap();
        s.set_opts(0, &matmul_4x4_unroll_4()).unwrap();
        let k = &s.kernels()[0];
        assert_eq!(k.opts(), matmul_4x4_unroll_4().as_slice());
        let ir = k.ir();
        assert_eq!(ir.matches("= acc 0.0").count(), 16, "{ir}");
        assert!(ir.contains("f32x4  = load"), "no vector load:\n{ir}");
        let wgsl = k.wgsl().unwrap();
        assert!(wgsl.contains("array<vec4<f32>>"), "{wgsl}");
        let accumulators = wgsl
            .lines()
            .filter(|l| l.trim_start().starts_with("var v"))
            .count();
        assert_eq!(accumulators, 16, "{wgsl}");
        // 2 lanes per workgroup (LOCAL 2), 32/4/2 x 16/4 workgroups.
        assert_eq!(k.local_size(), vec![2]);
        assert_eq!(k.global_size().iter().product::<usize>(), 4 * 4);
        s.run().unwrap();
        assert_close(&format!("on {dev:?}"), &read(&c), &want, 1e-5, 1e-4);
    }
}

#[test]
fn noopt_is_with_opts_empty_and_names_follow_tinygrad() {
    let _g = serial();
    let dev = Device::cpu();
    let x = mat(&dev, &[16, 64], 1);
    let s = kiln::schedule(&[&x.sum(&[1])]).unwrap();
    let k = s.kernels()[0].with_opts(&[]).unwrap();
    assert!(k.opts().is_empty());
    assert_eq!(k.name(), "r_16_64");
    let k = k
        .with_opts(&[Opt::new(OptOp::Group, 0, 16), Opt::new(OptOp::Upcast, 0, 4)])
        .unwrap();
    // global 4 (16 / upcast 4), group 16, upcast 4, reduce 4 (64 / group 16)
    assert_eq!(k.name(), "r_4_16_4_4");
    let e = (mat(&dev, &[3, 5], 2) + 1.0).contiguous();
    let s = kiln::schedule(&[&e]).unwrap();
    assert_eq!(s.kernels()[0].with_opts(&[]).unwrap().name(), "E_3_5");
}

#[test]
fn opt_display_is_tinygrads() {
    let _g = serial();
    assert_eq!(
        Opt::new(OptOp::Upcast, 1, 4).to_string(),
        "Opt(op=UPCAST, axis=1, arg=4)"
    );
    assert_eq!(
        Opt::new(OptOp::GroupTop, 0, 16).to_string(),
        "Opt(op=GROUPTOP, axis=0, arg=16)"
    );
    assert_eq!(
        Opt::new(OptOp::NoLocals, 0, 0).to_string(),
        "Opt(op=NOLOCALS, axis=None, arg=None)"
    );
}

#[test]
fn invalid_opt_lists_are_refused_with_a_reason() {
    let _g = serial();
    for dev in devices() {
        let (a, b) = (mat(&dev, &[64, 60], 1), mat(&dev, &[60, 64], 2));
        let s = kiln::schedule(&[&a.matmul(&b)]).unwrap();
        let k = s.kernels()[0].with_opts(&[]).unwrap();
        // Over the register budget: 256 outputs per lane on a GPU (64 allowed), 1024 on a CPU
        // adapter (256 allowed: spills are cheap there).
        let mut over_budget = vec![
            Opt::new(OptOp::Upcast, 0, 16),
            Opt::new(OptOp::Upcast, 1, 16),
        ];
        if dev.limits().cpu_adapter {
            over_budget.push(Opt::new(OptOp::Upcast, 0, 4));
        }
        let over_at = over_budget.len() - 1;
        // (opts, offending position, words the reason must contain)
        let cases: Vec<(Vec<Opt>, usize, &str)> = vec![
            (vec![Opt::new(OptOp::Upcast, 0, 7)], 0, "does not divide"),
            (vec![Opt::new(OptOp::Unroll, 0, 7)], 0, "does not divide"),
            (vec![Opt::new(OptOp::Local, 2, 4)], 0, "does not apply"),
            (vec![Opt::new(OptOp::Upcast, 9, 4)], 0, "out of range"),
            (vec![Opt::new(OptOp::Group, 1, 4)], 0, "out of range"),
            (over_budget, over_at, "register budget"),
            (vec![Opt::new(OptOp::Upcast, 0, 32)], 0, "more than 16"),
            (
                vec![Opt::new(OptOp::Local, 0, 64), Opt::new(OptOp::Local, 1, 64)],
                1,
                "lanes per workgroup",
            ),
            (
                vec![
                    Opt::new(OptOp::NoLocals, 0, 0),
                    Opt::new(OptOp::Group, 0, 4),
                ],
                1,
                "NOLOCALS",
            ),
            (vec![Opt::new(OptOp::Padto, 0, 256)], 0, "4x the work"),
        ];
        for (opts, position, words) in cases {
            let e = k
                .with_opts(&opts)
                .expect_err(&format!("{opts:?} should be refused"));
            assert_eq!((e.opt, e.position), (opts[position], position), "{e}");
            assert!(e.to_string().contains(words), "{opts:?}: {e}");
            assert!(e.to_string().contains(&opts[position].to_string()), "{e}");
            let as_error: &dyn std::error::Error = &e;
            assert!(!as_error.to_string().is_empty());
        }
        // 64 accumulators x 256 lanes x 4 bytes = 64 KiB of workgroup memory: over 32 KiB.
        let s = kiln::schedule(&[&mat(&dev, &[64, 1024], 3).sum(&[1])]).unwrap();
        let opts = [
            Opt::new(OptOp::Upcast, 0, 16),
            Opt::new(OptOp::Upcast, 0, 4),
            Opt::new(OptOp::Group, 0, 256),
        ];
        let e = s.kernels()[0].with_opts(&opts).unwrap_err();
        assert!(
            e.to_string().contains("workgroup memory") && e.position == 2,
            "{e}"
        );
        // PADTO makes a non-dividing amount valid.
        let padded = k
            .with_opts(&[Opt::new(OptOp::Padto, 2, 64), Opt::new(OptOp::Unroll, 0, 8)])
            .unwrap();
        assert_eq!(padded.opts().len(), 2);
    }
}

#[test]
fn set_opts_refusal_leaves_the_schedule_unchanged() {
    let _g = serial();
    let dev = Device::cpu();
    let x = mat(&dev, &[8, 8], 1);
    let y = x.sum(&[1]);
    let mut s = kiln::schedule(&[&y]).unwrap();
    let before = s.kernels()[0].opts().to_vec();
    assert!(s.set_opts(0, &[Opt::new(OptOp::Unroll, 0, 3)]).is_err());
    assert_eq!(s.kernels()[0].opts(), before.as_slice());
}

#[test]
fn candidate_opts_are_all_valid_and_cover_every_kind() {
    let _g = serial();
    for dev in devices() {
        let (a, b) = (mat(&dev, &[64, 128], 1), mat(&dev, &[128, 64], 2));
        let s = kiln::schedule(&[&a.matmul(&b)]).unwrap();
        let k = s.kernels()[0].with_opts(&[]).unwrap();
        let cands = k.candidate_opts();
        // A matmul has no column axis (every output axis feeds the reduction): no GROUPOUT.
        // STAGE needs lanes that share a buffer's elements, SHARE whole subgroups and
        // elements split among them: neither is offered before a LOCAL and an UPCAST.
        for op in OptOp::ALL {
            if ![OptOp::Padto, OptOp::GroupOut, OptOp::Stage, OptOp::Share].contains(&op) {
                assert!(cands.iter().any(|o| o.op == op), "no {op:?} in {cands:?}");
            }
        }
        assert!(!cands.iter().any(|o| o.op == OptOp::GroupOut), "{cands:?}");
        assert!(!cands.iter().any(|o| o.op == OptOp::Stage), "{cands:?}");
        for o in &cands {
            assert!(k.with_opts(&[*o]).is_ok(), "{o} was offered but refused");
        }
        // Lanes along the rows share b's elements (b does not read the rows): b (buffer 1)
        // may be staged, a (buffer 0) may not.
        let local = [Opt::new(OptOp::Local, 0, 4)];
        let stages: Vec<Opt> = k
            .with_opts(&local)
            .unwrap()
            .candidate_opts()
            .into_iter()
            .filter(|o| o.op == OptOp::Stage)
            .collect();
        assert_eq!(stages, vec![Opt::new(OptOp::Stage, 1, 0)]);
        // Lanes along the columns with 4 rows each: a (buffer 0) reads only the rows, which
        // each subgroup then splits; b reads the lanes' own columns.
        let tiled = [Opt::new(OptOp::Upcast, 0, 4), Opt::new(OptOp::Local, 1, 8)];
        let shares: Vec<Opt> = k
            .with_opts(&tiled)
            .unwrap()
            .candidate_opts()
            .into_iter()
            .filter(|o| o.op == OptOp::Share)
            .collect();
        let expected = if dev.limits().subgroup_sizes.is_some() {
            vec![Opt::new(OptOp::Share, 0, 0)]
        } else {
            vec![]
        };
        assert_eq!(shares, expected);
        // softmax's row is a column of its one kernel: GROUPOUT is offered, and valid.
        let s = kiln::schedule(&[&a.softmax(-1)]).unwrap();
        let k = s.kernels()[0].with_opts(&[]).unwrap();
        let cands = k.candidate_opts();
        assert!(cands.iter().any(|o| o.op == OptOp::GroupOut), "{cands:?}");
        for o in &cands {
            assert!(k.with_opts(&[*o]).is_ok(), "{o} was offered but refused");
        }
        // With the register budget's outputs upcast (8x8 on a GPU, 16x16 on a CPU adapter)
        // nothing more may be upcast.
        let side = if dev.limits().cpu_adapter { 16 } else { 8 };
        let k = k
            .with_opts(&[
                Opt::new(OptOp::Upcast, 0, side),
                Opt::new(OptOp::Upcast, 1, side),
            ])
            .unwrap();
        assert!(!k.candidate_opts().iter().any(|o| o.op == OptOp::Upcast));
        // An odd axis offers PADTO.
        let odd = mat(&dev, &[37, 5], 3).sum(&[0]);
        let s = kiln::schedule(&[&odd]).unwrap();
        let cands = s.kernels()[0].with_opts(&[]).unwrap().candidate_opts();
        assert!(cands.iter().any(|o| o.op == OptOp::Padto), "{cands:?}");
    }
}

#[test]
fn kernel_time_runs_the_kernel() {
    let _g = serial();
    for dev in devices() {
        let (a, b) = (mat(&dev, &[64, 64], 1), mat(&dev, &[64, 64], 2));
        let s = kiln::schedule(&[&a.matmul(&b)]).unwrap();
        let k = &s.kernels()[0];
        let t = k.time(&dev, 3).unwrap();
        assert!(t.as_nanos() > 0, "{t:?}");
        let t = k
            .with_opts(&matmul_4x4_unroll_4())
            .unwrap()
            .time(&dev, 3)
            .unwrap();
        assert!(t.as_nanos() > 0);
    }
}

#[test]
fn kernel_views_render() {
    let _g = serial();
    let dev = Device::cpu();
    let x = mat(&dev, &[4, 6], 1);
    let s = kiln::schedule(&[&x.exp().sum(&[1])]).unwrap();
    let k = &s.kernels()[0].with_opts(&[]).unwrap();
    assert!(k.ast().contains("reduce_sum"), "{}", k.ast());
    assert!(k.ast().contains("exp %0"), "{}", k.ast());
    assert!(k.ir().contains("range 0..6"), "{}", k.ir());
    assert!(k.wgsl().unwrap().contains("@compute"));
    assert!(k.flops() >= 24);
    assert_eq!(k.bytes(), (24 + 4) * 4);
    assert!(format!("{s:?}").contains(s.kernels()[0].name()));
}

#[test]
fn stale_and_repeated_schedules() {
    let _g = serial();
    let dev = Device::cpu();
    let x = mat(&dev, &[4, 6], 1);
    let y = x.sum(&[1]);
    let s = kiln::schedule(&[&y]).unwrap();
    y.realize().unwrap();
    // Everything it would compute is already there: nothing to do.
    s.run().unwrap();
    // A schedule whose intermediate was realized by someone else refuses to run.
    let z = x.sum(&[1]).exp().reshape(&[2, 2]).permute(&[1, 0]);
    let w = x.sum(&[0]);
    let s = kiln::schedule(&[&z, &w]).unwrap();
    w.realize().unwrap();
    assert!(matches!(s.run(), Err(kiln::Error::StaleSchedule)));
    assert!(kiln::schedule(&[]).unwrap().kernels().is_empty());
}
