//! The packed dtypes (f16, bf16, u8, i8): conversions bit-exact against `half` and Rust's
//! `as`, arithmetic three ways (oracle, CPU device, wgpu) over odd sizes and views, stores of
//! several lanes into one word under every kind of opt, f32 accumulation, and bad input.

mod common;
use common::*;
use kiln::{bf16, f16, DType, Opt, OptOp, Scalar, Tensor};

const PACKED: [DType; 4] = [DType::F16, DType::BF16, DType::U8, DType::I8];

/// f32 values around every rounding case of f16 and bf16: each f16's value, the midpoints
/// between neighbours (ties) and one f32 ulp either side of them, overflow, subnormals,
/// infinities, NaN and a spread of random bit patterns.
fn rounding_cases() -> Vec<f32> {
    let mut out = vec![
        0.0,
        -0.0,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
        f32::MAX,
        f32::MIN_POSITIVE,
        1e-45,
        65504.0,
        65520.0,
        65519.99,
        -65520.0,
        5.96e-8,
        2.98e-8,
        2.9802322e-8,
        1e-40,
    ];
    for h in (0u16..0x7c00).step_by(7) {
        let lo = f16::from_bits(h).to_f32();
        let hi = f16::from_bits(h + 1).to_f32();
        let mid = (lo as f64 + hi as f64) / 2.0;
        let mid = mid as f32;
        for v in [
            lo,
            mid,
            f32::from_bits(mid.to_bits() + 1),
            f32::from_bits(mid.to_bits() - 1),
        ] {
            out.extend([v, -v]);
        }
    }
    let mut r = Rng::new(7);
    out.extend((0..20_000).map(|_| f32::from_bits(r.next() as u32)));
    // Ties of bf16: 16 low bits exactly 0x8000.
    out.extend((0..2_000).map(|_| f32::from_bits((r.next() as u32 & 0xffff_0000) | 0x8000)));
    out
}

#[test]
fn f32_to_f16_and_bf16_round_to_nearest_even_as_half_does() {
    let values = rounding_cases();
    for dev in devices() {
        let x = Tensor::from_slice_on(&values, &[values.len()], &dev).unwrap();
        let h = x.cast(DType::F16).to_vec::<f16>().unwrap();
        let b = x.cast(DType::BF16).to_vec::<bf16>().unwrap();
        // Rounded in a register and used there (not only stored): the value of those bits.
        let hv = x.cast(DType::F16).cast(DType::F32).to_vec::<f32>().unwrap();
        let bv = x
            .cast(DType::BF16)
            .cast(DType::F32)
            .to_vec::<f32>()
            .unwrap();
        for (i, &v) in values.iter().enumerate() {
            // A native f16 may make a NaN canonical: only NaN's payload may differ.
            let want = f16::from_f32(v);
            assert!(
                h[i].to_bits() == want.to_bits() || (h[i].is_nan() && want.is_nan()),
                "f32 {v:e} ({:#x}) to f16 on {}: {:#06x}, want {:#06x}",
                v.to_bits(),
                dev.name(),
                h[i].to_bits(),
                want.to_bits()
            );
            assert_eq!(
                b[i].to_bits(),
                bf16::from_f32(v).to_bits(),
                "f32 {v:e} ({:#x}) to bf16 on {}",
                v.to_bits(),
                dev.name()
            );
            for (got, want, what) in [
                (hv[i], h[i].to_f32(), "f16"),
                (bv[i], b[i].to_f32(), "bf16"),
            ] {
                assert!(
                    got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()),
                    "f32 {v:e} ({:#x}) rounded to {what} in a register on {}: {got:e}, want {want:e}",
                    v.to_bits(),
                    dev.name()
                );
            }
        }
    }
}

#[test]
fn every_f16_and_bf16_widens_exactly() {
    let all: Vec<u16> = (0..=u16::MAX).collect();
    let halves: Vec<f16> = all.iter().map(|&b| f16::from_bits(b)).collect();
    let brains: Vec<bf16> = all.iter().map(|&b| bf16::from_bits(b)).collect();
    for dev in devices() {
        let h = Tensor::from_slice_on(&halves, &[all.len()], &dev).unwrap();
        let b = Tensor::from_slice_on(&brains, &[all.len()], &dev).unwrap();
        let hf = h.cast(DType::F32).to_vec::<f32>().unwrap();
        let bf = b.cast(DType::F32).to_vec::<f32>().unwrap();
        for (i, &bits) in all.iter().enumerate() {
            let (want_h, want_b) = (halves[i].to_f32(), brains[i].to_f32());
            // NaN payloads pass through f32 registers, where a driver may quiet them.
            assert!(
                hf[i].to_bits() == want_h.to_bits() || (hf[i].is_nan() && want_h.is_nan()),
                "f16 {bits:#06x} on {}: {} want {}",
                dev.name(),
                hf[i],
                want_h
            );
            assert!(
                bf[i].to_bits() == want_b.to_bits() || (bf[i].is_nan() && want_b.is_nan()),
                "bf16 {bits:#06x} on {}",
                dev.name()
            );
        }
        // And back: every f16 survives f16 -> f32 -> f16 through a kernel.
        let back = h.cast(DType::F32).cast(DType::F16).to_vec::<f16>().unwrap();
        for (i, v) in back.iter().enumerate() {
            assert!(
                v.to_bits() == all[i] || (v.is_nan() && halves[i].is_nan()),
                "f16 {:#06x} round trip on {}",
                all[i],
                dev.name()
            );
        }
    }
}

