//! The wgpu device's pipelines: built once per compiled kernel (shared by kernels that
//! render the same WGSL), and the raw-WGSL entry the roofline probes use.

use std::num::NonZeroU64;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Weak};

use super::{checked_shaders, Pipeline, WgpuDevice, PIPELINE_BYTES};
use crate::codegen::ir::Program;
use crate::codegen::wgsl;
use crate::codegen::CompiledKernel;
use crate::error::{Error, Result};
use crate::runtime::batch::params_bytes;
use crate::runtime::timestamps::PassTimer;
use crate::runtime::Prepared;

impl WgpuDevice {
    /// Builds (or fetches from the cache) the pipeline of a compiled kernel.
    pub fn prepare(&self, kernel: &Arc<CompiledKernel>) -> Result<Prepared> {
        let key = Arc::as_ptr(kernel) as usize;
        if let Some((_, c)) = self.by_program.lock().unwrap().get(&key) {
            return Ok(c);
        }
        let compiled = self.build_pipeline(kernel)?;
        let cost = PIPELINE_BYTES + kernel.host_bytes();
        let evicted =
            self.by_program
                .lock()
                .unwrap()
                .insert(key, (kernel.clone(), compiled.clone()), cost);
        if evicted > 0 {
            self.bind_groups.lock().unwrap().pipelines_evicted();
        }
        Ok(compiled)
    }

    fn build_pipeline(&self, kernel: &CompiledKernel) -> Result<Prepared> {
        let source = kernel.wgsl()?;
        let program = &kernel.program;
        if let Some(p) = self
            .pipelines
            .lock()
            .unwrap()
            .get(source)
            .and_then(Weak::upgrade)
        {
            return Ok(Prepared { pipeline: Some(p) });
        }
        // Buffers longer than one binding are bound as windows (`Program::bindings`), so the
        // limit that remains is the number of bindings.
        let bindings = program.bindings();
        if bindings.len() > self.limits.max_storage_buffers_per_shader_stage as usize {
            return Err(Error::Unsupported {
                device: self.adapter_name(),
                message: format!(
                    "kernel {} needs {} storage bindings; the adapter allows {} per stage",
                    program.name,
                    bindings.len(),
                    self.limits.max_storage_buffers_per_shader_stage
                ),
            });
        }
        let scope = self
            .device
            .push_error_scope(::wgpu::ErrorFilter::Validation);
        // SAFETY: the checks wgpu would inject are unnecessary for kiln's programs, and each
        // is established elsewhere:
        // - bounds: every load is masked (`select(0, i, valid)`), every store is masked,
        //   vector accesses are aligned and bindings rounded up to 16 bytes, and the CPU
        //   interpreter asserts that no valid lane ever reads or writes out of bounds;
        // - loop bounding: every loop has a constant trip count;
        // - integer division: only index math divides integers, by positive constants.
        // The IR validator and naga both run before this point.
        let module = unsafe { self.shader_module(&program.name, source) };
        let layout = self.bind_group_layout(program);
        let pipeline_layout =
            self.device
                .create_pipeline_layout(&::wgpu::PipelineLayoutDescriptor {
                    label: None,
                    bind_group_layouts: &[Some(&layout)],
                    immediate_size: 0,
                });
        let pipeline = self
            .device
            .create_compute_pipeline(&::wgpu::ComputePipelineDescriptor {
                label: Some(&program.name),
                layout: Some(&pipeline_layout),
                module: &module,
                entry_point: Some("main"),
                compilation_options: Default::default(),
                cache: self.pipeline_cache.as_ref().map(|c| &c.cache),
            });
        self.compile_verdict(scope, &program.name, source)?;
        if let Some(c) = &self.pipeline_cache {
            c.pipeline_added();
        }
        let p = Arc::new(Pipeline {
            pipeline,
            layout,
            warmed: AtomicBool::new(false),
        });
        let mut pipelines = self.pipelines.lock().unwrap();
        pipelines.retain(|_, p| p.strong_count() > 0); // evicted ones (a compile costs far more)
        pipelines.insert(source.clone(), Arc::downgrade(&p));
        drop(pipelines);
        Ok(Prepared { pipeline: Some(p) })
    }

    /// What the driver said of the pipeline built inside `scope`: natively `Err` at once; in
    /// the browser the answer comes later, and the next async wait reports a refusal.
    fn compile_verdict(
        &self,
        scope: ::wgpu::ErrorScopeGuard,
        kernel: &str,
        source: &str,
    ) -> Result<()> {
        let refused = {
            let (kernel, source) = (kernel.to_string(), source.to_string());
            move |e: ::wgpu::Error| Error::Compile {
                kernel,
                message: e.to_string(),
                wgsl: source,
            }
        };
        #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
        {
            let failures = self.compile_failures.clone();
            let verdict = scope.pop(); // now: scopes pop in the reverse order of their pushes
            wasm_bindgen_futures::spawn_local(async move {
                if let Some(e) = verdict.await {
                    failures
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push(refused(e));
                }
            });
            Ok(())
        }
        #[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
        match pollster::block_on(scope.pop()) {
            Some(e) => Err(refused(e)),
            None => Ok(()),
        }
    }

    /// The shader module of `source`, without wgpu's runtime checks unless `KILN_CHECKED=1`.
    ///
    /// # Safety
    /// Every access of `source` must stay in bounds and every loop must end: nothing checks
    /// it at run time.
    unsafe fn shader_module(&self, label: &str, source: &str) -> ::wgpu::ShaderModule {
        let desc = ::wgpu::ShaderModuleDescriptor {
            label: Some(label),
            source: ::wgpu::ShaderSource::Wgsl(source.into()),
        };
        if checked_shaders() {
            return self.device.create_shader_module(desc);
        }
        // SAFETY: the caller vouches for the source (this function's contract).
        unsafe {
            self.device
                .create_shader_module_trusted(desc, ::wgpu::ShaderRuntimeChecks::unchecked())
        }
    }

