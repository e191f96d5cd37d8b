//! Counter-based random numbers, as JAX and tinygrad make them: each element's bits are
//! Threefry-2x32 (20 rounds, Random123's) of (the seed, a counter the call takes plus the
//! element's index), computed inside the kernel that reads them from the index. So the same
//! seed gives the same bits on every device, under every opt list and fusion, and a `rand`
//! feeding an elementwise op is fused into it with no buffer of its own. Each call takes a
//! fresh range of counters, so two calls differ and [`manual_seed`] replays them.

use std::sync::Mutex;

use crate::dtype::{DType, Scalar};
use crate::error::Result;
use crate::graph::Op;
use crate::ops::BinaryOp;
use crate::runtime::Device;

use super::ops::{u32_const, user_op};
use super::{default_device, Tensor};

/// (seed, next counter) of the process's stream.
static STREAM: Mutex<(u64, u64)> = Mutex::new((0, 0));

/// Restarts the process's random stream from `seed`: the calls that follow return the same
/// numbers as after any earlier `manual_seed(seed)`.
pub fn manual_seed(seed: u64) {
    *STREAM.lock().unwrap_or_else(|e| e.into_inner()) = (seed, 0);
}

/// The seed and the first of `n` fresh counters.
fn take_counters(n: usize) -> (u64, u64) {
    let mut s = STREAM.lock().unwrap_or_else(|e| e.into_inner());
    let first = s.1;
    s.1 = s.1.wrapping_add(n as u64);
    (s.0, first)
}

/// Threefry-2x32's rotations, four per group of rounds.
const ROTATIONS: [u32; 8] = [13, 15, 26, 6, 17, 29, 16, 24];
/// Threefry's key-schedule parity constant.
const PARITY: u32 = 0x1BD1_1BDA;

impl Tensor {
    /// Two u32 words of Threefry-2x32-20 of counter `(c0, c1)` under `key`, elementwise.
    #[track_caller]
    fn threefry(c0: &Tensor, c1: &Tensor, key: (u32, u32)) -> (Tensor, Tensor) {
        let device = c0.device();
        let ks = [key.0, key.1, key.0 ^ key.1 ^ PARITY];
        let mut x0 = c0.add(&u32_const(ks[0], device));
        let mut x1 = c1.add(&u32_const(ks[1], device));
        for group in 0..5 {
            for &r in &ROTATIONS[(group % 2) * 4..(group % 2) * 4 + 4] {
                x0 = x0.add(&x1);
                let left = x1.binary(BinaryOp::Shl, &u32_const(r, device));
                let right = x1.binary(BinaryOp::Shr, &u32_const(32 - r, device));
                x1 = left
                    .binary_same(BinaryOp::Or, &right)
                    .binary_same(BinaryOp::Xor, &x0);
            }
            let inject = group as u32 + 1;
            x0 = x0.add(&u32_const(ks[(group + 1) % 3], device));
            x1 = x1.add(&u32_const(ks[(group + 2) % 3].wrapping_add(inject), device));
        }
        (x0, x1)
    }

    /// The two random words of each element of `shape`, from a fresh range of counters.
    #[track_caller]
    fn random_words(shape: &[usize], device: &Device) -> (Tensor, Tensor) {
        let n = super::ops::checked_numel("rand", shape);
        let (seed, first) = take_counters(n);
        let index = Tensor::iota(n, device)
            .cast(DType::U32)
            .reshape_usize(shape);
        let base_lo = u32_const(first as u32, device);
        let c0 = index.add(&base_lo);
        // The counter's high word: carry out of the low one.
        let carry = c0.lt(&base_lo).cast(DType::U32);
        let c1 = carry.add(&u32_const((first >> 32) as u32, device));
        Tensor::threefry(&c0, &c1, (seed as u32, (seed >> 32) as u32))
    }

    /// Uniform numbers in [0, 1) of `shape` on the default device: 24 random bits each, so
    /// every value is a multiple of 2^-24. `Err` when there is no default device.
    #[track_caller]
    pub fn rand(shape: &[usize], dtype: DType) -> Result<Tensor> {
        Ok(Tensor::rand_on(shape, dtype, &default_device()?))
    }

