//! The public `Tensor`: a cheap handle (an `Arc`) to a node of the lazy graph.
//!
//! This module holds construction, inspection, evaluation modes and devices; `ops.rs` holds
//! the ops (elementwise, reductions, movement, composites and operator overloads).

mod bits;
mod conv;
pub use conv::Conv2dOptions;
mod create;
mod math;
mod display;
mod indexing;
mod division;
mod gradient;
mod join;
mod movement;
mod nn;
mod operators;
mod random;
mod ops;
mod pow;
mod reduce;
mod scan;
mod scatter;
mod search;
mod radix_sort;
mod select;
mod slicing;
mod sort;
pub use slicing::PadMode;

pub use random::manual_seed;
mod softmax;
mod asynchronous;
pub use asynchronous::realize_async;

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::OnceLock;

use crate::dtype::{pack_words, unpack_words, DType, Element, Scalar};
use crate::error::{Error, Result};
use crate::graph::{self, NodeRef, Op};
use crate::realize::realize_nodes;
use crate::runtime::Device;

/// A lazy n-dimensional array. Cloning is cheap; ops build graph nodes and compute nothing
/// until a value is read or [`Tensor::realize`] is called.
///
/// ```
/// use kiln_engine::{Device, Tensor};
/// let dev = Device::cpu();
/// let a = Tensor::from_slice_on(&[1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3], &dev)?;
/// let b = Tensor::from_slice_on(&[0.5f32, 1.0, 2.0], &[3], &dev)?;
/// let y = (&a * &b).sum(&[1]); // lazy: nothing has run yet
/// assert_eq!(y.to_vec::<f32>()?, vec![8.5, 19.0]);
/// # Ok::<(), kiln_engine::Error>(())
/// ```
#[derive(Clone)]
pub struct Tensor {
    pub(crate) node: NodeRef,
}

/// When computation happens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EvalMode {
    /// Reading a value realizes it (default).
    Lazy,
    /// Every op realizes at once (movement ops stay zero-copy views); for debugging. A runtime
    /// failure leaves the tensor lazy, and reading it returns the error as in `Lazy`.
    Eager,
    /// Reading an unrealized tensor is `Err(Error::NotRealized)`: realization is always explicit.
    Explicit,
}

static MODE: AtomicU8 = AtomicU8::new(u8::MAX);

#[track_caller]
fn mode_from_env() -> EvalMode {
    match std::env::var("KILN_EVAL").as_deref() {
        Ok("eager") => EvalMode::Eager,
        Ok("explicit") => EvalMode::Explicit,
        _ => EvalMode::Lazy,
    }
}

/// Sets the process-wide evaluation mode (overrides `KILN_EVAL`).
#[track_caller]
pub fn set_eval_mode(mode: EvalMode) {
    MODE.store(mode as u8, Ordering::Relaxed);
}

/// The current evaluation mode (`KILN_EVAL=lazy|eager|explicit` until `set_eval_mode`).
#[track_caller]
pub fn eval_mode() -> EvalMode {
    match MODE.load(Ordering::Relaxed) {
        0 => EvalMode::Lazy,
        1 => EvalMode::Eager,
        2 => EvalMode::Explicit,
        _ => {
            let m = mode_from_env();
            let _ = MODE.compare_exchange(u8::MAX, m as u8, Ordering::Relaxed, Ordering::Relaxed);
            m
        }
    }
}

/// A device error's message without its "device: " prefix, for wrapping in another one
/// (the prefix used to repeat: "device: KILN_DEVICE=gpu: device: no wgpu adapter").
fn inner(e: Error) -> String {
    match e {
        Error::Device(m) => m,
        other => other.to_string(),
    }
}

