//! The public view of kernels: what a realize would run, with each kernel's opts open to
//! inspection, replacement and timing. Users, tests, the inspector and a search (BEAM) all
//! work through these two types.
//!
//! ```
//! use kiln_engine::{Device, OptOp, Opt, Tensor};
//! let dev = Device::cpu();
//! let a = Tensor::from_slice_on(&vec![1.0f32; 64 * 64], &[64, 64], &dev)?;
//! let b = Tensor::from_slice_on(&vec![2.0f32; 64 * 64], &[64, 64], &dev)?;
//! let c = a.matmul(&b);
//! let mut s = kiln_engine::schedule(&[&c])?;
//! assert_eq!(s.kernels().len(), 1);
//! println!("{} with {:?}", s.kernels()[0].name(), s.kernels()[0].opts());
//! // 4x4 outputs per lane, the reduction unrolled by 4:
//! s.set_opts(0, &[Opt::new(OptOp::Upcast, 0, 4), Opt::new(OptOp::Upcast, 1, 4), Opt::new(OptOp::Unroll, 0, 4)])?;
//! s.run()?;
//! assert_eq!(c.to_vec::<f32>()?[0], 128.0);
//! # Ok::<(), kiln_engine::Error>(())
//! ```

use std::fmt;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use crate::cache::{CacheUsage, Lru};
use crate::codegen::ast::{AstNode, KernelAst};
use crate::codegen::heuristic::heuristic_opts;
use crate::codegen::opt::{self, Opt, OptError};
use crate::codegen::{compile, CompiledKernel};
use crate::debug;
use crate::error::{Error, Result};
use crate::graph::NodeRef;
use crate::runtime::{Device, Launch};
use crate::schedule::Step;
use crate::target::DeviceLimits;

/// One storage buffer of a kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KernelBuffer {
    /// The element type.
    pub dtype: crate::dtype::DType,
    /// Elements in the buffer.
    pub numel: usize,
    /// Written by the kernel (else only read).
    pub output: bool,
}

/// Which opts a kernel is compiled with: the heuristics' choice for the device, or a list.
#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) enum OptChoice {
    Heuristic,
    Given(Vec<Opt>),
}

/// The compile cache's key: a compiled kernel is a pure function of (AST, opts, limits).
type CompileKey = (Arc<KernelAst>, OptChoice, DeviceLimits);

/// Compiled kernels by (kernel AST, opts, device limits), bounded by bytes (see `cache.rs`).
/// A kernel compiled under the heuristics is entered twice, under `Heuristic` (so a repeated
/// kernel skips the heuristics) and under its list (so `with_opts` of that list hits), both
/// holding the one `Arc`.
fn compile_cache() -> &'static Mutex<Lru<CompileKey, Arc<CompiledKernel>>> {
    static CACHE: OnceLock<Mutex<Lru<CompileKey, Arc<CompiledKernel>>>> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

/// Entries and estimated host bytes of the compiled-kernel cache.
pub fn program_cache_usage() -> CacheUsage {
    compile_cache().lock().unwrap().usage()
}

fn cached(key: &CompileKey) -> Option<Arc<CompiledKernel>> {
    compile_cache().lock().unwrap().get(key)
}

fn remember(key: CompileKey, kernel: &Arc<CompiledKernel>) {
    let cost = kernel.host_bytes();
    compile_cache()
        .lock()
        .unwrap()
        .insert(key, kernel.clone(), cost);
}

/// The kernel `ast` compiled under `choice` for `limits`, from the cache or freshly compiled,
/// and whether it came from the cache.
pub(crate) fn compiled_kernel(
    ast: &Arc<KernelAst>,
    choice: OptChoice,
    limits: &DeviceLimits,
) -> Result<(Arc<CompiledKernel>, bool)> {
    let key = (ast.clone(), choice, limits.clone());
    if let Some(k) = cached(&key) {
        debug::count_program(true);
        return Ok((k, true));
    }
    let opts = match &key.1 {
        OptChoice::Heuristic => heuristic_opts(ast, limits),
        OptChoice::Given(opts) => opts.clone(),
    };
    let given = (ast.clone(), OptChoice::Given(opts.clone()), limits.clone());
    let (kernel, hit) = match cached(&given) {
        Some(k) => (k, true),
        None => {
            let k = Arc::new(compile(ast, &opts, limits)?);
            remember(given, &k);
            (k, false)
        }
    };
    if key.1 == OptChoice::Heuristic {
        remember(key, &kernel);
    }
    debug::count_program(hit);
    Ok((kernel, hit))
}

