//! Threads: realizes run side by side (no process-wide lock), share hash-consed nodes and
//! realized inputs, and drop nodes while others realize. One test per binary, because it
//! checks that device memory and live nodes return to their baseline.

mod common;
use common::*;
use kiln::Tensor;
use std::time::{Duration, Instant};

/// Per device: 8 threads for ~2 s. Every thread builds graphs over four shared realized
/// inputs: a private expression (its own constant), and expressions that every thread builds
/// too (hash-consing makes them one node, so threads meet on the same unrealized nodes), then
/// drops them. Results are checked against host arithmetic; at the end the memory and the live
/// nodes are back to where they started.
#[test]
fn eight_threads_share_inputs_and_drop_nodes_while_realizing() {
    for dev in devices() {
        let base_nodes = kiln::live_nodes();
        let base_memory = dev.memory_in_use();
        let (rows, cols) = (33, 47);
        let host: Vec<Vec<f32>> = (0..4)
            .map(|k| {
                let mut rng = Rng::new(40 + k);
                (0..rows * cols).map(|_| rng.f32(-1.0, 1.0)).collect()
            })
            .collect();
        let inputs: Vec<Tensor> = host
            .iter()
            .map(|h| Tensor::from_slice_on(h, &[rows, cols], &dev).unwrap())
            .collect();
        let deadline = Instant::now() + Duration::from_millis(2000);
        let rounds: Vec<usize> = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..8)
                .map(|t| {
                    let (inputs, host) = (&inputs, &host);
                    scope.spawn(move || {
                        let mut round = 0;
                        while Instant::now() < deadline {
                            let k = (t + round) % 4;
                            let (a, b) = (&inputs[k], &inputs[(k + 1) % 4]);
                            let scale = (t * 1000 + round) as f32 * 0.001;
                            // Private: no other thread builds this node.
                            let private = (a * scale + b).sum(&[1]);
                            // Shared: every thread builds the same nodes.
                            let shared = (a * b).max(&[1]);
                            let both = &shared + &private;
                            kiln::realize(&[&private, &both]).unwrap();
                            let (p, s): (Vec<f32>, Vec<f32>) =
                                (private.to_vec().unwrap(), both.to_vec().unwrap());
                            for r in 0..rows {
                                let row = |h: &Vec<f32>, c: usize| h[r * cols + c];
                                let (ha, hb) = (&host[k], &host[(k + 1) % 4]);
                                let want_p: f32 =
                                    (0..cols).map(|c| row(ha, c) * scale + row(hb, c)).sum();
                                let want_s = (0..cols)
                                    .map(|c| row(ha, c) * row(hb, c))
                                    .fold(f32::NEG_INFINITY, f32::max);
                                assert!((p[r] - want_p).abs() < 1e-3, "thread {t}: {p:?}");
                                assert!((s[r] - (want_s + want_p)).abs() < 1e-3, "thread {t}");
                            }
                            round += 1;
                        }
                        round
                    })
                })
                .collect();
            workers.into_iter().map(|w| w.join().unwrap()).collect()
        });
        assert!(rounds.iter().all(|&r| r > 0), "{dev:?}: {rounds:?}");
        drop(inputs);
        assert_eq!(
            dev.memory_in_use(),
            base_memory,
            "{dev:?}: memory after the threads"
        );
        assert_eq!(
            kiln::live_nodes(),
            base_nodes,
            "{dev:?}: live nodes after the threads"
        );
        eprintln!("{dev:?}: rounds per thread {rounds:?}");
    }
}
