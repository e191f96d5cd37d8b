//! Order statistics without a sort: the values of given ranks along an axis by radix select.
//! Each f32 becomes a u32 key in the same order (negatives' bits flipped, positives' sign bit
//! set), and four passes fix its digits from the top, 8 bits a pass: a histogram of the
//! digit among the elements that match the digits fixed so far (a scatter kernel), its
//! running sum, and the digit where the running sum passes the rank. That is four reads of
//! the data for any length, against a bitonic sort's log2(n)·(log2(n)+1)/2 stages.

use crate::dtype::DType;
use crate::ops::{BinaryOp, IndexOp, ReduceOp};

use super::Tensor;

/// Axes at least this long select by radix rather than sort: shorter rows make the 256-bin
/// histograms outweigh the data.
pub(super) const SELECT_FROM: usize = 2048;

const DIGIT_BITS: u32 = 8;
const BINS: usize = 1 << DIGIT_BITS;

impl Tensor {
    /// The u32 key of each element of an f32 `self` that orders as the values do (negatives'
    /// bits flipped, positives' sign bit set); a NaN orders as its bits say.
    pub(super) fn order_key(&self) -> Tensor {
        let u32s = |v: u32| Tensor::full_on(&[], v as f64, DType::U32, self.device());
        let bits = self.bitcast(DType::U32);
        let negative = bits.binary(BinaryOp::Shr, &u32s(31)).eq(&u32s(1));
        let flip = negative.where_(&u32s(u32::MAX), &u32s(1 << 31));
        bits.binary(BinaryOp::Xor, &flip)
    }

    /// The values of the 0-based ascending `ranks` along the last axis of f32 `self`
    /// (`[.., n]` → `[.., ranks.len()]`); NaN orders as the largest value.
    pub(super) fn select_ranks(&self, ranks: &[usize]) -> Tensor {
        let nd = self.ndim();
        let (n, r) = (self.shape()[nd - 1], ranks.len());
        let dev = self.device();
        let u32s = |v: u32| Tensor::full_on(&[], v as f64, DType::U32, dev);
        let mut rows = self.shape()[..nd - 1].to_vec();
        rows.extend([r, n]);
        let key = self.order_key().unsqueeze(-2).expand(&rows);
        let mut per_rank = rows.clone();
        per_rank[nd] = 1;
        let mut bins_shape = rows.clone();
        bins_shape[nd] = BINS;
        let mut rank_shape = vec![1; nd + 1];
        rank_shape[nd - 1] = r;
        let which = Tensor::arange_on(0.0, r as f64, 1.0, DType::I32, dev);
        let i32s = |v: usize| Tensor::full_on(&[], v as f64, DType::I32, dev);
        let mut rank = ranks
            .iter()
            .enumerate()
            .skip(1)
            .fold(i32s(ranks[0]), |acc, (j, &k)| {
                which.eq(&i32s(j)).where_(&i32s(k), &acc)
            });
        rank = rank.reshape_usize(&rank_shape).expand(&per_rank);
        let mut prefix = Tensor::zeros_on(&per_rank, DType::U32, dev);
        let bin = Tensor::arange_on(0.0, BINS as f64, 1.0, DType::I32, dev);
        for pass in 0..32 / DIGIT_BITS {
            let shift = 32 - DIGIT_BITS * (pass + 1);
            let digit = key
                .binary(BinaryOp::Shr, &u32s(shift))
                .binary(BinaryOp::And, &u32s(BINS as u32 - 1))
                .cast(DType::I32);
            let counted = match pass {
                0 => key.full_like(1.0).cast(DType::I32),
                _ => {
                    let high = |t: &Tensor| t.binary(BinaryOp::Shr, &u32s(shift + DIGIT_BITS));
                    high(&key).eq(&high(&prefix)).cast(DType::I32)
                }
            };
            let hist = Tensor::zeros_on(&bins_shape, DType::I32, dev).scatter_node(
                IndexOp::ScatterAdd,
                ReduceOp::Sum,
                nd,
                &digit,
                &counted,
            );
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
            prefix = prefix.binary_same(
                BinaryOp::Or,
                &chosen.cast(DType::U32).binary(BinaryOp::Shl, &u32s(shift)),
            );
        }
        // Back from the key: a set top bit was a non-negative float.
        let positive = prefix.binary(BinaryOp::Shr, &u32s(31)).eq(&u32s(1));
        let unflip = positive.where_(&u32s(1 << 31), &u32s(u32::MAX));
        prefix
            .binary(BinaryOp::Xor, &unflip)
            .bitcast(DType::F32)
            .squeeze(-1)
    }
}
