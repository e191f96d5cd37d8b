//! Deep graphs (reliability issue): every walk of the graph is iterative or bounded, so chains
//! of a million ops build, realize, evaluate in the oracle and drop on a spawned thread's
//! default 2 MiB stack, on every device.

mod common;
use common::*;
use kiln::{DType, Tensor};

/// Runs `f` on a thread with a 2 MiB stack, Rust's default for spawned threads (the main
/// thread has 8 MiB), so a recursion per node would overflow long before a million.
fn on_small_stack(f: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(f)
        .unwrap()
        .join()
        .unwrap();
}

/// `y = y + 1` chained `n` times on `dev`: scheduled as kernels of one program (the fused
/// depth is bounded), realized exactly, and dropped.
fn chain_of_adds(dev: &kiln::Device, n: usize) {
    let x = Tensor::from_slice_on(&[1.0f32, 2.0, 3.0], &[3], dev).unwrap();
    let mut y = x.clone();
    for _ in 0..n {
        y = &y + 1.0;
    }
    let s = kiln::schedule(&[&y]).unwrap();
    assert!(
        s.kernels().len() >= n / 256,
        "{} kernels",
        s.kernels().len()
    );
    assert!(s
        .kernels()
        .iter()
        .all(|k| k.name() == s.kernels()[0].name()));
    drop(s);
    let m = n as f32;
    assert_eq!(
        y.to_vec::<f32>().unwrap(),
        vec![m + 1.0, m + 2.0, m + 3.0],
        "on {dev:?}"
    );
    drop(y);
}

#[test]
fn a_million_chained_ops_build_realize_and_drop() {
    on_small_stack(|| chain_of_adds(&kiln::Device::cpu(), 1_000_000));
}

/// The same on wgpu at a tenth of the length: hundreds of dispatches of one pipeline.
#[test]
fn a_long_chain_runs_as_many_dispatches_of_one_pipeline_on_wgpu() {
    if let Some(gpu) = gpu() {
        on_small_stack(move || chain_of_adds(&gpu, 100_000));
    }
}

#[test]
fn deep_graphs_drop_and_evaluate_in_the_oracle_without_recursion() {
    on_small_stack(|| {
        let x = Tensor::from_slice(&[0.5f32, -2.0], &[2]).unwrap();
        let mut y = x.clone();
        for i in 0..1_000_000 {
            y = if i % 2 == 0 { &y * 1.0 } else { y.neg() };
        }
        let want = y.oracle().unwrap().to_f64();
        assert_eq!(want, vec![0.5, -2.0]);
        drop(y);
        // A chain of casts and reshapes (no arithmetic) unrealized, dropped.
        let mut z = Tensor::zeros(&[4], DType::F32).unwrap();
        for i in 0..200_000 {
            z = if i % 2 == 0 {
                z.reshape(&[2, 2])
            } else {
                z.reshape(&[4])
            };
        }
        drop(z);
    });
}
