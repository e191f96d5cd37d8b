//! `examples/train_digits` in short: an MLP trained for two epochs on every device learns
//! (the loss falls, test accuracy far above chance), and a step in steady state plans
//! nothing anew, compiles nothing and holds no more device memory than the step before.

#[path = "../examples/train_digits/digits.rs"]
mod digits;

mod common;
use common::devices;
use digits::{Digits, Mlp, Model};

#[test]
fn a_short_training_run_learns_in_steady_state() {
    let data = Digits::load().unwrap();
    assert_eq!((data.len(), data.pixels.len()), (1797, 1797 * 64));
    let (train_rows, test_rows) = data.split(1437, 1);
    for dev in devices() {
        let name = dev.name();
        let (x, y) = data.tensors(&train_rows, &dev).unwrap();
        let (tx, ty) = data.tensors(&test_rows, &dev).unwrap();
        kiln::manual_seed(0);
        let mut model = Mlp::new(&dev).unwrap();
        let chance = digits::accuracy(&model, &tx, &ty).unwrap();
        let mut losses = vec![];
        let mut steady = vec![];
        digits::train(&mut model, &x, &y, 2, 64, 1e-2, |step, loss| {
            losses.push(loss.item::<f32>()?);
            let s = kiln::stats();
            steady.push((
                step,
                s.schedule_cache_hits,
                s.programs_compiled,
                dev.memory_in_use(),
            ));
            Ok(())
        })
        .unwrap();
        let first = losses[0];
        let last: f32 = losses[losses.len() - 10..].iter().sum::<f32>() / 10.0;
        assert!(last < first / 4.0, "{name}: loss {first} -> {last}");
        let acc = digits::accuracy(&model, &tx, &ty).unwrap();
        assert!(
            acc > 0.85 && acc > chance + 0.5,
            "{name}: accuracy {chance} -> {acc}"
        );
        // After a few steps: one schedule-cache hit per step, no compile, flat memory.
        for w in steady[5..].windows(2) {
            let ((_, h0, p0, m0), (step, h1, p1, m1)) = (w[0], w[1]);
            assert!(h1 > h0, "{name}: step {step} planned anew");
            assert_eq!(p1, p0, "{name}: step {step} compiled a program");
            assert!(
                m1 <= m0,
                "{name}: step {step} holds {m1} bytes, {m0} before"
            );
        }
    }
}
