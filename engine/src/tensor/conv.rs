//! Convolution, composed from movement ops and one reduction, so that it schedules, fuses and
//! optimizes like any other expression (`relu(conv2d(x, w) + bias)` is one kernel).

use super::ops::{reported, user_op};
use super::Tensor;

/// How `conv2d_with` slides its kernel (torch's `conv2d` arguments; (height, width) pairs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv2dOptions {
    /// Steps between windows.
    pub stride: (usize, usize),
    /// Zeros added on both sides of each spatial axis.
    pub padding: (usize, usize),
    /// Spacing between the kernel's taps (1: adjacent).
    pub dilation: (usize, usize),
    /// Channel groups: input and output channels split into `groups` independent
    /// convolutions (the input's channels are `groups` times the weight's).
    pub groups: usize,
}

impl Default for Conv2dOptions {
    fn default() -> Self {
        Conv2dOptions {
            stride: (1, 1),
            padding: (0, 0),
            dilation: (1, 1),
            groups: 1,
        }
    }
}

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
        let opts = Conv2dOptions {
            stride: (stride, stride),
            padding: (padding, padding),
            ..Conv2dOptions::default()
        };
        self.conv2d_with(weight, None, opts)
    }

    /// 2-D convolution with torch's full set of options: an `(N, C, H, W)` input, an
    /// `(O, C / groups, KH, KW)` weight, an optional `(O,)` bias; the result is
    /// `(N, O, OH, OW)` with `OH = (H + 2 pad_h - dil_h (KH - 1) - 1) / stride_h + 1`.
    ///
    /// ```
    /// use kiln_engine::{Conv2dOptions, Device, Tensor};
    /// let dev = Device::cpu();
    /// let x = Tensor::from_slice_on(&[1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0], &[1, 1, 3, 3], &dev)?;
    /// let w = Tensor::from_slice_on(&[1.0f32; 4], &[1, 1, 2, 2], &dev)?;
    /// let opts = Conv2dOptions { dilation: (2, 2), ..Default::default() };
    /// assert_eq!(x.conv2d_with(&w, None, opts).to_vec::<f32>()?, vec![20.0]); // 1 + 3 + 7 + 9
    /// # Ok::<(), kiln_engine::Error>(())
    /// ```
    #[track_caller]
    pub fn conv2d_with(
        &self,
        weight: &Tensor,
        bias: Option<&Tensor>,
        opts: Conv2dOptions,
    ) -> Tensor {
        let _op = user_op("conv2d_with");
        self.assert_same_device("conv2d", weight);
        let (xs, ws) = (self.shape(), weight.shape());
        assert!(
            xs.len() == 4 && ws.len() == 4,
            "{}: input {xs:?} must be (N, C, H, W) and weight {ws:?} (O, C / groups, KH, KW)",
            reported("conv2d")
        );
        let ([n, c, h, w], [o, cg, kh, kw]) =
            ([xs[0], xs[1], xs[2], xs[3]], [ws[0], ws[1], ws[2], ws[3]]);
        let Conv2dOptions {
            stride,
            padding: (ph, pw),
            dilation,
            groups: g,
        } = opts;
        assert!(
            g >= 1 && c == cg * g && o % g == 0,
            "{}: input {xs:?} has {c} channels, weight {ws:?} {cg} per group and {o} outputs: \
             with {g} groups the input needs {} and the outputs a multiple of {g}",
            reported("conv2d"),
            cg * g
        );
        assert!(
            stride.0 >= 1 && stride.1 >= 1 && dilation.0 >= 1 && dilation.1 >= 1,
            "{}: stride {stride:?} and dilation {dilation:?} must be at least 1",
            reported("conv2d")
        );
        let (eh, ew) = ((kh - 1) * dilation.0 + 1, (kw - 1) * dilation.1 + 1);
        assert!(
            kh >= 1 && kw >= 1 && h + 2 * ph >= eh && w + 2 * pw >= ew,
            "{}: kernel {kh}x{kw} (dilated {eh}x{ew}) does not fit input {h}x{w} with padding \
             {:?}",
            reported("conv2d"),
            (ph, pw)
        );
        let padded = self.pad(&[(0, 0), (0, 0), (ph, ph), (pw, pw)]);
        // (N, C, OH, EH, Wp) → (N, C, OH, KH, OW, KW) → (N, C, OH, OW, KH, KW): dilated windows
        // keep every dilation-th tap.
        let windows = padded
            .sliding_windows(2, eh, stride.0)
            .every(3, dilation.0, kh)
            .sliding_windows(4, ew, stride.1)
            .every(5, dilation.1, kw)
            .permute(&[0, 1, 2, 4, 3, 5]);
        let (oh, ow) = (windows.shape()[2], windows.shape()[3]);
        // (N, G, O/G, C/G, OH, OW, KH, KW), summed over C/G, KH and KW; without the G axis
        // when there is one group (the nest the heuristics were tuned on).
        let og = o / g;
        let grouped = |dims: [usize; 8]| -> Vec<usize> {
            let mut d = dims.to_vec();
            if g == 1 {
                d.remove(1);
            }
            d
        };
        let full = grouped([n, g, og, cg, oh, ow, kh, kw]);
        let xs = windows
            .reshape_usize(&grouped([n, g, 1, cg, oh, ow, kh, kw]))
            .expand(&full);
        let ws = weight
            .reshape_usize(&grouped([1, g, og, cg, 1, 1, kh, kw]))
            .expand(&full);
        let nd = full.len() as isize;
        let y = (&xs * &ws)
            .sum(&[nd - 5, nd - 2, nd - 1])
            .reshape_usize(&[n, o, oh, ow]);
        match bias {
            None => y,
            Some(b) => {
                assert_eq!(
                    b.shape(),
                    &[o],
                    "{}: bias {:?} must be ({o},)",
                    reported("conv2d"),
                    b.shape()
                );
                y.add(&b.reshape_usize(&[1, o, 1, 1]))
            }
        }
    }

    /// The transposed convolution (torch's `conv_transpose2d`, the gradient of `conv2d` with
    /// respect to its input): an `(N, C, H, W)` input and a `(C, O, KH, KW)` weight give
    /// `(N, O, (H - 1) stride - 2 padding + KH, ...)`. The input is spread `stride` apart
    /// with zeros between (a view), padded by `K - 1 - padding` and convolved with the
    /// flipped, transposed weight.
    #[track_caller]
    pub fn conv_transpose2d(&self, weight: &Tensor, stride: usize, padding: usize) -> Tensor {
        let _op = user_op("conv_transpose2d");
        let (xs, ws) = (self.shape(), weight.shape());
        assert!(
            xs.len() == 4 && ws.len() == 4 && xs[1] == ws[0],
            "{}: input {xs:?} must be (N, C, H, W) and weight {ws:?} (C, O, KH, KW)",
            reported("conv_transpose2d")
        );
        let ([n, c, h, w], [kh, kw]) = ([xs[0], xs[1], xs[2], xs[3]], [ws[2], ws[3]]);
        assert!(
            stride >= 1 && padding < kh && padding < kw && h >= 1 && w >= 1,
            "{}: stride {stride} must be at least 1 and padding {padding} below the kernel \
             {kh}x{kw}, on a non-empty input",
            reported("conv_transpose2d")
        );
        let (sh, sw) = ((h - 1) * stride + 1, (w - 1) * stride + 1);
        let spread = self
            .reshape_usize(&[n, c, h, 1, w, 1])
            .pad(&[
                (0, 0),
                (0, 0),
                (0, 0),
                (0, stride - 1),
                (0, 0),
                (0, stride - 1),
            ])
            .reshape_usize(&[n, c, h * stride, w * stride])
            .shrink(&[(0, n), (0, c), (0, sh), (0, sw)])
            .pad(&[
                (0, 0),
                (0, 0),
                (kh - 1 - padding, kh - 1 - padding),
                (kw - 1 - padding, kw - 1 - padding),
            ]);
        let flipped = weight.flip(&[2, 3]).transpose(0, 1);
        spread.conv2d_with(&flipped, None, Conv2dOptions::default())
    }

    /// Replaces `axis` (size `i`) by two axes `(o, k)`: window `j` of `k` consecutive elements
    /// starting at `j * stride`, `o = (i - k) / stride + 1` windows. Movement ops only (views,
    /// no copy), after tinygrad's `_pool`.
    pub(super) fn sliding_windows(&self, axis: usize, k: usize, stride: usize) -> Tensor {
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
