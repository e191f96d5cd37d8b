//! kiln in a minute: a few lazy expressions, the device they ran on, and the kernels they became.
//!
//! Run with `cargo run --release --example quickstart` (add `DEBUG=2` to see every kernel, or
//! `DEBUG=4` for the WGSL). Without a GPU adapter it falls back to the CPU device and says so.

use kiln::{DType, Tensor};

fn main() -> kiln::Result<()> {
    let device = kiln::default_device()?;
    println!("device: {}", device.name());

    // Elementwise ops and a reduction fuse into one kernel.
    let a = Tensor::from_slice(&[1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3])?;
    let b = Tensor::from_slice(&[0.5f32, 1.0, 2.0], &[3])?;
    let before = kiln::stats().kernels_launched;
    let y = (&a * &b).exp().sum(&[1]); // lazy: nothing has run yet
    println!("y = (a * b).exp().sum(1) = {:?}", y.to_vec::<f32>()?);
    println!("  kernels: {}", kiln::stats().kernels_launched - before);

    // matmul + bias + relu: one kernel.
    let w = Tensor::from_slice(&[1.0f32, -1.0, 0.5, 2.0, -0.5, 1.0], &[3, 2])?;
    let bias = Tensor::from_slice(&[0.25f32, -10.0], &[2])?;
    let before = kiln::stats().kernels_launched;
    let h = a.matmul(&w).add(&bias).relu();
    println!("relu(a @ w + bias) = {:?}", h.to_vec::<f32>()?);
    println!("  kernels: {}", kiln::stats().kernels_launched - before);

    // Several outputs over one domain, realized together: one kernel.
    let x = Tensor::from_slice(
        &(0..1000).map(|i| i as f32 * 0.001).collect::<Vec<_>>(),
        &[1000],
    )?;
    let (s, m) = (x.sum_all(), x.mean_all());
    let before = kiln::stats().kernels_launched;
    kiln::realize(&[&s, &m])?;
    println!("sum = {}, mean = {}", s.item::<f32>()?, m.item::<f32>()?);
    println!("  kernels: {}", kiln::stats().kernels_launched - before);

    // softmax, integer and bool tensors, views.
    let logits = Tensor::from_slice(&[1.0f32, 2.0, 3.0, 1.0, 1.0, 1.0], &[2, 3])?;
    println!("softmax(-1) =\n{}", logits.softmax(-1)); // numpy's text, computed on demand
    let ints = Tensor::from_slice(&[3i32, -1, 4, 1, -5, 9], &[2, 3])?;
    println!(
        "ints.T.max(1) = {:?}",
        ints.transpose(0, 1).max(&[1]).to_vec::<i32>()?
    );
    let mask = ints.gt(&Tensor::zeros(&[], DType::I32)?);
    println!("ints > 0 = {:?}", mask.to_vec::<bool>()?);
    println!(
        "flip + pad = {:?}",
        a.flip(&[1]).pad(&[(0, 0), (1, 1)]).to_vec::<f32>()?
    );

    // Gradients are lazy tensors too: the loss and its gradients in one schedule.
    let loss = a.matmul(&w).add(&bias).relu().sum_all();
    let grads = loss.gradient(&[&w, &bias]);
    let before = kiln::stats().kernels_launched;
    kiln::realize(&[&loss, &grads[0], &grads[1]])?;
    println!(
        "d relu(a @ w + bias).sum() / d w = {:?}, / d bias = {:?}",
        grads[0].to_vec::<f32>()?,
        grads[1].to_vec::<f32>()?
    );
    println!("  kernels: {}", kiln::stats().kernels_launched - before);

    println!("total kernels launched: {}", kiln::stats().kernels_launched);
    Ok(())
}
