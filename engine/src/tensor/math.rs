//! Elementwise math beyond the primitives' names: rounding, signs, float classes and the
//! activations composed from them.

use crate::dtype::DType;
use crate::ops::UnaryOp;

use super::ops::user_op;
use super::Tensor;

impl Tensor {
    /// Rounds down (numpy's `floor`); integers are returned as they are.
    #[track_caller]
    pub fn floor(&self) -> Tensor {
        self.rounded(UnaryOp::Floor)
    }
    /// Rounds up (numpy's `ceil`); integers are returned as they are.
    #[track_caller]
    pub fn ceil(&self) -> Tensor {
        self.rounded(UnaryOp::Ceil)
    }
    /// Rounds toward zero (numpy's `trunc`); integers are returned as they are.
    #[track_caller]
    pub fn trunc(&self) -> Tensor {
        self.rounded(UnaryOp::Trunc)
    }
    /// Rounds to the nearest integral value, halves to even (numpy's `round`: 2.5 gives 2);
    /// integers are returned as they are.
    #[track_caller]
    pub fn round(&self) -> Tensor {
        self.rounded(UnaryOp::Round)
    }

    #[track_caller]
    fn rounded(&self, op: UnaryOp) -> Tensor {
        match self.dtype() {
            DType::Bool => panic!("{}: not defined for bool", op.name()),
            d if d.is_int() => self.clone(),
            _ => self.unary(op),
        }
    }

    /// -1, 0 or 1 by the sign (numpy's `sign`: NaN stays NaN, both zeros give 0).
    #[track_caller]
    pub fn sign(&self) -> Tensor {
        let _op = user_op("sign");
        assert!(self.dtype() != DType::Bool, "sign: not defined for bool");
        let zero = self.scalar_like(0.0);
        let keep_nan = self.isnan().where_(self, &zero);
        let negative = self.lt(&zero).where_(&self.scalar_like(-1.0), &keep_nan);
        zero.lt(self).where_(&self.scalar_like(1.0), &negative)
    }

    /// `x * x`, in the tensor's dtype.
    #[track_caller]
    pub fn square(&self) -> Tensor {
        let _op = user_op("square");
        self.mul(self)
    }

    /// Whether each element is NaN (never, for integers and bools).
    #[track_caller]
    pub fn isnan(&self) -> Tensor {
        let _op = user_op("isnan");
        self.ne(self)
    }
    /// Whether each element is +inf or -inf (never, for integers and bools).
    #[track_caller]
    pub fn isinf(&self) -> Tensor {
        let _op = user_op("isinf");
        match self.dtype() {
            DType::F32 => self.abs().eq(&self.scalar_like(f64::INFINITY)),
            _ => Tensor::full_on(self.shape(), 0.0, DType::Bool, self.device()),
        }
    }
    /// Whether each element is neither infinite nor NaN (always, for integers and bools).
    #[track_caller]
    pub fn isfinite(&self) -> Tensor {
        let _op = user_op("isfinite");
        match self.dtype() {
            DType::F32 => self.abs().lt(&self.scalar_like(f64::INFINITY)),
            _ => Tensor::full_on(self.shape(), 1.0, DType::Bool, self.device()),
        }
    }

    /// `x` where it is positive, `slope * x` elsewhere (torch's `leaky_relu`), in f32 for
    /// integers.
    #[track_caller]
    pub fn leaky_relu(&self, slope: f64) -> Tensor {
        let _op = user_op("leaky_relu");
        self.in_f32(|x| {
            x.scalar_like(0.0)
                .lt(&x)
                .where_(&x, &x.mul(&x.scalar_like(slope)))
        })
    }

    /// `x * sigmoid(x)` (the SiLU or swish activation).
    #[track_caller]
    pub fn silu(&self) -> Tensor {
        let _op = user_op("silu");
        self.in_f32(|x| x.mul(&x.sigmoid()))
    }
}

/// 2 / sqrt(pi).
const TWO_OVER_SQRT_PI: f64 = std::f64::consts::FRAC_2_SQRT_PI;
/// Below this magnitude `erf` takes its Taylor series; above it, `1 - erfc`.
const ERF_SERIES_BELOW: f64 = 0.5;

impl Tensor {
    /// The tangent (radians), as `sin / cos`.
    #[track_caller]
    pub fn tan(&self) -> Tensor {
        let _op = user_op("tan");
        self.in_f32(|x| x.sin().div(&x.cos()))
    }

