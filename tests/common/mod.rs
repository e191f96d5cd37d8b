//! Shared test harness: build an expression on the CPU device and on wgpu, and check that the
//! graph oracle, the CPU interpreter and wgpu agree.
#![allow(dead_code)]

use kiln::{bf16, f16, DType, Device, Scalar, Tensor};

/// The wgpu device, or `None` (with a note) when there is no adapter. With
/// `KILN_REQUIRE_GPU=1` a missing adapter fails the test instead.
pub fn gpu() -> Option<Device> {
    match Device::gpu() {
        Ok(d) => Some(d),
        Err(e) if std::env::var("KILN_REQUIRE_GPU").is_ok_and(|v| v == "1") => {
            panic!("KILN_REQUIRE_GPU=1 but no wgpu adapter: {e}")
        }
        Err(e) => {
            eprintln!("skipping the wgpu leg: {e}");
            None
        }
    }
}

/// The devices every differential test runs on.
pub fn devices() -> Vec<Device> {
    let mut d = vec![Device::cpu()];
    d.extend(gpu());
    d
}

/// Host data for one input.
#[derive(Clone, Debug)]
pub enum Data {
    F32(Vec<f32>),
    I32(Vec<i32>),
    U32(Vec<u32>),
    Bool(Vec<bool>),
    F16(Vec<f16>),
    BF16(Vec<bf16>),
    U8(Vec<u8>),
    I8(Vec<i8>),
}

