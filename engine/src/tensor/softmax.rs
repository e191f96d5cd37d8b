//! softmax and log_softmax, with a chunked form for rows too long for one workgroup.
//!
//! A row up to `MAX_ROW` elements is one kernel: the scheduler fuses the max and the
//! sum as nests of the kernel that stores the row, and a workgroup owns each row. A longer
//! row is cut into `C` chunks of `L` (the online-softmax identity):
//!
//! ```text
//! m_c = max(x_c)                 s_c = sum(exp(x_c - m_c))          (per chunk)
//! M   = max_c(m_c)               S   = sum_c(s_c * exp(m_c - M))    (per row)
//! softmax(x) = exp(x - M) / S    log_softmax(x) = x - M - log(S)
//! ```
//!
//! which the scheduler runs as 2 kernels: one computes every chunk's `s_c` with `m_c` as a
//! nest and stores both (`store_nests`), the other computes `M` and `S` as small nests
//! recomputed per chunk and writes the output (`NEST_RECOMPUTE_RATIO`). Every chunk is a
//! workgroup of its own, so a few long rows still fill the device. A length with no divisor
//! in range is padded with -inf to whole chunks (3 kernels: the tail then runs over the
//! unpadded row and reads `M` and `S` from a kernel of their own).

use crate::dtype::DType;
use crate::schedule::NEST_RECOMPUTE_RATIO;
use crate::target::MAX_ROW;

use super::ops::normalize_axis;
use super::ops::user_op;
use super::Tensor;

/// The chunk length for a row of `n` (> MAX_ROW): the smallest divisor of `n` long
/// enough that the tail's nests (2 per chunk) stay under `1 / NEST_RECOMPUTE_RATIO` of a
/// chunk, or else that length itself (the row is then padded). `None` when no chunk length
/// up to MAX_ROW qualifies (a row of about 2^27 or more).
fn chunk_len(n: usize) -> Option<usize> {
    let fits = |l: usize| 2 * n.div_ceil(l) * NEST_RECOMPUTE_RATIO <= l;
    let shortest = (1..=MAX_ROW).find(|&l| l * l >= 2 * NEST_RECOMPUTE_RATIO * n)?;
    let shortest = (shortest..=MAX_ROW).find(|&l| fits(l))?;
    // A divisor within 4x of the shortest length, a multiple of 16 where one is (vec4 loads
    // and whole lane groups); else pad to whole chunks of a multiple of 256.
    let divisors = || (shortest..=(4 * shortest).min(MAX_ROW)).filter(|&l| n.is_multiple_of(l));
    divisors()
        .find(|&l| l.is_multiple_of(64))
        .or_else(|| divisors().find(|&l| l.is_multiple_of(16)))
        .or_else(|| divisors().next())
        .or_else(|| Some(shortest.next_multiple_of(256).min(MAX_ROW)).filter(|&l| fits(l)))
}

/// The statistics of a chunked row: `x` (float) along `axis` reshaped to chunks, with the
/// row max `M` and the sum `S` of `exp(x - M)`, all broadcastable against the chunks.
struct Chunked {
    chunks: Tensor,
    max: Tensor,
    sum: Tensor,
    /// The length of the row before padding, and its padded length.
    n: usize,
    padded: usize,
}

impl Tensor {
    /// `exp(x - max) / sum(exp(x - max))` along `axis`: one kernel for a row of up to
    /// 2^15 elements.
    ///
    /// ```
    /// use kiln_engine::{Device, Tensor};
    /// let x = Tensor::from_slice_on(&[1.0f32, 1.0, 0.0, 0.0], &[2, 2], &Device::cpu())?;
    /// assert_eq!(x.softmax(-1).to_vec::<f32>()?, vec![0.5, 0.5, 0.5, 0.5]);
    /// # Ok::<(), kiln_engine::Error>(())
    /// ```
    #[track_caller]
    pub fn softmax(&self, axis: isize) -> Tensor {
        let _op = user_op("softmax");
        let a = normalize_axis("softmax", axis, self.shape());
        self.in_f32(|x| {
            if let Some(c) = x.chunked(a) {
                let y = c.chunks.sub(&c.max).exp_shifted().div(&c.sum);
                return c.unchunk(&y, a);
            }
            let e = x.sub(&x.max_keepdim(&[axis])).exp_shifted();
            e.div(&e.sum_keepdim(&[axis]))
        })
    }

