//! Sorting and what is read from a sorted axis: `sort`, `argsort`, `topk`, `median`,
//! `quantile`. A bitonic network over the axis padded to a power of two: each stage is one
//! elementwise kernel that compare-exchanges every element with its partner (a view), so the
//! sort is a fixed sequence of log2(n)·(log2(n)+1)/2 kernels that the scheduler, the opts and
//! `DEBUG` see like any other. Stable: ties keep their index order, compared as a second key.
//! Axes of 2048 or more sort by radix instead (`radix_sort.rs`: 8 passes of a few kernels
//! each, for any length). `median` and `quantile` of long axes need two ranks, not the
//! order: they select them by radix (`select.rs`).

use crate::dtype::DType;

use super::ops::{normalize_axis, reported, user_op};
use super::Tensor;

impl Tensor {
    /// The values along `axis` in order, and the i32 index each came from (numpy's `sort` and
    /// `argsort` with `kind="stable"`: equal values keep their order). NaN counts as the
    /// largest value: last when ascending, first when `descending` (as torch).
    ///
    /// ```
    /// use kiln_engine::{Device, Tensor};
    /// let x = Tensor::from_slice_on(&[3.0f32, f32::NAN, 1.0, 3.0], &[4], &Device::cpu())?;
    /// let (values, indices) = x.sort(0, false);
    /// assert_eq!(indices.to_vec::<i32>()?, vec![2, 0, 3, 1]);
    /// assert_eq!(values.to_vec::<f32>()?[..3], [1.0, 3.0, 3.0]);
    /// # Ok::<(), kiln_engine::Error>(())
    /// ```
    #[track_caller]
    pub fn sort(&self, axis: isize, descending: bool) -> (Tensor, Tensor) {
        let _op = user_op("sort");
        let a = normalize_axis("sort", axis, self.shape());
        let n = self.shape()[a];
        assert!(
            n <= i32::MAX as usize / 2,
            "{}: axis {a} of shape {:?} is longer than an i32 index reaches",
            reported("sort"),
            self.shape()
        );
        // The axis last, the network along it, then the axes back.
        let last = self.ndim() - 1;
        let x = self.transpose(a as isize, last as isize);
        let (values, indices) = match n >= super::radix_sort::RADIX_FROM {
            true => {
                let indices = x.radix_argsort(descending);
                (x.gather(last as isize, &indices), indices)
            }
            false => bitonic(&x, n, descending),
        };
        (
            values.transpose(a as isize, last as isize),
            indices.transpose(a as isize, last as isize),
        )
    }

    /// The i32 indices that sort `axis` (the second half of [`Tensor::sort`]).
    #[track_caller]
    pub fn argsort(&self, axis: isize, descending: bool) -> Tensor {
        let _op = user_op("argsort");
        self.sort(axis, descending).1
    }

    /// The `k` largest values along `axis`, largest first, and their i32 indices (torch's
    /// `topk`; ties in index order, NaN the largest).
    #[track_caller]
    pub fn topk(&self, k: usize, axis: isize) -> (Tensor, Tensor) {
        let _op = user_op("topk");
        let a = normalize_axis("topk", axis, self.shape());
        assert!(
            k <= self.shape()[a],
            "{}: k = {k} is more than axis {a} of shape {:?} holds",
            reported("topk"),
            self.shape()
        );
        let (v, i) = self.sort(a as isize, true);
        (v.narrow(a, 0, k), i.narrow(a, 0, k))
    }

    /// The median along `axis` (numpy's: the mean of the two middle values for an even
    /// length; NaN where the axis holds one); f32 for integers.
    #[track_caller]
    pub fn median(&self, axis: isize) -> Tensor {
        let _op = user_op("median");
        self.quantile_impl("median", 0.5, axis)
    }

    /// The `q`-th quantile along `axis`, `q` in [0, 1] (numpy's default `linear` method: the
    /// value at position `q·(n-1)` of the sorted axis, interpolated between its neighbours;
    /// NaN where the axis holds one); f32 for integers. A position that is an exact rank
    /// gives that value, also an infinite one (numpy's arithmetic makes it NaN). Axes of
    /// 2048 or more select the two ranks by radix (four passes over the data), shorter
    /// ones sort.
    #[track_caller]
    pub fn quantile(&self, q: f64, axis: isize) -> Tensor {
        let _op = user_op("quantile");
        self.quantile_impl("quantile", q, axis)
    }

    #[track_caller]
    fn quantile_impl(&self, name: &str, q: f64, axis: isize) -> Tensor {
        assert!(
            (0.0..=1.0).contains(&q),
            "{}: q = {q} is outside [0, 1]",
            reported(name)
        );
        let a = normalize_axis(name, axis, self.shape());
        let n = self.shape()[a];
        assert!(
            n > 0,
            "{}: axis {a} of shape {:?} is empty, and nothing has a {name}",
            reported(name),
            self.shape()
        );
        self.in_f32(|x| {
            let pos = q * (n - 1) as f64;
            let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
            let t = pos - lo as f64;
            let (below, above) = x.values_at_ranks(a, lo, hi);
            // numpy's `_lerp`: from the nearer end, so that t = 1 gives `above` exactly.
            let diff = above.sub(&below);
            // An exact rank is that value (numpy's arithmetic makes an infinite one NaN).
            let v = if lo == hi {
                below
            } else if t >= 0.5 {
                above.sub(&diff.mul_scalar(1.0 - t))
            } else {
                below.add(&diff.mul_scalar(t))
            };
            let nan = x.isnan().any(&[a as isize]);
            nan.where_(&v.scalar_like(f64::NAN), &v)
        })
    }