/// Every dtype to every dtype, over values at the edges of each, against `Scalar::cast`
/// (Rust's `as`, `half`'s rounding) and bit for bit on both devices.
#[test]
fn casts_between_every_pair_agree_bit_for_bit() {
    let edges = [
        0.0,
        -0.0,
        1.0,
        -1.0,
        0.5,
        -2.5,
        127.0,
        128.0,
        -128.0,
        -129.0,
        255.0,
        256.0,
        300.7,
        -300.7,
        65504.0,
        70000.0,
        3e9,
        -3e9,
        1e-6,
        f64::INFINITY,
        f64::NAN,
    ];
    for from in DType::ALL {
        let values: Vec<Scalar> = edges.iter().map(|&v| Scalar::from_f64(v, from)).collect();
        for to in DType::ALL {
            let want: Vec<Scalar> = values.iter().map(|s| s.cast(to)).collect();
            for dev in devices() {
                let x = upload(&values, from, &dev);
                let got = read(&x.cast(to));
                for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                    let same =
                        g.to_bits() == w.to_bits() || (g.to_f64().is_nan() && w.to_f64().is_nan());
                    assert!(
                        same,
                        "{from} {:?} to {to} on {}: got {g:?}, want {w:?} (element {i})",
                        values[i],
                        dev.name()
                    );
                }
            }
        }
    }
}

/// A tensor of `dtype` holding `values` on `dev`.
fn upload(values: &[Scalar], dtype: DType, dev: &kiln::Device) -> Tensor {
    fn typed<T: kiln::Element>(v: &[Scalar], dev: &kiln::Device) -> Tensor {
        let data: Vec<T> = v.iter().map(|s| T::from_scalar(*s).unwrap()).collect();
        Tensor::from_slice_on(&data, &[data.len()], dev).unwrap()
    }
    match dtype {
        DType::F32 => typed::<f32>(values, dev),
        DType::I32 => typed::<i32>(values, dev),
        DType::U32 => typed::<u32>(values, dev),
        DType::Bool => typed::<bool>(values, dev),
        DType::F16 => typed::<f16>(values, dev),
        DType::BF16 => typed::<bf16>(values, dev),
        DType::U8 => typed::<u8>(values, dev),
        DType::I8 => typed::<i8>(values, dev),
        other => panic!("no upload for {other}"),
    }
}

#[test]
fn arithmetic_in_each_packed_dtype_agrees_three_ways_over_odd_sizes_and_views() {
    for d in PACKED {
        for shape in [vec![1], vec![7], vec![5, 3], vec![33, 17], vec![1, 9, 1]] {
            let a = rand_input(d, &shape, 1);
            let b = rand_input(d, &shape, 2);
            let c = rand_input(d, &shape, 3);
            check3(
                &format!("(a+b)*c-a {d} {shape:?}"),
                &[a.clone(), b.clone(), c],
                |t| &(&(&t[0] + &t[1]) * &t[2]) - &t[0],
            );
            check3(
                &format!("max/lt/where {d} {shape:?}"),
                &[a.clone(), b.clone()],
                |t| t[0].lt(&t[1]).where_(&t[0].maximum(&t[1]), &t[1].neg()),
            );
            if d.is_float() {
                check3(
                    &format!("div/exp {d} {shape:?}"),
                    &[a.clone(), b.clone()],
                    |t| &t[0].div(&t[1].abs().add(&t[1].ones_like())) + &t[0].exp(),
                );
            } else {
                check3(
                    &format!("bits {d} {shape:?}"),
                    &[a.clone(), b.clone()],
                    |t| &(&t[0] ^ &t[1]) | &(&t[0] >> 3),
                );
            }
        }
        // Views: transposed, flipped, sliced and broadcast reads of packed elements, at
        // offsets that are not word-aligned.
        let x = rand_input(d, &[9, 7], 4);
        check3(&format!("transpose {d}"), &[x.clone()], |t| {
            &t[0].transpose(0, 1) + &t[0].transpose(0, 1)
        });
        check3(&format!("flip {d}"), &[x.clone()], |t| {
            t[0].flip(&[0, 1]).contiguous()
        });
        check3(&format!("shrink {d}"), &[x.clone()], |t| {
            &t[0].shrink(&[(1, 8), (3, 6)]) * &t[0].shrink(&[(0, 7), (1, 4)])
        });
        let row = rand_input(d, &[1, 7], 5);
        check3(&format!("broadcast {d}"), &[x, row], |t| &t[0] * &t[1]);
    }
}

