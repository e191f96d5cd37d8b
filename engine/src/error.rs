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
        op: &'static str,
        len: usize,
        shape: Vec<usize>,
        expected: usize,
    },

    /// `to_vec::<T>()` with a `T` that is not the tensor's dtype.
    #[error("to_vec: the tensor has dtype {actual} but {requested} was requested (cast first)")]
    DTypeMismatch { requested: DType, actual: DType },

    /// Reading an unrealized tensor in `EvalMode::Explicit`.
    #[error("{op}: tensor of shape {shape:?} ({dtype}) is not realized and the evaluation mode is Explicit; call realize() first")]
    NotRealized {
        op: &'static str,
        shape: Vec<usize>,
        dtype: DType,
    },

    /// No wgpu adapter, or the device could not be created.
    #[error("device: {0}")]
    Device(String),

    /// A generated program failed naga validation or pipeline creation. The message carries the
    /// WGSL so that it can be filed as a bug report.
    #[error("compile {kernel}: {message}\n--- WGSL ---\n{wgsl}")]
    Compile {
        kernel: String,
        message: String,
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

    /// The program needs something this device does not offer (a feature or a limit).
    #[error("unsupported on {device}: {message}")]
    Unsupported { device: String, message: String },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

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
