//! Random graphs × random opt lists, checked oracle vs CPU interpreter vs wgpu.
//!
//! Each case builds a graph whose sizes reach every opt (reduce axes of 64-4096, odd sizes,
//! size-1 axes), schedules it, and gives every kernel a random opt list through the public
//! `Schedule::set_opts`: two times in three a random walk over `Kernel::candidate_opts` (every
//! step must be accepted), else arbitrary opts (each must be accepted or refused with an
//! `OptError`, never panic). The schedule then runs and its values must match the oracle.

mod common;
use common::*;
use kiln::{DType, Device, Kernel, Opt, OptOp, Tensor};
use proptest::prelude::*;

/// Reduce sizes that reach GROUP/PADTO/UNROLL paths: small, odd, powers of two, long.
const LONG: [usize; 10] = [1, 3, 7, 64, 100, 128, 255, 256, 1000, 4096];

#[derive(Clone, Debug)]
struct Case {
    kind: u8,
    m: usize,
    n: usize,
    k: usize,
}

fn case() -> impl Strategy<Value = Case> {
    (0u8..10, 1usize..9, 0usize..LONG.len(), 1usize..40).prop_map(|(kind, m, n, k)| Case {
        kind,
        m,
        n: LONG[n],
        k,
    })
}

fn inputs(c: &Case, seed: u64) -> Vec<Input> {
    match c.kind {
        // matmul [m, k] x [k, n'] with a small n' (the long size is the reduce axis k')
        1 => vec![
            rand_input(DType::F32, &[c.m, c.n.min(300)], seed),
            rand_input(DType::F32, &[c.n.min(300), c.k], seed ^ 7),
        ],
        // softmax is one kernel whose row's max and sum are nests: an opt list without
        // GROUPOUT recomputes them for every element (n^2 per row), which the CPU
        // interpreter pays in full, so its rows stay at most 1000 long.
        6 => vec![
            rand_input(DType::F32, &[c.m, c.n.min(1000)], seed),
            rand_input(DType::F32, &[c.m, c.n.min(1000)], seed ^ 7),
        ],
        _ => vec![
            rand_input(DType::F32, &[c.m, c.n], seed),
            rand_input(DType::F32, &[c.m, c.n], seed ^ 7),
        ],
    }
}

fn graph(kind: u8, t: &[Tensor]) -> Tensor {
    let (a, b) = (&t[0], &t[1]);
    match kind {
        0 => (a * b).sum(&[1]),
        1 => a.matmul(b),
        2 => &(&a.sin() + b) * a,
        3 => &a.max(&[1]) + &a.sum(&[1]),
        4 => a.transpose(0, 1).contiguous(),
        5 => a.sum(&[0]),
        6 => a.softmax(1),
        // Scatter kernels: lanes walk the index and fold into computed positions (repeats
        // are common), under every opt list.
        8 | 9 => {
            let n = a.shape()[1] as i32;
            let index = &(b * 1000.0f32).cast(DType::I32) % n;
            match kind {
                8 => a.scatter_add(1, &index, &b.exp()),
                _ => a.scatter(1, &index, b),
            }
        }
        _ => (&a.pad(&[(1, 2), (0, 3)]) * 2.0).sum(&[0]),
    }
}

/// A random opt list for `k`: a walk over valid candidates, or arbitrary opts.
fn random_opts(k: &Kernel, rng: &mut common::Rng) -> Vec<Opt> {
    let mut opts: Vec<Opt> = vec![];
    let steps = 1 + rng.next() % 4;
    if !rng.next().is_multiple_of(3) {
        let mut cur = k.with_opts(&[]).expect("NOOPT always applies");
        for _ in 0..steps {
            let cands = cur.candidate_opts();
            if cands.is_empty() {
                break;
            }
            let o = cands[(rng.next() % cands.len() as u64) as usize];
            opts.push(o);
            cur = cur
                .with_opts(&opts)
                .unwrap_or_else(|e| panic!("candidate {o} was refused: {e}"));
        }
    } else {
        let ops = OptOp::ALL;
        for _ in 0..steps {
            let op = ops[(rng.next() % ops.len() as u64) as usize];
            let axis = (rng.next() % 4) as usize;
            let amount = [0, 1, 2, 3, 4, 5, 8, 16, 32, 64, 256, 1024][(rng.next() % 12) as usize];
            opts.push(Opt::new(op, axis, amount));
        }
    }
    opts
}

fn check_case(c: &Case, seed: u64) {
    let ins = inputs(c, seed);
    for dev in devices() {
        check_on(c, &ins, seed, &dev);
    }
}

fn check_on(c: &Case, ins: &[Input], seed: u64, dev: &Device) {
    let ts: Vec<Tensor> = ins.iter().map(|i| i.on(dev)).collect();
    let out = graph(c.kind, &ts);
    let want = out.oracle().expect("oracle").data;
    let mut s = kiln::schedule(&[&out]).expect("schedule");
    let mut rng = common::Rng::new(seed);
    let mut applied = vec![];
    for i in 0..s.kernels().len() {
        let opts = random_opts(&s.kernels()[i], &mut rng);
        match s.set_opts(i, &opts) {
            Ok(()) => applied.push((s.kernels()[i].name().to_string(), opts)),
            Err(e) => {
                // A refusal names the offending opt, which is in the list.
                assert!(opts.contains(&e.opt), "{e} names an opt not in {opts:?}");
                assert!(e.position < opts.len());
            }
        }
    }
    s.run().expect("run");
    assert_close(
        &format!("{c:?} on {} with {applied:?}", dev.name()),
        &read(&out),
        &want,
        1e-4,
        1e-3,
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: common::proptest_cases(96), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_opt_lists_agree(c in case(), seed in any::<u64>()) {
        check_case(&c, seed);
    }
}

/// Every valid single opt of a matmul and of a long reduction, applied on its own, computes
/// the right values on every device (the candidate list is what a search would try).
#[test]
fn every_candidate_opt_is_correct() {
    for c in [
        Case {
            kind: 1,
            m: 8,
            n: 24,
            k: 12,
        },
        Case {
            kind: 0,
            m: 3,
            n: 1000,
            k: 1,
        },
        Case {
            kind: 3,
            m: 5,
            n: 256,
            k: 1,
        },
    ] {
        let ins = inputs(&c, 11);
        for dev in devices() {
            let ts: Vec<Tensor> = ins.iter().map(|i| i.on(&dev)).collect();
            let probe = kiln::schedule(&[&graph(c.kind, &ts)]).unwrap();
            let cands = probe.kernels()[0].with_opts(&[]).unwrap().candidate_opts();
            assert!(cands.len() >= 10, "{c:?}: only {} candidates", cands.len());
            for o in cands {
                let ts: Vec<Tensor> = ins.iter().map(|i| i.on(&dev)).collect();
                let out = graph(c.kind, &ts);
                let want = out.oracle().unwrap().data;
                let mut s = kiln::schedule(&[&out]).unwrap();
                s.set_opts(0, &[o]).unwrap_or_else(|e| panic!("{o}: {e}"));
                s.run().unwrap();
                assert_close(
                    &format!("{c:?} {o} on {}", dev.name()),
                    &read(&out),
                    &want,
                    1e-4,
                    1e-3,
                );
            }
        }
    }
}
