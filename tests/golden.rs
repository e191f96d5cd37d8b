//! Golden tests: the linear IR of a few kernels is pinned in `tests/golden/*.ir`, so every
//! change to codegen shows up in review as a diff of those files.
//!
//! After an intended change, regenerate them with `KILN_BLESS=1 cargo test --test golden` and
//! review the diff. Kernels are built for the CPU device, whose limits do not depend on the
//! adapter, and then checked against the oracle on every device.

mod common;
use common::*;
use kiln::{DType, Opt, OptOp, Tensor};

fn golden(name: &str, inputs: &[Input], opts: &[Opt], f: impl Fn(&[Tensor]) -> Tensor) {
    // The listing, from the CPU device.
    let cpu = kiln::Device::cpu();
    let ts: Vec<Tensor> = inputs.iter().map(|i| i.on(&cpu)).collect();
    let s = kiln::schedule(&[&f(&ts)]).unwrap();
    assert_eq!(s.kernels().len(), 1, "{name}: {s:?}");
    let k = s.kernels()[0].with_opts(opts).unwrap();
    let opts: Vec<String> = k.opts().iter().map(|o| o.to_string()).collect();
    let text = format!("{}\nopts: [{}]\n{}", k.name(), opts.join(", "), k.ir());
    let path = format!("{}/tests/golden/{name}.ir", env!("CARGO_MANIFEST_DIR"));
    if std::env::var("KILN_BLESS").is_ok_and(|v| v == "1") {
        std::fs::write(&path, &text).unwrap();
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path}: {e} (run with KILN_BLESS=1 to create it)"));
    assert!(
        text == want,
        "{name}: the IR changed. If intended, rerun with KILN_BLESS=1 and review the diff.\n--- got ---\n{text}\n--- want ---\n{want}"
    );
    // The pinned kernel computes the right values everywhere.
    for dev in devices() {
        let ts: Vec<Tensor> = inputs.iter().map(|i| i.on(&dev)).collect();
        let out = f(&ts);
        let want = out.oracle().unwrap().data;
        let mut s = kiln::schedule(&[&out]).unwrap();
        s.set_opts(0, k.opts()).unwrap();
        s.run().unwrap();
        assert_close(
            &format!("{name} on {dev:?}"),
            &read(&out),
            &want,
            1e-5,
            1e-4,
        );
    }
}

#[test]
fn elementwise() {
    let ins = [
        rand_input(DType::F32, &[4, 8], 1),
        rand_input(DType::F32, &[8], 2),
    ];
    golden(
        "elementwise",
        &ins,
        &[Opt::new(OptOp::Upcast, 1, 4), Opt::new(OptOp::Local, 1, 2)],
        |t| (&(&t[0] + &t[1]) * &t[0]).exp(),
    );
}

#[test]
fn permuted_copy() {
    let ins = [rand_input(DType::F32, &[8, 4], 3)];
    golden(
        "permuted_copy",
        &ins,
        &[Opt::new(OptOp::Local, 1, 4)],
        |t| t[0].transpose(0, 1).contiguous(),
    );
}

#[test]
fn matvec() {
    let ins = [
        rand_input(DType::F32, &[16, 64], 4),
        rand_input(DType::F32, &[64], 5),
    ];
    golden(
        "matvec",
        &ins,
        &[
            Opt::new(OptOp::Group, 0, 16),
            Opt::new(OptOp::Upcast, 0, 4),
            Opt::new(OptOp::Unroll, 0, 4),
        ],
        |t| t[0].matmul(&t[1]),
    );
}

#[test]
fn matmul_upcast_unroll_local() {
    let ins = [
        rand_input(DType::F32, &[16, 8], 6),
        rand_input(DType::F32, &[8, 16], 7),
    ];
    golden(
        "matmul_upcast_unroll_local",
        &ins,
        &[
            Opt::new(OptOp::Upcast, 0, 4),
            Opt::new(OptOp::Upcast, 1, 4),
            Opt::new(OptOp::Unroll, 0, 4),
            Opt::new(OptOp::Local, 0, 2),
        ],
        |t| t[0].matmul(&t[1]),
    );
}