impl Data {
    pub fn len(&self) -> usize {
        match self {
            Data::F32(v) => v.len(),
            Data::I32(v) => v.len(),
            Data::U32(v) => v.len(),
            Data::Bool(v) => v.len(),
            Data::F16(v) => v.len(),
            Data::BF16(v) => v.len(),
            Data::U8(v) => v.len(),
            Data::I8(v) => v.len(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Input {
    pub data: Data,
    pub shape: Vec<usize>,
}

impl Input {
    pub fn on(&self, dev: &Device) -> Tensor {
        match &self.data {
            Data::F32(v) => Tensor::from_slice_on(v, &self.shape, dev),
            Data::I32(v) => Tensor::from_slice_on(v, &self.shape, dev),
            Data::U32(v) => Tensor::from_slice_on(v, &self.shape, dev),
            Data::Bool(v) => Tensor::from_slice_on(v, &self.shape, dev),
            Data::F16(v) => Tensor::from_slice_on(v, &self.shape, dev),
            Data::BF16(v) => Tensor::from_slice_on(v, &self.shape, dev),
            Data::U8(v) => Tensor::from_slice_on(v, &self.shape, dev),
            Data::I8(v) => Tensor::from_slice_on(v, &self.shape, dev),
        }
        .expect("upload")
    }
}

/// Deterministic pseudo-random values (xorshift), so failures reproduce.
pub struct Rng(u64);
impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E3779B97F4A7C15) | 1)
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    /// Uniform in [lo, hi).
    pub fn f32(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * ((self.next() >> 40) as f32 / (1u64 << 24) as f32)
    }
}

/// An i32 input.
pub fn i32s(data: Vec<i32>, shape: &[usize]) -> Input {
    Input {
        data: Data::I32(data),
        shape: shape.to_vec(),
    }
}

/// `n` indices in `[-len, len)` (negative ones count from the end; many repeats when `n` is
/// large against `len`).
pub fn indices(n: usize, len: usize, seed: u64) -> Vec<i32> {
    let mut r = Rng::new(seed);
    (0..n)
        .map(|_| (r.next() % (2 * len as u64)) as i32 - len as i32)
        .collect()
}

/// The dtypes besides f32, for the tests that check every dtype moves its bits.
pub const OTHER_DTYPES: [DType; 7] = [
    DType::I32,
    DType::U32,
    DType::F16,
    DType::BF16,
    DType::U8,
    DType::I8,
    DType::Bool,
];

pub fn rand_input(dtype: DType, shape: &[usize], seed: u64) -> Input {
    let n: usize = shape.iter().product();
    let mut r = Rng::new(seed);
    let data = match dtype {
        DType::F32 => Data::F32((0..n).map(|_| r.f32(-2.0, 2.0)).collect()),
        DType::I32 => Data::I32((0..n).map(|_| (r.next() % 41) as i32 - 20).collect()),
        DType::U32 => Data::U32((0..n).map(|_| (r.next() % 40) as u32).collect()),
        DType::Bool => Data::Bool((0..n).map(|_| r.next().is_multiple_of(2)).collect()),
        DType::F16 => Data::F16((0..n).map(|_| f16::from_f32(r.f32(-2.0, 2.0))).collect()),
        DType::BF16 => Data::BF16((0..n).map(|_| bf16::from_f32(r.f32(-2.0, 2.0))).collect()),
        DType::U8 => Data::U8((0..n).map(|_| r.next() as u8).collect()),
        DType::I8 => Data::I8((0..n).map(|_| r.next() as i8).collect()),
        other => panic!("no random data for {other}"),
    };
    Input {
        data,
        shape: shape.to_vec(),
    }
}

pub fn positive_input(shape: &[usize], seed: u64) -> Input {
    positive_input_as(DType::F32, shape, seed)
}

/// Values in [0.1, 3) of a float dtype: the domain of log, sqrt and recip.
pub fn positive_input_as(dtype: DType, shape: &[usize], seed: u64) -> Input {
    let n: usize = shape.iter().product();
    let mut r = Rng::new(seed);
    let values = (0..n).map(|_| r.f32(0.1, 3.0));
    let data = match dtype {
        DType::F32 => Data::F32(values.collect()),
        DType::F16 => Data::F16(values.map(f16::from_f32).collect()),
        DType::BF16 => Data::BF16(values.map(bf16::from_f32).collect()),
        other => panic!("no positive data for {other}"),
    };
    Input {
        data,
        shape: shape.to_vec(),
    }
}

/// Reads any tensor as scalars.
pub fn read(t: &Tensor) -> Vec<Scalar> {
    fn all<T: kiln::Element>(t: &Tensor) -> Vec<Scalar> {
        t.to_vec::<T>()
            .unwrap()
            .into_iter()
            .map(T::to_scalar)
            .collect()
    }
    match t.dtype() {
        DType::F32 => all::<f32>(t),
        DType::I32 => all::<i32>(t),
        DType::U32 => all::<u32>(t),
        DType::Bool => all::<bool>(t),
        DType::F16 => all::<f16>(t),
        DType::BF16 => all::<bf16>(t),
        DType::U8 => all::<u8>(t),
        DType::I8 => all::<i8>(t),
        other => panic!("cannot read {other}"),
    }
}

/// tinygrad's default tolerances for f32 (atol 1e-6, rtol 1e-3); integers and bools exact.
/// f16 and bf16 allow at least one unit in their last place.
pub fn close(a: Scalar, b: Scalar, atol: f64, rtol: f64) -> bool {
    match (a, b) {
        (Scalar::F16(x), Scalar::F16(y)) => close(
            Scalar::F32(x.to_f32()),
            Scalar::F32(y.to_f32()),
            atol.max(6e-8),
            rtol.max(1.0 / 1024.0),
        ),
        (Scalar::BF16(x), Scalar::BF16(y)) => close(
            Scalar::F32(x.to_f32()),
            Scalar::F32(y.to_f32()),
            atol,
            rtol.max(1.0 / 128.0),
        ),
        (Scalar::F32(x), Scalar::F32(y)) => {
            if x.is_nan() || y.is_nan() {
                return x.is_nan() && y.is_nan();
            }
            if x.is_infinite() || y.is_infinite() {
                return x == y;
            }
            ((x - y).abs() as f64) <= atol + rtol * (y.abs() as f64)
        }
        (x, y) => x == y,
    }
}

pub fn assert_close(what: &str, got: &[Scalar], want: &[Scalar], atol: f64, rtol: f64) {
    assert_eq!(
        got.len(),
        want.len(),
        "{what}: {} values, expected {}",
        got.len(),
        want.len()
    );
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            close(*g, *w, atol, rtol),
            "{what}: element {i}: got {g:?}, expected {w:?}\n got: {got:?}\nwant: {want:?}"
        );
    }
}