    /// One storage binding per buffer window (read-only for inputs), then the parameters:
    /// a window of the device's parameter ring, at a dynamic offset.
    fn bind_group_layout(&self, program: &Program) -> ::wgpu::BindGroupLayout {
        let bindings = program.bindings();
        let mut entries: Vec<::wgpu::BindGroupLayoutEntry> = bindings
            .iter()
            .enumerate()
            .map(|(i, w)| ::wgpu::BindGroupLayoutEntry {
                binding: i as u32,
                visibility: ::wgpu::ShaderStages::COMPUTE,
                ty: ::wgpu::BindingType::Buffer {
                    ty: ::wgpu::BufferBindingType::Storage {
                        read_only: !program.bufs[w.buf].output,
                    },
                    has_dynamic_offset: false,
                    min_binding_size: None,
                },
                count: None,
            })
            .collect();
        if !program.params.is_empty() {
            entries.push(::wgpu::BindGroupLayoutEntry {
                binding: bindings.len() as u32,
                visibility: ::wgpu::ShaderStages::COMPUTE,
                ty: ::wgpu::BindingType::Buffer {
                    ty: ::wgpu::BufferBindingType::Uniform,
                    has_dynamic_offset: true,
                    min_binding_size: NonZeroU64::new(params_bytes(program.params.len())),
                },
                count: None,
            });
        }
        self.device
            .create_bind_group_layout(&::wgpu::BindGroupLayoutDescriptor {
                label: None,
                entries: &entries,
            })
    }

    /// Runs a hand-written compute shader (entry point `entry`, storage buffers at bindings 0..,
    /// zero-filled, of the given sizes) `runs` times over `groups` workgroups and returns each
    /// run's GPU time in seconds (timestamps; else a synchronized host clock). For the
    /// roofline probes: no kiln program is involved. Built as kiln builds its own kernels,
    /// without wgpu's runtime checks unless `KILN_CHECKED=1`, so that a probe measures the
    /// same kind of shader as the kernels it scales.
    ///
    /// # Safety
    /// Every access of `source` must stay in bounds for the given buffer sizes and grid, and
    /// every loop must end: nothing checks it at run time.
    pub(crate) unsafe fn time_trusted_wgsl(
        &self,
        label: &str,
        source: &str,
        entry: &str,
        buffer_bytes: &[u64],
        groups: usize,
        runs: usize,
    ) -> Result<Vec<f64>> {
        wgsl::validate(label, source)?;
        // Recorded kernels go first, or a host-clocked run would wait for them too.
        self.submit_batch();
        let scope = self
            .device
            .push_error_scope(::wgpu::ErrorFilter::Validation);
        // SAFETY: the caller vouches for the source (this function's contract).
        let module = unsafe { self.shader_module(label, source) };
        let pipeline = self
            .device
            .create_compute_pipeline(&::wgpu::ComputePipelineDescriptor {
                label: Some(label),
                layout: None,
                module: &module,
                entry_point: Some(entry),
                compilation_options: Default::default(),
                cache: None,
            });
        let buffers: Vec<::wgpu::Buffer> = buffer_bytes
            .iter()
            .map(|&size| {
                self.device.create_buffer(&::wgpu::BufferDescriptor {
                    label: Some(label),
                    size: size.max(16),
                    usage: ::wgpu::BufferUsages::STORAGE,
                    mapped_at_creation: false,
                })
            })
            .collect();
        let entries: Vec<::wgpu::BindGroupEntry> = buffers
            .iter()
            .enumerate()
            .map(|(i, b)| ::wgpu::BindGroupEntry {
                binding: i as u32,
                resource: b.as_entire_binding(),
            })
            .collect();
        let bind_group = self.device.create_bind_group(&::wgpu::BindGroupDescriptor {
            label: Some(label),
            layout: &pipeline.get_bind_group_layout(0),
            entries: &entries,
        });
        self.compile_verdict(scope, label, source)?;
        let (x, y, z) = self.grid(groups);
        let runs = runs.max(1);
        let encode = |enc: &mut ::wgpu::CommandEncoder, timer: Option<(&PassTimer, usize)>| {
            let mut pass = enc.begin_compute_pass(&::wgpu::ComputePassDescriptor {
                label: Some(label),
                timestamp_writes: timer.map(|(t, i)| t.writes(i)),
            });
            pass.set_pipeline(&pipeline);
            pass.set_bind_group(0, &bind_group, &[]);
            pass.dispatch_workgroups(x, y, z);
        };
        if !self.timestamps {
            // Host clock around each synchronized run.
            let mut times = vec![];
            for _ in 0..runs {
                let start = web_time::Instant::now();
                let mut enc = self.device.create_command_encoder(&Default::default());
                encode(&mut enc, None);
                self.queue.submit([enc.finish()]);
                self.wait_idle()?;
                times.push(start.elapsed().as_secs_f64());
            }
            return Ok(times);
        }
        let timer = PassTimer::new(&self.device, runs);
        let mut enc = self.device.create_command_encoder(&Default::default());
        for i in 0..runs {
            encode(&mut enc, Some((&timer, i)));
        }
        timer.resolve(&mut enc);
        self.queue.submit([enc.finish()]);
        self.read_pass_times(&timer)
    }
}