/// The device tensors are created on when none is named: `KILN_DEVICE=cpu|gpu` if set, else the
/// best wgpu adapter, else the CPU device (with a one-line notice on stderr). With
/// `KILN_REQUIRE_GPU=1` a missing adapter is an error instead. In the browser: the GPU once
/// [`Device::gpu_async`] has opened it, else the CPU device.
#[track_caller]
pub fn default_device() -> Result<Device> {
    if crate::target::ON_WEB {
        // No environment, and the GPU opens only by `Device::gpu_async().await`.
        return Ok(Device::gpu().unwrap_or_else(|_| Device::cpu()));
    }
    static DEFAULT: OnceLock<std::result::Result<Device, String>> = OnceLock::new();
    DEFAULT
        .get_or_init(|| {
            let require = std::env::var("KILN_REQUIRE_GPU").is_ok_and(|v| v == "1");
            match std::env::var("KILN_DEVICE").as_deref() {
                Ok("cpu") if !require => return Ok(Device::cpu()),
                Ok("cpu") => return Err("KILN_DEVICE=cpu contradicts KILN_REQUIRE_GPU=1".into()),
                Ok("gpu") | Ok("wgpu") => {
                    return Device::gpu().map_err(|e| format!("KILN_DEVICE=gpu: {}", inner(e)))
                }
                Ok(other) if !other.is_empty() => {
                    return Err(format!("KILN_DEVICE={other} is not one of cpu, gpu"));
                }
                _ => {}
            }
            match Device::gpu() {
                Ok(d) => Ok(d),
                Err(e) if require => Err(format!("KILN_REQUIRE_GPU=1 but {}", inner(e))),
                Err(e) => {
                    eprintln!("kiln: {}; falling back to the CPU device", inner(e));
                    Ok(Device::cpu())
                }
            }
        })
        .clone()
        .map_err(Error::Device)
}

impl Tensor {
    #[track_caller]
    pub(crate) fn wrap(node: NodeRef) -> Tensor {
        // Eager mode computes every op except movement ops, which stay zero-copy views; a
        // reshape of a realized value is realized too, by sharing its buffer (no kernel).
        let eager_target = match &node.op {
            Op::Const(..) => false,
            Op::Movement(crate::view::Movement::Reshape(_)) => node.src(0).is_realized(),
            Op::Movement(_) => false,
            _ => true,
        };
        if eval_mode() == EvalMode::Eager && !node.is_realized() && eager_target {
            // A runtime failure (device, memory, limits) is not a contract violation: the node
            // stays lazy, and reading it returns the same `Err` that lazy mode would.
            if let Err(e) = realize_nodes(std::slice::from_ref(&node)) {
                log::warn!("eager mode: {e} (returned again when the value is read)");
            }
        }
        Tensor { node }
    }

    // ---- creation ----

    /// A tensor holding `data` (row-major) with `shape`, on the default device.
    #[track_caller]
    pub fn from_slice<T: Element>(data: &[T], shape: &[usize]) -> Result<Tensor> {
        Tensor::from_slice_on(data, shape, &default_device()?)
    }

