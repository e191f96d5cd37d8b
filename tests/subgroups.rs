//! Grouped reductions through subgroup operations (where the device has wgpu's SUBGROUP
//! feature: lavapipe, and the CPU interpreter, which runs subgroups of 8 while promising
//! 4 to 8): every reduce op and dtype agrees with the oracle, NaN and infinities included,
//! and the WGSL takes the subgroup form exactly where every subgroup is full.

mod common;
use common::*;
use kiln::{DType, Opt, OptOp, Tensor};

/// `x.{op}(&[1])` of `x` under GROUP `g` on every device, against the oracle; says for each
/// device whether its WGSL used subgroup operations.
fn check_grouped(
    name: &str,
    x: &Input,
    g: usize,
    f: impl Fn(&Tensor) -> Tensor,
) -> Vec<(bool, bool)> {
    let mut used = vec![];
    for dev in devices() {
        let t = x.on(&dev);
        let y = f(&t);
        let want = y.oracle().unwrap().data;
        let mut s = kiln::schedule(&[&y]).unwrap();
        assert_eq!(s.kernels().len(), 1, "{name}: {s:?}");
        s.set_opts(0, &[Opt::new(OptOp::Group, 0, g)])
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let wgsl = s.kernels()[0].wgsl().unwrap();
        used.push((
            dev.limits().subgroup_sizes.is_some(),
            wgsl.contains("subgroup"),
        ));
        s.run().unwrap();
        assert_close(
            &format!("{name} GROUP {g} on {}", dev.name()),
            &read(&y),
            &want,
            1e-5,
            1e-5,
        );
    }
    used
}

fn rows(rows: usize, data: Data) -> Input {
    let len = data.len();
    Input {
        data,
        shape: vec![rows, len / rows],
    }
}

#[test]
fn subgroup_reductions_agree_with_the_oracle() {
    // Rows of 512: a NaN in row 1, -inf and +inf in row 2, in different subgroups.
    let mut v: Vec<f32> = (0..3 * 512)
        .map(|i| ((i * 37) % 101) as f32 - 50.0)
        .collect();
    v[512 + 300] = f32::NAN;
    v[1024 + 5] = f32::NEG_INFINITY;
    v[1024 + 400] = f32::INFINITY;
    let floats = rows(3, Data::F32(v));
    let ints = rows(
        3,
        Data::I32((0..3 * 512).map(|i| ((i * 7919) % 2001) - 1000).collect()),
    );
    let uints = rows(3, Data::U32((0..3 * 512).map(|i| (i * 31) % 977).collect()));
    let mut seen = vec![];
    for g in [64, 16, 8] {
        seen.extend(check_grouped("f32 max", &floats, g, |t| t.max(&[1])));
        seen.extend(check_grouped("f32 min", &floats, g, |t| t.min(&[1])));
        seen.extend(check_grouped("f32 sum", &floats, g, |t| t.sum(&[1])));
        seen.extend(check_grouped("i32 max", &ints, g, |t| t.max(&[1])));
        seen.extend(check_grouped("i32 min", &ints, g, |t| t.min(&[1])));
        seen.extend(check_grouped("i32 sum", &ints, g, |t| t.sum(&[1])));
        seen.extend(check_grouped("u32 sum", &uints, g, |t| t.sum(&[1])));
    }
    // Wherever the device has subgroups, these lists (the workgroup is the row's lanes, a
    // multiple of 8) take the subgroup form; elsewhere the tree.
    for (has, used) in seen {
        assert_eq!(has, used);
    }
    // The CPU interpreter always has them (unless KILN_SUBGROUPS=0).
    if std::env::var("KILN_SUBGROUPS").is_ok_and(|v| v == "0") {
        return;
    }
    assert!(kiln::Device::cpu().limits().subgroup_sizes.is_some());
}

#[test]
fn partial_subgroups_and_shared_workgroups_take_the_tree() {
    // 20 lanes: the last subgroup of 8 would be partial (lavapipe loses its lanes).
    let x = rand_input(DType::F32, &[2, 400], 3);
    for (_, used) in check_grouped("sum over 20 lanes", &x, 20, |t| t.sum(&[1])) {
        assert!(!used);
    }
    // Several rows per workgroup (LOCAL on the rows): subgroups could straddle two rows.
    for dev in devices() {
        let t = rand_input(DType::F32, &[8, 256], 4).on(&dev);
        let y = t.sum(&[1]);
        let want = y.oracle().unwrap().data;
        let mut s = kiln::schedule(&[&y]).unwrap();
        s.set_opts(
            0,
            &[Opt::new(OptOp::Group, 0, 16), Opt::new(OptOp::Local, 0, 4)],
        )
        .unwrap();
        assert!(!s.kernels()[0].wgsl().unwrap().contains("subgroup"));
        s.run().unwrap();
        assert_close(&dev.name(), &read(&y), &want, 1e-5, 1e-5);
    }
}

#[test]
fn softmax_and_layernorm_use_subgroups_by_default() {
    let x = rand_input(DType::F32, &[4, 1024], 5);
    for dev in devices() {
        if dev.limits().subgroup_sizes.is_none() {
            continue;
        }
        let t = x.on(&dev);
        for y in [t.softmax(-1), t.layer_norm(-1, 1e-5)] {
            let s = kiln::schedule(&[&y]).unwrap();
            let wgsl = s.kernels()[0].wgsl().unwrap();
            assert!(wgsl.contains("subgroup"), "{}", s.kernels()[0].name());
        }
    }
    check3_tol("softmax", std::slice::from_ref(&x), 1e-6, 1e-4, |t| {
        t[0].softmax(-1)
    });
    check3_tol("layer_norm", std::slice::from_ref(&x), 1e-5, 1e-4, |t| {
        t[0].layer_norm(-1, 1e-5)
    });
}