#[test]
fn packed_stores_are_right_under_every_kind_of_opt() {
    // Rows of 13 or 14 elements end mid-word for f16 or u8, so lanes of two rows share
    // words; upcasts make vector stores of whole words (f16 by 2, u8 by 4) or of part of one.
    let cases: Vec<(Vec<usize>, Vec<Opt>)> = vec![
        (vec![5, 13], vec![]),
        (vec![5, 13], vec![Opt::new(OptOp::Local, 1, 13)]),
        (vec![5, 13], vec![Opt::new(OptOp::NoLocals, 0, 0)]),
        (vec![6, 14], vec![Opt::new(OptOp::Upcast, 1, 2)]),
        (vec![6, 14], vec![Opt::new(OptOp::Upcast, 0, 2)]),
        (
            vec![6, 14],
            vec![Opt::new(OptOp::Local, 0, 2), Opt::new(OptOp::Upcast, 1, 2)],
        ),
        (vec![6, 12], vec![Opt::new(OptOp::Upcast, 1, 4)]),
        (
            vec![6, 12],
            vec![Opt::new(OptOp::Upcast, 1, 4), Opt::new(OptOp::Upcast, 0, 2)],
        ),
    ];
    for d in PACKED {
        for (shape, opts) in &cases {
            let a = rand_input(d, shape, 6);
            let b = rand_input(d, shape, 7);
            check_with_opts(&format!("{d} {shape:?} {opts:?}"), &[a, b], opts, |t| {
                &t[0] + &t[1]
            });
        }
        let a = rand_input(d, &[8, 13], 6);
        // Which way the stores went: bits of part of a word by atomics, whole words plainly.
        for (opts, atomic) in [(vec![], true), (vec![Opt::new(OptOp::Upcast, 1, 4)], false)] {
            let x = rand_input(d, &[6, 12], 6).on(&kiln::Device::cpu());
            let y = &x + &x;
            let mut s = kiln::schedule(&[&y]).unwrap();
            s.set_opts(0, &opts).unwrap();
            let wgsl = s.kernels()[0].wgsl().unwrap();
            assert_eq!(wgsl.contains("atomicOr"), atomic, "{d} {opts:?}:\n{wgsl}");
        }
        // A reduction whose outputs (one per row) share words across workgroups.
        for opts in [vec![], vec![Opt::new(OptOp::Group, 0, 4)]] {
            check_with_opts(&format!("{d} max {opts:?}"), &[a.clone()], &opts, |t| {
                t[0].max(&[0])
            });
        }
    }
}

#[test]
fn f16_and_bf16_sums_and_matmuls_accumulate_in_f32() {
    for dev in devices() {
        // 3,000 ones: an f16 accumulator would stop at 2,048 (2,049 is not an f16).
        let ones = Tensor::full_on(&[3000], 1.0, DType::F16, &dev);
        let s = ones.sum(&[0]);
        assert_eq!(s.dtype(), DType::F16);
        assert_eq!(s.item::<f16>().unwrap().to_f32(), 3000.0, "{}", dev.name());
        let b = Tensor::full_on(&[3000], 1.0, DType::BF16, &dev);
        // 3,000 is not a bf16: the f32 sum rounds once, to 3,008.
        assert_eq!(b.sum(&[0]).item::<bf16>().unwrap().to_f32(), 3008.0);
        // A matmul's products are not rounded to f16 before they are summed.
        let x = rand_input(DType::F32, &[17, 40], 8).on(&dev);
        let y = rand_input(DType::F32, &[40, 9], 9).on(&dev);
        let (xh, yh) = (x.cast(DType::F16), y.cast(DType::F16));
        let want = xh
            .cast(DType::F32)
            .matmul(&yh.cast(DType::F32))
            .cast(DType::F16);
        let got = xh.matmul(&yh);
        assert_eq!(got.dtype(), DType::F16);
        assert_eq!(read(&got), read(&want), "{}", dev.name());
        // u8 and i8 sums widen to u32 and i32, as numpy's widen to 64 bits.
        let u = Tensor::full_on(&[300], 200.0, DType::U8, &dev);
        assert_eq!(u.sum(&[0]).to_vec::<u32>().unwrap(), vec![60_000]);
        let i = Tensor::full_on(&[300], -100.0, DType::I8, &dev);
        assert_eq!(i.sum(&[0]).to_vec::<i32>().unwrap(), vec![-30_000]);
        assert_eq!(u.max(&[0]).dtype(), DType::U8);
    }
}

