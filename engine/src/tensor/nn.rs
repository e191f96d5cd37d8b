//! The neural-network ops that are compositions: pooling (windows are views, as in `conv2d`),
//! `rms_norm`, `masked_fill` and scaled dot-product attention.

use crate::dtype::DType;
use crate::ops::ReduceOp;

use super::ops::{normalize_axis, reported, user_op};
use super::slicing::PadMode;
use super::Tensor;

impl Tensor {
    /// The maximum over each `kernel x kernel` window of an `(N, C, H, W)` tensor, windows
    /// `stride` apart, after `padding` on both spatial axes that counts as -inf (torch's
    /// `max_pool2d`; the lowest value for integer dtypes).
    #[track_caller]
    pub fn max_pool2d(&self, kernel: usize, stride: usize, padding: usize) -> Tensor {
        let _op = user_op("max_pool2d");
        let lowest = ReduceOp::Max.identity(self.dtype()).to_f64();
        self.pool_windows("max_pool2d", kernel, stride, padding, lowest)
            .max(&[3, 5])
    }

    /// The mean over each `kernel x kernel` window of an `(N, C, H, W)` tensor, windows
    /// `stride` apart, after zero `padding` that counts in the divisor (torch's `avg_pool2d`
    /// defaults); f32 for integers.
    #[track_caller]
    pub fn avg_pool2d(&self, kernel: usize, stride: usize, padding: usize) -> Tensor {
        let _op = user_op("avg_pool2d");
        self.pool_windows("avg_pool2d", kernel, stride, padding, 0.0)
            .mean(&[3, 5])
    }

    /// `(N, C, OH, K, OW, K)`: the windows of the padded input, as views.
    #[track_caller]
    fn pool_windows(
        &self,
        name: &str,
        kernel: usize,
        stride: usize,
        padding: usize,
        fill: f64,
    ) -> Tensor {
        let s = self.shape();
        assert!(
            s.len() == 4,
            "{}: input {s:?} must be (N, C, H, W)",
            reported(name)
        );
        assert!(
            kernel >= 1 && stride >= 1 && padding <= kernel / 2,
            "{}: kernel {kernel}, stride {stride} and padding {padding} need kernel and stride \
             at least 1 and padding at most half the kernel",
            reported(name)
        );
        assert!(
            s[2] + 2 * padding >= kernel && s[3] + 2 * padding >= kernel,
            "{}: kernel {kernel} does not fit input {}x{} with padding {padding}",
            reported(name),
            s[2],
            s[3]
        );
        let p = padding;
        self.pad_with(&[(0, 0), (0, 0), (p, p), (p, p)], PadMode::Constant(fill))
            .sliding_windows(2, kernel, stride)
            .sliding_windows(4, kernel, stride)
    }

    /// `x / sqrt(mean(x², axis) + eps)` along `axis` (RMSNorm, without a learned scale); f32
    /// for integers, f16 and bf16 computed in f32.
    #[track_caller]
    pub fn rms_norm(&self, axis: isize, eps: f64) -> Tensor {
        let _op = user_op("rms_norm");
        normalize_axis("rms_norm", axis, self.shape());
        self.in_f32(|x| {
            let ms = x.mul(&x).mean_keepdim(&[axis]);
            x.mul(&ms.add_scalar(eps).rsqrt())
        })
    }

    /// `value` where `mask` is true, the tensor's own elements elsewhere (torch's
    /// `masked_fill`); the bool `mask` broadcasts against the tensor.
    #[track_caller]
    pub fn masked_fill(&self, mask: &Tensor, value: f64) -> Tensor {
        let _op = user_op("masked_fill");
        assert_eq!(
            mask.dtype(),
            DType::Bool,
            "{}: the mask must be bool, got {}",
            reported("masked_fill"),
            mask.dtype()
        );
        let out = mask.where_(&self.scalar_like(value), self);
        assert_eq!(
            out.shape(),
            self.shape(),
            "{}: mask {:?} must broadcast to the tensor's shape {:?}",
            reported("masked_fill"),
            mask.shape(),
            self.shape()
        );
        out
    }

