//! Joining and cutting along an axis: `cat`, `stack`, `split`, `chunk`, `repeat` and `roll`.
//! All are views, pads and selects, so a `cat` of computed tensors is one kernel that writes
//! each element once, and cutting a tensor copies nothing.

use crate::dtype::DType;

use super::ops::{normalize_axis, reported, user_op};
use super::Tensor;

impl Tensor {
    /// Joins tensors along `axis` (numpy's `concatenate`): every other axis must match, and
    /// the dtypes promote as in arithmetic.
    ///
    /// ```
    /// use kiln_engine::{Device, Tensor};
    /// let dev = Device::cpu();
    /// let a = Tensor::from_slice_on(&[1i32, 2], &[1, 2], &dev)?;
    /// let b = Tensor::from_slice_on(&[3i32, 4, 5, 6], &[2, 2], &dev)?;
    /// assert_eq!(Tensor::cat(&[&a, &b], 0).to_vec::<i32>()?, vec![1, 2, 3, 4, 5, 6]);
    /// # Ok::<(), kiln_engine::Error>(())
    /// ```
    #[track_caller]
    pub fn cat(tensors: &[&Tensor], axis: isize) -> Tensor {
        let _op = user_op("cat");
        let Some(first) = tensors.first() else {
            panic!("{}: needs at least one tensor", reported("cat"));
        };
        let a = normalize_axis("cat", axis, first.shape());
        let mut dtype = first.dtype();
        for t in &tensors[1..] {
            first.assert_same_device("cat", t);
            let same = t.ndim() == first.ndim()
                && (0..t.ndim()).all(|i| i == a || t.shape()[i] == first.shape()[i]);
            assert!(
                same,
                "{}: shape {:?} does not match {:?} outside axis {a}",
                reported("cat"),
                t.shape(),
                first.shape()
            );
            dtype = DType::promote(dtype, t.dtype());
        }
        let total: usize = tensors.iter().map(|t| t.shape()[a]).sum();
        let mut shape = first.shape().to_vec();
        shape[a] = total;
        // Each piece is padded to the full axis; a select by the pad's mask (not a sum of the
        // pads, which would turn -0.0 into 0.0) picks the piece each element comes from.
        let mut out: Option<Tensor> = None;
        let mut offset = 0;
        for t in tensors {
            let n = t.shape()[a];
            if n == 0 {
                continue;
            }
            let mut pad = vec![(0, 0); shape.len()];
            pad[a] = (offset, total - offset - n);
            let piece = t.cast(dtype).pad(&pad);
            out = Some(match out {
                None => piece,
                Some(o) => Tensor::full_on(t.shape(), 1.0, DType::Bool, t.device())
                    .pad(&pad)
                    .where_(&piece, &o),
            });
            offset += n;
        }
        out.unwrap_or_else(|| Tensor::full_on(&shape, 0.0, dtype, first.device()))
    }

    /// Joins tensors of one shape along a new axis `axis` (numpy's `stack`).
    #[track_caller]
    pub fn stack(tensors: &[&Tensor], axis: isize) -> Tensor {
        let _op = user_op("stack");
        let Some(first) = tensors.first() else {
            panic!("{}: needs at least one tensor", reported("stack"));
        };
        for t in &tensors[1..] {
            assert_eq!(
                t.shape(),
                first.shape(),
                "{}: every tensor must have one shape",
                reported("stack")
            );
        }
        let with_axis: Vec<Tensor> = tensors.iter().map(|t| t.unsqueeze(axis)).collect();
        Tensor::cat(&with_axis.iter().collect::<Vec<_>>(), axis)
    }

    /// Cuts `axis` into consecutive pieces of the given sizes, which must add up to its
    /// length: views, nothing is copied.
    #[track_caller]
    pub fn split(&self, sizes: &[usize], axis: isize) -> Vec<Tensor> {
        let _op = user_op("split");
        let a = normalize_axis("split", axis, self.shape());
        let len = self.shape()[a];
        assert_eq!(
            sizes.iter().sum::<usize>(),
            len,
            "{}: sizes {sizes:?} do not add up to axis {a} of shape {:?}",
            reported("split"),
            self.shape()
        );
        let mut start = 0;
        sizes
            .iter()
            .map(|&n| {
                let piece = self.narrow(a, start, start + n);
                start += n;
                piece
            })
            .collect()
    }

    /// Cuts `axis` into `n` pieces of `ceil(len / n)`, the last one shorter (torch's
    /// `chunk`: fewer than `n` pieces when the length does not fill them).
    #[track_caller]
    pub fn chunk(&self, n: usize, axis: isize) -> Vec<Tensor> {
        let _op = user_op("chunk");
        assert!(n > 0, "{}: n must be at least 1", reported("chunk"));
        let a = normalize_axis("chunk", axis, self.shape());
        let len = self.shape()[a];
        if len == 0 {
            return vec![self.clone()];
        }
        let size = len.div_ceil(n);
        (0..len)
            .step_by(size)
            .map(|start| self.narrow(a, start, (start + size).min(len)))
            .collect()
    }

    /// Tiles the tensor `reps[i]` times along each axis (numpy's `tile`): a shorter `reps`
    /// is padded with leading 1s, a longer one adds leading axes. A view.
    #[track_caller]
    pub fn repeat(&self, reps: &[usize]) -> Tensor {
        let _op = user_op("repeat");
        let nd = reps.len().max(self.ndim());
        let mut shape = vec![1; nd - self.ndim()];
        shape.extend_from_slice(self.shape());
        let mut r = vec![1; nd - reps.len()];
        r.extend_from_slice(reps);
        // (s0, s1, ...) → (1, s0, 1, s1, ...) → (r0, s0, r1, s1, ...) → (r0 s0, r1 s1, ...)
        let interleaved: Vec<usize> = shape.iter().flat_map(|&s| [1, s]).collect();
        let expanded: Vec<usize> = r.iter().zip(&shape).flat_map(|(&r, &s)| [r, s]).collect();
        let out: Vec<usize> = r.iter().zip(&shape).map(|(&r, &s)| r * s).collect();
        self.reshape_usize(&interleaved)
            .expand(&expanded)
            .reshape_usize(&out)
    }

    /// Rotates `axis` by `shift` places (torch's `roll`): element `i` moves to
    /// `(i + shift) mod len`; a negative shift rotates the other way.
    #[track_caller]
    pub fn roll(&self, shift: isize, axis: isize) -> Tensor {
        let _op = user_op("roll");
        let a = normalize_axis("roll", axis, self.shape());
        let len = self.shape()[a];
        if len == 0 {
            return self.clone();
        }
        let s = shift.rem_euclid(len as isize) as usize;
        if s == 0 {
            return self.clone();
        }
        Tensor::cat(
            &[&self.narrow(a, len - s, len), &self.narrow(a, 0, len - s)],
            a as isize,
        )
    }

    /// `start..end` of axis `a` (in range), every other axis whole: a view.
    pub(super) fn narrow(&self, a: usize, start: usize, end: usize) -> Tensor {
        let mut bounds: Vec<(usize, usize)> = self.shape().iter().map(|&d| (0, d)).collect();
        bounds[a] = (start, end);
        self.shrink(&bounds)
    }
}
