//! Axis bookkeeping and numpy slicing: `squeeze`, `unsqueeze`, `flatten`, `slice` (negative
//! indices and steps), `pad_with` (numpy's pad modes) and the triangles `tril`/`triu`. All
//! are views, pads and selects: nothing is copied until a kernel reads them.

use crate::dtype::DType;

use super::ops::{normalize_axis, reported, user_op};
use super::Tensor;

/// How `pad_with` fills the border (numpy's `np.pad` modes).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PadMode {
    /// A constant value (numpy's `constant`).
    Constant(f64),
    /// The mirror image without the edge element: `[1, 2, 3]` padded by 2 is
    /// `[3, 2, 1, 2, 3, 2, 1]` (numpy's `reflect`).
    Reflect,
    /// The edge element repeated (numpy's `edge`).
    Replicate,
    /// The axis continued periodically (numpy's `wrap`).
    Circular,
}

impl Tensor {
    /// Removes axis `axis`, which must have size 1 (numpy's `squeeze` with an axis).
    #[track_caller]
    pub fn squeeze(&self, axis: isize) -> Tensor {
        let a = normalize_axis("squeeze", axis, self.shape());
        assert_eq!(
            self.shape()[a],
            1,
            "{}: axis {a} of shape {:?} is not of size 1",
            reported("squeeze"),
            self.shape()
        );
        let mut shape = self.shape().to_vec();
        shape.remove(a);
        self.reshape_usize(&shape)
    }

    /// Inserts an axis of size 1 at `axis`, which counts over the result's axes
    /// (`-1` appends one).
    #[track_caller]
    pub fn unsqueeze(&self, axis: isize) -> Tensor {
        let nd = self.ndim() as isize + 1;
        let a = if axis < 0 { axis + nd } else { axis };
        assert!(
            (0..nd).contains(&a),
            "{}: axis {axis} is out of range for the {nd} dims of the result (shape {:?})",
            reported("unsqueeze"),
            self.shape()
        );
        let mut shape = self.shape().to_vec();
        shape.insert(a as usize, 1);
        self.reshape_usize(&shape)
    }

    /// The elements as one axis, in row-major order.
    #[track_caller]
    pub fn flatten(&self) -> Tensor {
        self.reshape_usize(&[self.numel()])
    }

    /// numpy's `t[start:end:step]` along `axis`: negative `start`/`end` count from the end,
    /// out-of-range bounds clamp as Python's slices do, and a negative `step` walks
    /// backwards. `isize::MAX` as `end` (or `isize::MIN` with a negative step) runs to the
    /// end. A view: nothing is copied.
    ///
    /// ```
    /// use kiln_engine::{Device, Tensor};
    /// let x = Tensor::arange_on(0.0, 10.0, 1.0, kiln_engine::DType::I32, &Device::cpu());
    /// assert_eq!(x.slice(0, -2, 1, -3).to_vec::<i32>()?, vec![8, 5, 2]);
    /// assert_eq!(x.slice(0, 1, isize::MAX, 4).to_vec::<i32>()?, vec![1, 5, 9]);
    /// # Ok::<(), kiln_engine::Error>(())
    /// ```
    #[track_caller]
    pub fn slice(&self, axis: isize, start: isize, end: isize, step: isize) -> Tensor {
        let _op = user_op("slice");
        let a = normalize_axis("slice", axis, self.shape());
        assert!(step != 0, "{}: step must not be 0", reported("slice"));
        let (first, count) = slice_range(self.shape()[a] as isize, start, end, step);
        if count == 0 {
            return self.narrow(a, 0, 0);
        }
        let span = (count - 1) * step.unsigned_abs();
        let run = if step > 0 {
            self.narrow(a, first, first + span + 1)
        } else {
            self.narrow(a, first - span, first + 1).flip(&[a as isize])
        };
        run.every(a, step.unsigned_abs(), count)
    }

