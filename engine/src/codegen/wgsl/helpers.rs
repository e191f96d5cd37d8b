//! The WGSL helper functions a kernel calls for semantics no WGSL builtin gives by itself:
//! numpy's NaN rules, Rust's float-to-int `as`, and the bit-exact conversions of the packed
//! dtypes (f16 and bf16 rounded to nearest even as `half` does, i8 sign-extended).

/// Which helpers the body calls (each is declared once, above `main`).
#[derive(Default)]
pub(super) struct Helpers {
    /// numpy's NaN-propagating `maximum`/`minimum` (WGSL's `max`/`min` may return the other
    /// operand, and a driver may assume no NaNs, so NaN is tested on the bits).
    pub nan_max_min: bool,
    /// Rust's `as` for f32 → i32/u32: truncate, saturate at the bounds, NaN gives 0 (WGSL
    /// leaves NaN indeterminate and clamps to the largest f32 below the bound).
    pub float_to_int: bool,
    /// A subgroup max/min of floats that is NaN when any lane's value is (what
    /// `subgroupMax` leaves to the driver).
    pub subgroup_nan: bool,
    /// f16 bits <-> f32, and an f32 rounded to the nearest f16.
    pub f16: bool,
    /// bf16 bits <-> f32, and an f32 rounded to the nearest bf16.
    pub bf16: bool,
    /// An i32 wrapped to i8's range (sign-extended from its low byte).
    pub i8: bool,
    /// `nan_max_min` for native f16.
    pub nan_max_min_f16: bool,
    /// `e^x` with a range reduction.
    pub exp: bool,
    /// The natural logarithm, accurate near 1.
    pub log: bool,
    /// An f32 from its bits at run time: how infinities and NaN are written (`reg_literal`).
    pub f32_bits: bool,
}

/// `e^x = 2^(x·log2e)` with the product split so that no rounding is lost: `x = hi + lo`
/// (`hi` keeps 13 significant bits, by masking the bits, which no optimizer sees through),
/// `log2e = L_HI + L_LO` (`L_HI` 11 bits), so `hi·L_HI` is exact and the small rest
/// `v = hi·L_LO + lo·log2e` (|v| < 0.05) goes through a cubic for `2^v` (truncation under
/// 6e-8): `2^(hi·L_HI) · 2^v`. Plain `exp2(x · log2e)` rounds the product, an error growing
/// with `|x|`; `exp2(a) · exp2(b)` would be refolded into `exp2(a + b)` by shader compilers
/// (NIR does). Past |x| = 200 the result is inf or 0, which `exp2` gives by itself (an
/// infinite `x` would make `lo` NaN).
const EXP: &str = "fn kiln_exp(x: f32) -> f32 {
  let hi = bitcast<f32>(bitcast<u32>(x) & 0xfffff800u);
  let v = hi * 3.12228396e-4f + (x - hi) * 1.44269502f;
  let base = exp2(hi * 1.4423828125f);
  let p = 1.0f + v * (0.693147181f + v * (0.240226507f + v * 0.0555041087f));
  return select(base * p, base, abs(x) > 200.0f);
}
";

/// `log(x) = log2(x) · ln2`, and within 0.25 of 1 the series of `2 atanh(d / (2 + d))`,
/// `d = x - 1` (exact there), to the 9th power (truncation under 4e-10 relative): WGSL lets
/// `log2` be off by 2^-21 absolute near 1, a large relative error on results near 0
/// (lavapipe's: 1.4e-6 at x = 0.95).
const LOG: &str = "fn kiln_log(x: f32) -> f32 {
  let d = x - 1.0f;
  let s = d / (2.0f + d);
  let s2 = s * s;
  let series = 2.0f * s * (1.0f + s2 * (0.333333333f + s2 * (0.2f + s2 * (0.142857143f + s2 * 0.111111111f))));
  return select(log2(x) * 0.693147181f, series, abs(d) < 0.25f);
}
";