    /// The mean cross-entropy of logits `(N, C)` against i32 class indices `(N,)` (torch's
    /// `cross_entropy` with mean reduction): `mean(logsumexp(x_n) - x_n[t_n])`, as a 0-d
    /// tensor, in 2 kernels. A target outside `0..C` makes the loss NaN.
    #[track_caller]
    pub fn cross_entropy(&self, targets: &Tensor) -> Tensor {
        let _op = user_op("cross_entropy");
        let (xs, ts) = (self.shape(), targets.shape());
        assert!(
            xs.len() == 2 && ts.len() == 1 && ts[0] == xs[0],
            "{}: logits {xs:?} must be (N, C) and targets {ts:?} (N,)",
            reported("cross_entropy")
        );
        assert!(
            targets.dtype() == DType::I32 && self.dtype().is_float(),
            "{}: logits must be a float dtype and targets i32, got {} and {}",
            reported("cross_entropy"),
            self.dtype(),
            targets.dtype()
        );
        let (n, c) = (xs[0], xs[1]);
        self.in_f32(|x| {
            let classes = Tensor::arange_on(0.0, c as f64, 1.0, DType::I32, x.device())
                .reshape_usize(&[1, c]);
            let t = targets.reshape_usize(&[n, 1]);
            let picked = classes.eq(&t).where_(&x, &x.scalar_like(0.0)).sum(&[1]);
            // A target out of range picks nothing: its row contributes NaN, not a loss.
            let in_range = t
                .ge(&t.scalar_like(0.0))
                .logical_and(&t.lt(&t.scalar_like(c as f64)))
                .reshape_usize(&[n]);
            let loss = x.logsumexp(&[1]).sub(&picked);
            in_range
                .where_(&loss, &loss.scalar_like(f64::NAN))
                .mean_all()
        })
    }

    /// `softmax(q kᵀ / sqrt(E) + mask) v` over the last two axes (torch's
    /// `scaled_dot_product_attention`): `q` is `(..., L, E)`, `k` `(..., S, E)`, `v`
    /// `(..., S, Ev)`. A bool `mask` keeps the scores where it is true (the others are -inf);
    /// a float one is added to them. `causal` keeps query `i` from keys after `i`. A row with
    /// nothing kept is NaN, as in torch.
    #[track_caller]
    pub fn scaled_dot_product_attention(
        q: &Tensor,
        k: &Tensor,
        v: &Tensor,
        mask: Option<&Tensor>,
        causal: bool,
    ) -> Tensor {
        let _op = user_op("scaled_dot_product_attention");
        let (qs, ks, vs) = (q.shape(), k.shape(), v.shape());
        let ok = qs.len() >= 2
            && ks.len() >= 2
            && vs.len() >= 2
            && qs[qs.len() - 1] == ks[ks.len() - 1]
            && ks[ks.len() - 2] == vs[vs.len() - 2];
        assert!(
            ok,
            "{}: q {qs:?}, k {ks:?} and v {vs:?} must be (..., L, E), (..., S, E) and (..., S, Ev)",
            reported("scaled_dot_product_attention")
        );
        let e = qs[qs.len() - 1];
        let (l, s) = (qs[qs.len() - 2], ks[ks.len() - 2]);
        let scale = 1.0 / (e as f64).sqrt();
        let mut scores = q.matmul(&k.transpose(-2, -1)).mul_scalar(scale);
        let neg_inf = scores.scalar_like(f64::NEG_INFINITY);
        if let Some(m) = mask {
            scores = if m.dtype() == DType::Bool {
                m.where_(&scores, &neg_inf)
            } else {
                scores.add(m)
            };
        }
        if causal {
            let keep = Tensor::full_on(&[l, s], 1.0, DType::Bool, q.device()).tril(0);
            scores = keep.where_(&scores, &neg_inf);
        }
        scores.softmax(-1).matmul(v)
    }
}
