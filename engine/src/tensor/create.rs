//! Creation from the index: `arange`, `linspace`, `eye` and the `*_like` constants. Each is
//! lazy and computed inside the kernel that reads it from the element's index (the `iota`
//! primitive), so `arange(n) * 2` is one kernel that uploads nothing.

use crate::dtype::{DType, Scalar};
use crate::error::Result;
use crate::graph::{self, Op};
use crate::runtime::Device;

use super::ops::{checked_numel, reported, user_op};
use super::{default_device, Tensor};

impl Tensor {
    /// `0, 1, .., n - 1` as i32: the index primitive the creation ops are built on.
    #[track_caller]
    pub(super) fn iota(n: usize, device: &Device) -> Tensor {
        assert!(
            n <= i32::MAX as usize,
            "{}: {n} elements is more than an i32 index reaches",
            reported("iota")
        );
        Tensor::wrap(graph::intern(Op::Iota, vec![], DType::I32, vec![n], device))
    }

    /// numpy's `arange`: `start, start + step, ..` up to (not including) `end`, on the
    /// default device. `Err` when there is no default device.
    ///
    /// ```
    /// use kiln_engine::{DType, Device, Tensor};
    /// let x = Tensor::arange_on(0.0, 10.0, 3.0, DType::I32, &Device::cpu());
    /// assert_eq!(x.to_vec::<i32>()?, vec![0, 3, 6, 9]);
    /// # Ok::<(), kiln_engine::Error>(())
    /// ```
    #[track_caller]
    pub fn arange(start: f64, end: f64, step: f64, dtype: DType) -> Result<Tensor> {
        Ok(Tensor::arange_on(
            start,
            end,
            step,
            dtype,
            &default_device()?,
        ))
    }

    /// [`Tensor::arange`] on `device`. Integer dtypes need an integral `start` and `step`
    /// and compute exactly (wrapping as the dtype does); floats compute `start + i * delta`
    /// in the dtype, with numpy's `delta = (start + step) - start` rounded to it.
    #[track_caller]
    pub fn arange_on(start: f64, end: f64, step: f64, dtype: DType, device: &Device) -> Tensor {
        let _op = user_op("arange");
        assert!(
            step != 0.0 && step.is_finite() && start.is_finite() && end.is_finite(),
            "arange: start {start}, end {end} and step {step} must be finite, and step nonzero"
        );
        let n = ((end - start) / step).ceil().max(0.0);
        assert!(
            n <= i32::MAX as f64,
            "arange: {n} elements is more than an i32 index reaches"
        );
        let i = Tensor::iota(n as usize, device);
        match dtype {
            DType::Bool => panic!("arange: not defined for bool"),
            d if d.is_int() => {
                assert!(
                    start.fract() == 0.0 && step.fract() == 0.0,
                    "arange: {dtype} needs an integral start and step, got {start} and {step}"
                );
                let at = |v: f64| Tensor::constant(Scalar::I32(v as i64 as i32), &[], device);
                i.mul(&at(step)).add(&at(start)).cast(dtype)
            }
            // Narrower floats are computed in f32 and rounded once.
            _ => {
                let first = start as f32;
                let delta = (start + step) as f32 - first;
                let at = |v: f32| Tensor::constant(Scalar::F32(v), &[], device);
                i.cast(DType::F32)
                    .mul(&at(delta))
                    .add(&at(first))
                    .cast(dtype)
            }
        }
    }

    /// numpy's `linspace`: `steps` values evenly spaced from `start` to `end` inclusive, on
    /// the default device. `Err` when there is no default device.
    #[track_caller]
    pub fn linspace(start: f64, end: f64, steps: usize, dtype: DType) -> Result<Tensor> {
        Ok(Tensor::linspace_on(
            start,
            end,
            steps,
            dtype,
            &default_device()?,
        ))
    }

    /// [`Tensor::linspace`] on `device`: `start + i * (end - start) / (steps - 1)` in f32,
    /// the last value exactly `end`, then cast to `dtype` (numpy's cast: toward zero).
    ///
    /// ```
    /// use kiln_engine::{DType, Device, Tensor};
    /// let x = Tensor::linspace_on(0.0, 1.0, 5, DType::F32, &Device::cpu());
    /// assert_eq!(x.to_vec::<f32>()?, vec![0.0, 0.25, 0.5, 0.75, 1.0]);
    /// # Ok::<(), kiln_engine::Error>(())
    /// ```
    #[track_caller]
    pub fn linspace_on(
        start: f64,
        end: f64,
        steps: usize,
        dtype: DType,
        device: &Device,
    ) -> Tensor {
        let _op = user_op("linspace");
        assert!(
            start.is_finite() && end.is_finite(),
            "linspace: start {start} and end {end} must be finite"
        );
        assert!(dtype != DType::Bool, "linspace: not defined for bool");
        let i = Tensor::iota(steps, device);
        let at = |v: f64| Tensor::constant(Scalar::F32(v as f32), &[], device);
        let step = (end - start) / (steps.max(2) - 1) as f64;
        let spaced = i.cast(DType::F32).mul(&at(step)).add(&at(start));
        let last = Tensor::constant(Scalar::I32(steps as i32 - 1), &[], device);
        let values = match steps {
            0 | 1 => spaced,
            _ => i.eq(&last).where_(&at(end), &spaced),
        };
        values.cast(dtype)
    }

    /// The `n` x `n` identity matrix of `dtype`, on the default device. `Err` when there is
    /// no default device.
    #[track_caller]
    pub fn eye(n: usize, dtype: DType) -> Result<Tensor> {
        Ok(Tensor::eye_on(n, dtype, &default_device()?))
    }

    /// [`Tensor::eye`] on `device`: ones where the row index equals the column index.
    ///
    /// ```
    /// use kiln_engine::{DType, Device, Tensor};
    /// let x = Tensor::eye_on(2, DType::I32, &Device::cpu());
    /// assert_eq!(x.to_vec::<i32>()?, vec![1, 0, 0, 1]);
    /// # Ok::<(), kiln_engine::Error>(())
    /// ```
    #[track_caller]
    pub fn eye_on(n: usize, dtype: DType, device: &Device) -> Tensor {
        let _op = user_op("eye");
        checked_numel("eye", &[n, n]);
        let i = Tensor::iota(n, device);
        let rows = i.reshape_usize(&[n, 1]);
        let cols = i.reshape_usize(&[1, n]);
        rows.eq(&cols).cast(dtype)
    }

    /// Zeros of this tensor's shape, dtype and device (a constant: nothing is computed).
    #[track_caller]
    pub fn zeros_like(&self) -> Tensor {
        self.full_like(0.0)
    }

    /// Ones of this tensor's shape, dtype and device.
    #[track_caller]
    pub fn ones_like(&self) -> Tensor {
        self.full_like(1.0)
    }

    /// `value` converted to this tensor's dtype, over its shape, on its device.
    #[track_caller]
    pub fn full_like(&self, value: f64) -> Tensor {
        Tensor::full_on(self.shape(), value, self.dtype(), self.device())
    }
}