    /// The arctangent, in (-pi/2, pi/2): Cephes' `atanf` (range reduction to |x| <= tan(pi/8)
    /// and a degree-9 odd polynomial); `atan(±0)` is ±0.
    #[track_caller]
    pub fn atan(&self) -> Tensor {
        let _op = user_op("atan");
        self.in_f32(|x| {
            let c = |v: f64| x.scalar_like(v);
            let a = x.abs();
            let far = c(2.414_213_562_373_095).lt(&a);
            let mid = c(0.414_213_562_373_095).lt(&a);
            let reduced = far.where_(
                &c(-1.0).div(&a),
                &mid.where_(&a.sub(&c(1.0)).div(&a.add(&c(1.0))), &a),
            );
            let base = far.where_(
                &c(std::f64::consts::FRAC_PI_2),
                &mid.where_(&c(std::f64::consts::FRAC_PI_4), &c(0.0)),
            );
            let z = reduced.mul(&reduced);
            let poly = z
                .mul(&c(8.053_744_495_38e-2))
                .sub(&c(1.387_768_560_32e-1))
                .mul(&z)
                .add(&c(1.997_771_064_78e-1))
                .mul(&z)
                .sub(&c(3.333_294_915_39e-1))
                .mul(&z)
                .mul(&reduced)
                .add(&reduced);
            let y = base.add(&poly);
            let zero = c(0.0);
            x.lt(&zero).where_(&y.neg(), &x.eq(&zero).where_(&x, &y))
        })
    }

    /// The error function: an odd Taylor series below 0.5 in magnitude, `1 - erfc` above it
    /// (`erfc` by Numerical Recipes' Chebyshev fit, relative error under 1.2e-7).
    #[track_caller]
    pub fn erf(&self) -> Tensor {
        let _op = user_op("erf");
        self.in_f32(|x| {
            let a = x.abs();
            let z = x.mul(&x);
            // 2/sqrt(pi) * x * (1 - x^2/3 + x^4/10 - x^6/42 + x^8/216 - x^10/1320)
            let series = [
                1.0 / 1320.0,
                -1.0 / 216.0,
                1.0 / 42.0,
                -1.0 / 10.0,
                1.0 / 3.0,
            ]
            .iter()
            .fold(x.scalar_like(1.0 / 9360.0).mul(&z), |acc, &k| {
                acc.add(&x.scalar_like(-k)).mul(&z)
            });
            let series = x
                .scalar_like(1.0)
                .add(&series)
                .mul(&x)
                .mul(&x.scalar_like(TWO_OVER_SQRT_PI));
            let tail = x.scalar_like(1.0).sub(&erfc_nonnegative(&a));
            let signed_tail = x.lt(&x.scalar_like(0.0)).where_(&tail.neg(), &tail);
            a.lt(&x.scalar_like(ERF_SERIES_BELOW))
                .where_(&series, &signed_tail)
        })
    }

    /// The exact GELU, `x * Phi(x)` with the normal CDF from `erf` (from `erfc` for negative
    /// `x`, where `1 + erf` would cancel).
    #[track_caller]
    pub fn gelu(&self) -> Tensor {
        let _op = user_op("gelu");
        self.in_f32(|x| {
            let scaled = x.mul(&x.scalar_like(std::f64::consts::FRAC_1_SQRT_2));
            let upper = x.scalar_like(1.0).add(&scaled.erf());
            let lower = erfc_nonnegative(&scaled.abs());
            let cdf2 = x.lt(&x.scalar_like(0.0)).where_(&lower, &upper);
            let gelu = x.mul(&cdf2).mul(&x.scalar_like(0.5));
            // -inf * erfc(inf) would be NaN; the limit is 0.
            let minus_inf = x.scalar_like(f64::NEG_INFINITY);
            x.eq(&minus_inf).where_(&x.scalar_like(0.0), &gelu)
        })
    }

    /// The tanh approximation of GELU: `0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))`,
    /// computed as `x * sigmoid(2 u)`, which does not cancel for negative `x`.
    #[track_caller]
    pub fn gelu_tanh(&self) -> Tensor {
        let _op = user_op("gelu_tanh");
        self.in_f32(|x| {
            let c = |v: f64| x.scalar_like(v);
            let cubic = x.add(&x.mul(&x).mul(&x).mul(&c(0.044715)));
            x.mul(
                &cubic
                    .mul(&c(2.0 * (2.0 / std::f64::consts::PI).sqrt()))
                    .sigmoid(),
            )
        })
    }

    /// `log(1 + x)`, accurate near 0: below 0.25 in magnitude `2 atanh(x / (2 + x))` by its
    /// series (the device's `log` is only accurate to 2^-21 absolute near 1, as WGSL allows),
    /// above it Goldberg's `log(u) * x / (u - 1)` with `u = 1 + x`.
    #[track_caller]
    pub fn log1p(&self) -> Tensor {
        let _op = user_op("log1p");
        self.in_f32(|x| {
            let near_zero = x.log1p_series();
            let small = x.abs().lt(&x.scalar_like(0.25));
            let u = x.add(&x.scalar_like(1.0));
            let d = u.sub(&x.scalar_like(1.0));
            let corrected = u.log().mul(&x).div(&d);
            // u == 1: x is below the rounding of 1 + x, and log1p(x) = x to f32 precision;
            // u infinite: log(u) is the answer (the correction would be inf / inf).
            let inf = x.scalar_like(f64::INFINITY);
            let far = u
                .eq(&x.scalar_like(1.0))
                .where_(&x, &u.eq(&inf).where_(&inf, &corrected));
            small.where_(&near_zero, &far)
        })
    }

