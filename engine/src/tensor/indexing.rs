//! Reading at computed positions: `gather` (numpy's `take_along_axis`), `index_select`
//! (numpy's `take` with a 1-D index) and `one_hot`. Every index passes a check
//! (`Op::CheckIndex`): one outside its axis makes the kernel flag it, and reading any value
//! computed from it returns `Error::IndexOutOfRange` naming the op and the index.

use crate::dtype::DType;
use crate::graph::Op;
use crate::ops::IndexOp;

use super::ops::{normalize_axis, reported, user_op};
use super::Tensor;

impl Tensor {
    /// The values of `self` along `axis` at the positions `index` holds (numpy's
    /// `take_along_axis`): `out[.., i, ..] = self[.., index[.., i, ..], ..]`. `index` is i32
    /// or u32 with `self`'s number of dimensions; the other axes broadcast against each
    /// other. A negative index counts from the end; one outside the axis makes reading the
    /// result an `Err`.
    ///
    /// ```
    /// use kiln_engine::{Device, Tensor};
    /// let cpu = Device::cpu();
    /// let x = Tensor::from_slice_on(&[10.0f32, 20.0, 30.0, 40.0], &[2, 2], &cpu)?;
    /// let i = Tensor::from_slice_on(&[1i32, 1, 0, -1], &[2, 2], &cpu)?;
    /// assert_eq!(x.gather(1, &i).to_vec::<f32>()?, vec![20.0, 20.0, 30.0, 40.0]);
    /// # Ok::<(), kiln_engine::Error>(())
    /// ```
    #[track_caller]
    pub fn gather(&self, axis: isize, index: &Tensor) -> Tensor {
        let _op = user_op("gather");
        let a = normalize_axis("gather", axis, self.shape());
        self.check_index_tensor("gather", index);
        assert_eq!(
            index.ndim(),
            self.ndim(),
            "{}: index of shape {:?} needs as many dimensions as the tensor's {:?}",
            reported("gather"),
            index.shape(),
            self.shape()
        );
        let mut out = vec![0; self.ndim()];
        for d in 0..self.ndim() {
            let (x, i) = (self.shape()[d], index.shape()[d]);
            out[d] = match (x, i) {
                _ if d == a => i,
                (x, i) if x == i || i == 1 => x,
                (1, i) => i,
                _ => panic!(
                    "{}: index of shape {:?} does not broadcast against the tensor's {:?} along axis {d} (only axis {a} may differ)",
                    reported("gather"),
                    index.shape(),
                    self.shape()
                ),
            };
        }
        let mut source_shape = out.clone();
        source_shape[a] = self.shape()[a];
        self.gather_node(
            IndexOp::Gather,
            a,
            &self.expand(&source_shape),
            &index.expand(&out),
        )
    }

    /// The slices of `self` along `axis` at the positions of the 1-D `index` (numpy's `take`
    /// with an axis, torch's `index_select`): an embedding lookup is
    /// `table.index_select(0, &tokens)`. A negative index counts from the end; one outside
    /// the axis makes reading the result an `Err`.
    ///
    /// ```
    /// use kiln_engine::{Device, Tensor};
    /// let cpu = Device::cpu();
    /// let table = Tensor::from_slice_on(&[0.0f32, 1.0, 10.0, 11.0, 20.0, 21.0], &[3, 2], &cpu)?;
    /// let rows = Tensor::from_slice_on(&[2i32, 0, 2], &[3], &cpu)?;
    /// assert_eq!(table.index_select(0, &rows).to_vec::<f32>()?, vec![20.0, 21.0, 0.0, 1.0, 20.0, 21.0]);
    /// # Ok::<(), kiln_engine::Error>(())
    /// ```
    #[track_caller]
    pub fn index_select(&self, axis: isize, index: &Tensor) -> Tensor {
        let _op = user_op("index_select");
        let a = normalize_axis("index_select", axis, self.shape());
        self.check_index_tensor("index_select", index);
        assert_eq!(
            index.ndim(),
            1,
            "{}: index of shape {:?} must be 1-D",
            reported("index_select"),
            index.shape()
        );
        let mut along = vec![1; self.ndim()];
        along[a] = index.numel();
        let mut out = self.shape().to_vec();
        out[a] = index.numel();
        let positions = index.reshape_usize(&along).expand(&out);
        self.gather_node(IndexOp::IndexSelect, a, self, &positions)
    }

    /// One-hot rows: `out[.., c] = (self[..] == c)` as i32, over `num_classes` classes (the
    /// result has one more axis, last). `self` is i32 or u32; a class outside
    /// `0..num_classes` makes reading the result an `Err`.
    ///
    /// ```
    /// use kiln_engine::{Device, Tensor};
    /// let labels = Tensor::from_slice_on(&[2i32, 0], &[2], &Device::cpu())?;
    /// assert_eq!(labels.one_hot(3).to_vec::<i32>()?, vec![0, 0, 1, 1, 0, 0]);
    /// # Ok::<(), kiln_engine::Error>(())
    /// ```
    #[track_caller]
    pub fn one_hot(&self, num_classes: usize) -> Tensor {
        let _op = user_op("one_hot");
        self.check_index_tensor("one_hot", self);
        assert!(
            num_classes > 0 && num_classes <= i32::MAX as usize,
            "{}: num_classes {num_classes} must be in 1..=2^31-1",
            reported("one_hot")
        );
        let class = self.checked_positions(IndexOp::OneHot, num_classes);
        let mut out = self.shape().to_vec();
        out.push(num_classes);
        let mut along = vec![1; self.ndim()];
        along.push(num_classes);
        let classes = Tensor::arange_on(0.0, num_classes as f64, 1.0, DType::I32, self.device())
            .reshape_usize(&along);
        class
            .unsqueeze(-1)
            .expand(&out)
            .eq(&classes.expand(&out))
            .cast(DType::I32)
    }

    /// Panics unless `index` is an i32 or u32 tensor on `self`'s device.
    #[track_caller]
    pub(super) fn check_index_tensor(&self, op: &str, index: &Tensor) {
        assert!(
            matches!(index.dtype(), DType::I32 | DType::U32),
            "{}: index tensors are i32 or u32, not {}",
            reported(op),
            index.dtype()
        );
        self.assert_same_device(op, index);
    }

    /// `self` (i32 or u32 indices) checked against an axis of `len`: i32 positions.
    pub(super) fn checked_positions(&self, op: IndexOp, len: usize) -> Tensor {
        self.node_of(
            Op::CheckIndex { len, op },
            vec![self],
            DType::I32,
            self.shape().to_vec(),
        )
    }

    /// `source` read along `axis` at the checked `positions` (of the result's shape;
    /// `source` has it too but along `axis`).
    pub(super) fn gather_node(
        &self,
        op: IndexOp,
        axis: usize,
        source: &Tensor,
        positions: &Tensor,
    ) -> Tensor {
        let len = source.shape()[axis];
        let pos = positions.checked_positions(op, len);
        // Nothing to read on an empty axis: every index fails its check, and the load reads
        // one padded zero instead of an empty buffer.
        let source = match len == 0 && positions.numel() > 0 {
            true => {
                let mut pad = vec![(0, 0); source.ndim()];
                pad[axis] = (0, 1);
                source.pad(&pad)
            }
            false => source.clone(),
        };
        self.node_of(
            Op::Gather(axis),
            vec![&source, &pos],
            self.dtype(),
            positions.shape().to_vec(),
        )
    }
}
