//! The schedule cache (`plan_cache.rs`): a repeated step over new data and new constants
//! reuses its plan, and every variation that must not share one (shapes, literal constants,
//! which constants are equal, realized intermediates) computes the right values.
//! `kiln::stats()` is process-wide: the tests of this file run one at a time.

mod common;
use common::*;
use kiln::{DType, Tensor};

fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn hits() -> u64 {
    kiln::stats().schedule_cache_hits
}

fn check(name: &str, y: &Tensor) {
    let want = y.oracle().unwrap().data;
    assert_close(name, &read(y), &want, 1e-5, 1e-4);
}

#[test]
fn a_repeated_step_reuses_its_plan() {
    let _g = serial();
    for dev in devices() {
        let before = hits();
        for step in 0..6u64 {
            // New data and a new constant every step: the same structure.
            let x = rand_input(DType::F32, &[16, 33], step).on(&dev);
            let w = rand_input(DType::F32, &[33], step + 100).on(&dev);
            let c = 0.25 + step as f32 * 0.5;
            let y = (&(&x * c) + &w).exp().sum(&[1]);
            let z = x.softmax(-1);
            let want = (y.oracle().unwrap().data, z.oracle().unwrap().data);
            kiln::realize(&[&y, &z]).unwrap();
            assert_close("y", &read(&y), &want.0, 1e-5, 1e-4);
            assert_close("z", &read(&z), &want.1, 1e-5, 1e-4);
        }
        assert!(hits() - before >= 5, "{dev:?}: {} hits", hits() - before);
    }
}

#[test]
fn plans_are_not_shared_where_they_must_differ() {
    let _g = serial();
    for dev in devices() {
        let x = rand_input(DType::F32, &[8, 5], 1).on(&dev);
        let y = rand_input(DType::F32, &[8, 5], 2).on(&dev);
        // Constants: two different user values, then swapped, then equal (one parameter).
        check("2.5, 3.5", &(&(&x * 2.5) + &(&y * 3.5)));
        check("3.5, 2.5", &(&(&x * 3.5) + &(&y * 2.5)));
        check("2.5, 2.5", &(&(&x * 2.5) + &(&y * 2.5)));
        // A literal (1.0 and 0.0 stay in the program) against a parameter.
        check("x * 1", &(&x * 1.0).sum(&[0]));
        check("x * 2", &(&x * 2.0).sum(&[0]));
        // Another shape, the same ops.
        let x2 = rand_input(DType::F32, &[5, 8], 3).on(&dev);
        check("x * 2 (5x8)", &(&x2 * 2.0).sum(&[0]));
        // A realized intermediate against the same expression unrealized.
        let p = (&x * 3.0).realize().unwrap();
        check("realized p + 1", &(&p + 1.5));
        check("x * 3 + 1", &(&(&x * 3.0) + 1.5));
        // A reduction the scheduler splits (its plan has nodes of its own): right each time.
        for seed in 0..2 {
            let big = rand_input(DType::F32, &[1 << 16], seed).on(&dev);
            let s = big.sum_all();
            let want = s.oracle().unwrap().data;
            assert_close("split sum", &read(&s), &want, 1e-3, 1e-4);
        }
    }
}

#[test]
fn cached_schedules_can_be_tuned_and_run() {
    let _g = serial();
    for dev in devices() {
        let build = |seed| {
            let a = rand_input(DType::F32, &[8, 16], seed).on(&dev);
            let b = rand_input(DType::F32, &[16, 8], seed + 1).on(&dev);
            a.matmul(&b)
        };
        let first = build(1);
        kiln::schedule(&[&first]).unwrap().run().unwrap();
        check("first", &first);
        let before = hits();
        let second = build(5);
        let mut s = kiln::schedule(&[&second]).unwrap();
        s.set_opts(0, &[kiln::Opt::new(kiln::OptOp::Upcast, 0, 2)])
            .unwrap();
        s.run().unwrap();
        assert_eq!(hits() - before, 1);
        check("second, tuned", &second);
    }
}