    /// Every `step`-th element of axis `a` from the first, `count` of them, as a view: the
    /// axis padded to `count · step`, cut into rows of `step` and the first column kept.
    pub(super) fn every(&self, a: usize, step: usize, count: usize) -> Tensor {
        if step == 1 {
            return self.clone();
        }
        let len = self.shape()[a];
        let mut pad = vec![(0, 0); self.ndim()];
        pad[a] = (0, count * step - len);
        let mut rows = self.shape().to_vec();
        rows.splice(a..=a, [count, step]);
        let mut bounds: Vec<(usize, usize)> = rows.iter().map(|&d| (0, d)).collect();
        bounds[a + 1] = (0, 1);
        let mut out = self.shape().to_vec();
        out[a] = count;
        self.pad(&pad)
            .reshape_usize(&rows)
            .shrink(&bounds)
            .reshape_usize(&out)
    }

    /// Pads each axis by `(before, after)` elements filled as `mode` says (numpy's `np.pad`;
    /// axes are padded in order, so corners take the last axis's rule). `Reflect` needs an
    /// axis of at least 2 elements where it pads (1 repeats the element, as numpy does),
    /// `Replicate` and `Circular` one of at least 1.
    #[track_caller]
    pub fn pad_with(&self, padding: &[(usize, usize)], mode: PadMode) -> Tensor {
        let _op = user_op("pad_with");
        assert_eq!(
            padding.len(),
            self.ndim(),
            "{}: {} (before, after) pairs for shape {:?}",
            reported("pad_with"),
            padding.len(),
            self.shape()
        );
        if padding.iter().all(|&(b, a)| b == 0 && a == 0) {
            return self.clone();
        }
        if let PadMode::Constant(value) = mode {
            let inside = Tensor::full_on(self.shape(), 1.0, DType::Bool, self.device());
            let fill = Tensor::full_on(&[], value, self.dtype(), self.device());
            return inside.pad(padding).where_(&self.pad(padding), &fill);
        }
        let mut out = self.clone();
        for (a, &(before, after)) in padding.iter().enumerate() {
            if before == 0 && after == 0 {
                continue;
            }
            let len = out.shape()[a];
            assert!(
                len > 0,
                "{}: cannot fill {mode:?} padding {padding:?} from an empty axis {a} (shape {:?})",
                reported("pad_with"),
                self.shape()
            );
            let ax = a as isize;
            let flipped = |from: usize, to: usize| out.narrow(a, from, to).flip(&[ax]);
            // Pads within the axis: the border pieces themselves (the common case, and
            // affine reads that vectorize).
            out = match mode {
                PadMode::Reflect if len > 1 && before < len && after < len => Tensor::cat(
                    &[
                        &flipped(1, before + 1),
                        &out,
                        &flipped(len - 1 - after, len - 1),
                    ],
                    ax,
                ),
                PadMode::Circular if before <= len && after <= len => Tensor::cat(
                    &[
                        &out.narrow(a, len - before, len),
                        &out,
                        &out.narrow(a, 0, after),
                    ],
                    ax,
                ),
                _ => out.pad_periodic(a, before, after, mode),
            };
        }
        out
    }

    /// Axis `a` padded by the sequence `mode` continues it with, however long the pads: one
    /// period of that sequence, tiled enough times to cover both pads, and the window of it.
    fn pad_periodic(&self, a: usize, before: usize, after: usize, mode: PadMode) -> Tensor {
        let len = self.shape()[a];
        let period = match mode {
            PadMode::Reflect if len > 1 => Tensor::cat(
                &[self, &self.narrow(a, 1, len - 1).flip(&[a as isize])],
                a as isize,
            ),
            PadMode::Circular => self.clone(),
            // An axis of one element reflects into itself, as its edge does.
            PadMode::Reflect | PadMode::Replicate => return self.pad_edges(a, before, after),
            PadMode::Constant(_) => unreachable!("constant padding returned above"),
        };
        let n = period.shape()[a];
        let mut reps = vec![1; self.ndim()];
        reps[a] = before.div_ceil(n) + 1 + after.div_ceil(n);
        let start = before.div_ceil(n) * n - before;
        period
            .repeat(&reps)
            .narrow(a, start, start + before + len + after)
    }

