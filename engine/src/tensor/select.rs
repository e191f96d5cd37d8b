//! Order statistics without a sort: the value of a given rank along an axis by radix select.
//! Each f32 becomes a u32 key in the same order (negatives' bits flipped, positives' sign bit
//! set), and four passes fix its digits from the top, 8 bits a pass: a histogram of the
//! digit among the elements that match the digits fixed so far (a scatter kernel), its
//! running sum, and the digit where the running sum passes the rank. That is four reads of
//! the data for any length, against a sort's log2(n) passes or more. The next rank's value
//! (the other middle of an even median) is one more read: the same key if enough elements
//! share it, else the smallest key above it.

use crate::dtype::DType;
use crate::ops::{BinaryOp, IndexOp, ReduceOp};

use super::ops::u32_const;
use super::Tensor;

/// Axes at least this long select by radix rather than sort: shorter rows make the 256-bin
/// histograms outweigh the data.
pub(super) const SELECT_FROM: usize = 2048;

const DIGIT_BITS: u32 = 8;
const BINS: usize = 1 << DIGIT_BITS;
/// Spare counters for the lanes that count nothing: lanes meeting at one counter serialize
/// (BENCHMARKS.md, "Scatter, radix select and radix sort").
const SPARE: usize = 4096;

fn u32s(v: u32, like: &Tensor) -> Tensor {
    u32_const(v, like.device())
}

impl Tensor {
    /// The u32 key of each element of an f32 `self` that orders as the values do (negatives'
    /// bits flipped, positives' sign bit set); a NaN orders as its bits say.
    pub(super) fn order_key(&self) -> Tensor {
        let bits = self.bitcast(DType::U32);
        let negative = bits
            .binary(BinaryOp::Shr, &u32s(31, self))
            .eq(&u32s(1, self));
        let flip = negative.where_(&u32s(u32::MAX, self), &u32s(1 << 31, self));
        bits.binary(BinaryOp::Xor, &flip)
    }

    /// The values of ascending ranks `rank` and `rank + 1` (0-based, `rank + 1 < n`) along the
    /// last axis of f32 `self` (`[.., n]` → two of `[..]`); NaN orders as the largest value.
    pub(super) fn select_rank_and_next(&self, rank: usize) -> (Tensor, Tensor) {
        let key = self.order_key();
        let at = key.select_key(rank);
        // Rank + 1 has the same key where more than rank + 1 elements are at or below it;
        // otherwise it is the smallest key above.
        let at_or_below = key.le(&at).cast(DType::I32).sum_keepdim(&[-1]);
        let above = key.gt(&at).where_(&key, &u32s(u32::MAX, &key));
        let next = at_or_below
            .gt(&Tensor::full_on(
                &[],
                (rank + 1) as f64,
                DType::I32,
                self.device(),
            ))
            .where_(&at, &above.min_keepdim(&[-1]));
        (from_key(&at), from_key(&next))
    }

    /// The value of ascending rank `rank` along the last axis of f32 `self`.
    pub(super) fn select_rank(&self, rank: usize) -> Tensor {
        from_key(&self.order_key().select_key(rank))
    }

    /// The key of rank `rank` along the last axis of u32 keys `self`: `[.., n]` → `[.., 1]`.
    fn select_key(&self, rank: usize) -> Tensor {
        let nd = self.ndim();
        let dev = self.device();
        let mut per_row = self.shape().to_vec();
        per_row[nd - 1] = 1;
        let mut rank = Tensor::full_on(&per_row, rank as f64, DType::I32, dev);
        let mut prefix = Tensor::zeros_on(&per_row, DType::U32, dev);
        let bin = Tensor::arange_on(0.0, BINS as f64, 1.0, DType::I32, dev);
        for pass in 0..32 / DIGIT_BITS {
            let shift = 32 - DIGIT_BITS * (pass + 1);
            let digit = self
                .binary(BinaryOp::Shr, &u32s(shift, self))
                .binary(BinaryOp::And, &u32s(BINS as u32 - 1, self))
                .cast(DType::I32);
            let counted = match pass {
                0 => self.full_like(1.0).cast(DType::I32),
                _ => {
                    let high = |t: &Tensor| t.binary(BinaryOp::Shr, &u32s(shift + DIGIT_BITS, t));
                    high(self).eq(&high(&prefix)).cast(DType::I32)
                }
            };
            let hist = spread_histogram(&digit, &counted);
            // The rank's digit: the bins whose running count stays at or below the rank.
            let chosen = hist
                .cumsum(-1)
                .le(&rank)
                .cast(DType::I32)
                .sum_keepdim(&[-1]);
            let below = bin
                .lt(&chosen)
                .where_(&hist, &hist.full_like(0.0))
                .sum_keepdim(&[-1]);
            rank = rank.sub(&below);
            prefix = prefix.binary(
                BinaryOp::Or,
                &chosen
                    .cast(DType::U32)
                    .binary(BinaryOp::Shl, &u32s(shift, self)),
            );
        }
        prefix
    }
}

/// The f32 of an order key (`[.., 1]` → `[..]`): a set top bit was a non-negative float.
fn from_key(key: &Tensor) -> Tensor {
    let positive = key.binary(BinaryOp::Shr, &u32s(31, key)).eq(&u32s(1, key));
    let unflip = positive.where_(&u32s(1 << 31, key), &u32s(u32::MAX, key));
    key.binary(BinaryOp::Xor, &unflip)
        .bitcast(DType::F32)
        .squeeze(-1)
}

/// Per row of the last axis, the sum of i32 `counted` (0 or 1) at each `digit` (i32 in
/// `0..BINS`): `[.., n]` → `[.., BINS]`. An element that counts nothing adds to spare
/// counter `e % SPARE` instead, so that it does not contend for the live bins.
fn spread_histogram(digit: &Tensor, counted: &Tensor) -> Tensor {
    let nd = digit.ndim();
    let n = digit.shape()[nd - 1];
    let dev = digit.device();
    let i32s = |v: usize| Tensor::full_on(&[], v as f64, DType::I32, dev);
    let spare = Tensor::arange_on(0.0, n as f64, 1.0, DType::I32, dev)
        .rem(&i32s(SPARE))
        .add(&i32s(BINS));
    let target = counted
        .gt(&counted.full_like(0.0))
        .where_(digit, &spare.expand(digit.shape()));
    let mut wide = digit.shape().to_vec();
    wide[nd - 1] = BINS + SPARE;
    Tensor::zeros_on(&wide, DType::I32, dev)
        .scatter_node(IndexOp::ScatterAdd, ReduceOp::Sum, nd - 1, &target, counted)
        .narrow(nd - 1, 0, BINS)
}