    /// The values of ascending ranks `lo` and `hi` along axis `a` of f32 `self` (the axis
    /// removed): by radix select on long axes, from the sorted axis on short ones.
    fn values_at_ranks(&self, a: usize, lo: usize, hi: usize) -> (Tensor, Tensor) {
        if self.shape()[a] >= super::select::SELECT_FROM {
            let x = self.transpose(a as isize, self.ndim() as isize - 1);
            return match lo == hi {
                true => {
                    let v = x.select_rank(lo);
                    (v.clone(), v)
                }
                false => x.select_rank_and_next(lo),
            };
        }
        let sorted = self.sort(a as isize, false).0;
        let at = |i: usize| sorted.narrow(a, i, i + 1).squeeze(a as isize);
        (at(lo), at(hi))
    }
}

/// Bits above an element's index in the network's index word: its class (0 and 1 for values
/// and NaNs in their order, 2 for pads), so that ties of the compared value break by class,
/// then by position.
const CLASS_SHIFT: u32 = 29;

/// Network stages fused into one kernel: each output then reads 2^s pairs (mostly from
/// cache), against 2 per stage materialized.
const STAGES_PER_KERNEL: usize = 2;

/// The bitonic network along the last axis of `x` (length `n`): values and i32 indices.
/// NaNs and pads take the value that sorts last (first for a descending NaN) and their class
/// in the index word, so each stage compares `(value, index word)` pairs only.
fn bitonic(x: &Tensor, n: usize, descending: bool) -> (Tensor, Tensor) {
    let nd = x.ndim();
    let dev = x.device();
    let index_row = |len: usize| {
        let mut shape = vec![1; nd];
        shape[nd - 1] = len;
        Tensor::arange_on(0.0, len as f64, 1.0, DType::I32, dev).reshape_usize(&shape)
    };
    let mut shape = x.shape().to_vec();
    if n <= 1 {
        return (x.clone(), index_row(n).expand(&shape));
    }
    let p = n.next_power_of_two();
    let float = x.dtype().is_float();
    let (highest, lowest) = (
        crate::ops::ReduceOp::Min.identity(x.dtype()).to_f64(),
        crate::ops::ReduceOp::Max.identity(x.dtype()).to_f64(),
    );
    let last_value = if descending { lowest } else { highest };
    let nan = x.isnan();
    let nan_class = if descending { 0.0 } else { 1.0 };
    let real_class = 1.0 - nan_class;
    let class = nan
        .where_(&x.full_like(nan_class), &x.full_like(real_class))
        .cast(DType::I32);
    let keyed = if float {
        nan.where_(&x.full_like(f64::INFINITY), x)
    } else {
        x.clone()
    };
    let mut pad = vec![(0, 0); nd];
    pad[nd - 1] = (0, p - n);
    let mut values = keyed.pad_with(&pad, super::slicing::PadMode::Constant(last_value));
    let class = class.pad_with(&pad, super::slicing::PadMode::Constant(2.0));
    shape[nd - 1] = p;
    let position = index_row(p);
    let class_word = class.mul(&class.scalar_like((1u32 << CLASS_SHIFT) as f64));
    let mut indices = position.expand(&shape).add(&class_word).contiguous();
    let mut k = 2;
    let mut fused = 0;
    while k <= p {
        let mut j = k / 2;
        while j >= 1 {
            // Position i's partner is i ^ j: a flip of the middle axis of (blocks, 2, j).
            let partner = |t: &Tensor| {
                let mut split = shape.clone();
                split.splice(nd - 1.., [p / (2 * j), 2, j]);
                t.reshape_usize(&split)
                    .flip(&[nd as isize])
                    .reshape_usize(&shape)
            };
            let (pv, pi) = (partner(&values), partner(&indices));
            // Position i keeps the earlier of (itself, its partner) where it is the lower of
            // the pair ((i & j) == 0) in an ascending block ((i & k) == 0), or the upper in a
            // descending one.
            let bit = |b: usize| {
                position
                    .bitwise_and(&position.scalar_like(b as f64))
                    .eq(&position.scalar_like(0.0))
            };
            let keep_first = bit(j).eq(&bit(k));
            let before = if descending {
                values.gt(&pv)
            } else {
                values.lt(&pv)
            };
            let self_first = before.logical_or(&values.eq(&pv).logical_and(&indices.lt(&pi)));
            let keep_self = self_first.eq(&keep_first);
            values = keep_self.where_(&values, &pv);
            indices = keep_self.where_(&indices, &pi);
            fused += 1;
            if fused == STAGES_PER_KERNEL || j == 1 {
                (values, indices) = (values.contiguous(), indices.contiguous());
                fused = 0;
            }
            j /= 2;
        }
        k *= 2;
    }
    let (values, words) = (values.narrow(nd - 1, 0, n), indices.narrow(nd - 1, 0, n));
    let class = words.shr(&words.scalar_like(CLASS_SHIFT as f64));
    let indices = words.bitwise_and(&words.scalar_like(((1u32 << CLASS_SHIFT) - 1) as f64));
    let values = if float {
        class
            .eq(&class.scalar_like(nan_class))
            .where_(&values.full_like(f64::NAN), &values)
    } else {
        values
    };
    (values, indices)
}
