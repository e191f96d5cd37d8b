//! Runtime errors. Contract violations while building ops panic (as ndarray does); everything
//! that can only fail at run time (devices, memory, compilation, host data) is an [`Error`].

use crate::codegen::opt::OptError;
use crate::codegen::CompileError;
use crate::dtype::DType;

/// Everything that can go wrong when running kiln code.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Host data does not fit the shape it was given.
    #[error("{op}: data has {len} elements but shape {shape:?} needs {expected}")]
    DataLength {
        /// The call that was given the data.
        op: &'static str,
        /// Elements given.
        len: usize,
        /// The shape asked for.
        shape: Vec<usize>,
        /// Elements the shape needs.
        expected: usize,
    },

    /// A shape whose element count does not fit in `usize`.
    #[error("{op}: shape {shape:?} has more elements than fit in usize")]
    TooLarge {
        /// The call that was given the shape.
        op: &'static str,
        /// The shape.
        shape: Vec<usize>,
    },

    /// `to_vec::<T>()` with a `T` that is not the tensor's dtype.
    #[error("to_vec: the tensor has dtype {actual} but {requested} was requested (cast first)")]
    DTypeMismatch {
        /// The dtype of the Rust type asked for.
        requested: DType,
        /// The tensor's dtype.
        actual: DType,
    },

    /// Reading an unrealized tensor in `EvalMode::Explicit`.
    #[error("{op}: tensor of shape {shape:?} ({dtype}) is not realized and the evaluation mode is Explicit; call realize() first")]
    NotRealized {
        /// The read that was refused.
        op: &'static str,
        /// The tensor's shape.
        shape: Vec<usize>,
        /// The tensor's dtype.
        dtype: DType,
    },

    /// No wgpu adapter, or the device could not be created.
    #[error("device: {0}")]
    Device(String),

    /// A generated program failed naga validation or pipeline creation. The message carries the
    /// WGSL so that it can be filed as a bug report.
    #[error("compile {kernel}: {message}\n--- WGSL ---\n{wgsl}")]
    Compile {
        /// The kernel's name.
        kernel: String,
        /// What the validator or driver said.
        message: String,
        /// The program's source.
        wgsl: String,
    },

    /// An opt list that does not fit a kernel (see [`crate::OptError`]).
    #[error("opts: {0}")]
    Opt(#[from] OptError),

    /// `Schedule::run` after some of its kernels' outputs were realized by another realize.
    #[error(
        "schedule: some of its outputs were realized since it was made; call kiln::schedule again"
    )]
    StaleSchedule,

    /// A trace could not be written or read (see `kiln::trace`).
    #[error("trace: {0}")]
    Trace(String),

    /// A device buffer could not be allocated or mapped.
    #[error("memory: {0}")]
    Memory(String),

    /// An index tensor held an index outside the axis it indexes (`gather`, `index_select`,
    /// `scatter`, `scatter_add`, `one_hot`). The kernel that met it flags it on the device;
    /// reading any value computed from it reports it.
    #[error("{op}: index {index} is out of range for an axis of length {len}")]
    IndexOutOfRange {
        /// The op whose index was out of range.
        op: &'static str,
        /// One offending index (the first the device reported).
        index: i64,
        /// The length of the indexed axis.
        len: usize,
    },

    /// The program needs something this device does not offer (a feature or a limit).
    #[error("unsupported on {device}: {message}")]
    Unsupported {
        /// The device's name.
        device: String,
        /// What it lacks.
        message: String,
    },

    /// A blocking call in the browser, where the page's one thread cannot wait for the GPU:
    /// the JS event loop delivers the GPU's answers only after the call returns.
    #[error("{call} would block, and a browser page cannot wait for the GPU; use {use_instead}")]
    WouldBlock {
        /// The blocking call, e.g. `Tensor::to_vec`.
        call: &'static str,
        /// The async call to use instead, e.g. `Tensor::to_vec_async(..).await`.
        use_instead: &'static str,
    },
}

/// `std::result::Result` with kiln's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// `Err(WouldBlock)` in the browser, where `call` would wait forever for the event loop.
pub(crate) fn blocking_call(call: &'static str, use_instead: &'static str) -> Result<()> {
    match crate::target::ON_WEB {
        true => Err(Error::WouldBlock { call, use_instead }),
        false => Ok(()),
    }
}

impl From<CompileError> for Error {
    fn from(e: CompileError) -> Error {
        match e {
            CompileError::Opt(e) => Error::Opt(e),
            CompileError::Invalid {
                kernel,
                message,
                wgsl,
            } => Error::Compile {
                kernel,
                message,
                wgsl,
            },
        }
    }
}
