//! The wgpu device's memory: the size-class buffer pool, uploads and readbacks.

use std::sync::atomic::Ordering;
use std::sync::mpsc;

use super::{poll, size_class, PooledBuffer, WgpuDevice, POOL_CAP_BYTES};
use crate::error::{Error, Result};

impl WgpuDevice {
    pub fn alloc(&self, bytes: usize) -> Result<PooledBuffer> {
        let class = size_class(bytes);
        if class > self.limits.max_buffer_size {
            return Err(Error::Memory(format!(
                "{bytes} bytes exceeds the adapter's max_buffer_size of {}",
                self.limits.max_buffer_size
            )));
        }
        self.in_use.fetch_add(class as usize, Ordering::Relaxed);
        if let Some(buffer) = self.pool.lock().unwrap().get_mut(&class).and_then(Vec::pop) {
            self.pooled_bytes
                .fetch_sub(class as usize, Ordering::Relaxed);
            return Ok(PooledBuffer { buffer, class });
        }
        let buffer = self.device.create_buffer(&::wgpu::BufferDescriptor {
            label: None,
            size: class,
            usage: ::wgpu::BufferUsages::STORAGE
                | ::wgpu::BufferUsages::COPY_SRC
                | ::wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        Ok(PooledBuffer { buffer, class })
    }

    /// Zeroes `b` in the open batch: after the kernels recorded before (a pooled buffer may
    /// still be in their use), before those recorded after.
    pub fn clear(&self, b: &PooledBuffer) {
        let mut batch = self.batch.lock().unwrap_or_else(|e| e.into_inner());
        batch.encoder(&self.device).clear_buffer(&b.buffer, 0, None);
    }

    pub fn free(&self, b: PooledBuffer) {
        self.in_use.fetch_sub(b.class as usize, Ordering::Relaxed);
        if self.pooled_bytes.load(Ordering::Relaxed) + b.class as usize <= POOL_CAP_BYTES {
            self.pooled_bytes
                .fetch_add(b.class as usize, Ordering::Relaxed);
            self.pool
                .lock()
                .unwrap()
                .entry(b.class)
                .or_default()
                .push(b.buffer);
            return;
        }
        // The pool is full: the memory goes back to the driver. Cached bind groups hold
        // handles to their buffers, so theirs go first; `destroy` frees the memory once the
        // work that uses it is done, so that work (and an upload's pending copy) is submitted
        // now, and a poll lets wgpu free what is already finished.
        self.bind_groups.lock().unwrap().forget_buffer(&b.buffer);
        b.buffer.destroy();
        self.submit_batch();
        self.queue.submit([]); // flushes pending uploads when no kernel was recorded
        let _ = self.device.poll(::wgpu::PollType::Poll);
    }

    /// Uploads `words` into `b`. `queue.write_buffer` lands before the command buffers of the
    /// next submit, so recorded kernels are submitted first: `b` may be a pooled buffer that a
    /// recorded kernel (of a tensor since dropped) still reads or writes.
    pub fn write(&self, b: &PooledBuffer, words: &[u32]) {
        if !words.is_empty() {
            self.submit_batch();
            self.queue
                .write_buffer(&b.buffer, 0, bytemuck::cast_slice(words));
        }
    }

    /// The first `words` words of each of `bufs`, copied into one staging buffer and read
    /// with one wait (status words: a sync each would stall the device as often). Blocks.
    pub fn read_many(&self, bufs: &[&PooledBuffer], words: usize) -> Result<Vec<Vec<u32>>> {
        crate::error::blocking_call("Tensor::to_vec", "Tensor::to_vec_async(..).await")?;
        if bufs.is_empty() {
            return Ok(vec![]);
        }
        if words == 0 {
            // Nothing to copy, but a read still means "after the work before it": wait like
            // any other read, so a program that ends on it leaves an idle device.
            self.wait_idle()?;
            return Ok(vec![vec![]; bufs.len()]);
        }
        let (staging, bytes) = self.copy_to_staging(bufs, words);
        let all = self.map_and_read(&staging, bytes)?;
        Ok(all.chunks(words).map(<[u32]>::to_vec).collect())
    }

    /// `read_many` without blocking: what the browser needs, and any native executor can run.
    pub async fn read_many_async(
        &self,
        bufs: &[&PooledBuffer],
        words: usize,
    ) -> Result<Vec<Vec<u32>>> {
        if bufs.is_empty() {
            return Ok(vec![]);
        }
        if words == 0 {
            self.idle_async().await?;
            return Ok(vec![vec![]; bufs.len()]);
        }
        let (staging, bytes) = self.copy_to_staging(bufs, words);
        let all = self.map_and_read_async(&staging, bytes).await?;
        Ok(all.chunks(words).map(<[u32]>::to_vec).collect())
    }

    /// [`WgpuDevice::map_and_read`] without blocking; then reports a pipeline the browser
    /// refused meanwhile.
    pub(super) async fn map_and_read_async(
        &self,
        staging: &::wgpu::Buffer,
        bytes: u64,
    ) -> Result<Vec<u32>> {
        let (mapped, deliver) = poll::Callback::new();
        staging.map_async(::wgpu::MapMode::Read, 0..bytes, deliver);
        mapped.wait(&self.device).await?.map_err(mapping)?;
        self.take_compile_failure()?;
        take_mapped(staging, bytes)
    }

    /// A staging buffer holding the first `words` words of each of `bufs` once the open batch
    /// (submitted here, the copies at its end: one submit for kernels and copies) has run.
    fn copy_to_staging(&self, bufs: &[&PooledBuffer], words: usize) -> (::wgpu::Buffer, u64) {
        let bytes = (words * 4) as u64;
        let staging = self.device.create_buffer(&::wgpu::BufferDescriptor {
            label: Some("kiln readback"),
            size: bytes * bufs.len() as u64,
            usage: ::wgpu::BufferUsages::MAP_READ | ::wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut batch = self.batch.lock().unwrap_or_else(|e| e.into_inner());
        let encoder = batch.encoder(&self.device);
        for (i, b) in bufs.iter().enumerate() {
            encoder.copy_buffer_to_buffer(&b.buffer, 0, &staging, i as u64 * bytes, bytes);
        }
        batch.submit(&self.queue);
        (staging, bytes * bufs.len() as u64)
    }

    /// Maps `staging` and reads its first `bytes`, blocking until the device got there.
    pub(super) fn map_and_read(&self, staging: &::wgpu::Buffer, bytes: u64) -> Result<Vec<u32>> {
        let (tx, rx) = mpsc::channel();
        staging.map_async(::wgpu::MapMode::Read, 0..bytes, move |r| {
            let _ = tx.send(r);
        });
        let mut mapped = None;
        poll::wait_until(&self.device, |_| {
            mapped = rx.try_recv().ok();
            mapped.is_some()
        })?;
        // With the queue empty, the callback has run or is about to, maybe on another thread
        // whose poll collected it: wait for it there.
        mapped
            .map_or_else(|| rx.recv(), Ok)
            .map_err(|_| Error::Memory("readback callback never ran".into()))?
            .map_err(mapping)?;
        take_mapped(staging, bytes)
    }
}

fn mapping(e: ::wgpu::BufferAsyncError) -> Error {
    Error::Memory(format!("mapping a readback buffer: {e}"))
}

/// The first `bytes` of a mapped `staging` buffer, as words; unmaps it.
fn take_mapped(staging: &::wgpu::Buffer, bytes: u64) -> Result<Vec<u32>> {
    let out = {
        let view = staging
            .get_mapped_range(0..bytes)
            .map_err(|e| Error::Memory(format!("{e}")))?;
        bytemuck::cast_slice::<u8, u32>(&view).to_vec()
    };
    staging.unmap();
    Ok(out)
}