/// f32 → f16 bits, `half::f16::from_f32` in integer arithmetic (WGSL's `pack2x16float` may
/// round either way): round to nearest even, overflow to infinity, below 2^-14 a multiple of
/// 2^-24 (an f16 subnormal's bits are that multiple), NaN kept quiet with its high payload
/// bits. `kiln_round_f16` gives the value of those bits without encoding them. f16 → f32 is
/// exact, a subnormal through an exact product (WGSL's `unpack2x16float` may flush it).
const F16: &str = "fn kiln_f16_bits(x: f32) -> u32 {
  let b = bitcast<u32>(x);
  let a = b & 0x7fffffffu;
  let s = min(126u - min(a >> 23u, 112u), 25u);
  let m = (a & 0x7fffffu) | 0x800000u;
  let rb = 1u << (s - 1u);
  let sub = (m >> s) + select(0u, 1u, (m & rb) != 0u && (m & (3u * rb - 1u)) != 0u);
  let normal = select(((a + 0xfffu + ((a >> 13u) & 1u)) - 0x38000000u) >> 13u, 0x7c00u, a >= 0x477ff000u);
  let nan = 0x7e00u | ((a >> 13u) & 0x3ffu);
  return ((b >> 16u) & 0x8000u) | select(select(sub, normal, a >= 0x38800000u), nan, a > 0x7f800000u);
}
fn kiln_f16_value(h: u32) -> f32 {
  let a = (h & 0x7fffu) << 13u;
  let e = a & 0x0f800000u;
  let special = (a + 0x70000000u) | select(0u, 0x400000u, (h & 0x3ffu) != 0u);
  let r = select(select(a + 0x38000000u, special, e == 0x0f800000u), bitcast<u32>(f32(h & 0x3ffu) * 5.9604645e-8f), e == 0u);
  return bitcast<f32>(r | ((h & 0x8000u) << 16u));
}
fn kiln_round_f16(x: f32) -> f32 {
  let b = bitcast<u32>(x);
  let a = b & 0x7fffffffu;
  let sign = b & 0x80000000u;
  let normal = select((b + 0xfffu + ((b >> 13u) & 1u)) & 0xffffe000u, sign | 0x7f800000u, a >= 0x477ff000u);
  let s = min(126u - min(a >> 23u, 112u), 25u);
  let m = (a & 0x7fffffu) | 0x800000u;
  let rb = 1u << (s - 1u);
  let up = select(0u, 1u, (m & rb) != 0u && (m & (3u * rb - 1u)) != 0u);
  let sub = sign | bitcast<u32>(f32((m >> s) + up) * 5.9604645e-8f);
  return select(bitcast<f32>(select(sub, normal, a >= 0x38800000u)), bitcast<f32>(b | 0x400000u), a > 0x7f800000u);
}
";

/// f32 → bf16 bits, `half::bf16::from_f32`: round to nearest even, NaN made quiet.
const BF16: &str = "fn kiln_bf16_bits(x: f32) -> u32 {
  let b = bitcast<u32>(x);
  let up = select(0u, 1u, (b & 0x8000u) != 0u && (b & 0x17fffu) != 0u);
  return select((b >> 16u) + up, (b >> 16u) | 0x40u, (b & 0x7fffffffu) > 0x7f800000u);
}
fn kiln_bf16_value(h: u32) -> f32 { return bitcast<f32>(h << 16u); }
fn kiln_round_bf16(x: f32) -> f32 { return kiln_bf16_value(kiln_bf16_bits(x)); }
";

impl Helpers {
    /// The declarations of the helpers used.
    pub fn source(&self) -> String {
        let mut s = String::new();
        if self.f32_bits {
            s.push_str("fn kiln_f32_bits(b: u32) -> f32 { return bitcast<f32>(b); }\n");
        }
        if self.nan_max_min || self.nan_max_min_f16 || self.float_to_int || self.subgroup_nan {
            s.push_str(
                "fn kiln_isnan(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u; }\n",
            );
        }
        if self.nan_max_min {
            s.push_str(concat!(
                "fn kiln_max(a: f32, b: f32) -> f32 { return select(max(a, b), a + b, kiln_isnan(a) || kiln_isnan(b)); }\n",
                "fn kiln_min(a: f32, b: f32) -> f32 { return select(min(a, b), a + b, kiln_isnan(a) || kiln_isnan(b)); }\n",
            ));
        }
        if self.nan_max_min_f16 {
            s.push_str(concat!(
                "fn kiln_max_h(a: f16, b: f16) -> f16 { return select(max(a, b), a + b, kiln_isnan(f32(a)) || kiln_isnan(f32(b))); }\n",
                "fn kiln_min_h(a: f16, b: f16) -> f16 { return select(min(a, b), a + b, kiln_isnan(f32(a)) || kiln_isnan(f32(b))); }\n",
            ));
        }
        if self.subgroup_nan {
            s.push_str(concat!(
                "fn kiln_subgroup_max(x: f32) -> f32 { let nan = subgroupMax(select(0u, 1u, kiln_isnan(x))); return select(subgroupMax(x), bitcast<f32>(0x7fc00000u), nan != 0u); }\n",
                "fn kiln_subgroup_min(x: f32) -> f32 { let nan = subgroupMax(select(0u, 1u, kiln_isnan(x))); return select(subgroupMin(x), bitcast<f32>(0x7fc00000u), nan != 0u); }\n",
            ));
        }
        if self.float_to_int {
            s.push_str(concat!(
                "fn kiln_f32_to_i32(x: f32) -> i32 { return select(select(i32(clamp(x, -2147483648.0f, 2147483520.0f)), 2147483647i, x >= 2147483648.0f), 0i, kiln_isnan(x)); }\n",
                "fn kiln_f32_to_u32(x: f32) -> u32 { return select(select(u32(clamp(x, 0.0f, 4294967040.0f)), 4294967295u, x >= 4294967296.0f), 0u, kiln_isnan(x)); }\n",
            ));
        }
        if self.f16 {
            s.push_str(F16);
        }
        if self.bf16 {
            s.push_str(BF16);
        }
        if self.exp {
            s.push_str(EXP);
        }
        if self.log {
            s.push_str(LOG);
        }
        if self.i8 {
            s.push_str("fn kiln_wrap_i8(x: i32) -> i32 { return (x << 24u) >> 24u; }\n");
        }
        s
    }
}
