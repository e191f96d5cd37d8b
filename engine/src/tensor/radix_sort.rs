//! Sorting long axes: a stable LSD radix sort of 32-bit keys, 4 bits a pass (8 passes), each
//! pass a fixed handful of kernels over the data:
//! - each element's digit, and per block of 16 elements the count of each digit (a sum);
//! - the digit-major running count over the blocks (a scan): where each block's run of each
//!   digit starts;
//! - each element's destination: its block's start for its digit plus the elements of that
//!   digit before it in the block;
//! - the keys and the indices stored at their destinations (scatter kernels: every position
//!   is written once).
//!
//! Floats sort by their order-preserving bits (`order_key`), integers by theirs; the values
//! are then read at the sorted indices, so every dtype comes back exactly.

use crate::dtype::DType;
use crate::ops::{BinaryOp, IndexOp, ReduceOp};

use super::ops::u32_const;
use super::slicing::PadMode;
use super::Tensor;

/// Axes at least this long sort by radix; shorter rows take the bitonic network, whose
/// log2(n)^2/2 stages cost less than 8 passes there (BENCHMARKS.md, "Scatter, select, radix
/// sort").
pub(super) const RADIX_FROM: usize = 1 << 11;

const DIGIT_BITS: u32 = 4;
const BINS: usize = 1 << DIGIT_BITS;
/// Elements per block: each element counts its digit's earlier elements in its block.
const BLOCK: usize = 16;

impl Tensor {
    /// The i32 indices that sort the last axis of `self` (ascending, or descending), stable;
    /// NaN counts as the largest value.
    pub(super) fn radix_argsort(&self, descending: bool) -> Tensor {
        let nd = self.ndim();
        let n = self.shape()[nd - 1];
        let rows: usize = self.shape()[..nd - 1].iter().product();
        let dev = self.device();
        let u32s = |v: u32| u32_const(v, dev);
        let mut key = self.sort_key().reshape_usize(&[rows, n]);
        if descending {
            key = key.binary(BinaryOp::Xor, &u32s(u32::MAX));
        }
        // Pads take the largest key: they stay after every element (the sort is stable).
        let padded = n.next_multiple_of(BLOCK);
        let blocks = padded / BLOCK;
        key = key.pad_with(
            &[(0, 0), (0, padded - n)],
            PadMode::Constant(u32::MAX as f64),
        );
        let shape = [rows, padded];
        let mut index = Tensor::arange_on(0.0, padded as f64, 1.0, DType::I32, dev)
            .reshape_usize(&[1, padded])
            .expand(&shape);
        let bin = Tensor::arange_on(0.0, BINS as f64, 1.0, DType::I32, dev);
        let slot = Tensor::arange_on(0.0, BLOCK as f64, 1.0, DType::I32, dev);
        // [t, t']: element t' of a block comes before element t.
        let earlier = slot
            .reshape_usize(&[1, BLOCK])
            .lt(&slot.reshape_usize(&[BLOCK, 1]));
        for pass in 0..32 / DIGIT_BITS {
            let digit = key
                .binary(BinaryOp::Shr, &u32s(pass * DIGIT_BITS))
                .binary(BinaryOp::And, &u32s(BINS as u32 - 1))
                .cast(DType::I32)
                .reshape_usize(&[rows, blocks, BLOCK]);
            let counts = digit
                .unsqueeze(2)
                .eq(&bin.reshape_usize(&[BINS, 1]))
                .cast(DType::I32)
                .sum(&[3]);
            let digit_major = counts.transpose(1, 2).reshape_usize(&[rows, BINS * blocks]);
            let starts = digit_major
                .cumsum(1)
                .sub(&digit_major)
                .reshape_usize(&[rows, BINS, blocks])
                .transpose(1, 2);
            let same = digit.unsqueeze(3).eq(&digit.unsqueeze(2));
            let before = same.logical_and(&earlier).cast(DType::I32).sum(&[3]);
            let destination = starts.gather(2, &digit).add(&before).reshape_usize(&shape);
            let place = |values: &Tensor| {
                Tensor::zeros_on(&shape, values.dtype(), dev).scatter_node(
                    IndexOp::Scatter,
                    ReduceOp::Sum,
                    1,
                    &destination,
                    values,
                )
            };
            (key, index) = (place(&key), place(&index));
        }
        let mut out = self.shape().to_vec();
        out[nd - 1] = n;
        index.narrow(1, 0, n).reshape_usize(&out)
    }

    /// u32 keys that order as `self` sorts ascending: a NaN (of any sign) the largest, both
    /// zeros equal.
    fn sort_key(&self) -> Tensor {
        let dev = self.device();
        let u32s = |v: u32| u32_const(v, dev);
        match self.dtype() {
            DType::U32 => self.clone(),
            d if d.is_float() => {
                // -0.0 equals 0.0: one key, so that the sort keeps them in index order.
                let x = self.cast(DType::F32);
                let zero = x.full_like(0.0);
                let x = x.eq(&zero).where_(&zero, &x);
                x.isnan().where_(&u32s(u32::MAX), &x.order_key())
            }
            _ => self
                .cast(DType::I32)
                .bitcast(DType::U32)
                .binary(BinaryOp::Xor, &u32s(1 << 31)),
        }
    }
}
