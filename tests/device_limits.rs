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

/// A 160 MB tensor (40M f32) uploaded and read back fine, but every kernel on it failed on
/// wgpu ("binds a buffer of 160000000 bytes; max_storage_buffer_binding_size is 134217728").
/// A buffer longer than one binding is now bound as several windows and each access goes to
/// its window: elementwise ops, a reduction and a reversed view across the window boundary.
#[test]
fn tensors_larger_than_one_binding() {
    let n = 40_000_000;
    let data: Vec<f32> = (0..n).map(|i| (i % 1000) as f32 * 0.001).collect();
    let exact: f64 = data.iter().map(|&v| v as f64).sum();
    for dev in devices() {
        let window = dev.limits().binding_window();
        assert!(n > window, "{dev:?}: the test must cross a window");
        let x = Tensor::from_slice_on(&data, &[n], &dev).unwrap();
        let y = &x * 2.0 + 1.0;
        let flipped = x.flip(&[0]) + &x;
        let s = x.sum_all();
        kiln::realize(&[&y, &flipped, &s]).unwrap();
        let got: Vec<f32> = y.to_vec().unwrap();
        let bad = got
            .iter()
            .zip(&data)
            .position(|(g, v)| (g - (2.0 * v + 1.0)).abs() > 1e-6);
        assert_eq!(bad, None, "{dev:?}: x * 2 + 1 wrong at index {bad:?}");
        let got: Vec<f32> = flipped.to_vec().unwrap();
        let bad = (0..n).find(|&i| (got[i] - (data[n - 1 - i] + data[i])).abs() > 1e-6);
        assert_eq!(bad, None, "{dev:?}: flip(x) + x wrong at index {bad:?}");
        let total = s.item::<f32>().unwrap() as f64;
        assert!(
            ((total - exact) / exact).abs() < 1e-6,
            "{dev:?}: sum {total}, want {exact}"
        );
    }
}

/// A reduction over more than ~128 size-1 axes failed with naga's "brace nesting limit
/// reached" (one loop per axis). Size-1 axes take no loop: 200 of them, around two real axes.
#[test]
fn hundreds_of_size_one_axes() {
    for dev in devices() {
        let mut shape = vec![1usize; 150];
        shape.push(3);
        shape.extend([1usize; 50]);
        shape.push(2);
        let x = rand_input(DType::F32, &shape, 9).on(&dev);
        let all: Vec<isize> = (0..shape.len() as isize).collect();
        for y in [x.sum(&all), x.sum(&[150, 201]), x.max(&[201]), &x * 2.0] {
            assert_close(
                &format!("{dev:?}"),
                &read(&y),
                &y.oracle().unwrap().data,
                1e-5,
                1e-5,
            );
        }
    }
}