    /// `x - max - log(sum(exp(x - max)))` along `axis`.
    #[track_caller]
    pub fn log_softmax(&self, axis: isize) -> Tensor {
        let _op = user_op("log_softmax");
        let a = normalize_axis("log_softmax", axis, self.shape());
        self.in_f32(|x| {
            if let Some(c) = x.chunked(a) {
                let y = c.chunks.sub(&c.max).sub(&c.sum.log());
                return c.unchunk(&y, a);
            }
            let shifted = x.sub(&x.max_keepdim(&[axis]));
            shifted.sub(&shifted.exp_shifted().sum_keepdim(&[axis]).log())
        })
    }

    /// `e^x` for `x <= 0` (values minus their row's max) as plain `exp2(x · log2 e)`: its error
    /// grows with `|x|` only in relative terms, on results under e^-10 that add nothing
    /// visible to a sum of at least 1, and it skips `exp`'s extended-precision split.
    pub(super) fn exp_shifted(&self) -> Tensor {
        self.mul_scalar(std::f64::consts::LOG2_E).exp2()
    }

    /// The chunked statistics of a float tensor along axis `a`, when its rows are longer than
    /// a workgroup owns.
    fn chunked(&self, a: usize) -> Option<Chunked> {
        let n = self.shape()[a];
        if n <= MAX_ROW {
            return None;
        }
        let l = chunk_len(n)?;
        let padded = n.next_multiple_of(l);
        let x = if padded == n {
            self.clone()
        } else {
            // -inf past the row: it changes no max and adds exp(-inf) = 0 to every sum.
            let mut pad = vec![(0, 0); self.ndim()];
            pad[a] = (0, padded - n);
            let inside = Tensor::full_on(self.shape(), 1.0, DType::Bool, self.device()).pad(&pad);
            let below = Tensor::full_on(
                &self.shape_padded(a, padded),
                f64::NEG_INFINITY,
                self.dtype(),
                self.device(),
            );
            inside.where_(&self.pad(&pad), &below)
        };
        let mut shape = x.shape().to_vec();
        shape.splice(a..=a, [padded / l, l]);
        let shape: Vec<isize> = shape.iter().map(|&d| d as isize).collect();
        let chunks = x.reshape(&shape);
        let (c_axis, l_axis) = (a as isize, a as isize + 1);
        let m = chunks.max_keepdim(&[l_axis]);
        // A chunk of nothing but -inf (a long masked span of attention logits) has no max to
        // shift by: exp(-inf - -inf) would make its sum NaN, and the whole row with it. It
        // shifts by 0 instead, so its sum is 0, as its share of the row's is.
        let neg_inf = m.scalar_like(f64::NEG_INFINITY);
        let shift = m.eq(&neg_inf).where_(&m.scalar_like(0.0), &m);
        let s = chunks.sub(&shift).exp_shifted().sum_keepdim(&[l_axis]);
        let max = m.max_keepdim(&[c_axis]);
        let sum = s.mul(&m.sub(&max).exp_shifted()).sum_keepdim(&[c_axis]);
        Some(Chunked {
            chunks,
            max,
            sum,
            n,
            padded,
        })
    }

    /// This tensor's shape with axis `a` of length `len`.
    fn shape_padded(&self, a: usize, len: usize) -> Vec<usize> {
        let mut s = self.shape().to_vec();
        s[a] = len;
        s
    }
}

impl Chunked {
    /// `y`, computed over the chunks, back in the row's shape. With whole chunks the result
    /// is materialized in the chunked shape (its kernel's domain keeps one workgroup per
    /// chunk) and reshaped for free; a padded row is cut back to its length.
    fn unchunk(&self, y: &Tensor, a: usize) -> Tensor {
        let mut shape = y.shape().to_vec();
        shape.splice(a..=a + 1, [self.padded]);
        if self.padded == self.n {
            let shape: Vec<isize> = shape.iter().map(|&d| d as isize).collect();
            return y.contiguous().reshape(&shape);
        }
        let shape: Vec<isize> = shape.iter().map(|&d| d as isize).collect();
        let mut bounds: Vec<(usize, usize)> = shape.iter().map(|&d| (0, d as usize)).collect();
        bounds[a] = (0, self.n);
        y.reshape(&shape).shrink(&bounds)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_divide_the_row_where_they_can() {
        for n in [
            40_000usize,
            1 << 16,
            1 << 20,
            1 << 24,
            50_257,
            40_009,
            128_256,
        ] {
            let l = chunk_len(n).expect("a chunk length");
            let chunks = n.div_ceil(l);
            assert!(l <= MAX_ROW, "{n}: {l}");
            assert!(
                2 * chunks * NEST_RECOMPUTE_RATIO <= l,
                "{n}: {chunks} chunks of {l}"
            );
        }
        assert_eq!(40_000 % chunk_len(40_000).unwrap(), 0);
        assert_eq!((1 << 20) % chunk_len(1 << 20).unwrap(), 0);
        assert!(chunk_len(1 << 30).is_none());
    }
}
