//! Scans: `cumsum`, `cumprod`, `cummax`. A row of up to `SCAN_CHUNK` elements is one kernel
//! whose lanes each walk a row in order; a longer row is reduce-then-scan: the totals of its
//! chunks (a reduction), their scan (the same, recursively), and a scan of every chunk
//! that starts from the totals before it. O(n) work, about three passes over the data, and
//! no lane waits on another (no forward-progress guarantee is needed, as WebGPU and
//! lavapipe give none).

use super::slicing::PadMode;
use crate::dtype::DType;
use crate::graph::Op;
use crate::ops::ReduceOp;

use super::ops::{normalize_axis, user_op};
use super::Tensor;

/// The longest row one lane walks: longer rows are cut into chunks of this many.
const SCAN_CHUNK: usize = 1024;

impl Tensor {
    /// The running sum along `axis` (numpy's `cumsum`): integers stay integers (u8 and i8
    /// sum as u32 and i32), bools sum as i32, f16 and bf16 add in f32.
    ///
    /// ```
    /// use kiln_engine::{Device, Tensor};
    /// let x = Tensor::from_slice_on(&[1i32, 2, 3, 4, 5, 6], &[2, 3], &Device::cpu())?;
    /// assert_eq!(x.cumsum(1).to_vec::<i32>()?, vec![1, 3, 6, 4, 9, 15]);
    /// # Ok::<(), kiln_engine::Error>(())
    /// ```
    #[track_caller]
    pub fn cumsum(&self, axis: isize) -> Tensor {
        let _op = user_op("cumsum");
        self.scan("cumsum", ReduceOp::Sum, axis)
    }

    /// The running product along `axis` (numpy's `cumprod`), with `cumsum`'s dtypes.
    #[track_caller]
    pub fn cumprod(&self, axis: isize) -> Tensor {
        let _op = user_op("cumprod");
        self.scan("cumprod", ReduceOp::Prod, axis)
    }

    /// The running maximum along `axis` (numpy's `maximum.accumulate`: a NaN stays the
    /// maximum from where it appears). Keeps the dtype.
    #[track_caller]
    pub fn cummax(&self, axis: isize) -> Tensor {
        let _op = user_op("cummax");
        self.scan("cummax", ReduceOp::Max, axis)
    }

    #[track_caller]
    fn scan(&self, name: &str, op: ReduceOp, axis: isize) -> Tensor {
        let a = normalize_axis(name, axis, self.shape());
        let d = self.dtype();
        match (op, d) {
            (ReduceOp::Sum | ReduceOp::Prod, DType::Bool) => {
                self.cast(DType::I32).scan_along(op, a)
            }
            (ReduceOp::Sum | ReduceOp::Prod, DType::U8 | DType::I8) => {
                self.cast(d.register()).scan_along(op, a)
            }
            (_, DType::F16 | DType::BF16 | DType::U8 | DType::I8 | DType::Bool) => {
                self.cast(d.register()).scan_along(op, a).cast(d)
            }
            _ => self.scan_along(op, a),
        }
    }

    /// The inclusive scan along axis `a` (dtype already one a register holds).
    fn scan_along(&self, op: ReduceOp, a: usize) -> Tensor {
        let len = self.shape()[a];
        if len <= SCAN_CHUNK {
            return self.scan_node(op, a, None);
        }
        let chunks = len.div_ceil(SCAN_CHUNK);
        let identity = op.identity(self.dtype()).to_f64();
        let mut pad = vec![(0, 0); self.ndim()];
        pad[a] = (0, chunks * SCAN_CHUNK - len);
        let mut split = self.shape().to_vec();
        split.splice(a..=a, [chunks, SCAN_CHUNK]);
        let x = self
            .pad_with(&pad, PadMode::Constant(identity))
            .reshape_usize(&split);
        // Each chunk starts from the fold of every chunk before it.
        let totals = x.reduce(op, "scan", &[a as isize + 1], true);
        let running = totals.scan_along(op, a);
        let mut shift = vec![(0, 0); running.ndim()];
        shift[a] = (1, 0);
        let before = running
            .pad_with(&shift, PadMode::Constant(identity))
            .first(a, chunks);
        let out = x.scan_node(op, a + 1, Some(&before));
        let mut whole = self.shape().to_vec();
        whole[a] = chunks * SCAN_CHUNK;
        out.reshape_usize(&whole).first(a, len)
    }

    /// The first `n` elements along axis `a` (a view).
    fn first(&self, a: usize, n: usize) -> Tensor {
        let mut bounds: Vec<(usize, usize)> = self.shape().iter().map(|&d| (0, d)).collect();
        bounds[a] = (0, n);
        self.shrink(&bounds)
    }

    fn scan_node(&self, op: ReduceOp, axis: usize, init: Option<&Tensor>) -> Tensor {
        let srcs: Vec<&Tensor> = std::iter::once(self).chain(init).collect();
        self.node_of(
            Op::Scan(op, axis),
            srcs,
            self.dtype(),
            self.shape().to_vec(),
        )
    }
}