/// Builds `f(inputs)` on every device and checks oracle == CPU interpreter == wgpu.
pub fn check3_tol(
    name: &str,
    inputs: &[Input],
    atol: f64,
    rtol: f64,
    f: impl Fn(&[Tensor]) -> Tensor,
) {
    let mut oracle: Option<(Vec<usize>, DType, Vec<Scalar>)> = None;
    for dev in devices() {
        let ts: Vec<Tensor> = inputs.iter().map(|i| i.on(&dev)).collect();
        let out = f(&ts);
        // The oracle evaluates the graph before anything is realized.
        let host = out.oracle().expect("oracle");
        assert_eq!(host.shape, out.shape(), "{name}: oracle shape");
        let want = match &oracle {
            None => {
                oracle = Some((host.shape.clone(), host.dtype, host.data.clone()));
                host.data
            }
            Some((s, d, data)) => {
                assert_eq!(
                    (s, d),
                    (&out.shape().to_vec(), &out.dtype()),
                    "{name}: graph differs between devices"
                );
                data.clone()
            }
        };
        let got = read(&out);
        assert_close(
            &format!("{name} on {}", dev.name()),
            &got,
            &want,
            atol,
            rtol,
        );
    }
}

pub fn check3(name: &str, inputs: &[Input], f: impl Fn(&[Tensor]) -> Tensor) {
    check3_tol(name, inputs, 1e-6, 1e-3, f)
}

/// Runs the one kernel of `f(inputs)` under `opts` on every device against the oracle.
pub fn check_with_opts(
    name: &str,
    inputs: &[Input],
    opts: &[kiln::Opt],
    f: impl Fn(&[Tensor]) -> Tensor,
) {
    for dev in devices() {
        let ts: Vec<Tensor> = inputs.iter().map(|i| i.on(&dev)).collect();
        let out = f(&ts);
        let want = out.oracle().expect("oracle").data;
        let mut s = kiln::schedule(&[&out]).expect("schedule");
        assert_eq!(s.kernels().len(), 1, "{name}: {s:?}");
        s.set_opts(0, opts)
            .unwrap_or_else(|e| panic!("{name} on {}: {e}", dev.name()));
        s.run().expect("run");
        assert_close(
            &format!("{name} on {}", dev.name()),
            &read(&out),
            &want,
            1e-4,
            1e-4,
        );
    }
}

/// Cases for a property test: `PROPTEST_CASES` when set (a long bug hunt), else `default`
/// (what CI runs).
pub fn proptest_cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// This process's resident memory (Linux; `None` elsewhere): what the operating system
/// charges, whatever kiln's own counters say.
pub fn rss_bytes() -> Option<usize> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: usize = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// Every `.rs` file below `dir` (for the tidy tests, which read the sources).
pub fn rust_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The message `f` panics with (a contract violation), for asserting on its wording.
pub fn panic_message(f: impl FnOnce()) -> String {
    let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).expect_err("should panic");
    err.downcast_ref::<String>()
        .cloned()
        .or_else(|| err.downcast_ref::<&str>().map(|s| s.to_string()))
        .expect("a panic message")
}

/// The error an out-of-range read gives, on every device.
pub fn expect_out_of_range(what: &str, t: &Tensor, op: &str, index: i64, len: usize) {
    let read = match t.dtype() {
        DType::I32 => t.to_vec::<i32>().map(|_| ()),
        _ => t.to_vec::<f32>().map(|_| ()),
    };
    match read {
        Err(kiln::Error::IndexOutOfRange {
            op: o,
            index: i,
            len: l,
        }) => assert_eq!((o, i, l), (op, index, len), "{what}"),
        other => panic!("{what}: expected an out-of-range error, got {other:?}"),
    }
}