    /// [`Tensor::rand`] on `device`.
    ///
    /// ```
    /// use kiln_engine::{DType, Device, Tensor};
    /// kiln_engine::manual_seed(7);
    /// let a = Tensor::rand_on(&[3], DType::F32, &Device::cpu()).to_vec::<f32>()?;
    /// kiln_engine::manual_seed(7);
    /// let b = Tensor::rand_on(&[3], DType::F32, &Device::cpu()).to_vec::<f32>()?;
    /// assert_eq!(a, b);
    /// assert!(a.iter().all(|&x| (0.0..1.0).contains(&x)));
    /// # Ok::<(), kiln_engine::Error>(())
    /// ```
    #[track_caller]
    pub fn rand_on(shape: &[usize], dtype: DType, device: &Device) -> Tensor {
        let _op = user_op("rand");
        assert!(dtype.is_float(), "rand: {dtype} is not a float dtype");
        let (bits, _) = Tensor::random_words(shape, device);
        unit_interval(&bits).cast(dtype)
    }

    /// Standard normal numbers of `shape` on the default device (Box-Muller of two uniform
    /// words). `Err` when there is no default device.
    #[track_caller]
    pub fn randn(shape: &[usize], dtype: DType) -> Result<Tensor> {
        Ok(Tensor::randn_on(shape, dtype, &default_device()?))
    }

    /// [`Tensor::randn`] on `device`. The bits are the same on every device; the values go
    /// through `log`, `sqrt` and `cos`, which devices may round differently in the last bit.
    #[track_caller]
    pub fn randn_on(shape: &[usize], dtype: DType, device: &Device) -> Tensor {
        let _op = user_op("randn");
        assert!(dtype.is_float(), "randn: {dtype} is not a float dtype");
        let (w0, w1) = Tensor::random_words(shape, device);
        // 1 - u lies in (0, 1]: its log is finite.
        let u1 = unit_interval(&w0);
        let u1 = u1.scalar_like(1.0).sub(&u1);
        let u2 = unit_interval(&w1);
        let radius = u1.log().mul(&u1.scalar_like(-2.0)).sqrt();
        let angle = u2.mul(&u2.scalar_like(std::f64::consts::TAU));
        radius.mul(&angle.cos()).cast(dtype)
    }

    /// Random i32 integers in `[low, high)` of `shape` on the default device. `Err` when
    /// there is no default device.
    #[track_caller]
    pub fn randint(low: i64, high: i64, shape: &[usize]) -> Result<Tensor> {
        Ok(Tensor::randint_on(low, high, shape, &default_device()?))
    }

    /// [`Tensor::randint`] on `device`: a random word modulo the range (a bias of at most
    /// range / 2^32).
    #[track_caller]
    pub fn randint_on(low: i64, high: i64, shape: &[usize], device: &Device) -> Tensor {
        let _op = user_op("randint");
        assert!(
            low < high && low >= i32::MIN as i64 && high <= i32::MAX as i64 + 1,
            "randint: [{low}, {high}) is not a non-empty range of i32"
        );
        let (bits, _) = Tensor::random_words(shape, device);
        let range = u32_const((high - low) as u32, device).broadcast_to("randint", bits.shape());
        let offset = bits.node_of(
            Op::Binary(BinaryOp::Mod),
            vec![&bits, &range],
            DType::U32,
            bits.shape().to_vec(),
        );
        offset
            .cast(DType::I32)
            .add(&Tensor::constant(Scalar::I32(low as i32), &[], device))
    }

    /// [`Tensor::rand`] of this tensor's shape, dtype and device.
    #[track_caller]
    pub fn rand_like(&self) -> Tensor {
        Tensor::rand_on(self.shape(), self.dtype(), self.device())
    }

    /// [`Tensor::randn`] of this tensor's shape, dtype and device.
    #[track_caller]
    pub fn randn_like(&self) -> Tensor {
        Tensor::randn_on(self.shape(), self.dtype(), self.device())
    }

    /// Each element zeroed with probability `p`, the others scaled by `1 / (1 - p)` (inverted
    /// dropout), fused with whatever reads it.
    #[track_caller]
    pub fn dropout(&self, p: f64) -> Tensor {
        let _op = user_op("dropout");
        assert!((0.0..1.0).contains(&p), "dropout: p = {p} is not in [0, 1)");
        let x = self.float();
        if p == 0.0 {
            return x;
        }
        let keep = x.rand_like().ge(&x.scalar_like(p));
        keep.where_(&x.mul(&x.scalar_like(1.0 / (1.0 - p))), &x.scalar_like(0.0))
    }
}

/// The top 24 bits of each word as a multiple of 2^-24 in [0, 1): exact in f32.
#[track_caller]
fn unit_interval(bits: &Tensor) -> Tensor {
    let top = bits.binary(BinaryOp::Shr, &u32_const(8, bits.device()));
    top.cast(DType::F32).mul(&Tensor::constant(
        Scalar::F32(1.0 / 16_777_216.0),
        &[],
        bits.device(),
    ))
}
