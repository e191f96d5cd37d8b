//! Movement ops: zero-copy views (reshape, permute, expand, pad, shrink, flip) and the
//! composites built on them.

use crate::dtype::DType;
use crate::graph::Op;
use crate::view::Movement;

use super::ops::{broadcast_shape, checked_numel, normalize_axes, normalize_axis};
use super::ops::{reported, user_op};
use super::Tensor;

impl Tensor {
    #[track_caller]
    pub(super) fn movement(&self, mv: Movement) -> Tensor {
        let shape = mv.out_shape(self.shape());
        checked_numel(mv.name(), &shape);
        if shape == self.shape() && !matches!(mv, Movement::Flip(_) | Movement::Permute(_)) {
            return self.clone();
        }
        if let Movement::Reshape(_) = mv {
            // reshape(reshape(x)) = reshape(x): keeps graphs small and hash-consing effective.
            if let Op::Movement(Movement::Reshape(_)) = self.node.op {
                if !self.is_realized() {
                    return Tensor {
                        node: self.node.src(0),
                    }
                    .movement(Movement::Reshape(shape));
                }
            }
        }
        if let Some(s) = self.node.op.const_value() {
            if !matches!(mv, Movement::Pad(_)) {
                return Tensor::constant(s, &shape, self.device());
            }
        }
        self.node_of(Op::Movement(mv), vec![self], self.dtype(), shape)
    }

    #[track_caller]
    pub(super) fn reshape_usize(&self, shape: &[usize]) -> Tensor {
        let n: usize = shape.iter().product();
        assert_eq!(
            n,
            self.numel(),
            "reshape: cannot reshape {:?} ({} elements) to {shape:?}",
            self.shape(),
            self.numel()
        );
        self.movement(Movement::Reshape(shape.to_vec()))
    }

    /// Reshape; one dimension may be -1 and is inferred.
    #[track_caller]
    pub fn reshape(&self, shape: &[isize]) -> Tensor {
        // Panics stay in this body (not in a closure) so that they report the caller's line.
        let msg = || {
            format!(
                "{}: cannot reshape {:?} ({} elements) to {shape:?}",
                reported("reshape"),
                self.shape(),
                self.numel()
            )
        };
        let infer: Vec<usize> = shape
            .iter()
            .enumerate()
            .filter(|(_, &d)| d == -1)
            .map(|(i, _)| i)
            .collect();
        if infer.len() > 1 || shape.iter().any(|&d| d < -1) {
            panic!("{}", msg());
        }
        let known: usize = shape
            .iter()
            .filter(|&&d| d >= 0)
            .map(|&d| d as usize)
            .product();
        let mut out: Vec<usize> = shape.iter().map(|&d| d.max(0) as usize).collect();
        if let Some(&i) = infer.first() {
            if known == 0 || !self.numel().is_multiple_of(known) {
                panic!("{}", msg());
            }
            out[i] = self.numel() / known;
        }
        if out.iter().product::<usize>() != self.numel() {
            panic!("{}", msg());
        }
        self.reshape_usize(&out)
    }

    /// Reorders axes: result axis `i` is source axis `order[i]` (negative axes count from
    /// the end).
    #[track_caller]
    pub fn permute(&self, order: &[isize]) -> Tensor {
        let n = self.ndim() as isize;
        let axis = |a: isize| if a < 0 { a + n } else { a };
        let mut seen = vec![false; self.ndim()];
        let ok = order.len() == self.ndim()
            && order.iter().all(|&a| {
                (0..n).contains(&axis(a)) && !std::mem::replace(&mut seen[axis(a) as usize], true)
            });
        assert!(
            ok,
            "{}: {order:?} is not a permutation of the axes of shape {:?}",
            reported("permute"),
            self.shape()
        );
        let order: Vec<usize> = order.iter().map(|&a| axis(a) as usize).collect();
        if order.iter().enumerate().all(|(i, &a)| i == a) {
            return self.clone();
        }
        self.movement(Movement::Permute(order.to_vec()))
    }

    /// Swaps two axes (negative axes count from the end).
    #[track_caller]
    pub fn transpose(&self, a: isize, b: isize) -> Tensor {
        let _op = user_op("transpose");
        let (a, b) = (
            normalize_axis("transpose", a, self.shape()),
            normalize_axis("transpose", b, self.shape()),
        );
        let mut order: Vec<isize> = (0..self.ndim() as isize).collect();
        order.swap(a, b);
        self.permute(&order)
    }

    /// Broadcasts size-1 axes to `shape` (numpy's `broadcast_to`; leading axes may be added).
    #[track_caller]
    pub fn expand(&self, shape: &[usize]) -> Tensor {
        let fail = || -> ! {
            panic!(
                "{}: cannot broadcast {:?} to {shape:?}",
                reported("expand"),
                self.shape()
            )
        };
        if shape.len() < self.ndim() {
            fail();
        }
        let mut padded = vec![1; shape.len() - self.ndim()];
        padded.extend_from_slice(self.shape());
        if padded.iter().zip(shape).any(|(&s, &d)| s != d && s != 1) {
            fail();
        }
        self.reshape_usize(&padded)
            .movement(Movement::Expand(shape.to_vec()))
    }

