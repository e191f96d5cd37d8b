//! `KILN_CHECKED=1` keeps wgpu's runtime checks in every shader (the default drops them; every
//! other test binary runs that way). The variable is read once per process, so this binary
//! sets it before any device exists and runs a few kernels three-way.

mod common;
use common::*;
use kiln::DType;

#[test]
fn checked_shaders_compute_the_same_values() {
    // Before any device exists: kiln reads the variable once, at the first shader.
    std::env::set_var("KILN_CHECKED", "1");
    let a = rand_input(DType::F32, &[33, 20], 1);
    let b = rand_input(DType::F32, &[20, 17], 2);
    check3("matmul, checked", &[a.clone(), b], |t| {
        t[0].matmul(&t[1]).relu()
    });
    check3("pad and sum, checked", &[a], |t| {
        t[0].pad(&[(1, 2), (3, 0)]).exp().sum(&[1])
    });
}
