//! User constants are kernel parameters: a new value runs the same program. The tests take a
//! lock: they read the process-wide `programs_compiled` counter.

mod common;
use common::*;
use kiln::DType;
use std::sync::Mutex;

static SERIAL: Mutex<()> = Mutex::new(());

#[test]
fn a_thousand_constants_compile_one_program() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    for dev in devices() {
        let x = rand_input(DType::F32, &[3, 5], 1).on(&dev);
        let xs: Vec<f32> = x.to_vec().unwrap();
        let before = kiln::stats().programs_compiled;
        for i in 0..1000 {
            let c = 2.5 + i as f32 * 0.001;
            let y = &(&x * c) + (c * 0.5);
            let got: Vec<f32> = y.to_vec().unwrap();
            for (g, v) in got.iter().zip(&xs) {
                let want = v * c + c * 0.5;
                assert!(
                    (g - want).abs() <= 1e-5 + 1e-5 * want.abs(),
                    "{c}: {g} vs {want}"
                );
            }
        }
        assert_eq!(kiln::stats().programs_compiled - before, 1, "on {dev:?}");
        // Integer constants too; 0, 1 and -1 stay literal (one program each).
        let n = rand_input(DType::I32, &[7], 2).on(&dev);
        let before = kiln::stats().programs_compiled;
        for c in 2..50 {
            let got: Vec<i32> = n
                .mul(&kiln::Tensor::full_on(&[], c as f64, DType::I32, &dev))
                .to_vec()
                .unwrap();
            let want: Vec<i32> = n.to_vec::<i32>().unwrap().iter().map(|v| v * c).collect();
            assert_eq!(got, want);
        }
        assert_eq!(kiln::stats().programs_compiled - before, 1, "on {dev:?}");
    }
}

/// Several launches of one program with different parameters in one command buffer each
/// see their own values.
#[test]
fn parameters_of_launches_in_one_realize_do_not_mix() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    for dev in devices() {
        let x = rand_input(DType::F32, &[64], 3).on(&dev);
        // A chain of materialized steps: 20 launches of one program, one realize.
        let mut y = x.clone();
        for i in 0..20 {
            y = (&y * (1.5 + i as f32 * 0.01)).contiguous();
        }
        let want = y.oracle().unwrap().data;
        let s = kiln::schedule(&[&y]).unwrap();
        assert_eq!(s.kernels().len(), 20);
        assert!(s
            .kernels()
            .iter()
            .all(|k| k.name() == s.kernels()[0].name()));
        s.run().unwrap();
        assert_close(&format!("on {dev:?}"), &read(&y), &want, 1e-6, 1e-4);
    }
}
