//! Device limits the engine handles rather than refuses: storage buffers per shader stage.
//! The CPU device reports lavapipe's limits (32 bindings), so both devices run the same
//! kernels and the graph oracle checks both.

mod common;
use common::*;
use kiln::{DType, Tensor};

fn assert_within_bindings(s: &kiln::Schedule, what: &str) {
    let limit = s.device().limits().max_storage_buffers;
    for k in s.kernels() {
        assert!(
            k.buffers().len() <= limit,
            "{what}: kernel {} binds {} buffers, the device allows {limit}",
            k.name(),
            k.buffers().len()
        );
    }
}

/// Realizing 1,000 independent outputs together failed on wgpu ("kernel E_1_16 needs 1001
/// storage buffers; the adapter allows 32"). They are now grouped into kernels of at most 31
/// outputs (plus the shared input).
#[test]
fn a_thousand_outputs_realize_together() {
    for dev in devices() {
        let x = rand_input(DType::F32, &[16], 3).on(&dev);
        let outs: Vec<Tensor> = (0..1000).map(|i| &x * (i as f32 + 0.5) + 1.0).collect();
        let refs: Vec<&Tensor> = outs.iter().collect();
        let s = kiln::schedule(&refs).unwrap();
        let limit = dev.limits().max_storage_buffers;
        assert_within_bindings(&s, "1000 outputs");
        assert_eq!(s.kernels().len(), 1000usize.div_ceil(limit - 1), "{dev:?}");
        s.run().unwrap();
        for (i, o) in outs.iter().enumerate().step_by(97) {
            assert_close(
                &format!("output {i} on {dev:?}"),
                &read(o),
                &o.oracle().unwrap().data,
                1e-5,
                1e-5,
            );
        }
    }
}

/// An expression over 200 distinct inputs failed the same way; its partial results are now
/// materialized so that no kernel reads more inputs than the adapter binds. A sum of 200
/// inputs, a fused reduction over 100 inputs, and 40 wide outputs sharing inputs.
#[test]
fn wide_expressions_are_cut_to_fit_the_bindings() {
    for dev in devices() {
        let inputs: Vec<Tensor> = (0..200)
            .map(|i| rand_input(DType::F32, &[5, 7], 100 + i).on(&dev))
            .collect();
        let chain = inputs
            .iter()
            .skip(1)
            .fold(inputs[0].clone(), |acc, t| &acc + t);
        // A tree shape too: products of pairs, summed pairwise.
        let mut level: Vec<Tensor> = inputs.chunks(2).map(|p| &p[0] * &p[1]).collect();
        while level.len() > 1 {
            level = level
                .chunks(2)
                .map(|p| {
                    if p.len() == 2 {
                        &p[0] + &p[1]
                    } else {
                        p[0].clone()
                    }
                })
                .collect();
        }
        let tree = level.pop().unwrap();
        let reduced = inputs[..100]
            .iter()
            .fold(inputs[100].clone(), |acc, t| acc.maximum(t))
            .sum(&[1]);
        let many: Vec<Tensor> = (0..40)
            .map(|i| &inputs[i] * &inputs[199 - i] - &inputs[(i * 7) % 200])
            .collect();
        let mut targets = vec![&chain, &tree, &reduced];
        targets.extend(many.iter());
        let s = kiln::schedule(&targets).unwrap();
        assert_within_bindings(&s, "200 inputs");
        let wants: Vec<_> = targets.iter().map(|t| t.oracle().unwrap().data).collect();
        s.run().unwrap();
        for (i, (t, w)) in targets.iter().zip(wants).enumerate() {
            assert_close(&format!("target {i} on {dev:?}"), &read(t), &w, 1e-4, 1e-4);
        }
    }
}