    /// A tensor holding `data` (row-major) with `shape`, on `device`. `Err` when the data
    /// does not fit the shape, or the device cannot allocate it.
    ///
    /// ```
    /// use kiln_engine::{DType, Device, Tensor};
    /// let x = Tensor::from_slice_on(&[1i32, 2, 3, 4, 5, 6], &[2, 3], &Device::cpu())?;
    /// assert_eq!((x.shape(), x.dtype()), (&[2, 3][..], DType::I32));
    /// assert!(Tensor::from_slice_on(&[1.0f32; 5], &[2, 3], &Device::cpu()).is_err());
    /// # Ok::<(), kiln_engine::Error>(())
    /// ```
    #[track_caller]
    pub fn from_slice_on<T: Element>(
        data: &[T],
        shape: &[usize],
        device: &Device,
    ) -> Result<Tensor> {
        let Some(expected) = shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d)) else {
            return Err(Error::TooLarge {
                op: "from_slice",
                shape: shape.to_vec(),
            });
        };
        if data.len() != expected {
            return Err(Error::DataLength {
                op: "from_slice",
                len: data.len(),
                shape: shape.to_vec(),
                expected,
            });
        }
        let words = pack_words(data.iter().map(|x| x.to_scalar()), T::DTYPE);
        let buf = device.upload(&words, data.len(), T::DTYPE)?;
        Ok(Tensor {
            node: graph::source(buf, T::DTYPE, shape.to_vec()),
        })
    }

    /// A 0-d tensor on the default device (a constant: no device memory until it is used).
    /// `Err` when there is no default device, as for [`Tensor::from_slice`].
    #[track_caller]
    pub fn scalar<T: Element>(v: T) -> Result<Tensor> {
        let device = default_device()?;
        Ok(Tensor::constant(v.to_scalar(), &[], &device))
    }

    /// Zeros of `dtype` over `shape` on the default device (a constant, computed inside the
    /// kernels that read it). `Err` when there is no default device.
    #[track_caller]
    pub fn zeros(shape: &[usize], dtype: DType) -> Result<Tensor> {
        let _op = ops::user_op("zeros");
        Ok(Tensor::zeros_on(shape, dtype, &default_device()?))
    }
    /// Ones of `dtype` over `shape` on the default device. `Err` when there is no default
    /// device.
    #[track_caller]
    pub fn ones(shape: &[usize], dtype: DType) -> Result<Tensor> {
        let _op = ops::user_op("ones");
        Ok(Tensor::ones_on(shape, dtype, &default_device()?))
    }
    /// `value` converted to `dtype`, broadcast over `shape`, on the default device. `Err`
    /// when there is no default device.
    #[track_caller]
    pub fn full(shape: &[usize], value: f64, dtype: DType) -> Result<Tensor> {
        let _op = ops::user_op("full");
        Ok(Tensor::full_on(shape, value, dtype, &default_device()?))
    }
    /// Zeros of `dtype` over `shape` on `device`.
    #[track_caller]
    pub fn zeros_on(shape: &[usize], dtype: DType, device: &Device) -> Tensor {
        let _op = ops::user_op("zeros");
        Tensor::full_on(shape, 0.0, dtype, device)
    }
    /// Ones of `dtype` over `shape` on `device`.
    #[track_caller]
    pub fn ones_on(shape: &[usize], dtype: DType, device: &Device) -> Tensor {
        let _op = ops::user_op("ones");
        Tensor::full_on(shape, 1.0, dtype, device)
    }
    /// `value` converted to `dtype` (as `Scalar::from_f64` converts), broadcast over `shape`,
    /// on `device`.
    #[track_caller]
    pub fn full_on(shape: &[usize], value: f64, dtype: DType, device: &Device) -> Tensor {
        let _op = ops::user_op("full");
        Tensor::constant(Scalar::from_f64(value, dtype), shape, device)
    }
    #[track_caller]
    pub(crate) fn constant(s: Scalar, shape: &[usize], device: &Device) -> Tensor {
        ops::checked_numel("full", shape);
        let (d, bits) = s.key();
        Tensor {
            node: graph::intern(Op::Const(d, bits), vec![], d, shape.to_vec(), device),
        }
    }

    // ---- inspection ----

    /// The shape: one length per axis (empty for a 0-d tensor).
    #[track_caller]
    pub fn shape(&self) -> &[usize] {
        &self.node.shape
    }
    /// The element type.
    #[track_caller]
    pub fn dtype(&self) -> DType {
        self.node.dtype
    }
    /// The number of axes.
    #[track_caller]
    pub fn ndim(&self) -> usize {
        self.node.shape.len()
    }
    /// The number of elements (the product of the shape).
    #[track_caller]
    pub fn numel(&self) -> usize {
        self.node.numel()
    }
    /// The device the tensor's value lives, or will be computed, on.
    #[track_caller]
    pub fn device(&self) -> &Device {
        &self.node.device
    }
    /// Whether the value is computed and held in a device buffer.
    #[track_caller]
    pub fn is_realized(&self) -> bool {
        self.node.is_realized()
    }

    // ---- evaluation ----

    /// Computes the value now (a no-op if it is already realized). Returns `self` for chaining.
    #[track_caller]
    pub fn realize(&self) -> Result<Tensor> {
        realize_nodes(std::slice::from_ref(&self.node))?;
        Ok(self.clone())
    }

    #[track_caller]
    fn readable(&self, op: &'static str) -> Result<()> {
        if !self.is_realized() {
            if eval_mode() == EvalMode::Explicit {
                return Err(Error::NotRealized {
                    op,
                    shape: self.shape().to_vec(),
                    dtype: self.dtype(),
                });
            }
            realize_nodes(std::slice::from_ref(&self.node))?;
        }
        Ok(())
    }

    /// The values, row-major, computing them first if needed. `T` must be the tensor's dtype
    /// (use `cast` first otherwise).
    ///
    /// ```
    /// use kiln_engine::{DType, Device, Tensor};
    /// let x = Tensor::from_slice_on(&[1.5f32, -2.0], &[2], &Device::cpu())?;
    /// assert_eq!((&x * 2.0).to_vec::<f32>()?, vec![3.0, -4.0]);
    /// assert_eq!(x.cast(DType::I32).to_vec::<i32>()?, vec![1, -2]);
    /// assert!(x.to_vec::<i32>().is_err()); // not its dtype
    /// # Ok::<(), kiln_engine::Error>(())
    /// ```
    #[track_caller]
    pub fn to_vec<T: Element>(&self) -> Result<Vec<T>> {
        self.check_read_dtype::<T>()?;
        self.blocking_read("Tensor::to_vec", "Tensor::to_vec_async(..).await")?;
        self.readable("to_vec")?;
        let words = self.node.buffer().expect("realized").read_words()?;
        Ok(self.values(&words))
    }

    /// `Err` unless the tensor holds exactly one element (`op` names the caller).
    fn check_one_element(&self, op: &'static str) -> Result<()> {
        match self.numel() {
            1 => Ok(()),
            len => Err(Error::DataLength {
                op,
                len,
                shape: self.shape().to_vec(),
                expected: 1,
            }),
        }
    }

    /// `Err` unless `T` is this tensor's dtype.
    fn check_read_dtype<T: Element>(&self) -> Result<()> {
        match T::DTYPE == self.dtype() {
            true => Ok(()),
            false => Err(Error::DTypeMismatch {
                requested: T::DTYPE,
                actual: self.dtype(),
            }),
        }
    }

    /// The elements packed in `words`, as `T` (the dtype checked before).
    fn values<T: Element>(&self, words: &[u32]) -> Vec<T> {
        unpack_words(words, self.dtype(), self.numel())
            .into_iter()
            .map(|s| T::from_scalar(s).expect("dtype checked"))
            .collect()
    }

    /// `Err(WouldBlock)` for a read of a GPU tensor by a blocking `call` in the browser.
    fn blocking_read(&self, call: &'static str, use_instead: &'static str) -> Result<()> {
        match self.device().is_cpu() {
            true => Ok(()),
            false => crate::error::blocking_call(call, use_instead),
        }
    }

    /// The values, row-major, computed now if they are not yet (`op` names the caller in
    /// errors).
    #[track_caller]
    fn scalars(&self, op: &'static str) -> Result<Vec<Scalar>> {
        self.readable(op)?;
        let words = self.node.buffer().expect("realized").read_words()?;
        Ok(unpack_words(&words, self.dtype(), self.numel()))
    }

    /// The single value of a one-element tensor.
    #[track_caller]
    pub fn item<T: Element>(&self) -> Result<T> {
        self.check_one_element("item")?;
        self.blocking_read("Tensor::item", "Tensor::item_async(..).await")?;
        Ok(self.to_vec::<T>()?[0])
    }

    /// A copy of this tensor's value on `device` (the same tensor if it is already there).
    #[track_caller]
    pub fn to(&self, device: &Device) -> Result<Tensor> {
        if let Some(t) = self.without_copy_to(device) {
            return Ok(t);
        }
        self.blocking_read("Tensor::to", "Tensor::to_async(..).await")?;
        self.readable("to")?;
        let t0 = web_time::Instant::now();
        let words = self.node.buffer().expect("realized").read_words()?;
        self.uploaded_to(device, &words, t0)
    }

    /// This tensor on `device` where no copy is needed: it is there already, or a constant.
    fn without_copy_to(&self, device: &Device) -> Option<Tensor> {
        if self.device() == device {
            return Some(self.clone());
        }
        let s = self.node.op.const_value()?;
        Some(Tensor::constant(s, self.shape(), device))
    }

    /// A tensor like this one holding `words` (its value, read at `t0`) on `device`.
    fn uploaded_to(&self, device: &Device, words: &[u32], t0: web_time::Instant) -> Result<Tensor> {
        let buf = device.upload(words, self.numel(), self.dtype())?;
        crate::debug::print_copy(
            self.device().short_name(),
            device.short_name(),
            words.len() * 4,
            t0.elapsed().as_secs_f64(),
        );
        Ok(Tensor {
            node: graph::source(buf, self.dtype(), self.shape().to_vec()),
        })
    }

    /// The graph oracle's value of this tensor: a naive host evaluation of the lazy graph that
    /// shares no code with the compiler (for differential tests).
    #[track_caller]
    pub fn oracle(&self) -> Result<graph::oracle::HostArray> {
        graph::oracle::evaluate(&self.node)
    }
}