    /// Axis `a` with its first element repeated `before` times and its last `after` times.
    fn pad_edges(&self, a: usize, before: usize, after: usize) -> Tensor {
        let len = self.shape()[a];
        let edge = |at: usize, n: usize| {
            let mut shape = self.shape().to_vec();
            shape[a] = n;
            self.narrow(a, at, at + 1).expand(&shape)
        };
        Tensor::cat(&[&edge(0, before), self, &edge(len - 1, after)], a as isize)
    }

    /// The lower triangle of the last two axes: elements with `col - row <= k`, zeros
    /// elsewhere (numpy's `tril`; `k > 0` keeps diagonals above the main one).
    #[track_caller]
    pub fn tril(&self, k: isize) -> Tensor {
        let _op = user_op("tril");
        self.triangle(k, true)
    }

    /// The upper triangle of the last two axes: elements with `col - row >= k`, zeros
    /// elsewhere (numpy's `triu`).
    #[track_caller]
    pub fn triu(&self, k: isize) -> Tensor {
        let _op = user_op("triu");
        self.triangle(k, false)
    }

    #[track_caller]
    fn triangle(&self, k: isize, lower: bool) -> Tensor {
        let nd = self.ndim();
        assert!(
            nd >= 2,
            "{}: needs at least 2 axes, got shape {:?}",
            reported(if lower { "tril" } else { "triu" }),
            self.shape()
        );
        let (rows, cols) = (self.shape()[nd - 2], self.shape()[nd - 1]);
        let dev = self.device();
        // col - row - k, computed in i32 from the indices inside the kernel.
        let r = Tensor::arange_on(0.0, rows as f64, 1.0, DType::I32, dev).reshape_usize(&[rows, 1]);
        let c = Tensor::arange_on(0.0, cols as f64, 1.0, DType::I32, dev).reshape_usize(&[1, cols]);
        let diff = c
            .sub(&r)
            .sub(&Tensor::full_on(&[], k as f64, DType::I32, dev));
        let zero = diff.scalar_like(0.0);
        let keep = if lower {
            diff.le(&zero)
        } else {
            diff.ge(&zero)
        };
        keep.where_(self, &self.scalar_like(0.0))
    }
}

/// Python's `slice(start, end, step).indices(len)`: the first index and the element count.
fn slice_range(len: isize, start: isize, end: isize, step: isize) -> (usize, usize) {
    let (lower, upper) = if step > 0 { (0, len) } else { (-1, len - 1) };
    let clamp = |i: isize| {
        if i < 0 {
            i.saturating_add(len).max(lower)
        } else {
            i.min(upper)
        }
    };
    let (s, e) = (clamp(start), clamp(end));
    let count = if step > 0 {
        if e > s {
            (e - s - 1) / step + 1
        } else {
            0
        }
    } else if s > e {
        (s - e - 1) / (-step) + 1
    } else {
        0
    };
    (s.max(0) as usize, count as usize)
}

#[cfg(test)]
mod tests {
    use super::slice_range;

    #[test]
    fn slice_range_matches_python() {
        // (len, start, end, step) → Python's list(range(*slice(start, end, step).indices(len)))
        let cases: &[(isize, isize, isize, isize, &[isize])] = &[
            (10, 0, 10, 1, &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]),
            (10, -2, 1, -3, &[8, 5, 2]),
            (10, 1, isize::MAX, 4, &[1, 5, 9]),
            (
                10,
                isize::MAX,
                isize::MIN,
                -1,
                &[9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
            ),
            (10, -100, 100, 3, &[0, 3, 6, 9]),
            (10, 5, 5, 1, &[]),
            (10, 5, 2, 1, &[]),
            (10, 2, 5, -1, &[]),
            (0, 0, 10, 1, &[]),
            (0, -1, isize::MIN, -1, &[]),
            (5, -1, -6, -2, &[4, 2, 0]),
        ];
        for &(len, start, end, step, want) in cases {
            let (first, count) = slice_range(len, start, end, step);
            let got: Vec<isize> = (0..count as isize)
                .map(|i| first as isize + i * step)
                .collect();
            assert_eq!(got, want, "slice({start}, {end}, {step}) of {len}");
        }
    }
}