/// Kernels index with `i32`: a loop domain or buffer past `i32::MAX` elements is refused
/// clearly instead of wrapping to wrong addresses.
pub(crate) fn check_index_range(ast: &KernelAst, device: &Device) -> Result<()> {
    // Index math spans the output axes, and in each reduce nest its own axes and those its
    // source varies over (a softmax row's max: the row and the nest's axis, not every output).
    let numel = |axes: &mut dyn Iterator<Item = usize>| {
        axes.map(|a| ast.full_shape[a])
            .try_fold(1usize, |n, d| n.checked_mul(d))
            .unwrap_or(usize::MAX)
    };
    let varies = ast.expr_axes();
    let out_numel = numel(&mut ast.output_axes().into_iter());
    let domain = ast
        .exprs
        .iter()
        .filter_map(|(_, e)| match &e.op {
            AstNode::Reduce { src, axes, .. } => {
                let mut spanned: Vec<usize> =
                    varies[src.index()].iter().map(|&a| a as usize).collect();
                for &a in axes {
                    if !spanned.contains(&a) {
                        spanned.push(a);
                    }
                }
                Some(numel(&mut spanned.into_iter()))
            }
            _ => None,
        })
        .fold(out_numel, usize::max);
    let largest = ast.bufs.iter().map(|b| b.numel).max().unwrap_or(0);
    let n = domain.max(largest);
    if n > i32::MAX as usize {
        let mut what: Vec<&str> = vec![];
        for (_, e) in ast.exprs.iter() {
            if let AstNode::Reduce { op, .. } = &e.op {
                if !what.contains(&op.name()) {
                    what.push(op.name());
                }
            }
        }
        let what = if what.is_empty() {
            "an elementwise kernel".to_string()
        } else {
            format!("a {} kernel", what.join("/"))
        };
        return Err(Error::Unsupported {
            device: device.name(),
            message: format!(
                "{what} over shape {:?} indexes {n} elements; kiln's kernels index with i32 (at most {})",
                ast.full_shape,
                i32::MAX
            ),
        });
    }
    Ok(())
}

/// One kernel of a schedule under one opt list.
#[derive(Clone)]
pub struct Kernel {
    ast: Arc<KernelAst>,
    compiled: Arc<CompiledKernel>,
    device: Device,
    /// Bits of the kernel parameters: the user constants of this instance of the kernel.
    params: Arc<Vec<u32>>,
    /// Whether the program came from the cache when this kernel was built.
    cache_hit: bool,
}

impl Kernel {
    pub(crate) fn new(
        ast: Arc<KernelAst>,
        opts: &[Opt],
        device: &Device,
        params: Arc<Vec<u32>>,
    ) -> Result<Kernel> {
        check_index_range(&ast, device)?;
        let (compiled, cache_hit) =
            compiled_kernel(&ast, OptChoice::Given(opts.to_vec()), &device.limits())?;
        Ok(Kernel::from_compiled(
            ast, compiled, device, params, cache_hit,
        ))
    }

    /// A kernel around a program already compiled for `ast` on `device`.
    pub(crate) fn from_compiled(
        ast: Arc<KernelAst>,
        compiled: Arc<CompiledKernel>,
        device: &Device,
        params: Arc<Vec<u32>>,
        cache_hit: bool,
    ) -> Kernel {
        Kernel {
            ast,
            compiled,
            device: device.clone(),
            params,
            cache_hit,
        }
    }

    /// tinygrad's name: `E_` (elementwise) or `r_` (with a reduction), then the part sizes.
    pub fn name(&self) -> &str {
        &self.program().name
    }
    /// The name with ANSI colors per part kind (plain text when NO_COLOR is set).
    pub fn colored_name(&self) -> &str {
        &self.program().colored_name
    }
    /// The opts this kernel is built with (the heuristics' choice, or what was set).
    pub fn opts(&self) -> &[Opt] {
        &self.program().opts
    }
    /// The same kernel under another opt list; `with_opts(&[])` is NOOPT.
    pub fn with_opts(&self, opts: &[Opt]) -> std::result::Result<Kernel, OptError> {
        match Kernel::new(self.ast.clone(), opts, &self.device, self.params.clone()) {
            Ok(k) => Ok(k),
            Err(Error::Opt(e)) => Err(e),
            // The opts fit but the program broke an IR invariant: a kiln bug, not bad input.
            Err(e) => panic!("kiln bug: kernel {} under {opts:?}: {e}", self.name()),
        }
    }
    /// Every single opt that can validly be appended to this kernel's opts: the actions a
    /// search tries next.
    pub fn candidate_opts(&self) -> Vec<Opt> {
        opt::candidate_opts(&self.ast, self.opts(), &self.device.limits())
    }
    /// The WGSL source, validated by naga.
    pub fn wgsl(&self) -> Result<String> {
        Ok(self.compiled.wgsl()?.to_string())
    }
    /// The linear IR, one instruction per line.
    pub fn ir(&self) -> String {
        self.program().to_string()
    }
    /// The kernel AST (before opts), one expression per line.
    pub fn ast(&self) -> String {
        self.ast.to_string()
    }
    /// Sizes of the global parts: their product is the number of workgroups.
    pub fn global_size(&self) -> Vec<usize> {
        self.program().global_sizes.clone()
    }
    /// Sizes of the local and group parts: their product is the lanes per workgroup.
    pub fn local_size(&self) -> Vec<usize> {
        self.program().local_sizes.clone()
    }
    /// Estimated ALU operations of one launch.
    pub fn flops(&self) -> u64 {
        self.program().flops
    }
    /// Bytes of the buffers one launch reads and writes (each counted once).
    pub fn bytes(&self) -> u64 {
        self.program().bytes_moved()
    }
    /// The device this kernel was compiled for.
    pub fn device(&self) -> &Device {
        &self.device
    }
    /// The storage buffers the kernel binds, in binding order: inputs, then outputs.
    pub fn buffers(&self) -> Vec<KernelBuffer> {
        self.ast
            .bufs
            .iter()
            .map(|b| KernelBuffer {
                dtype: b.dtype,
                numel: b.numel,
                output: b.output,
            })
            .collect()
    }