/// Realizes all `tensors` in one schedule, so common work is done once and kernels over the
/// same domain are fused.
///
/// ```
/// use kiln_engine::{Device, Tensor};
/// let x = Tensor::from_slice_on(&[1.0f32, 2.0, 3.0, 4.0], &[4], &Device::cpu())?;
/// let (sum, mean) = (x.sum_all(), x.mean_all());
/// let before = kiln_engine::stats().kernels_launched;
/// kiln_engine::realize(&[&sum, &mean])?;
/// assert_eq!(kiln_engine::stats().kernels_launched - before, 1); // one kernel for both
/// assert_eq!((sum.item::<f32>()?, mean.item::<f32>()?), (10.0, 2.5));
/// # Ok::<(), kiln_engine::Error>(())
/// ```
#[track_caller]
pub fn realize(tensors: &[&Tensor]) -> Result<()> {
    let nodes: Vec<NodeRef> = tensors.iter().map(|t| t.node.clone()).collect();
    realize_nodes(&nodes)
}

/// The kernels a realize of `tensors` would run, without running them: inspect them
/// (`name`, `opts`, `wgsl`, `ir`, `ast`), replace their opts (`Schedule::set_opts`), time them
/// (`Kernel::time`), then `Schedule::run` to realize the tensors with those kernels.
#[track_caller]
pub fn schedule(tensors: &[&Tensor]) -> Result<crate::kernel::Schedule> {
    let nodes: Vec<NodeRef> = tensors.iter().map(|t| t.node.clone()).collect();
    crate::realize::schedule_nodes(&nodes, crate::debug::noopt())
}

/// The kernels a realize of `tensors` would run under `NOOPT=1`, whatever the environment
/// says: no opts, and no reduction fused where only opts make it pay (softmax's max and sum
/// get kernels of their own). What benchmarks compare the heuristics against.
#[track_caller]
pub fn schedule_noopt(tensors: &[&Tensor]) -> Result<crate::kernel::Schedule> {
    let nodes: Vec<NodeRef> = tensors.iter().map(|t| t.node.clone()).collect();
    crate::realize::schedule_nodes(&nodes, true)
}

impl std::fmt::Debug for Tensor {
    /// Never computes anything.
    #[track_caller]
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Tensor(shape={:?}, dtype={}, device={}, realized={})",
            self.shape(),
            self.dtype(),
            self.device().name(),
            self.is_realized()
        )
    }
}

// Contract violations panic before any shared state changes, and node state sits behind
// mutexes, so observing a tensor after a caught panic is sound (as with ndarray's arrays).
impl std::panic::UnwindSafe for Tensor {}
impl std::panic::RefUnwindSafe for Tensor {}
