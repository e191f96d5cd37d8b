#![warn(missing_docs)]
//! kiln: lazy tensors compiled to fused WGSL kernels on wgpu, with a CPU reference device.
//!
//! ```
//! use kiln::{Device, Tensor};
//! let dev = Device::cpu(); // or kiln::default_device()? for the best GPU adapter
//! let a = Tensor::from_slice_on(&[1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3], &dev)?;
//! let b = Tensor::from_slice_on(&[0.5f32, 1.0, 2.0], &[3], &dev)?;
//! let before = kiln::stats().kernels_launched;
//! let y = (&a * &b).exp().sum(&[1]); // lazy: nothing has run yet
//! let v: Vec<f32> = y.to_vec()?;      // one fused kernel
//! assert_eq!(kiln::stats().kernels_launched - before, 1);
//! assert!((v[0] - (0.5f32.exp() + 2.0f32.exp() + 6.0f32.exp())).abs() < 1e-3);
//! # Ok::<(), kiln::Error>(())
//! ```
//!
//! See README.md for the tour and ARCHITECTURE.md for the map of the code.

pub use kiln_engine::*;