#[test]
fn u8_and_i8_wrap_like_numpy() {
    for dev in devices() {
        let u = Tensor::from_slice_on(&[250u8, 3, 0, 128], &[4], &dev).unwrap();
        assert_eq!(
            (&u + 10u8 as i32).to_vec::<u8>().unwrap(),
            vec![4, 13, 10, 138]
        );
        assert_eq!(u.neg().to_vec::<u8>().unwrap(), vec![6, 253, 0, 128]);
        assert_eq!((&u * &u).to_vec::<u8>().unwrap(), vec![36, 9, 0, 0]);
        assert_eq!((&u << 1).to_vec::<u8>().unwrap(), vec![244, 6, 0, 0]);
        assert_eq!((&u << 8).to_vec::<u8>().unwrap(), vec![0; 4]);
        let i = Tensor::from_slice_on(&[120i8, -128, -1, 64], &[4], &dev).unwrap();
        assert_eq!((&i + 10).to_vec::<i8>().unwrap(), vec![-126, -118, 9, 74]);
        assert_eq!((&i >> 9).to_vec::<i8>().unwrap(), vec![0, -1, -1, 0]);
        assert_eq!(i.abs().to_vec::<i8>().unwrap(), vec![120, -128, 1, 64]);
        assert_eq!((!&i).to_vec::<i8>().unwrap(), vec![-121, 127, 0, -65]);
        assert_eq!(
            i.lt(&u.cast(DType::I8)).to_vec::<bool>().unwrap(),
            vec![false, true, true, false]
        );
    }
}

#[test]
fn packed_dtypes_promote_and_round_trip_through_the_host() {
    let dev = kiln::Device::cpu();
    let h = Tensor::from_slice_on(&[f16::from_f32(1.5); 3], &[3], &dev).unwrap();
    let b = Tensor::from_slice_on(&[bf16::from_f32(2.0); 3], &[3], &dev).unwrap();
    assert_eq!((&h + &b).dtype(), DType::F32);
    assert_eq!((&h + 1).dtype(), DType::F16);
    assert_eq!((&h * 2.5).to_vec::<f16>().unwrap()[0].to_f32(), 3.75);
    let u = Tensor::from_slice_on(&[1u8, 2, 3], &[3], &dev).unwrap();
    let i = Tensor::from_slice_on(&[1i8, -2, 3], &[3], &dev).unwrap();
    assert_eq!((&u + &i).to_vec::<i32>().unwrap(), vec![2, 0, 6]);
    assert_eq!(u.shrink(&[(2, 3)]).reshape(&[]).item::<u8>().unwrap(), 3);
    assert!(format!("{h}").contains("1.5"), "{h}");
}

#[test]
fn ops_name_the_dtype_they_do_not_take() {
    let dev = kiln::Device::cpu();
    let h = Tensor::full_on(&[2], 1.0, DType::F16, &dev);
    // An empty f16 tensor: a kernel that binds an f16 buffer and never reads it.
    for d in devices() {
        let e = Tensor::from_slice_on::<f16>(&[], &[0, 3], &d).unwrap();
        assert_eq!(e.sum(&[0]).to_vec::<f16>().unwrap(), vec![f16::ZERO; 3]);
    }
    let msg = panic_message(|| {
        let _ = &h & &h;
    });
    assert!(msg.contains("and") && msg.contains("f16"), "{msg}");
    let msg = panic_message(|| {
        let _ = h.shl(&h);
    });
    assert!(msg.contains("shl") && msg.contains("f16"), "{msg}");
    let b = Tensor::full_on(&[2], 1.0, DType::Bool, &dev);
    let msg = panic_message(|| {
        let _ = b.floor();
    });
    assert!(msg.contains("floor") && msg.contains("bool"), "{msg}");
}

const PACKED_CHILD: &str = "KILN_DTYPES_PACKED_CHILD";

/// Every test of this file once more in a child process with `KILN_F16=0`: f16 packed on wgpu
/// too, as on an adapter without SHADER_F16 (the choice is made once per process), so that
/// both ways of running f16 are checked where the adapter has it.
#[test]
fn f16_packed_on_wgpu_passes_the_same_tests() {
    if std::env::var(PACKED_CHILD).is_ok() {
        if let Some(g) = gpu() {
            assert!(
                !g.native_f16(),
                "KILN_F16=0 but {} runs f16 natively",
                g.name()
            );
        }
        return;
    }
    if let Some(g) = gpu() {
        println!("{}: f16 native: {}", g.name(), g.native_f16());
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .env(PACKED_CHILD, "1")
        .env("KILN_F16", "0")
        .output()
        .expect("run the child");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("test result: ok. 10 passed"),
        "the child with KILN_F16=0 failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
