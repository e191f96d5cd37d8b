//! Convolution, composed from movement ops and one reduction, so that it schedules, fuses and
//! optimizes like any other expression (`relu(conv2d(x, w) + bias)` is one kernel).

use super::ops::user_op;
use super::Tensor;

impl Tensor {
    /// 2-D convolution (cross-correlation, as PyTorch's `conv2d`) of an `(N, C, H, W)` input
    /// with an `(O, C, KH, KW)` weight, the same `stride` and zero `padding` on both spatial
    /// axes: the result is `(N, O, OH, OW)` with `OH = (H + 2 padding - KH) / stride + 1`.
    ///
    /// ```
    /// use kiln_engine::{Device, Tensor};
    /// let dev = Device::cpu();
    /// let x = Tensor::from_slice_on(&[1.0f32, 2.0, 3.0, 4.0], &[1, 1, 2, 2], &dev)?;
    /// let w = Tensor::from_slice_on(&[1.0f32; 4], &[1, 1, 2, 2], &dev)?;
    /// assert_eq!(x.conv2d(&w, 1, 0).to_vec::<f32>()?, vec![10.0]);
    /// assert_eq!(x.conv2d(&w, 1, 1).shape(), &[1, 1, 3, 3]);
    /// # Ok::<(), kiln_engine::Error>(())
    /// ```
    #[track_caller]
    pub fn conv2d(&self, weight: &Tensor, stride: usize, padding: usize) -> Tensor {
        let _op = user_op("conv2d");
        self.assert_same_device("conv2d", weight);
        let (xs, ws) = (self.shape(), weight.shape());
        assert!(
            xs.len() == 4 && ws.len() == 4,
            "conv2d: input {xs:?} must be (N, C, H, W) and weight {ws:?} (O, C, KH, KW)"
        );
        let ([n, c, h, w], [o, c2, kh, kw]) =
            ([xs[0], xs[1], xs[2], xs[3]], [ws[0], ws[1], ws[2], ws[3]]);
        assert_eq!(
            c, c2,
            "conv2d: input {xs:?} has {c} channels but weight {ws:?} expects {c2}"
        );
        assert!(stride >= 1, "conv2d: stride must be at least 1");
        assert!(
            kh >= 1 && kw >= 1 && h + 2 * padding >= kh && w + 2 * padding >= kw,
            "conv2d: kernel {kh}x{kw} does not fit input {h}x{w} with padding {padding}"
        );
        let p = padding;
        let padded = self.pad(&[(0, 0), (0, 0), (p, p), (p, p)]);
        // (N, C, OH, KH, Wp) → (N, C, OH, KH, OW, KW) → (N, C, OH, OW, KH, KW)
        let windows = padded
            .sliding_windows(2, kh, stride)
            .sliding_windows(4, kw, stride)
            .permute(&[0, 1, 2, 4, 3, 5]);
        let (oh, ow) = (windows.shape()[2], windows.shape()[3]);
        let full = [n, o, c, oh, ow, kh, kw];
        let x7 = windows
            .reshape_usize(&[n, 1, c, oh, ow, kh, kw])
            .expand(&full);
        let w7 = weight.reshape_usize(&[1, o, c, 1, 1, kh, kw]).expand(&full);
        (&x7 * &w7).sum(&[2, 5, 6])
    }

    /// Replaces `axis` (size `i`) by two axes `(o, k)`: window `j` of `k` consecutive elements
    /// starting at `j * stride`, `o = (i - k) / stride + 1` windows. Movement ops only (views,
    /// no copy), after tinygrad's `_pool`.
    fn sliding_windows(&self, axis: usize, k: usize, stride: usize) -> Tensor {
        let shape = self.shape().to_vec();
        let i = shape[axis];
        let o = (i - k) / stride + 1;
        let with = |sizes: &[usize]| -> Vec<usize> {
            let mut s = shape[..axis].to_vec();
            s.extend_from_slice(sizes);
            s.extend_from_slice(&shape[axis + 1..]);
            s
        };
        let bounds = |ranges: &[(usize, usize)]| -> Vec<(usize, usize)> {
            let mut b: Vec<(usize, usize)> = shape[..axis].iter().map(|&d| (0, d)).collect();
            b.extend_from_slice(ranges);
            b.extend(shape[axis + 1..].iter().map(|&d| (0, d)));
            b
        };
        if stride >= k {
            // Windows do not overlap: cut the axis into rows of `stride` (padding the end when
            // the last row is short; those elements are never read) and keep `k` of each.
            let len = o * stride;
            let fitted = if len > i {
                let mut pad = vec![(0, 0); shape.len()];
                pad[axis] = (0, len - i);
                self.pad(&pad)
            } else {
                self.shrink(&bounds(&[(0, len)]))
            };
            return fitted
                .reshape_usize(&with(&[o, stride]))
                .shrink(&bounds(&[(0, o), (0, k)]));
        }
        // Overlapping windows: repeat the axis e times, view it as rows of i + 1 (each row
        // starts one element later), then take every stride-th start.
        let e = (k * (i + 1)).div_ceil(i);
        let repeated = self
            .reshape_usize(&with(&[1, i]))
            .expand(&with(&[e, i]))
            .reshape_usize(&with(&[e * i]));
        let rows = repeated
            .shrink(&bounds(&[(0, k * (i + 1))]))
            .reshape_usize(&with(&[k, i + 1]))
            .shrink(&bounds(&[(0, k), (0, o * stride)]))
            .reshape_usize(&with(&[k, o, stride]))
            .shrink(&bounds(&[(0, k), (0, o), (0, 1)]))
            .reshape_usize(&with(&[k, o]));
        // (k, o) → (o, k)
        let mut order: Vec<isize> = (0..rows.ndim() as isize).collect();
        order.swap(axis, axis + 1);
        rows.permute(&order)
    }
}
