//! The wgpu device's open batch: kernels recorded into one command encoder but not yet
//! submitted (split from `wgpu.rs`).
//!
//! A submit costs far more than recording a dispatch (BENCHMARKS.md, "Batched submission"),
//! on lavapipe and on real drivers alike. So small kernels are recorded into one
//! open encoder and submitted together (cubecl-wgpu batches its tasks the same way). The
//! batch is submitted:
//! - when something needs the results: a read, a timed run, a host-side write (see `write`
//!   in `wgpu.rs`), a first dispatch of a pipeline, or the device going away;
//! - when it holds [`MAX_BATCH_LAUNCHES`] kernels;
//! - at once when a `run` binds at least [`SUBMIT_AT_BYTES`]: such a kernel is real work that
//!   the device should start on while the host goes on (a user who realizes a big result and
//!   reads it later keeps that overlap); only kernels too small for the wait to matter wait.
//!
//! Parameters: each launch's uniform parameters are staged here on the host and written to
//! the parameter ring in one `write_buffer` just before the submit, so every launch of the
//! batch has its own window of the ring. `queue.write_buffer` is ordered before the command
//! buffers of the next submit, which is why the ring is written only then (a write per run
//! would have overwritten the parameters of launches recorded earlier in the same batch).

use super::Launch;

/// Kernels recorded before the batch is submitted regardless (cubecl-wgpu's default task
/// batch is of this order). Larger batches saved little more on lavapipe: see BENCHMARKS.md.
pub(super) const MAX_BATCH_LAUNCHES: usize = 32;

/// A `run` whose kernels bind at least this many bytes in all is submitted at once.
pub(super) const SUBMIT_AT_BYTES: u64 = 1 << 20;

/// Bytes of the uniform window of `n` parameters (vec4 words).
pub(super) fn params_bytes(n: usize) -> u64 {
    (n.div_ceil(4) * 16) as u64
}

#[derive(Default)]
pub(super) struct Batch {
    /// The compute pass untimed kernels are recorded into, open across `run`s: wgpu-core
    /// encodes every pass again at `finish` (tracking, barriers), so one pass per batch
    /// rather than one per `run`. Declared before `encoder`, which it locks while open.
    pass: Option<::wgpu::ComputePass<'static>>,
    encoder: Option<::wgpu::CommandEncoder>,
    /// Parameters of the recorded launches, at their offsets in the ring.
    params: Vec<u8>,
    /// The uniform buffer the parameters are written to; replaced (larger) only between
    /// batches, as the recorded bind groups refer to it.
    ring: Option<::wgpu::Buffer>,
    launches: usize,
}

impl Batch {
    pub(super) fn is_full(&self) -> bool {
        self.launches >= MAX_BATCH_LAUNCHES
    }

    /// The open compute pass (opened on first use) for untimed kernels.
    pub(super) fn pass(&mut self, device: &::wgpu::Device) -> &mut ::wgpu::ComputePass<'static> {
        if self.pass.is_none() {
            let pass = self
                .encoder(device)
                .begin_compute_pass(&Default::default())
                .forget_lifetime();
            self.pass = Some(pass);
        }
        self.pass.as_mut().expect("opened above")
    }

    /// The open encoder (opened on first use), for commands outside the shared pass (timed
    /// passes, copies): the open pass ends first, so they come after its kernels.
    pub(super) fn encoder(&mut self, device: &::wgpu::Device) -> &mut ::wgpu::CommandEncoder {
        self.pass = None;
        self.encoder.get_or_insert_with(|| {
            device.create_command_encoder(&::wgpu::CommandEncoderDescriptor {
                label: Some("kiln batch"),
            })
        })
    }

    /// Stages the parameters of `launches` and returns the ring with each launch's offset
    /// in it (0 for launches without parameters). The caller records the launches next, in
    /// this batch. A batch whose ring has no room left is submitted first, then the ring
    /// grows if these launches alone do not fit.
    pub(super) fn stage_params(
        &mut self,
        device: &::wgpu::Device,
        queue: &::wgpu::Queue,
        align: u64,
        launches: &[Launch],
    ) -> (Option<::wgpu::Buffer>, Vec<u32>) {
        let aligned = |at: usize| (at as u64).div_ceil(align) * align;
        let mut needed = 0u64;
        for l in launches.iter().filter(|l| !l.params.is_empty()) {
            needed = aligned(needed as usize) + params_bytes(l.params.len());
        }
        if needed == 0 {
            return (None, vec![0; launches.len()]);
        }
        let room = self.ring.as_ref().map_or(0, |r| r.size());
        if aligned(self.params.len()) + needed > room {
            self.submit(queue);
            if needed > room {
                self.ring = Some(device.create_buffer(&::wgpu::BufferDescriptor {
                    label: Some("kiln parameters"),
                    size: needed.next_power_of_two().max(1 << 16),
                    usage: ::wgpu::BufferUsages::UNIFORM | ::wgpu::BufferUsages::COPY_DST,
                    mapped_at_creation: false,
                }));
            }
        }
        let offsets = launches
            .iter()
            .map(|l| {
                if l.params.is_empty() {
                    return 0;
                }
                let at = aligned(self.params.len());
                self.params.resize(at as usize, 0);
                self.params
                    .extend_from_slice(bytemuck::cast_slice(&l.params));
                self.params
                    .resize((at + params_bytes(l.params.len())) as usize, 0);
                at as u32
            })
            .collect();
        (self.ring.clone(), offsets)
    }

    /// Counts `n` recorded launches.
    pub(super) fn recorded(&mut self, n: usize) {
        self.launches += n;
    }

    /// Writes the staged parameters and submits the encoder; a no-op for an empty batch.
    pub(super) fn submit(&mut self, queue: &::wgpu::Queue) {
        self.pass = None;
        let Some(encoder) = self.encoder.take() else {
            debug_assert!(self.params.is_empty(), "parameters staged without a launch");
            return;
        };
        if !self.params.is_empty() {
            let ring = self
                .ring
                .as_ref()
                .expect("parameters were staged for a ring");
            queue.write_buffer(ring, 0, &self.params);
            self.params.clear();
        }
        self.launches = 0;
        queue.submit([encoder.finish()]);
    }
}