    /// Runs this kernel `runs` times on `device` over scratch buffers of its inputs' and
    /// outputs' sizes (contents unspecified) and returns the median time: GPU timestamps on
    /// wgpu where the adapter has them, else a host clock around each synchronized launch.
    pub fn time(&self, device: &Device, runs: usize) -> Result<Duration> {
        if !device.is_cpu() {
            crate::error::blocking_call("Kernel::time", "Kernel::time_async(..).await")?;
        }
        let launches = self.timing_launches(device, runs)?;
        let times = device.run(&launches, true)?;
        Ok(median(
            times.into_iter().map(|t| t.unwrap_or(0.0)).collect(),
        ))
    }

    /// [`Kernel::time`] without blocking: the kernel timer in the browser, where there are no
    /// timestamp queries and each run is timed by the clock from submit to done.
    pub async fn time_async(&self, device: &Device, runs: usize) -> Result<Duration> {
        let launches = self.timing_launches(device, runs)?;
        Ok(median(device.run_timed_async(&launches).await?))
    }

    /// `runs` launches of this kernel, built for `device`, over scratch buffers.
    fn timing_launches(&self, device: &Device, runs: usize) -> Result<Vec<Launch>> {
        let compiled = if *device == self.device {
            self.compiled.clone()
        } else {
            let opts = OptChoice::Given(self.opts().to_vec());
            compiled_kernel(&self.ast, opts, &device.limits())?.0
        };
        let bufs = compiled
            .program
            .bufs
            .iter()
            .map(|b| device.alloc(b.numel, b.dtype).map(Arc::new))
            .collect::<Result<Vec<_>>>()?;
        let prepared = device.prepare(&compiled)?;
        let launch = Launch {
            kernel: compiled,
            prepared,
            bufs,
            params: self.params.to_vec(),
        };
        Ok(vec![launch; runs.max(1)])
    }

    pub(crate) fn compiled(&self) -> &Arc<CompiledKernel> {
        &self.compiled
    }
    fn program(&self) -> &crate::codegen::ir::Program {
        &self.compiled.program
    }
    pub(crate) fn kernel_ast(&self) -> &KernelAst {
        &self.ast
    }
    pub(crate) fn ast_arc(&self) -> &Arc<KernelAst> {
        &self.ast
    }
    pub(crate) fn cache_hit(&self) -> bool {
        self.cache_hit
    }
    pub(crate) fn params(&self) -> &[u32] {
        &self.params
    }
}

impl fmt::Debug for Kernel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let opts: Vec<String> = self.opts().iter().map(|o| o.to_string()).collect();
        write!(
            f,
            "Kernel({} [{}] on {:?})",
            self.name(),
            opts.join(", "),
            self.device
        )
    }
}

/// The median of `seconds` (not empty).
fn median(mut seconds: Vec<f64>) -> Duration {
    seconds.sort_by(f64::total_cmp);
    Duration::from_secs_f64(seconds[seconds.len() / 2])
}

/// The kernels a realize of some tensors would run, in order, without running them.
pub struct Schedule {
    pub(crate) device: Device,
    pub(crate) targets: Vec<NodeRef>,
    pub(crate) steps: Vec<Step>,
    pub(crate) kernels: Vec<Kernel>,
    pub(crate) schedule_seconds: f64,
    /// Whether the plan came from the schedule cache (`plan_cache.rs`).
    pub(crate) cache_hit: bool,
}

impl Schedule {
    /// The kernels, in launch order.
    pub fn kernels(&self) -> &[Kernel] {
        &self.kernels
    }
    /// Replaces kernel `i`'s opts. On error the schedule is unchanged.
    pub fn set_opts(&mut self, i: usize, opts: &[Opt]) -> std::result::Result<(), OptError> {
        assert!(
            i < self.kernels.len(),
            "Schedule::set_opts: kernel {i} does not exist (the schedule has {})",
            self.kernels.len()
        );
        self.kernels[i] = self.kernels[i].with_opts(opts)?;
        Ok(())
    }
    /// The device the kernels run on.
    pub fn device(&self) -> &Device {
        &self.device
    }
}

impl fmt::Debug for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Schedule")
            .field("device", &self.device)
            .field("kernels", &self.kernels)
            .finish()
    }
}
