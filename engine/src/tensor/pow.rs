//! `pow`: exact by repeated multiplication for small integral exponents, `exp2(b·log2|a|)`
//! otherwise, with numpy's special cases.

use crate::dtype::DType;
use crate::ops::BinaryOp;

use super::ops::user_op;
use super::Tensor;

/// Integral `pow` exponents up to this magnitude multiply instead of going through exp2/log2.
/// Multiplying is exact while an integral base's power stays below 2^24, and otherwise costs
/// at most n - 1 roundings (< 1e-6 relative at 16), about what exp2(b·log2|a|) costs for
/// results near 2^16; for larger exponents the exp2/log2 form is the more accurate one.
const MAX_MULTIPLIED_EXPONENT: u32 = 16;

impl Tensor {
    /// `a ** b` in f32 (integer operands are cast), with numpy's special cases: `x^0 = 1`,
    /// `1^y = 1`, `(-1)^±inf = 1`, negative bases give real results for integral exponents
    /// and NaN otherwise. Integral exponents up to 16 in magnitude multiply (exact whenever
    /// the result is representable: `10^3 = 1000`, `3^15 = 14348907`); others go through
    /// `exp2(b·log2|a|)`.
    #[track_caller]
    pub fn pow(&self, other: &Tensor) -> Tensor {
        let _op = user_op("pow");
        let (a, b) = self.coerce(other, "pow");
        if let d @ (DType::F16 | DType::BF16) = a.dtype() {
            return a.cast(DType::F32).pow(&b.cast(DType::F32)).cast(d);
        }
        let (a, b) = (a.float(), b.float());
        // A constant exponent (`x.pow(&Tensor::scalar(3.0))`) needs no per-element choice.
        if let Some(n) = other.node.op.const_value().map(|s| s.to_f64()) {
            if n.fract() == 0.0 && n.abs() <= MAX_MULTIPLIED_EXPONENT as f64 {
                let r = a.pow_by_squaring(n.abs() as u32);
                return if n < 0.0 { r.recip() } else { r };
            }
        }
        let (zero, one) = (a.scalar_like(0.0), a.scalar_like(1.0));
        let ab = b.abs();
        let is_inf = ab.eq(&a.scalar_like(f64::INFINITY));
        let is_int = b.binary_same(BinaryOp::Mod, &one).eq(&zero);
        // Exact path: a^|b| by squaring, each bit of |b| chosen per element.
        let mut r = one.clone();
        let mut p = a.clone();
        for bit in 0..MAX_MULTIPLIED_EXPONENT.ilog2() + 1 {
            let set = ab
                .binary_same(BinaryOp::Mod, &a.scalar_like((2u32 << bit) as f64))
                .ge(&a.scalar_like((1u32 << bit) as f64));
            r = set.where_(&r.mul(&p), &r);
            p = p.mul(&p);
        }
        let exact = b.lt(&zero).where_(&r.recip(), &r);
        let small = ab.le(&a.scalar_like(MAX_MULTIPLIED_EXPONENT as f64));
        // General path: |a|^b, signed for negative bases (±inf counts as even and integral).
        // A zero base is spelled out: WGSL leaves log2(0) indeterminate, and llvmpipe turns
        // exp2(b·log2(0)) into 0 for b < 0 when both are in one kernel.
        let zero_base = b.lt(&zero).where_(&a.scalar_like(f64::INFINITY), &zero);
        let magnitude = a
            .eq(&zero)
            .where_(&zero_base, &b.mul(&a.abs().log2()).exp2());
        let is_odd = b
            .binary_same(BinaryOp::Mod, &a.scalar_like(2.0))
            .abs()
            .eq(&one);
        // -0.0 counts as a negative base for the sign (its reciprocal is -inf), as in IEEE pow.
        let negative_base = a.lt(&zero).or(&a.recip().lt(&zero));
        let flip = negative_base.and(&is_odd);
        let signed = flip.where_(&magnitude.neg(), &magnitude);
        let undefined = a.lt(&zero).and(&is_int.or(&is_inf).logical_not());
        let general = undefined.where_(&a.scalar_like(f64::NAN), &signed);
        let result = is_int.and(&small).where_(&exact, &general);
        let is_one = b
            .eq(&zero)
            .or(&a.eq(&one))
            .or(&a.eq(&a.scalar_like(-1.0)).and(&is_inf));
        is_one.where_(&one, &result)
    }

    /// `self^n` by binary exponentiation: `n = 0` gives 1 (NaN too, as numpy).
    #[track_caller]
    fn pow_by_squaring(&self, mut n: u32) -> Tensor {
        let mut result: Option<Tensor> = None;
        let mut p = self.clone();
        while n > 0 {
            if n & 1 == 1 {
                result = Some(match result {
                    None => p.clone(),
                    Some(r) => r.mul(&p),
                });
            }
            n >>= 1;
            if n > 0 {
                p = p.mul(&p);
            }
        }
        result.unwrap_or_else(|| self.scalar_like(1.0))
    }
}
