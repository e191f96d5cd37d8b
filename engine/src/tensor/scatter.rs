//! Writing at computed positions: `scatter` (torch's; where indices repeat, the last in index
//! order wins) and `scatter_add` (numpy's `add.at` along an axis). Both lower to a scatter
//! kernel (`Op::Scatter`) whose lanes walk the index and fold into their positions with
//! device atomics, then one elementwise kernel that combines the result with `self`:
//! - `scatter` folds each index element's 1-based order along the axis with an atomic max,
//!   so each position holds its last writer whichever lane ran first (deterministic on every
//!   device), and the second kernel gathers that writer's value from `src`;
//! - `scatter_add` sums `src` into zeros (f32 for floats, i32 or u32 for integers) and adds
//!   `self`; float sums are in the order the lanes meet, so they may differ in the last bits
//!   between devices and runs, as on every GPU library.

use crate::dtype::DType;
use crate::graph::Op;
use crate::ops::{IndexOp, ReduceOp};

use super::ops::{normalize_axis, reported, user_op};
use super::Tensor;

impl Tensor {
    /// `self` with `src`'s values written along `axis` at the positions `index` holds
    /// (torch's `scatter`): for `axis = 1`, `out[i][index[i][j]] = src[i][j]`. `index` (i32
    /// or u32) has `self`'s number of dimensions and no axis longer than `src`'s, nor than
    /// `self`'s except along `axis`; `src` has `self`'s dtype. Where indices repeat, the
    /// last in index order wins, on every device. A negative index counts from the end; one
    /// outside the axis makes reading the result an `Err`.
    ///
    /// ```
    /// use kiln_engine::{Device, Tensor};
    /// let cpu = Device::cpu();
    /// let x = Tensor::zeros_on(&[4], kiln_engine::DType::F32, &cpu);
    /// let i = Tensor::from_slice_on(&[3i32, 0, 3], &[3], &cpu)?;
    /// let src = Tensor::from_slice_on(&[1.0f32, 2.0, 3.0], &[3], &cpu)?;
    /// assert_eq!(x.scatter(0, &i, &src).to_vec::<f32>()?, vec![2.0, 0.0, 0.0, 3.0]);
    /// # Ok::<(), kiln_engine::Error>(())
    /// ```
    #[track_caller]
    pub fn scatter(&self, axis: isize, index: &Tensor, src: &Tensor) -> Tensor {
        let _op = user_op("scatter");
        let a = self.check_scatter("scatter", axis, index, src);
        if index.numel() == 0 {
            return self.clone();
        }
        let n = index.shape()[a];
        let mut along = vec![1; self.ndim()];
        along[a] = n;
        let order = Tensor::arange_on(1.0, n as f64 + 1.0, 1.0, DType::I32, self.device())
            .cast(DType::U32)
            .reshape_usize(&along)
            .expand(index.shape());
        let winner = self.scatter_node(IndexOp::Scatter, ReduceOp::Max, a, index, &order);
        let written = winner.gt(&winner.scalar_like(0.0));
        let one = winner.scalar_like(1.0);
        let at = written
            .where_(&winner.sub(&one), &winner.scalar_like(0.0))
            .cast(DType::I32);
        // `src`'s part that the index covers, padded to `self`'s shape off the axis: the
        // winner's value is read from it at the winner's position.
        let mut source = src.corner(index.shape());
        let mut pad = vec![(0, 0); self.ndim()];
        for (d, p) in pad.iter_mut().enumerate().filter(|&(d, _)| d != a) {
            p.1 = self.shape()[d] - index.shape()[d];
        }
        source = source.pad(&pad);
        let picked = self.gather_node(IndexOp::Scatter, a, &source, &at);
        written.where_(&picked, self)
    }

    /// `self` with `src`'s values added along `axis` at the positions `index` holds, every
    /// repeat of an index adding again (numpy's `add.at` along an axis, torch's
    /// `scatter_add`). Shapes and indices as [`Tensor::scatter`]. Floats sum in f32 (in the
    /// order the device's lanes meet), integers in 32 bits, bools as `or`.
    ///
    /// ```
    /// use kiln_engine::{Device, Tensor};
    /// let cpu = Device::cpu();
    /// let counts = Tensor::zeros_on(&[3], kiln_engine::DType::I32, &cpu);
    /// let bins = Tensor::from_slice_on(&[2i32, 0, 2, 2], &[4], &cpu)?;
    /// let ones = Tensor::ones_on(&[4], kiln_engine::DType::I32, &cpu);
    /// assert_eq!(counts.scatter_add(0, &bins, &ones).to_vec::<i32>()?, vec![1, 0, 3]);
    /// # Ok::<(), kiln_engine::Error>(())
    /// ```
    #[track_caller]
    pub fn scatter_add(&self, axis: isize, index: &Tensor, src: &Tensor) -> Tensor {
        let _op = user_op("scatter_add");
        let a = self.check_scatter("scatter_add", axis, index, src);
        if index.numel() == 0 {
            return self.clone();
        }
        let sum_dtype = match self.dtype() {
            d if d.is_float() => DType::F32,
            DType::U32 | DType::U8 => DType::U32,
            _ => DType::I32,
        };
        let values = src.corner(index.shape()).cast(sum_dtype);
        let sums = self.scatter_node(IndexOp::ScatterAdd, ReduceOp::Sum, a, index, &values);
        self.cast(sum_dtype).add(&sums).cast(self.dtype())
    }

    /// Panics unless `index` and `src` fit `self` as a scatter along `axis` requires;
    /// returns the axis.
    #[track_caller]
    fn check_scatter(&self, op: &str, axis: isize, index: &Tensor, src: &Tensor) -> usize {
        let a = normalize_axis(op, axis, self.shape());
        self.check_index_tensor(op, index);
        self.assert_same_device(op, src);
        assert_eq!(
            src.dtype(),
            self.dtype(),
            "{}: src is {} but the tensor is {}",
            reported(op),
            src.dtype(),
            self.dtype()
        );
        let fits = index.ndim() == self.ndim()
            && src.ndim() == self.ndim()
            && (0..self.ndim()).all(|d| {
                index.shape()[d] <= src.shape()[d]
                    && (d == a || index.shape()[d] <= self.shape()[d])
            });
        assert!(
            fits,
            "{}: index of shape {:?} must have the tensor's {} dimensions and no axis longer than src's {:?}, nor than the tensor's {:?} except along axis {a}",
            reported(op),
            index.shape(),
            self.ndim(),
            src.shape(),
            self.shape()
        );
        assert!(
            self.shape()[a] > 0 || index.numel() == 0,
            "{}: axis {a} of shape {:?} is empty, and index of shape {:?} writes into it",
            reported(op),
            self.shape(),
            index.shape()
        );
        a
    }

    /// `values` (of `index`'s shape) folded with `op` into zeros of `self`'s shape at the
    /// checked positions of `index` along `axis`.
    pub(super) fn scatter_node(
        &self,
        check: IndexOp,
        op: ReduceOp,
        axis: usize,
        index: &Tensor,
        values: &Tensor,
    ) -> Tensor {
        let pos = index.checked_positions(check, self.shape()[axis]);
        self.node_of(
            Op::Scatter(op, axis),
            vec![&pos, values],
            values.dtype(),
            self.shape().to_vec(),
        )
    }

    /// The leading `shape` of every axis (a view).
    pub(super) fn corner(&self, shape: &[usize]) -> Tensor {
        if shape == self.shape() {
            return self.clone();
        }
        let bounds: Vec<(usize, usize)> = shape.iter().map(|&d| (0, d)).collect();
        self.shrink(&bounds)
    }
}
