//! numpy's flooring division: `rem` (`%`, the result takes the divisor's sign) and
//! `floor_div` (`//`), for floats and integers. Integer division by zero is defined, as
//! numpy's values: `x // 0 == 0` and `x % 0 == 0`.

use crate::dtype::DType;
use crate::graph::Op;
use crate::ops::BinaryOp;

use super::ops::user_op;
use super::Tensor;

impl Tensor {
    /// numpy's `remainder` (also the `%` operator): `a - b·floor(a / b)`, which takes the
    /// divisor's sign (`-7 % 3 == 2`, `7 % -3 == -2`). For integers it is exact, and `x % 0`
    /// is 0 (numpy's value; never undefined behaviour). For floats `x % 0` is NaN, `x % ±inf`
    /// is `x` where the signs agree (else ±inf), a zero result has the divisor's sign, and
    /// the result is within an ulp of `|a|` of numpy's exact `fmod`-based one (exact when
    /// `a / b` is below 2^24 and exactly representable).
    #[track_caller]
    pub fn rem(&self, other: &Tensor) -> Tensor {
        let _op = user_op("rem");
        let (a, b) = self.coerce(other, "rem");
        match a.dtype() {
            DType::Bool => panic!("rem: not defined for bool operands"),
            d if d.is_int() => a.int_div_mod(&b).1,
            _ => a.in_f32(|a| {
                let b = b.cast(DType::F32);
                let zero = a.scalar_like(0.0);
                let q = a.div(&b).floor();
                let r = a.sub(&q.mul(&b));
                // Rounding can leave r with the dividend's sign, or a zero of either sign.
                let flip = r.ne(&zero).and(&r.lt(&zero).ne(&b.lt(&zero)));
                let r = flip.where_(&r.add(&b), &r);
                let signed_zero = b.lt(&zero).where_(&a.scalar_like(-0.0), &zero);
                // fmod(x, ±inf) is x: keep it (x - inf·floor(x/inf) would be NaN).
                let r = b.isinf().and(&a.isfinite()).where_(&b.isinf_mix(&a), &r);
                r.eq(&zero).where_(&signed_zero, &r)
            }),
        }
    }

    /// numpy's `floor_divide` (`//`): the quotient rounded toward negative infinity
    /// (`-7 // 2 == -4`). Integer `x // 0` is 0 (numpy's value). Floats follow numpy's
    /// `divmod`: `(a - a % b) / b` rounded to the integer it is, `a / b` for a zero divisor
    /// (±inf or NaN), NaN for an infinite dividend, 0 or -1 for an infinite divisor.
    #[track_caller]
    pub fn floor_div(&self, other: &Tensor) -> Tensor {
        let _op = user_op("floor_div");
        let (a, b) = self.coerce(other, "floor_div");
        match a.dtype() {
            DType::Bool => panic!("floor_div: not defined for bool operands"),
            d if d.is_int() => a.int_div_mod(&b).0,
            _ => a.in_f32(|a| {
                let b = b.cast(DType::F32);
                let zero = a.scalar_like(0.0);
                let q = a.sub(&a.rem(&b)).div(&b).round();
                let finite_by_inf = b.isinf().and(&a.isfinite());
                let same_sign = a.eq(&zero).or(&a.lt(&zero).eq(&b.lt(&zero)));
                let by_inf = same_sign.where_(&zero, &a.scalar_like(-1.0));
                let q = finite_by_inf.where_(&by_inf, &q);
                let ratio = a.div(&b);
                let signed_zero = ratio.lt(&zero).where_(&a.scalar_like(-0.0), &zero);
                let q = q.eq(&zero).where_(&signed_zero, &q);
                b.eq(&zero).where_(&ratio, &q)
            }),
        }
    }

    /// Flooring quotient and remainder of integers of one dtype and shape, 0 and 0 where
    /// `b` is 0. Truncating division by a divisor made nonzero, then one step down where the
    /// remainder's sign differs from the divisor's.
    #[track_caller]
    fn int_div_mod(&self, b: &Tensor) -> (Tensor, Tensor) {
        let zero = self.scalar_like(0.0);
        let by_zero = b.eq(&zero);
        let divisor = by_zero.where_(&self.scalar_like(1.0), b);
        let shape = self.shape().to_vec();
        let (d, a) = (self.dtype(), self);
        let q = a.node_of(
            Op::Binary(BinaryOp::Div),
            vec![a, &divisor],
            d,
            shape.clone(),
        );
        let r = a.node_of(Op::Binary(BinaryOp::Mod), vec![a, &divisor], d, shape);
        let (q, r) = match d.is_signed_int() {
            true => {
                let step = r.ne(&zero).and(&r.lt(&zero).ne(&divisor.lt(&zero)));
                (
                    step.where_(&q.sub(&self.scalar_like(1.0)), &q),
                    step.where_(&r.add(&divisor), &r),
                )
            }
            false => (q, r),
        };
        (by_zero.where_(&zero, &q), by_zero.where_(&zero, &r))
    }

    /// For `rem` by an infinite divisor: `a` where `a` and the divisor have one sign (or `a`
    /// is zero), else the divisor (numpy: `-5 % inf == inf`).
    #[track_caller]
    fn isinf_mix(&self, a: &Tensor) -> Tensor {
        let zero = a.scalar_like(0.0);
        let same = a.eq(&zero).or(&a.lt(&zero).eq(&self.lt(&zero)));
        same.where_(a, self)
    }
}