    /// `log(1 + x)` for |x| <= 0.25 as `2 atanh(x / (2 + x))` by its series to the 11th power
    /// (truncation under 1e-8 there); an f32 tensor.
    fn log1p_series(&self) -> Tensor {
        let s = self.div(&self.add_scalar(2.0));
        let s2 = s.mul(&s);
        let series = [1.0 / 9.0, 1.0 / 7.0, 1.0 / 5.0, 1.0 / 3.0]
            .iter()
            .fold(s2.mul_scalar(1.0 / 11.0), |acc, &k| {
                acc.add_scalar(k).mul(&s2)
            });
        series.add_scalar(1.0).mul(&s).mul_scalar(2.0)
    }

    /// `exp(x) - 1`, accurate near 0: below 0.5 in magnitude its Taylor series to x^10
    /// (the device's `log` near 1 is too coarse for Kahan's trick there), above it Kahan's
    /// `(u - 1) * x / log(u)` with `u = exp(x)`.
    #[track_caller]
    pub fn expm1(&self) -> Tensor {
        let _op = user_op("expm1");
        self.in_f32(|x| {
            let one = x.scalar_like(1.0);
            // x (1 + x/2 (1 + x/3 (1 + ... (1 + x/10)))): Horner over the factorials.
            let series = (2..=10)
                .rev()
                .fold(one.clone(), |acc, k| {
                    one.add(&acc.mul(&x).mul(&x.scalar_like(1.0 / k as f64)))
                })
                .mul(&x);
            let small = x.abs().lt(&x.scalar_like(0.5));
            let u = x.exp();
            let um1 = u.sub(&one);
            let corrected = um1.mul(&x).div(&u.log());
            let inf = x.scalar_like(f64::INFINITY);
            // u - 1 == -1: -1; u infinite: inf.
            let far = um1
                .eq(&one.neg())
                .where_(&one.neg(), &u.eq(&inf).where_(&inf, &corrected));
            small.where_(&series, &far)
        })
    }

    /// `log(1 + exp(x))`, without overflow: `max(x, 0) + log1p(exp(-|x|))`.
    #[track_caller]
    pub fn softplus(&self) -> Tensor {
        let _op = user_op("softplus");
        self.in_f32(|x| x.relu().add(&x.abs().neg().exp().log1p()))
    }
}

/// `erfc(a)` for `a >= 0` (Numerical Recipes' `erfcc`: fractional error under 1.2e-7).
#[track_caller]
fn erfc_nonnegative(a: &Tensor) -> Tensor {
    let c = |v: f64| a.scalar_like(v);
    let t = c(1.0).div(&c(1.0).add(&a.mul(&c(0.5))));
    let coefficients = [
        0.17087277,
        -0.82215223,
        1.48851587,
        -1.13520398,
        0.27886807,
        -0.18628806,
        0.09678418,
        0.37409196,
        1.00002368,
        -1.26551223,
    ];
    let poly = coefficients[1..]
        .iter()
        .fold(c(coefficients[0]), |acc, &k| acc.mul(&t).add(&c(k)));
    t.mul(&a.mul(a).neg().add(&poly).exp())
}

impl Tensor {
    /// Whether the sign bit is set (numpy's `signbit`): true for negative numbers and -0.
    #[track_caller]
    pub fn signbit(&self) -> Tensor {
        let _op = user_op("signbit");
        assert!(self.dtype() != DType::Bool, "signbit: not defined for bool");
        self.unary(UnaryOp::SignBit).cast(DType::Bool)
    }

    /// The angle of the point (x, y) = (`other`, `self`) in (-pi, pi], numpy's `arctan2(self,
    /// other)`, with its signed zeros and infinities: `atan2(±0, -0) = ±pi`,
    /// `atan2(±inf, -inf) = ±3pi/4`, `atan2(y, ±0) = ±pi/2` for y ≠ 0.
    #[track_caller]
    pub fn atan2(&self, other: &Tensor) -> Tensor {
        let _op = user_op("atan2");
        let (y, x) = self.coerce(other, "atan2");
        y.in_f32(|y| {
            let x = x.cast(DType::F32);
            let c = |v: f64| y.scalar_like(v);
            let pi = std::f64::consts::PI;
            let y_negative = y.signbit();
            let x_negative = x.signbit();
            let half_turn = y_negative.where_(&c(-pi), &c(pi));
            // atan(y / x), then a half turn for the left half-plane (x < 0 or x = -0).
            let base = y.div(&x).atan();
            let both_zero = y.eq(&c(0.0)).and(&x.eq(&c(0.0)));
            let base = both_zero.where_(&y, &base);
            let turned = x_negative.where_(&base.add(&half_turn), &base);
            let corner = x_negative.where_(&c(0.75 * pi), &c(0.25 * pi));
            let corner = y_negative.where_(&corner.neg(), &corner);
            y.isinf().and(&x.isinf()).where_(&corner, &turned)
        })
    }
}