    /// Zero padding: (before, after) per axis.
    #[track_caller]
    pub fn pad(&self, padding: &[(usize, usize)]) -> Tensor {
        assert_eq!(
            padding.len(),
            self.ndim(),
            "{}: {} (before, after) pairs for shape {:?}",
            reported("pad"),
            padding.len(),
            self.shape()
        );
        for (&(b, a), &d) in padding.iter().zip(self.shape()) {
            assert!(
                d.checked_add(b).and_then(|x| x.checked_add(a)).is_some(),
                "{}: padding {padding:?} of shape {:?} gives an axis longer than usize::MAX",
                reported("pad"),
                self.shape()
            );
        }
        if padding.iter().all(|&(b, a)| b == 0 && a == 0) {
            return self.clone();
        }
        self.movement(Movement::Pad(padding.to_vec()))
    }

    /// Keeps `start..end` of each axis.
    #[track_caller]
    pub fn shrink(&self, bounds: &[(usize, usize)]) -> Tensor {
        let ok = bounds.len() == self.ndim()
            && bounds
                .iter()
                .zip(self.shape())
                .all(|(&(s, e), &d)| s <= e && e <= d);
        assert!(
            ok,
            "{}: bounds {bounds:?} do not fit shape {:?}",
            reported("shrink"),
            self.shape()
        );
        self.movement(Movement::Shrink(bounds.to_vec()))
    }

    /// Reverses the given axes (negative axes count from the end).
    #[track_caller]
    pub fn flip(&self, axes: &[isize]) -> Tensor {
        let mut f = vec![false; self.ndim()];
        for a in normalize_axes("flip", axes, self.shape()) {
            f[a] = true;
        }
        if !f.iter().any(|&x| x) {
            return self.clone();
        }
        self.movement(Movement::Flip(f))
    }

    /// A tensor whose value is materialized in its own contiguous buffer when realized.
    #[track_caller]
    pub fn contiguous(&self) -> Tensor {
        if self.is_realized() {
            return self.clone();
        }
        self.node_of(
            Op::Contiguous,
            vec![self],
            self.dtype(),
            self.shape().to_vec(),
        )
    }

    /// Matrix product with numpy semantics (1-D operands, batches with broadcasting), composed
    /// as a broadcast multiply and a sum so elementwise epilogues fuse into the same kernel.
    ///
    /// ```
    /// use kiln_engine::{Device, Tensor};
    /// let dev = Device::cpu();
    /// let a = Tensor::from_slice_on(&[1.0f32, 2.0, 3.0, 4.0], &[2, 2], &dev)?;
    /// let b = Tensor::from_slice_on(&[1.0f32, -1.0], &[2], &dev)?;
    /// let before = kiln_engine::stats().kernels_launched;
    /// let y = a.matmul(&b).relu(); // the relu fuses into the matmul's kernel
    /// assert_eq!(y.to_vec::<f32>()?, vec![0.0, 0.0]);
    /// assert_eq!(kiln_engine::stats().kernels_launched - before, 1);
    /// # Ok::<(), kiln_engine::Error>(())
    /// ```
    #[track_caller]
    pub fn matmul(&self, other: &Tensor) -> Tensor {
        let _op = user_op("matmul");
        self.assert_same_device("matmul", other);
        assert!(
            self.ndim() >= 1 && other.ndim() >= 1,
            "matmul: operands must have at least 1 dim, got {:?} and {:?}",
            self.shape(),
            other.shape()
        );
        let a = if self.ndim() == 1 {
            self.reshape_usize(&[1, self.numel()])
        } else {
            self.clone()
        };
        let b = if other.ndim() == 1 {
            other.reshape_usize(&[other.numel(), 1])
        } else {
            other.clone()
        };
        let (m, k) = (a.shape()[a.ndim() - 2], a.shape()[a.ndim() - 1]);
        let (k2, n) = (b.shape()[b.ndim() - 2], b.shape()[b.ndim() - 1]);
        assert_eq!(
            k,
            k2,
            "matmul: {:?} @ {:?}: inner dimensions {k} and {k2} differ",
            self.shape(),
            other.shape()
        );
        let batch = broadcast_shape(
            "matmul",
            &a.shape()[..a.ndim() - 2],
            &b.shape()[..b.ndim() - 2],
            a.dtype(),
            b.dtype(),
        );
        if let d @ (DType::F16 | DType::BF16) = DType::promote(a.dtype(), b.dtype()) {
            // Products and their sum in f32, rounded once (f32 accumulation).
            return self
                .cast(DType::F32)
                .matmul(&other.cast(DType::F32))
                .cast(d);
        }
        let mut full = batch.clone();
        full.extend([m, n, k]);
        let mut a_src = vec![1; batch.len() + 2 - a.ndim()];
        a_src.extend_from_slice(a.shape());
        let a3 = a.reshape_usize(&a_src);
        let mut a4 = a3.shape()[..batch.len()].to_vec();
        a4.extend([m, 1, k]);
        let a_b = a3.reshape_usize(&a4).expand(&full);
        let bt = b.transpose(-1, -2);
        let mut b_src = vec![1; batch.len() + 2 - bt.ndim()];
        b_src.extend_from_slice(bt.shape());
        let b3 = bt.reshape_usize(&b_src);
        let mut b4 = b3.shape()[..batch.len()].to_vec();
        b4.extend([1, n, k]);
        let b_b = b3.reshape_usize(&b4).expand(&full);
        let out = a_b.mul(&b_b).sum(&[-1]);
        let mut shape = batch;
        if self.ndim() > 1 {
            shape.push(m);
        }
        if other.ndim() > 1 {
            shape.push(n);
        }
        out.reshape_usize(&shape)
    }
}
