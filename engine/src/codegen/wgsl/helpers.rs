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
}

/// f32 → f16 bits, `half::f16::from_f32` in integer arithmetic (WGSL's `pack2x16float` may
/// round either way): round to nearest even, overflow to infinity, f16 subnormals below
/// 2^-14, NaN kept quiet with its high payload bits.
const F16: &str = "fn kiln_f16_bits(x: f32) -> u32 {
  let b = bitcast<u32>(x);
  let sign = (b >> 16u) & 0x8000u;
  let e = (b >> 23u) & 0xffu;
  let man = b & 0x7fffffu;
  let special = sign | 0x7c00u | select(0u, 0x200u, man != 0u) | (man >> 13u);
  let he = i32(e) - 112i;
  let normal = (sign | (u32(max(he, 0i)) << 10u) | (man >> 13u))
    + select(0u, 1u, (man & 0x1000u) != 0u && (man & 0x2fffu) != 0u);
  let m = man | 0x800000u;
  let rb = 1u << u32(clamp(13i - he, 13i, 23i));
  let sub = sign | ((m >> u32(clamp(14i - he, 14i, 24i)))
    + select(0u, 1u, (m & rb) != 0u && (m & (3u * rb - 1u)) != 0u));
  let finite = select(select(normal, sign | 0x7c00u, he >= 31i), select(sign, sub, he >= -10i), he <= 0i);
  return select(finite, special, e == 0xffu);
}
fn kiln_f16_value(h: u32) -> f32 {
  let sign = (h & 0x8000u) << 16u;
  let e = (h >> 10u) & 0x1fu;
  let m = h & 0x3ffu;
  let normal = bitcast<f32>(sign | ((e + 112u) << 23u) | (m << 13u));
  let special = bitcast<f32>(sign | 0x7f800000u | select(0u, 0x400000u | (m << 13u), m != 0u));
  let sub = bitcast<f32>(sign | bitcast<u32>(f32(m) * 5.9604645e-8f));
  return select(select(normal, special, e == 31u), sub, e == 0u);
}
fn kiln_round_f16(x: f32) -> f32 { return kiln_f16_value(kiln_f16_bits(x)); }
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
        if self.nan_max_min || self.float_to_int || self.subgroup_nan {
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
        if self.i8 {
            s.push_str("fn kiln_wrap_i8(x: i32) -> i32 { return (x << 24u) >> 24u; }\n");
        }
        s
    }
}
