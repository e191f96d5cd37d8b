//! Where the extremes are: `argmax` and `argmin`, composed from a max (min) and a second
//! reduction over the index marks, so they fuse like `max` does.

use crate::dtype::DType;

use super::ops::{normalize_axis, reported, user_op};
use super::Tensor;

impl Tensor {
    /// The index of the first maximum along `axis`, as i32 (numpy's `argmax`: a NaN counts as
    /// the maximum, so the first NaN wins).
    ///
    /// ```
    /// use kiln_engine::{Device, Tensor};
    /// let x = Tensor::from_slice_on(&[1.0f32, 3.0, 3.0, 0.0], &[2, 2], &Device::cpu())?;
    /// assert_eq!(x.argmax(1).to_vec::<i32>()?, vec![1, 0]);
    /// # Ok::<(), kiln_engine::Error>(())
    /// ```
    #[track_caller]
    pub fn argmax(&self, axis: isize) -> Tensor {
        let _op = user_op("argmax");
        self.arg_extreme("argmax", axis, true)
    }

    /// The index of the first minimum along `axis`, as i32 (numpy's `argmin`: a NaN counts as
    /// the minimum, so the first NaN wins).
    #[track_caller]
    pub fn argmin(&self, axis: isize) -> Tensor {
        let _op = user_op("argmin");
        self.arg_extreme("argmin", axis, false)
    }

    #[track_caller]
    fn arg_extreme(&self, name: &str, axis: isize, max: bool) -> Tensor {
        let a = normalize_axis(name, axis, self.shape());
        let n = self.shape()[a];
        assert!(
            n > 0,
            "{}: axis {a} of shape {:?} is empty, and an empty axis has no {}",
            reported(name),
            self.shape(),
            if max { "maximum" } else { "minimum" }
        );
        assert!(
            n <= i32::MAX as usize,
            "{}: axis {a} of shape {:?} is longer than an i32 index reaches",
            reported(name),
            self.shape()
        );
        let best = if max {
            self.max_keepdim(&[a as isize])
        } else {
            self.min_keepdim(&[a as isize])
        };
        // The extreme is NaN exactly when the axis holds one (max and min propagate NaN), so
        // "equal to it, or NaN" marks the NaNs then and the extremes otherwise.
        let mut hit = self.eq(&best);
        if self.dtype().is_float() {
            hit = hit.logical_or(&self.isnan());
        }
        // Each hit scores n - i, everything else 0: the largest score marks the first hit.
        let mut along = vec![1; self.ndim()];
        along[a] = n;
        let score =
            Tensor::arange_on(n as f64, 0.0, -1.0, DType::I32, self.device()).reshape_usize(&along);
        let first = hit
            .where_(&score, &score.scalar_like(0.0))
            .max(&[a as isize]);
        first.scalar_like(n as f64).sub(&first)
    }
}
